//! Reports of a run: the CSV tables, `run.json`, the PNG charts ([`charts`]) and `report.html`
//! ([`html`]). Everything is computed from the aggregate and the central variant; nothing
//! here runs the model again.

pub mod charts;
pub mod html;
pub mod lang;
pub mod plan_report;
pub mod tables;

use rayon::prelude::*;
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

/// A table's file name and what writes it.
type TableFile<'a> = (&'static str, fn(&Tables<'a>) -> String);

/// The tables of a run as files.
pub fn table_files<'a>(t: &Tables<'a>) -> Vec<OutFile> {
    // Built side by side on the current rayon pool (the caller's `--threads`): each walks
    // thousands of sketches' quantiles (15 → 10 ms at 10,000 draws on two cores).
    let tables: [TableFile<'a>; 6] = [
        ("population.csv", Tables::population),
        ("population_age.csv", Tables::population_age),
        ("summary.csv", Tables::summary),
        ("first_shortfall.csv", Tables::first_shortfall),
        ("first_shortfall_cdf.csv", Tables::first_shortfall_cdf),
        ("components.csv", Tables::components),
    ];
    // The two largest (population_age, summary) in different halves, the first split rayon
    // makes, so two workers start on them; then back in order.
    let mut made: Vec<(usize, OutFile)> = [1, 0, 3, 2, 4, 5]
        .into_par_iter()
        .map(|i| (i, (tables[i].0.to_string(), (tables[i].1)(t).into_bytes())))
        .collect();
    made.sort_by_key(|m| m.0);
    made.into_iter().map(|m| m.1).collect()
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
