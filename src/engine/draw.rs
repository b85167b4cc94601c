//! One draw: the cohort-component projection (MODEL §3), demand (§4) and capacity (§5) from
//! supplied values of every input. Nothing here allocates.

use super::fastmath;
use super::*;
use crate::scenario::schedule::{self, FERTILE_MIN, OMEGA, RogersCastro};

/// A non-finite number appeared in a draw: where, and which inputs feed it.
#[derive(Debug, Clone, PartialEq)]
pub struct NonFinite {
    /// What went non-finite (`population of town x in 2031`).
    pub what: String,
    /// Paths of the inputs that feed it, with the draw's values.
    pub inputs: Vec<(String, f64)>,
}

/// Runs one draw from `values` (every slot) and `shocks` (`[series][step]` standard normals),
/// leaving the results in `ws.out`.
pub fn simulate_draw(model: &Model, values: &[f64], shocks: &[f64], ws: &mut Workspace) -> Result<(), NonFinite> {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked just above).
            return unsafe { simulate_draw_avx2(model, values, shocks, ws) };
        }
    }
    simulate_draw_body(model, values, shocks, ws)
}

/// The draw compiled for AVX2: the cohort loops, sums and checks run four doubles to a vector
/// instead of two. The same operations as the portable build (AVX2 brings no fused
/// multiply–add, and no sum changes order), so the same results to the bit.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn simulate_draw_avx2(model: &Model, values: &[f64], shocks: &[f64], ws: &mut Workspace) -> Result<(), NonFinite> {
    simulate_draw_body(model, values, shocks, ws)
}

