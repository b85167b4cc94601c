//! The charts and page of `capsim plan`: both PNGs decode at their size and are not blank; the
//! data behind them are plan.csv's rows and the plan's risks; report.html lists every project
//! and the total cost; the output is byte-identical across runs and thread counts; `--lang zh`
//! and `--no-charts` work; the page shows both images in headless Chromium.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use capsim::engine;
use capsim::plan::{self, Plan, PlanSettings};
use capsim::report::Lang;
use capsim::report::lang::grouped;
use capsim::report::plan_report;
use capsim::report::tables::fixed;
use capsim::scenario::{self, Scenario};

use crate::util::{Workdir, images_in_chromium, repo, scenario as scenario_path};

const DRAWS: &str = "200";

/// Build units for the example: a named school with a random delay, a costed hospital unit,
/// and a named unit of one (stations). The other resources keep the default.
const BUILD: &str = r#"
[resources.primary_places.build]
name = { en = "30-class primary school", zh = "30班小学" }
unit = 1350
lead_time = 3
delay = { triangular = [0, 0, 2] }

[resources.hospital_beds.build]
name = { en = "600-bed hospital campus", zh = "600床医院院区" }
unit = 600
lead_time = 4
delay = { triangular = [0, 0, 2] }
cost = 1554400000

[resources.chs_stations.build]
name = { en = "health station", zh = "卫生服务站" }
unit = 1
lead_time = 1
"#;

/// Runs `capsim plan` on the example (with `extra` flags) into `out`.
fn plan_cli(w: &Workdir, out: &str, extra: &[&str]) {
    let mut c = w.capsim();
    c.arg("-q").arg("plan").arg(scenario_path("example.toml"));
    c.args(["--draws", DRAWS, "--seed", "7", "--out", out]).args(extra).assert().success();
}

/// The example with the build units above, planned in process.
fn plan_in_process(w: &Workdir, with_build: bool) -> (Scenario, engine::Model, Plan) {
    let with = if with_build { vec![w.write("build.toml", BUILD)] } else { Vec::new() };
    let s = scenario::load(&scenario_path("example.toml"), &with).unwrap();
    let model = engine::compile(&s);
    let set = PlanSettings { risk: 0.2, from: 2022, seed: 7, draws: 200, threads: 2 };
    let p = plan::plan(&s, &model, &set).unwrap();
    (s, model, p)
}

struct Decoded {
    width: u32,
    height: u32,
    rgb: Vec<u8>,
}

fn decode(bytes: &[u8]) -> Decoded {
    let decoder = png::Decoder::new(bytes);
    let mut reader = decoder.read_info().expect("PNG header");
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).expect("PNG data");
    assert_eq!(info.color_type, png::ColorType::Rgb);
    buf.truncate(info.buffer_size());
    Decoded { width: info.width, height: info.height, rgb: buf }
}

/// Checks a chart: its width, a height of at least the requested one, ink and colours.
fn check_png(path: &Path, size: (u32, u32)) -> Decoded {
    let d = decode(&std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())));
    assert_eq!(d.width, size.0, "{} width", path.display());
    assert!(d.height >= size.1, "{} height {}", path.display(), d.height);
    let inked = d.rgb.chunks(3).filter(|p| p.iter().any(|&c| c < 235)).count();
    let share = inked as f64 / (d.rgb.len() / 3) as f64;
    assert!(share > 0.01, "{} is (nearly) blank: {share}", path.display());
    let mut colours: Vec<[u8; 3]> = d.rgb.chunks(3).map(|p| [p[0], p[1], p[2]]).collect();
    colours.sort_unstable();
    colours.dedup();
    assert!(colours.len() > 20, "{} has only {} colours", path.display(), colours.len());
    d
}

/// plan.csv as rows of column → text.
fn csv_rows(text: &str) -> Vec<BTreeMap<String, String>> {
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let heads: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    r.records().map(|rec| heads.iter().cloned().zip(rec.unwrap().iter().map(String::from)).collect()).collect()
}

fn files_in(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().to_string()).collect()
}

