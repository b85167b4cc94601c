//! Charts and report.html: every PNG decodes at its size and is not blank; the data behind
//! each chart are the tables' values; the bytes are identical run to run; `--lang zh` draws
//! real hanzi; report.html shows every image in headless Chromium; the chart flags fail
//! cleanly with exit code 2.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use capsim::engine::{self, DrawOutput, Model};
use capsim::report::charts::canvas::{Canvas, ChartFont, HAlign, Rgb, VAlign};
use capsim::report::charts::data;
use capsim::report::html;
use capsim::report::lang::{amount, prob};
use capsim::report::tables::{fixed, year_ranges};
use capsim::report::{ChartInfo, ChartOptions, Lang, Tables};
use capsim::runner;
use capsim::scenario::{self, Scenario};
use capsim::stats::Aggregate;

use crate::util::{Workdir, images_in_chromium, repo, scenario};

const DRAWS: &str = "120";

fn stress() -> PathBuf {
    repo().join("tests/fixtures/stress25.toml")
}

/// Runs `capsim run` on a scenario into `out` with extra flags.
fn run(w: &Workdir, scenario: &Path, out: &str, extra: &[&str]) {
    let mut c = w.capsim();
    c.arg("-q").arg("run").arg(scenario).args(["--draws", DRAWS, "--seed", "7", "--out", out]);
    c.args(extra).assert().success();
}

/// The chart files a run of the example writes.
fn expected_pngs(s: &Scenario) -> Vec<String> {
    let mut v = vec!["population_fan.png".to_string()];
    v.extend(s.towns.iter().map(|t| format!("pyramid_{}.png", t.id)));
    v.push("shortfall_heatmap.png".into());
    v.push("shortfall_years.png".into());
    v.extend(s.resources.iter().map(|r| format!("demand_{}.png", r.id)));
    v
}

pub struct Decoded {
    pub width: u32,
    pub height: u32,
    pub rgb: Vec<u8>,
}

pub fn decode(bytes: &[u8]) -> Decoded {
    let decoder = png::Decoder::new(bytes);
    let mut reader = decoder.read_info().expect("PNG header");
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).expect("PNG data");
    assert_eq!(info.color_type, png::ColorType::Rgb);
    buf.truncate(info.buffer_size());
    Decoded { width: info.width, height: info.height, rgb: buf }
}

/// Share of pixels that are not (near) white, and the number of distinct colours.
pub fn ink(d: &Decoded) -> (f64, usize) {
    let px = d.rgb.chunks(3);
    let n = d.rgb.len() / 3;
    let inked = px.clone().filter(|p| p.iter().any(|&c| c < 235)).count();
    let mut colours: Vec<[u8; 3]> = px.map(|p| [p[0], p[1], p[2]]).collect();
    colours.sort_unstable();
    colours.dedup();
    (inked as f64 / n as f64, colours.len())
}

/// Checks one PNG: its width, a height of at least `size.1` when the chart `grows` (a row per
/// town × resource) and exactly `size.1` otherwise, and that it is not (nearly) blank.
pub fn check_png(name: &str, bytes: &[u8], size: (u32, u32), grows: bool) {
    let d = decode(bytes);
    assert_eq!(d.width, size.0, "{name} width");
    if grows {
        assert!(d.height >= size.1, "{name} height {}", d.height);
    } else {
        assert_eq!(d.height, size.1, "{name} height");
    }
    let (share, colours) = ink(&d);
    assert!(share > 0.01, "{name} is (nearly) blank: {share}");
    assert!(colours > 20, "{name} has only {colours} colours");
}

fn check_pngs(dir: &Path, names: &[String], size: (u32, u32)) {
    for name in names {
        let bytes = std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        // Charts with a row per town × resource may grow taller, never shorter.
        check_png(name, &bytes, size, name.starts_with("shortfall_"));
    }
}

