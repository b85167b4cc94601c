//! `capsim plan`: the schedule of a hand-computable case exactly; on the default scenario, the
//! plan re-run with `--with plan.toml` keeps every fixable year within the risk, and removing
//! any one recommended unit breaks some fixable year.

use std::collections::HashSet;

use capsim::scenario::{self, Diagnostics, tree};
use capsim::{engine, runner};

use crate::util::{Workdir, repo, scenario as shipped};

/// One town of people aged 50–59 joined by 1,000 newcomers aged 50 a year: nobody is of
/// childbearing age and nobody reaches 100 (the only age with a hazard), so
/// demand = population = 10,000 + 1,000·(t − 2020); capacity 12,500; a unit is 1,000 places
/// decided two years before it opens, with no delay.
const LINEAR: &str = r#"
name = "linear"
[settings]
base_year = 2020
end_year = 2030
draws = 20
seed = 3
risk = 0.2
decision_year = 2022
[demography.mortality]
delta = 0
female = { table = [ZEROS, 1] }
male = { table = [ZEROS, 1] }
[demography.fertility]
tfr0 = 1
srb = 105
schedule = { mean_age = 30, sd_age = 5 }
[demography.migration]
k = 0
rho = 0
n_fix = 1000
profile = { table = [PROFILE] }
[towns.a]
name = "A"
streets = 1
[towns.a.population]
age_groups = [[0, 49], [50, 59], [60, 100]]
female = [0, 5000, 0]
male = [0, 5000, 0]
[resources.places]
name = "places"
unit = "places"
kind = "per_capita"
per = 1
[resources.places.build]
name = "school"
unit = 1000
lead_time = 2
[capacity.a.places]
base = 12500
"#;

fn linear() -> String {
    let zeros = vec!["0"; 100].join(", ");
    let profile: Vec<&str> = (0..=100).map(|x| if x == 50 { "1" } else { "0" }).collect();
    LINEAR.replace("ZEROS", &zeros).replace("PROFILE", &profile.join(", "))
}

#[test]
fn a_hand_computable_schedule_exactly() {
    let w = Workdir::new();
    w.write("linear.toml", &linear());
    w.capsim().args(["-q", "plan", "linear.toml", "--out", "p", "--no-charts"]).assert().success();
    // Needs by year (units of 1,000 over 12,500): 2023: 500 → 1, 2024: 1,500 → 2, 2025: 2,500 → 3,
    // 2026: 4, 2027: 5, 2028: 6, 2029: 7, 2030: 8. Decisions from 2022 open from 2024, so 2023
    // is unavoidable (risk 1); 2024 needs 2 units decided in 2022; then one more a year, each
    // decided as late as it can be (two years before the year it is needed).
    let mut want = String::from(
        "town,resource,decision_year,planned_open_year,units,amount,cost,fixes_year,risk_before,risk_after\n\
         a,places,,,0,0,,2023,1.0000,1.0000\n\
         a,places,2022,2024,2,2000,,2024,1.0000,0.0000\n",
    );
    for y in 2023..=2028 {
        want.push_str(&format!("a,places,{y},{},1,1000,,{},1.0000,0.0000\n", y + 2, y + 2));
    }
    assert_eq!(w.read("p/plan.csv"), want);
    // The fragment adds exactly these projects.
    let toml = w.read("p/plan.toml");
    assert!(toml.contains("[capacity.a.places.projects.capsim_plan_2022]\n"));
    assert!(toml.contains("amount = 2000\nyear = 2024\ndelay = 0\n"));
    assert_eq!(toml.matches("[capacity.").count(), 7);
}

/// Loads a scenario with a fragment (text) over it.
fn load_with(path: &std::path::Path, fragment: Option<&str>) -> scenario::Scenario {
    let mut d = Diagnostics::default();
    let mut doc = tree::load_document(path, &[], &mut d).expect("scenario");
    if let Some(f) = fragment {
        assert!(tree::overlay_text(&mut doc, "plan.toml", f, &mut d), "{d:?}");
    }
    scenario::from_document(&doc).unwrap_or_else(|e| panic!("{e}"))
}

/// P(shortfall) of every town × resource × row, run as `capsim run` would.
fn risks(s: &scenario::Scenario, seed: u64, draws: u64) -> (engine::Model, Vec<f64>) {
    let m = engine::compile(s);
    let agg = runner::run(&m, seed, 0..draws, 2, &|_| {}).unwrap();
    let n = agg.draws as f64;
    let r = agg.shortfall.iter().map(|&c| c as f64 / n).collect();
    (m, r)
}