#[test]
fn plan_charts_decode_and_the_page_embeds_them() {
    let w = Workdir::new();
    plan_cli(&w, "o", &[]);
    let dir = w.path().join("o");
    assert_eq!(
        files_in(&dir),
        ["plan.csv", "plan.png", "plan.toml", "plan_heatmap.png", "report.html", "run.json"]
            .map(String::from)
            .into_iter()
            .collect()
    );
    for name in ["plan.png", "plan_heatmap.png"] {
        check_png(&dir.join(name), (1600, 1000));
    }
    let html = w.read("o/report.html");
    assert_eq!(html.matches("<img src=\"data:image/png;base64,").count(), 2);
    let run_json = w.read("o/run.json");
    for n in ["plan.csv", "plan.toml", "plan.png", "plan_heatmap.png", "report.html"] {
        assert!(run_json.contains(&format!("\"{n}\"")), "run.json lacks {n}");
    }
    // The chart size applies; the charts grow in height, never in width.
    plan_cli(&w, "s", &["--chart-size", "1200x800"]);
    for name in ["plan.png", "plan_heatmap.png"] {
        check_png(&w.path().join("s").join(name), (1200, 800));
    }
}

#[test]
fn timeline_bars_are_plan_csv_rows() {
    let w = Workdir::new();
    let (s, model, p) = plan_in_process(&w, true);
    let rows = csv_rows(&plan::plan_csv(&s, &model, &p));
    let tl = plan_report::timeline(&s, &model, &p, Lang::En);
    assert_eq!((tl.first, tl.last), (2022, 2035));
    // Every bar is a plan.csv row with units > 0, every unavoidable year one with units = 0,
    // and nothing else is drawn.
    let mut bars = BTreeSet::new();
    let mut unavoidable = BTreeSet::new();
    for pn in &tl.panels {
        for r in &pn.rows {
            assert_eq!(r.ids.0, s.towns[pn.town].id);
            for b in &r.bars {
                bars.insert(format!(
                    "{},{},{},{},{},{}",
                    r.ids.0,
                    r.ids.1,
                    b.decision_year,
                    b.planned_open_year,
                    b.units,
                    fixed(b.amount, 0)
                ));
            }
            for &(y, risk) in &r.unavoidable {
                unavoidable.insert(format!("{},{},{y},{}", r.ids.0, r.ids.1, fixed(risk, 4)));
            }
        }
    }
    let csv_bars: BTreeSet<String> = rows
        .iter()
        .filter(|r| r["units"] != "0")
        .map(|r| {
            format!(
                "{},{},{},{},{},{}",
                r["town"], r["resource"], r["decision_year"], r["planned_open_year"], r["units"], r["amount"]
            )
        })
        .collect();
    let csv_unavoidable: BTreeSet<String> = rows
        .iter()
        .filter(|r| r["units"] == "0")
        .map(|r| format!("{},{},{},{}", r["town"], r["resource"], r["fixes_year"], r["risk_after"]))
        .collect();
    assert!(!csv_bars.is_empty() && !csv_unavoidable.is_empty());
    assert_eq!(bars, csv_bars);
    assert_eq!(unavoidable, csv_unavoidable);
    // Rows are left out exactly for the pairs without a plan.csv row.
    let pairs: BTreeSet<(String, String)> = rows.iter().map(|r| (r["town"].clone(), r["resource"].clone())).collect();
    let shown: BTreeSet<(String, String)> =
        tl.panels.iter().flat_map(|pn| pn.rows.iter().map(|r| r.ids.clone())).collect();
    assert_eq!(shown, pairs);
    assert_eq!(tl.shown, (pairs.len(), s.towns.len() * s.resources.len()));
    // Labels: named units by count, unnamed by amount.
    let school = tl.panels.iter().flat_map(|pn| &pn.rows).find(|r| r.ids.1 == "primary_places").unwrap();
    let b = &school.bars[0];
    assert_eq!(b.label, format!("{} × 30-class primary school", b.units));
    assert_eq!(b.short, format!("×{}", b.units));
    assert_eq!(b.amount, 1350.0 * f64::from(b.units));
    assert!(school.unit.contains("30-class primary school (1,350 places)") && school.unit.contains("3 years"));
    let kg = tl.panels.iter().flat_map(|pn| &pn.rows).find(|r| r.ids.1 == "kindergarten_places").unwrap();
    assert_eq!(kg.bars[0].label, format!("{} places", grouped(kg.bars[0].amount, 0)));
    assert_eq!(kg.unit, "unit: 1 place · decided 2 years ahead");
}

