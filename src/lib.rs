//! capsim: a Monte Carlo cohort-component simulator that tells public-service planners when
//! and where school places, hospital beds, clinics and elderly care will fall short, and how
//! sure we are.
//!
//! The data flows one way: [`scenario`] (TOML → validated [`scenario::Scenario`]) →
//! `engine` (one draw of the projection, demand and capacity) → `stats` (streaming,
//! mergeable aggregation) → `report` (tables, charts). The command line lives in [`cli`]; the
//! library knows nothing of flags.

pub mod cli;
pub mod error;
pub mod scenario;

pub use error::{Error, Result};
