//! All integration tests, compiled into one test binary (modules by topic).

mod util;

mod run;
mod sensitivity;
