//! `capsim plan`: the fewest build units, decided as late as possible, that keep the shortfall
//! risk at or below a level in every year that can still be fixed.

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::report::{self, RunInfo};
use crate::{Error, engine, output, plan, runner};

use super::run::load_with_overrides;
use super::{Out, ScenarioArgs};

/// Arguments of `capsim plan`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub scenario: ScenarioArgs,
    /// The shortfall risk to stay at or below (default: the scenario's settings.risk).
    #[arg(long)]
    pub risk: Option<f64>,
    /// First year a decision can be taken (default: the scenario's settings.decision_year).
    #[arg(long, value_name = "YEAR")]
    pub from: Option<i32>,
    /// Monte Carlo draws (default: the scenario's settings.draws).
    #[arg(long)]
    pub draws: Option<u64>,
    /// Seed (default: the scenario's settings.seed).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Worker threads (default: all cores). Results do not depend on it.
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Output directory (default: output/<scenario-stem>-plan/).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Overwrite an existing directory that capsim did not write.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub charts: super::ChartArgs,
}

fn default_out(scenario: &Path) -> PathBuf {
    let stem = scenario.file_stem().map_or_else(|| "run".into(), |s| s.to_string_lossy().to_string());
    PathBuf::from("output").join(format!("{stem}-plan"))
}

/// Runs the command.
pub fn run(args: &Args, out: &Out) -> crate::Result<()> {
    let s = load_with_overrides(&args.scenario, args.draws, args.seed, out)?;
    let risk = args.risk.unwrap_or(s.settings.risk);
    if !(risk > 0.0 && risk < 1.0) {
        return Err(Error::Input(format!("--risk {risk}: expected a probability strictly between 0 and 1")));
    }
    let from = args.from.unwrap_or(s.settings.decision_year);
    if from < s.settings.base_year || from > s.settings.end_year {
        return Err(Error::Input(format!(
            "--from {from}: expected a year within the scenario's horizon {}–{}",
            s.settings.base_year, s.settings.end_year
        )));
    }
    let dir = args.out.clone().unwrap_or_else(|| default_out(&args.scenario.scenario));
    output::prepare(&dir, args.force)?;
    let threads = if args.threads == 0 { rayon::current_num_threads() } else { args.threads };
    let started = Instant::now();
    let model = engine::compile(&s);
    let settings = plan::PlanSettings { risk, from, seed: s.settings.seed, draws: s.settings.draws, threads };
    let p = plan::plan(&s, &model, &settings)?;
    let wall = started.elapsed().as_secs_f64();
    let path = args.scenario.scenario.display().to_string();
    let mut files = vec![
        ("plan.csv".to_string(), plan::plan_csv(&s, &model, &p).into_bytes()),
        ("plan.toml".to_string(), plan::plan_toml(&s, &path, &p).into_bytes()),
    ];
    files.extend(runner::pool(threads)?.install(|| args.charts.plan_files(&s, &model, &p, out))?);
    let mut outputs: Vec<String> = files.iter().map(|f| f.0.clone()).collect();
    outputs.push("run.json".into());
    let info = RunInfo {
        capsim_version: env!("CARGO_PKG_VERSION").into(),
        scenario: path.clone(),
        scenario_name: s.name.en.clone(),
        files: s.files.iter().map(|f| f.display().to_string()).collect(),
        scenario_sha256: s.sha256.clone(),
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
    let batches: usize = p.items.iter().map(|i| i.batches.len()).sum();
    let units: u32 = p.items.iter().flat_map(|i| &i.batches).map(|b| b.units).sum();
    let unavoidable = p.items.iter().filter(|i| !i.unavoidable.is_empty()).count();
    out.line(&format!(
        "plan: {units} units in {batches} projects keep P(shortfall) ≤ {risk} in every fixable year from {from}; \
         {unavoidable} town × resource pairs have unavoidable years (see plan.csv)"
    ));
    if p.has_costs() {
        out.line(&format!(
            "total cost of the projects with a cost: {}",
            crate::report::lang::grouped(p.total_cost(), 0)
        ));
    }
    out.line(&format!(
        "{} draws, seed {}, {wall:.2} s; plan in {} (add it with: capsim run {path} --with {})",
        s.settings.draws,
        s.settings.seed,
        dir.display(),
        dir.join("plan.toml").display()
    ));
    Ok(())
}
