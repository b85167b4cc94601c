//! The engine against hand-computed cases and independent computations (MODEL §3–§6).

use capsim::engine::{self, DrawOutput, Model, simulate_draw};
use capsim::scenario::{self, Scenario};

/// A one-town scenario with constant hazards `m` (table), a chosen population, no migration
/// unless asked, and a fertility table with all weight at age 30.
fn tiny(extra_town: &str, pop: &str, mort: &str, fert: &str, resources: &str) -> String {
    format!(
        r#"
name = "tiny"
[settings]
base_year = 2020
end_year = 2023
draws = 10
seed = 1
[demography.mortality]
delta = 0
{mort}
[demography.fertility]
tfr0 = 1.5
srb = 105
{fert}
[demography.migration]
rho = 0
k = 0
profile = {{ table = [{profile}] }}
[towns.a]
name = "A"
streets = 7
{extra_town}
[towns.a.population]
{pop}
{resources}
"#,
        profile = one_hot(101, 25)
    )
}

fn one_hot(n: usize, at: usize) -> String {
    (0..n).map(|i| if i == at { "1" } else { "0" }).collect::<Vec<_>>().join(", ")
}

/// A constant hazard at every age; the open group 100+ needs a positive hazard, so a zero
/// table gets 1 there (nobody in these tests reaches 100).
fn mort_table(m: f64) -> String {
    let mut v = vec![format!("{m}"); 101];
    if m == 0.0 {
        v[100] = "1".into();
    }
    let t = v.join(", ");
    format!("female = {{ table = [{t}] }}\nmale = {{ table = [{t}] }}")
}

fn fert_at_30() -> String {
    let mut g = vec!["0"; 35];
    g[30 - 15] = "1";
    format!("schedule = {{ table = [{}] }}", g.join(", "))
}

const RES_NONE: &str = r#"
[resources.beds]
name = "beds"
unit = "beds"
kind = "per_capita"
per = 1000
"#;

fn load(text: &str) -> Scenario {
    scenario::from_text("tiny.toml", text).unwrap_or_else(|e| panic!("{e}"))
}

fn central(s: &Scenario) -> (Model, DrawOutput) {
    let m = engine::compile(s);
    let out = capsim::runner::central(&m).expect("finite");
    (m, out)
}

/// Age-by-age counts: `counts` as (age, female, male).
fn pop_counts(counts: &[(usize, f64, f64)]) -> String {
    let groups: Vec<String> = (0..=100).map(|x| format!("[{x}, {x}]")).collect();
    let mut f = vec![0.0; 101];
    let mut m = vec![0.0; 101];
    for &(a, cf, cm) in counts {
        f[a] = cf;
        m[a] = cm;
    }
    let list = |v: &[f64]| v.iter().map(|x| format!("{x}")).collect::<Vec<_>>().join(", ");
    format!("age_groups = [{}]\nfemale = [{}]\nmale = [{}]", groups.join(", "), list(&f), list(&m))
}

#[test]
fn survivors_by_hand_with_a_constant_hazard() {
    // No women of childbearing age: no births. Hazard 0.1 everywhere.
    let s = load(&tiny(
        "",
        &pop_counts(&[(60, 1000.0, 800.0), (99, 10.0, 0.0), (100, 5.0, 0.0)]),
        &mort_table(0.1),
        &fert_at_30(),
        RES_NONE,
    ));
    let (m, out) = central(&s);
    let e = (-0.1f64).exp();
    let g = |row: usize, sex: usize, label: &str| {
        let gi = m.groups.iter().position(|g| g.label == label).unwrap();
        out.groups[((row) * 2 + sex) * m.groups.len() + gi]
    };
    // Age 60 → 61 (group 60-64 keeps them), survivors = P·e^{−m}.
    assert!((g(1, 0, "60-64") - 1000.0 * e).abs() < 1e-9);
    assert!((g(1, 1, "60-64") - 800.0 * e).abs() < 1e-9);
    // The open group: Q_100 = P_99·S_99 + P_100·S_100.
    assert!((g(1, 0, "100+") - (10.0 * e + 5.0 * e)).abs() < 1e-12);
    // Deaths of the first calendar year = Σ P (1 − S).
    let deaths = out.deaths[0];
    assert!((deaths - 1815.0 * (1.0 - e)).abs() < 1e-9, "{deaths}");
    assert_eq!(out.births[0], 0.0);
    // Components identity each year (migration is zero here).
    for step in 0..m.steps() {
        let d = out.population[step + 1] - out.population[step];
        assert!((d - (out.births[step] - out.deaths[step] + out.migration[step])).abs() < 1e-9);
        assert!(out.migration[step].abs() < 1e-9);
    }
}

#[test]
fn births_and_newborns_by_hand() {
    // Women at 29 (a) and 30 (b); all fertility at 30; no mortality.
    let (a, b) = (400.0, 1000.0);
    let s = load(&tiny("", &pop_counts(&[(29, a, 0.0), (30, b, 0.0)]), &mort_table(0.0), &fert_at_30(), RES_NONE));
    let (m, out) = central(&s);
    // Exposure at 30: ½(start b + end a) — the end-of-step women aged 30 are last year's 29s.
    let births = 1.5 * 0.5 * (b + a);
    assert!((out.births[0] - births).abs() < 1e-9);
    let gi = m.groups.iter().position(|g| g.label == "0-4").unwrap();
    let ng = m.groups.len();
    let girls = out.groups[(2) * ng + gi];
    let boys = out.groups[(2 + 1) * ng + gi];
    assert!((girls - births * 100.0 / 205.0).abs() < 1e-9);
    assert!((boys - births * 105.0 / 205.0).abs() < 1e-9);
}