struct PlanRow {
    town: String,
    resource: String,
    decision: Option<i32>,
    units: u32,
    fixes: i32,
}

fn read_plan(text: &str) -> Vec<PlanRow> {
    text.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            PlanRow {
                town: f[0].into(),
                resource: f[1].into(),
                decision: f[2].parse().ok(),
                units: f[4].parse().unwrap(),
                fixes: f[7].parse().unwrap(),
            }
        })
        .collect()
}

#[test]
fn the_default_plan_holds_when_rerun_and_no_unit_can_be_removed() {
    const DRAWS: u64 = 200;
    const SEED: u64 = 77;
    let w = Workdir::new();
    let path = shipped("shanghai-new-towns.toml");
    w.capsim()
        .args(["-q", "plan"])
        .arg(&path)
        .args(["--draws", &DRAWS.to_string(), "--seed", &SEED.to_string(), "--out", "p", "--no-charts"])
        .assert()
        .success();
    let plan = read_plan(&w.read("p/plan.csv"));
    let fragment = w.read("p/plan.toml");
    let base = load_with(&path, None);
    let from = base.settings.decision_year;
    let risk = base.settings.risk;
    let unavoidable: HashSet<(String, String, i32)> =
        plan.iter().filter(|r| r.units == 0).map(|r| (r.town.clone(), r.resource.clone(), r.fixes)).collect();
    let lead_of = |res: usize| capsim::plan::build_of(&base, res).lead_time;

    // 1. Re-run with plan.toml: every fixable year within the risk.
    let with = load_with(&path, Some(&fragment));
    let (m, after) = risks(&with, SEED, DRAWS);
    let nr = m.resources.len();
    let fixable = |t: usize, r: usize, row: usize| {
        let year = m.year(row);
        year >= from + lead_of(r) && !unavoidable.contains(&(m.towns[t].id.clone(), m.resources[r].id.clone(), year))
    };
    let mut checked = 0;
    for t in 0..m.towns.len() {
        for r in 0..nr {
            for row in 0..m.rows {
                if fixable(t, r, row) {
                    let p = after[(t * nr + r) * m.rows + row];
                    assert!(p <= risk + 1e-12, "{} {} {}: P = {p}", m.towns[t].id, m.resources[r].id, m.year(row));
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 500, "checked {checked} fixable years");

    // 2. Removing any one unit breaks some fixable year of its town × resource. One run per
    // batch would take long: check every batch of two resources in full and a spread of the rest.
    let batches: Vec<&PlanRow> = plan.iter().filter(|r| r.units > 0).collect();
    assert!(!batches.is_empty());
    let sample: Vec<&&PlanRow> = batches
        .iter()
        .enumerate()
        .filter(|(i, b)| b.resource == "primary_places" || b.resource == "hospital_beds" || i % 9 == 0)
        .map(|(_, b)| b)
        .collect();
    for b in sample {
        let header = format!("[capacity.{}.{}.projects.capsim_plan_{}]", b.town, b.resource, b.decision.unwrap());
        let start = fragment.find(&header).expect("batch in plan.toml");
        let amount_at = start + fragment[start..].find("amount = ").unwrap() + "amount = ".len();
        let end = amount_at + fragment[amount_at..].find('\n').unwrap();
        let amount: f64 = fragment[amount_at..end].parse().unwrap();
        let unit = amount / f64::from(b.units);
        let less = format!("{}{}{}", &fragment[..amount_at], amount - unit, &fragment[end..]);
        let s = load_with(&path, Some(&less));
        let (m, r) = risks(&s, SEED, DRAWS);
        let (t, res) = (s.town_index(&b.town).unwrap(), s.resource_index(&b.resource).unwrap());
        let broken = (0..m.rows).any(|row| fixable(t, res, row) && r[(t * nr + res) * m.rows + row] > risk);
        assert!(broken, "removing one unit of {} {} decided {:?} breaks no year", b.town, b.resource, b.decision);
    }
    let _ = repo();
}

#[test]
fn bad_plan_arguments_exit_2() {
    let w = Workdir::new();
    for args in [
        &["--risk", "0"][..],
        &["--risk", "1.5"],
        &["--from", "1999"],
        &["--from", "2050"],
        &["--draws", "0"],
        &["--risk", "x"],
    ] {
        w.capsim().arg("plan").arg(shipped("example.toml")).args(args).args(["--out", "p"]).assert().code(2);
        assert!(!w.path().join("p").exists());
    }
}