#[test]
fn heatmap_cells_are_the_plans_risks() {
    let w = Workdir::new();
    let (s, model, p) = plan_in_process(&w, true);
    let rows = csv_rows(&plan::plan_csv(&s, &model, &p));
    let hm = plan_report::heatmap(&s, &model, &p, Lang::En);
    assert_eq!(hm.years, (2022..=2035).collect::<Vec<_>>());
    assert_eq!(hm.rows.len(), s.towns.len() * s.resources.len());
    let first_row = (2022 - model.t0) as usize;
    for (row, item) in hm.rows.iter().zip(&p.items) {
        assert_eq!((row.town, row.res), (item.town, item.resource));
        assert_eq!(row.before, item.risk_before[first_row..]);
        assert_eq!(row.after, item.risk_after[first_row..]);
        for (j, y) in hm.years.iter().enumerate() {
            assert_eq!(row.unavoidable[j], item.unavoidable.contains(y));
        }
    }
    // plan.csv's risk_before and risk_after are the cells of their year.
    let mut checked = 0;
    for r in &rows {
        let row = hm.rows.iter().find(|x| x.ids.0 == r["town"] && x.ids.1 == r["resource"]).unwrap();
        let j = hm.years.iter().position(|y| y.to_string() == r["fixes_year"]).unwrap();
        assert_eq!(fixed(row.before[j], 4), r["risk_before"]);
        assert_eq!(fixed(row.after[j], 4), r["risk_after"]);
        if r["units"] == "0" {
            assert!(row.unavoidable[j]);
        }
        checked += 1;
    }
    assert!(checked > 50, "only {checked} rows");
    // The plan keeps every year that is not unavoidable within the risk.
    for row in &hm.rows {
        for (j, &a) in row.after.iter().enumerate() {
            assert!(row.unavoidable[j] || a <= 0.2 + 1e-12, "{:?} {} after {a}", row.ids, hm.years[j]);
        }
    }
}

#[test]
fn report_lists_every_project_and_the_total_cost() {
    let w = Workdir::new();
    w.write("build.toml", BUILD);
    plan_cli(&w, "o", &["--with", "build.toml"]);
    let html = w.read("o/report.html");
    let rows = csv_rows(&w.read("o/plan.csv"));
    let s = scenario::load(&scenario_path("example.toml"), &[w.path().join("build.toml")]).unwrap();
    let mut total = 0.0;
    let mut projects = 0;
    for r in rows.iter().filter(|r| r["units"] != "0") {
        let town = s.towns.iter().find(|t| t.id == r["town"]).unwrap();
        let res = s.resources.iter().find(|x| x.id == r["resource"]).unwrap();
        let cost = if r["cost"].is_empty() { "–".to_string() } else { grouped(r["cost"].parse().unwrap(), 0) };
        let cells = format!(
            "<tr><td class=\"l nw\">{}</td><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{}</td>",
            town.name.en,
            res.name.en,
            r["decision_year"],
            r["planned_open_year"],
            grouped(r["units"].parse().unwrap(), 0)
        );
        assert!(html.contains(&cells), "report.html lacks the project {r:?}");
        let tail = format!("<td>{cost}</td><td>{}</td>", r["fixes_year"]);
        assert!(html.contains(&tail), "report.html lacks the cost and year of {r:?}");
        total += r["cost"].parse::<f64>().unwrap_or(0.0);
        projects += 1;
    }
    assert!(projects > 10 && total > 0.0);
    // One schedule row per project, one unavoidable row per town × service with such a year,
    // one build-unit row per resource.
    let unavoidable: BTreeSet<(String, String)> =
        rows.iter().filter(|r| r["units"] == "0").map(|r| (r["town"].clone(), r["resource"].clone())).collect();
    assert_eq!(html.matches("<tr><td class=\"l nw\">").count(), projects + unavoidable.len());
    assert_eq!(html.matches("<tr><td class=\"l\">").count(), s.resources.len());
    assert!(html.contains(&format!("Total cost: {}", grouped(total, 0))), "total {total}");
    assert!(html.contains("Recommended schedule") && html.contains("capsim run SCENARIO --with plan.toml"));
    assert!(html.contains("1,554,400,000"));
    // Without any cost the page says so.
    plan_cli(&w, "n", &[]);
    let html = w.read("n/report.html");
    assert!(html.contains("Total cost: not known — no build unit in this scenario gives a cost"));
}