#[test]
fn newborns_survive_half_a_year_and_their_deaths_count() {
    let (a, b) = (0.0, 1000.0);
    let s = load(&tiny("", &pop_counts(&[(29, a, 0.0), (30, b, 0.0)]), &mort_table(0.2), &fert_at_30(), RES_NONE));
    let (_, out) = central(&s);
    let e = (-0.2f64).exp();
    let births = 1.5 * 0.5 * (b + a);
    let deaths = b * (1.0 - e) + births * (1.0 - (-0.1f64).exp());
    assert!((out.births[0] - births).abs() < 1e-9);
    assert!((out.deaths[0] - deaths).abs() < 1e-9, "{} vs {deaths}", out.deaths[0]);
    assert!((out.population[1] - (b * e + births * (-0.1f64).exp())).abs() < 1e-9);
}

#[test]
fn migration_toward_k_and_the_floor_at_zero() {
    // K = 2000, ρ = 0.5, pop 1000 → N = 500 migrants, all aged 25 at the end of the step.
    let pop = pop_counts(&[(60, 500.0, 500.0)]);
    let s = load(&tiny(
        "[towns.a.migration]\nk = 2000\nrho = 0.5\nfemale_share = 0.4",
        &pop,
        &mort_table(0.0),
        &fert_at_30(),
        RES_NONE,
    ));
    let (_, out) = central(&s);
    assert!((out.migration[0] - 500.0).abs() < 1e-9);
    assert!((out.population[1] - 1500.0).abs() < 1e-9);
    // Next step: N = 0.5 (2000 − 1500) = 250.
    assert!((out.migration[1] - 250.0).abs() < 1e-9);

    // Above K the town loses people, but no age goes below zero: everyone is 60, migrants
    // leave from age 25, where nobody is → the floor binds and nobody actually leaves.
    let s = load(&tiny("[towns.a.migration]\nk = 0\nrho = 0.5", &pop, &mort_table(0.0), &fert_at_30(), RES_NONE));
    let (_, out) = central(&s);
    assert_eq!(out.migration[0], 0.0, "the floor at 0 binds: realised migration differs from N = −500");
    assert!((out.population[1] - 1000.0).abs() < 1e-9);
}

#[test]
fn tfr_follows_its_ar1_and_is_clamped() {
    // φ = 1: TFR(t+1) = TFR* + σ_F ε_F(t), clamped to [0.1, 4].
    let fert = format!("{}\ntfr_star = 3.9\nphi = 1\nsigma_f = 1", fert_at_30());
    let b = 1000.0;
    let s = load(&tiny("", &pop_counts(&[(28, b, 0.0), (29, b, 0.0)]), &mort_table(0.0), &fert, RES_NONE));
    let m = engine::compile(&s);
    let mut ws = m.workspace();
    let values = m.central_values();
    let mut shocks = vec![0.0; m.shock_len()];
    let steps = m.steps();
    shocks[engine::SHOCK_FERTILITY * steps] = 5.0; // ε_F(t0) = 5 → 3.9 + 5 → clamped to 4
    simulate_draw(&m, &values, &shocks, &mut ws).unwrap();
    // Calendar 2021 uses TFR(2020) = 1.5 and exposure ½(P30(2020) + P30(2021)) = ½(0 + b).
    assert!((ws.out.births[0] - 1.5 * 0.5 * b).abs() < 1e-9);
    // Calendar 2022 uses TFR(2021) = 4 (clamped) and exposure ½(b + b).
    let births_2022 = ws.out.births[1];
    assert!((births_2022 - 4.0 * b).abs() < 1e-9, "{births_2022}");
    shocks[engine::SHOCK_FERTILITY * steps] = -50.0;
    simulate_draw(&m, &values, &shocks, &mut ws).unwrap();
    assert!((ws.out.births[1] - 0.1 * b).abs() < 1e-9, "clamped at 0.1");
}

#[test]
fn mortality_index_improves_with_delta_and_its_shock() {
    let pop = pop_counts(&[(60, 1000.0, 0.0)]);
    let mort = format!("{}\nsigma_k = 0.5", mort_table(0.1)).replace("delta = 0", "");
    let text = tiny("", &pop, &format!("delta = 0.02\n{mort}"), &fert_at_30(), RES_NONE).replace("delta = 0\n", "");
    let s = load(&text);
    let m = engine::compile(&s);
    let mut ws = m.workspace();
    let values = m.central_values();
    let mut shocks = vec![0.0; m.shock_len()];
    shocks[engine::SHOCK_MORTALITY * m.steps()] = 1.0; // ε_k(t0) = 1
    simulate_draw(&m, &values, &shocks, &mut ws).unwrap();
    // Step 1 uses k(t0) = 0; step 2 uses k = δ + σ_k·1 = 0.52.
    let p1 = 1000.0 * (-0.1f64).exp();
    assert!((ws.out.population[1] - p1).abs() < 1e-9);
    let p2 = p1 * (-(0.1 * (-0.52f64).exp())).exp();
    assert!((ws.out.population[2] - p2).abs() < 1e-9);
}

#[test]
fn demand_kinds_by_hand() {
    let res = r#"
[resources.primary]
name = "primary"
unit = "places"
kind = "per_capita"
ages = [6, 10]
rate = { factors = { a = 0.9, b = 0.5 } }
[resources.staff]
name = "staff"
unit = "staff"
kind = "derived"
of = "stations"
per = 2
[resources.stations]
name = "stations"
unit = "stations"
kind = "per_capita"
per = 300
round = "ceil"
[resources.centres]
name = "centres"
unit = "centres"
kind = "admin_units"
[resources.childcare]
name = "childcare"
unit = "points"
kind = "coverage_share"
share = 0.85
[resources.ambulance]
name = "ambulance"
unit = "stations"
kind = "fixed_min"
value = 1
from_year = 2022
[resources.floor]
name = "floor"
unit = "m2"
kind = "per_capita"
per_1000 = 40
"#;
    let pop = pop_counts(&[(8, 100.0, 100.0), (40, 400.0, 300.0)]);
    let s = load(&tiny("", &pop, &mort_table(0.0), &fert_at_30(), res));
    let (m, out) = central(&s);
    let rows = m.rows;
    let nr = m.resources.len();
    let d = |r: &str, row: usize| out.demand[m.resources.iter().position(|x| x.id == r).unwrap() * rows + row];
    assert_eq!(nr, 7);
    assert!((d("primary", 0) - 0.9 * 0.5 * 200.0).abs() < 1e-12);
    // 900 residents / 300 = 3 exactly: the tolerance keeps ⌈3⌉ = 3, not 4.
    assert_eq!(d("stations", 0), 3.0);
    // Staff from the rounded source: 3 / 2 = 1.5, not rounded.
    assert_eq!(d("staff", 0), 1.5);
    assert_eq!(d("centres", 0), 7.0);
    // ⌈0.85 × 7⌉ = ⌈5.95⌉ = 6.
    assert_eq!(d("childcare", 0), 6.0);
    assert_eq!(d("ambulance", 0), 0.0);
    assert_eq!(d("ambulance", 1), 0.0);
    assert_eq!(d("ambulance", 2), 1.0);
    assert!((d("floor", 0) - 40.0 * 900.0 / 1000.0).abs() < 1e-9);
}

