//! `capsim run`: project a scenario, aggregate the draws, write the tables.

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::report::{self, RunInfo, Tables};
use crate::scenario::{self, resolved};
use crate::{Error, engine, output, runner};

use super::{Out, ScenarioArgs};

/// Arguments of `capsim run`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub scenario: ScenarioArgs,
    /// Monte Carlo draws (default: the scenario's settings.draws).
    #[arg(long)]
    pub draws: Option<u64>,
    /// Seed (default: the scenario's settings.seed).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Worker threads (default: all cores). Results do not depend on it.
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Output directory (default: output/<scenario-stem>/).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Overwrite an existing directory that capsim did not write.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub charts: super::ChartArgs,
}

/// The default output directory of a scenario: `output/<stem>/`.
pub fn default_out(scenario: &Path) -> PathBuf {
    let stem = scenario.file_stem().map_or_else(|| "run".into(), |s| s.to_string_lossy().to_string());
    PathBuf::from("output").join(stem)
}

/// Runs the command.
pub fn run(args: &Args, out: &Out) -> crate::Result<()> {
    let mut s = scenario::load(&args.scenario.scenario, &args.scenario.with)?;
    for d in &s.notes {
        out.note(&d.to_string());
    }
    if let Some(d) = args.draws {
        if d == 0 {
            return Err(Error::Input("--draws 0: at least one draw is needed".into()));
        }
        s.settings.draws = d;
    }
    if let Some(seed) = args.seed {
        s.settings.seed = seed;
    }
    let dir = args.out.clone().unwrap_or_else(|| default_out(&args.scenario.scenario));
    output::prepare(&dir, args.force)?;

    let started = Instant::now();
    let model = engine::compile(&s);
    let central = runner::central(&model)?;
    let threads = if args.threads == 0 { rayon::current_num_threads() } else { args.threads };
    let agg = runner::run(&model, s.settings.seed, 0..s.settings.draws, threads, &|_| {})?;
    let tables = Tables { scenario: &s, model: &model, agg: &agg, central: &central, risk: s.settings.risk };
    let mut files = report::table_files(&tables);
    let wall = started.elapsed().as_secs_f64();
    files.extend(args.charts.files(&tables, out)?);

    let mut outputs: Vec<String> = files.iter().map(|f| f.0.clone()).collect();
    outputs.push("run.json".into());
    let info = RunInfo {
        capsim_version: env!("CARGO_PKG_VERSION").into(),
        scenario: args.scenario.scenario.display().to_string(),
        scenario_name: s.name.en.clone(),
        files: s.files.iter().map(|f| f.display().to_string()).collect(),
        scenario_sha256: resolved::sha256(&s),
        seed: s.settings.seed,
        draws: s.settings.draws,
        threads,
        wall_seconds: (wall * 1000.0).round() / 1000.0,
        time_convention: report::TIME_CONVENTION.into(),
        notes: s.notes.iter().map(|d| d.to_string()).collect(),
        outputs,
    };
    files.push(("run.json".into(), report::run_json(&info)));
    output::write_atomic(&dir, &files, args.force)?;
    out.line(&tables.console());
    out.line(&format!(
        "{} draws, seed {}, {:.2} s; tables in {}",
        s.settings.draws,
        s.settings.seed,
        wall,
        dir.display()
    ));
    Ok(())
}
