#!/usr/bin/env python3
"""Derivations behind scenarios/shanghai-new-towns.toml, kept so that every derived number in the
scenario can be recomputed: the age structures (DATA.md §3a, §1a, §3d), the checks of the
Gompertz–Makeham and Rogers–Castro choices, and the district-trend shares quoted for the policy
share A (DATA.md §1a, §0a). Standard library only.

    python3 scripts/shanghai-inputs.py            # the [age_structures.*] shares and schedule checks
    python3 scripts/shanghai-inputs.py capacity   # the arithmetic of the [capacity.*] base estimates
"""

import math

# --- Mortality (MODEL §3): the same life table and calibration as src/scenario/schedule.rs ---

OMEGA = 100


def gompertz_makeham(a, b, c, m0):
    return [m0] + [a + b * math.exp(c * x) for x in range(1, OMEGA + 1)]


def life_table_L(m):
    """Person-years L_x of the life table (l_0 = 1)."""
    out, l = [], 1.0
    for mx in m[:OMEGA]:
        nxt = l * math.exp(-mx)
        out.append((l - nxt) / mx if mx > 0 else l)
        l = nxt
    out.append(l / m[OMEGA])
    return out


def calibrate_b(a, c, m0, e0):
    lo, hi = math.log(1e-15), math.log(10.0)
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if sum(life_table_L(gompertz_makeham(a, math.exp(mid), c, m0))) > e0:
            lo = mid
        else:
            hi = mid
    return math.exp(0.5 * (lo + hi))


# The scenario's mortality inputs (see [demography.mortality] in the scenario).
Q0 = 0.0023  # infant mortality 2.30‰ (2021), DATA.md §3b
M0 = -math.log(1 - Q0)
SEXES = {"female": (0.0001, 0.11, 86.3), "male": (0.0002, 0.10, 81.5)}


def schedules():
    return {s: gompertz_makeham(a, calibrate_b(a, c, M0, e0), c, M0) for s, (a, c, e0) in SEXES.items()}


# --- Migrant age profile (MODEL §3): the same formula as rogers_castro in src/scenario/schedule.rs ---

# The scenario's [demography.migration.profile].
ROGERS_CASTRO = {"a1": 0.012, "alpha1": 0.1, "a2": 0.07, "alpha2": 0.11, "mu2": 24, "lambda2": 0.35, "c0": 0.0005}


def check_profile():
    """Fails if ROGERS_CASTRO no longer matches the scenario's [demography.migration.profile]
    (tomllib needs Python 3.11; older versions skip the check)."""
    try:
        import tomllib
    except ImportError:
        return
    from pathlib import Path
    path = Path(__file__).resolve().parent.parent / "scenarios" / "shanghai-new-towns.toml"
    profile = tomllib.loads(path.read_text(encoding="utf-8"))["demography"]["migration"]["profile"]
    written = {k: profile[k] for k in ROGERS_CASTRO}
    assert written == ROGERS_CASTRO, f"{path.name} has profile {written}, this script {ROGERS_CASTRO}"


def rogers_castro(a1, alpha1, a2, alpha2, mu2, lambda2, c0):
    """M(x) = a1·e^{−α1·x} + a2·exp(−α2(x−μ2) − e^{−λ2(x−μ2)}) + c0 at whole ages 0 … 100,
    normalised to sum 1."""
    h = [a1 * math.exp(-alpha1 * x) + a2 * math.exp(-alpha2 * (x - mu2) - math.exp(-lambda2 * (x - mu2))) + c0
         for x in range(OMEGA + 1)]
    total = sum(h)
    return [v / total for v in h]


# --- Trend shares of the planned growth (the comment on A in [towns]) ---------------------------
# A town's migration toward K = P0 + A·(K* − P0) scales its whole planned growth by A, so a
# continued district trend corresponds to A = (trend growth to year T) / (planned growth to T).
# District growth 2010–20 (compound annual rate, DATA.md §1a, rounded as there); the central 2020
# population (§0b); the planned population in 2025 (waypoint) and 2035 (target), §0a.
TRENDS = {
    "songjiang": (0.0190, 780_000, {2025: 950_000, 2035: 1_100_000}),
    "qingpu": (0.0164, 450_000, {2025: 550_000, 2035: 650_000}),
    "jiading": (0.0223, 600_000, {2025: 700_000, 2035: 1_000_000}),
}


def trend_shares():
    return {town: {year: p0 * ((1 + g) ** (year - 2020) - 1) / (plan - p0) for year, plan in path.items()}
            for town, (g, p0, path) in TRENDS.items()}


# --- Age structures ----------------------------------------------------------------------------

# Shanghai, 2020 census (常住, DATA.md §3a).
CITY_0_9 = 1_771_521
CITY_10_14 = 664_775
CITY_15_19 = 710_184
CITY_20_29 = 3_719_990
CITY_30_39 = 5_037_103
CITY_40_49 = 3_633_785
CITY_50_59 = 3_518_075
CITY_60_64 = 1_766_450
CITY_65_PLUS = 4_049_012
CITY_80_PLUS = 830_000  # ≈83万 (inferred from the 户籍 80+ of 82.53万, §3a/§3d)
CITY_TOTAL = 24_870_895

