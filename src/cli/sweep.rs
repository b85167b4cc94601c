//! `capsim sweep`: run the scenario at each value of one or two paths (common random numbers)
//! and write `sweep.csv` and `sweep_<resource>.png`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use crate::report;
use crate::scenario::{self, Diagnostics, ScenarioError, resolved, tree};
use crate::sensitivity::sweep::{self, SweepResult, show};
use crate::{Error, output};

use super::{Out, ScenarioArgs};

/// Arguments of `capsim sweep`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub scenario: ScenarioArgs,
    /// A path to sweep, e.g. `towns.north.migration.k.mean` (give two for a grid).
    #[arg(long = "param", value_name = "PATH", required = true)]
    pub params: Vec<String>,
    /// Values of the matching --param: `a,b,c`, or `low..high:n` (n ≥ 2 points, both ends included).
    #[arg(long = "values", value_name = "LIST", required = true, allow_hyphen_values = true)]
    pub values: Vec<String>,
    /// Monte Carlo draws at every point (default: the scenario's settings.draws).
    #[arg(long)]
    pub draws: Option<u64>,
    /// Seed of every point (default: the scenario's settings.seed).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Worker threads (default: all cores). Results do not depend on it.
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Output directory (default: output/<scenario-stem>-sweep/).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Overwrite an existing directory that capsim did not write.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub charts: super::ChartArgs,
}

/// What run.json records about a sweep.
#[derive(Debug, Serialize)]
struct SweepInfo {
    capsim_version: String,
    command: &'static str,
    scenario: String,
    scenario_name: String,
    files: Vec<String>,
    scenario_sha256: String,
    params: Vec<ParamInfo>,
    points: usize,
    draws_per_point: u64,
    seed: u64,
    common_random_numbers: &'static str,
    threads: usize,
    wall_seconds: f64,
    time_convention: String,
    notes: Vec<String>,
    outputs: Vec<String>,
}

#[derive(Debug, Serialize)]
struct ParamInfo {
    path: String,
    whole_numbers: bool,
    values: Vec<f64>,
}

/// The default output directory of a command: `output/<stem>-<suffix>/`.
pub fn default_out(scenario: &Path, suffix: &str) -> PathBuf {
    let stem = scenario.file_stem().map_or_else(|| "run".into(), |s| s.to_string_lossy().to_string());
    PathBuf::from("output").join(format!("{stem}-{suffix}"))
}

