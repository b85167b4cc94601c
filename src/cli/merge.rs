//! `capsim merge`: combine the partial results of shards into the tables (and charts) one run
//! of all draws would have written, byte for byte.

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::scenario;
use crate::{Error, engine, output, partial, runner};

use super::Out;
use super::run::{ReportInput, write_report};

/// Arguments of `capsim merge`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Partial results: `partial.capsim` files or the directories holding them.
    #[arg(required = true, value_name = "PART")]
    pub parts: Vec<PathBuf>,
    /// Output directory (default: output/<scenario-stem>/).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Overwrite an existing directory that capsim did not write.
    #[arg(long)]
    pub force: bool,
    /// Worker threads for the tables and charts (default: all cores). Results do not depend
    /// on it.
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    #[command(flatten)]
    pub charts: super::ChartArgs,
}

/// Runs the command.
pub fn run(args: &Args, out: &Out) -> crate::Result<()> {
    let started = Instant::now();
    // The headers first: refuse parts that do not belong together before reading any results;
    // then the results one part at a time, so memory holds the total and one part.
    let mut parts = Vec::with_capacity(args.parts.len());
    for p in &args.parts {
        parts.push(partial::read_meta(p)?);
    }
    partial::check_parts(&mut parts)?;
    let meta = parts[0].1.clone();
    if meta.capsim_version != env!("CARGO_PKG_VERSION") {
        return Err(Error::Input(format!(
            "the parts were written by capsim {}, this is capsim {}: merge with the version that ran them",
            meta.capsim_version,
            env!("CARGO_PKG_VERSION")
        )));
    }
    // The scenario is read again (as given, else by its absolute path) and must resolve to the
    // same scenario the shards ran.
    let pick = |given: &str, abs: &str| -> PathBuf {
        if Path::new(given).exists() { PathBuf::from(given) } else { PathBuf::from(abs) }
    };
    let scenario_path = pick(&meta.scenario, &meta.scenario_absolute);
    let with: Vec<PathBuf> = meta.with.iter().zip(&meta.with_absolute).map(|(g, a)| pick(g, a)).collect();
    let mut s = scenario::load(&scenario_path, &with).map_err(|e| {
        Error::Input(format!("the shards' scenario {} cannot be read now:\n{e}", scenario_path.display()))
    })?;
    if s.sha256 != meta.scenario_sha256 {
        return Err(Error::Input(format!(
            "{} has changed since the shards ran (its resolved SHA-256 differs); rerun the shards",
            scenario_path.display()
        )));
    }
    s.settings.draws = meta.draws_total;
    s.settings.seed = meta.seed;
    let dir = args.out.clone().unwrap_or_else(|| super::run::default_out(&scenario_path));
    output::prepare(&dir, args.force)?;
    let model = engine::compile(&s);
    // The merged aggregate, plus the largest part as read and decoded (a decoded part takes a
    // few times its file's size).
    let largest = parts.iter().map(|p| p.2).max().unwrap_or(0);
    let need = runner::estimate_memory(&model, 0).saturating_add(largest.saturating_mul(4));
    if let Some(have) = runner::available_memory()
        && need > have
    {
        return Err(Error::Input(format!(
            "merging needs about {} MB of memory but {} MB are available",
            need >> 20,
            have >> 20
        )));
    }
    let mut agg = crate::stats::Aggregate::new(&model);
    for (path, header, _) in &parts {
        let (_, meta, part) = partial::read(path)?;
        if meta != *header {
            return Err(Error::Input(format!("{} changed while it was being merged", path.display())));
        }
        if !part.fits(&model) {
            return Err(Error::Input(format!("{} does not match the scenario's shape", path.display())));
        }
        agg.merge(&part);
    }
    let central = runner::central(&model)?;
    let wall = started.elapsed().as_secs_f64() + parts.iter().map(|p| p.1.wall_seconds).sum::<f64>();
    write_report(
        &ReportInput { scenario: &s, scenario_path: &scenario_path, model: &model, agg: &agg, central: &central },
        &dir,
        args.force,
        if args.threads == 0 { rayon::current_num_threads() } else { args.threads },
        wall,
        &args.charts,
        out,
    )?;
    out.line(&format!("merged {} parts ({} draws) into {}", parts.len(), meta.draws_total, dir.display()));
    Ok(())
}