/// The draw itself; everything it calls per step is inlined, so it is compiled for the
/// instruction set of its caller.
#[inline(always)]
fn simulate_draw_body(model: &Model, values: &[f64], shocks: &[f64], ws: &mut Workspace) -> Result<(), NonFinite> {
    let steps = model.steps();
    let nt = model.towns.len();
    let v = |s: Slot| values[s as usize];

    // Schedules with a random parameter are recomputed; the others were computed once.
    if let Err(town) = draw_schedules(model, values, ws, true) {
        return Err(profile_non_finite(model, values, town));
    }
    for (i, t) in model.towns.iter().enumerate() {
        let scale = t.total.map_or(1.0, v);
        for sex in 0..2 {
            for x in 0..AGES {
                ws.pop[i][sex][x] = t.base[sex][x] * scale;
            }
        }
        ws.tfr[i] = v(t.tfr0);
    }

    record_row(model, ws, 0);

    let (delta, sigma_k) = (v(model.delta), v(model.sigma_k));
    let c = v(model.correlation);
    let (sqrt_c, sqrt_1c) = (libm::sqrt(c), libm::sqrt(1.0 - c));
    let mut k = 0.0;
    for step in 0..steps {
        let row = step + 1;
        // Survival over the step for each schedule: S = exp(−m⁰·e^{−k}); newborns survive
        // half a year: exp(−½·m_0(t)).
        let ek = libm::exp(-k);
        for j in 0..model.mortality.len() {
            // Both sexes in one call: one run of 2 × 101 ages keeps the vector blocks full.
            fastmath::survival(ws.m0[j].as_flattened(), ek, ws.surv[j].as_flattened_mut());
            // 1 − S once per schedule, not once per town that uses it.
            for (d, s) in ws.dead[j].as_flattened_mut().iter_mut().zip(ws.surv[j].as_flattened()) {
                *d = 1.0 - s;
            }
            for sex in 0..2 {
                ws.half0[j][sex] = fastmath::exp_nonpositive(-0.5 * ws.m0[j][sex][0] * ek);
            }
        }
        let z_city = shocks[SHOCK_MIGRATION_CITY * steps + step];
        for (i, t) in model.towns.iter().enumerate() {
            let surv = &ws.surv[t.mortality];
            let dead = &ws.dead[t.mortality];
            let half0 = ws.half0[t.mortality];
            let pop = &ws.pop[i];
            let next = &mut ws.next[i];
            let pop_start = ws.total[i];

            // Intended net migrants N(t) (MODEL §3): arrivals slow in a bad year, never reverse.
            let z_town = shocks[(SHOCK_MIGRATION_TOWN0 + i) * steps + step];
            let eta = sqrt_c * z_city + sqrt_1c * z_town;
            let net = v(t.rho[row]) * (v(t.k[row]) - pop_start) * (1.0 + v(t.sigma_m) * eta).max(0.0) + v(t.n_fix[row]);

            // Survivors, then migrants, floored at 0 (MODEL §8.3); deaths Σ p·(1 − s) of each sex
            // (female first), each sum in four accumulators over ages 4c + j. Both sexes in one
            // pass: the two chains of additions overlap each other and the survivors' work
            // instead of running one after the other.
            let h = &ws.h[i];
            let [next_f, next_m] = next;
            let mut acc = [[0.0; 4]; 2];
            for x in (0..SURVIVE_CHUNKED).step_by(4) {
                survive_chunk(&pop[FEMALE], &surv[FEMALE], &dead[FEMALE], &h[FEMALE], net, x, next_f, &mut acc[FEMALE]);
                survive_chunk(&pop[MALE], &surv[MALE], &dead[MALE], &h[MALE], net, x, next_m, &mut acc[MALE]);
            }
            let deaths_f =
                survive_rest(&pop[FEMALE], &surv[FEMALE], &dead[FEMALE], &h[FEMALE], net, next_f, &mut acc[FEMALE]);
            let deaths_m = survive_rest(&pop[MALE], &surv[MALE], &dead[MALE], &h[MALE], net, next_m, &mut acc[MALE]);
            let mut deaths = 0.0 + deaths_f + deaths_m;

            // Births with exposure ½(start + end) of women 15–49 (after the floor).
            let tfr = ws.tfr[i];
            let g = &ws.g[i];
            // Four accumulators: independent chains (fixed order, so deterministic).
            // Age 15 + j goes to accumulator j mod 4 (the three ages past the last full chunk to
            // accumulators 0–2).
            let mut acc = [0.0; 4];
            let fertile = FERTILE_MIN..FERTILE_MIN + FERTILE_AGES;
            let (start, end) = (&pop[FEMALE][fertile.clone()], &next[FEMALE][fertile]);
            let (gc, sc, ec) = (g.chunks_exact(4), start.chunks_exact(4), end.chunks_exact(4));
            let rest = gc.remainder().iter().zip(sc.remainder()).zip(ec.remainder());
            for ((g, s), e) in gc.zip(sc).zip(ec) {
                for j in 0..4 {
                    acc[j] += g[j] * (s[j] + e[j]);
                }
            }
            for (a, ((g, s), e)) in acc.iter_mut().zip(rest) {
                *a += g * (s + e);
            }
            let births = tfr * 0.5 * ((acc[0] + acc[1]) + (acc[2] + acc[3]));
            let srb = v(t.srb);
            let b_f = births * 100.0 / (100.0 + srb);
            let b_m = births * srb / (100.0 + srb);
            next[FEMALE][0] = (b_f * half0[FEMALE] + net * ws.h[i][FEMALE][0]).max(0.0);
            next[MALE][0] = (b_m * half0[MALE] + net * ws.h[i][MALE][0]).max(0.0);
            deaths += b_f * (1.0 - half0[FEMALE]) + b_m * (1.0 - half0[MALE]);

            let out = &mut ws.out;
            out.births[i * steps + step] = births;
            out.deaths[i * steps + step] = deaths;
            // Completed below, once the end-of-step total is known: realised migration is
            // Pop(t+1) − Pop(t) − births + deaths (MODEL §3).
            out.migration[i * steps + step] = -pop_start - births + deaths;
        }
        std::mem::swap(&mut ws.pop, &mut ws.next);

        // The next step's mortality index and TFRs, from this step's shocks.
        k += delta + sigma_k * shocks[SHOCK_MORTALITY * steps + step];
        let eps_f = shocks[SHOCK_FERTILITY * steps + step];
        for (i, t) in model.towns.iter().enumerate() {
            let tfr = ws.tfr[i];
            ws.tfr[i] = (tfr + v(t.phi) * (v(t.tfr_star) - tfr) + v(t.sigma_f) * eps_f).clamp(0.1, 4.0);
        }
        record_row(model, ws, row);
        for i in 0..nt {
            ws.out.migration[i * steps + step] += ws.total[i];
        }
    }

    let out = &mut ws.out;
    capacity(model, values, out, true);
    demand(model, values, ws);
    // "All": sums over the towns within the draw, each element from 0 in town order.
    let out = &mut ws.out;
    let (rows, ng, nr) = (model.rows, model.groups.len(), model.resources.len());
    sum_areas(&mut out.population, nt, rows);
    sum_areas(&mut out.groups, nt, rows * 2 * ng);
    sum_areas(&mut out.demand, nt, nr * rows);
    sum_areas(&mut out.capacity, nt, nr * rows);
    sum_areas(&mut out.births, nt, steps);
    sum_areas(&mut out.deaths, nt, steps);
    sum_areas(&mut out.migration, nt, steps);
    check_finite(model, values, &ws.out)
}

