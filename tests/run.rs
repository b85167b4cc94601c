//! `capsim run` over the binary: tables are written, identical for any thread count.

use crate::util::{Workdir, scenario};

fn run(w: &Workdir, out: &str, extra: &[&str]) {
    let mut c = w.capsim();
    c.arg("-q").arg("run").arg(scenario("example.toml")).args(["--draws", "300", "--seed", "7", "--out", out]);
    c.args(extra).assert().success();
}

const TABLES: [&str; 6] = [
    "population.csv",
    "population_age.csv",
    "summary.csv",
    "first_shortfall.csv",
    "first_shortfall_cdf.csv",
    "components.csv",
];

#[test]
fn tables_are_identical_for_one_and_two_threads() {
    let w = Workdir::new();
    run(&w, "t1", &["--threads", "1"]);
    run(&w, "t2", &["--threads", "2"]);
    for t in TABLES {
        assert_eq!(w.read(&format!("t1/{t}")), w.read(&format!("t2/{t}")), "{t} differs");
    }
}

#[test]
fn seeds_change_the_draws() {
    let w = Workdir::new();
    run(&w, "a", &[]);
    let mut c = w.capsim();
    c.arg("-q").arg("run").arg(scenario("example.toml")).args(["--draws", "300", "--seed", "8", "--out", "b"]);
    c.assert().success();
    assert_ne!(w.read("a/population.csv"), w.read("b/population.csv"));
}