#[test]
fn ceiling_tolerance_and_delay_rounding() {
    use capsim::engine::{ceil_units, opening_row};
    assert_eq!(ceil_units(3.0), 3.0);
    assert_eq!(ceil_units(3.000_000_000_1), 3.0);
    assert_eq!(ceil_units(3.01), 4.0);
    assert_eq!(ceil_units(0.85 * 20.0), 17.0);
    assert_eq!(opening_row(5, 0.0), 5);
    assert_eq!(opening_row(5, 0.49), 5);
    assert_eq!(opening_row(5, 0.5), 6, "half up");
    assert_eq!(opening_row(5, 0.499_999_999_999_999_94), 5, "the largest double below ½ rounds down");
    assert_eq!(opening_row(5, 2.5), 8);
    assert_eq!(opening_row(5, -0.5), 5);
    assert_eq!(opening_row(5, f64::INFINITY), 1_000_005, "capped");
    assert_eq!(opening_row(5, 1.5), 7);
    assert_eq!(opening_row(5, -3.0), 5, "floored at 0");
}

#[test]
fn capacity_with_projects_closures_and_delays() {
    let res = format!(
        "{RES_NONE}\n[capacity.a.beds]\nbase = 100\nprojects = {{ p = {{ amount = 50, year = 2021, delay = 1.5 }} }}\nclosures = {{ c = {{ amount = 30, year = 2022 }} }}"
    );
    let s = load(&tiny("", &pop_counts(&[(40, 10.0, 10.0)]), &mort_table(0.0), &fert_at_30(), &res));
    let (m, out) = central(&s);
    let cap: Vec<f64> = (0..m.rows).map(|r| out.capacity[r]).collect();
    // The project opens 2021 + round(1.5) = 2023; the closure from 2022.
    assert_eq!(cap, vec![100.0, 100.0, 70.0, 120.0]);
}

/// Constant rates, no migration: the female population follows a Leslie matrix exactly, and
/// its growth rate tends to ln λ, λ the root of the Euler–Lotka equation (found independently
/// by bisection, not by iterating the matrix).
#[test]
fn projection_equals_an_independent_leslie_computation() {
    let years = 150;
    let m_haz: Vec<f64> = (0..101).map(|x| 0.0005 + 0.00003 * (0.09 * x as f64).exp()).collect();
    let mort = format!(
        "female = {{ table = [{t}] }}\nmale = {{ table = [{t}] }}",
        t = m_haz.iter().map(|v| format!("{v}")).collect::<Vec<_>>().join(", ")
    );
    let fert = "schedule = { mean_age = 29, sd_age = 5 }".to_string();
    let pop = pop_counts(&[(20, 500.0, 500.0), (30, 700.0, 650.0), (45, 300.0, 320.0), (70, 200.0, 150.0)]);
    let text =
        tiny("", &pop, &mort, &fert, RES_NONE).replace("end_year = 2023", &format!("end_year = {}", 2020 + years));
    let s = load(&text);
    let (m, out) = central(&s);

    // Independent Leslie computation for females.
    let tfr = 1.5;
    let srb = 105.0;
    let g = capsim::scenario::schedule::gamma_fertility(29.0, 5.0);
    let f = |x: usize| if (15..=49).contains(&x) { tfr * g[x - 15] } else { 0.0 };
    let sx: Vec<f64> = m_haz.iter().map(|v| (-v).exp()).collect();
    let girl = 100.0 / (100.0 + srb) * (-0.5 * m_haz[0]).exp();
    let mut p: Vec<f64> = s.towns[0].population.female.clone();
    let ng = m.groups.len();
    for year in 1..=years {
        let mut n = vec![0.0; 101];
        for x in 0..100 {
            n[x + 1] = p[x] * sx[x];
        }
        n[100] += p[100] * sx[100];
        // B = Σ_x P_x(t) · ½ (f_x + f_{x+1} S_x): births by mothers' age at the start.
        let births: f64 = (0..101).map(|x| p[x] * 0.5 * (f(x) + if x < 100 { f(x + 1) * sx[x] } else { 0.0 })).sum();
        n[0] = births * girl;
        p = n;
        if year % 25 == 0 || year == years {
            let ours: f64 = (0..21).map(|gi| out.groups[(year * 2) * ng + gi]).sum();
            let theirs: f64 = p.iter().sum();
            assert!((ours - theirs).abs() <= 1e-9 * theirs.max(1.0), "year {year}: {ours} vs {theirs}");
        }
    }
    assert!(growth_settles_at_euler_lotka_root(&m_haz, &fert, tfr, srb));
}

