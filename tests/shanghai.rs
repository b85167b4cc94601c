//! The default scenario (Shanghai's five new towns) and its two variants: they validate, every
//! input is sourced, the demography is calibrated to what it claims, the projection starts from
//! its base and agrees with Shanghai's vital statistics, the reported 2025 waypoints lie inside
//! the 90 % band, and the README's generated input table is current.

use std::path::{Path, PathBuf};

use capsim::engine::{self, DrawOutput, Model};
use capsim::report::Tables;
use capsim::runner;
use capsim::scenario::{self, Scenario, SexMortality, resolved, schedule};

use crate::util::{Workdir, repo, scenario as scenario_path};

const DEFAULT: &str = "shanghai-new-towns.toml";
const SLOW: &str = "shanghai-slow-attraction.toml";
const ON_TIME: &str = "shanghai-plan-on-time.toml";
const REGISTERED_TFR: &str = "shanghai-registered-tfr.toml";
const TOWNS: [&str; 5] = ["jiading", "qingpu", "songjiang", "fengxian", "nanhui"];

fn load(name: &str) -> Scenario {
    load_with(name, &[])
}

fn load_with(name: &str, with: &[PathBuf]) -> Scenario {
    scenario::load(&scenario_path(name), with).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn central(s: &Scenario) -> (Model, DrawOutput) {
    let model = engine::compile(s);
    let out = runner::central(&model).expect("central variant");
    (model, out)
}

fn area(model: &Model, id: &str) -> usize {
    if id == "all" {
        return model.towns.len();
    }
    model.towns.iter().position(|t| t.id == id).unwrap_or_else(|| panic!("no town {id}"))
}

fn row(model: &Model, year: i32) -> usize {
    (year - model.t0) as usize
}

/// Births and deaths of calendar year `year` per 1,000 of the mid-year population (the mean of
/// the year-end rows of `year − 1` and `year`, MODEL §1), in the central variant.
fn crude_rates(model: &Model, out: &DrawOutput, a: usize, year: i32) -> (f64, f64) {
    let (rows, steps) = (model.rows, model.steps());
    let r = row(model, year);
    let mid = 0.5 * (out.population[a * rows + r - 1] + out.population[a * rows + r]);
    let step = r - 1;
    (1000.0 * out.births[a * steps + step] / mid, 1000.0 * out.deaths[a * steps + step] / mid)
}

#[test]
fn all_three_files_validate_without_warnings() {
    let w = Workdir::new();
    for name in [DEFAULT, SLOW, ON_TIME, REGISTERED_TFR] {
        let out = w.capsim().arg("validate").arg(scenario_path(name)).assert().success();
        let stdout = String::from_utf8_lossy(&out.get_output().stdout).to_string();
        assert!(stdout.starts_with("ok: "), "{name}: {stdout}");
        assert!(stdout.contains("5 towns, 24 resources"), "{name}: {stdout}");
        assert!(stdout.contains(" 0 warnings"), "{name}: {stdout}");
    }
}

#[test]
fn every_input_has_a_source() {
    let w = Workdir::new();
    for name in [DEFAULT, SLOW, ON_TIME, REGISTERED_TFR] {
        let out = w.capsim().arg("validate").arg(scenario_path(name)).arg("--sources").assert().success();
        let table = String::from_utf8_lossy(&out.get_output().stdout).to_string();
        // The header and separator, then one row per input.
        assert!(table.lines().count() > 200, "{name}: only {} lines", table.lines().count());
        let missing: Vec<&str> = table.lines().filter(|l| l.contains("| no source |")).collect();
        assert!(missing.is_empty(), "{name}: inputs without a source:\n{}", missing.join("\n"));
        // Nothing falls back to capsim's own defaults either.
        let s = load(name);
        assert!(resolved::unsourced(&s).is_empty(), "{name}: {:?}", resolved::unsourced(&s));
        let defaulted: Vec<&str> =
            s.inputs.iter().filter(|i| i.source.as_deref() == Some("default")).map(|i| i.path.as_str()).collect();
        assert!(defaulted.is_empty(), "{name}: {defaulted:?}");
    }
}

#[test]
fn the_resources_are_the_plans_standards_with_their_contract_ids() {
    let s = load(DEFAULT);
    let ids: Vec<&str> = s.resources.iter().map(|r| r.id.as_str()).collect();
    let mut want = vec![
        "kindergarten_places",
        "primary_places",
        "junior_places",
        "senior_places",
        "school_staff_primary",
        "school_staff_junior",
        "school_staff_senior",
        "hospital_beds",
        "doctors",
        "nurses",
        "general_practitioners",
        "tertiary_hospitals",
        "chs_centres",
        "chs_stations",
        "mental_health_points",
        "health_supervision_stations",
        "emergency_stations",
        "elderly_care_beds",
        "elderly_care_floor_m2",
        "elderly_service_centres",
        "fitness_centres",
        "sports_parks",
        "cdc_subcentres",
        "childcare_points",
    ];
    let mut got = ids.clone();
    got.sort_unstable();
    want.sort_unstable();
    assert_eq!(got, want);
    let towns: Vec<&str> = s.towns.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(towns, TOWNS);
    assert_eq!(s.settings.base_year, 2020);
    assert_eq!(s.settings.decision_year, 2027);
}

#[test]
fn the_calibrated_schedules_have_the_target_life_expectancy() {
    let s = load(DEFAULT);
    for (sex, target, m) in [("female", 86.3, &s.mortality.base.female), ("male", 81.5, &s.mortality.base.male)] {
        let SexMortality::GompertzMakeham { a, b, c, infant, infant_is_probability, e0_target } = m else {
            panic!("{sex}: expected a Gompertz–Makeham schedule");
        };
        assert_eq!(*e0_target, Some(target), "{sex}: calibrated to the wrong target");
        assert!(*infant_is_probability);
        // Recompute the life table from the resolved parameters (B as solved by the reader).
        let m0 = schedule::infant_rate_from_probability(infant.central());
        let hazards = schedule::gompertz_makeham(a.central(), b.central(), c.central(), m0);
        let e0 = schedule::life_expectancy(&hazards);
        assert!((e0 - target).abs() < 0.05, "{sex}: e0 {e0} vs target {target}");
    }
    // What every town runs with (no town overrides the city's mortality).
    for t in &s.towns {
        assert!(t.mortality.is_none(), "{}", t.id);
        assert!((t.expanded.e0_female - 86.3).abs() < 0.05, "{}: {}", t.id, t.expanded.e0_female);
        assert!((t.expanded.e0_male - 81.5).abs() < 0.05, "{}: {}", t.id, t.expanded.e0_male);
    }
}

#[test]
fn each_towns_2020_row_equals_its_base() {
    // DATA.md §0b's central 2020 estimates.
    let bases = [600_000.0, 450_000.0, 780_000.0, 500_000.0, 360_000.0];
    for name in [DEFAULT, SLOW, ON_TIME, REGISTERED_TFR] {
        let s = load(name);
        let (model, out) = central(&s);
        for (id, base) in TOWNS.iter().zip(bases) {
            let t = &s.towns[s.town_index(id).expect("town")];
            let total = t.population.total.as_ref().expect("a total").central();
            assert_eq!(total, base, "{name} {id}: the scenario's central base");
            let got = out.population[area(&model, id) * model.rows + row(&model, 2020)];
            assert!((got - base).abs() <= base * 1e-12, "{name} {id}: 2020 row {got} vs base {base}");
        }
        let all = out.population[area(&model, "all") * model.rows];
        assert!((all - 2_690_000.0).abs() < 1e-6, "{name}: {all}");
    }
}

// Shanghai's reported crude rates (统计公报, DATA.md §3b): CBR 4.67‰ / 3.95‰ / 4.75‰ and CDR
// 5.59‰ / 6.37‰ / 6.28‰ in 2021 / 2023 / 2024 (2022 published only its natural increase).
//
// Bounds, and why. Births: the towns are younger than the city (Qingpu district had 74.5 % of
// its residents at 15–59 against the city's 66.8 %, and the migrants arrive at 20–39), so at the
// city's fertility their CBR lies at or somewhat above the city's; we accept 3.0‰–7.5‰ — from
// a quarter below the city's lowest year to about 60 % above its highest. A CBR outside that
// band would mean the fertility level or the age structure is wrong (the registered TFR of 0.75
// applied to resident women would give ≈ 7‰). Deaths: the towns' 60+ share (16.6 % in Qingpu)
// is well below the city's 23.4 %, so their CDR must lie *below* the city's in each reported
// year, and above 3‰ (a population that young and that long-lived cannot die much more slowly).
// 6.28‰ is Shanghai's 2024 CDR, not τ.
#[allow(clippy::approx_constant)]
const CITY: [(i32, f64, f64); 3] = [(2021, 4.67, 5.59), (2023, 3.95, 6.37), (2024, 4.75, 6.28)];

#[test]
fn crude_birth_and_death_rates_2021_2024_match_shanghais_magnitude() {
    let s = load(DEFAULT);
    let (model, out) = central(&s);
    for year in 2021..=2024 {
        for id in TOWNS.iter().copied().chain(["all"]) {
            let (cbr, cdr) = crude_rates(&model, &out, area(&model, id), year);
            assert!((3.0..=7.5).contains(&cbr), "{id} {year}: CBR {cbr:.2}‰");
            assert!((3.0..=6.4).contains(&cdr), "{id} {year}: CDR {cdr:.2}‰");
        }
    }
    for (year, city_cbr, city_cdr) in CITY {
        let (cbr, cdr) = crude_rates(&model, &out, area(&model, "all"), year);
        assert!(cdr < city_cdr, "{year}: the five towns' CDR {cdr:.2}‰ should be below the city's {city_cdr}‰");
        assert!(cbr > 0.75 * city_cbr && cbr < 1.6 * city_cbr, "{year}: CBR {cbr:.2}‰ vs city {city_cbr}‰");
    }
}

/// A fragment that turns Qingpu's block into the whole city in 2020 (the city's census
/// structure and total, no migration): its births and deaths are then the city's under the
/// default's demography.
fn city_check(w: &Workdir, extra: &str) -> (f64, f64) {
    let frag = w.write(
        "city.toml",
        &format!(
            "[towns.qingpu.population]\nstructure = \"shanghai_2020\"\ntotal = {{ value = 24870895, source = \"2020 census\" }}\n\
             [towns.qingpu.migration]\nk = {{ value = 0, source = \"check\" }}\nrho = {{ value = 0, source = \"check\" }}\n{extra}"
        ),
    );
    let s = load_with(DEFAULT, &[frag]);
    let (model, out) = central(&s);
    let a = area(&model, "qingpu");
    let step = row(&model, 2021) - 1;
    (out.births[a * model.steps() + step], out.deaths[a * model.steps() + step])
}

#[test]
fn the_resident_tfr_reproduces_the_citys_births() {
    // The scenario's claim (demography.fertility): on the city's 2020 census structure, its
    // resident TFR gives the 11.6万 births and its mortality the 13.9万 deaths Shanghai reported
    // for 2021, while the registered TFR of 0.75 would give a third more births.
    let w = Workdir::new();
    let (births, deaths) = city_check(&w, "");
    assert!((births / 116_000.0 - 1.0).abs() < 0.05, "births 2021: {births:.0} vs 116,000 reported");
    assert!((deaths / 139_000.0 - 1.0).abs() < 0.10, "deaths 2021: {deaths:.0} vs 139,000 reported");
    let (births_075, _) = city_check(&w, "[demography.fertility]\ntfr0 = { value = 0.75, source = \"check\" }\n");
    assert!(births_075 / 116_000.0 > 1.25, "with TFR 0.75: {births_075:.0}");
}

/// p05 and p95 of the 2025 row of each area, from the run's population table.
fn band_2025(tables: &Tables, id: &str) -> (f64, f64) {
    let csv = tables.population();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap_or_else(|| panic!("no column {name}"));
    let (p05, p95) = (col("p05"), col("p95"));
    for line in lines {
        let f: Vec<&str> = line.split(',').collect();
        if f[0] == id && f[1] == "2025" {
            return (f[p05].parse().expect("p05"), f[p95].parse().expect("p95"));
        }
    }
    panic!("no 2025 row for {id}");
}

#[test]
fn the_reported_2025_waypoints_lie_inside_the_90_percent_band() {
    let s = load(DEFAULT);
    // The markers carry the reported waypoints (DATA.md §0a).
    for (id, value) in [("songjiang", 950_000.0), ("qingpu", 550_000.0), ("jiading", 700_000.0)] {
        let t = &s.towns[s.town_index(id).expect("town")];
        assert!(t.targets.iter().any(|x| x.year == 2025 && x.value == value), "{id}: no 2025 marker {value}");
    }
    let model = engine::compile(&s);
    let central_out = runner::central(&model).expect("central");
    let agg = runner::run(&model, s.settings.seed, 0..1000, 0, &|_| {}).expect("run");
    let tables = Tables { scenario: &s, model: &model, agg: &agg, central: &central_out, risk: s.settings.risk };
    for (id, waypoint) in
        [("songjiang", 950_000.0), ("qingpu", 550_000.0), ("jiading", 700_000.0), ("all", 3_600_000.0)]
    {
        let (p05, p95) = band_2025(&tables, id);
        assert!(p05 <= waypoint && waypoint <= p95, "{id}: 2025 waypoint {waypoint} outside [{p05}, {p95}]");
    }
    // The school capacity is estimated from the 2020 population and moves with it (shared key):
    // compulsory-school places (enrolment 1.0, 5 % spare) are never short in 2020.
    for res in ["primary_places", "junior_places"] {
        let r = s.resource_index(res).expect("resource");
        for a in 0..model.areas() {
            let facts = tables.shortfall_facts(a, r);
            assert_eq!(facts.probs[0], 0.0, "{res} in area {a}: P(shortfall 2020) = {}", facts.probs[0]);
        }
    }
}

#[test]
fn the_variants_do_what_they_say() {
    let targets_2035 = [1_000_000.0, 650_000.0, 1_100_000.0, 1_000_000.0, 1_000_000.0];
    let bases = [600_000.0, 450_000.0, 780_000.0, 500_000.0, 360_000.0];
    // The plan on time: the central variant passes every waypoint and target within 0.5 %.
    let s = load(ON_TIME);
    let (model, out) = central(&s);
    let pop = |m: &Model, o: &DrawOutput, id: &str, y: i32| o.population[area(m, id) * m.rows + row(m, y)];
    for (id, w) in [("songjiang", 950_000.0), ("qingpu", 550_000.0), ("jiading", 700_000.0), ("all", 3_600_000.0)] {
        let got = pop(&model, &out, id, 2025);
        assert!((got / w - 1.0).abs() < 0.005, "on time {id} 2025: {got:.0} vs {w}");
    }
    for (id, target) in TOWNS.iter().zip(targets_2035) {
        let got = pop(&model, &out, id, 2035);
        assert!((got / target - 1.0).abs() < 0.005, "on time {id} 2035: {got:.0} vs {target}");
    }
    // Every project delay is zero.
    for c in &s.capacity {
        for p in &c.projects {
            assert_eq!(p.delay.central(), 0.0, "{}.{}.{}", c.town, c.resource, p.id);
            assert!(!p.delay.is_random(), "{}.{}.{}", c.town, c.resource, p.id);
        }
    }
    // Slow attraction: the central variant reaches 55–65 % of the planned growth by 2035, and
    // the default lies between the two variants.
    let slow = load(SLOW);
    let (sm, so) = central(&slow);
    let default = load(DEFAULT);
    let (dm, dout) = central(&default);
    for ((id, target), base) in TOWNS.iter().zip(targets_2035).zip(bases) {
        let share = (pop(&sm, &so, id, 2035) - base) / (target - base);
        assert!((0.55..=0.65).contains(&share), "slow {id}: {:.0} % of the planned growth", share * 100.0);
        let d = pop(&dm, &dout, id, 2035);
        assert!(pop(&sm, &so, id, 2035) < d && d < target, "default {id} 2035: {d:.0}");
    }
}

fn generated_section<'a>(text: &'a str, name: &str) -> &'a str {
    let begin = format!("<!-- BEGIN GENERATED: {name}");
    let start = text.find(&begin).unwrap_or_else(|| panic!("no BEGIN marker for {name}"));
    let body = start + text[start..].find("-->\n").expect("end of the BEGIN marker") + 4;
    let end = text.find(&format!("<!-- END GENERATED: {name} -->")).unwrap_or_else(|| panic!("no END marker"));
    &text[body..end]
}