#[test]
fn plan_output_is_byte_identical_across_runs_and_threads() {
    let w = Workdir::new();
    w.write("build.toml", BUILD);
    plan_cli(&w, "a", &["--with", "build.toml", "--threads", "1"]);
    plan_cli(&w, "b", &["--with", "build.toml", "--threads", "2"]);
    for n in ["plan.csv", "plan.toml", "plan.png", "plan_heatmap.png", "report.html"] {
        let a = std::fs::read(w.path().join("a").join(n)).unwrap();
        let b = std::fs::read(w.path().join("b").join(n)).unwrap();
        assert!(a == b, "{n} differs between runs");
    }
}

#[test]
fn no_charts_writes_only_the_plan_tables() {
    let w = Workdir::new();
    plan_cli(&w, "n", &["--no-charts"]);
    let want: BTreeSet<String> = ["plan.csv", "plan.toml", "run.json"].map(String::from).into_iter().collect();
    assert_eq!(files_in(&w.path().join("n")), want);
    // Unnamed units are written by their amount, not as "n × 1 places".
    let toml = w.read("n/plan.toml");
    assert!(!toml.contains("× 1 "), "{toml}");
    let first = csv_rows(&w.read("n/plan.csv")).into_iter().find(|r| r["units"] != "0").unwrap();
    assert!(
        toml.contains(&format!("capsim plan: {} ", first["amount"])),
        "plan.toml does not name {} by its amount",
        first["amount"]
    );
}

#[test]
fn chinese_plan_charts_and_page() {
    let w = Workdir::new();
    w.write("build.toml", BUILD);
    plan_cli(&w, "en", &["--with", "build.toml"]);
    plan_cli(&w, "zh", &["--with", "build.toml", "--lang", "zh"]);
    for n in ["plan.png", "plan_heatmap.png"] {
        check_png(&w.path().join("zh").join(n), (1600, 1000));
        let en = std::fs::read(w.path().join("en").join(n)).unwrap();
        let zh = std::fs::read(w.path().join("zh").join(n)).unwrap();
        assert!(en != zh, "{n}: the Chinese chart is the English one");
    }
    let html = w.read("zh/report.html");
    assert!(html.contains("<html lang=\"zh-CN\">"));
    assert!(html.contains("建议建设时序") && html.contains("北新城") && html.contains("30班小学"));
    assert!(html.contains("总投资："));
    // The tables do not change with the language.
    assert_eq!(w.read("en/plan.csv"), w.read("zh/plan.csv"));
}

/// Nothing is drawn in the right margin (28 px): no label runs past the chart's edge.
fn assert_right_margin_blank(path: &Path) {
    let d = decode(&std::fs::read(path).unwrap());
    let w = d.width as usize;
    for y in 0..d.height as usize {
        for x in w - 27..w {
            let i = (y * w + x) * 3;
            assert_eq!(&d.rgb[i..i + 3], &[255, 255, 255], "{}: ink in the right margin at ({x}, {y})", path.display());
        }
    }
}

#[test]
fn labels_stay_inside_the_charts() {
    let w = Workdir::new();
    w.write("build.toml", BUILD);
    plan_cli(&w, "o", &["--with", "build.toml"]);
    plan_cli(&w, "n", &["--with", "build.toml", "--chart-size", "960x600", "--lang", "zh"]);
    w.capsim()
        .arg("-q")
        .arg("plan")
        .arg(scenario_path("shanghai-new-towns.toml"))
        .args(["--draws", "300", "--out", "sh"])
        .assert()
        .success();
    for dir in ["o", "n", "sh"] {
        for name in ["plan.png", "plan_heatmap.png"] {
            assert_right_margin_blank(&w.path().join(dir).join(name));
        }
    }
}