/// Starting from the stable population of the Euler–Lotka root λ, every year grows by exactly
/// ln λ: the projection's eigen-structure is that of the Leslie matrix.
fn growth_settles_at_euler_lotka_root(m_haz: &[f64], fert: &str, tfr: f64, srb: f64) -> bool {
    let g = capsim::scenario::schedule::gamma_fertility(29.0, 5.0);
    let f = |x: usize| if (15..=49).contains(&x) { tfr * g[x - 15] } else { 0.0 };
    let sx: Vec<f64> = m_haz.iter().map(|v| (-v).exp()).collect();
    let girl = 100.0 / (100.0 + srb) * (-0.5 * m_haz[0]).exp();
    let mut l = vec![1.0; 101];
    for x in 1..101 {
        l[x] = l[x - 1] * sx[x - 1];
    }
    // Euler–Lotka: Σ_x l_x · ½(f_x + f_{x+1} S_x) · girl · λ^{−(x+1)} = 1, by bisection.
    let net = |lambda: f64| -> f64 {
        (0..100).map(|x| l[x] * 0.5 * (f(x) + f(x + 1) * sx[x]) * girl * lambda.powi(-(x as i32 + 1))).sum::<f64>()
            - 1.0
    };
    let (mut lo, mut hi) = (0.5, 1.5);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if net(mid) > 0.0 { lo = mid } else { hi = mid }
    }
    let lambda = 0.5 * (lo + hi);
    // The stable age distribution c_x ∝ l_x λ^{−x}; the open group sums the geometric tail.
    let mut c: Vec<f64> = (0..101).map(|x| l[x] * lambda.powi(-(x as i32))).collect();
    c[100] /= 1.0 - sx[100] / lambda;
    let counts: Vec<(usize, f64, f64)> = (0..101).map(|x| (x, 1e6 * c[x], 0.0)).collect();
    let s = load(
        &tiny(
            "",
            &pop_counts(&counts),
            &format!(
                "female = {{ table = [{t}] }}\nmale = {{ table = [{t}] }}",
                t = m_haz.iter().map(|v| format!("{v}")).collect::<Vec<_>>().join(", ")
            ),
            fert,
            RES_NONE,
        )
        .replace("end_year = 2023", "end_year = 2040"),
    );
    let (m, out) = central(&s);
    let ng = m.groups.len();
    let female_total = |row: usize| (0..21).map(|gi| out.groups[(row * 2) * ng + gi]).sum::<f64>();
    for row in 1..m.rows {
        let growth = (female_total(row) / female_total(row - 1)).ln();
        assert!((growth - lambda.ln()).abs() < 1e-9, "row {row}: growth {growth} vs ln λ {}", lambda.ln());
    }
    lambda < 1.0
}

#[test]
fn deterministic_scenario_gives_quantiles_equal_to_central() {
    let s = load(&tiny(
        "[towns.a.migration]\nk = 5000\nrho = 0.2",
        &pop_counts(&[(30, 800.0, 700.0), (8, 60.0, 70.0)]),
        &mort_table(0.01),
        &fert_at_30(),
        RES_NONE,
    ));
    let m = engine::compile(&s);
    assert!(m.inputs.is_empty());
    let agg = capsim::runner::run(&m, 3, 0..40, 2, &|_| {}).unwrap();
    let central = capsim::runner::central(&m).unwrap();
    use capsim::stats::Level;
    for (i, sk) in agg.population.iter().enumerate() {
        for l in [Level::new(5, 100), Level::new(50, 100), Level::new(95, 100)] {
            assert_eq!(sk.quantile(l, false), central.population[i]);
        }
    }
    for (i, sk) in agg.demand.iter().enumerate() {
        assert_eq!(sk.quantile(Level::new(50, 100), false), central.demand[i]);
    }
}

#[test]
fn adding_a_project_changes_no_other_sampled_value() {
    let base = std::fs::read_to_string(crate::util::scenario("example.toml")).unwrap();
    let dir = crate::util::scenario("");
    let with_project =
        "[capacity.lake.hospital_beds.projects.new_campus]\namount = 300\nyear = 2027\ndelay = { uniform = [0, 3] }\n";
    let load_in = |overlay: Option<&str>| {
        let mut d = capsim::scenario::Diagnostics::default();
        let mut doc =
            capsim::scenario::tree::parse_document_text(dir.join("x.toml").to_str().unwrap(), &base, &mut d).unwrap();
        if let Some(o) = overlay {
            assert!(capsim::scenario::tree::overlay_text(&mut doc, "fragment.toml", o, &mut d));
        }
        scenario::from_document(&doc).unwrap_or_else(|e| panic!("{e}"))
    };
    let (a, b) = (engine::compile(&load_in(None)), engine::compile(&load_in(Some(with_project))));
    assert!(b.inputs.len() > a.inputs.len());
    for draw in [0u64, 1, 99] {
        let mut va = a.central_values();
        let mut vb = b.central_values();
        let mut sa = vec![0.0; a.shock_len()];
        let mut sb = vec![0.0; b.shock_len()];
        engine::sample_draw(&a, 11, draw, &mut va, &mut sa);
        engine::sample_draw(&b, 11, draw, &mut vb, &mut sb);
        for (i, path) in a.slot_paths.iter().enumerate() {
            let j = b.slot_paths.iter().position(|p| p == path).unwrap();
            assert_eq!(va[i].to_bits(), vb[j].to_bits(), "{path} changed in draw {draw}");
        }
        assert_eq!(sa, sb);
    }
}

/// What the run's layout (`stats::Layout::of`) is built from, spelled out for tests to change:
/// the fixed flags in series order, the copies `(series, source)`, and the first demand series.
pub(crate) fn layout_parts(m: &Model) -> (Vec<bool>, Vec<(usize, usize)>, usize) {
    let shape = capsim::stats::Aggregate::new(m);
    let d0 = shape.population.len() + shape.groups.len() + 3 * shape.births.len();
    let (demand, capacity) = m.fixed_demand_capacity();
    let gap: Vec<bool> = demand.iter().zip(&capacity).map(|(d, c)| *d && *c).collect();
    let mut flags = vec![false; d0];
    flags.extend(demand.iter().chain(&capacity).chain(&gap));
    // Capacities that repeat the year before's.
    let c0 = d0 + demand.len();
    let copies: Vec<(usize, usize)> =
        m.capacity_repeats().iter().enumerate().filter(|(_, r)| **r).map(|(i, _)| (c0 + i, c0 + i - 1)).collect();
    assert_eq!(capsim::stats::Layout::new(m, &flags, &copies), capsim::stats::Layout::of(m));
    (flags, copies, d0)
}

