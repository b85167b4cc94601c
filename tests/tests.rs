//! All integration tests, compiled into one test binary (modules by topic).

mod util;

mod roundtrip;
mod run;
mod validate;
