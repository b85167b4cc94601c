//! `capsim sensitivity`: Sobol' indices or Morris elementary effects of every random input on
//! each town's end-year population, gaps and first shortfall years; writes `indices.csv`,
//! `tornado_<town>.png` and, on request, the sample matrix and outputs.

use std::path::PathBuf;
use std::time::Instant;

use serde::Serialize;

use crate::report::charts::tornado;
use crate::report::tables::fixed;
use crate::scenario::{self, resolved};
use crate::sensitivity::{self, Analysis, InputRecord, Method, Settings, sobol};
use crate::{Error, engine, output};

use super::{Out, ScenarioArgs};

/// The method, as written on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MethodArg {
    /// Sobol' first-order and total indices (Saltelli's design, N(k+2) runs).
    Sobol,
    /// Morris elementary effects μ*, σ (r(k+1) runs): a cheap screen.
    Morris,
}

/// Arguments of `capsim sensitivity`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub scenario: ScenarioArgs,
    /// sobol (variance-based indices) or morris (elementary-effects screen).
    #[arg(long, value_enum, default_value_t = MethodArg::Sobol)]
    pub method: MethodArg,
    /// Sobol: the base sample N, a power of two (N(k+2) model runs; default 1024).
    /// Morris: the number of trajectories r (r(k+1) runs; default 20).
    #[arg(long)]
    pub samples: Option<usize>,
    /// Morris: grid levels p over each input's 1–99 % range (default 4).
    #[arg(long)]
    pub levels: Option<usize>,
    /// Seed of the sample, the shock series and the bootstrap (default: the scenario's settings.seed).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Output directory (default: output/<scenario-stem>-sensitivity/).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Also write the sample matrix (u-values) and every run's outputs as CSV.
    #[arg(long)]
    pub export_samples: bool,
    /// Worker threads (default: all cores). Results do not depend on it.
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Overwrite an existing directory that capsim did not write.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub charts: super::ChartArgs,
}

/// A total index whose 95 % interval is wider than this (full width) draws a warning.
pub const CI_WARNING_WIDTH: f64 = 0.1;

#[derive(Debug, Serialize)]
struct SensitivityInfo {
    capsim_version: String,
    command: &'static str,
    scenario: String,
    scenario_name: String,
    files: Vec<String>,
    scenario_sha256: String,
    method: Method,
    samples: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    levels: Option<usize>,
    model_runs: usize,
    seed: u64,
    sampling: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    bootstrap_resamples: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    confidence_interval: Option<&'static str>,
    inputs: Vec<InputRecord>,
    threads: usize,
    wall_seconds: f64,
    warnings: Vec<String>,
    notes: Vec<String>,
    outputs: Vec<String>,
}