#[test]
fn block_aggregation_equals_adding_draws_one_by_one() {
    // The runner aggregates through blocks (codes in tiles, non-temporal stores, per-series
    // passes, fixed series taken once, copies set from their sources) into an aggregate shared
    // by its workers; the result
    // must be exactly — to the byte of a partial result — that of adding each draw on its own.
    // 300 draws in blocks of 256 leave a partial second block; blocks of 64 are another split,
    // added in reverse order; blocks of one draw are the extreme. The Shanghai scenario's
    // series counts are not multiples of the 16-series tile.
    let s = capsim::scenario::load(&crate::util::scenario("shanghai-new-towns.toml"), &[]).unwrap();
    let m = engine::compile(&s);
    let shape = capsim::stats::Aggregate::new(&m);
    let (flags, copies, d0) = layout_parts(&m);
    let c0 = d0 + shape.demand.len();
    assert!(copies.len() > 500, "{} copies", copies.len());
    // The run's layout, with the constant series below fixed too (a constant of 10⁹ and more,
    // zeros of both signs); and every series varying, where the draws may change any value.
    let mut with_constants = flags.clone();
    for series in [5, shape.population.len() + 9, shape.population.len() + 15] {
        with_constants[series] = true;
    }
    for layout in [capsim::stats::Layout::all_varying(&m), capsim::stats::Layout::new(&m, &with_constants, &copies)] {
        // Series the draws below may set freely: varying, and no copy's source.
        let mut free = layout.varies();
        for &(_, source) in &copies {
            free[source] &= layout.copies() == 0;
        }
        let (mut values, mut shocks, mut ws) = (m.central_values(), vec![0.0; m.shock_len()], m.workspace());
        let mut one_by_one = capsim::stats::Aggregate::new(&m);
        let mut blocked = capsim::stats::Aggregate::new(&m);
        let mut block = capsim::stats::Block::with_layout(&m, layout.clone(), 256);
        let shared = capsim::stats::SharedAggregate::with_layout(&m, layout.clone());
        let mut smalls: Vec<_> = (0..5).map(|_| capsim::stats::Block::with_layout(&m, layout.clone(), 64)).collect();
        let mut singles = capsim::stats::Aggregate::new(&m);
        let mut single = capsim::stats::Block::with_layout(&m, layout.clone(), 1);
        // A whole-number demand series (10-bit keys on v + 1024) for negatives and subnormals.
        let (nr, rows) = (m.resources.len(), m.rows);
        let whole = (0..nr * rows)
            .find(|&i| m.resources[i / rows].integral && free[d0 + i])
            .expect("a varying whole-number demand series");
        // Draw-dependent values go only where the layout lets a series vary.
        let set = |v: &mut Vec<f64>, at: usize, i: usize, x: f64| {
            if free[at + i] {
                v[i] = x;
            }
        };
        for draw in 0..300u64 {
            engine::sample_draw(&m, 11, draw, &mut values, &mut shocks);
            simulate_draw(&m, &values, &shocks, &mut ws).unwrap();
            // Values the Shanghai draws never produce but the block must carry exactly
            // (written into a copy: the workspace keeps fixed capacities between draws).
            let mut o = ws.out.clone();
            match draw % 5 {
                0 => {
                    o.groups[7] = 0.0;
                    o.migration[2] = -3.5e9;
                    set(&mut o.demand, d0, 40, 2.0e12 + 0.25);
                    set(&mut o.capacity, c0, 41, -0.0);
                }
                1 => {
                    o.population[3] = 5e-320;
                    o.births[1] = -1e-300;
                    set(&mut o.capacity, c0, 100, 1e9);
                }
                2 => o.groups[7] = -o.groups[7],
                _ => {}
            }
            // Only zeros of both signs; a constant of 10⁹ and more; a constant with one
            // negative lane; a few positives among zeros (fewer than 16 a block); a
            // whole-number series with negatives and subnormals.
            o.groups[9] = if draw % 2 == 0 { 0.0 } else { -0.0 };
            o.groups[15] = if draw < 128 { -0.0 } else { 0.0 };
            o.population[5] = 3.0e9;
            o.groups[11] = if draw == 17 { -2.0 } else { 5.0 };
            o.groups[13] = if draw % 25 == 0 { 12.5 } else { 0.0 };
            o.demand[whole] = match draw % 3 {
                0 => -7.0,
                1 => 4e-320,
                _ => o.demand[whole],
            };
            one_by_one.add(&m, &o);
            block.push(&o);
            if block.is_full() {
                assert!(block.fixed_held());
                blocked.add_block(&mut block).unwrap();
            }
            smalls[draw as usize / 64].push(&o);
            single.push(&o);
            singles.add_block(&mut single).unwrap();
        }
        blocked.add_block(&mut block).unwrap();
        // Later draws first (so a tie between zeros of both signs meets them in another
        // order), each block starting at a different part.
        for (i, small) in smalls.iter_mut().enumerate().rev() {
            assert!(small.fixed_held());
            shared.add_block(small, i * 7 % shared.parts()).unwrap();
        }
        assert!(shared.parts() > 1, "the Shanghai scenario's series fill several parts");
        assert_eq!(blocked.draws, 300);
        let bytes = |a: &capsim::stats::Aggregate| postcard::to_stdvec(a).unwrap();
        let want = bytes(&one_by_one);
        let fixed = layout.fixed();
        assert!(bytes(&blocked) == want, "block aggregation differs from one-by-one ({fixed} fixed)");
        assert!(bytes(&singles) == want, "blocks of one draw differ from one-by-one ({fixed} fixed)");
        assert!(bytes(&shared.into_aggregate()) == want, "the shared aggregate differs ({fixed} fixed)");
    }
}