/// `x[nt·len..]`, the "all" block, becomes the sum of the `nt` town blocks of `len` before it,
/// each element summed from 0 in town order. A block of [`SUM_BLOCK`] elements at a time, summed
/// over all towns in registers and stored once (not read and written back once per town).
#[inline(always)]
fn sum_areas(x: &mut [f64], nt: usize, len: usize) {
    let (towns, all) = x.split_at_mut(nt * len);
    let all = &mut all[..len];
    let mut at = 0;
    for out in all.chunks_mut(SUM_BLOCK) {
        let n = out.len();
        let mut acc = [0.0; SUM_BLOCK];
        for town in towns.chunks_exact(len) {
            if n == SUM_BLOCK {
                for (a, t) in acc.iter_mut().zip(&town[at..at + SUM_BLOCK]) {
                    *a += t;
                }
            } else {
                for (a, t) in acc.iter_mut().zip(&town[at..at + n]) {
                    *a += t;
                }
            }
        }
        out.copy_from_slice(&acc[..n]);
        at += n;
    }
}

/// Elements of the "all" sums held in registers at once (four AVX2 vectors).
const SUM_BLOCK: usize = 16;

/// Population and age groups of one row, for every town. The sums over towns and the demand
/// are made once the projection is done, for all rows at once ([`demand`], [`sum_areas`]).
#[inline(always)]
fn record_row(model: &Model, ws: &mut Workspace, row: usize) {
    let rows = model.rows;
    let ng = model.groups.len();
    let extra = &model.groups[21..];
    for (i, p) in ws.pop.iter().enumerate() {
        // Straight into the town's `[sex][group]` block of this row.
        let gs = &mut ws.out.groups[(i * rows + row) * 2 * ng..(i * rows + row + 1) * 2 * ng];
        // Five-year groups as independent short sums (no loop-carried chain), the service
        // bands over their ranges; the town's total from the five-year groups.
        for (ps, gs) in p.iter().zip(gs.chunks_exact_mut(ng)) {
            for (g, c) in gs[..20].iter_mut().zip(ps.chunks_exact(5)) {
                *g = ((c[0] + c[1]) + (c[2] + c[3])) + c[4];
            }
            gs[20] = ps[OMEGA];
            for (g, band) in gs[21..].iter_mut().zip(extra) {
                *g = sum4(&ps[band.lo..=band.hi]);
            }
        }
        let total = sum4(&gs[..21]) + sum4(&gs[ng..ng + 21]);
        ws.total[i] = total;
        ws.out.population[i * rows + row] = total;
    }
}

