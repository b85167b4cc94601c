//! Invariants over random valid scenarios (proptest): no negative or non-finite population, the
//! components identity with realised migration equal to the intended flow when no floor binds,
//! "all" equal to the sum of the towns within each draw, and the same aggregate for any thread
//! count or split of the draws, and block aggregation equal to one-by-one for any finite values.

use proptest::prelude::*;

use capsim::engine;
use capsim::scenario;
use capsim::stats::Aggregate;

#[derive(Debug, Clone)]
struct Town {
    pop: f64,
    k_factor: f64,
    rho: f64,
    sigma_m: f64,
    tfr: f64,
    young_share: f64,
}

fn town_strategy() -> impl Strategy<Value = Town> {
    (1e3..2e6f64, 0.3..3.0f64, 0.0..0.6f64, 0.0..1.5f64, 0.3..3.0f64, 0.05..0.6f64).prop_map(
        |(pop, k_factor, rho, sigma_m, tfr, young_share)| Town { pop, k_factor, rho, sigma_m, tfr, young_share },
    )
}

fn scenario_text(towns: &[Town], delta: f64, sigma_k: f64, sigma_f: f64, c: f64, years: i32) -> String {
    let mut s = format!(
        r#"
name = "prop"
[settings]
base_year = 2020
end_year = {end}
[demography.mortality]
delta = {{ uniform = [{d0}, {d1}] }}
sigma_k = {sigma_k}
female = {{ a = 0.0002, c = 0.1, infant_prob = 0.003, e0 = 85 }}
male = {{ a = 0.0003, c = 0.1, infant_prob = 0.003, e0 = 80 }}
[demography.fertility]
tfr_star = {{ uniform = [0.5, 2.5] }}
phi = 0.3
sigma_f = {sigma_f}
srb = 107
schedule = {{ mean_age = {{ triangular = [27, 30, 33] }}, sd_age = 5.5 }}
[demography.migration]
c = {c}
female_share = 0.5
profile = {{ a1 = 0.02, alpha1 = 0.1, a2 = 0.06, alpha2 = 0.1, mu2 = 26, lambda2 = 0.4, c0 = 0.001 }}
[resources.beds]
name = "beds"
unit = "beds"
kind = "per_capita"
per_1000 = {{ uniform = [4, 8] }}
[resources.schools]
name = "schools"
unit = "schools"
kind = "per_capita"
ages = [6, 10]
per = 1350
round = "ceil"
"#,
        end = 2020 + years,
        d0 = delta * 0.5,
        d1 = delta * 1.5 + 1e-6,
    );
    for (i, t) in towns.iter().enumerate() {
        let young = t.young_share;
        s.push_str(&format!(
            r#"
[towns.t{i}]
name = "T{i}"
streets = {streets}
[towns.t{i}.population]
total = {{ uniform = [{lo}, {hi}] }}
age_groups = [[0, 19], [20, 59], [60, 100]]
share = [{young}, {mid}, 0.1]
sex_ratio = 104
[towns.t{i}.fertility]
tfr0 = {tfr}
[towns.t{i}.migration]
k = {{ normal = {{ mean = {k}, sd = {ksd} }}, key = "policy" }}
rho = {rho}
sigma_m = {sigma_m}
[capacity.t{i}.beds]
base = {beds}
projects = {{ p = {{ amount = 300, year = {pyear}, delay = {{ triangular = [0, 1, 3] }} }} }}
"#,
            streets = 1 + i,
            lo = t.pop * 0.9,
            hi = t.pop * 1.1,
            mid = 0.9 - young,
            tfr = t.tfr,
            k = t.pop * t.k_factor,
            ksd = t.pop * 0.05,
            rho = t.rho,
            sigma_m = t.sigma_m,
            beds = (t.pop * 0.005).round(),
            pyear = (2020 + years).min(2024),
        ));
    }
    s
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn projections_stay_finite_non_negative_and_add_up(
        towns in prop::collection::vec(town_strategy(), 1..4),
        delta in 0.0..0.04f64,
        sigma_k in 0.0..0.1f64,
        sigma_f in 0.0..0.3f64,
        c in 0.0..1.0f64,
        years in 1..20i32,
        seed in any::<u64>(),
    ) {
        let text = scenario_text(&towns, delta, sigma_k, sigma_f, c, years);
        let s = scenario::from_text("prop.toml", &text).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let m = engine::compile(&s);
        let mut ws = m.workspace();
        let mut values = m.central_values();
        let mut shocks = vec![0.0; m.shock_len()];
        let (nt, rows, steps) = (m.towns.len(), m.rows, m.steps());
        for draw in 0..6 {
            engine::sample_draw(&m, seed, draw, &mut values, &mut shocks);
            engine::simulate_draw(&m, &values, &shocks, &mut ws).map_err(|e| TestCaseError::fail(e.what))?;
            let out = &ws.out;
            prop_assert!(out.groups.iter().all(|v| v.is_finite() && *v >= 0.0));
            for a in 0..=nt {
                for step in 0..steps {
                    let i = a * steps + step;
                    let change = out.population[a * rows + step + 1] - out.population[a * rows + step];
                    let comp = out.births[i] - out.deaths[i] + out.migration[i];
                    let scale = out.population[a * rows + step].max(1.0);
                    prop_assert!((change - comp).abs() <= 1e-9 * scale, "components identity");
                    prop_assert!(out.births[i] >= 0.0 && out.deaths[i] >= 0.0);
                }
            }
            // "all" is the within-draw sum of the towns.
            for row in 0..rows {
                let sum: f64 = (0..nt).map(|a| out.population[a * rows + row]).sum();
                prop_assert!((out.population[nt * rows + row] - sum).abs() <= 1e-9 * sum.max(1.0));
            }
        }
    }

    #[test]
    fn aggregates_do_not_depend_on_threads_or_splits(
        towns in prop::collection::vec(town_strategy(), 1..3),
        split in 1u64..39,
        seed in any::<u64>(),
    ) {
        let text = scenario_text(&towns, 0.015, 0.02, 0.05, 0.5, 6);
        let s = scenario::from_text("prop.toml", &text).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let m = engine::compile(&s);
        let one = capsim::runner::run(&m, seed, 0..40, 1, &|_| {}).unwrap();
        let two = capsim::runner::run(&m, seed, 0..40, 2, &|_| {}).unwrap();
        // Compared as partial results are written: to the byte.
        prop_assert!(bytes(&one) == bytes(&two), "1 vs 2 threads");
        let mut parts: Aggregate = capsim::runner::run(&m, seed, 0..split, 2, &|_| {}).unwrap();
        parts.merge(&capsim::runner::run(&m, seed, split..40, 1, &|_| {}).unwrap());
        prop_assert!(bytes(&parts) == bytes(&one), "split at {}", split);
        // mean(all) = Σ mean(towns) up to the fixed-point resolution of the exact sums.
        let rows = m.rows;
        let nt = m.towns.len();
        for row in 0..rows {
            let sum: f64 = (0..nt).map(|a| one.population[a * rows + row].mean()).sum();
            prop_assert!((one.population[nt * rows + row].mean() - sum).abs() < 1e-5 * nt as f64);
        }
    }
}

