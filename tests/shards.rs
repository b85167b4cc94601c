//! Shards and merge over the binary: N shards as separate processes merge into exactly the
//! one-run tables; merges of parts that do not belong together are refused (exit 2); the Slurm
//! script runs end to end under a stand-in `sbatch`.

use std::path::Path;

use crate::util::{Workdir, repo, scenario};

const TABLES: [&str; 6] = [
    "population.csv",
    "population_age.csv",
    "summary.csv",
    "first_shortfall.csv",
    "first_shortfall_cdf.csv",
    "components.csv",
];

fn shard(w: &Workdir, i: u64, n: u64, seed: &str, out: &str) {
    w.capsim()
        .arg("-q")
        .arg("run")
        .arg(scenario("example.toml"))
        .args(["--draws", "400", "--seed", seed, "--shard", &format!("{i}/{n}"), "--out", out])
        .assert()
        .success();
}

fn assert_same_tables(w: &Workdir, a: &str, b: &str) {
    for t in TABLES {
        assert_eq!(w.read(&format!("{a}/{t}")), w.read(&format!("{b}/{t}")), "{t} differs between {a} and {b}");
    }
}

#[test]
fn four_shard_processes_merge_to_the_single_run_byte_for_byte() {
    let w = Workdir::new();
    // Separate processes, started together.
    let children: Vec<_> = (0..4)
        .map(|i| {
            let mut c = std::process::Command::new(assert_cmd::cargo::cargo_bin!("capsim"));
            c.current_dir(w.path()).arg("-q").arg("run").arg(scenario("example.toml"));
            c.args(["--draws", "400", "--seed", "9", "--shard", &format!("{i}/4"), "--out", &format!("p{i}")]);
            c.spawn().expect("spawn shard")
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    // Parts may be files or directories, in any order.
    w.capsim().args(["-q", "merge", "p2", "p0/partial.capsim", "p3", "p1", "--out", "merged"]).assert().success();
    w.capsim()
        .arg("-q")
        .arg("run")
        .arg(scenario("example.toml"))
        .args(["--draws", "400", "--seed", "9", "--out", "single"])
        .assert()
        .success();
    assert_same_tables(&w, "single", "merged");
    // A shard directory holds only its partial result.
    let files: Vec<_> = std::fs::read_dir(w.path().join("p0")).unwrap().flatten().map(|e| e.file_name()).collect();
    assert_eq!(files, vec![std::ffi::OsString::from("partial.capsim")]);
}

#[test]
fn merges_that_do_not_belong_together_are_refused() {
    let w = Workdir::new();
    for i in 0..3 {
        shard(&w, i, 3, "9", &format!("p{i}"));
    }
    shard(&w, 1, 3, "10", "other_seed");
    shard(&w, 1, 2, "9", "other_count");
    let refused = |parts: &[&str], needle: &str| {
        let out = w.capsim().arg("merge").args(parts).args(["--out", "m"]).assert().code(2);
        let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
        assert!(stderr.contains(needle), "expected `{needle}` in: {stderr}");
        assert!(!w.path().join("m").exists(), "nothing written");
    };
    refused(&["p0", "p2"], "missing");
    refused(&["p0", "p1", "p2", "p1"], "overlaps");
    refused(&["p0", "other_seed", "p2"], "seed");
    refused(&["p0", "other_count", "p2"], "shard count");
    refused(&["p0", "nonexistent"], "cannot read");

    // A different scenario: the same shard of a modified copy.
    let text = std::fs::read_to_string(scenario("example.toml")).unwrap().replace("rho = 0.15", "rho = 0.16");
    let copy = w.write("copy/example.toml", &text);
    std::fs::create_dir_all(w.path().join("copy/data")).unwrap();
    std::fs::copy(
        repo().join("scenarios/data/example-west-ages.csv"),
        w.path().join("copy/data/example-west-ages.csv"),
    )
    .unwrap();
    w.capsim()
        .arg("-q")
        .arg("run")
        .arg(&copy)
        .args(["--draws", "400", "--seed", "9", "--shard", "1/3", "--out", "other_scenario"])
        .assert()
        .success();
    refused(&["p0", "other_scenario", "p2"], "different scenario");

    // Another capsim version, and a corrupted file.
    let (_, mut meta, agg) = capsim::partial::read(&w.path().join("p1")).unwrap();
    meta.capsim_version = "0.0.1-other".into();
    std::fs::create_dir_all(w.path().join("old")).unwrap();
    std::fs::write(w.path().join("old/partial.capsim"), capsim::partial::encode(&meta, &agg).unwrap()).unwrap();
    refused(&["p0", "old", "p2"], "capsim version");
    let mut bytes = std::fs::read(w.path().join("p1/partial.capsim")).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x55;
    std::fs::create_dir_all(w.path().join("bad")).unwrap();
    std::fs::write(w.path().join("bad/partial.capsim"), &bytes).unwrap();
    refused(&["p0", "bad", "p2"], "corrupted");
    std::fs::write(w.path().join("junk.capsim"), b"hello").unwrap();
    refused(&["p0", "junk.capsim"], "not a usable capsim partial");
}

#[test]
fn bad_shard_specs_exit_2() {
    let w = Workdir::new();
    for spec in ["4/4", "1/0", "x/2", "3", "-1/2"] {
        w.capsim().arg("run").arg(scenario("example.toml")).args(["--shard", spec, "--draws", "10"]).assert().code(2);
    }
    // More shards than draws.
    w.capsim().arg("run").arg(scenario("example.toml")).args(["--shard", "0/20", "--draws", "10"]).assert().code(2);
}

/// The Slurm script, end to end, under a stand-in `sbatch` that runs array tasks one after the
/// other (setting SLURM_ARRAY_TASK_ID) and dependent jobs after them.
#[test]
fn slurm_array_script_runs_shards_and_merge() {
    let w = Workdir::new();
    let sbatch = w.write(
        "bin/sbatch",
        r#"#!/usr/bin/env bash
# Stand-in for Slurm's sbatch: runs the job here and now.
set -euo pipefail
array="" ; exports=""
while [[ $# -gt 0 && "$1" == --* ]]; do
  case "$1" in
    --array=*) array="${1#--array=}" ;;
    --export=*) exports="${1#--export=}" ;;
    --parsable|--dependency=*) ;;
  esac
  shift
done
IFS=',' read -ra kv <<< "$exports"
for e in "${kv[@]}"; do [[ "$e" == ALL ]] || export "$e"; done
if [[ -n "$array" ]]; then
  for ((i = ${array%-*}; i <= ${array#*-}; i++)); do SLURM_ARRAY_TASK_ID=$i bash "$@"; done
else
  bash "$@" >&2
fi
echo "$RANDOM"
"#,
    );
    let mut perm = std::fs::metadata(&sbatch).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
    std::fs::set_permissions(&sbatch, perm).unwrap();
    let path = format!("{}:{}", w.path().join("bin").display(), std::env::var("PATH").unwrap_or_default());
    let status = std::process::Command::new("bash")
        .arg(repo().join("scripts/slurm-array.sh"))
        .arg(scenario("example.toml"))
        .args(["3", "300", "slurm", "--seed", "4"])
        .current_dir(w.path())
        .env("PATH", path)
        .env("CAPSIM", assert_cmd::cargo::cargo_bin!("capsim"))
        .status()
        .unwrap();
    assert!(status.success());
    assert!(Path::new(&w.path().join("slurm/merged/summary.csv")).exists());
    w.capsim()
        .arg("-q")
        .arg("run")
        .arg(scenario("example.toml"))
        .args(["--draws", "300", "--seed", "4", "--out", "single"])
        .assert()
        .success();
    assert_same_tables(&w, "single", "slurm/merged");
}
