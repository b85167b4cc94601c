//! capsim: a Monte Carlo cohort-component simulator that tells public-service planners when
//! and where school places, hospital beds, clinics and elderly care will fall short, and how
//! sure we are.
//!
//! The data flows one way: [`scenario`] (TOML → validated [`scenario::Scenario`]) →
//! [`engine`] (one draw of the projection, demand and capacity) → [`stats`] (streaming,
//! mergeable aggregation, driven by [`runner`]) → [`report`] (tables, charts). The command
//! line lives in [`cli`]; the library knows nothing of flags.

// Numerical loops over ages and sexes read better with indices, as in MODEL.md.
#![allow(clippy::needless_range_loop)]
// Scenario types are few and long-lived; boxing their larger variants buys nothing.
#![allow(clippy::large_enum_variant)]

pub mod cli;
pub mod engine;
pub mod error;
pub mod output;
pub mod partial;
pub mod plan;
pub mod report;
pub mod rng;
pub mod runner;
pub mod scenario;
pub mod sensitivity;
pub mod stats;

pub use error::{Error, Result};