/// Runs the command.
pub fn run(args: &Args, out: &Out) -> crate::Result<()> {
    let mut diags = Diagnostics::default();
    let doc = match tree::load_document(&args.scenario.scenario, &args.scenario.with, &mut diags) {
        Some(d) if !diags.has_errors() => d,
        _ => return Err(ScenarioError(diags.items).into()),
    };
    let base = scenario::from_document(&doc)?;
    for d in &base.notes {
        out.note(&d.to_string());
    }
    if args.params.len() != args.values.len() {
        return Err(Error::Input(format!(
            "{} --param but {} --values: give each --param PATH its own --values LIST, in the same order",
            args.params.len(),
            args.values.len()
        )));
    }
    let pairs: Vec<(String, String)> = args.params.iter().cloned().zip(args.values.iter().cloned()).collect();
    let params = sweep::plan(&base, &pairs)?;
    sweep::validate(&doc, &base, &params)?;
    let draws = args.draws.unwrap_or(base.settings.draws);
    super::run::check_draws(draws)?;
    let seed = args.seed.unwrap_or(base.settings.seed);
    let dir = args.out.clone().unwrap_or_else(|| default_out(&args.scenario.scenario, "sweep"));
    output::prepare(&dir, args.force)?;
    let threads = if args.threads == 0 { rayon::current_num_threads() } else { args.threads };
    // Points run one after another, each with one aggregate and a block per worker: the base scenario's
    // shape is the one to check, unless the horizon itself is swept.
    super::run::check_memory(&crate::engine::compile(&base), threads)?;
    if params.iter().any(|p| p.path == "settings.base_year" || p.path == "settings.end_year") {
        for point in sweep::points(&params) {
            let s = sweep::scenario_at(&doc, &base, &params, &point)?;
            super::run::check_memory(&crate::engine::compile(&s), threads)?;
        }
    }

    let started = Instant::now();
    let total = sweep::points(&params).len();
    out.note(&format!("sweeping {total} point(s) × {draws} draws, seed {seed}"));
    let result = sweep::run(&doc, &base, &params, draws, seed, threads, &|done, n| {
        if done < n {
            out.note(&format!("  {done}/{n} points done"));
        }
    })?;
    let mut files: Vec<output::OutFile> = vec![("sweep.csv".into(), result.csv().into_bytes())];
    files.extend(crate::runner::pool(threads)?.install(|| args.charts.sweep_files(&result, &base, out))?);
    let wall = started.elapsed().as_secs_f64();
    let mut outputs: Vec<String> = files.iter().map(|f| f.0.clone()).collect();
    outputs.push("run.json".into());
    let info = SweepInfo {
        capsim_version: env!("CARGO_PKG_VERSION").into(),
        command: "sweep",
        scenario: args.scenario.scenario.display().to_string(),
        scenario_name: base.name.en.clone(),
        files: base.files.iter().map(|f| f.display().to_string()).collect(),
        scenario_sha256: resolved::sha256(&base),
        params: params
            .iter()
            .map(|p| ParamInfo {
                path: p.path.clone(),
                whole_numbers: p.address.is_integer(),
                values: p.values.clone(),
            })
            .collect(),
        points: result.points.len(),
        draws_per_point: draws,
        seed,
        common_random_numbers: "every point uses the same seed and draws: each variable not swept takes the same value in draw d at every point",
        threads,
        wall_seconds: (wall * 1000.0).round() / 1000.0,
        time_convention: report::TIME_CONVENTION.into(),
        notes: base.notes.iter().map(|d| d.to_string()).collect(),
        outputs,
    };
    let mut json = serde_json::to_string_pretty(&info).unwrap_or_default();
    json.push('\n');
    files.push(("run.json".into(), json.into_bytes()));
    output::write_atomic(&dir, &files, args.force)?;
    if params.len() == 1 {
        out.line(&console(&result));
    }
    out.line(&format!(
        "{} points × {draws} draws, seed {seed}, {wall:.2} s; sweep.csv{} in {}",
        result.points.len(),
        if args.charts.no_charts { "" } else { " and charts" },
        dir.display()
    ));
    Ok(())
}

/// For a one-path sweep: the first year the risk level is reached for all towns together, by
/// resource (rows) and swept value (columns).
fn console(res: &SweepResult) -> String {
    let all = res.areas.len() - 1;
    let mut rows = vec![
        std::iter::once(res.params[0].path.clone())
            .chain(res.points.iter().map(|p| show(p.values[0])))
            .collect::<Vec<_>>(),
    ];
    for (r, id) in res.resources.iter().enumerate() {
        let mut row = vec![id.clone()];
        for (i, _) in res.points.iter().enumerate() {
            row.push(res.cell(i, all, r).first_year_risk.map_or("–".to_string(), |y| y.to_string()));
        }
        rows.push(row);
    }
    let widths: Vec<usize> =
        (0..rows[0].len()).map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0)).collect();
    let risk = res.points.first().map_or(0.0, |p| p.risk);
    let mut s = format!("All towns: first year with P(shortfall) ≥ {risk} (– = not by the end year):\n");
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(c, v)| {
                let pad = " ".repeat(widths[c] - v.chars().count());
                if c == 0 { format!("{v}{pad}") } else { format!("{pad}{v}") }
            })
            .collect();
        s.push_str("  ");
        s.push_str(&cells.join("  "));
        s.push('\n');
    }
    s.pop();
    s
}
