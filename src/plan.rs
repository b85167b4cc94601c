//! `capsim plan`: what to build, where and when, so that the shortfall risk stays at or below a
//! chosen level in every year that can still be fixed.
//!
//! For each town × resource the plan adds *batches* of the resource's build unit (a 30-class
//! school, one health station …): a batch is decided in year `y ≥ from`, planned to open at
//! `y + lead_time`, and opens in each draw after its own random delay (one project, one delay —
//! exactly what `capsim run --with plan.toml` will draw for it, since the batch's delay stream
//! is keyed by the project path it is written under). The per-draw demand and existing capacity
//! come from one pass of the engine, so every candidate is judged on the same draws (common
//! random numbers) and the plan's own evaluation is the same arithmetic `run` does: capacity =
//! existing capacity, then each opened batch added in order.
//!
//! The search (documented with its guarantees in `docs/plan.md`):
//! 1. **Years.** A year is fixable when a decision taken in `from` can be planned to open by
//!    then (`year ≥ from + lead_time`); earlier years at risk are reported as unavoidable.
//! 2. **Greedy, earliest year first.** While a fixable year's risk exceeds the target, add one
//!    unit where it lowers that year's risk most (among decision years that plan an opening by
//!    then; ties go to the latest decision). A year that even unlimited units could not bring
//!    within the target (too many draws in which every batch that could serve it opens late)
//!    is reported as unavoidable: nothing is bought for it, and it constrains nothing.
//! 3. **Latest decisions.** Units are moved to later decision years, one year at a time, while
//!    every fixable year stays within the risk (and no unavoidable year gets worse).
//! 4. **Irreducible.** Any unit whose removal keeps every year within the risk is removed;
//!    steps 3–4 repeat until nothing changes. So removing any one recommended unit makes some
//!    fixable year exceed the risk.

use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use rayon::prelude::*;

use crate::engine::{self, Model};
use crate::scenario::{Build, Dist, Scenario};
use crate::{Error, Result};

/// What the plan is asked for.
#[derive(Clone, Debug)]
pub struct PlanSettings {
    /// The shortfall risk to stay at or below in every fixable year.
    pub risk: f64,
    /// First year a decision can be taken.
    pub from: i32,
    /// Seed.
    pub seed: u64,
    /// Draws.
    pub draws: u64,
    /// Worker threads.
    pub threads: usize,
}

/// Largest per-draw store a plan may hold (bytes); `plan` refuses more draws than fit.
pub const MAX_STORE_BYTES: u64 = 3 << 30;

/// A decision to build `units` units in one year (one project).
#[derive(Clone, Debug, PartialEq)]
pub struct Batch {
    /// Project id in plan.toml (`capsim_plan_<year>`).
    pub id: String,
    /// Decision year.
    pub decision_year: i32,
    /// Planned opening year (decision + lead time).
    pub planned_open_year: i32,
    /// Units.
    pub units: u32,
    /// Capacity added (units × unit).
    pub amount: f64,
    /// Cost, when the build unit has one.
    pub cost: Option<f64>,
    /// The first year the batch is needed for: from its planned opening, the first year whose
    /// risk without the plan exceeds the target.
    pub fixes_year: i32,
}

/// The plan of one town × resource.
#[derive(Clone, Debug)]
pub struct ResourcePlan {
    /// Town index.
    pub town: usize,
    /// Resource index.
    pub resource: usize,
    /// The build unit used.
    pub build: Build,
    /// Batches, by decision year.
    pub batches: Vec<Batch>,
    /// Years at risk that no decision from `from` can fix.
    pub unavoidable: Vec<i32>,
    /// P(shortfall) by row without the plan.
    pub risk_before: Vec<f64>,
    /// P(shortfall) by row with it.
    pub risk_after: Vec<f64>,
}

/// A plan for a whole scenario.
#[derive(Clone, Debug)]
pub struct Plan {
    /// What was asked.
    pub settings: PlanSettings,
    /// One entry per town × resource, town-major.
    pub items: Vec<ResourcePlan>,
    /// Bytes of per-draw storage the search used per draw.
    pub bytes_per_draw: u64,
}