#[test]
fn small_runs_skip_the_timing_probe_large_ones_do_not() {
    let s = capsim::scenario::load(&crate::util::scenario("shanghai-new-towns.toml"), &[]).unwrap();
    let m = engine::compile(&s);
    // The default run is surely quick; a billion draws are not, even on many threads.
    assert!(capsim::runner::surely_within(&m, 10_000, 2, 60.0));
    assert!(!capsim::runner::surely_within(&m, 1_000_000_000, 64, 60.0));
    // The bound scales with draws and threads.
    assert!(!capsim::runner::surely_within(&m, 1_000_000, 1, 60.0));
    assert!(capsim::runner::surely_within(&m, 1_000_000, 1, 3_600.0));
}

#[test]
fn results_the_model_calls_fixed_are_the_same_in_every_draw() {
    // Aggregation takes these series' values once per block (`stats::Layout`); a series
    // wrongly called fixed would be aggregated wrongly. Every shipped scenario, 64 draws: each
    // series called fixed holds its first draw's value (and the central variant's) throughout.
    let (mut total_fixed, mut total_repeats) = (0, 0);
    for name in [
        "shanghai-new-towns.toml",
        "shanghai-plan-on-time.toml",
        "shanghai-registered-tfr.toml",
        "shanghai-slow-attraction.toml",
        "example.toml",
    ] {
        let s = capsim::scenario::load(&crate::util::scenario(name), &[]).unwrap();
        let m = engine::compile(&s);
        let (demand, capacity) = m.fixed_demand_capacity();
        let repeats = m.capacity_repeats();
        let rows = m.rows;
        let central = capsim::runner::central(&m).unwrap();
        let (mut values, mut shocks, mut ws) = (m.central_values(), vec![0.0; m.shock_len()], m.workspace());
        let mut varied = [vec![false; demand.len()], vec![false; capacity.len()]];
        for draw in 0..64u64 {
            engine::sample_draw(&m, 5, draw, &mut values, &mut shocks);
            simulate_draw(&m, &values, &shocks, &mut ws).unwrap();
            for (i, r) in repeats.iter().enumerate() {
                let c = &ws.out.capacity;
                assert!(
                    !r || (i % rows > 0 && c[i] == c[i - 1]),
                    "{name}: capacity {i} is said to repeat the year before's"
                );
            }
            for (k, (fixed, (now, want))) in
                [(&demand, (&ws.out.demand, &central.demand)), (&capacity, (&ws.out.capacity, &central.capacity))]
                    .into_iter()
                    .enumerate()
            {
                for i in 0..fixed.len() {
                    assert!(
                        !fixed[i] || now[i] == want[i],
                        "{name}: series {i} of kind {k} is called fixed but varies"
                    );
                    varied[k][i] |= now[i] != want[i];
                }
            }
        }
        // Not vacuous: the draws do vary many demand and capacity series.
        assert!(varied[0].iter().filter(|v| **v).count() > 10, "{name}: demand varies");
        total_fixed += demand.iter().chain(&capacity).filter(|f| **f).count();
        total_repeats += repeats.iter().filter(|r| **r).count();
        let layout = capsim::stats::Layout::of(&m);
        let gaps = demand.iter().zip(&capacity).filter(|(d, c)| **d && **c).count();
        assert_eq!(layout.fixed(), demand.iter().chain(&capacity).filter(|f| **f).count() + gaps);
    }
    // The Shanghai scenarios' fixed capacities and street-based demand.
    assert!(total_fixed > 4000, "only {total_fixed} fixed series");
    assert!(total_repeats > 2000, "only {total_repeats} repeating capacities");
}

#[test]
fn a_series_called_fixed_that_varies_is_caught() {
    let s = capsim::scenario::load(&crate::util::scenario("example.toml"), &[]).unwrap();
    let m = engine::compile(&s);
    assert_eq!(capsim::stats::Layout::all_varying(&m).fixed(), 0);
    let (demand, capacity) = m.fixed_demand_capacity();
    let (flags, copies, d0) = layout_parts(&m);
    let c0 = d0 + demand.len();
    // A fixed capacity series with fixed neighbours on both sides (the middle of a run).
    let mid = (1..capacity.len() - 1).find(|&i| capacity[i - 1] && capacity[i] && capacity[i + 1]).unwrap();
    let per_capita = demand.iter().position(|f| !f).unwrap();
    // Each case: the series called fixed, and the capacity series the second draw changes.
    // Population (series 0) and a per-capita demand, which are not fixed; a truly fixed
    // capacity in the middle of a run given another value; a copy of a capacity given another.
    let copy =
        copies.iter().find(|(g, _)| !flags[*g]).expect("a varying capacity that repeats the year before's").0 - c0;
    let cases = [
        (Some(0), None),
        (Some(d0 + per_capita), None),
        (Some(d0 + demand.len() + mid), Some(mid)),
        (None, Some(copy)),
    ];
    for (series, change) in cases {
        let mut f = flags.clone();
        if let Some(g) = series {
            f[g] = true;
        }
        let layout = capsim::stats::Layout::new(&m, &f, &copies);
        let mut block = capsim::stats::Block::with_layout(&m, layout.clone(), 8);
        let (mut values, mut shocks, mut ws) = (m.central_values(), vec![0.0; m.shock_len()], m.workspace());
        for draw in 0..2u64 {
            assert!(block.fixed_held());
            engine::sample_draw(&m, 5, draw, &mut values, &mut shocks);
            simulate_draw(&m, &values, &shocks, &mut ws).unwrap();
            let mut o = ws.out.clone();
            if let (1, Some(i)) = (draw, change) {
                o.capacity[i] += 1.0;
            }
            block.push(&o);
        }
        assert!(!block.fixed_held(), "{series:?}, {change:?}: a change went unnoticed");
        // Refused, and nothing added.
        let shared = capsim::stats::SharedAggregate::with_layout(&m, layout);
        assert_eq!(shared.add_block(&mut block, 0), Err(capsim::stats::FixedVaried));
        assert_eq!(shared.into_aggregate(), capsim::stats::Aggregate::new(&m));
    }
}

