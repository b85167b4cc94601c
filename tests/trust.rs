//! Trust (issue 8): nothing half-written, nothing panics, limits stated up front, every command
//! hardened. Over the binary: a run killed with SIGKILL leaves the previous results intact and
//! no staging directory behind; a table of bad command lines across every command each exit 2
//! with a message naming the problem and write nothing; oversized inputs are refused before
//! they are read; a number driven to infinity stops the run naming its input; a run too big for
//! the machine's memory is refused up front; a crafted part that the fuzzer found is refused. In
//! the library: random valid scenarios of every kind never panic from validation to the tables,
//! and every table cell is finite.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::util::{Workdir, repo, scenario};

/// Every path under `dir` (relative), directories included.
fn listing(dir: &Path) -> BTreeSet<PathBuf> {
    let mut out = BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            out.insert(p.strip_prefix(dir).unwrap().to_path_buf());
            if e.file_type().unwrap().is_dir() {
                stack.push(p);
            }
        }
    }
    out
}

/// The files of a directory with their bytes.
fn contents(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| (e.file_name().to_string_lossy().to_string(), std::fs::read(e.path()).unwrap()))
        .collect();
    v.sort();
    v
}

/// Staging or set-aside directories of `name` left in `parent`.
fn leftovers(parent: &Path, name: &str) -> Vec<String> {
    std::fs::read_dir(parent)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|f| {
            f.starts_with(&format!(".{name}.capsim-staging-")) || f.starts_with(&format!(".{name}.capsim-old-"))
        })
        .collect()
}

const TABLES: [&str; 6] = [
    "population.csv",
    "population_age.csv",
    "summary.csv",
    "first_shortfall.csv",
    "first_shortfall_cdf.csv",
    "components.csv",
];

fn run_example(w: &Workdir, out: &str, draws: &str, seed: &str, extra: &[&str]) {
    w.capsim()
        .arg("-q")
        .arg("run")
        .arg(scenario("example.toml"))
        .args(["--draws", draws, "--seed", seed, "--threads", "1", "--out", out])
        .args(extra)
        .assert()
        .success();
}

fn spawn_example(w: &Workdir, out: &str, draws: &str, seed: &str, extra: &[&str]) -> std::process::Child {
    std::process::Command::new(assert_cmd::cargo::cargo_bin!("capsim"))
        .current_dir(w.path())
        .arg("-q")
        .arg("run")
        .arg(scenario("example.toml"))
        .args(["--draws", draws, "--seed", seed, "--threads", "1", "--out", out])
        .args(extra)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn capsim")
}

