//! All integration tests, compiled into one test binary (modules by topic).

mod util;

mod charts;
mod engine;
mod plan;
mod plan_report;
mod properties;
mod roundtrip;
mod run;
mod sensitivity;
mod shanghai;
mod shards;
mod sweep_charts;
mod trust;
mod validate;
