//! `capsim run`: project a scenario, aggregate the draws, write the tables — or, with
//! `--shard I/N`, run one share of the draws and write only its partial result.

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::engine::{DrawOutput, Model};
use crate::report::{self, RunInfo, Tables};
use crate::scenario::{self, Scenario};
use crate::stats::Aggregate;
use crate::{Error, engine, output, partial, runner};

use super::progress::Progress;
use super::{Out, ScenarioArgs};

/// Arguments of `capsim run`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub scenario: ScenarioArgs,
    /// Monte Carlo draws (default: the scenario's settings.draws); with --shard, the total over
    /// all shards.
    #[arg(long)]
    pub draws: Option<u64>,
    /// Seed (default: the scenario's settings.seed).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Worker threads (default: all cores). Results do not depend on it.
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Output directory (default: output/<scenario-stem>/, or output/<stem>.shard-I-of-N/).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Overwrite an existing directory that capsim did not write.
    #[arg(long)]
    pub force: bool,
    /// Run only shard I of N (0 ≤ I < N) and write its partial result for `capsim merge`.
    #[arg(long, value_name = "I/N", value_parser = partial::parse_shard)]
    pub shard: Option<(u64, u64)>,
    #[command(flatten)]
    pub charts: super::ChartArgs,
}

/// The default output directory of a scenario: `output/<stem>/`.
pub fn default_out(scenario: &Path) -> PathBuf {
    let stem = scenario.file_stem().map_or_else(|| "run".into(), |s| s.to_string_lossy().to_string());
    PathBuf::from("output").join(stem)
}

/// Loads a scenario with `--draws` / `--seed` overrides applied (printing its notes).
pub fn load_with_overrides(
    args: &ScenarioArgs,
    draws: Option<u64>,
    seed: Option<u64>,
    out: &Out,
) -> crate::Result<Scenario> {
    let mut s = scenario::load(&args.scenario, &args.with)?;
    for d in &s.notes {
        out.note(&d.to_string());
    }
    if let Some(d) = draws {
        check_draws(d)?;
        s.settings.draws = d;
    }
    if let Some(seed) = seed {
        s.settings.seed = seed;
    }
    Ok(s)
}

/// Refuses `--draws` outside 1 … [`scenario::MAX_DRAWS`] (the range `settings.draws` allows).
pub fn check_draws(draws: u64) -> crate::Result<()> {
    if draws == 0 {
        return Err(Error::Input("--draws 0: at least one draw is needed".into()));
    }
    if draws > scenario::MAX_DRAWS {
        return Err(Error::Input(format!(
            "--draws {draws}: at most {} draws in one run, all shards together (the limit of settings.draws)",
            scenario::MAX_DRAWS
        )));
    }
    Ok(())
}

/// Refuses, before anything is allocated for the draws, a run whose estimated memory exceeds
/// what the machine has available, saying how to make it fit.
pub fn check_memory(model: &Model, threads: usize) -> crate::Result<()> {
    let need = runner::estimate_memory(model, threads);
    let Some(have) = runner::available_memory() else { return Ok(()) };
    if need <= have {
        return Ok(());
    }
    let fits = (1..threads).rev().find(|&t| runner::estimate_memory(model, t) <= have);
    let fix = match fits {
        Some(t) => format!("use --threads {t} or fewer"),
        None => format!(
            "even one thread needs about {} MB: project fewer years, towns or resources (this one has {} × {} × {})",
            runner::estimate_memory(model, 1) >> 20,
            model.rows,
            model.towns.len(),
            model.resources.len()
        ),
    };
    Err(Error::Input(format!(
        "this run needs about {} MB of memory but {} MB are available; {fix}",
        need >> 20,
        have >> 20
    )))
}

/// Refuses a run that cannot fit in memory and warns about one that will take long.
pub fn check_limits(model: &Model, draws: u64, threads: usize, out: &Out) -> crate::Result<()> {
    check_memory(model, threads)?;
    if runner::surely_within(model, draws, threads, 60.0) {
        return Ok(());
    }
    let seconds = runner::estimate_seconds(model, draws, threads);
    if seconds > 60.0 {
        out.note(&format!(
            "note: {draws} draws will take about {:.0} min on {threads} thread(s); use --shard to spread them over machines",
            seconds / 60.0
        ));
    }
    Ok(())
}

/// Runs draws with a progress bar.
pub fn run_draws(
    model: &Model,
    seed: u64,
    range: std::ops::Range<u64>,
    threads: usize,
    out: &Out,
) -> crate::Result<Aggregate> {
    check_limits(model, range.end - range.start, threads, out)?;
    let progress = Progress::new(range.end - range.start, "draws", out.is_quiet());
    let agg = runner::run(model, seed, range, threads, &|done| progress.update(done));
    progress.finish();
    agg
}

