//! The charts of `capsim sweep` (`sweep_<resource>.png`) and `capsim sensitivity`
//! (`tornado_<town>.png`): they decode at their size and are not blank; the numbers behind
//! them are `sweep.csv`'s and `indices.csv`'s; the chart flags work as on `run` (`--no-charts`,
//! `--lang`, `--chart-size`, bad values exit 2 with nothing written); the bytes do not depend
//! on the run or the thread count; five towns × 24 services lay out without a text overlapping
//! another or leaving the canvas.

use std::collections::HashMap;
use std::path::Path;

use capsim::engine;
use capsim::report::charts::{ChartOptions, sweep as sweep_chart, tornado};
use capsim::report::tables::fixed;
use capsim::report::{Lang, charts};
use capsim::scenario::{self, Diagnostics, tree};
use capsim::sensitivity::{self, Method, Settings, sobol, sweep};

use crate::charts::check_png;
use crate::sensitivity::{fixture, rows};
use crate::util::{Workdir, scenario};

const K: &str = "towns.t.migration.k.mean";

/// The one-town sweep fixture of tests/sensitivity.rs (K normal, shocks on).
fn sweep_fixture(w: &Workdir) {
    w.write("sw.toml", &fixture("{ normal = { mean = 400000, sd = 30000 } }", "2200", "0.2", "0.01"));
}

/// The one-town sensitivity fixture: K and the bed capacity uncertain, no shocks.
fn sensitivity_fixture(w: &Workdir) {
    w.write("s.toml", &fixture("{ uniform = [300000, 500000] }", "{ uniform = [1500, 2500] }", "0", "0"));
}

fn sweep_args(out: &str) -> Vec<String> {
    ["-q", "sweep", "sw.toml", "--param", K, "--values", "350000..550000:4", "--draws", "64", "--out", out]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

fn capsim_ok(w: &Workdir, args: &[String], extra: &[&str]) {
    w.capsim().args(args).args(extra).assert().success();
}

/// The PNG files in a directory, sorted.
fn pngs(w: &Workdir, dir: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(w.path().join(dir))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with(".png"))
        .collect();
    v.sort();
    v
}

fn bytes(w: &Workdir, dir: &str, name: &str) -> Vec<u8> {
    std::fs::read(w.path().join(dir).join(name)).unwrap_or_else(|e| panic!("{dir}/{name}: {e}"))
}

/// Checks every PNG of a directory: its width, a height of at least `size.1` (exactly, unless
/// `grows`), and that it is not blank.
fn check_pngs(w: &Workdir, dir: &str, size: (u32, u32), grows: bool) {
    for name in pngs(w, dir) {
        check_png(&format!("{dir}/{name}"), &bytes(w, dir, &name), size, grows);
    }
}

/// Runs the same command twice and checks the PNGs are byte-identical; returns their names.
fn same_bytes(w: &Workdir, a: &str, b: &str) -> Vec<String> {
    let names = pngs(w, a);
    assert!(!names.is_empty());
    assert_eq!(names, pngs(w, b));
    for n in &names {
        assert!(bytes(w, a, n) == bytes(w, b, n), "{n} differs between {a} and {b}");
    }
    names
}