#[test]
fn a_run_killed_midway_leaves_the_previous_results_intact_and_no_staging_behind() {
    let w = Workdir::new();
    run_example(&w, "out", "40", "1", &["--no-charts"]);
    let before = contents(&w.path().join("out"));
    assert!(before.iter().any(|(f, _)| f == "run.json"));

    // Killed while computing (far more draws than it can finish): nothing of it may show.
    let mut child = spawn_example(&w, "out", "50000000", "2", &["--no-charts"]);
    std::thread::sleep(Duration::from_millis(800));
    assert!(child.try_wait().unwrap().is_none(), "the run ended before it could be killed");
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert_eq!(contents(&w.path().join("out")), before, "the previous results changed");

    // Killed while writing: as soon as its staging directory appears (charts make the write
    // long enough to catch it most of the time). The directory then holds either the previous
    // results, byte for byte, or the complete new ones — never a mix.
    run_example(&w, "reference", "60", "3", &[]);
    let mut child = spawn_example(&w, "out", "60", "3", &[]);
    let started = Instant::now();
    let mut caught = false;
    while started.elapsed() < Duration::from_secs(60) {
        if !leftovers(w.path(), "out").is_empty() {
            child.kill().unwrap();
            caught = true;
            break;
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    child.wait().unwrap();
    let now = contents(&w.path().join("out"));
    if now != before {
        let reference = contents(&w.path().join("reference"));
        let names = |v: &[(String, Vec<u8>)]| v.iter().map(|f| f.0.clone()).collect::<Vec<_>>();
        assert_eq!(names(&now), names(&reference), "a half-written result (caught in staging: {caught})");
        for t in TABLES {
            assert_eq!(w.read(&format!("out/{t}")), w.read(&format!("reference/{t}")), "{t}");
        }
    }

    // The next run cleans up whatever the killed ones left and writes its own results.
    run_example(&w, "out", "40", "4", &["--no-charts"]);
    assert_eq!(leftovers(w.path(), "out"), Vec::<String>::new(), "staging directories left behind");
    assert!(w.read("out/run.json").contains("\"seed\": 4"));
}

/// A shard's partial result, rewritten (metadata or bytes) and sealed again.
fn rewrite_part(from: &Path, to: &Path, edit: impl Fn(&mut capsim::partial::PartialMeta)) {
    let bytes = std::fs::read(from.join("partial.capsim")).unwrap();
    let (mut meta, agg) = capsim::partial::decode("part", &bytes).unwrap();
    edit(&mut meta);
    std::fs::create_dir_all(to).unwrap();
    std::fs::write(to.join("partial.capsim"), capsim::partial::encode(&meta, &agg).unwrap()).unwrap();
}

#[test]
fn bad_command_lines_exit_2_name_the_problem_and_write_nothing() {
    let w = Workdir::new();
    let example = scenario("example.toml");
    let ex = example.to_str().unwrap();
    // Fixtures: shards of example.toml (seed 9, 30 draws) and parts that do not belong with them.
    let shard = |i: u64, n: u64, seed: &str, out: &str, extra: &[&str]| {
        let mut c = w.capsim();
        c.args(["-q", "run", ex, "--draws", "30", "--seed", seed, "--shard", &format!("{i}/{n}"), "--out", out]);
        c.args(extra).assert().success();
    };
    for i in 0..3 {
        shard(i, 3, "9", &format!("p{i}"), &[]);
    }
    shard(1, 3, "10", "seed10", &[]);
    shard(1, 2, "9", "count2", &[]);
    w.write("frag.toml", "[settings]\nrisk = 0.3\n");
    shard(1, 3, "9", "other_scenario", &["--with", "frag.toml"]);
    let p = |s: &str| w.path().join(s);
    rewrite_part(&p("p1"), &p("oldversion1"), |m| m.capsim_version = "0.0.1".into());
    for i in 0..3 {
        rewrite_part(&p(&format!("p{i}")), &p(&format!("old{i}")), |m| m.capsim_version = "0.0.1".into());
    }
    let good = std::fs::read(p("p1/partial.capsim")).unwrap();
    std::fs::create_dir_all(p("truncated")).unwrap();
    std::fs::write(p("truncated/partial.capsim"), &good[..good.len() / 2]).unwrap();
    // A file of the next format version.
    let other = capsim::partial::FORMAT_VERSION + 1;
    let mut v2 = good.clone();
    v2[capsim::partial::MAGIC.len()..][..4].copy_from_slice(&other.to_le_bytes());
    std::fs::create_dir_all(p("format2")).unwrap();
    std::fs::write(p("format2/partial.capsim"), v2).unwrap();
    // Parts whose scenario changed, or disappeared, after the shards ran.
    let tiny = std::fs::read_to_string(repo().join("fuzz/seeds/tiny.toml")).unwrap();
    for name in ["changed", "gone"] {
        w.write(&format!("{name}.toml"), &tiny);
        let part = format!("{name}_part");
        w.capsim().args(["-q", "run", &format!("{name}.toml"), "--shard", "0/1", "--out", &part]).assert().success();
    }
    w.write("changed.toml", &tiny.replace("rho = 0.1", "rho = 0.2"));
    std::fs::remove_file(p("gone.toml")).unwrap();
    w.write("foreign/notes.txt", "someone else's work");
    w.write("afile", "not a directory");
    w.write("notes.txt", "not a partial result");
    std::fs::write(p("binary.toml"), [0xff, 0xfe, 0x00, 0x80, b'\n']).unwrap();
    std::fs::create_dir_all(p("dir.toml")).unwrap();

    let m = |parts: &[&str]| -> Vec<String> {
        let mut v = vec!["merge".to_string()];
        v.extend(parts.iter().map(|s| s.to_string()));
        if !parts.contains(&"--out") {
            v.extend(["--out".into(), "merged".into()]);
        }
        v
    };
    let with_ex = |cmd: &str, rest: &[&str]| -> Vec<String> {
        let mut v = vec![cmd.to_string(), ex.to_string()];
        v.extend(rest.iter().map(|s| s.to_string()));
        v
    };
    let sweep = |param: &str, values: &str| with_ex("sweep", &["--param", param, "--values", values, "--out", "sw"]);
    let sens = |rest: &[&str]| {
        let mut v = with_ex("sensitivity", rest);
        v.extend(["--out".into(), "sens".into()]);
        v
    };
    let run = |rest: &[&str]| {
        let mut v = with_ex("run", rest);
        if !rest.contains(&"--out") {
            v.extend(["--out".into(), "r".into()]);
        }
        v
    };
    let cases: Vec<(&str, Vec<String>, &str)> = vec![
        // validate
        ("validate: missing file", vec!["validate".into(), "missing.toml".into()], "missing.toml"),
        ("validate: a directory", vec!["validate".into(), "dir.toml".into()], "is a directory"),
        ("validate: missing --with", with_ex("validate", &["--with", "nofrag.toml"]), "nofrag.toml"),
        // run
        ("run: missing scenario", vec!["run".into(), "nope.toml".into()], "nope.toml"),
        ("run: --draws 0", run(&["--draws", "0"]), "--draws 0"),
        ("run: negative draws", run(&["--draws", "-5"]), "-5"),
        ("run: shard out of range", run(&["--shard", "2/2"]), "out of range"),
        ("run: shard without /", run(&["--shard", "1"]), "expected I/N"),
        ("run: zero shards", run(&["--shard", "0/0"]), "at least 1"),
        ("run: shard not a number", run(&["--shard", "a/4"]), "not a whole number"),
        ("run: more shards than draws", run(&["--draws", "3", "--shard", "0/5"]), "at most 3 shards"),
        ("run: unknown --lang", run(&["--lang", "fr"]), "fr"),
        ("run: tiny --chart-size", run(&["--chart-size", "10x10"]), "10x10"),
        ("run: bad --chart-size", run(&["--chart-size", "big"]), "WIDTHxHEIGHT"),
        ("run: missing --font", run(&["--font", "nofont.ttf"]), "nofont.ttf"),
        ("run: --out is a file", run(&["--out", "afile"]), "not a directory"),
        ("run: --out under a file", run(&["--out", "afile/results"]), "afile cannot hold the output directory"),
        ("run: --out .", run(&["--out", "."]), "not a usable output directory name"),
        ("run: too many draws", run(&["--draws", "2000000000"]), "at most 1000000000 draws"),
        ("run: binary scenario", vec!["run".into(), "binary.toml".into()], "UTF-8"),
        ("run: foreign --out", run(&["--out", "foreign"]), "not written by capsim"),
        ("run: bad --threads", run(&["--threads", "many"]), "many"),
        // merge
        ("merge: missing part", m(&["p0", "nowhere"]), "nowhere"),
        ("merge: not a partial", m(&["notes.txt"]), "CAPSIM-PARTIAL"),
        ("merge: different seeds", m(&["p0", "seed10", "p2"]), "seed"),
        ("merge: different scenarios", m(&["p0", "other_scenario", "p2"]), "scenario"),
        ("merge: different shard counts", m(&["p0", "count2", "p2"]), "shard count"),
        ("merge: different versions", m(&["p0", "oldversion1", "p2"]), "capsim version"),
        ("merge: another capsim's parts", m(&["old0", "old1", "old2"]), "written by capsim 0.0.1"),
        ("merge: overlapping shards", m(&["p0", "p1", "p1", "p2"]), "overlaps"),
        ("merge: missing shard", m(&["p0", "p2"]), "missing"),
        ("merge: scenario changed since", m(&["changed_part"]), "changed.toml has changed since the shards ran"),
        ("merge: scenario gone", m(&["gone_part"]), "gone.toml cannot be read now"),
        ("merge: truncated part", m(&["p0", "truncated", "p2"]), "truncated or corrupted"),
        ("merge: other format version", m(&["p0", "format2", "p2"]), "partial-result format version 3"),
        ("merge: --out is a file", m(&["p0", "p1", "p2", "--out", "afile"]), "not a directory"),
        ("merge: foreign --out", m(&["p0", "p1", "p2", "--out", "foreign"]), "not written by capsim"),
        ("merge: unknown --lang", m(&["p0", "p1", "p2", "--lang", "de"]), "de"),
        // sweep
        ("sweep: unknown path", sweep("towns.nort.migration.k", "1,2"), "towns.nort.migration.k"),
        ("sweep: not numbers", sweep("settings.risk", "0.1,abc"), "`abc` is not a number"),
        ("sweep: one-point range", sweep("settings.risk", "0.1..0.2:1"), "n ≥ 2"),
        ("sweep: malformed range", sweep("settings.risk", "0.1..0.2"), "not a range"),
        ("sweep: duplicate values", sweep("settings.risk", "0.1,0.2,0.1"), "appears twice"),
        ("sweep: too many points", sweep("settings.risk", "0.1..0.2:5000"), "more than 1000"),
        ("sweep: empty list", sweep("settings.risk", " "), "empty"),
        ("sweep: value out of range", sweep("settings.risk", "0.1,1.5"), "settings.risk = 1.5"),
        ("sweep: the seed", sweep("settings.seed", "1,2"), "cannot be swept"),
        (
            "sweep: grid too large",
            with_ex(
                "sweep",
                &[
                    "--param",
                    "settings.risk",
                    "--values",
                    "0.01..0.99:200",
                    "--param",
                    "demography.fertility.phi",
                    "--values",
                    "0..1:100",
                    "--out",
                    "sw",
                ],
            ),
            "at most 10000",
        ),
        (
            "sweep: --values missing",
            with_ex(
                "sweep",
                &["--param", "settings.risk", "--param", "settings.end_year", "--values", "0.1,0.2", "--out", "sw"],
            ),
            "2 --param but 1 --values",
        ),
        (
            "sweep: --draws 0",
            [sweep("settings.risk", "0.1,0.2"), vec!["--draws".into(), "0".into()]].concat(),
            "--draws 0",
        ),
        (
            "sweep: foreign --out",
            with_ex("sweep", &["--param", "settings.risk", "--values", "0.1,0.2", "--out", "foreign"]),
            "not written by capsim",
        ),
        // sensitivity
        ("sensitivity: N not a power of two", sens(&["--samples", "1000"]), "power of two"),
        (
            "sensitivity: odd Morris levels",
            sens(&["--method", "morris", "--levels", "3"]),
            "even number of grid levels",
        ),
        ("sensitivity: levels with Sobol'", sens(&["--levels", "4"]), "morris only"),
        ("sensitivity: one trajectory", sens(&["--method", "morris", "--samples", "1"]), "at least 2 trajectories"),
        ("sensitivity: unknown method", sens(&["--method", "fast"]), "fast"),
        ("sensitivity: sample too large for memory", sens(&["--samples", "1073741824"]), "GB of memory"),
        (
            "sensitivity: --out is a file",
            with_ex("sensitivity", &["--samples", "8", "--out", "afile"]),
            "not a directory",
        ),
    ];
    assert!(cases.len() >= 25);
    let before = listing(w.path());
    for (what, args, needle) in &cases {
        let started = Instant::now();
        let out = w.capsim().args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{what}: expected exit 2 for {args:?}; stderr:\n{stderr}");
        assert!(stderr.contains(needle), "{what}: expected `{needle}` in:\n{stderr}");
        assert!(!stderr.contains("panicked"), "{what}: {stderr}");
        assert_eq!(listing(w.path()), before, "{what}: something was written");
        assert!(started.elapsed() < Duration::from_secs(20), "{what}: took {:?}", started.elapsed());
    }
}

/// Regression (fuzz target `partial`): a part whose birth, death, migration or age-group sketches
/// had another bucket resolution than the scenario's passed the shape check; merging it panicked
/// (debug builds) or silently mixed resolutions, giving wrong quantiles.
#[test]
fn a_part_with_another_sketch_resolution_is_refused() {
    let w = Workdir::new();
    w.write("tiny.toml", &std::fs::read_to_string(repo().join("fuzz/seeds/tiny.toml")).unwrap());
    for i in 0..2 {
        w.capsim()
            .args(["-q", "run", "tiny.toml", "--draws", "10", "--shard", &format!("{i}/2"), "--out", &format!("p{i}")])
            .assert()
            .success();
    }
    for series in ["groups", "births", "deaths", "migration"] {
        let dir = format!("{series}_bits");
        rewrite_aggregate(&w.path().join("p1"), &w.path().join(&dir), |agg| {
            let s = match series {
                "groups" => &mut agg.groups,
                "births" => &mut agg.births,
                "deaths" => &mut agg.deaths,
                _ => &mut agg.migration,
            };
            s[0].bits = if s[0].bits == 9 { 10 } else { 9 };
        });
        let out = w.capsim().args(["merge", "p0", &dir, "--out", "m", "--no-charts"]).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{series}: {stderr}");
        assert!(stderr.contains("does not match the scenario"), "{series}: {stderr}");
        assert!(!w.path().join("m").exists());
    }
}

/// A shard's partial result with its aggregate edited, sealed again.
fn rewrite_aggregate(from: &Path, to: &Path, edit: impl Fn(&mut capsim::stats::Aggregate)) {
    let bytes = std::fs::read(from.join("partial.capsim")).unwrap();
    let (meta, mut agg) = capsim::partial::decode("part", &bytes).unwrap();
    edit(&mut agg);
    std::fs::create_dir_all(to).unwrap();
    std::fs::write(to.join("partial.capsim"), capsim::partial::encode(&meta, &agg).unwrap()).unwrap();
}

/// Creates a sparse file of `len` bytes (no disk used).
fn sparse(path: &Path, len: u64) {
    std::fs::File::create(path).unwrap().set_len(len).unwrap();
}

fn refused_quickly(w: &Workdir, args: &[&str], needle: &str) {
    let started = Instant::now();
    let out = w.capsim().args(args).output().unwrap();
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    assert!(stderr.contains(needle), "expected `{needle}` in: {stderr}");
    assert!(took < Duration::from_secs(5), "{args:?} took {took:?}: was the input read?");
}

#[test]
fn oversized_inputs_are_refused_before_they_are_read() {
    let w = Workdir::new();
    const TEN_GB: u64 = 10 << 30;
    sparse(&w.path().join("huge.toml"), TEN_GB);
    refused_quickly(&w, &["validate", "huge.toml"], "10737418240 bytes");
    refused_quickly(&w, &["run", "huge.toml", "--out", "r"], "10737418240 bytes");
    // As a --with fragment too.
    let ex = scenario("example.toml");
    refused_quickly(&w, &["validate", ex.to_str().unwrap(), "--with", "huge.toml"], "10737418240 bytes");

    // As a font: refused before reading (it used to be read whole into memory), and a device
    // that reports no size but never ends.
    let ex = ex.to_str().unwrap();
    refused_quickly(&w, &["run", ex, "--draws", "5", "--font", "huge.toml", "--out", "r"], "10737418240 bytes");
    refused_quickly(&w, &["run", ex, "--draws", "5", "--font", "/dev/zero", "--out", "r"], "larger than");
    let sweep = ["sweep", ex, "--param", "settings.risk", "--values", "0.1,0.2", "--draws", "5", "--out", "r"];
    refused_quickly(&w, &[&sweep[..], &["--font", "huge.toml"]].concat(), "10737418240 bytes");

    // An output directory holding a 10 GB run.json is not capsim's (and the file is not read).
    std::fs::create_dir(w.path().join("bigrun")).unwrap();
    sparse(&w.path().join("bigrun/run.json"), TEN_GB);
    refused_quickly(&w, &["run", ex, "--draws", "5", "--out", "bigrun"], "not written by capsim");

    std::fs::create_dir(w.path().join("hugepart")).unwrap();
    sparse(&w.path().join("hugepart/partial.capsim"), TEN_GB);
    refused_quickly(&w, &["merge", "hugepart", "--out", "m"], "larger than any partial result");

    // An age table of a million rows (6 MB): refused by size before parsing.
    let text = std::fs::read_to_string(scenario("example.toml")).unwrap();
    assert!(text.contains("data/example-west-ages.csv"));
    w.write("million.toml", &text.replace("data/example-west-ages.csv", "million.csv"));
    let mut csv = String::from("age,female,male\n");
    for i in 0..1_000_000 {
        csv.push_str(&format!("{},1,1\n", i % 101));
    }
    w.write("million.csv", &csv);
    refused_quickly(&w, &["validate", "million.toml"], "million.csv");
    refused_quickly(&w, &["run", "million.toml", "--out", "r"], "at most 1048576 bytes");
    // Under the byte limit but far more rows than ages: refused at row 103.
    let rows: String = (0..100_000).map(|i| format!("{},0,0\n", i % 101)).collect();
    w.write("rows.csv", &format!("age,female,male\n{rows}"));
    w.write("rows.toml", &text.replace("data/example-west-ages.csv", "rows.csv"));
    refused_quickly(&w, &["validate", "rows.toml"], "rows.csv:103: more than 101 rows");
    assert!(!w.path().join("r").exists() && !w.path().join("m").exists(), "nothing written");
}

#[test]
fn a_number_driven_to_infinity_stops_the_run_naming_its_input() {
    let w = Workdir::new();
    let text = std::fs::read_to_string(scenario("example.toml")).unwrap();
    std::fs::create_dir_all(w.path().join("data")).unwrap();
    std::fs::copy(repo().join("scenarios/data/example-west-ages.csv"), w.path().join("data/example-west-ages.csv"))
        .unwrap();
    let edit = |from: &str, to: &str| {
        let t = text.replace(from, to);
        assert_ne!(t, text, "{from} not in example.toml");
        t
    };
    // Pupils per staff member, a valid positive number so small that staff demand overflows to
    // infinity in the engine: the run stops naming the input.
    w.write("infinite.toml", &edit("per = 19   # pupils per staff member", "per = 1e-310"));
    // An absurd input (a typo for 45): refused by validation, at its line. It used to pass and
    // overflow the exact sums of the aggregation (a panic, or a wrapped mean in release builds).
    w.write("absurd.toml", &edit("2030 = 45 }", "2030 = 4.5e290 }"));
    // Valid, but so small that staff demand is finite yet far beyond any real number (6e295): it
    // used to overflow the aggregation's exact sums (a panic; a wrong mean in release builds).
    w.write("vast.toml", &edit("per = 19   # pupils per staff member", "per = 1e-290"));
    // A log-normal whose rare draws reach 1e18 beds per 1,000 residents.
    w.write(
        "tails.toml",
        &edit("per_1000 = { uniform = [6.0, 7.5] }", "per_1000 = { lognormal = { mu = 2, sigma = 5 } }"),
    );
    let vast =
        ["the demand for school_staff_primary in town north in 2020", "beyond 1e15", "resources.school_staff_primary"];
    let cases: [(&[&str], &[&str]); 9] = [
        (&["run", "vast.toml", "--draws", "20"], &vast),
        (&["run", "vast.toml", "--draws", "20", "--shard", "1/2"], &vast),
        (&["sweep", "vast.toml", "--param", "settings.risk", "--values", "0.1,0.2", "--draws", "20"], &vast),
        (&["sensitivity", "vast.toml", "--method", "morris", "--samples", "2"], &vast),
        (&["validate", "tails.toml"], &["resources.hospital_beds.per_1000", "can draw values as large as", "clip"]),
        (
            &["run", "infinite.toml", "--draws", "20"],
            &["NaN, infinite or beyond 1e15", "resources.school_staff_primary.per = "],
        ),
        (
            &["run", "infinite.toml", "--draws", "20", "--shard", "0/2"],
            &["NaN, infinite or beyond 1e15", "school_staff_primary.per"],
        ),
        (
            &["run", "absurd.toml", "--draws", "20"],
            &["absurd.toml:", "resources.elderly_care_floor_m2.per_1000.from.2030", "1e12"],
        ),
        (&["validate", "absurd.toml"], &["resources.elderly_care_floor_m2.per_1000.from.2030", "typo"]),
    ];
    for (args, needles) in cases {
        let before = listing(w.path());
        let out = w.capsim().args(args).args(["--out", "r"].iter().filter(|_| args[0] != "validate")).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        for n in needles {
            assert!(stderr.contains(n), "{args:?}: expected `{n}` in {stderr}");
        }
        assert_eq!(listing(w.path()), before, "{args:?}: something was written");
    }
}

/// A scenario of the largest shape validation allows in towns × resources × years.
fn enormous_scenario() -> String {
    let mut s = String::from(
        r#"name = "enormous"
[settings]
base_year = 2000
end_year = 2200
draws = 1000
[demography.mortality]
delta = 0.01
female = { a = 0.0002, b = 2e-5, c = 0.1, infant_prob = 0.003 }
male = { a = 0.0003, b = 3e-5, c = 0.1, infant_prob = 0.003 }
[demography.fertility]
tfr0 = 1.0
srb = 107
schedule = { mean_age = 30, sd_age = 5 }
[demography.migration]
k = 1000
rho = 0.1
profile = { a1 = 0.02, alpha1 = 0.1, a2 = 0.06, alpha2 = 0.1, mu2 = 26, lambda2 = 0.4, c0 = 0.001 }
"#,
    );
    for t in 0..200 {
        s.push_str(&format!(
            "[towns.t{t}]\nname = \"t{t}\"\nstreets = 1\npopulation = {{ age_groups = [[0, 100]], female = [500], male = [500] }}\n"
        ));
    }
    for r in 0..500 {
        s.push_str(&format!("[resources.r{r}]\nname = \"r{r}\"\nunit = \"u\"\nkind = \"admin_units\"\n"));
    }
    for t in 0..200 {
        s.push_str(&format!("[capacity.t{t}]\n"));
        for r in 0..500 {
            s.push_str(&format!("r{r}.base = 1\n"));
        }
    }
    s
}

#[test]
fn a_run_too_big_for_memory_is_refused_up_front() {
    // capsim reads the memory available from /proc/meminfo (Linux); elsewhere it cannot refuse,
    // and this run would really try to allocate hundreds of GB.
    if !Path::new("/proc/meminfo").exists() {
        eprintln!("skipped: no /proc/meminfo on this system");
        return;
    }
    let w = Workdir::new();
    w.write("enormous.toml", &enormous_scenario());
    for args in [
        &["run", "enormous.toml", "--out", "r"][..],
        &["run", "enormous.toml", "--shard", "0/4", "--out", "r"][..],
        &["sweep", "enormous.toml", "--param", "settings.risk", "--values", "0.1,0.2", "--out", "r"][..],
    ] {
        let started = Instant::now();
        let out = w.capsim().args(args).output().unwrap();
        let took = started.elapsed();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        // The estimate, what is available, and what to do about it.
        assert!(stderr.contains("this run needs about") && stderr.contains("MB are available"), "{stderr}");
        assert!(stderr.contains("even one thread needs about"), "{stderr}");
        assert!(!w.path().join("r").exists());
        assert!(took < Duration::from_secs(30), "{args:?} took {took:?}");
    }
}

mod random_scenarios {
    //! Random valid scenarios using every kind of input: towns with each form of base
    //! population, each resource kind, each distribution (with keys and clips), step schedules,
    //! projects and closures with uncertain delays, per-town overrides.

    use proptest::prelude::*;

    /// How one number is written.
    #[derive(Debug, Clone, Copy)]
    pub struct Num {
        kind: u8,
        key: bool,
        clip: bool,
    }

    fn num() -> impl Strategy<Value = Num> {
        (0u8..6, any::<bool>(), any::<bool>()).prop_map(|(kind, key, clip)| Num { kind, key, clip })
    }

    /// `c` written as `n` says, its spread `s` (kept inside the field's domain by the caller:
    /// c ± s stays in it, so every form is valid). `positive`: the field must stay > 0, so no
    /// normal.
    fn write(n: Num, c: f64, s: f64, positive: bool) -> String {
        let mut kind = n.kind;
        if positive && kind == 2 {
            kind = 3;
        }
        let body = match kind {
            0 => return format!("{c}"),
            1 => format!("value = {c}, source = \"prop\""),
            2 => format!("normal = {{ mean = {c}, sd = {} }}", s / 3.0),
            3 => format!("uniform = [{}, {}]", c - s, c + s),
            4 => format!("triangular = [{}, {c}, {}]", c - s, c + s),
            _ => format!("lognormal = {{ mu = {}, sigma = 0.05 }}", c.ln()),
        };
        let mut extra = String::new();
        if n.key && kind >= 2 {
            extra.push_str(", key = \"shared\"");
        }
        if n.clip && (2..5).contains(&kind) {
            extra.push_str(&format!(", clip = [{}, {}]", c - s, c + s));
        }
        format!("{{ {body}{extra} }}")
    }

    #[derive(Debug, Clone)]
    pub struct TownSpec {
        pop_form: u8,
        pop: f64,
        streets_steps: bool,
        k: Num,
        k_factor: f64,
        k_steps: bool,
        rho: Num,
        n_fix_steps: bool,
        own_fertility: Option<Num>,
        own_mortality: bool,
        targets: bool,
    }

    fn town() -> impl Strategy<Value = TownSpec> {
        (
            0u8..4,
            1e3..5e6f64,
            any::<bool>(),
            num(),
            0.2..3.0f64,
            any::<bool>(),
            num(),
            any::<bool>(),
            prop::option::of(num()),
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(
                |(
                    pop_form,
                    pop,
                    streets_steps,
                    k,
                    k_factor,
                    k_steps,
                    rho,
                    n_fix_steps,
                    own_fertility,
                    own_mortality,
                    targets,
                )| {
                    TownSpec {
                        pop_form,
                        pop,
                        streets_steps,
                        k,
                        k_factor,
                        k_steps,
                        rho,
                        n_fix_steps,
                        own_fertility,
                        own_mortality,
                        targets,
                    }
                },
            )
    }

    #[derive(Debug, Clone)]
    pub struct ResourceSpec {
        kind: u8,
        a: Num,
        b: Num,
        ages: Option<(u8, u8)>,
        ceil: bool,
        steps: bool,
        override_first_town: bool,
        base: Num,
        base_factor: f64,
        project: Option<(Num, u8, bool)>,
    }

    fn resource() -> impl Strategy<Value = ResourceSpec> {
        (
            0u8..7,
            num(),
            num(),
            prop::option::of((0u8..100, 0u8..40)),
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
            num(),
            0.0..2.0f64,
            prop::option::of((num(), 0u8..12, any::<bool>())),
        )
            .prop_map(|(kind, a, b, ages, ceil, steps, override_first_town, base, base_factor, project)| {
                ResourceSpec {
                    kind,
                    a,
                    b,
                    ages: ages.map(|(lo, w)| (lo, (lo + w).min(100))),
                    ceil,
                    steps,
                    override_first_town,
                    base,
                    base_factor,
                    project,
                }
            })
    }

    #[derive(Debug, Clone)]
    pub struct ScenarioSpec {
        years: i32,
        risk: f64,
        towns: Vec<TownSpec>,
        resources: Vec<ResourceSpec>,
        e0: bool,
        gamma: bool,
        rogers_castro: bool,
        tfr: Num,
        delta: Num,
        sigmas: (f64, f64, f64, f64),
        c: f64,
    }

    pub fn spec() -> impl Strategy<Value = ScenarioSpec> {
        (
            (1i32..12, 0.05..0.95f64),
            prop::collection::vec(town(), 1..4),
            prop::collection::vec(resource(), 1..7),
            (any::<bool>(), any::<bool>(), any::<bool>()),
            (num(), num()),
            (0.0..0.1f64, 0.0..0.3f64, 0.0..1.0f64, 0.0..0.2f64),
            0.0..1.0f64,
        )
            .prop_map(
                |((years, risk), towns, resources, (e0, gamma, rogers_castro), (tfr, delta), sigmas, c)| ScenarioSpec {
                    years,
                    risk,
                    towns,
                    resources,
                    e0,
                    gamma,
                    rogers_castro,
                    tfr,
                    delta,
                    sigmas,
                    c,
                },
            )
    }

    /// A step schedule from the first year the value is needed, or the value alone.
    fn sched(steps: bool, first: i32, end: i32, a: String, b: String) -> String {
        if steps && first < end {
            format!("{{ from = {{ {first} = {a}, {} = {b} }} }}", ((first + end + 1) / 2).max(first + 1))
        } else {
            a
        }
    }

    pub fn text(sp: &ScenarioSpec) -> String {
        let (base, end) = (2020, 2020 + sp.years);
        let (sigma_k, sigma_f, sigma_m, _) = sp.sigmas;
        let female = if sp.e0 {
            "{ a = 0.0001, c = 0.1, infant_prob = 0.0023, e0 = 86 }".to_string()
        } else {
            format!("{{ a = 0.0001, b = {}, c = 0.1, infant_rate = 0.002 }}", write(sp.delta, 1.2e-5, 2e-6, true))
        };
        let schedule = if sp.gamma {
            format!("{{ mean_age = {}, sd_age = 5.5 }}", write(sp.tfr, 30.0, 2.0, true))
        } else {
            format!("{{ table = [{}] }}", vec!["1"; 35].join(", "))
        };
        let profile = if sp.rogers_castro {
            "{ a1 = 0.02, alpha1 = 0.1, a2 = 0.06, alpha2 = 0.1, mu2 = 26, lambda2 = 0.4, c0 = 0.001 }".to_string()
        } else {
            format!("{{ table = [{}] }}", vec!["0.5"; 101].join(", "))
        };
        let mut s = format!(
            r#"name = {{ en = "random", zh = "随机" }}
source = "prop"
[settings]
base_year = {base}
end_year = {end}
draws = 16
risk = {risk}
decision_year = {base}

[age_structures.shape]
age_groups = [[0, 19], [20, 64], [65, 100]]
share = [0.2, 0.65, 0.15]
sex_ratio = 104

[demography.mortality]
delta = {delta}
sigma_k = {sigma_k}
female = {female}
male = {{ a = 0.0002, b = 2.5e-5, c = 0.1, infant_rate = 0.0025 }}

[demography.fertility]
tfr0 = {tfr0}
tfr_star = {{ uniform = [0.6, 1.6], key = "policy" }}
phi = 0.2
sigma_f = {sigma_f}
srb = 107
schedule = {schedule}

[demography.migration]
c = {c}
rho = 0.15
sigma_m = {sigma_m}
female_share = 0.5
profile = {profile}
"#,
            risk = sp.risk,
            delta = write(sp.delta, 0.01, 0.01, false),
            tfr0 = write(sp.tfr, 1.0, 0.3, true),
            c = sp.c,
        );
        for (i, t) in sp.towns.iter().enumerate() {
            let pop = t.pop;
            let population = match t.pop_form {
                0 => format!(
                    "{{ age_groups = [[0, 14], [15, 59], [60, 100]], female = [{}, {}, {}], male = [{}, {}, {}] }}",
                    pop * 0.07,
                    pop * 0.3,
                    pop * 0.13,
                    pop * 0.08,
                    pop * 0.31,
                    pop * 0.11
                ),
                1 => format!(
                    "{{ total = {}, age_groups = [[0, 39], [40, 100]], female_share = [0.3, 0.2], male_share = [0.3, 0.2] }}",
                    write(t.k, pop, pop * 0.1, false)
                ),
                2 => format!(
                    "{{ total = {}, age_groups = [[0, 49], [50, 100]], share = [0.6, 0.4], sex_ratio = 105 }}",
                    write(t.rho, pop, pop * 0.2, false)
                ),
                _ => format!("{{ structure = \"shape\", total = {pop} }}"),
            };
            let streets =
                if t.streets_steps { format!("{{ from = {{ {base} = 3, {end} = 5 }} }}") } else { "4".into() };
            let k = sched(
                t.k_steps,
                base + 1,
                end,
                write(t.k, pop * t.k_factor, pop * 0.1, false),
                write(t.rho, pop * t.k_factor * 1.2, pop * 0.1, false),
            );
            let rho = write(t.rho, 0.2, 0.1, false);
            let n_fix = sched(t.n_fix_steps, base + 1, end, "0".into(), "-500".into());
            s.push_str(&format!(
                "\n[towns.t{i}]\nname = {{ en = \"Town {i}\", zh = \"新城{i}\" }}\nstreets = {streets}\n\
                 population = {population}\n[towns.t{i}.migration]\nk = {k}\nrho = {rho}\nn_fix = {n_fix}\n"
            ));
            if t.targets {
                s.push_str(&format!("[towns.t{i}.targets]\n{end} = {}\n", pop.round()));
            }
            if let Some(n) = t.own_fertility {
                s.push_str(&format!("[towns.t{i}.fertility]\ntfr0 = {}\n", write(n, 1.2, 0.2, true)));
            }
            if t.own_mortality {
                s.push_str(&format!(
                    "[towns.t{i}.mortality]\nfemale = {{ a = 0.0001, b = 1.2e-5, c = 0.1, infant_prob = 0.002 }}\n\
                     male = {{ a = 0.0002, b = 2.2e-5, c = 0.1, infant_prob = 0.0025 }}\n"
                ));
            }
        }
        let mut ids: Vec<String> = Vec::new();
        for (j, r) in sp.resources.iter().enumerate() {
            let id = format!("r{j}");
            let head =
                format!("\n[resources.{id}]\nname = {{ en = \"Resource {j}\", zh = \"设施{j}\" }}\nunit = \"units\"\n");
            let ages = r.ages.map(|(lo, hi)| format!("ages = [{lo}, {hi}]\n")).unwrap_or_default();
            let round = if r.ceil { "round = \"ceil\"\n" } else { "" };
            // A derived standard counts per unit of the first resource.
            let first = (!ids.is_empty()).then_some(0);
            let body = match r.kind {
                0 => format!(
                    "kind = \"per_capita\"\n{ages}{round}rate = {}\nper = {}\n",
                    sched(r.steps, base, end, write(r.a, 0.8, 0.15, false), write(r.b, 0.6, 0.2, false)),
                    write(r.b, 1500.0, 300.0, true)
                ),
                1 => format!(
                    "kind = \"per_capita\"\n{ages}{round}per_1000 = {}\n",
                    sched(r.steps, base, end, write(r.a, 6.5, 1.0, false), write(r.b, 7.5, 1.0, false))
                ),
                2 => format!(
                    "kind = \"per_capita\"\n{ages}rate = {{ factors = {{ share = {}, ratio = {} }} }}\n",
                    write(r.a, 0.5, 0.1, false),
                    write(r.b, 0.05, 0.01, false)
                ),
                3 => "kind = \"admin_units\"\n".to_string(),
                4 => format!("kind = \"coverage_share\"\nshare = {}\n", write(r.a, 0.7, 0.2, false)),
                5 => format!(
                    "kind = \"fixed_min\"\nvalue = {}\nfrom_year = {}\n",
                    write(r.a, 2.0, 1.0, false),
                    base + (sp.years / 2)
                ),
                _ => match first {
                    Some(of) => {
                        format!("kind = \"derived\"\nof = \"r{of}\"\n{round}per = {}\n", write(r.b, 20.0, 5.0, true))
                    }
                    None => "kind = \"admin_units\"\n".to_string(),
                },
            };
            s.push_str(&head);
            s.push_str(&body);
            if r.override_first_town && r.kind == 1 {
                s.push_str(&format!("[resources.{id}.towns.t0]\nper_1000 = {}\n", write(r.b, 5.0, 1.0, false)));
            }
            ids.push(id);
        }
        for (i, t) in sp.towns.iter().enumerate() {
            s.push_str(&format!("\n[capacity.t{i}]\n"));
            for (j, r) in sp.resources.iter().enumerate() {
                let scale = match r.kind {
                    0 => t.pop / 1500.0,
                    1 => t.pop * 0.007,
                    2 => t.pop * 0.025,
                    6 => t.pop / 30_000.0,
                    _ => 4.0,
                };
                let base_cap =
                    write(r.base, (scale * r.base_factor).max(1.0), (scale * r.base_factor).max(1.0) * 0.2, false);
                let mut line = format!("r{j} = {{ base = {base_cap}");
                if let Some((amount, at, closure)) = r.project {
                    let year = base + i32::from(at) % (sp.years + 1);
                    let kind = if closure { "closures" } else { "projects" };
                    line.push_str(&format!(
                        ", {kind} = {{ p{j} = {{ amount = {}, year = {year}, delay = {} }} }}",
                        write(amount, (scale * 0.2).max(1.0), (scale * 0.05).max(0.5), false),
                        write(amount, 1.0, 1.0, false)
                    ));
                }
                line.push_str(" }\n");
                s.push_str(&line);
            }
        }
        s
    }
}

use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// validate → compile → central variant → run → every table: no panic, no error, every
    /// reported quantile within 0.1 % of the exact one, and no cell NaN or infinite.
    #[test]
    fn random_valid_scenarios_never_panic_and_give_finite_tables(spec in random_scenarios::spec(), seed in any::<u64>()) {
        let text = random_scenarios::text(&spec);
        let s = capsim::scenario::from_text("random.toml", &text)
            .map_err(|e| TestCaseError::fail(format!("the generator wrote an invalid scenario:\n{e}\n{text}")))?;
        let model = capsim::engine::compile(&s);
        let central = capsim::runner::central(&model).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        let agg = capsim::runner::run(&model, seed, 0..24, 1, &|_| {})
            .map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        // MODEL §6's 0.1 % contract for every quantile the tables report.
        crate::util::quantile_contract(&model, &agg, seed, 24).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        let tables = capsim::report::Tables { scenario: &s, model: &model, agg: &agg, central: &central, risk: s.settings.risk };
        for (name, bytes) in capsim::report::table_files(&tables) {
            let csv = String::from_utf8(bytes).unwrap();
            for (i, line) in csv.lines().enumerate() {
                for cell in line.split(',') {
                    let lower = cell.to_ascii_lowercase();
                    prop_assert!(!lower.contains("nan") && !lower.contains("inf"), "{}:{}: `{}` in {}\n{}", name, i + 1, cell, line, text);
                }
            }
        }
        let _ = tables.console();
    }
}

#[test]
fn a_run_that_will_take_long_is_warned_about_not_refused() {
    use std::io::{BufRead, BufReader};
    let w = Workdir::new();
    // A billion draws of the example (the most one run takes): hours on any machine. capsim warns with its estimate
    // and starts (it does not refuse); the test kills it once the warning is out.
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin!("capsim"))
        .current_dir(w.path())
        .arg("run")
        .arg(scenario("example.toml"))
        .args(["--draws", "1000000000", "--threads", "1", "--out", "long"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let mut warning = None;
    for line in stderr.lines() {
        let line = line.unwrap();
        if line.contains("will take about") {
            warning = Some(line);
            break;
        }
    }
    let running = child.try_wait().unwrap().is_none();
    child.kill().ok();
    child.wait().unwrap();
    let warning = warning.expect("no warning about the run's length");
    assert!(
        warning.contains("1000000000 draws") && warning.contains("min") && warning.contains("--shard"),
        "{warning}"
    );
    assert!(running, "the run stopped after warning (refused?)");
    assert!(!w.path().join("long").exists(), "a killed run left output");
}
