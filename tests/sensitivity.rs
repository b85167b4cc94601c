//! `capsim sweep` and `capsim sensitivity` over the binary, on small one-town fixtures whose
//! answers are known: an input that cannot matter gets zero indices, an output driven by one
//! input gets S1 ≈ ST ≈ 1 for it, a larger migration target brings the bed shortfall no later.

use std::collections::HashMap;

use crate::util::{Workdir, scenario};

/// A one-town scenario, 2020–2030, hospital beds only. `K`, `BEDS`, `SIGMA_M` and `SIGMA_K`
/// are filled in by the tests. The project `later` opens in 2030 with a delay of at least one
/// year, so neither its amount nor its delay can change anything before the end year.
const FIXTURE: &str = r#"
name = { en = "Sensitivity fixture: one town" }
source = "assumption: test fixture"

[settings]
base_year = 2020
end_year = 2030
draws = 100
seed = 7

[demography.mortality]
delta = 0.01
sigma_k = SIGMA_K

[demography.mortality.female]
a = 0.0001
b = 2.0e-5
c = 0.1
infant_rate = 0.002

[demography.mortality.male]
a = 0.0002
b = 2.5e-5
c = 0.1
infant_rate = 0.0025

[demography.fertility]
tfr0 = 1.0
tfr_star = 1.0
phi = 0.2
sigma_f = 0
srb = 107
schedule = { mean_age = 31, sd_age = 5.5 }

[demography.migration]
c = 0.5
rho = 0.2
sigma_m = SIGMA_M
female_share = 0.5

[demography.migration.profile]
a1 = 0.02
alpha1 = 0.1
a2 = 0.06
alpha2 = 0.1
mu2 = 26
lambda2 = 0.4
c0 = 0.001

[towns.t]
name = { en = "Test Town" }
streets = 5

[towns.t.population]
age_groups = [[0, 14], [15, 59], [60, 100]]
female = [20000, 80000, 20000]
male = [20000, 80000, 20000]

[towns.t.migration]
k = K_TARGET

[resources.hospital_beds]
name = { en = "Hospital beds" }
unit = { en = "beds" }
kind = "per_capita"
per_1000 = 6

[capacity.t]
hospital_beds = { base = BEDS, projects = { later = { amount = { uniform = [100, 500] }, year = 2030, delay = { uniform = [1, 3] } } } }
"#;

pub fn fixture(k: &str, beds: &str, sigma_m: &str, sigma_k: &str) -> String {
    FIXTURE.replace("K_TARGET", k).replace("BEDS", beds).replace("SIGMA_M", sigma_m).replace("SIGMA_K", sigma_k)
}

/// The default fixture: K and the bed capacity uncertain, no shocks.
fn write_default(w: &Workdir) {
    w.write("s.toml", &fixture("{ uniform = [300000, 500000] }", "{ uniform = [1500, 2500] }", "0", "0"));
}

/// Rows of a CSV as maps from column name to value.
pub fn rows(text: &str) -> Vec<HashMap<String, String>> {
    let mut lines = text.lines();
    let header: Vec<String> = lines.next().expect("header").split(',').map(String::from).collect();
    lines.map(|l| header.iter().cloned().zip(l.split(',').map(String::from)).collect()).collect()
}

fn num(r: &HashMap<String, String>, col: &str) -> f64 {
    r[col].parse().unwrap_or_else(|_| panic!("{col} = {} is not a number", r[col]))
}

fn index<'a>(
    rows: &'a [HashMap<String, String>],
    town: &str,
    output: &str,
    input: &str,
) -> &'a HashMap<String, String> {
    rows.iter()
        .find(|r| r["town"] == town && r["output"] == output && r["input"] == input)
        .unwrap_or_else(|| panic!("no row for {town} {output} {input}"))
}

// ---- sensitivity ----------------------------------------------------------------------------

fn sensitivity(w: &Workdir, out: &str, extra: &[&str]) {
    let mut c = w.capsim();
    c.args(["-q", "sensitivity", "s.toml", "--out", out]).args(extra);
    c.assert().success();
}

