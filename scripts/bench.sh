#!/usr/bin/env bash
# Reproduces the figures in BENCHMARKS.md: whole-process wall time and peak RSS of `capsim run`
# on the default scenario (tables only) at 10k, 100k and 1M draws, one vs two threads, charts,
# sensitivity (Sobol' N = 1024) and plan. Run on a quiet machine; each figure is the median of
# REPEAT runs (default 5; 1M draws run 3 times).
#
#   scripts/bench.sh            # all
#   scripts/bench.sh run        # only the run table
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
bin=./target/release/capsim
scenario=scenarios/shanghai-new-towns.toml
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
repeat=${REPEAT:-5}

# median of the "seconds KB" lines on stdin: prints "median_seconds max_KB"
median() { sort -n | awk '{ s[NR] = $1; if ($2 > m) m = $2 } END { printf "%.3f %d\n", s[int((NR + 1) / 2)], m }'; }

measure() { # label, n, command...
  local label=$1 n=$2; shift 2
  for _ in $(seq "$n"); do
    /usr/bin/time -f "%e %M" "$@" 2>&1 >/dev/null | tail -1
  done | median | { read -r s kb; printf '| %s | %s s | %d MB |\n' "$label" "$s" $((kb / 1024)); }
}

echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; $(date -u +%F)"
echo
if [ "${1:-all}" = all ] || [ "$1" = run ]; then
  echo "| command | median wall | peak RSS |"
  echo "|---|---|---|"
  for d in 10000 100000 1000000; do
    n=$repeat; [ "$d" = 1000000 ] && n=3
    measure "run, $d draws, 2 threads, tables only" "$n" $bin -q run $scenario --draws $d --no-charts --out "$out/r" --force
  done
  measure "run, 100000 draws, 1 thread, tables only" 3 $bin -q run $scenario --draws 100000 --threads 1 --no-charts --out "$out/r" --force
fi
if [ "${1:-all}" = all ] || [ "$1" = other ]; then
  echo "| command | median wall | peak RSS |"
  echo "|---|---|---|"
  measure "run, 10000 draws, with charts and report.html" "$repeat" $bin -q run $scenario --draws 10000 --out "$out/c" --force
  measure "sensitivity --samples 1024 (Sobol')" 3 $bin -q sensitivity $scenario --samples 1024 --out "$out/s" --force
  measure "plan, 10000 draws" 3 $bin -q plan $scenario --draws 10000 --out "$out/p" --force
fi