# Births 2018–2020 (§3b: 17.4万 DQ-low, 16.9万 DQ, 12.76万 DQ-low) stand for the children aged
# 0–2 at the census, so that the fall in births since 2017 shows in the base population.
CITY_0_2 = 174_000 + 169_000 + 127_600
# 户籍 make-up of the 60+ (§3d): 65-69 27.9 %, 70-79 28.3 % → splits the resident 65–79.
SHARE_65_69_OF_65_79 = 27.9 / (27.9 + 28.3)

GROUPS = [(0, 2), (3, 9), (10, 14), (15, 19), (20, 29), (30, 39), (40, 49), (50, 59), (60, 64), (65, 69),
          (70, 79), (80, 84), (85, 89), (90, 94), (95, 100)]


# The cohorts aged 80+ in 2020 lived their old age under higher mortality than 2020's, so the
# split of the 80+ uses a life table with e0 about 4.5 years lower than the scenario's (F 82, M 77).
# With 2020's own schedule the stationary population would put 2.8 % of the 80+ at 100+ (≈23,000
# people city-wide, several times the few thousand centenarians Shanghai reports — memory, not in
# DATA.md); with this one
# 0.6 % (≈5,000). An assumption: the census single-year table is a GAP (DATA.md §3a).
COHORT_E0 = {"female": 82.0, "male": 77.0}


def split_80_plus():
    """Shares of 80–84, 85–89, 90–94, 95+ within 80+: the stationary population (person-years
    L_x) of the cohort-proxy life tables, both sexes averaged."""
    sch = {s: gompertz_makeham(a, calibrate_b(a, c, M0, COHORT_E0[s]), c, M0) for s, (a, c, _) in SEXES.items()}
    parts = []
    for lo, hi in [(80, 84), (85, 89), (90, 94), (95, 100)]:
        parts.append(sum(0.5 * (life_table_L(sch["female"])[x] + life_table_L(sch["male"])[x])
                         for x in range(lo, hi + 1)))
    tot = sum(parts)
    return [p / tot for p in parts]


def city_counts():
    c65_79 = CITY_65_PLUS - CITY_80_PLUS
    s80 = split_80_plus()
    counts = [CITY_0_2, CITY_0_9 - CITY_0_2, CITY_10_14, CITY_15_19, CITY_20_29, CITY_30_39, CITY_40_49,
              CITY_50_59, CITY_60_64, c65_79 * SHARE_65_69_OF_65_79, c65_79 * (1 - SHARE_65_69_OF_65_79)]
    counts += [CITY_80_PLUS * s for s in s80]
    assert abs(sum(counts) - CITY_TOTAL) < 1, sum(counts)
    return counts


def rescale(counts, broad):
    """Keeps the city's shape inside each broad group and rescales the groups to `broad`:
    {(lo, hi): count} over contiguous broad groups covering 0–100."""
    out = list(counts)
    for (lo, hi), target in broad.items():
        idx = [i for i, (a, b) in enumerate(GROUPS) if a >= lo and b <= hi]
        s = sum(counts[i] for i in idx)
        for i in idx:
            out[i] = counts[i] * target / s
    return out


# 青浦区, 2020 census (§1a): 0-14 112,701; 15-59 947,150; 60+ 211,573; 65+ 146,966; total 1,271,424.
QINGPU = {(0, 14): 112_701, (15, 59): 947_150, (60, 64): 211_573 - 146_966, (65, 100): 146_966}


def shares(counts):
    t = sum(counts)
    return [c / t for c in counts]


def fmt(v):
    return f"{v:.6f}"


def main():
    city = shares(city_counts())
    qingpu = shares(rescale(city_counts(), QINGPU))
    blend = [0.5 * (a + b) for a, b in zip(city, qingpu)]
    print("# groups:", GROUPS)
    print("# 80+ split (80-84, 85-89, 90-94, 95+):", [round(s, 4) for s in split_80_plus()])
    for name, s in [("shanghai_2020", city), ("qingpu_2020", qingpu), ("outer_blend", blend)]:
        # Round to 6 decimals and put the rounding remainder on the largest group, so that the
        # written shares sum to exactly 1.
        r = [round(v, 6) for v in s]
        r[r.index(max(r))] += round(1 - sum(r), 6)
        print(f"{name}: share = [{', '.join(fmt(v) for v in r)}]  # sum {sum(r):.6f}")
    sch = schedules()
    for s in sch:
        m = sch[s]
        print(f"{s}: m(1) {m[1]:.5f}  m(40) {m[40]:.5f}  m(60) {m[60]:.5f}  m(70) {m[70]:.5f}  "
              f"m(80) {m[80]:.4f}  m(90) {m[90]:.4f}  e0 {sum(life_table_L(m)):.3f}")
    check_profile()
    rc = rogers_castro(**ROGERS_CASTRO)
    band = lambda lo, hi: 100 * sum(rc[lo:hi + 1])
    print(f"migrants (Rogers–Castro): 0-14 {band(0, 14):.1f} %  15-19 {band(15, 19):.1f} %  "
          f"20-39 {band(20, 39):.1f} %  40-59 {band(40, 59):.1f} %  60+ {band(60, 100):.1f} %  "
          f"peak at age {max(range(OMEGA + 1), key=lambda x: rc[x])}")
    for town, by_year in trend_shares().items():
        print(f"{town}: 2010-20 district trend continued = A of "
              + ", ".join(f"{a:.2f} (to {y})" for y, a in by_year.items()))