#[test]
fn an_input_without_effect_gets_zero_and_a_single_driver_gets_one() {
    let w = Workdir::new();
    write_default(&w);
    sensitivity(&w, "o", &["--samples", "256"]);
    let idx = rows(&w.read("o/indices.csv"));
    assert_eq!(idx.len(), 2 * 3 * 4, "2 areas × 3 outputs × 4 inputs");
    for town in ["t", "all"] {
        // The end-year population depends on K alone: S1 ≈ ST ≈ 1 for K, exactly 0 for the rest.
        let k = index(&idx, town, "population_end", "towns.t.migration.k");
        assert!(num(k, "S1") > 0.97 && num(k, "ST") > 0.97, "{k:?}");
        assert!(num(k, "S1") < 1.03 && num(k, "ST") < 1.03, "{k:?}");
        assert_eq!(num(index(&idx, town, "population_end", "capacity.t.hospital_beds.base"), "ST"), 0.0);
        // The 2030 project opens after the end year whatever its delay: no effect on anything.
        for output in ["population_end", "gap_end:hospital_beds", "first_year:hospital_beds"] {
            for input in
                ["capacity.t.hospital_beds.projects.later.amount", "capacity.t.hospital_beds.projects.later.delay"]
            {
                let r = index(&idx, town, output, input);
                assert_eq!((num(r, "S1"), num(r, "ST")), (0.0, 0.0), "{r:?}");
            }
        }
        // The gap depends on both K and the capacity: both matter, and total ≥ first order.
        for input in ["towns.t.migration.k", "capacity.t.hospital_beds.base"] {
            let r = index(&idx, town, "gap_end:hospital_beds", input);
            assert!(num(r, "ST") > 0.2, "{r:?}");
        }
    }
    assert_eq!(rows(&w.read("o/indices.csv"))[0]["method"], "sobol");
    for f in ["tornado_t.png", "tornado_all.png", "run.json"] {
        assert!(w.path().join("o").join(f).exists(), "{f} missing");
    }
    let png = std::fs::read(w.path().join("o/tornado_t.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let info: serde_json::Value = serde_json::from_str(&w.read("o/run.json")).unwrap();
    assert_eq!(info["model_runs"], 256 * 6);
    assert_eq!(info["inputs"].as_array().unwrap().len(), 4);
}

#[test]
fn morris_screens_out_the_inputs_without_effect() {
    let w = Workdir::new();
    write_default(&w);
    sensitivity(&w, "m", &["--method", "morris", "--samples", "10"]);
    let text = w.read("m/indices.csv");
    assert!(text.starts_with("method,town,output,input,mu_star,sigma,mu\n"), "{text}");
    let idx = rows(&text);
    let k = index(&idx, "t", "population_end", "towns.t.migration.k");
    assert!(num(k, "mu_star") > 10_000.0, "{k:?}");
    // K only raises the population: every elementary effect is positive, μ = μ*.
    assert_eq!(num(k, "mu"), num(k, "mu_star"));
    let later = index(&idx, "t", "gap_end:hospital_beds", "capacity.t.hospital_beds.projects.later.amount");
    assert_eq!((num(later, "mu_star"), num(later, "sigma")), (0.0, 0.0));
    // More capacity never widens the gap.
    let base = index(&idx, "t", "gap_end:hospital_beds", "capacity.t.hospital_beds.base");
    assert!(num(base, "mu") < 0.0, "{base:?}");
}

#[test]
fn shocks_are_one_input_per_active_process() {
    let w = Workdir::new();
    w.write("s.toml", &fixture("400000", "2200", "0.3", "0"));
    sensitivity(&w, "o", &["--samples", "64"]);
    let idx = rows(&w.read("o/indices.csv"));
    let inputs: Vec<&str> = idx
        .iter()
        .filter(|r| r["town"] == "t" && r["output"] == "population_end")
        .map(|r| r["input"].as_str())
        .collect();
    // σ_k = σ_F = 0: their shocks cannot matter and are left out; σ_m > 0 brings the group in.
    assert_eq!(
        inputs,
        [
            "capacity.t.hospital_beds.projects.later.amount",
            "capacity.t.hospital_beds.projects.later.delay",
            "shocks:migration"
        ]
    );
    let shocks = index(&idx, "t", "population_end", "shocks:migration");
    assert!(num(shocks, "ST") > 0.9, "the only input that moves the population: {shocks:?}");
}

#[test]
fn exported_samples_reproduce_the_indices() {
    let w = Workdir::new();
    write_default(&w);
    sensitivity(&w, "o", &["--samples", "64", "--export-samples"]);
    let inputs = w.read("o/samples_inputs.csv");
    let outputs = w.read("o/samples_outputs.csv");
    let (n, k) = (64, 4);
    assert_eq!(inputs.lines().count(), 1 + n * (k + 2));
    assert_eq!(outputs.lines().count(), 1 + n * (k + 2));
    assert_eq!(
        inputs.lines().next().unwrap(),
        "towns.t.migration.k,capacity.t.hospital_beds.base,capacity.t.hospital_beds.projects.later.amount,\
         capacity.t.hospital_beds.projects.later.delay"
    );
    let header: Vec<&str> = outputs.lines().next().unwrap().split(',').collect();
    assert_eq!(header[0], "t/population_end");
    assert!(header.contains(&"all/first_year:hospital_beds"));
    // Recompute S1 and ST of one output from the exported values alone.
    let col = header.iter().position(|h| *h == "t/gap_end:hospital_beds").unwrap();
    let y: Vec<f64> = outputs.lines().skip(1).map(|l| l.split(',').nth(col).unwrap().parse().unwrap()).collect();
    let est = capsim::sensitivity::sobol::estimate(&y, n, k, 10, 1).unwrap();
    let idx = rows(&w.read("o/indices.csv"));
    let r = index(&idx, "t", "gap_end:hospital_beds", "towns.t.migration.k");
    assert!((num(r, "S1") - est[0].s1).abs() < 1e-4 && (num(r, "ST") - est[0].st).abs() < 1e-4);
    // Every u lies strictly inside (0, 1).
    for l in inputs.lines().skip(1) {
        for u in l.split(',') {
            let u: f64 = u.parse().unwrap();
            assert!(u > 0.0 && u < 1.0);
        }
    }
}

#[test]
fn indices_do_not_depend_on_threads_but_on_the_seed() {
    let w = Workdir::new();
    write_default(&w);
    sensitivity(&w, "t1", &["--samples", "32", "--threads", "1"]);
    sensitivity(&w, "t2", &["--samples", "32", "--threads", "2"]);
    sensitivity(&w, "s2", &["--samples", "32", "--seed", "99"]);
    assert_eq!(w.read("t1/indices.csv"), w.read("t2/indices.csv"));
    assert_ne!(w.read("t1/indices.csv"), w.read("s2/indices.csv"));
}

#[test]
fn small_samples_warn_about_wide_intervals() {
    let w = Workdir::new();
    write_default(&w);
    let mut c = w.capsim();
    c.args(["sensitivity", "s.toml", "--out", "o", "--samples", "8"]);
    let out = c.assert().success().get_output().clone();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("wider than 0.1"), "{err}");
    assert!(err.contains("Quadruple --samples"), "{err}");
}

#[test]
fn sensitivity_refuses_bad_arguments_and_writes_nothing() {
    let w = Workdir::new();
    write_default(&w);
    w.write(
        "fixed.toml",
        &fixture("400000", "2200", "0", "0").replace(
            "amount = { uniform = [100, 500] }, year = 2030, delay = { uniform = [1, 3] }",
            "amount = 100, year = 2030",
        ),
    );
    let cases: [(&[&str], &str); 7] = [
        (&["s.toml", "--samples", "1000"], "power of two"),
        (&["s.toml", "--samples", "1073741824"], "GB of memory"),
        (&["s.toml", "--samples", "2"], "power of two"),
        (&["s.toml", "--levels", "4"], "--levels applies to --method morris"),
        (&["s.toml", "--method", "morris", "--samples", "1"], "at least 2 trajectories"),
        (&["missing.toml"], "missing.toml"),
        (&["fixed.toml", "--samples", "8"], "no random inputs"),
    ];
    for (args, message) in cases {
        let mut c = w.capsim();
        c.arg("sensitivity").args(args).args(["--out", "never"]);
        let out = c.assert().code(2).get_output().clone();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(message), "{args:?}: {err}");
        assert!(!w.path().join("never").exists(), "{args:?} wrote output");
    }
}