/// Runs the command.
pub fn run(args: &Args, out: &Out) -> crate::Result<()> {
    let s = scenario::load(&args.scenario.scenario, &args.scenario.with)?;
    for d in &s.notes {
        out.note(&d.to_string());
    }
    let method = match args.method {
        MethodArg::Sobol => Method::Sobol,
        MethodArg::Morris => Method::Morris,
    };
    if method == Method::Sobol && args.levels.is_some() {
        return Err(Error::Input("--levels applies to --method morris only".into()));
    }
    let settings = Settings {
        method,
        samples: args.samples.unwrap_or(if method == Method::Sobol { 1024 } else { 20 }),
        levels: args.levels.unwrap_or(4),
        seed: args.seed.unwrap_or(s.settings.seed),
        threads: args.threads,
        resamples: sobol::RESAMPLES,
    };
    sensitivity::check(&settings)?;
    let dir = args.out.clone().unwrap_or_else(|| super::sweep::default_out(&args.scenario.scenario, "sensitivity"));
    output::prepare(&dir, args.force)?;
    let threads = if args.threads == 0 { rayon::current_num_threads() } else { args.threads };

    let model = engine::compile(&s);
    // A scenario whose central variant is already out of range is refused before any run.
    crate::runner::central(&model)?;
    let k = sensitivity::inputs(&model).len();
    let runs = sensitivity::runs_needed(&settings, k);
    out.note(&format!("{k} inputs; {runs} model runs ({} on {threads} thread(s))", cost(&settings, k)));
    let started = Instant::now();
    let analysis = sensitivity::analyse(&model, &settings)?;
    let wall = started.elapsed().as_secs_f64();

    let mut warnings = Vec::new();
    if method == Method::Sobol {
        if !analysis.quasi_random {
            warnings.push(format!(
                "{k} inputs need {} Sobol' dimensions, more than the {} embedded: the base matrices are pseudo-random \
                 (plain Monte Carlo), which converges more slowly; consider a larger --samples",
                2 * k,
                sobol::MAX_DIMS
            ));
        }
        let wide = analysis.wide_total_intervals(CI_WARNING_WIDTH);
        if !wide.is_empty() {
            let examples: Vec<String> = wide
                .iter()
                .take(3)
                .map(|(t, o, i, st, c)| format!("{t} {o} ← {i}: ST = {} ± {}", fixed(*st, 3), fixed(*c, 3)))
                .collect();
            warnings.push(format!(
                "{} total indices have a 95 % interval wider than {CI_WARNING_WIDTH} (widest: {}); they are not precise \
                 enough to rank inputs. Quadruple --samples to roughly halve the intervals (now N = {})",
                wide.len(),
                examples.join("; "),
                settings.samples
            ));
        }
    }
    for w in &warnings {
        out.note(&format!("warning: {w}"));
    }

    let mut files: Vec<output::OutFile> = vec![("indices.csv".into(), analysis.indices_csv().into_bytes())];
    files.extend(
        crate::runner::pool(threads)?.install(|| args.charts.sensitivity_files(&analysis, &s, &settings, runs, out))?,
    );
    if args.export_samples {
        files.push(("samples_inputs.csv".into(), analysis.samples_inputs_csv().into_bytes()));
        files.push(("samples_outputs.csv".into(), analysis.samples_outputs_csv().into_bytes()));
    }
    let mut outputs: Vec<String> = files.iter().map(|f| f.0.clone()).collect();
    outputs.push("run.json".into());
    let info = SensitivityInfo {
        capsim_version: env!("CARGO_PKG_VERSION").into(),
        command: "sensitivity",
        scenario: args.scenario.scenario.display().to_string(),
        scenario_name: s.name.en.clone(),
        files: s.files.iter().map(|f| f.display().to_string()).collect(),
        scenario_sha256: resolved::sha256(&s),
        method,
        samples: settings.samples,
        levels: (method == Method::Morris).then_some(settings.levels),
        model_runs: runs,
        seed: settings.seed,
        sampling: match method {
            Method::Sobol if analysis.quasi_random => {
                "Saltelli design on a Sobol' sequence (Joe-Kuo new-joe-kuo-6.21201 direction numbers, Gray-code order) \
                 with a seeded random digital shift; runs in SALib order (A, AB_1..AB_k, B per base row)"
                    .into()
            }
            Method::Sobol => "Saltelli design on pseudo-random base matrices (more than 1024 dimensions)".into(),
            Method::Morris => format!(
                "Morris trajectories, {} levels over each input's 1-99 % quantile range in u-space (u = 0.01 + 0.98 x)",
                settings.levels
            ),
        },
        bootstrap_resamples: (method == Method::Sobol).then_some(settings.resamples),
        confidence_interval: (method == Method::Sobol)
            .then_some("S1_conf and ST_conf are half-widths of 95 % bootstrap intervals: 1.96 x the bootstrap s.d."),
        inputs: sensitivity::input_records(&model, &analysis.inputs),
        threads,
        wall_seconds: (wall * 1000.0).round() / 1000.0,
        warnings,
        notes: s.notes.iter().map(|d| d.to_string()).collect(),
        outputs,
    };
    let mut json = serde_json::to_string_pretty(&info).unwrap_or_default();
    json.push('\n');
    files.push(("run.json".into(), json.into_bytes()));
    output::write_atomic(&dir, &files, args.force)?;

    out.line(&console(&analysis, model.towns.len()));
    out.line(&format!(
        "{} analysis of {k} inputs, {runs} model runs, seed {}, {wall:.2} s; indices.csv{} in {}",
        match method {
            Method::Sobol => "Sobol'",
            Method::Morris => "Morris",
        },
        settings.seed,
        if args.charts.no_charts { "" } else { " and charts" },
        dir.display()
    ));
    Ok(())
}

fn cost(settings: &Settings, k: usize) -> String {
    match settings.method {
        Method::Sobol => format!("N(k+2) = {}×{}", settings.samples, k + 2),
        Method::Morris => format!("r(k+1) = {}×{}", settings.samples, k + 1),
    }
}

/// The three leading inputs of each key output for all towns together.
fn console(an: &Analysis, all: usize) -> String {
    let measure = match an.method {
        Method::Sobol => "ST",
        Method::Morris => "μ*",
    };
    let mut s = format!("All towns: leading inputs by {measure}:\n");
    for o in tornado::tornado_outputs(an, all) {
        let top: Vec<String> = an
            .ranked(o)
            .into_iter()
            .take(3)
            .filter(|&i| an.rank_value(o, i) > 0.0)
            .map(|i| {
                format!(
                    "{} {}",
                    an.inputs[i].name,
                    fixed(an.rank_value(o, i), if an.method == Method::Sobol { 2 } else { 1 })
                )
            })
            .collect();
        s.push_str(&format!("  {}: {}\n", an.outputs[o].name, top.join(", ")));
    }
    s.pop();
    s
}