#[test]
fn random_rule_inputs_and_project_timing_decide_what_is_fixed() {
    // The shipped scenarios have no random coverage share, minimum, derived ratio or project
    // amount; this one does, with random delays of projects planned for the first and last
    // years.
    let w = crate::util::Workdir::new();
    let fragment = w.write(
        "random-rules.toml",
        r#"
[resources.childcare_points]
share = { uniform = [0.8, 0.9] }

[resources.emergency_stations]
value = { uniform = [1, 3] }

[resources.centre_staff]
name = { en = "Centre staff", zh = "中心职工" }
unit = { en = "staff", zh = "人" }
kind = "derived"
of = "chs_centres"
per = { uniform = [0.05, 0.1] }

[resources.centre_doctors]
name = { en = "Centre doctors", zh = "中心医生" }
unit = { en = "doctors", zh = "人" }
kind = "derived"
of = "chs_centres"
per = 0.2

[capacity.north]
emergency_stations = { base = 0, projects = { ambulance_north = { amount = { uniform = [1, 2] }, year = 2024, delay = 1 } } }
chs_centres = { base = 8, projects = { early = { amount = 1, year = 2020, delay = { uniform = [0, 2] } } } }
chs_stations = { base = 40, projects = { open_ended = { amount = 3, year = 2030, delay = { normal = { mean = 1, sd = 0.5 } } } } }
childcare_points = { base = 5, projects = { late = { amount = 2, year = 2035, delay = { uniform = [0, 2] } } } }
"#,
    );
    let s =
        capsim::scenario::load(&crate::util::scenario("example.toml"), &[fragment]).unwrap_or_else(|e| panic!("{e}"));
    let m = engine::compile(&s);
    let (demand, capacity) = m.fixed_demand_capacity();
    let (nt, nr, rows) = (m.towns.len(), m.resources.len(), m.rows);
    let res = |id: &str| m.resources.iter().position(|r| r.id == id).unwrap();
    let north = m.towns.iter().position(|t| t.id == "north").unwrap();
    let at = |area: usize, r: usize, row: usize| (area * nr + r) * rows + row;
    let from_2025 = (2025 - m.t0) as usize;
    for area in 0..=nt {
        for row in 0..rows {
            assert!(!demand[at(area, res("childcare_points"), row)], "a random coverage share varies");
            assert_eq!(demand[at(area, res("emergency_stations"), row)], row < from_2025, "random minimum, row {row}");
            assert!(!demand[at(area, res("centre_staff"), row)], "a random ratio varies");
            assert!(demand[at(area, res("centre_doctors"), row)], "a fixed ratio of a fixed demand");
            assert!(demand[at(area, res("chs_centres"), row)], "streets");
        }
    }
    // A random amount at a fixed delay: fixed before its opening (2024 + 1); a random delay
    // of a project planned for the base year: from the base year; for the last: before it.
    let open = (2025 - m.t0) as usize;
    for row in 0..rows {
        assert_eq!(capacity[at(north, res("emergency_stations"), row)], row < open, "row {row}");
        assert!(!capacity[at(north, res("chs_centres"), row)]);
        assert_eq!(capacity[at(north, res("childcare_points"), row)], row + 1 < rows);
        assert_eq!(capacity[at(nt, res("emergency_stations"), row)], row < open, "all, row {row}");
    }
    // Capacities repeat the year before's where no opening can fall: after 2020 + 2 years of
    // delay; before the project of the last year; before a delay with no upper bound can act.
    let repeats = m.capacity_repeats();
    let last_open = 2 + 1;
    for row in 0..rows {
        assert_eq!(repeats[at(north, res("chs_centres"), row)], row >= last_open, "row {row}");
        assert_eq!(repeats[at(north, res("childcare_points"), row)], row >= 1 && row + 1 < rows, "row {row}");
        assert_eq!(repeats[at(north, res("chs_stations"), row)], row >= 1 && row < (2030 - m.t0) as usize, "row {row}");
        assert_eq!(repeats[at(north, res("emergency_stations"), row)], row >= 1 && row != open, "row {row}");
    }
    // And what is called fixed is: 64 draws against the central variant.
    let central = capsim::runner::central(&m).unwrap();
    let (mut values, mut shocks, mut ws) = (m.central_values(), vec![0.0; m.shock_len()], m.workspace());
    let mut varied = vec![false; demand.len() + capacity.len()];
    for draw in 0..64u64 {
        engine::sample_draw(&m, 9, draw, &mut values, &mut shocks);
        simulate_draw(&m, &values, &shocks, &mut ws).unwrap();
        for (i, r) in repeats.iter().enumerate() {
            assert!(!r || ws.out.capacity[i] == ws.out.capacity[i - 1], "capacity {i} is said to repeat");
        }
        let now = ws.out.demand.iter().chain(&ws.out.capacity);
        let want = central.demand.iter().chain(&central.capacity);
        for (i, ((f, n), c)) in demand.iter().chain(&capacity).zip(now).zip(want).enumerate() {
            assert!(!f || n == c, "series {i} is called fixed but varies");
            varied[i] |= n != c;
        }
    }
    // The random inputs above do reach their series.
    assert!(varied[at(north, res("childcare_points"), 3)]);
    assert!(varied[at(north, res("centre_staff"), 3)]);
    assert!(varied[demand.len() + at(north, res("emergency_stations"), open)]);
}