impl Plan {
    /// Total cost of every batch with a cost.
    pub fn total_cost(&self) -> f64 {
        self.items.iter().flat_map(|i| &i.batches).filter_map(|b| b.cost).sum()
    }

    /// Whether any build unit has a cost.
    pub fn has_costs(&self) -> bool {
        self.items.iter().any(|i| i.build.cost.is_some())
    }
}

/// Per-draw demand and existing capacity of every town × resource, rows `first_row ..`.
struct Store {
    draws: usize,
    first_row: usize,
    rows: usize,
    /// `[(tr * rows + r) * draws + d]`.
    demand: Vec<f64>,
    capacity: Vec<f64>,
    /// Shortfall counts of every row (all rows, before any plan), `[tr * all_rows + row]`.
    short: Vec<u64>,
}

impl Store {
    fn at(&self, tr: usize, r: usize) -> std::ops::Range<usize> {
        let i = (tr * self.rows + r) * self.draws;
        i..i + self.draws
    }
}

/// The build unit of a resource: its own, or the documented default.
pub fn build_of(s: &Scenario, r: usize) -> Build {
    s.resources[r].build.clone().unwrap_or_else(|| Build::default_for(&s.resources[r].id))
}

/// Runs the search for every town × resource.
pub fn plan(s: &Scenario, model: &Model, set: &PlanSettings) -> Result<Plan> {
    let t0 = model.t0;
    let end = model.year(model.rows - 1);
    if !(set.risk > 0.0 && set.risk < 1.0) {
        return Err(Error::Input(format!("--risk {}: expected a probability strictly between 0 and 1", set.risk)));
    }
    if set.from < t0 || set.from > end {
        return Err(Error::Input(format!("--from {}: expected a year within the horizon {t0}–{end}", set.from)));
    }
    let nt = model.towns.len();
    let nr = model.resources.len();
    let first_row = (set.from - t0) as usize;
    let rows = model.rows - first_row;
    let bytes_per_draw = (nt * nr * rows * 16) as u64;
    if bytes_per_draw.saturating_mul(set.draws) > MAX_STORE_BYTES {
        return Err(Error::Input(format!(
            "a plan keeps every draw's demand and capacity ({bytes_per_draw} bytes a draw for this scenario); \
             {} draws would need {} MB, more than the {} MB cap: use at most {} draws",
            set.draws,
            (bytes_per_draw * set.draws) >> 20,
            MAX_STORE_BYTES >> 20,
            MAX_STORE_BYTES / bytes_per_draw.max(1)
        )));
    }
    let need = bytes_per_draw.saturating_mul(set.draws);
    if let Some(have) = crate::runner::available_memory()
        && need > have
    {
        return Err(Error::Input(format!(
            "this plan needs about {} MB of memory ({bytes_per_draw} bytes a draw) \
             but {} MB are available; use fewer --draws",
            need >> 20,
            have >> 20
        )));
    }
    let store = collect(model, set, first_row, rows)?;
    let pool = crate::runner::pool(set.threads)?;
    let items: Vec<ResourcePlan> = pool
        .install(|| (0..nt * nr).into_par_iter().map(|tr| plan_one(s, model, set, &store, tr / nr, tr % nr)).collect());
    Ok(Plan { settings: set.clone(), items, bytes_per_draw })
}