#[test]
fn every_chart_is_written_decodes_and_is_not_blank() {
    let w = Workdir::new();
    run(&w, &scenario("example.toml"), "o", &[]);
    let s = scenario::load(&scenario("example.toml"), &[]).unwrap();
    let names = expected_pngs(&s);
    assert_eq!(names.len(), 1 + 5 + 2 + 10);
    check_pngs(&w.path().join("o"), &names, (1600, 1000));
    let html = w.read("o/report.html");
    assert_eq!(html.matches("<img src=\"data:image/png;base64,").count(), names.len());
    // run.json lists every file written.
    let run_json = w.read("o/run.json");
    for n in names.iter().chain(std::iter::once(&"report.html".to_string())) {
        assert!(run_json.contains(&format!("\"{n}\"")), "run.json lacks {n}");
    }
}

#[test]
fn charts_are_byte_identical_across_runs_and_threads() {
    let w = Workdir::new();
    run(&w, &scenario("example.toml"), "a", &["--threads", "1"]);
    run(&w, &scenario("example.toml"), "b", &["--threads", "2"]);
    let s = scenario::load(&scenario("example.toml"), &[]).unwrap();
    for n in expected_pngs(&s).iter().chain(std::iter::once(&"report.html".to_string())) {
        let a = std::fs::read(w.path().join("a").join(n)).unwrap();
        let b = std::fs::read(w.path().join("b").join(n)).unwrap();
        assert!(a == b, "{n} differs between runs");
    }
}

#[test]
fn chinese_charts_render_with_the_same_file_names() {
    let w = Workdir::new();
    run(&w, &scenario("example.toml"), "en", &[]);
    run(&w, &scenario("example.toml"), "zh", &["--lang", "zh"]);
    let s = scenario::load(&scenario("example.toml"), &[]).unwrap();
    let names = expected_pngs(&s);
    check_pngs(&w.path().join("zh"), &names, (1600, 1000));
    for n in &names {
        let en = std::fs::read(w.path().join("en").join(n)).unwrap();
        let zh = std::fs::read(w.path().join("zh").join(n)).unwrap();
        assert!(en != zh, "{n}: the Chinese chart is the English one");
    }
    let html = w.read("zh/report.html");
    assert!(html.contains("<html lang=\"zh-CN\">"));
    assert!(html.contains("主要发现") && html.contains("北新城") && html.contains("示例：五个示意新城"));
}

#[test]
fn a_hanzi_draws_its_own_glyph() {
    let font = ChartFont::embedded();
    let draw = |s: &str| {
        let mut c = Canvas::new(800, 500, &font);
        c.text(20.0, 250.0, s, 40.0, Rgb(0, 0, 0), (HAlign::Left, VAlign::Middle));
        assert!(c.missing.is_empty(), "{s}: missing {:?}", c.missing);
        decode(&c.png("test").unwrap())
    };
    let xin = draw("新");
    let cheng = draw("城");
    let (share, _) = ink(&xin);
    let dark = xin.rgb.chunks(3).filter(|p| p[0] < 128).count();
    assert!(share > 0.0005 && dark > 150, "新 drew {dark} dark pixels");
    // Two different hanzi give different pixels: neither is the .notdef box.
    assert!(xin.rgb != cheng.rgb);
    let mut c = Canvas::new(800, 500, &font);
    c.text(20.0, 250.0, "\u{2F800}", 40.0, Rgb(0, 0, 0), (HAlign::Left, VAlign::Middle));
    assert_eq!(c.missing.len(), 1, "a character outside the subset is reported");
}

#[test]
fn chart_flags_fail_cleanly() {
    let w = Workdir::new();
    let ex = scenario("example.toml");
    let fail = |args: &[&str], needle: &str| {
        let mut c = w.capsim();
        c.arg("run").arg(&ex).args(["--draws", "10", "--out", "x"]).args(args);
        let out = c.assert().code(2).get_output().clone();
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(err.contains(needle), "{args:?}: {err}");
    };
    fail(&["--lang", "fr"], "--lang");
    fail(&["--chart-size", "1600"], "WIDTHxHEIGHT");
    fail(&["--chart-size", "300x200"], "960");
    fail(&["--chart-size", "1600x0"], "600");
    fail(&["--font", "no-such-font.ttf"], "no-such-font.ttf");
    w.write("bad.ttf", "not a font");
    fail(&["--font", "bad.ttf"], "not a TrueType/OpenType font");
    assert!(!w.path().join("x").exists(), "a failed run wrote output");
}

