//! Running draws in parallel: rayon workers take fixed blocks of draws from a shared counter
//! and add each block to one [`SharedAggregate`]. Because every draw
//! is a function of (seed, draw index) alone and merging is exact, the result is the same for
//! any thread count and any split of the draws into shards.

use std::ops::Range;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::engine::{self, DrawOutput, Model, NonFinite};
use crate::stats::{Aggregate, Block, Layout, SharedAggregate};
use crate::{Error, Result};

/// The most draws handed to a worker at a time (and aggregated together). Each series'
/// histogram is visited once a block, which costs a few cache misses whatever the block's size:
/// a run of blocks of 1,024 draws takes 7 % less CPU time than one of 512 (2,048: another 3 %;
/// 256 → 512 saved 7 %, 128 cost 30 % more than 256), for a block buffer of 35 MB per worker in
/// the Shanghai scenario (20 MB more than 512 draws'). A run's blocks are about equal, their
/// count a multiple of the workers where the draws allow (`block_unit`).
pub const BLOCK: u64 = 1024;

/// The central variant (MODEL §2): every input at its central value and every shock zero.
pub fn central(model: &Model) -> Result<DrawOutput> {
    let values = model.central_values();
    let shocks = vec![0.0; model.shock_len()];
    let mut ws = model.workspace();
    engine::simulate_draw(model, &values, &shocks, &mut ws).map_err(|e| numerical(e, None))?;
    Ok(ws.out)
}

fn numerical(e: NonFinite, draw: Option<u64>) -> Error {
    let at = draw.map_or_else(|| "the central variant".to_string(), |d| format!("draw {d}"));
    let inputs: Vec<String> =
        e.inputs.iter().map(|(p, v)| format!("{p} = {}", crate::scenario::dist::fmt_g(*v))).collect();
    Error::Numerical(format!(
        "{} became NaN, infinite or beyond 1e15 in {at}; the inputs that feed it were: {}. Check these values in the scenario.",
        e.what,
        if inputs.is_empty() { "(none identified)".to_string() } else { inputs.join(", ") }
    ))
}

/// A pool of `threads` workers (0 = all cores), for a run's draws and for the work after them
/// (tables, charts) that `--threads` also bounds.
pub fn pool(threads: usize) -> Result<rayon::ThreadPool> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| Error::Internal(format!("cannot start worker threads: {e}")))
}