/// One pass of the engine: per-draw demand and capacity of the plannable rows, and shortfall
/// counts of every row.
fn collect(model: &Model, set: &PlanSettings, first_row: usize, rows: usize) -> Result<Store> {
    let nt = model.towns.len();
    let nr = model.resources.len();
    let all_rows = model.rows;
    let n = set.draws as usize;
    const CHUNK: usize = 256;
    let pool = crate::runner::pool(set.threads)?;
    let failed = AtomicU64::new(u64::MAX);
    // Each worker projects a chunk of draws into its own buffers and copies them into the
    // store under a lock: the store is the only copy of the draws (gathering every chunk
    // first, then the store, held them twice).
    let store = Mutex::new(Store {
        draws: n,
        first_row,
        rows,
        demand: vec![0.0; nt * nr * rows * n],
        capacity: vec![0.0; nt * nr * rows * n],
        short: vec![0; nt * nr * all_rows],
    });
    pool.install(|| {
        (0..n.div_ceil(CHUNK)).into_par_iter().for_each_init(
            || {
                let chunk = (vec![0.0; nt * nr * rows * CHUNK], vec![0.0; nt * nr * rows * CHUNK]);
                (model.workspace(), model.central_values(), vec![0.0; model.shock_len()], chunk)
            },
            |(ws, values, shocks, (dem, cap)), c| {
                let lo = c * CHUNK;
                let len = CHUNK.min(n - lo);
                let mut short = vec![0u64; nt * nr * all_rows];
                for lane in 0..len {
                    let draw = (lo + lane) as u64;
                    engine::sample_draw(model, set.seed, draw, values, shocks);
                    if engine::simulate_draw(model, values, shocks, ws).is_err() {
                        failed.fetch_min(draw, Ordering::Relaxed);
                        continue;
                    }
                    for tr in 0..nt * nr {
                        let (t, r) = (tr / nr, tr % nr);
                        let off = (t * nr + r) * all_rows;
                        for row in 0..all_rows {
                            let (d, k) = (ws.out.demand[off + row], ws.out.capacity[off + row]);
                            short[tr * all_rows + row] += u64::from(d > k);
                            if row >= first_row {
                                let i = (tr * rows + row - first_row) * len + lane;
                                dem[i] = d;
                                cap[i] = k;
                            }
                        }
                    }
                }
                let mut store = store.lock().unwrap_or_else(|p| p.into_inner());
                for tr_row in 0..nt * nr * rows {
                    let (src, dst) = (tr_row * len, tr_row * n + lo);
                    store.demand[dst..dst + len].copy_from_slice(&dem[src..src + len]);
                    store.capacity[dst..dst + len].copy_from_slice(&cap[src..src + len]);
                }
                for (x, y) in store.short.iter_mut().zip(&short) {
                    *x += y;
                }
            },
        );
    });
    let bad = failed.load(Ordering::Relaxed);
    if bad != u64::MAX {
        return Err(Error::Numerical(format!(
            "draw {bad} produced a non-finite number; run `capsim run` with the same seed to see which input"
        )));
    }
    let store = store.into_inner().unwrap_or_else(|p| p.into_inner());
    Ok(store)
}

/// The project id of the batch decided in `year` (unique among the capacity's projects).
fn batch_id(s: &Scenario, town: usize, res: usize, year: i32) -> String {
    let existing = &s.capacity_of(town, res).projects;
    let base = format!("capsim_plan_{year}");
    let mut id = base.clone();
    let mut k = 2;
    while existing.iter().any(|p| p.id == id) {
        id = format!("{base}_{k}");
        k += 1;
    }
    id
}

/// The search state of one town × resource.
struct Search<'a> {
    store: &'a Store,
    tr: usize,
    /// Amount of one unit.
    unit: f64,
    /// Candidate decision years.
    years: Vec<i32>,
    /// Opening row of each candidate's batch in each draw: `[y][d]`.
    open: Vec<Vec<i64>>,
    /// Units per candidate.
    n: Vec<u32>,
}