/// Demand of every town, resource and row (MODEL §4), from the population and groups recorded.
/// Resources go in an order where each derived one follows its source.
#[inline(always)]
fn demand(model: &Model, values: &[f64], ws: &mut Workspace) {
    let rows = model.rows;
    let nr = model.resources.len();
    let ng = model.groups.len();
    let nb = model.bands.len();
    let v = |s: Slot| values[s as usize];
    let out = &mut ws.out;
    // Each band's population by row: all ages is the total, the others female + male of the
    // band's group.
    for (i, bands) in ws.band_rows.chunks_exact_mut(nb * rows).enumerate() {
        let (all_ages, bands) = bands.split_at_mut(rows);
        all_ages.copy_from_slice(&out.population[i * rows..(i + 1) * rows]);
        let groups = &out.groups[i * rows * 2 * ng..(i + 1) * rows * 2 * ng];
        for (band, &gi) in bands.chunks_exact_mut(rows).zip(&model.band_group[1..]) {
            for (b, g) in band.iter_mut().zip(groups.chunks_exact(2 * ng)) {
                *b = g[gi] + g[ng + gi];
            }
        }
    }
    for &r in &model.resource_order {
        let res = &model.resources[r];
        for (i, rule) in res.rules.iter().enumerate() {
            let at = (i * nr + r) * rows;
            match rule {
                RuleModel::PerCapita { band, rate, factors, per, per_1000, changes } => {
                    // Demand per resident of the band, recomputed only where the standard changes.
                    let mut c = 0.0;
                    for (row, coef) in ws.coef_rows.iter_mut().enumerate() {
                        if changes[row] {
                            let mut rt = 1.0;
                            for f in 0..*factors {
                                rt *= v(rate[f * rows + row]);
                            }
                            c = if *per_1000 { rt * v(per[row]) / 1000.0 } else { rt / v(per[row]) };
                        }
                        *coef = c;
                    }
                    let band = &ws.band_rows[(i * nb + band) * rows..(i * nb + band + 1) * rows];
                    for ((d, c), b) in out.demand[at..at + rows].iter_mut().zip(&ws.coef_rows).zip(band) {
                        *d = c * b;
                    }
                }
                RuleModel::AdminUnits { from_row } => {
                    let streets = &model.towns[i].streets;
                    for (row, d) in out.demand[at..at + rows].iter_mut().enumerate() {
                        *d = if row >= *from_row { streets[row] } else { 0.0 };
                    }
                }
                RuleModel::CoverageShare { share, from_row } => {
                    let streets = &model.towns[i].streets;
                    for (row, d) in out.demand[at..at + rows].iter_mut().enumerate() {
                        *d = if row >= *from_row { ceil_units(v(*share) * streets[row]) } else { 0.0 };
                    }
                }
                RuleModel::FixedMin { value, from_row } => {
                    for (row, d) in out.demand[at..at + rows].iter_mut().enumerate() {
                        *d = if row >= *from_row { v(*value) } else { 0.0 };
                    }
                }
                RuleModel::Derived { of, per } => {
                    // The source is another resource of the same town (validation rules out
                    // cycles, so never this one): copied out to borrow the row mutably.
                    let src = (i * nr + of) * rows;
                    ws.coef_rows.copy_from_slice(&out.demand[src..src + rows]);
                    for ((d, s), p) in out.demand[at..at + rows].iter_mut().zip(&ws.coef_rows).zip(per) {
                        *d = s / v(*p);
                    }
                }
            }
            if res.ceil {
                for d in &mut out.demand[at..at + rows] {
                    *d = ceil_units(*d);
                }
            }
        }
    }
}