/// Runs draws `range` with `threads` workers (0 = all cores), calling `progress` with the
/// number of draws finished so far (roughly every block; from any worker, so possibly out of
/// order: a caller showing progress keeps the largest).
pub fn run(
    model: &Model,
    seed: u64,
    range: Range<u64>,
    threads: usize,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Aggregate> {
    run_with(model, Layout::of(model), seed, range, threads, progress)
}

/// [`run`] with the series placed by `layout` (a test gives a wrong one).
fn run_with(
    model: &Model,
    layout: Layout,
    seed: u64,
    range: Range<u64>,
    threads: usize,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Aggregate> {
    let pool = pool(threads)?;
    let workers = pool.current_num_threads().max(1);
    let next = AtomicU64::new(range.start);
    let done = AtomicU64::new(0);
    let failed = AtomicBool::new(false);
    let first_error: Mutex<Option<(u64, NonFinite)>> = Mutex::new(None);
    let agg = SharedAggregate::with_layout(model, layout.clone());
    let broken = AtomicBool::new(false);
    let unit = block_unit(range.end.saturating_sub(range.start), workers);
    pool.scope(|scope| {
        for worker in 0..workers {
            let (agg, next, done, failed, first_error) = (&agg, &next, &done, &failed, &first_error);
            let (layout, broken) = (layout.clone(), &broken);
            scope.spawn(move |_| {
                // Workers start on different parts of the aggregate, so they seldom wait.
                let first_part = worker * agg.parts() / workers;
                let mut block = Block::with_layout(model, layout, unit as usize);
                let mut ws = model.workspace();
                let mut values = model.central_values();
                let mut shocks = vec![0.0; model.shock_len()];
                loop {
                    if failed.load(Ordering::Relaxed) {
                        break;
                    }
                    let start = next.fetch_add(unit, Ordering::Relaxed);
                    if start >= range.end {
                        break;
                    }
                    let end = (start + unit).min(range.end);
                    for draw in start..end {
                        engine::sample_draw(model, seed, draw, &mut values, &mut shocks);
                        if let Err(e) = engine::simulate_draw(model, &values, &shocks, &mut ws) {
                            let mut slot = first_error.lock().unwrap_or_else(|p| p.into_inner());
                            // Keep the earliest failing draw, so the message does not depend on timing.
                            if slot.as_ref().is_none_or(|(d, _)| draw < *d) {
                                *slot = Some((draw, e));
                            }
                            failed.store(true, Ordering::Relaxed);
                            break;
                        }
                        block.push(&ws.out);
                    }
                    if agg.add_block(&mut block, first_part).is_err() {
                        broken.store(true, Ordering::Relaxed);
                        failed.store(true, Ordering::Relaxed);
                        break;
                    }
                    let finished = done.fetch_add(end - start, Ordering::Relaxed) + (end - start);
                    progress(finished);
                }
            });
        }
    });
    if let Some((draw, e)) = first_error.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(numerical(e, Some(draw)));
    }
    if broken.into_inner() {
        // The model's analysis of which results never change was wrong: a bug, and the
        // aggregate would be too, so nothing is written.
        return Err(Error::Internal(
            "a result capsim takes to be the same in every draw changed between draws; no output was written. Please report this with the scenario".to_string(),
        ));
    }
    Ok(agg.into_aggregate())
}

/// The draws in each block of a run of `draws` on `workers`: at most [`BLOCK`], and about
/// equal blocks whose count is a multiple of the workers where the draws allow, so that equal
/// workers finish together (9 blocks of 1,024 and one of 784 kept one worker 240 draws longer
/// than the other at 10,000 draws; now 10 blocks of 1,000). The last block may be smaller.
fn block_unit(draws: u64, workers: usize) -> u64 {
    let blocks = draws.div_ceil(BLOCK).next_multiple_of(workers.max(1) as u64).max(1);
    draws.div_ceil(blocks).max(1)
}

/// Bytes a run needs beyond the scenario itself: one block buffer per worker and the shared
/// aggregate (histograms estimated at a few pages per series, generously).
/// Computed from the model's shape without allocating anything.
pub fn estimate_memory(model: &Model, threads: usize) -> u64 {
    let (a, nr, rows, steps) =
        (model.areas() as u64, model.resources.len() as u64, model.rows as u64, model.steps() as u64);
    let groups = a * rows * 2 * model.groups.len() as u64;
    let value_series = a * rows + groups + a * nr * rows * 2 + a * steps * 3;
    let sketches = value_series + a * nr * rows;
    let per_sketch = std::mem::size_of::<crate::stats::Sketch>() as u64 + 24 * 64;
    let block = sketches * 4 * BLOCK;
    sketches.saturating_mul(per_sketch).saturating_add(block.saturating_mul(threads as u64))
}

/// Whether a run of `draws` is sure to finish within `seconds`, by a pessimistic bound from the
/// model's shape alone (20 ns per aggregated value and 10 ns per cohort-year, about five times
/// what this machine takes): most runs need no timing probe at all, which would cost more
/// than a small run itself (a block buffer and first-touch histograms).
pub fn surely_within(model: &Model, draws: u64, threads: usize, seconds: f64) -> bool {
    let (a, nr, rows, steps) = (model.areas(), model.resources.len(), model.rows, model.steps());
    let values = a * rows + a * rows * 2 * model.groups.len() + a * nr * rows * 3 + a * steps * 3;
    let cohorts = model.towns.len() * rows * 2 * crate::scenario::schedule::AGES;
    let per_draw = values as f64 * 20e-9 + cohorts as f64 * 10e-9;
    per_draw * draws as f64 / threads.max(1) as f64 <= seconds
}

/// Seconds a run of `draws` is expected to take with `threads` workers, from timing a few
/// draws now (a rough figure for warnings, never a reason to refuse).
pub fn estimate_seconds(model: &Model, draws: u64, threads: usize) -> f64 {
    let probe = draws.min(256);
    let started = std::time::Instant::now();
    let mut agg = Aggregate::new(model);
    let mut block = Block::new(model, probe.max(1) as usize);
    let mut ws = model.workspace();
    let mut values = model.central_values();
    let mut shocks = vec![0.0; model.shock_len()];
    for d in 0..probe {
        engine::sample_draw(model, 0, d, &mut values, &mut shocks);
        if engine::simulate_draw(model, &values, &shocks, &mut ws).is_err() {
            return 0.0;
        }
        block.push(&ws.out);
    }
    if agg.add_block(&mut block).is_err() {
        return 0.0;
    }
    let per_draw = started.elapsed().as_secs_f64() / probe.max(1) as f64;
    per_draw * draws as f64 / threads.max(1) as f64
}

/// Memory available to this process, if the system says (Linux: MemAvailable).
pub fn available_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_at_most_block_draws_and_shared_evenly() {
        for draws in [0, 1, 5, 1023, 1024, 1025, 10_000, 4_192_257, 1_000_000_000, u64::MAX / 2] {
            for workers in [1, 2, 3, 7, 64, 1 << 20] {
                let unit = block_unit(draws, workers);
                assert!((1..=BLOCK).contains(&unit), "{draws} draws, {workers} workers: {unit}");
                let blocks = draws.div_ceil(unit);
                // Never more blocks than needed to keep each within BLOCK and give every
                // worker the same count.
                assert!(blocks <= draws.div_ceil(BLOCK).next_multiple_of(workers as u64), "{draws}, {workers}");
            }
        }
        // Equal workers get equal work when the draws divide evenly.
        assert_eq!(block_unit(10_000, 2), 1_000);
        assert_eq!(block_unit(10_000, 1), 1_000);
        assert_eq!(block_unit(1_000_000, 2), 1_023);
        assert_eq!(block_unit(100, 2), 50);
        assert_eq!(block_unit(5, 4), 2);
    }

    #[test]
    fn a_run_whose_fixed_series_change_fails_and_returns_nothing() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/example.toml");
        let model = crate::engine::compile(&crate::scenario::load(&path, &[]).unwrap());
        // The first population series called fixed: it varies from draw to draw.
        let mut fixed = vec![false; Layout::of(&model).series()];
        fixed[0] = true;
        let bad = Layout::with_fixed(&model, &fixed);
        let e = run_with(&model, bad, 1, 0..300, 2, &|_| {}).unwrap_err();
        assert!(matches!(e, Error::Internal(_)), "{e}");
        assert!(e.to_string().contains("changed between draws"), "{e}");
        // The model's own layout runs.
        assert_eq!(run_with(&model, Layout::of(&model), 1, 0..300, 2, &|_| {}).unwrap().draws, 300);
    }
}
