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

/// The tables are built side by side on the caller's pool: in their fixed order, and the same
/// bytes however many workers build them.
#[test]
fn table_files_come_in_order_and_do_not_depend_on_the_pool() {
    let s = capsim::scenario::load(&scenario("example.toml"), &[]).unwrap();
    let model = capsim::engine::compile(&s);
    let central = capsim::runner::central(&model).unwrap();
    let agg = capsim::runner::run(&model, 7, 0..300, 1, &|_| {}).unwrap();
    let tables = capsim::report::Tables { scenario: &s, model: &model, agg: &agg, central: &central, risk: 0.2 };
    let one = capsim::runner::pool(1).unwrap().install(|| capsim::report::table_files(&tables));
    let names: Vec<&str> = one.iter().map(|f| f.0.as_str()).collect();
    assert_eq!(names, TABLES);
    for threads in [2, 3, 6] {
        let many = capsim::runner::pool(threads).unwrap().install(|| capsim::report::table_files(&tables));
        assert!(many == one, "{threads} workers");
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