#[test]
fn no_charts_writes_tables_only_and_size_and_font_apply() {
    let w = Workdir::new();
    let ex = scenario("example.toml");
    run(&w, &ex, "n", &["--no-charts"]);
    let names: Vec<String> = std::fs::read_dir(w.path().join("n"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    assert!(names.iter().all(|n| !n.ends_with(".png") && n != "report.html"), "{names:?}");
    assert!(names.iter().any(|n| n == "summary.csv"));

    run(&w, &ex, "s", &["--chart-size", "1200x800"]);
    let s = scenario::load(&ex, &[]).unwrap();
    check_pngs(&w.path().join("s"), &expected_pngs(&s), (1200, 800));

    // The shipped font given with --font draws exactly what the embedded one does.
    let font = repo().join("assets/fonts/NotoSansSC-capsim.otf");
    run(&w, &ex, "f", &["--font", font.to_str().unwrap()]);
    run(&w, &ex, "d", &[]);
    assert_eq!(
        std::fs::read(w.path().join("f/population_fan.png")).unwrap(),
        std::fs::read(w.path().join("d/population_fan.png")).unwrap()
    );
}

#[test]
fn twenty_five_services_fit() {
    let w = Workdir::new();
    run(&w, &stress(), "o", &[]);
    let s = scenario::load(&stress(), &[]).unwrap();
    assert_eq!((s.towns.len(), s.resources.len()), (5, 25));
    let names = expected_pngs(&s);
    check_pngs(&w.path().join("o"), &names, (1600, 1000));
    // The row charts grow ≈ 18 px a row rather than shrink their text: 125 rows.
    for n in ["shortfall_heatmap.png", "shortfall_years.png"] {
        let d = decode(&std::fs::read(w.path().join("o").join(n)).unwrap());
        assert!(d.height >= 125 * 18, "{n}: {} px high", d.height);
    }
}

// --- The data behind the charts are the tables' values -------------------------------------

struct InProcess {
    s: Scenario,
    model: Model,
    agg: Aggregate,
    central: DrawOutput,
}

impl InProcess {
    fn new(path: &Path, draws: u64) -> InProcess {
        let s = scenario::load(path, &[]).unwrap();
        let model = engine::compile(&s);
        let central = runner::central(&model).unwrap();
        let agg = runner::run(&model, 7, 0..draws, 2, &|_| {}).unwrap();
        InProcess { s, model, agg, central }
    }

    fn tables(&self) -> Tables<'_> {
        Tables {
            scenario: &self.s,
            model: &self.model,
            agg: &self.agg,
            central: &self.central,
            risk: self.s.settings.risk,
        }
    }
}

/// A CSV table keyed by the columns `key` (joined with '|'), each row a map column → text.
fn table(text: &str, key: &[usize]) -> HashMap<String, HashMap<String, String>> {
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let heads: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    let mut out = HashMap::new();
    for rec in r.records() {
        let rec = rec.unwrap();
        let k = key.iter().map(|&i| rec[i].to_string()).collect::<Vec<_>>().join("|");
        out.insert(k, heads.iter().cloned().zip(rec.iter().map(String::from)).collect());
    }
    out
}

#[test]
fn chart_data_are_the_table_values() {
    let run = InProcess::new(&scenario("example.toml"), 300);
    let t = run.tables();
    let m = &run.model;
    let pop = table(&t.population(), &[0, 1]);
    let age = table(&t.population_age(), &[0, 1, 2, 3]);
    let summary = table(&t.summary(), &[0, 1, 3]);
    let first = table(&t.first_shortfall(), &[0, 1]);
    let mut checked = 0usize;

    // population_fan.png: population.csv p05 … p95 and central, and the scenario's targets.
    let fan = data::fan(&t, Lang::En);
    assert_eq!(fan.len(), m.towns.len() + 1);
    for p in &fan {
        for (i, year) in p.years.iter().enumerate() {
            let row = &pop[&format!("{}|{year}", p.id)];
            let q = &p.population;
            for (col, v) in [
                ("p05", q.p05[i]),
                ("p25", q.p25[i]),
                ("p50", q.p50[i]),
                ("p75", q.p75[i]),
                ("p95", q.p95[i]),
                ("central", q.central[i]),
            ] {
                assert_eq!(fixed(v, 1), row[col], "{} {year} {col}", p.id);
                checked += 1;
            }
        }
    }
    assert_eq!(fan[0].targets, vec![(2025, 700000.0), (2035, 1000000.0)]);

    // pyramid_<town>.png: population_age.csv central, p05, p50, p95 of the base and end years.
    for p in data::pyramids(&t, Lang::En) {
        assert_eq!(p.rows.len(), 21);
        assert_eq!((p.rows[0].label.as_str(), p.rows[20].label.as_str()), ("0-4", "100+"));
        for r in &p.rows {
            for (k, year) in p.years.iter().enumerate() {
                for (sex, stat) in [("female", r.female[k]), ("male", r.male[k])] {
                    let row = &age[&format!("{}|{year}|{sex}|{}", p.id, r.label)];
                    for (col, v) in [("central", stat.central), ("p05", stat.p05), ("p50", stat.p50), ("p95", stat.p95)]
                    {
                        assert_eq!(fixed(v, 1), row[col], "{} {year} {sex} {} {col}", p.id, r.label);
                        checked += 1;
                    }
                }
            }
        }
    }

    // shortfall_heatmap.png: summary.csv shortfall_prob, towns × resources × years.
    let hm = data::heatmap(&t, Lang::En);
    assert_eq!(hm.rows.len(), m.towns.len() * m.resources.len());
    for r in &hm.rows {
        for (j, year) in hm.years.iter().enumerate() {
            let row = &summary[&format!("{}|{}|{year}", r.ids.0, r.ids.1)];
            assert_eq!(fixed(r.facts.probs[j], 4), row["shortfall_prob"], "{:?} {year}", r.ids);
            checked += 1;
        }
    }

    // shortfall_years.png: first_shortfall.csv, most urgent first.
    let rows = data::shortfall_years(&t, Lang::En);
    assert_eq!(rows.len(), hm.rows.len());
    let y = |v: Option<i32>| v.map_or("none".to_string(), |y| y.to_string());
    for r in &rows {
        let row = &first[&format!("{}|{}", r.ids.0, r.ids.1)];
        assert_eq!(y(r.facts.first_p10), row["first_year_p10"]);
        assert_eq!(y(r.facts.first_p50), row["first_year_p50"]);
        assert_eq!(y(r.facts.first_p90), row["first_year_p90"]);
        assert_eq!(fixed(r.facts.prob_by_end, 4), row["prob_by_end"]);
        checked += 4;
    }
    let medians: Vec<i32> = rows.iter().map(|r| r.facts.first_p50.unwrap_or(i32::MAX)).collect();
    assert!(medians.windows(2).all(|w| w[0] <= w[1]), "not sorted by urgency: {medians:?}");

    // demand_<resource>.png: summary.csv demand and capacity columns and shortfall_prob.
    for d in data::demand(&t, Lang::En) {
        assert_eq!(d.panels.len(), m.towns.len() + 1);
        for p in &d.panels {
            let town = capsim::report::tables::area_id(m, p.area);
            for (i, year) in d.years.iter().enumerate() {
                let row = &summary[&format!("{town}|{}|{year}", d.id)];
                for (what, q) in [("demand", &p.demand), ("capacity", &p.capacity)] {
                    for (lvl, v) in
                        [("p05", q.p05[i]), ("p25", q.p25[i]), ("p50", q.p50[i]), ("p75", q.p75[i]), ("p95", q.p95[i])]
                    {
                        assert_eq!(fixed(v, 2), row[&format!("{what}_{lvl}")], "{town} {} {year} {what}_{lvl}", d.id);
                    }
                    assert_eq!(fixed(q.central[i], 2), row[&format!("central_{what}")]);
                }
                assert_eq!(fixed(p.shortfall_prob[i], 4), row["shortfall_prob"]);
                checked += 13;
            }
        }
    }
    assert!(checked > 10_000, "only {checked} values checked");
}

#[test]
fn findings_quote_the_tables() {
    let run = InProcess::new(&scenario("example.toml"), 300);
    let t = run.tables();
    let summary = table(&t.summary(), &[0, 1, 3]);
    let first = table(&t.first_shortfall(), &[0, 1]);
    let fs = html::findings(&t);
    assert!(!fs.is_empty());
    for f in &fs {
        let town = &run.s.towns[f.area].id;
        let res = &run.s.resources[f.res].id;
        let at = |year: i32| &summary[&format!("{town}|{res}|{year}")];
        assert_eq!(fixed(f.prob, 4), at(f.year)["shortfall_prob"]);
        assert_eq!(fixed(f.end_prob, 4), at(f.end_year)["shortfall_prob"]);
        assert_eq!(fixed(f.end_gap_p50, 2), at(f.end_year)["gap_p50"]);
        assert_eq!(fixed(f.end_gap_p95, 2), at(f.end_year)["gap_p95"]);
        assert_eq!(fixed(f.peak.1, 4), at(f.peak.0)["shortfall_prob"]);
        let row = &first[&format!("{town}|{res}")];
        assert_eq!(year_ranges(&f.years_likely), row["years_likely"]);
        match f.strength {
            html::Strength::Likely => assert_eq!(Some(&f.year), f.years_likely.first()),
            html::Strength::Possible => assert_eq!(f.year.to_string(), row["first_year_risk"]),
        }
        for lang in [Lang::En, Lang::Zh] {
            let s = html::sentence(&t, f, lang);
            assert!(s.contains(&prob(f.prob)), "{s}");
            if f.strength == html::Strength::Likely {
                assert!(s.contains(&amount(f.end_gap_p50)) && s.contains(&amount(f.end_gap_p95)), "{s}");
            }
        }
    }
    // Every town × resource that reaches the risk level has a finding, and no other does.
    let at_risk = first.values().filter(|r| r["town"] != "all" && r["first_year_risk"] != "none").count();
    assert_eq!(fs.len(), at_risk);
}

#[test]
fn chart_files_are_deterministic_in_process() {
    let run = InProcess::new(&scenario("example.toml"), 120);
    let t = run.tables();
    let opts = ChartOptions::default();
    let a = capsim::report::chart_files(&t, &ChartInfo::of_run(&t), &opts).unwrap();
    let b = capsim::report::chart_files(&t, &ChartInfo::of_run(&t), &opts).unwrap();
    assert_eq!(a.len(), 18);
    assert!(a == b);
}

// --- report.html in a real browser ----------------------------------------------------------

#[test]
fn report_html_shows_every_image_in_chromium() {
    let w = Workdir::new();
    run(&w, &scenario("example.toml"), "o", &["--lang", "zh"]);
    let Some((sizes, dom)) = images_in_chromium(&w, "o/report.html", "report_html_shows_every_image_in_chromium")
    else {
        return;
    };
    let s = scenario::load(&scenario("example.toml"), &[]).unwrap();
    let pngs = expected_pngs(&s);
    assert_eq!(sizes.len(), pngs.len(), "images in the page: {sizes:?}");
    for (name, got) in pngs.iter().zip(&sizes) {
        let d = decode(&std::fs::read(w.path().join("o").join(name)).unwrap());
        assert_eq!(*got, format!("{}x{}", d.width, d.height), "{name} did not load in chromium");
    }
    // The Chinese findings are on the page the browser parsed.
    assert!(dom.contains("主要发现"));
}

#[test]
fn names_outside_the_font_are_warned_about() {
    let w = Workdir::new();
    // 㐀 (U+3400, CJK Extension A) is not among the GB2312 level-1 hanzi of the embedded font.
    w.write("rare.toml", "[towns.north]\nname = { en = \"North New Town\", zh = \"㐀新城\" }\n");
    let out = w
        .capsim()
        .arg("run")
        .arg(scenario("example.toml"))
        .args(["--with", "rare.toml", "--draws", "10", "--out", "o", "--lang", "zh"])
        .assert()
        .success()
        .get_output()
        .clone();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no glyph for \"㐀\"") && err.contains("--font"), "{err}");
    // English charts do not use the Chinese name: no warning.
    let out = w
        .capsim()
        .arg("run")
        .arg(scenario("example.toml"))
        .args(["--with", "rare.toml", "--draws", "10", "--out", "e"])
        .assert()
        .success()
        .get_output()
        .clone();
    assert!(!String::from_utf8_lossy(&out.stderr).contains("no glyph"));
}