// ---- sweep ----------------------------------------------------------------------------------

fn sweep_fixture(w: &Workdir) {
    w.write("sw.toml", &fixture("{ normal = { mean = 400000, sd = 30000 } }", "2200", "0.2", "0.01"));
}

#[test]
fn a_larger_migration_target_brings_the_bed_shortfall_no_later() {
    let w = Workdir::new();
    sweep_fixture(&w);
    let mut c = w.capsim();
    c.args(["-q", "sweep", "sw.toml", "--param", "towns.t.migration.k.mean", "--values", "300000..600000:7"]);
    c.args(["--draws", "200", "--out", "o"]).assert().success();
    let csv = w.read("o/sweep.csv");
    assert!(
        csv.starts_with("towns.t.migration.k.mean,town,resource,first_year_risk,prob_by_end,gap_mean,population_p50\n")
    );
    let all = rows(&csv);
    assert_eq!(all.len(), 7 * 2, "7 points × (t, all) × 1 resource");
    for town in ["t", "all"] {
        let pts: Vec<&HashMap<String, String>> = all.iter().filter(|r| r["town"] == town).collect();
        let year = |r: &HashMap<String, String>| match r["first_year_risk"].as_str() {
            "none" => i32::MAX,
            y => y.parse().unwrap(),
        };
        for pair in pts.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            assert!(num(b, "towns.t.migration.k.mean") > num(a, "towns.t.migration.k.mean"));
            assert!(year(b) <= year(a), "larger K, later shortfall: {a:?} → {b:?}");
            assert!(num(b, "prob_by_end") >= num(a, "prob_by_end"), "{a:?} → {b:?}");
            assert!(num(b, "population_p50") > num(a, "population_p50"));
        }
        // And the sweep does move it: none at the smallest target, a year at the largest.
        assert_eq!(pts[0]["first_year_risk"], "none");
        assert!(year(pts[6]) <= 2025, "{:?}", pts[6]);
    }
    assert!(w.path().join("o/sweep_hospital_beds.png").exists());
}