/// Computes the schedules of a draw: all of them (`only_random = false`, once per workspace) or
/// only those with a random parameter (every draw). Fails with the index of the first town
/// whose Rogers–Castro migrant profile does not sum to a positive finite number at `values`
/// (its profile is then all zero; validation rules this out at the central values only).
pub(crate) fn draw_schedules(
    model: &Model,
    values: &[f64],
    ws: &mut Workspace,
    only_random: bool,
) -> Result<(), usize> {
    let mut failed = None;
    let v = |s: Slot| values[s as usize];
    for (j, m) in model.mortality.iter().enumerate() {
        if only_random && !m.random {
            continue;
        }
        for sex in 0..2 {
            match &m.sexes[sex] {
                SexMortalityModel::Gm { a, b, c, infant, infant_is_probability } => {
                    let m0 = if *infant_is_probability {
                        schedule::infant_rate_from_probability(v(*infant))
                    } else {
                        v(*infant)
                    };
                    ws.m0[j][sex] = schedule::gompertz_makeham(v(*a), v(*b), v(*c), m0);
                }
                SexMortalityModel::Table(t) => ws.m0[j][sex] = **t,
            }
        }
    }
    for (i, t) in model.towns.iter().enumerate() {
        if !only_random || t.fertility_random {
            ws.g[i] = match (t.fertility_same_as, &t.fertility) {
                (Some(j), _) => ws.g[j],
                (None, FertilityModel::Gamma { mean_age, sd_age }) => {
                    schedule::gamma_fertility(v(*mean_age), v(*sd_age))
                }
                (None, FertilityModel::Table(g)) => **g,
            };
        }
        if !only_random || t.profile_random {
            if let Some(j) = t.profile_same_as {
                ws.h[i] = ws.h[j];
                continue;
            }
            let h = match &t.profile {
                ProfileModel::RogersCastro(p) => schedule::rogers_castro(&RogersCastro {
                    a1: v(p[0]),
                    alpha1: v(p[1]),
                    a2: v(p[2]),
                    alpha2: v(p[3]),
                    mu2: v(p[4]),
                    lambda2: v(p[5]),
                    c0: v(p[6]),
                })
                .unwrap_or_else(|| {
                    failed.get_or_insert(i);
                    [0.0; AGES]
                }),
                ProfileModel::Table(h) => **h,
            };
            let fs = v(t.female_share);
            for x in 0..AGES {
                ws.h[i][FEMALE][x] = h[x] * fs;
                ws.h[i][MALE][x] = h[x] * (1.0 - fs);
            }
        }
    }
    failed.map_or(Ok(()), Err)
}

/// Every schedule and capacity at `values` (once per workspace; a draw recomputes only those
/// with a random input, and leaves the others as they are in `ws.out`).
pub(crate) fn fixed_schedules(model: &Model, values: &[f64], ws: &mut Workspace) {
    // At the central values, which validation has checked give every profile a positive
    // finite sum; a random profile is recomputed (and checked) in every draw anyway.
    let _ = draw_schedules(model, values, ws, false);
    capacity(model, values, &mut ws.out, false);
}

/// A sum with four accumulators: a fixed order (so deterministic), and four times shorter
/// dependency chains than a plain left-to-right sum.
#[inline(always)]
pub fn sum4(x: &[f64]) -> f64 {
    let mut acc = [0.0; 4];
    let chunks = x.chunks_exact(4);
    let rest = chunks.remainder();
    for c in chunks {
        acc[0] += c[0];
        acc[1] += c[1];
        acc[2] += c[2];
        acc[3] += c[3];
    }
    let mut tail = 0.0;
    for v in rest {
        tail += v;
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
}

/// Ages below this go through [`survive_chunk`], four at a time; the rest through
/// [`survive_rest`].
const SURVIVE_CHUNKED: usize = 96;

/// Ages `x … x+3` (`x` a multiple of 4 below [`SURVIVE_CHUNKED`]): the survivors `p·s` aged one
/// year on plus migrants `net·h`, floored at 0 (a plain comparison, not `f64::max`: values are
/// finite, and it vectorises), and the deaths `p·(1 − s)` into accumulators `j` (`d` = 1 − s).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn survive_chunk(
    p: &[f64; AGES],
    s: &[f64; AGES],
    d: &[f64; AGES],
    h: &[f64; AGES],
    net: f64,
    x: usize,
    n: &mut [f64; AGES],
    acc: &mut [f64; 4],
) {
    for j in 0..4 {
        acc[j] += p[x + j] * d[x + j];
        let q = p[x + j] * s[x + j] + net * h[x + j + 1];
        n[x + j + 1] = if q > 0.0 { q } else { 0.0 };
    }
}

