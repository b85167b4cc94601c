//! Helpers shared by the integration tests: a temporary working directory with fixture files,
//! and the `capsim` binary run inside it.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;

/// A temporary directory holding fixtures; the binary runs with it as the current directory.
pub struct Workdir {
    dir: tempfile::TempDir,
}

impl Workdir {
    /// A new empty working directory.
    pub fn new() -> Workdir {
        Workdir { dir: tempfile::tempdir().expect("temp dir") }
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a file (creating directories).
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(&p, text).expect("write fixture");
        p
    }

    /// Reads a file as text.
    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_else(|e| panic!("read {name}: {e}"))
    }

    /// The `capsim` command, run in this directory.
    pub fn capsim(&self) -> Command {
        let mut c = Command::new(assert_cmd::cargo::cargo_bin!("capsim"));
        c.current_dir(self.dir.path());
        c
    }
}

/// The repository root (for the shipped scenarios).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A shipped scenario's path.
pub fn scenario(name: &str) -> PathBuf {
    repo().join("scenarios").join(name)
}

/// Every shipped scenario (`scenarios/*.toml`), in name order.
pub fn shipped_scenarios() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo().join("scenarios"))
        .expect("scenarios/")
        .map(|e| e.expect("scenarios/ entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

/// Chromium (or Chrome) on PATH, if any.
fn chromium() -> Option<PathBuf> {
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        if let Ok(out) = std::process::Command::new("which").arg(name).output()
            && out.status.success()
        {
            let p = String::from_utf8_lossy(&out.stdout).trim().to_string();
            if !p.is_empty() {
                return Some(PathBuf::from(p));
            }
        }
    }
    None
}

/// Opens `page` (a path inside the work dir) in headless Chromium and returns the natural
/// size of every image after the load event (`"WxH"`, with `?` for an image not complete) and
/// the DOM. Without Chromium it prints a loud skip message and returns `None`, unless
/// `CAPSIM_REQUIRE_CHROMIUM=1` (CI), where it panics.
pub fn images_in_chromium(w: &Workdir, page: &str, test: &str) -> Option<(Vec<String>, String)> {
    let Some(browser) = chromium() else {
        if std::env::var("CAPSIM_REQUIRE_CHROMIUM").is_ok_and(|v| v == "1") {
            panic!("CAPSIM_REQUIRE_CHROMIUM=1 but no chromium on PATH (apt-get install chromium)");
        }
        eprintln!(
            "\n######## SKIPPED {test}: no chromium on PATH ########\n\
             ######## install Debian's `chromium` (or set CAPSIM_REQUIRE_CHROMIUM=1 to make this fail) ########\n"
        );
        return None;
    };
    // A copy of the page whose script, after the load event, writes each image's natural size
    // into the DOM, which --dump-dom then prints.
    let html = w.read(page);
    let probe = "<script>window.addEventListener('load',function(){var o=[];for(var i=0;i<document.images.length;i++)\
                 {var m=document.images[i];o.push(m.naturalWidth+'x'+m.naturalHeight+(m.complete?'':'?'));}\
                 var p=document.createElement('pre');p.id='capsim-check';p.textContent='['+o.join(' ')+']';\
                 document.body.appendChild(p);});</script></body>";
    assert!(html.contains("</body>"), "{page} has no </body>");
    let check = Path::new(page).with_file_name("check.html");
    let check = check.to_str().expect("utf-8 path");
    w.write(check, &html.replace("</body>", probe));
    let profile = w.path().join("chromium-profile");
    let out = std::process::Command::new(&browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-dev-shm-usage",
            "--virtual-time-budget=20000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", w.path().join(check).display()))
        .output()
        .expect("run chromium");
    let dom = String::from_utf8_lossy(&out.stdout).to_string();
    let start = dom.find("<pre id=\"capsim-check\">[").unwrap_or_else(|| {
        panic!("the page's load script did not run; chromium stderr:\n{}", String::from_utf8_lossy(&out.stderr))
    });
    let rest = &dom[start + "<pre id=\"capsim-check\">[".len()..];
    let sizes = rest[..rest.find(']').expect("closing bracket")].split_whitespace().map(String::from).collect();
    Some((sizes, dom))
}