#[test]
fn a_sweep_point_is_exactly_the_run_of_the_edited_scenario() {
    let w = Workdir::new();
    sweep_fixture(&w);
    let mut c = w.capsim();
    c.args(["-q", "sweep", "sw.toml", "--param", "towns.t.migration.k.mean", "--values", "380000,450000"]);
    c.args(["--draws", "150", "--seed", "11", "--out", "o"]).assert().success();
    w.write("k450.toml", "[towns.t.migration]\nk = { normal = { mean = 450000, sd = 30000 } }\n");
    let mut c = w.capsim();
    c.args(["-q", "run", "sw.toml", "--with", "k450.toml", "--draws", "150", "--seed", "11", "--out", "r"]);
    c.assert().success();
    let first = rows(&w.read("r/first_shortfall.csv"));
    let summary = rows(&w.read("r/summary.csv"));
    let population = rows(&w.read("r/population.csv"));
    let sweep = rows(&w.read("o/sweep.csv"));
    for town in ["t", "all"] {
        let s = sweep.iter().find(|r| r["town"] == town && r["towns.t.migration.k.mean"] == "450000").unwrap();
        let f = first.iter().find(|r| r["town"] == town).unwrap();
        assert_eq!(s["first_year_risk"], f["first_year_risk"]);
        assert_eq!(s["prob_by_end"], f["prob_by_end"]);
        let g = summary.iter().find(|r| r["town"] == town && r["year"] == "2030").unwrap();
        assert_eq!(s["gap_mean"], g["gap_mean"]);
        let p = population.iter().find(|r| r["town"] == town && r["year"] == "2030").unwrap();
        assert_eq!(s["population_p50"], p["p50"]);
    }
}