/// Ages from [`SURVIVE_CHUNKED`] on, after [`survive_chunk`]: the last survivors (the open age
/// group keeps its own survivors), and the deaths `Σ p·(1 − s)` of all ages: accumulator j
/// holds ages 4c + j, age 100 comes last on its own.
#[inline(always)]
fn survive_rest(
    p: &[f64; AGES],
    s: &[f64; AGES],
    d: &[f64; AGES],
    h: &[f64; AGES],
    net: f64,
    n: &mut [f64; AGES],
    acc: &mut [f64; 4],
) -> f64 {
    const { assert!(SURVIVE_CHUNKED.is_multiple_of(4) && SURVIVE_CHUNKED + 5 == AGES) };
    for x in SURVIVE_CHUNKED..OMEGA - 1 {
        let q = p[x] * s[x] + net * h[x + 1];
        n[x + 1] = if q > 0.0 { q } else { 0.0 };
    }
    let q = (p[OMEGA - 1] * s[OMEGA - 1] + p[OMEGA] * s[OMEGA]) + net * h[OMEGA];
    n[OMEGA] = if q > 0.0 { q } else { 0.0 };
    for j in 0..4 {
        let x = SURVIVE_CHUNKED + j;
        acc[j] += p[x] * d[x];
    }
    let tail = 0.0 + p[OMEGA] * d[OMEGA];
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
}

/// Whole units: `⌈v·(1 − 10⁻⁹)⌉` (MODEL §4; the tolerance keeps summation-order noise from
/// adding a unit).
#[inline(always)]
pub fn ceil_units(v: f64) -> f64 {
    ceil(v * (1.0 - 1e-9))
}

/// `⌈x⌉` with a zero always positive (the value of `libm::ceil` but for the sign of a zero: a
/// demand of −0.3 rounds to 0, not −0). Inline, so that in the AVX2 build of the draw the loops
/// over rows round four values at a time (`vroundpd`); the ceiling is exact, so every build gives
/// the same bits.
#[inline(always)]
fn ceil(x: f64) -> f64 {
    x.ceil() + 0.0
}

/// The opening row of a project in this draw: planned row + delay rounded half up, floored at
/// 0 (MODEL §5, §8.5). `round` rather than `⌊delay + ½⌋`, whose addition rounds the largest
/// double below ½ up to 1.
pub fn opening_row(planned_row: i64, delay: f64) -> i64 {
    let d = libm::round(delay).max(0.0);
    planned_row.saturating_add(d.min(1e6) as i64)
}

/// Capacity of every town, resource and row (MODEL §5): all of them (`only_random = false`, once
/// per workspace) or only those with a random input (every draw).
#[inline(always)]
fn capacity(model: &Model, values: &[f64], out: &mut DrawOutput, only_random: bool) {
    let rows = model.rows;
    let nt = model.towns.len();
    let v = |s: Slot| values[s as usize];
    // One town × resource per block of rows, in the order of `model.capacity`.
    for (cap, c) in out.capacity[..nt * model.resources.len() * rows].chunks_exact_mut(rows).zip(&model.capacity) {
        if only_random && !c.random {
            continue;
        }
        cap.fill(v(c.base));
        for p in &c.projects {
            let open = opening_row(p.row, v(p.delay)).clamp(0, rows as i64) as usize;
            let amount = p.sign * v(p.amount);
            for x in &mut cap[open..] {
                *x += amount;
            }
        }
    }
}

/// Results at or beyond this magnitude count as non-finite.
const LIMIT: f64 = 1e15;

/// NaN, or out of range (at or beyond [`LIMIT`], infinities included).
#[inline(always)]
fn out_of_range(v: f64) -> bool {
    v.is_nan() | (v.abs() >= LIMIT)
}

/// Stops the run if anything went NaN, infinite or beyond 1e15, naming the inputs that feed it.
#[inline(always)]
fn check_finite(model: &Model, values: &[f64], out: &DrawOutput) -> Result<(), NonFinite> {
    // Independent comparisons OR-ed together vectorise; a running sum would be one long chain.
    // Beyond 1e15 a number is as wrong as an infinite one (and would overflow the exact sums).
    let all_finite = |x: &[f64]| {
        let mut bad = [false; 4];
        let chunks = x.chunks_exact(4);
        for v in chunks.remainder() {
            bad[0] |= out_of_range(*v);
        }
        for c in chunks {
            for j in 0..4 {
                bad[j] |= out_of_range(c[j]);
            }
        }
        !(bad[0] | bad[1] | bad[2] | bad[3])
    };
    if all_finite(&out.population)
        && all_finite(&out.demand)
        && all_finite(&out.capacity)
        && all_finite(&out.migration)
        && all_finite(&out.births)
    {
        return Ok(());
    }
    Err(locate_non_finite(model, values, out))
}