impl Search<'_> {
    /// Draws short in stored row `r` with the current units.
    fn short(&self, r: usize) -> u64 {
        let range = self.store.at(self.tr, r);
        let (dem, cap) = (&self.store.demand[range.clone()], &self.store.capacity[range]);
        let row = (self.store.first_row + r) as i64;
        let amounts: Vec<(usize, f64)> =
            (0..self.years.len()).filter(|&y| self.n[y] > 0).map(|y| (y, self.unit * f64::from(self.n[y]))).collect();
        let mut short = 0u64;
        for d in 0..self.store.draws {
            // Existing capacity, then each opened batch in decision order: the same sum, in the
            // same order, as `run --with plan.toml` makes.
            let mut c = cap[d];
            for &(y, a) in &amounts {
                if self.open[y][d] <= row {
                    c += a;
                }
            }
            short += u64::from(dem[d] > c);
        }
        short
    }

    /// The short draws of stored row `r`, with how much capacity each still lacks.
    fn needs(&self, r: usize) -> Vec<(usize, f64)> {
        let range = self.store.at(self.tr, r);
        let (dem, cap) = (&self.store.demand[range.clone()], &self.store.capacity[range]);
        let row = (self.store.first_row + r) as i64;
        let mut out = Vec::new();
        for d in 0..self.store.draws {
            let mut c = cap[d];
            for y in 0..self.years.len() {
                if self.n[y] > 0 && self.open[y][d] <= row {
                    c += self.unit * f64::from(self.n[y]);
                }
            }
            if dem[d] > c {
                out.push((d, dem[d] - c));
            }
        }
        out
    }

    fn risk(&self, r: usize) -> f64 {
        self.short(r) as f64 / self.store.draws as f64
    }
}

