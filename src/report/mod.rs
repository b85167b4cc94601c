//! Reports of a run: the CSV tables, `run.json`, the PNG charts ([`charts`]) and `report.html`
//! ([`html`]). Everything is computed from the aggregate and the central variant; nothing
//! here runs the model again.

pub mod charts;
pub mod html;
pub mod lang;
pub mod plan_report;
pub mod tables;

use serde::Serialize;

pub use charts::{ChartInfo, ChartOptions, chart_files};
pub use lang::Lang;
pub use tables::Tables;

use crate::output::OutFile;

/// The time convention, stated in every run.json (MODEL §1).
pub const TIME_CONVENTION: &str = "Rows are year-end (31 December) figures; the base-year row is the base population \
(the November 2020 census, taken as end-2020). Births, deaths and migration are the flows of the calendar year \
named in the row (the step from year t-1 to year t). A project planned for year Y counts from row Y + its delay.";

/// What run.json records about a run.
#[derive(Debug, Clone, Serialize)]
pub struct RunInfo {
    /// capsim's version.
    pub capsim_version: String,
    /// The scenario file.
    pub scenario: String,
    /// The scenario's name.
    pub scenario_name: String,
    /// Overlay files applied (`extends` chain and `--with` fragments), base first.
    pub files: Vec<String>,
    /// SHA-256 of the resolved scenario.
    pub scenario_sha256: String,
    /// Seed.
    pub seed: u64,
    /// Draws.
    pub draws: u64,
    /// Worker threads.
    pub threads: usize,
    /// Wall time of the computation, seconds.
    pub wall_seconds: f64,
    /// The time convention.
    pub time_convention: String,
    /// Notes from validation (renormalisations, clipping).
    pub notes: Vec<String>,
    /// Files written.
    pub outputs: Vec<String>,
}

/// The tables of a run as files.
pub fn table_files(t: &Tables) -> Vec<OutFile> {
    vec![
        ("population.csv".into(), t.population().into_bytes()),
        ("population_age.csv".into(), t.population_age().into_bytes()),
        ("summary.csv".into(), t.summary().into_bytes()),
        ("first_shortfall.csv".into(), t.first_shortfall().into_bytes()),
        ("first_shortfall_cdf.csv".into(), t.first_shortfall_cdf().into_bytes()),
        ("components.csv".into(), t.components().into_bytes()),
    ]
}

/// run.json as bytes.
pub fn run_json(info: &RunInfo) -> Vec<u8> {
    let mut s = serde_json::to_string_pretty(info).unwrap_or_default();
    s.push('\n');
    s.into_bytes()
}

/// The charts of a run and `report.html`, which embeds them.
pub fn chart_and_report_files(t: &Tables, info: &ChartInfo, opts: &ChartOptions) -> crate::Result<Vec<OutFile>> {
    let mut files = chart_files(t, info, opts)?;
    let page = html::report(t, info, opts, &files);
    files.push(("report.html".into(), page));
    Ok(files)
}