#[test]
fn the_readme_input_table_is_current() {
    let readme = std::fs::read_to_string(repo().join("scenarios").join("README.md")).expect("scenarios/README.md");
    // The script runs capsim from the repository root with this relative path: so do we, since
    // the table shows paths exactly as the command prints them.
    let w = Workdir::new();
    let mut cmd = w.capsim();
    cmd.current_dir(repo()).args(["validate", "scenarios/shanghai-new-towns.toml", "--sources"]);
    let out = cmd.assert().success();
    let table = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(
        generated_section(&readme, "inputs") == table,
        "scenarios/README.md's input table is stale: run `python3 scripts/scenario-readme.py`"
    );
}

#[test]
fn run_prints_the_shortfall_table() {
    let w = Workdir::new();
    let out =
        w.capsim().arg("run").arg(scenario_path(DEFAULT)).args(["--draws", "300", "--out", "out"]).assert().success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(stdout.contains("First year with P(shortfall) ≥ 0.2"), "{stdout}");
    let header = stdout.lines().nth(1).expect("header line");
    for id in TOWNS.iter().copied().chain(["all"]) {
        assert!(header.contains(id), "{header}");
    }
    let s = load(DEFAULT);
    for r in &s.resources {
        assert!(stdout.lines().any(|l| l.trim_start().starts_with(&format!("{} ", r.id))), "{}: {stdout}", r.id);
    }
    assert!(stdout.contains("300 draws, seed 20210223"), "{stdout}");
    assert!(Path::new(&w.path().join("out/summary.csv")).exists());
}