#[test]
fn sweep_charts_follow_the_chart_flags() {
    let w = Workdir::new();
    sweep_fixture(&w);
    capsim_ok(&w, &sweep_args("a"), &["--threads", "1"]);
    capsim_ok(&w, &sweep_args("b"), &["--threads", "2"]);
    assert_eq!(same_bytes(&w, "a", "b"), ["sweep_hospital_beds.png"]);
    check_pngs(&w, "a", (1600, 1000), false);
    let run_json = w.read("a/run.json");
    assert!(run_json.contains("\"sweep_hospital_beds.png\""), "{run_json}");

    // Chinese: the same file names, other pixels.
    capsim_ok(&w, &sweep_args("zh"), &["--lang", "zh"]);
    assert_eq!(pngs(&w, "zh"), pngs(&w, "a"));
    check_pngs(&w, "zh", (1600, 1000), false);
    assert!(bytes(&w, "zh", "sweep_hospital_beds.png") != bytes(&w, "a", "sweep_hospital_beds.png"));

    capsim_ok(&w, &sweep_args("s"), &["--chart-size", "1200x800"]);
    check_pngs(&w, "s", (1200, 800), false);

    capsim_ok(&w, &sweep_args("n"), &["--no-charts"]);
    assert!(pngs(&w, "n").is_empty());
    assert!(!w.read("n/run.json").contains(".png"));
    assert_eq!(w.read("n/sweep.csv"), w.read("a/sweep.csv"), "the charts do not change the table");

    // A grid of two paths: heatmaps, also reproducible.
    let grid = |out: &str| {
        let mut a = sweep_args(out);
        a.extend(
            ["--param", "capacity.t.hospital_beds.projects.later.year", "--values", "2024,2027"].map(String::from),
        );
        a
    };
    capsim_ok(&w, &grid("g1"), &["--threads", "1"]);
    capsim_ok(&w, &grid("g2"), &["--threads", "2", "--lang", "zh"]);
    capsim_ok(&w, &grid("g3"), &["--threads", "2"]);
    same_bytes(&w, "g1", "g3");
    check_pngs(&w, "g1", (1600, 1000), false);
    check_pngs(&w, "g2", (1600, 1000), false);
    assert!(bytes(&w, "g1", "sweep_hospital_beds.png") != bytes(&w, "a", "sweep_hospital_beds.png"));
    assert!(bytes(&w, "g1", "sweep_hospital_beds.png") != bytes(&w, "g2", "sweep_hospital_beds.png"));
}