fn bytes(a: &Aggregate) -> Vec<u8> {
    postcard::to_stdvec(a).unwrap()
}

/// Finite values a draw's output can hold, weighted towards the edges of the aggregation's
/// paths: zeros of both signs, subnormals, the 10⁹ bound of the fast exact sum, the 1,024
/// offset of whole-number buckets, the 10¹⁵ limit of a finite result.
fn edge_value() -> impl Strategy<Value = f64> {
    prop_oneof![
        3 => -1e15..1e15f64,
        2 => -2e3..2e3f64,
        1 => prop::sample::select(vec![
            0.0, -0.0, 5e-324, -5e-324, f64::MIN_POSITIVE, 1e9, -1e9, 999_999_999.999_999_9, 1023.5, 1024.0,
            -1024.0, 1e15, -1e15, 0.5, 1.0,
        ]),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// The runner's path (a draw's values encoded into a block, blocks of any size added to an
    /// aggregate, or to the shared aggregate in any order) gives byte for byte what adding each
    /// draw on its own gives, whatever finite values the draws hold. Series the layout calls
    /// fixed — the model's, and `constants` with an edge value in every draw — are taken once
    /// a block; the draws' other values go only into series that may vary.
    #[test]
    fn blocks_equal_one_by_one_for_any_finite_values(
        draws in prop::collection::vec(
            prop::collection::vec((0usize..4, 0usize..24, edge_value()), 0..24), 1..40),
        constants in prop::collection::vec((0usize..4, 0usize..24, edge_value()), 0..6),
        copy_pairs in prop::collection::vec((0usize..24, 0usize..24), 0..4),
        lanes in 1usize..20,
        seed in any::<u64>(),
    ) {
        let text = scenario_text(&[Town { pop: 1e5, k_factor: 1.2, rho: 0.2, sigma_m: 0.3, tfr: 1.0, young_share: 0.2 }],
            0.015, 0.02, 0.05, 0.5, 3);
        let s = scenario::from_text("prop.toml", &text).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let m = engine::compile(&s);
        // Series flags in the block's order; the kinds overridden here start at these offsets.
        let shape = Aggregate::new(&m);
        let (p, g, b) = (shape.population.len(), shape.groups.len(), shape.births.len());
        let (demand, capacity) = (&shape.demand, &shape.capacity);
        // The model's fixed series (its copies are not used: the test picks its own).
        let (mut fixed, _, _) = crate::engine::layout_parts(&m);
        let start = |kind: usize| match kind {
            0 => (p, g),
            1 => (p + g + 3 * b, demand.len()),
            2 => (p + g + 3 * b + demand.len(), capacity.len()),
            _ => (p + g + 2 * b, b),
        };
        for &(kind, i, _) in &constants {
            let (at, n) = start(kind);
            fixed[at + i % n] = true;
        }
        // Capacities equal to another in every draw: neither fixed, nor both copy and source.
        let c0 = p + g + 3 * b + demand.len();
        let mut copies: Vec<(usize, usize)> = Vec::new();
        for &(i, j) in &copy_pairs {
            let (i, j) = (c0 + i % capacity.len(), c0 + j % capacity.len());
            let taken = copies.iter().any(|&(x, y)| [x, y].contains(&i) || x == j);
            if i != j && !fixed[i] && !fixed[j] && !taken {
                copies.push((i, j));
            }
        }
        let layout = capsim::stats::Layout::new(&m, &fixed, &copies);
        let (mut values, mut shocks, mut ws) = (m.central_values(), vec![0.0; m.shock_len()], m.workspace());
        let mut one_by_one = Aggregate::new(&m);
        let mut blocked = Aggregate::new(&m);
        let mut block = capsim::stats::Block::with_layout(&m, layout.clone(), lanes);
        let shared = capsim::stats::SharedAggregate::with_layout(&m, layout.clone());
        let mut kept: Vec<capsim::stats::Block> = Vec::new();
        for (draw, overrides) in draws.iter().enumerate() {
            engine::sample_draw(&m, seed, draw as u64, &mut values, &mut shocks);
            engine::simulate_draw(&m, &values, &shocks, &mut ws).map_err(|e| TestCaseError::fail(e.what))?;
            let mut o = ws.out.clone();
            let constant = constants.iter().map(|c| (c, true));
            for (&(kind, i, v), is_constant) in overrides.iter().map(|c| (c, false)).chain(constant) {
                let (at, n) = start(kind);
                let copy = copies.iter().any(|&(x, _)| x == at + i % n);
                if (fixed[at + i % n] || copy) && !is_constant {
                    continue;
                }
                let series = match kind {
                    0 => &mut o.groups,
                    1 => &mut o.demand,
                    2 => &mut o.capacity,
                    _ => &mut o.migration,
                };
                series[i % n] = v;
            }
            for &(i, j) in &copies {
                o.capacity[i - c0] = o.capacity[j - c0];
            }
            one_by_one.add(&m, &o);
            block.push(&o);
            prop_assert!(block.fixed_held());
            if block.is_full() {
                blocked.add_block(&mut block).unwrap();
            }
            // The same draws in blocks kept for the shared aggregate.
            if kept.last().is_none_or(|b| b.is_full()) {
                kept.push(capsim::stats::Block::with_layout(&m, layout.clone(), lanes));
            }
            kept.last_mut().unwrap().push(&o);
        }
        blocked.add_block(&mut block).unwrap();
        // Last blocks first, each starting at another part.
        for (i, b) in kept.iter_mut().enumerate().rev() {
            shared.add_block(b, i % shared.parts()).unwrap();
        }
        let want = bytes(&one_by_one);
        prop_assert!(bytes(&blocked) == want, "blocks of {} differ from one by one", lanes);
        prop_assert!(bytes(&shared.into_aggregate()) == want, "the shared aggregate differs from one by one");
    }
}

/// With σ_m = 0 and K above the population, the floor never binds and realised migration is
/// exactly the intended ρ (K − Pop).
#[test]
fn realised_migration_equals_intended_when_no_floor_binds() {
    let town = Town { pop: 50_000.0, k_factor: 3.0, rho: 0.2, sigma_m: 0.0, tfr: 1.2, young_share: 0.3 };
    let text = scenario_text(&[town], 0.01, 0.0, 0.0, 0.5, 10).replace(", sd = 2500 }, key", ", sd = 0 }, key");
    let s = scenario::from_text("prop.toml", &text).unwrap();
    let m = engine::compile(&s);
    let out = capsim::runner::central(&m).unwrap();
    let k = 150_000.0;
    for step in 0..m.steps() {
        let intended = 0.2 * (k - out.population[step]);
        assert!((out.migration[step] - intended).abs() < 1e-6, "step {step}: {} vs {intended}", out.migration[step]);
    }
}

/// Runs long enough for several blocks per worker (the proptest above stays within one): the
/// block size depends on the draws and the workers, the result on neither.
#[test]
fn runs_of_many_blocks_do_not_depend_on_threads_or_splits() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/shanghai-new-towns.toml");
    let m = engine::compile(&scenario::load(&path, &[]).unwrap());
    let run = |range: std::ops::Range<u64>, threads| capsim::runner::run(&m, 7, range, threads, &|_| {}).unwrap();
    let one = bytes(&run(0..2_600, 1));
    for threads in [2, 3] {
        assert!(bytes(&run(0..2_600, threads)) == one, "1 vs {threads} threads");
    }
    let mut parts = run(0..1_100, 2);
    parts.merge(&run(1_100..2_600, 3));
    assert!(bytes(&parts) == one, "split at 1,100");
}