/// The values of every series in draws `0..n`, computed draw by draw (gaps as the aggregation
/// takes them: D − C where D > C, else 0), `[kind][series][draw]` for population, groups,
/// births, deaths, migration, demand, capacity and gap.
fn every_value(m: &capsim::engine::Model, seed: u64, n: u64) -> Vec<Vec<Vec<f64>>> {
    let mut values = m.central_values();
    let mut shocks = vec![0.0; m.shock_len()];
    let mut ws = m.workspace();
    let mut all: Vec<Vec<Vec<f64>>> = Vec::new();
    for d in 0..n {
        capsim::engine::sample_draw(m, seed, d, &mut values, &mut shocks);
        capsim::engine::simulate_draw(m, &values, &shocks, &mut ws).unwrap();
        let o = &ws.out;
        let gap: Vec<f64> = o.demand.iter().zip(&o.capacity).map(|(d, c)| if d > c { d - c } else { 0.0 }).collect();
        let kinds = [&o.population, &o.groups, &o.births, &o.deaths, &o.migration, &o.demand, &o.capacity, &gap];
        if all.is_empty() {
            all = kinds.iter().map(|k| vec![Vec::with_capacity(n as usize); k.len()]).collect();
        }
        for (series, k) in all.iter_mut().zip(kinds) {
            for (s, v) in series.iter_mut().zip(k.iter()) {
                s.push(*v);
            }
        }
    }
    all
}

/// A kind of series: its name, its sketches and the whole-number flag of each.
type Kind<'a> = (&'a str, &'a Vec<capsim::stats::Sketch>, &'a dyn Fn(usize) -> bool);

/// MODEL §6's accuracy contract: every quantile the tables report of every series of `agg` (the
/// aggregate of draws `0..n` with `seed`), at 5, 10, 25, 50, 75, 90 and 95 % and with the
/// whole-number flag the tables use for the series, is within 0.1 % of the exact one — the
/// lowest value whose empirical CDF reaches the level — computed from the same draws one by
/// one; and a series reported as whole numbers is whole in every draw. The first breach,
/// described, if any.
pub fn quantile_contract(
    m: &capsim::engine::Model,
    agg: &capsim::stats::Aggregate,
    seed: u64,
    n: u64,
) -> Result<(), String> {
    use capsim::report::tables::{P05, P10, P25, P50, P75, P90, P95};
    let exact = every_value(m, seed, n);
    let rows = m.rows;
    let nr = m.resources.len();
    // The whole-number flag the tables pass for series `i` of each kind.
    let res_of = |i: usize| &m.resources[(i / rows) % nr];
    let kinds: [Kind; 8] = [
        ("population", &agg.population, &|_| false),
        ("groups", &agg.groups, &|_| false),
        ("births", &agg.births, &|_| false),
        ("deaths", &agg.deaths, &|_| false),
        ("migration", &agg.migration, &|_| false),
        ("demand", &agg.demand, &|i| res_of(i).integral),
        ("capacity", &agg.capacity, &|i| res_of(i).capacity_integral),
        ("gap", &agg.gap, &|i| res_of(i).integral && res_of(i).capacity_integral),
    ];
    for ((kind, sketches, whole), values) in kinds.iter().zip(&exact) {
        if sketches.len() != values.len() {
            return Err(format!("{kind}: {} sketches for {} series", sketches.len(), values.len()));
        }
        let levels = [P05, P10, P25, P50, P75, P90, P95];
        for (i, (sk, v)) in sketches.iter().zip(values).enumerate() {
            // A series the tables report as whole numbers must be whole in every draw (rounding
            // a large fractional value would stay within 0.1 % and not show below).
            if whole(i)
                && let Some(x) = v.iter().find(|x| x.fract() != 0.0)
            {
                return Err(format!("{kind} series {i} is reported as whole numbers, but a draw gave {x}"));
            }
            let mut sorted = v.clone();
            sorted.sort_by(f64::total_cmp);
            // All levels at once, as the tables ask for them.
            for (level, got) in levels.iter().zip(sk.quantiles(&levels, whole(i))) {
                let want = sorted[(level.rank(n) - 1) as usize];
                if (got - want).abs() > 1e-3 * want.abs() {
                    return Err(format!("{kind} series {i} at {level:?}: reported {got}, exact {want}"));
                }
            }
        }
    }
    Ok(())
}