/// The paths of `slots` with their values in this draw (repeats next to each other once).
fn named(model: &Model, values: &[f64], slots: &[Slot]) -> Vec<(String, f64)> {
    let mut v: Vec<(String, f64)> =
        slots.iter().map(|s| (model.slot_paths[*s as usize].clone(), values[*s as usize])).collect();
    v.dedup();
    v
}

/// The Rogers–Castro migrant profile of town `town` overflowed or did not sum to a positive
/// number in this draw: its migrants cannot be placed by age (off the hot path).
#[cold]
#[inline(never)]
fn profile_non_finite(model: &Model, values: &[f64], town: usize) -> NonFinite {
    let t = &model.towns[town];
    let slots = match &t.profile {
        ProfileModel::RogersCastro(p) => p.to_vec(),
        ProfileModel::Table(_) => Vec::new(),
    };
    NonFinite {
        what: format!("the migrant age profile (Rogers–Castro schedule) of town {}", t.id),
        inputs: named(model, values, &slots),
    }
}

/// Which result went out of range, and the inputs that feed it (off the hot path).
#[cold]
#[inline(never)]
fn locate_non_finite(model: &Model, values: &[f64], out: &DrawOutput) -> NonFinite {
    let rows = model.rows;
    let nr = model.resources.len();
    let named = |slots: &[Slot]| named(model, values, slots);
    // The inputs behind a town's population in a row (and its births and migrants).
    let population_slots = |t: &TownModel, row: usize| -> Vec<Slot> {
        let mut slots = vec![t.tfr0, t.tfr_star, t.srb, t.sigma_m, t.female_share, model.delta];
        slots.extend(t.total);
        slots.push(t.k[row.max(1)]);
        slots.push(t.rho[row.max(1)]);
        slots.push(t.n_fix[row.max(1)]);
        slots
    };
    for (i, t) in model.towns.iter().enumerate() {
        for row in 0..rows {
            if out_of_range(out.population[i * rows + row]) {
                return NonFinite {
                    what: format!("the population of town {} in {}", t.id, model.year(row)),
                    inputs: named(&population_slots(t, row)),
                };
            }
        }
        let steps = model.steps();
        for step in 0..steps {
            for (flow, values) in [("births", &out.births), ("migration", &out.migration)] {
                if out_of_range(values[i * steps + step]) {
                    return NonFinite {
                        what: format!("the {flow} of town {} in {}", t.id, model.year(step + 1)),
                        inputs: named(&population_slots(t, step + 1)),
                    };
                }
            }
        }
        for r in 0..nr {
            for row in 0..rows {
                let d = out.demand[(i * nr + r) * rows + row];
                let c = out.capacity[(i * nr + r) * rows + row];
                if out_of_range(d) {
                    let slots: Vec<Slot> = match &model.resources[r].rules[i] {
                        RuleModel::PerCapita { rate, per, .. } => rate.iter().chain(per.iter()).copied().collect(),
                        RuleModel::CoverageShare { share, .. } => vec![*share],
                        RuleModel::FixedMin { value, .. } => vec![*value],
                        RuleModel::Derived { per, .. } => per.clone(),
                        RuleModel::AdminUnits { .. } => vec![],
                    };
                    return NonFinite {
                        what: format!(
                            "the demand for {} in town {} in {}",
                            model.resources[r].id,
                            t.id,
                            model.year(row)
                        ),
                        inputs: named(&slots),
                    };
                }
                if out_of_range(c) {
                    let cm = &model.capacity[i * nr + r];
                    let mut slots = vec![cm.base];
                    for p in &cm.projects {
                        slots.push(p.amount);
                    }
                    return NonFinite {
                        what: format!(
                            "the capacity of {} in town {} in {}",
                            model.resources[r].id,
                            t.id,
                            model.year(row)
                        ),
                        inputs: named(&slots),
                    };
                }
            }
        }
    }
    // Every town is in range, so the sum over towns is what overflowed: name the row and what
    // every town's population depends on (the sums of demand and capacity follow from them).
    let all = model.towns.len();
    let series = [("population", &out.population, 1), ("demand", &out.demand, nr), ("capacity", &out.capacity, nr)];
    for (what, values, per) in series {
        for k in 0..per * rows {
            if out_of_range(values[all * per * rows + k]) {
                let row = k % rows;
                let slots: Vec<Slot> = model.towns.iter().flat_map(|t| population_slots(t, row)).collect();
                let of = if per == 1 { String::new() } else { format!(" for {}", model.resources[k / rows].id) };
                return NonFinite {
                    what: format!("the {what}{of} of all towns together in {}", model.year(row)),
                    inputs: named(&slots),
                };
            }
        }
    }
    NonFinite { what: "a result".into(), inputs: vec![] }
}