/// The shared aggregate is built in its layout's order straight from the model's shape, and
/// put back in series order at the end: empty, it is the plain empty aggregate (every sketch
/// at its series, with its resolution), which fits the model.
#[test]
fn an_empty_shared_aggregate_is_the_empty_aggregate() {
    for name in ["shanghai-new-towns.toml", "example.toml"] {
        let s = capsim::scenario::load(&crate::util::scenario(name), &[]).unwrap();
        let m = engine::compile(&s);
        let empty = capsim::stats::Aggregate::new(&m);
        assert!(empty.fits(&m), "{name}");
        assert!(capsim::stats::SharedAggregate::new(&m).into_aggregate() == empty, "{name}");
        // Resolutions differ by series (whole-number resources keep finer buckets), so a
        // sketch put back at another series' place would show.
        assert!(empty.demand.iter().any(|a| a.bits != empty.population[0].bits), "{name}");
    }
}

/// A demand is reported as whole numbers only when it is one in every draw: a `fixed_min`
/// whose value is random or fractional in any town is not (its quantiles were rounded to whole
/// numbers: 0.01 for an exact 0.81).
#[test]
fn a_fixed_minimum_is_whole_only_when_its_value_is_a_fixed_whole_number() {
    let integral = |value: &str, town: &str| {
        let res = format!(
            "[resources.fm]\nname = \"fm\"\nunit = \"u\"\nkind = \"fixed_min\"\nvalue = {value}\n{town}\n\
             [resources.st]\nname = \"st\"\nunit = \"u\"\nkind = \"per_capita\"\nper = 300\nround = \"ceil\"\n\
             [resources.pc]\nname = \"pc\"\nunit = \"u\"\nkind = \"per_capita\"\nper = 300\n\
             [resources.cs]\nname = \"cs\"\nunit = \"u\"\nkind = \"coverage_share\"\nshare = 0.85\n"
        );
        let s = load(&tiny("", &pop_counts(&[(30, 100.0, 100.0)]), &mort_table(0.01), &fert_at_30(), &res));
        let m = engine::compile(&s);
        let flag = |id: &str| m.resources.iter().find(|r| r.id == id).unwrap().integral;
        // The others keep their flags whatever the fixed minimum is.
        assert!(flag("st") && !flag("pc") && flag("cs"));
        flag("fm")
    };
    assert!(integral("2", ""));
    assert!(!integral("2.5", ""));
    assert!(!integral("{ uniform = [0, 12] }", ""));
    assert!(!integral("{ triangular = [1, 2, 3] }", ""));
    assert!(integral("2", "[resources.fm.towns.a]\nvalue = 3"));
    assert!(!integral("2", "[resources.fm.towns.a]\nvalue = { uniform = [1, 3] }"));
    assert!(!integral("2", "[resources.fm.towns.a]\nvalue = 0.5"));
}

/// MODEL §6's accuracy contract, end to end: every quantile the tables report (5, 10, 25, 50,
/// 75, 90 and 95 %, with the whole-number flag the tables use for each series) is within 0.1 %
/// of the exact one — the lowest value whose empirical CDF reaches the level — computed from
/// the same draws one by one, for every series of every shipped scenario and of a fragment with
/// random and fractional fixed minimums.
#[test]
fn every_reported_quantile_is_within_a_tenth_of_a_percent_of_the_exact_one() {
    let mut scenarios: Vec<Scenario> =
        crate::util::shipped_scenarios().iter().map(|p| scenario::load(p, &[]).unwrap()).collect();
    let res = "[resources.fm]\nname = \"fm\"\nunit = \"u\"\nkind = \"fixed_min\"\nvalue = { uniform = [0, 12] }\n\
               [resources.half]\nname = \"half\"\nunit = \"u\"\nkind = \"fixed_min\"\nvalue = 2\n\
               [resources.half.towns.a]\nvalue = { triangular = [0.5, 1.5, 4] }\n\
               [resources.pc]\nname = \"pc\"\nunit = \"u\"\nkind = \"per_capita\"\nrate = { uniform = [0.5, 1.5] }\nper = 300\n\
               [capacity.a]\nfm = { base = 6 }\nhalf = { base = 1 }\npc = { base = 1 }\n";
    scenarios.push(load(&tiny(
        "[towns.a.migration]\nk = 5000\nrho = { uniform = [0, 0.4] }",
        &pop_counts(&[(30, 800.0, 700.0), (8, 60.0, 70.0)]),
        &mort_table(0.01),
        &fert_at_30(),
        res,
    )));
    assert!(scenarios.len() >= 5);
    let (seed, n) = (11, 700);
    for s in &scenarios {
        let m = engine::compile(s);
        let agg = capsim::runner::run(&m, seed, 0..n, 2, &|_| {}).unwrap();
        crate::util::quantile_contract(&m, &agg, seed, n).unwrap_or_else(|e| panic!("{}: {e}", s.name.en));
    }
}

/// A random migrant profile that overflows in some draw stops the run with a message naming
/// its inputs, rather than dropping that draw's migrants without a word.
#[test]
fn a_migrant_profile_that_overflows_in_a_draw_stops_the_run() {
    let text = tiny("", &pop_counts(&[(30, 800.0, 700.0)]), &mort_table(0.01), &fert_at_30(), RES_NONE)
        .replace(
            &format!("profile = {{ table = [{}] }}", one_hot(101, 25)),
            "[demography.migration.profile]\na1 = 0.02\nalpha1 = 0.1\na2 = 0.06\n\
             alpha2 = { lognormal = { mu = 0, sigma = 1.2 } }\nmu2 = 100\nlambda2 = 0\nc0 = 0.001",
        )
        .replace("rho = 0\nk = 0", "rho = 0.2\nk = 20000");
    let s = load(&text);
    let m = engine::compile(&s);
    // The central profile is fine (validation checks it); some of 400 draws overflow.
    assert!(capsim::runner::central(&m).is_ok());
    let e = capsim::runner::run(&m, 1, 0..400, 2, &|_| {}).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, capsim::Error::Numerical(_)), "{msg}");
    assert!(msg.contains("migrant age profile") && msg.contains("alpha2"), "{msg}");
}