# --- Existing capacity (the [capacity.*] base lines of the scenario) --------------------------
# Each town: central 2020 population, its distribution (as written in the scenario), its age
# structure and streets/towns (街镇).
TOWNS = {
    "jiading": (600_000, ("triangular", [550_000, 600_000, 650_000]), "qingpu_2020", 5),
    "qingpu": (450_000, ("triangular", [420_000, 450_000, 480_000]), "qingpu_2020", 3),
    "songjiang": (780_000, ("triangular", [720_000, 780_000, 820_000]), "qingpu_2020", 5),
    "fengxian": (500_000, ("uniform", [400_000, 600_000]), "outer_blend", 4),
    "nanhui": (360_000, ("triangular", [330_000, 360_000, 400_000]), "qingpu_2020", 4),
}
SPARE = 1.05  # school places: 5 % spare in 2020 (assumption)


def written_shares():
    city = shares(city_counts())
    qingpu = shares(rescale(city_counts(), QINGPU))
    out = {}
    for name, s in [("shanghai_2020", city), ("qingpu_2020", qingpu),
                    ("outer_blend", [0.5 * (a + b) for a, b in zip(city, qingpu)])]:
        r = [round(v, 6) for v in s]
        r[r.index(max(r))] += round(1 - sum(r), 6)
        out[name] = r
    return out


def band_share(structure, lo, hi):
    """Share of the population aged lo..hi after the even spread of each group (MODEL §8.2)."""
    s = written_shares()[structure]
    total = 0.0
    for (a, b), v in zip(GROUPS, s):
        overlap = max(0, min(b, hi) - max(a, lo) + 1)
        total += v * overlap / (b - a + 1)
    return total / sum(s)


def scaled(dist, factor, digits=0):
    kind, vals = dist
    return f"{{ {kind} = [{', '.join(f'{round(v * factor, digits):.{digits}f}' for v in vals)}]"


def capacity_lines():
    stages = [("kindergarten_places", 3, 5, 0.95, None), ("primary_places", 6, 10, 1.0, 19),
              ("junior_places", 11, 14, 1.0, 13.5), ("senior_places", 15, 17, 0.6, 12.5)]
    staff = {"primary_places": "school_staff_primary", "junior_places": "school_staff_junior",
             "senior_places": "school_staff_senior"}
    for town, (p0, dist, structure, streets) in TOWNS.items():
        print(f"# {town}")
        for res, lo, hi, rate, ratio in stages:
            sh = band_share(structure, lo, hi)
            a = SPARE * rate * sh
            print(f"{res}: a = 1.05 × {rate} × {sh * 100:.3f} % = {a:.6f}; central {p0 * a:.0f}; "
                  f"{scaled(dist, a)}, key = \"base_{town}\" }}")
            if ratio:
                print(f"  {staff[res]}: a/{ratio} = {a / ratio:.7f}; central {p0 * a / ratio:.0f}; "
                      f"{scaled(dist, a / ratio)}, key = \"base_{town}\" }}")
        old = band_share(structure, 60, 100)
        beds = 0.0295 * 0.88 * old * p0
        print(f"elderly_care_beds: 60+ {old * 100:.3f} % → {old * p0:.0f}; 0.0295 × 0.88 × that = {beds:.0f}; "
              f"triangular [{beds * 0.8:.0f}, {beds:.0f}, {beds * 1.2:.0f}]")
        for res, (lo, mode, hi), per in [("hospital_beds", (4.0, 5.0, 6.0), 1000),
                                         ("doctors", (2.3, 2.7, 3.1), 1000), ("nurses", (2.9, 3.3, 3.7), 1000),
                                         ("general_practitioners", (2.8, 3.3, 3.8), 10000),
                                         ("elderly_care_floor_m2", (25, 35, 45), 1000)]:
            print(f"{res}: triangular [{lo * p0 / per:g}, {mode * p0 / per:g}, {hi * p0 / per:g}]")
        print(f"chs_stations ⌈{p0}/15000⌉ = {math.ceil(p0 / 15000)}; mental_health_points ⌈{p0}/75000⌉ = "
              f"{math.ceil(p0 / 75000)}; health_supervision_stations ⌈{p0}/250000⌉ = {math.ceil(p0 / 250000)}; "
              f"half the streets ⌈{streets}/2⌉ = {math.ceil(streets / 2)}")


if __name__ == "__main__":
    import sys

    if sys.argv[1:] == ["capacity"]:
        capacity_lines()
    else:
        main()
