//! All integration tests, compiled into one test binary (modules by topic).

mod util;

mod charts;
mod run;
