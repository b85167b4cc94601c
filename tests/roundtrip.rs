//! Round trips of the scenario format: the example resolves to the documented JSON (snapshot);
//! every path resolves, and setting it changes exactly that value; overlays (`extends`,
//! `--with`) override exactly what they name; the SHA-256 identity follows the resolved
//! scenario, not the file's spelling; `--sources` lists every input with its source.

use std::collections::BTreeMap;
use std::path::Path;

use capsim::scenario::paths::{self, Target};
use capsim::scenario::{self, Diagnostics, Dist, Scenario, resolved, tree};
use serde_json::Value;

use crate::util::{Workdir, repo};
use crate::validate::BASE;

// ---------------------------------------------------------------------------------------------
// Helpers: resolved JSON as leaves, and which variable owns a leaf.

/// Every leaf of a JSON value by its JSON pointer (empty arrays and objects are leaves too).
fn leaves(v: &Value) -> BTreeMap<String, Value> {
    fn walk(v: &Value, ptr: String, out: &mut BTreeMap<String, Value>) {
        match v {
            Value::Object(m) if !m.is_empty() => {
                for (k, x) in m {
                    walk(x, format!("{ptr}/{k}"), out);
                }
            }
            Value::Array(a) if !a.is_empty() => {
                for (i, x) in a.iter().enumerate() {
                    walk(x, format!("{ptr}/{i}"), out);
                }
            }
            _ => {
                out.insert(ptr, v.clone());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(v, String::new(), &mut out);
    out
}

/// The pointers whose leaves differ between two JSON values (present in one only included).
fn changed(a: &Value, b: &Value) -> Vec<String> {
    let (la, lb) = (leaves(a), leaves(b));
    let mut out: Vec<String> = la.iter().filter(|(k, v)| lb.get(*k) != Some(v)).map(|(k, _)| k.clone()).collect();
    out.extend(lb.keys().filter(|k| !la.contains_key(*k)).cloned());
    out.sort();
    out.dedup();
    out
}

/// The `path` of the innermost parameter object on the way to `ptr` (in either JSON).
fn owner(ptr: &str, jsons: &[&Value]) -> Option<String> {
    jsons.iter().find_map(|root| {
        let mut node = *root;
        let mut found = None;
        for tok in ptr.split('/').skip(1) {
            if let Some(p) = node.get("path").and_then(Value::as_str) {
                found = Some(p.to_string());
            }
            node = match node {
                Value::Object(m) => m.get(tok)?,
                Value::Array(a) => a.get(tok.parse::<usize>().ok()?)?,
                _ => return None,
            };
        }
        if let Some(p) = node.get("path").and_then(Value::as_str) {
            found = Some(p.to_string());
        }
        found
    })
}

fn load_doc(path: &Path, with: &[std::path::PathBuf]) -> scenario::Document {
    let mut diags = Diagnostics::default();
    let doc = tree::load_document(path, with, &mut diags).expect("document loads");
    assert!(!diags.has_errors(), "{:?}", diags.items);
    doc
}

/// Resolved JSON printed by `capsim validate --print-resolved`, without the identity and notes.
fn print_resolved(w: &Workdir, args: &[&str]) -> Value {
    let out = w.capsim().arg("validate").args(args).arg("--print-resolved").output().expect("runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut v: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let m = v.as_object_mut().expect("object");
    m.remove("sha256");
    m.remove("notes");
    v
}

/// The sha256 printed by `capsim validate`.
fn sha(w: &Workdir, args: &[&str]) -> String {
    let out = w.capsim().arg("validate").args(args).output().expect("runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let hex = text.trim().rsplit("sha256 ").next().expect("sha256 printed").to_string();
    assert_eq!(hex.len(), 64, "{text}");
    hex
}

/// Asserts the variables that differ between two resolved scenarios are exactly `named`.
fn assert_only_named_differ(a: &Value, b: &Value, named: &[&str]) {
    let diffs = changed(a, b);
    let mut owners: Vec<String> = diffs
        .iter()
        .map(|d| match d.strip_prefix("/settings/") {
            Some(k) => format!("settings.{k}"),
            None => owner(d, &[a, b]).unwrap_or_else(|| panic!("{d} changed outside any variable")),
        })
        .collect();
    owners.sort();
    owners.dedup();
    let mut want: Vec<String> = named.iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(owners, want, "changed leaves: {diffs:#?}");
}

// ---------------------------------------------------------------------------------------------
// The example's resolved JSON, pinned.

#[test]
fn the_example_resolves_to_the_documented_json() {
    let out = std::process::Command::new(assert_cmd::cargo::cargo_bin!("capsim"))
        .current_dir(repo())
        .args(["validate", "scenarios/example.toml", "--print-resolved"])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).expect("UTF-8");
    let v: Value = serde_json::from_str(&text).expect("JSON");

    // Sanity of what the snapshot pins, so that accepting a new snapshot is not the only check.
    assert_eq!(v["towns"].as_array().map(Vec::len), Some(5));
    for t in v["towns"].as_array().unwrap() {
        let e = &t["expanded"];
        for (k, n) in [
            ("population_female", 101),
            ("population_male", 101),
            ("m0_female", 101),
            ("m0_male", 101),
            ("fertility_g", 35),
            ("migrants_female", 101),
            ("migrants_male", 101),
        ] {
            let xs: Vec<f64> = e[k].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect();
            assert_eq!(xs.len(), n, "{k}");
            assert!(xs.iter().all(|x| x.is_finite() && *x >= 0.0), "{k}");
        }
        let sum = |k: &str| e[k].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).sum::<f64>();
        assert!((sum("fertility_g") - 1.0).abs() < 1e-12);
        assert!((sum("migrants_female") + sum("migrants_male") - 1.0).abs() < 1e-12);
        let e0 = e["e0_female"].as_f64().unwrap();
        assert!((60.0..100.0).contains(&e0), "{e0}");
        // Central population of the whole town.
        let pop = sum("population_female") + sum("population_male");
        assert!((100_000.0..2_000_000.0).contains(&pop), "{pop}");
    }
    // Distributions are objects, sources are kept.
    let tfr_star = &v["towns"][0]["fertility"]["tfr_star"];
    assert_eq!(tfr_star["uniform"]["low"], 0.6);
    assert_eq!(tfr_star["key"], "family_policy");
    assert!(tfr_star["source"].as_str().is_some_and(|s| s.starts_with("assumption")));
    // North's base population, central total 600,000, sex ratio 108: 600000·100/208 females.
    let north_f: f64 =
        v["towns"][0]["expanded"]["population_female"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).sum();
    assert!((north_f - 600_000.0 * 100.0 / 208.0).abs() < 1e-6, "{north_f}");
    // A one-sided clip (k ≥ 0) is written with an open upper end, not a huge number.
    assert_eq!(v["towns"][1]["migration"]["k"]["clip"], serde_json::json!([0.0, null]));

    insta::assert_snapshot!("example_resolved", text);
}

// ---------------------------------------------------------------------------------------------
// Paths.

/// The value an address has now.
fn current(s: &Scenario, json: &Value, a: &paths::Address) -> f64 {
    let segs: Vec<&str> = a.path.split('.').collect();
    if segs[0] == "settings" {
        return json["settings"][segs[1]].as_f64().expect("setting");
    }
    match &a.target {
        Target::Integer if segs[0] == "capacity" => {
            let c = s.capacity.iter().find(|c| c.town == segs[1] && c.resource == segs[2]).expect("capacity");
            c.projects.iter().find(|p| p.id == segs[4]).expect("project").year as f64
        }
        Target::Integer => {
            let r = s.resources.iter().find(|r| r.id == segs[1]).expect("resource");
            match r.rule {
                scenario::Rule::FixedMin { from_year, .. }
                | scenario::Rule::AdminUnits { from_year }
                | scenario::Rule::CoverageShare { from_year, .. } => from_year as f64,
                _ => panic!("{} has no from_year", r.id),
            }
        }
        Target::Variable => s.params().into_iter().find(|p| p.path == a.path).expect("param").central(),
        Target::Parameter(name) => {
            let var = &a.path[..a.path.len() - name.len() - 1];
            let p = s.params().into_iter().find(|p| p.path == var).expect("param");
            serde_json::to_value(&p.dist).unwrap()[p.dist.kind_name()][*name].as_f64().expect("parameter")
        }
        Target::Number => unreachable!("only settings are plain numbers"),
    }
}

/// Whether a changed leaf is one that setting `a` may change.
fn allowed(d: &str, a: &paths::Address, s: &Scenario, old: &Value, new: &Value) -> bool {
    let segs: Vec<&str> = a.path.split('.').collect();
    if segs[0] == "settings" {
        // A town's street count written as one number applies from the base year.
        return d == format!("/settings/{}", segs[1])
            || (segs[1] == "base_year" && d.starts_with("/towns/") && d.contains("/streets/"));
    }
    match &a.target {
        Target::Integer if segs[0] == "capacity" => {
            let ci = s.capacity.iter().position(|c| c.town == segs[1] && c.resource == segs[2]).unwrap();
            let pj = s.capacity[ci].projects.iter().position(|p| p.id == segs[4]).unwrap();
            d == format!("/capacity/{ci}/projects/{pj}/year")
        }
        Target::Integer => {
            let ri = s.resource_index(segs[1]).unwrap();
            d.starts_with(&format!("/resources/{ri}/")) && d.ends_with("/from_year")
        }
        _ => {
            let var = match &a.target {
                Target::Parameter(name) => &a.path[..a.path.len() - name.len() - 1],
                _ => a.path.as_str(),
            };
            let own = owner(d, &[old, new]);
            if own.as_deref() == Some(var) {
                return true;
            }
            // A Gompertz B solved from e0 moves with the a, c and infant rate it was solved with.
            if let (Some(own), Some((sex, _))) = (&own, var.rsplit_once('.'))
                && *own == format!("{sex}.b")
                && s.params()
                    .iter()
                    .any(|p| p.path == *own && p.source.as_deref().is_some_and(|x| x.starts_with("calibrated")))
            {
                return true;
            }
            // B solved from e0 is replaced by the number set: the calibration target goes.
            if var.ends_with(".b") && d.ends_with("/e0_target") {
                return true;
            }
            // The expanded per-age vectors follow the inputs of the expansion, for the towns
            // that use them.
            let expansion_input =
                [".population.", ".mortality.", ".schedule.", ".profile."].iter().any(|k| var.contains(k))
                    || var.ends_with(".female_share");
            if expansion_input && let Some(rest) = d.strip_prefix("/towns/") {
                let (ti, tail) = rest.split_once('/').unwrap();
                let town = &s.towns[ti.parse::<usize>().unwrap()].id;
                let for_town = var.starts_with("demography.") || var.starts_with(&format!("towns.{town}."));
                return tail.starts_with("expanded/") && for_town;
            }
            false
        }
    }
}

#[test]
fn every_path_resolves_and_setting_it_changes_exactly_that_value() {
    let file = repo().join("scenarios/example.toml");
    let doc = load_doc(&file, &[]);
    let s = scenario::from_document(&doc).expect("example is valid");
    let old = resolved::to_json(&s);
    let addrs = paths::addresses(&s);
    assert!(addrs.len() > 100, "{} addresses", addrs.len());
    let mut seen = std::collections::HashSet::new();
    for a in &addrs {
        assert!(seen.insert(a.path.clone()), "{} listed twice", a.path);
        assert_eq!(paths::find(&s, &a.path).as_ref(), Ok(a), "{}", a.path);
        let v = current(&s, &old, a);
        if a.path == "settings.base_year" {
            // The example's step schedules start at 2020, so any other base year is rejected,
            // with the step years named; that is the check here.
            let mut d2 = doc.clone();
            paths::set(&mut d2, &s, &a.path, v + 1.0).unwrap();
            let err = scenario::from_document(&d2).unwrap_err();
            assert!(err.to_string().contains("towns.north.streets.from.2020: found `2020`"), "{err}");
            continue;
        }
        let candidates: Vec<f64> = if a.is_integer() {
            vec![v + 1.0, v - 1.0]
        } else {
            vec![v * 1.01, v * 0.99, v + 0.01, v - 0.01, v + 1.0, v - 1.0]
        };
        let mut result = None;
        for x in candidates.into_iter().filter(|x| *x != v) {
            let mut d2 = doc.clone();
            paths::set(&mut d2, &s, &a.path, x).unwrap_or_else(|e| panic!("{}: {e}", a.path));
            if let Ok(s2) = scenario::from_document(&d2) {
                result = Some((x, s2));
                break;
            }
        }
        let (x, s2) = result.unwrap_or_else(|| panic!("{}: no nearby value validates", a.path));
        let new = resolved::to_json(&s2);
        let diffs = changed(&old, &new);
        assert!(!diffs.is_empty(), "{}: setting {x} changed nothing", a.path);
        for d in &diffs {
            assert!(allowed(d, a, &s, &old, &new), "{}: setting {x} also changed {d}", a.path);
        }
        // The value set is the value resolved.
        let got = current(&s2, &new, a);
        let want = if a.is_integer() { (x + 0.5).floor() } else { x };
        assert_eq!(got, want, "{}", a.path);
        if a.target == Target::Variable {
            let p = s2.params().into_iter().find(|p| p.path == a.path).unwrap();
            assert_eq!(p.dist, Dist::Fixed(x), "{}: a path to a variable sets the whole variable", a.path);
        }
    }
}

#[test]
fn unknown_paths_list_the_nearest_valid_ones() {
    let s = scenario::load(&repo().join("scenarios/example.toml"), &[]).unwrap();
    let err = paths::find(&s, "towns.north.migration.k.from.2021.meen").unwrap_err();
    let text = err.to_string();
    assert!(text.contains("towns.north.migration.k.from.2021.mean"), "{text}");
    assert!(paths::find(&s, "towns.all.migration.k").is_err());
}

#[test]
fn whole_number_paths_round_half_up() {
    let file = repo().join("scenarios/example.toml");
    let mut doc = load_doc(&file, &[]);
    let s = scenario::from_document(&doc).unwrap();
    let path = "capacity.north.primary_places.projects.school_a.year";
    paths::set(&mut doc, &s, path, 2025.5).unwrap();
    let s2 = scenario::from_document(&doc).unwrap();
    let c = s2.capacity.iter().find(|c| c.town == "north" && c.resource == "primary_places").unwrap();
    assert_eq!(c.projects[0].year, 2026);
    assert!(paths::set(&mut doc, &s, path, f64::NAN).is_err());
}

// ---------------------------------------------------------------------------------------------
// Overlays.

#[test]
fn extends_overrides_exactly_what_it_names() {
    let w = Workdir::new();
    w.write("base.toml", BASE);
    w.write(
        "over.toml",
        r#"extends = "base.toml"
[settings]
draws = 500

[towns.alpha.migration]
k = { uniform = [140000, 160000] }

[resources.school_places]
rate = 0.97

# One factor of a product: the other factors stay.
[resources.clinics.rate.factors]
need = 0.8
"#,
    );
    let base = print_resolved(&w, &["base.toml"]);
    let over = print_resolved(&w, &["over.toml"]);
    assert_only_named_differ(
        &base,
        &over,
        &[
            "settings.draws",
            "towns.alpha.migration.k",
            "resources.school_places.rate",
            "resources.clinics.rate.factors.need",
        ],
    );
    // A distribution replaces the whole variable: no normal parameters are left over.
    let k = &over["towns"][0]["migration"]["k"];
    assert_eq!(k["uniform"], serde_json::json!({"low": 140000.0, "high": 160000.0}));
    assert!(k.get("normal").is_none(), "{k}");
    // The factor not named keeps its distribution.
    let rate = &over["resources"][2]["rule"]["rate"];
    assert_eq!(rate[1][0], "share");
    assert_eq!(rate[1][1]["uniform"]["low"], 0.8);
}

#[test]
fn with_fragments_override_in_order_later_ones_winning() {
    let w = Workdir::new();
    w.write("base.toml", BASE);
    w.write("f1.toml", "[settings]\ndraws = 500\n\n[demography.fertility]\ntfr0 = 0.9\n");
    w.write("f2.toml", "[demography.fertility]\ntfr0 = { normal = { mean = 0.7, sd = 0.05 } }\n");
    let base = print_resolved(&w, &["base.toml"]);
    let both = print_resolved(&w, &["base.toml", "--with", "f1.toml", "--with", "f2.toml"]);
    assert_only_named_differ(&base, &both, &["settings.draws", "demography.fertility.tfr0"]);
    assert_eq!(both["settings"]["draws"], 500);
    // tfr0 is city-wide: every town inherits the one variable.
    for t in both["towns"].as_array().unwrap() {
        assert_eq!(t["fertility"]["tfr0"]["normal"]["mean"], 0.7);
        assert!(t["fertility"]["tfr0"].get("value").is_none());
    }
    let reversed = print_resolved(&w, &["base.toml", "--with", "f2.toml", "--with", "f1.toml"]);
    for t in reversed["towns"].as_array().unwrap() {
        assert_eq!(t["fertility"]["tfr0"]["value"], 0.9);
    }
    // `--with` applies over an `extends` chain the same way.
    w.write("over.toml", "extends = \"base.toml\"\n[settings]\nseed = 9\n");
    let chained = print_resolved(&w, &["over.toml", "--with", "f1.toml"]);
    assert_only_named_differ(&base, &chained, &["settings.draws", "settings.seed", "demography.fertility.tfr0"]);
}

#[test]
fn overlay_errors_name_the_fragment_and_its_line() {
    let w = Workdir::new();
    w.write("base.toml", BASE);
    w.write("bad.toml", "[settings]\ndraws = 10\n\n[demography.fertility]\nsrb = 1.07\n");
    let out = w.capsim().args(["validate", "base.toml", "--with", "bad.toml"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("error: bad.toml:5:7: demography.fertility.srb: found 1.07"), "{stderr}");
}

#[test]
fn extends_cycles_are_errors_not_hangs() {
    let w = Workdir::new();
    w.write("a.toml", "extends = \"b.toml\"\n");
    w.write("b.toml", "extends = \"a.toml\"\n");
    let out = w.capsim().args(["validate", "a.toml"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("b.toml:1:11: extends: `extends` makes a cycle"), "{stderr}");
}

// ---------------------------------------------------------------------------------------------
// Identity.

#[test]
fn the_sha256_is_the_resolved_scenarios_not_the_files() {
    let w = Workdir::new();
    w.write("base.toml", BASE);
    // The same scenario spelt differently: comments, number formats, key order in a table,
    // a value written out that equals its default, and an overlay that changes nothing.
    let respelt = BASE
        .replace("b = 1.5e-5", "b = 0.000015 # Gompertz level")
        .replace("draws = 100\nseed = 1", "seed = 1\ndraws = 1_00")
        .replace("sigma_k = 0.02", "sigma_k = 2e-2")
        .replace("[towns.alpha]\n", "# The first town.\n[towns.alpha]\n");
    assert_ne!(respelt, BASE);
    w.write("respelt.toml", &respelt);
    w.write("same.toml", "extends = \"base.toml\"\n[settings]\nrisk = 0.2\n");
    let h = sha(&w, &["base.toml"]);
    assert_eq!(sha(&w, &["respelt.toml"]), h);
    assert_eq!(sha(&w, &["same.toml"]), h);
    // A changed number is a different scenario.
    w.write("changed.toml", &BASE.replace("sigma_k = 0.02", "sigma_k = 0.021"));
    assert_ne!(sha(&w, &["changed.toml"]), h);
    w.write("seed.toml", "[settings]\nseed = 2\n");
    assert_ne!(sha(&w, &["base.toml", "--with", "seed.toml"]), h);
    // What `--print-resolved` reports is the same identity.
    let out = w.capsim().args(["validate", "base.toml", "--print-resolved"]).output().unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["sha256"], h.as_str());
}

// ---------------------------------------------------------------------------------------------
// Provenance.

#[test]
fn sources_lists_every_input_with_its_source() {
    let w = Workdir::new();
    let text =
        BASE.replace("tfr0 = 0.8", "tfr0 = { value = 0.8, source = \"Bulletin 2021, table 3\", confidence = \"DQ\" }");
    w.write("base.toml", &text);
    let out = w.capsim().args(["validate", "base.toml", "--sources"]).output().unwrap();
    assert!(out.status.success());
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(table.starts_with("| path | value | source | confidence |\n"), "{table}");
    let s = scenario::from_text("base.toml", &text).unwrap();
    for p in s.params() {
        if p.source.as_deref() == Some("default") || p.source.as_deref().is_some_and(|x| x.starts_with("not given")) {
            continue; // defaults are not inputs
        }
        assert!(table.contains(&format!("| `{}` |", p.path)), "{} missing from:\n{table}", p.path);
    }
    // A value's own source wins over the file's; the file's is inherited elsewhere.
    assert!(table.contains("| `demography.fertility.tfr0` | 0.8 | Bulletin 2021, table 3 | DQ |"), "{table}");
    assert!(table.contains("| `demography.fertility.phi` | 0.2 | assumption: test fixture |  |"), "{table}");
    assert!(table.contains("| `towns.alpha.migration.k` | normal(mean 150000, sd 10000) clipped to ≥ 0 |"), "{table}");

    // Without a source anywhere, inputs say so.
    let bare = BASE.replace("source = \"assumption: test fixture\"\n", "");
    w.write("bare.toml", &bare);
    let out = w.capsim().args(["validate", "bare.toml", "--sources"]).output().unwrap();
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(table.contains("| `demography.fertility.phi` | 0.2 | no source |  |"), "{table}");
}