#[test]
fn sensitivity_charts_follow_the_chart_flags() {
    let w = Workdir::new();
    sensitivity_fixture(&w);
    let args = |out: &str, extra: &[&str]| {
        let mut a: Vec<String> = ["-q", "sensitivity", "s.toml", "--out", out].iter().map(|s| s.to_string()).collect();
        if !extra.contains(&"--samples") {
            a.extend(["--samples", "16"].map(String::from));
        }
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    capsim_ok(&w, &args("a", &["--threads", "1"]), &[]);
    capsim_ok(&w, &args("b", &["--threads", "2"]), &[]);
    assert_eq!(same_bytes(&w, "a", "b"), ["tornado_all.png", "tornado_t.png"]);
    // The tornado grows with its outputs; with two here it keeps the requested size.
    check_pngs(&w, "a", (1600, 1000), false);

    capsim_ok(&w, &args("zh", &["--lang", "zh"]), &[]);
    assert_eq!(pngs(&w, "zh"), pngs(&w, "a"));
    for n in pngs(&w, "a") {
        assert!(bytes(&w, "zh", &n) != bytes(&w, "a", &n), "{n}: the Chinese chart is the English one");
    }
    capsim_ok(&w, &args("s", &["--chart-size", "1200x800"]), &[]);
    check_pngs(&w, "s", (1200, 800), true);
    capsim_ok(&w, &args("n", &["--no-charts"]), &[]);
    assert!(pngs(&w, "n").is_empty());
    assert_eq!(w.read("n/indices.csv"), w.read("a/indices.csv"));

    // Morris: its own chart, reproducible too.
    capsim_ok(&w, &args("m1", &["--method", "morris", "--samples", "6", "--threads", "1"]), &[]);
    capsim_ok(&w, &args("m2", &["--method", "morris", "--samples", "6", "--threads", "2"]), &[]);
    same_bytes(&w, "m1", "m2");
    check_pngs(&w, "m1", (1600, 1000), false);
    assert!(bytes(&w, "m1", "tornado_t.png") != bytes(&w, "a", "tornado_t.png"));
}

#[test]
fn bad_chart_flags_exit_2_and_write_nothing() {
    let w = Workdir::new();
    sweep_fixture(&w);
    sensitivity_fixture(&w);
    w.write("bad.ttf", "not a font");
    let flags: [(&[&str], &str); 5] = [
        (&["--lang", "fr"], "--lang"),
        (&["--chart-size", "1600"], "WIDTHxHEIGHT"),
        (&["--chart-size", "300x200"], "960"),
        (&["--font", "no-such-font.ttf"], "no-such-font.ttf"),
        (&["--font", "bad.ttf"], "not a TrueType/OpenType font"),
    ];
    for (bad, needle) in flags {
        for command in [
            vec!["sweep", "sw.toml", "--param", K, "--values", "1,2", "--draws", "8"],
            vec!["sensitivity", "s.toml", "--samples", "4"],
        ] {
            let out = w.capsim().args(&command).args(["--out", "x"]).args(bad).assert().code(2).get_output().clone();
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(err.contains(needle), "{command:?} {bad:?}: {err}");
            assert!(!w.path().join("x").exists(), "{command:?} {bad:?} wrote output");
        }
    }
    // --font takes a real font, and the shipped one draws exactly what the embedded one does.
    let font = crate::util::repo().join("assets/fonts/NotoSansSC-capsim.otf");
    capsim_ok(&w, &sweep_args("f"), &["--font", font.to_str().unwrap()]);
    capsim_ok(&w, &sweep_args("d"), &[]);
    same_bytes(&w, "f", "d");
}

/// `sweep.csv` keyed by `value|town|resource`.
fn keyed(csv: &str, key: &[&str]) -> HashMap<String, HashMap<String, String>> {
    rows(csv).into_iter().map(|r| (key.iter().map(|k| r[*k].as_str()).collect::<Vec<_>>().join("|"), r)).collect()
}

#[test]
fn sweep_chart_data_are_sweep_csv() {
    let w = Workdir::new();
    sweep_fixture(&w);
    let mut args = sweep_args("o");
    args.extend(["--seed", "11"].map(String::from));
    capsim_ok(&w, &args, &[]);
    let csv = keyed(&w.read("o/sweep.csv"), &[K, "town", "resource"]);

    let path = w.path().join("sw.toml");
    let mut diags = Diagnostics::default();
    let doc = tree::load_document(&path, &[], &mut diags).unwrap();
    let base = scenario::from_document(&doc).unwrap();
    let params = sweep::plan(&base, &[(K.to_string(), "350000..550000:4".to_string())]).unwrap();
    let result = sweep::run(&doc, &base, &params, 64, 11, 2, &|_, _| {}).unwrap();
    let mut checked = 0;
    for lang in [Lang::En, Lang::Zh] {
        let charts = sweep_chart::data(&result, &base, lang);
        assert_eq!(charts.len(), 1);
        let ch = &charts[0];
        assert_eq!((ch.id.as_str(), ch.name.as_str()), ("hospital_beds", "Hospital beds"));
        assert_eq!(ch.axes[0].scenario.map(|s| s.value), Some(400000.0));
        assert_eq!(ch.series.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(), ["t", "all"]);
        for s in &ch.series {
            for (i, point) in ch.points.iter().enumerate() {
                let row = &csv[&format!("{}|{}|hospital_beds", sweep::show(point[0]), s.id)];
                let year = s.first_year[i].map_or("none".to_string(), |y| y.to_string());
                assert_eq!(year, row["first_year_risk"]);
                assert_eq!(fixed(s.prob_by_end[i], 4), row["prob_by_end"]);
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 2 * 2 * 4);
}

#[test]
fn tornado_data_are_indices_csv() {
    let w = Workdir::new();
    sensitivity_fixture(&w);
    let s = scenario::load(&w.path().join("s.toml"), &[]).unwrap();
    let model = engine::compile(&s);
    for (method, samples) in [(Method::Sobol, 32), (Method::Morris, 8)] {
        let name = if method == Method::Sobol { "sobol" } else { "morris" };
        w.capsim()
            .args(["-q", "sensitivity", "s.toml", "--method", name, "--samples", &samples.to_string(), "--out", name])
            .assert()
            .success();
        let csv = keyed(&w.read(&format!("{name}/indices.csv")), &["town", "output", "input"]);
        let settings =
            Settings { method, samples, levels: 4, seed: s.settings.seed, threads: 2, resamples: sobol::RESAMPLES };
        let an = sensitivity::analyse(&model, &settings).unwrap();
        let ts = tornado::data(&an, &s, Lang::En);
        assert_eq!(ts.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(), ["t", "all"]);
        let mut bars = 0;
        for t in &ts {
            assert!(!t.panels.is_empty());
            for p in &t.panels {
                let row = |input: &str| &csv[&format!("{}|{}|{input}", t.id, p.name)];
                for b in &p.bars {
                    let r = row(&b.name);
                    match method {
                        Method::Sobol => {
                            assert_eq!(fixed(b.main, 4), r["ST"]);
                            assert_eq!(fixed(b.second, 4), r["S1"]);
                            assert_eq!(fixed(b.main_conf.unwrap(), 4), r["ST_conf"]);
                            assert_eq!(fixed(b.second_conf.unwrap(), 4), r["S1_conf"]);
                        }
                        Method::Morris => {
                            assert_eq!(fixed(b.main, 4), r["mu_star"]);
                            assert_eq!(fixed(b.second, 4), r["sigma"]);
                        }
                    }
                    bars += 1;
                }
                // The inputs drawn are the leading ones of indices.csv, and the line under
                // them counts the rest.
                let measure = if method == Method::Sobol { "ST" } else { "mu_star" };
                let all: Vec<f64> = an.inputs.iter().map(|i| row(&i.name)[measure].parse().unwrap()).collect();
                let least = p.bars.iter().map(|b| b.main).fold(f64::INFINITY, f64::min);
                let others = an.inputs.iter().filter(|i| !p.bars.iter().any(|b| b.name == i.name));
                for i in others {
                    assert!(row(&i.name)[measure].parse::<f64>().unwrap() <= least + 1e-4, "{} {}", p.name, i.name);
                }
                assert_eq!(p.rest, all.len() - p.bars.len());
            }
        }
        assert!(bars >= 4, "{name}: {bars} bars");
    }
}

/// Renders every chart of a sweep and a Morris screen of the Shanghai scenario (five towns ×
/// 24 services, with their Chinese names) and checks that no text overlaps another or leaves
/// the canvas, and that no character is missing from the font.
#[test]
fn five_towns_and_24_services_lay_out_cleanly() {
    let path = scenario("shanghai-new-towns.toml");
    let mut diags = Diagnostics::default();
    let doc = tree::load_document(&path, &[], &mut diags).unwrap();
    let s = scenario::from_document(&doc).unwrap();
    assert_eq!((s.towns.len(), s.resources.len()), (5, 24));
    let check = |c: &charts::canvas::Canvas, what: &str| {
        let problems = c.text_problems(0.5);
        assert!(problems.is_empty(), "{what}:\n{}", problems.join("\n"));
        assert!(c.missing.is_empty(), "{what}: missing {:?}", c.missing);
    };
    let k = "towns.songjiang.migration.k.mode";
    let pairs = [
        (vec![(k.to_string(), "950000..1250000:3".to_string())], Lang::En),
        (vec![(k.to_string(), "950000,1100000".to_string()), ("settings.risk".into(), "0.1,0.5".into())], Lang::Zh),
    ];
    for (pairs, lang) in pairs {
        let params = sweep::plan(&s, &pairs).unwrap();
        let result = sweep::run(&doc, &s, &params, 4, 1, 2, &|_, _| {}).unwrap();
        let opts = ChartOptions { lang, ..ChartOptions::default() };
        let note = sweep_chart::footnote(&result, &s, lang);
        let data = sweep_chart::data(&result, &s, lang);
        assert_eq!(data.len(), 24);
        for d in &data {
            let (c, _) = sweep_chart::render(d, &opts, &note).unwrap();
            check(&c, &format!("sweep_{} {lang:?}", d.id));
        }
    }
    let model = engine::compile(&s);
    let settings = Settings { method: Method::Morris, samples: 2, levels: 4, seed: 1, threads: 2, resamples: 0 };
    let an = sensitivity::analyse(&model, &settings).unwrap();
    for lang in [Lang::En, Lang::Zh] {
        let opts = ChartOptions { lang, ..ChartOptions::default() };
        let note = tornado::footnote(&s, &settings, an.inputs.len(), 150, lang);
        for t in tornado::data(&an, &s, lang).iter().filter(|t| t.id == "songjiang" || t.id == "all") {
            assert!(t.panels.len() > 12, "{}: {} outputs", t.id, t.panels.len());
            let (c, _) = tornado::render(t, &opts, &note).unwrap();
            check(&c, &format!("tornado_{} {lang:?}", t.id));
        }
    }
}

#[test]
fn names_outside_the_font_are_warned_about() {
    let w = Workdir::new();
    sweep_fixture(&w);
    // 㐀 (U+3400) is not in the embedded font's GB2312 subset.
    w.write("rare.toml", "[towns.t]\nname = { en = \"Test Town\", zh = \"㐀新城\" }\n");
    let out = w
        .capsim()
        .args(["sweep", "sw.toml", "--with", "rare.toml", "--param", K, "--values", "1e5,2e5", "--draws", "8"])
        .args(["--out", "o", "--lang", "zh"])
        .assert()
        .success()
        .get_output()
        .clone();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no glyph for \"㐀\"") && err.contains("--font"), "{err}");
    assert!(Path::new(&w.path().join("o/sweep_hospital_beds.png")).exists());
}