#[cfg(test)]
mod fast_ceil_tests {
    use super::*;

    #[test]
    fn matches_libm_ceil() {
        for x in [0.0, 0.5, 1.0, 1.000_000_1, 2.999_999_999, 3.0, 1e15 + 0.5, 4.6e15, 1e300, -0.5, -1.5, -3.0, 7.0e-300]
        {
            assert_eq!(ceil(x), libm::ceil(x) + 0.0, "{x}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bits(out: &DrawOutput) -> Vec<u64> {
        [&out.population, &out.groups, &out.demand, &out.capacity, &out.births, &out.deaths, &out.migration]
            .iter()
            .flat_map(|v| v.iter().map(|x| x.to_bits()))
            .collect()
    }

    /// A value out of range that is not a town's population, demand or capacity is still
    /// located and traced to inputs: a town's births or migrants, or a sum over all towns.
    #[test]
    fn out_of_range_flows_and_sums_name_their_inputs() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/example.toml");
        let model = compile(&crate::scenario::load(&path, &[]).unwrap());
        let values = model.central_values();
        let mut ws = model.workspace();
        simulate_draw(&model, &values, &vec![0.0; model.shock_len()], &mut ws).unwrap();
        let (steps, rows, all) = (model.steps(), model.rows, model.towns.len());
        let town = &model.towns[1].id;
        let check = |out: &DrawOutput, what: &str, input: &str| {
            let e = locate_non_finite(&model, &values, out);
            assert_eq!(e.what, what);
            assert!(e.inputs.iter().any(|(p, _)| p.contains(input)), "{what}: {:?}", e.inputs);
        };
        let mut out = ws.out.clone();
        out.births[steps + 2] = f64::NAN;
        check(&out, &format!("the births of town {town} in {}", model.year(3)), &format!("towns.{town}."));
        let mut out = ws.out.clone();
        out.migration[steps] = 2e15;
        check(&out, &format!("the migration of town {town} in {}", model.year(1)), &format!("towns.{town}."));
        let mut out = ws.out.clone();
        out.population[all * rows + 4] = 2e15;
        let first = &model.towns[0].id;
        check(&out, &format!("the population of all towns together in {}", model.year(4)), &format!("towns.{first}."));
        let mut out = ws.out.clone();
        let nr = model.resources.len();
        out.demand[all * nr * rows + rows + 2] = f64::INFINITY;
        let what = format!("the demand for {} of all towns together in {}", model.resources[1].id, model.year(2));
        check(&out, &what, &format!("towns.{town}."));
    }

    /// Shards may run on machines with and without AVX2: the dispatched draw (AVX2 where the
    /// CPU has it) and the portable build must agree to the bit on every shipped scenario.
    #[test]
    fn avx2_and_portable_draws_agree_to_the_bit() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .collect();
        files.sort();
        assert!(files.len() >= 2);
        for path in files {
            let model = compile(&crate::scenario::load(&path, &[]).unwrap());
            let (mut values, mut shocks) = (model.central_values(), vec![0.0; model.shock_len()]);
            let (mut a, mut b) = (model.workspace(), model.workspace());
            for draw in 0..100 {
                sample_draw(&model, 5, draw, &mut values, &mut shocks);
                simulate_draw(&model, &values, &shocks, &mut a).unwrap();
                simulate_draw_body(&model, &values, &shocks, &mut b).unwrap();
                assert!(bits(&a.out) == bits(&b.out), "{}: draw {draw} differs", path.display());
            }
        }
    }
}