/// Runs the command.
pub fn run(args: &Args, out: &Out) -> crate::Result<()> {
    let s = load_with_overrides(&args.scenario, args.draws, args.seed, out)?;
    let threads = if args.threads == 0 { rayon::current_num_threads() } else { args.threads };
    if let Some((i, n)) = args.shard {
        return run_shard(args, &s, i, n, threads, out);
    }
    let dir = args.out.clone().unwrap_or_else(|| default_out(&args.scenario.scenario));
    output::prepare(&dir, args.force)?;
    let started = Instant::now();
    let model = engine::compile(&s);
    check_memory(&model, threads)?;
    let central = runner::central(&model)?;
    let agg = run_draws(&model, s.settings.seed, 0..s.settings.draws, threads, out)?;
    let wall = started.elapsed().as_secs_f64();
    let input = ReportInput {
        scenario: &s,
        scenario_path: &args.scenario.scenario,
        model: &model,
        agg: &agg,
        central: &central,
    };
    write_report(&input, &dir, args.force, threads, wall, &args.charts, out)
}

fn run_shard(args: &Args, s: &Scenario, i: u64, n: u64, threads: usize, out: &Out) -> crate::Result<()> {
    let total = s.settings.draws;
    if n > total {
        return Err(Error::Input(format!(
            "--shard {i}/{n}: {n} shards for {total} draws leaves some shards empty; use at most {total} shards"
        )));
    }
    let stem = args.scenario.scenario.file_stem().map_or_else(|| "run".into(), |s| s.to_string_lossy().to_string());
    let dir = args.out.clone().unwrap_or_else(|| PathBuf::from("output").join(format!("{stem}.shard-{i}-of-{n}")));
    output::prepare(&dir, args.force)?;
    let started = Instant::now();
    let model = engine::compile(s);
    check_memory(&model, threads)?;
    // The same refusals as a whole run (the central variant must be finite and in range), so a
    // shard never computes what merge would refuse.
    runner::central(&model)?;
    let range = partial::shard_range(i, n, total);
    let agg = run_draws(&model, s.settings.seed, range.clone(), threads, out)?;
    let abs = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf()).display().to_string();
    let meta = partial::PartialMeta {
        format: partial::FORMAT_VERSION,
        capsim_version: env!("CARGO_PKG_VERSION").into(),
        scenario: args.scenario.scenario.display().to_string(),
        scenario_absolute: abs(&args.scenario.scenario),
        with: args.scenario.with.iter().map(|p| p.display().to_string()).collect(),
        with_absolute: args.scenario.with.iter().map(|p| abs(p)).collect(),
        scenario_sha256: s.sha256.clone(),
        seed: s.settings.seed,
        draws_total: total,
        shard: i,
        shards: n,
        draw_start: range.start,
        draw_end: range.end,
        wall_seconds: started.elapsed().as_secs_f64(),
    };
    let bytes = partial::encode(&meta, &agg)?;
    output::write_atomic(&dir, &[(partial::FILE_NAME.to_string(), bytes)], args.force)?;
    out.line(&format!(
        "shard {i}/{n}: draws {}..{} of {total} in {:.2} s; wrote {}",
        range.start,
        range.end,
        meta.wall_seconds,
        dir.join(partial::FILE_NAME).display()
    ));
    Ok(())
}

/// What a report is written from.
pub struct ReportInput<'a> {
    /// The scenario (draws and seed as run).
    pub scenario: &'a Scenario,
    /// The scenario file.
    pub scenario_path: &'a Path,
    /// Its model.
    pub model: &'a Model,
    /// The aggregated draws.
    pub agg: &'a Aggregate,
    /// The central variant.
    pub central: &'a DrawOutput,
}

/// Writes the tables and run.json of a run (or a merge) atomically and prints the summary.
pub fn write_report(
    input: &ReportInput,
    dir: &Path,
    force: bool,
    threads: usize,
    wall: f64,
    charts: &super::ChartArgs,
    out: &Out,
) -> crate::Result<()> {
    let s = input.scenario;
    let tables =
        Tables { scenario: s, model: input.model, agg: input.agg, central: input.central, risk: s.settings.risk };
    // Tables and charts are made side by side: on `threads` workers, as the draws were.
    let pool = runner::pool(threads)?;
    let mut files = pool.install(|| report::table_files(&tables));
    files.extend(pool.install(|| charts.files(&tables, out))?);
    let mut outputs: Vec<String> = files.iter().map(|f| f.0.clone()).collect();
    outputs.push("run.json".into());
    let info = RunInfo {
        capsim_version: env!("CARGO_PKG_VERSION").into(),
        scenario: input.scenario_path.display().to_string(),
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
    output::write_atomic(dir, &files, force)?;
    out.line(&tables.console());
    out.line(&format!(
        "{} draws, seed {}, {:.2} s; results in {}",
        s.settings.draws,
        s.settings.seed,
        wall,
        dir.display()
    ));
    Ok(())
}
