#!/usr/bin/env python3
"""Regenerates the generated sections of scenarios/README.md from capsim itself, so that no
number there is typed by hand:

  inputs       the table of every input of the default scenario, verbatim from
               `capsim validate scenarios/shanghai-new-towns.toml --sources`
               (tests/shanghai.rs fails when this section is stale);
  vital-rates  the projection's crude birth and death rates 2021-2024 next to Shanghai's
               reported ones (DATA.md §3b), from `capsim run` means, and the city check: the
               default's demography applied to the whole city's 2020 census structure.

Each section sits between `<!-- BEGIN GENERATED: NAME … -->` and `<!-- END GENERATED: NAME -->`.

    python3 scripts/scenario-readme.py           # rewrite the sections in place
    python3 scripts/scenario-readme.py --check   # exit 1 if a section is stale

capsim is run as `cargo run --quiet --release --` unless CAPSIM names a binary.
"""

import csv
import os
import re
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "scenarios" / "README.md"
SCENARIO = "scenarios/shanghai-new-towns.toml"
TOWNS = ["jiading", "qingpu", "songjiang", "fengxian", "nanhui"]
DRAWS = 2000
SEED = 20210223

# Shanghai's reported crude rates (统计公报 reposts, DATA.md §3b): year -> (CBR ‰, CDR ‰).
# 2022 has only the natural increase rate (−1.6‰) in DATA.md, so it is left out.
REPORTED = {2021: (4.67, 5.59), 2023: (3.95, 6.37), 2024: (4.75, 6.28)}
REPORTED_BIRTHS = {2021: 116_000, 2023: 98_000, 2024: 118_000}
REPORTED_DEATHS = {2021: 139_000, 2023: 158_000, 2024: 156_000}

# The city check: the default's demography on the city's 2020 census structure, no migration.
# Qingpu's block is borrowed for it (its other inputs are city-wide values).
CITY_FRAGMENT = """
[towns.qingpu.population]
structure = "shanghai_2020"
total = { value = 24870895, source = "2020 census, Shanghai (DATA.md §3a)" }

[towns.qingpu.migration]
k = { value = 0, source = "city check: no migration" }
rho = { value = 0, source = "city check: no migration" }
"""


def capsim(*args):
    cmd = shlex.split(os.environ["CAPSIM"]) if os.environ.get("CAPSIM") else ["cargo", "run", "--quiet", "--release", "--"]
    return subprocess.run(cmd + list(args), cwd=ROOT, check=True, capture_output=True, text=True).stdout


def read_run(out_dir):
    pop = {(r["town"], int(r["year"])): float(r["mean"]) for r in csv.DictReader(open(out_dir / "population.csv"))}
    comp = {(r["town"], int(r["year"])): r for r in csv.DictReader(open(out_dir / "components.csv"))}
    return pop, comp


def rates(pop, comp, town, year):
    """Births and deaths of calendar year `year` per 1,000 of the mid-year population (the mean
    of the year-end rows of year − 1 and year), from the means over draws."""
    mid = 0.5 * (pop[(town, year - 1)] + pop[(town, year)])
    c = comp[(town, year)]
    return 1000 * float(c["births_mean"]) / mid, 1000 * float(c["deaths_mean"]) / mid


def vital_rates():
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        capsim("-q", "run", SCENARIO, "--draws", str(DRAWS), "--seed", str(SEED), "--out", str(tmp / "run"))
        pop, comp = read_run(tmp / "run")
        frag = tmp / "city.toml"
        frag.write_text(CITY_FRAGMENT)
        capsim("-q", "run", SCENARIO, "--with", str(frag), "--draws", "200", "--seed", str(SEED),
               "--out", str(tmp / "city"))
        _, city = read_run(tmp / "city")

    lines = [
        f"Projection: means of {DRAWS} draws (seed {SEED}); a rate is the year's births or deaths per 1,000 of",
        "the mid-year population (the mean of the two year-end rows). Reported: Shanghai as a whole, 统计公报",
        "(DATA.md §3b; 2022 published only its natural increase, −1.6‰).",
        "",
        "| year | CBR, five towns | CBR by town (min–max) | CBR, Shanghai reported | CDR, five towns | CDR by town (min–max) | CDR, Shanghai reported |",
        "|---|---|---|---|---|---|---|",
    ]
    for year in range(2021, 2025):
        b, d = rates(pop, comp, "all", year)
        tb = [rates(pop, comp, t, year)[0] for t in TOWNS]
        td = [rates(pop, comp, t, year)[1] for t in TOWNS]
        rb, rd = (f"{REPORTED[year][0]:.2f}‰", f"{REPORTED[year][1]:.2f}‰") if year in REPORTED else ("–", "–")
        lines.append(f"| {year} | {b:.2f}‰ | {min(tb):.2f}–{max(tb):.2f}‰ | {rb} | {d:.2f}‰ | {min(td):.2f}–{max(td):.2f}‰ | {rd} |")
    lines += [
        "",
        "The city check — the default's demography (resident TFR, mortality) applied to the whole city's 2020",
        "census structure with no migration (`--with` a fragment in scripts/scenario-readme.py; means of 200 draws):",
        "",
        "| year | births, projected | births, reported | deaths, projected | deaths, reported |",
        "|---|---|---|---|---|",
    ]
    for year in range(2021, 2025):
        c = city[("qingpu", year)]
        rb = f"{REPORTED_BIRTHS[year]:,}" if year in REPORTED_BIRTHS else "–"
        rd = f"{REPORTED_DEATHS[year]:,}" if year in REPORTED_DEATHS else "–"
        lines.append(f"| {year} | {float(c['births_mean']):,.0f} | {rb} | {float(c['deaths_mean']):,.0f} | {rd} |")
    return "\n".join(lines) + "\n"


def inputs():
    return capsim("validate", SCENARIO, "--sources")


def replace_section(text, name, body):
    pat = re.compile(rf"(<!-- BEGIN GENERATED: {name}\b[^>]*-->\n)(.*?)(<!-- END GENERATED: {name} -->)", re.S)
    if not pat.search(text):
        sys.exit(f"{README}: no section `{name}` between BEGIN/END GENERATED markers")
    return pat.sub(lambda m: m.group(1) + body + m.group(3), text)


def main():
    check = sys.argv[1:] == ["--check"]
    old = README.read_text(encoding="utf-8")
    new = replace_section(old, "inputs", inputs())
    new = replace_section(new, "vital-rates", vital_rates())
    if check:
        if new != old:
            sys.exit(f"{README} is stale: run python3 scripts/scenario-readme.py")
        return
    if new != old:
        README.write_text(new, encoding="utf-8")
        print(f"rewrote {README.relative_to(ROOT)}")
    else:
        print(f"{README.relative_to(ROOT)} is up to date")


if __name__ == "__main__":
    main()