#[test]
fn a_grid_of_two_paths_has_a_row_per_point_town_and_resource() {
    let w = Workdir::new();
    sweep_fixture(&w);
    let mut c = w.capsim();
    c.args(["-q", "sweep", "sw.toml", "--param", "towns.t.migration.k.mean", "--values", "350000,450000,550000"]);
    c.args(["--param", "capacity.t.hospital_beds.projects.later.year", "--values", "2024.5,2027"]);
    c.args(["--draws", "64", "--out", "g", "--threads", "1"]).assert().success();
    let csv = w.read("g/sweep.csv");
    let all = rows(&csv);
    assert_eq!(all.len(), 3 * 2 * 2);
    assert!(csv.starts_with("towns.t.migration.k.mean,capacity.t.hospital_beds.projects.later.year,town,"));
    // Years are rounded half up: 2024.5 → 2025.
    let years: Vec<&str> = all.iter().map(|r| r["capacity.t.hospital_beds.projects.later.year"].as_str()).collect();
    assert_eq!(&years[..4], ["2025", "2025", "2027", "2027"]);
    assert!(w.path().join("g/sweep_hospital_beds.png").exists());
    // Same sweep on two threads: identical.
    let mut c = w.capsim();
    c.args(["-q", "sweep", "sw.toml", "--param", "towns.t.migration.k.mean", "--values", "350000,450000,550000"]);
    c.args(["--param", "capacity.t.hospital_beds.projects.later.year", "--values", "2024.5,2027"]);
    c.args(["--draws", "64", "--out", "g2", "--threads", "2"]).assert().success();
    assert_eq!(csv, w.read("g2/sweep.csv"));
}

#[test]
fn sweep_refuses_bad_paths_and_lists_and_writes_nothing() {
    let w = Workdir::new();
    sweep_fixture(&w);
    let k = "towns.t.migration.k.mean";
    let cases: [(&[&str], &str); 12] = [
        (&["--param", "towns.t.migration.kk.mean", "--values", "1,2"], "nearest valid paths: towns.t.migration.k.mean"),
        (&["--param", "towns.nowhere.k", "--values", "1,2"], "unknown path `towns.nowhere.k`"),
        (&["--param", k, "--values", "1.."], "`1..` is not a range of the form `low..high:n`"),
        (&["--param", k, "--values", "a,b"], "`a` is not a number"),
        (&["--param", k, "--values", "1,1"], "1 appears twice"),
        (&["--param", k, "--values", "5..1:0"], "a range needs n ≥ 2"),
        (&["--param", "capacity.t.hospital_beds.projects.later.year", "--values", "2024.6,2025.4"], "after rounding"),
        (&["--param", k, "--values", "1,2", "--param", "settings.risk"], "its own --values"),
        (&["--param", k, "--values", "1,2", "--param", k, "--values", "3,4"], "given twice"),
        (&["--param", "settings.seed", "--values", "1,2"], "cannot be swept"),
        (&["--param", "towns.t.migration.k.sd", "--values", "-1,100"], "at sweep point towns.t.migration.k.sd = -1"),
        (&["--param", k, "--values", "1,2", "--draws", "0"], "at least one draw"),
    ];
    for (args, message) in cases {
        let mut c = w.capsim();
        c.args(["sweep", "sw.toml", "--out", "never"]).args(args);
        let out = c.assert().code(2).get_output().clone();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(message), "{args:?}: {err}");
        assert!(!w.path().join("never").exists(), "{args:?} wrote output");
    }
}

#[test]
fn sweep_table_is_pinned() {
    // Pinned golden values (seeded draws): a change here changes published numbers.
    let w = Workdir::new();
    sweep_fixture(&w);
    let mut c = w.capsim();
    c.args(["-q", "sweep", "sw.toml", "--param", "settings.risk", "--values", "0.1..0.9:3"]);
    c.args(["--draws", "64", "--out", "p"]).assert().success();
    insta::assert_snapshot!("sweep_risk_fixture", w.read("p/sweep.csv"));
}

#[test]
fn sweep_runs_on_the_example_scenario() {
    let w = Workdir::new();
    let mut c = w.capsim();
    c.arg("sweep").arg(scenario("example.toml"));
    c.args(["--param", "resources.hospital_beds.per_1000.high", "--values", "7.5,9", "--draws", "64", "--out", "e"]);
    let out = c.assert().success().get_output().clone();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("All towns: first year with P(shortfall) ≥ 0.2"), "{stdout}");
    let csv = w.read("e/sweep.csv");
    assert_eq!(rows(&csv).len(), 2 * 6 * 10, "2 points × 6 areas × 10 resources");
    for r in ["hospital_beds", "chs_centres", "elderly_care_floor_m2"] {
        assert!(w.path().join(format!("e/sweep_{r}.png")).exists());
    }
}
