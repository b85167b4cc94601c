#!/usr/bin/env bash
# Makes the seed corpora of the fuzz targets (fuzz/corpus/<target>/, not committed):
#   scenario      every shipped scenario and test fixture, verbatim
#   partial       a real partial.capsim (example.toml, 50 draws, shard 0 of 2) and shards of
#                 seeds/tiny.toml, verbatim and without their checksum
#   sweep_values  value lists of both kinds, as whole-number and real paths
# Run from anywhere; builds capsim (debug) if needed.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
corpus="$here/corpus"
mkdir -p "$corpus/scenario" "$corpus/partial" "$corpus/sweep_values"

for f in "$root"/scenarios/*.toml "$root"/tests/fixtures/*.toml; do
  cp "$f" "$corpus/scenario/$(basename "$f")"
done

(cd "$root" && cargo build --quiet --bin capsim)
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
capsim="$root/target/debug/capsim"
# The real partial file of the brief (example.toml), and shards of fuzz/seeds/tiny.toml — the
# scenario the target merges against — verbatim and unsealed (without the 32-byte checksum:
# the target appends a correct one, so mutations reach past it).
"$capsim" -q run "$root/scenarios/example.toml" --draws 50 --shard 0/2 --out "$tmp/example"
cp "$tmp/example/partial.capsim" "$corpus/partial/example-50-shard-0-of-2.capsim"
for spec in "20 0/2" "20 1/2" "3 2/3" "1 0/1"; do
  set -- $spec
  name="tiny-$1-shard-${2/\//-of-}"
  "$capsim" -q run "$here/seeds/tiny.toml" --draws "$1" --shard "$2" --out "$tmp/$name"
  part="$tmp/$name/partial.capsim"
  cp "$part" "$corpus/partial/$name.capsim"
  head -c $(( $(stat -c %s "$part") - 32 )) "$part" > "$corpus/partial/$name.unsealed"
done

i=0
for v in "0.1,0.2,0.3" "0.5..1.5:5" "2024,2025,2026" "-1..1:3" "1e-3,1e3" "0..10:11" " 7 , 8 " "1.5,2.5" "0.1..0.5:5"; do
  for flag in 0 1; do
    printf "\\x0$flag%s" "$v" > "$corpus/sweep_values/seed-$i"
    i=$((i + 1))
  done
done
echo "seeds in $corpus: $(find "$corpus" -type f | wc -l) files"