#[test]
fn twenty_five_services_fit() {
    let w = Workdir::new();
    let stress = repo().join("tests/fixtures/stress25.toml");
    w.capsim()
        .arg("-q")
        .arg("plan")
        .arg(&stress)
        .args(["--draws", "60", "--seed", "7", "--out", "o"])
        .assert()
        .success();
    let s = scenario::load(&stress, &[]).unwrap();
    assert_eq!((s.towns.len(), s.resources.len()), (5, 25));
    // The heatmap grows ≈ 18 px a row (125 rows) rather than shrinking its text.
    let d = check_png(&w.path().join("o/plan_heatmap.png"), (1600, 1000));
    assert!(d.height >= 125 * 18, "plan_heatmap.png: {} px high", d.height);
    check_png(&w.path().join("o/plan.png"), (1600, 1000));
}

#[test]
fn plan_report_shows_both_images_in_chromium() {
    let w = Workdir::new();
    w.write("build.toml", BUILD);
    plan_cli(&w, "o", &["--with", "build.toml", "--lang", "zh"]);
    let Some((sizes, dom)) = images_in_chromium(&w, "o/report.html", "plan_report_shows_both_images_in_chromium")
    else {
        return;
    };
    assert_eq!(sizes.len(), 2, "images in the page: {sizes:?}");
    for (name, got) in ["plan.png", "plan_heatmap.png"].iter().zip(&sizes) {
        let d = decode(&std::fs::read(w.path().join("o").join(name)).unwrap());
        assert_eq!(*got, format!("{}x{}", d.width, d.height), "{name} did not load in chromium");
    }
    assert!(dom.contains("建议建设时序"));
}

/// docs/plan.md's guarantee for build units without a random delay (the example's defaults:
/// one unit, two years' lead time, no delay): every project opens as planned in every draw, so
/// a year r needs u*(r) units open — the fewest with at most ⌊risk·n⌋ draws short — and the
/// plan must be the running maximum of u*(r) over the fixable years, each increase decided
/// exactly `lead_time` years before the year that needs it. Computed here from the engine's
/// per-draw demand and capacity, independently of the search.
#[test]
fn without_random_delays_the_plan_is_the_fewest_units_decided_latest() {
    let w = Workdir::new();
    let (s, model, p) = plan_in_process(&w, false);
    let n = p.settings.draws as usize;
    let (nt, nr, rows) = (model.towns.len(), model.resources.len(), model.rows);
    let mut ws = model.workspace();
    let mut values = model.central_values();
    let mut shocks = vec![0.0; model.shock_len()];
    // gaps[(t * nr + r) * rows + row][d] = demand − existing capacity.
    let mut gaps = vec![Vec::with_capacity(n); nt * nr * rows];
    for d in 0..n as u64 {
        engine::sample_draw(&model, p.settings.seed, d, &mut values, &mut shocks);
        engine::simulate_draw(&model, &values, &shocks, &mut ws).unwrap();
        for (i, g) in gaps.iter_mut().enumerate() {
            g.push(ws.out.demand[i] - ws.out.capacity[i]);
        }
    }
    let allowed = (p.settings.risk * n as f64).floor() as usize;
    let mut compared = 0;
    for item in &p.items {
        let b = &item.build;
        assert!(!b.delay.is_random() && b.delay.central() == 0.0 && b.unit == 1.0);
        let first_fixable = p.settings.from + b.lead_time;
        let mut want: Vec<(i32, u32)> = Vec::new();
        let mut running = 0u32;
        for year in first_fixable..=model.year(rows - 1) {
            let row = (year - model.t0) as usize;
            let g = &gaps[(item.town * nr + item.resource) * rows + row];
            // The fewest whole units k with #{d : gap_d > k} ≤ allowed.
            let mut need: Vec<f64> = g.iter().map(|&x| x.max(0.0)).collect();
            need.sort_by(f64::total_cmp);
            let k = need[n - 1 - allowed].ceil() as u32;
            if k > running {
                want.push((year - b.lead_time, k - running));
                running = k;
            }
        }
        let got: Vec<(i32, u32)> = item.batches.iter().map(|x| (x.decision_year, x.units)).collect();
        assert_eq!(
            got, want,
            "{} {}: the plan differs from the running maximum of the yearly requirement",
            s.towns[item.town].id, s.resources[item.resource].id
        );
        compared += want.len();
    }
    assert!(compared > 50, "only {compared} projects compared");
}