fn plan_one(s: &Scenario, model: &Model, set: &PlanSettings, store: &Store, town: usize, res: usize) -> ResourcePlan {
    let build = build_of(s, res);
    let nr = model.resources.len();
    let tr = town * nr + res;
    let t0 = model.t0;
    let end = model.year(model.rows - 1);
    let all_rows = model.rows;
    let n = store.draws as f64;
    let risk_before: Vec<f64> = (0..all_rows).map(|row| store.short[tr * all_rows + row] as f64 / n).collect();
    let years: Vec<i32> = (set.from..=end - build.lead_time).collect();
    let town_id = &s.towns[town].id;
    let res_id = &s.resources[res].id;
    let ids: Vec<String> = years.iter().map(|&y| batch_id(s, town, res, y)).collect();
    // Each batch's opening row in each draw, from its own delay stream (the path it is
    // written under in plan.toml).
    let open: Vec<Vec<i64>> = years
        .iter()
        .zip(&ids)
        .map(|(&y, id)| {
            let planned = i64::from(y + build.lead_time - t0);
            let path = format!("capacity.{town_id}.{res_id}.projects.{id}.delay");
            let stream = match &build.delay.key {
                Some(k) => crate::rng::stream_id(&format!("key:{k}")),
                None => crate::rng::stream_id(&path),
            };
            (0..store.draws as u64)
                .map(|d| {
                    let delay = if build.delay.is_random() {
                        let mut rng = crate::rng::stream(set.seed, d, stream);
                        build.delay.sample(crate::rng::open_uniform(&mut rng))
                    } else {
                        build.delay.central()
                    };
                    engine::opening_row(planned, delay)
                })
                .collect()
        })
        .collect();
    let mut search = Search { store, tr, unit: build.unit, years: years.clone(), n: vec![0; years.len()], open };
    let first_fixable_year = set.from + build.lead_time;
    let fixable: Vec<usize> =
        (0..store.rows).filter(|&r| model.year(store.first_row + r) >= first_fixable_year).collect();
    let target = set.risk;
    // Residual risk of the years no unit can bring within the target.
    let mut residual: Vec<Option<f64>> = vec![None; store.rows];

    // 2. Greedy, earliest year first. A step adds, at one decision year, the units that fix
    // the most short draws of the year at hand: enough to meet the target if one decision
    // year can (the fewest units; ties to the latest year), otherwise every short draw that
    // year's batch opens in time for, and then the next step tries the other years.
    const MAX_UNITS: u64 = 1_000_000;
    for &r in &fixable {
        let year = model.year(store.first_row + r);
        let row = (store.first_row + r) as i64;
        let allowed = (target * n).floor() as u64;
        // A year is unavoidable when even unlimited units cannot bring it within the target:
        // too many short draws in which every batch that could serve it opens late. Nothing is
        // bought for such a year (the fewest units), and it constrains nothing.
        let reachable =
            |d: usize| (0..years.len()).any(|y| years[y] + build.lead_time <= year && search.open[y][d] <= row);
        let stuck = search.needs(r).iter().filter(|(d, _)| !reachable(*d)).count() as u64;
        if stuck > allowed {
            residual[r] = Some(1.0);
            continue;
        }
        for _ in 0..10_000 {
            let now = search.short(r);
            if now <= allowed {
                break;
            }
            // Remaining need of each short draw, in units of capacity.
            let need = search.needs(r);
            let mut best: Option<(bool, f64, u32, usize)> = None; // (meets, fixed per unit, units, y)
            for y in 0..years.len() {
                if years[y] + build.lead_time > year {
                    continue;
                }
                // Units that would fix each short draw this batch opens in time for.
                let mut units: Vec<u64> = need
                    .iter()
                    .filter(|(d, _)| search.open[y][*d] <= row)
                    .map(|&(_, gap)| (gap / build.unit).ceil().max(1.0).min(MAX_UNITS as f64) as u64)
                    .collect();
                if units.is_empty() {
                    continue;
                }
                units.sort_unstable();
                let to_fix = (now - allowed) as usize;
                let (meets, k) = if units.len() >= to_fix { (true, to_fix) } else { (false, units.len()) };
                let m = units[k - 1] as u32;
                let per_unit = k as f64 / f64::from(m);
                let better = match best {
                    None => true,
                    // Meeting the target beats not; then fewer units; then the later year.
                    Some((bm, bp, bu, _)) => {
                        (meets && !bm) || (meets == bm && if meets { m <= bu } else { per_unit >= bp })
                    }
                };
                if better {
                    best = Some((meets, per_unit, m, y));
                }
            }
            match best {
                Some((_, _, m, y)) if u64::from(search.n.iter().sum::<u32>()) + u64::from(m) < MAX_UNITS => {
                    search.n[y] += m
                }
                _ => {
                    residual[r] = Some(now as f64 / n);
                    break;
                }
            }
        }
        if search.short(r) > allowed && residual[r].is_none() {
            residual[r] = Some(search.risk(r));
        }
    }
    let feasible = |search: &Search| -> bool {
        fixable.iter().all(|&r| {
            let limit = residual[r].unwrap_or(target);
            limit >= 1.0 || search.risk(r) <= limit + 1e-12
        })
    };
    // The largest k in 0..=max for which `ok(k)` holds, assuming it holds for 0 and is
    // monotone (fewer units, or fewer moved later, can only make risks no better).
    let largest = |max: u32, ok: &mut dyn FnMut(u32) -> bool| -> u32 {
        let (mut lo, mut hi) = (0u32, max);
        while lo < hi {
            let mid = lo + (hi - lo).div_ceil(2);
            if ok(mid) { lo = mid } else { hi = mid - 1 }
        }
        lo
    };
    // 3–4. Latest decisions, then irreducible; repeat until stable.
    for _ in 0..100 {
        let mut changed = false;
        for y in (0..years.len().saturating_sub(1)).rev() {
            let max = search.n[y];
            let k = largest(max, &mut |k| {
                search.n[y] -= k;
                search.n[y + 1] += k;
                let ok = feasible(&search);
                search.n[y + 1] -= k;
                search.n[y] += k;
                ok
            });
            if k > 0 {
                search.n[y] -= k;
                search.n[y + 1] += k;
                changed = true;
            }
        }
        for y in 0..years.len() {
            let max = search.n[y];
            let k = largest(max, &mut |k| {
                search.n[y] -= k;
                let ok = feasible(&search);
                search.n[y] += k;
                ok
            });
            if k > 0 {
                search.n[y] -= k;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    // Monotonicity is what the binary searches assume; make sure the result is irreducible.
    for y in 0..years.len() {
        while search.n[y] > 0 {
            search.n[y] -= 1;
            if feasible(&search) {
                continue;
            }
            search.n[y] += 1;
            break;
        }
    }

    let mut risk_after = risk_before.clone();
    for r in 0..store.rows {
        risk_after[store.first_row + r] = search.risk(r);
    }
    let batches: Vec<Batch> = (0..years.len())
        .filter(|&y| search.n[y] > 0)
        .map(|y| {
            let units = search.n[y];
            let planned_open_year = years[y] + build.lead_time;
            let fixes_year = (planned_open_year..=end)
                .find(|&yr| risk_before[(yr - t0) as usize] > target)
                .unwrap_or(planned_open_year);
            Batch {
                id: ids[y].clone(),
                decision_year: years[y],
                planned_open_year,
                units,
                amount: build.unit * f64::from(units),
                cost: build.cost.map(|c| c * f64::from(units)),
                fixes_year,
            }
        })
        .collect();
    // From the decision year on: years before any decision can open (risk above the target
    // with the existing pipeline), and years the search could not bring within it.
    let unavoidable: Vec<i32> = (store.first_row..all_rows)
        .filter(|&row| {
            if model.year(row) < first_fixable_year {
                risk_before[row] > target
            } else {
                residual[row - store.first_row].is_some() && risk_after[row] > target
            }
        })
        .map(|row| model.year(row))
        .collect();
    ResourcePlan { town, resource: res, build, batches, unavoidable, risk_before, risk_after }
}

/// A number as TOML writes it (shortest form that reads back to the same `f64`).
fn toml_number(v: f64) -> String {
    if v == v.trunc() && v.abs() < 1e15 { format!("{}", v as i64) } else { format!("{v:?}") }
}

/// A distribution in the scenario format.
pub fn dist_toml(d: &Dist, clip: Option<[f64; 2]>, key: Option<&str>) -> String {
    let body = match *d {
        Dist::Fixed(v) => {
            if clip.is_none() && key.is_none() {
                return toml_number(v);
            }
            format!("value = {}", toml_number(v))
        }
        Dist::Normal { mean, sd } => format!("normal = {{ mean = {}, sd = {} }}", toml_number(mean), toml_number(sd)),
        Dist::Uniform { low, high } => format!("uniform = [{}, {}]", toml_number(low), toml_number(high)),
        Dist::Triangular { low, mode, high } => {
            format!("triangular = [{}, {}, {}]", toml_number(low), toml_number(mode), toml_number(high))
        }
        Dist::Lognormal { mu, sigma } => {
            format!("lognormal = {{ mu = {}, sigma = {} }}", toml_number(mu), toml_number(sigma))
        }
    };
    let mut out = format!("{{ {body}");
    if let Some([lo, hi]) = clip
        && lo.is_finite()
        && hi.is_finite()
    {
        let _ = write!(out, ", clip = [{}, {}]", toml_number(lo), toml_number(hi));
    }
    if let Some(k) = key {
        let _ = write!(out, ", key = \"{k}\"");
    }
    out.push_str(" }");
    out
}

fn toml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The fragment holding the recommended projects: `capsim run SCENARIO --with plan.toml`.
pub fn plan_toml(s: &Scenario, scenario_path: &str, p: &Plan) -> String {
    let set = &p.settings;
    let mut out = format!(
        "# capsim plan for {} ({scenario_path}, sha256 {})\n\
         # Keeps P(shortfall) ≤ {} in every year that decisions from {} can still fix; {} draws, seed {}.\n\
         # Add these projects to the scenario's pipeline with:\n\
         #   capsim run {scenario_path} --with plan.toml --draws {} --seed {}\n",
        s.name.en, s.sha256, set.risk, set.from, set.draws, set.seed, set.draws, set.seed
    );
    for item in &p.items {
        let town = &s.towns[item.town];
        let res = &s.resources[item.resource];
        let b = &item.build;
        for batch in &item.batches {
            // "2 × 30-class primary school" for a named unit; the amount ("1956 places") for
            // one without a name, rather than "1956 × 1 places".
            let (size_en, size_zh) = match &b.name {
                Some(n) => (
                    format!("{} × {}", batch.units, n.en),
                    format!("{} × {}", batch.units, n.zh.as_deref().unwrap_or(&n.en)),
                ),
                None => (
                    format!("{} {}", toml_number(batch.amount), res.unit.en),
                    format!("{}{}", toml_number(batch.amount), res.unit.zh.as_deref().unwrap_or(&res.unit.en)),
                ),
            };
            let _ = writeln!(out, "\n[capacity.{}.{}.projects.{}]", town.id, res.id, batch.id);
            let _ = writeln!(
                out,
                "name = {{ en = {}, zh = {} }}",
                toml_string(&format!("capsim plan: {size_en}, decided {}", batch.decision_year)),
                toml_string(&format!("capsim规划：{size_zh}（{}年决策）", batch.decision_year))
            );
            let _ = writeln!(out, "amount = {}", toml_number(batch.amount));
            let _ = writeln!(out, "year = {}", batch.planned_open_year);
            let _ = writeln!(out, "delay = {}", dist_toml(&b.delay.dist, b.delay.clip, b.delay.key.as_deref()));
            let _ = writeln!(
                out,
                "source = {}",
                toml_string(&format!(
                    "capsim plan: {} unit(s) of {} {}, decided {} (lead time {} years); risk ≤ {} from {}, {} draws, seed {}",
                    batch.units,
                    toml_number(b.unit),
                    res.unit.en,
                    batch.decision_year,
                    b.lead_time,
                    set.risk,
                    set.from,
                    set.draws,
                    set.seed
                ))
            );
        }
    }
    out
}

/// `plan.csv`: `town,resource,decision_year,planned_open_year,units,amount,cost,fixes_year,risk_before,risk_after`.
pub fn plan_csv(s: &Scenario, model: &Model, p: &Plan) -> String {
    let mut out = String::from(
        "town,resource,decision_year,planned_open_year,units,amount,cost,fixes_year,risk_before,risk_after\n",
    );
    let t0 = model.t0;
    for item in &p.items {
        let (town, res) = (&s.towns[item.town].id, &s.resources[item.resource].id);
        let mut rows: Vec<(i32, String)> = Vec::new();
        for b in &item.batches {
            let i = (b.fixes_year - t0) as usize;
            rows.push((
                b.fixes_year,
                format!(
                    "{town},{res},{},{},{},{},{},{},{:.4},{:.4}",
                    b.decision_year,
                    b.planned_open_year,
                    b.units,
                    toml_number(b.amount),
                    b.cost.map(toml_number).unwrap_or_default(),
                    b.fixes_year,
                    item.risk_before[i],
                    item.risk_after[i]
                ),
            ));
        }
        for &y in &item.unavoidable {
            let i = (y - t0) as usize;
            rows.push((y, format!("{town},{res},,,0,0,,{y},{:.4},{:.4}", item.risk_before[i], item.risk_after[i])));
        }
        rows.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
        for (_, r) in rows {
            out.push_str(&r);
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distributions_write_back_in_the_scenario_format() {
        assert_eq!(dist_toml(&Dist::Fixed(0.0), None, None), "0");
        assert_eq!(
            dist_toml(&Dist::Triangular { low: 0.0, mode: 1.0, high: 3.0 }, None, None),
            "{ triangular = [0, 1, 3] }"
        );
        assert_eq!(
            dist_toml(&Dist::Normal { mean: 1.5, sd: 0.25 }, Some([0.0, 4.0]), Some("k")),
            "{ normal = { mean = 1.5, sd = 0.25 }, clip = [0, 4], key = \"k\" }"
        );
        assert_eq!(toml_number(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(toml_string("a \"b\"\n"), "\"a \\\"b\\\"\\n\"");
    }
}
