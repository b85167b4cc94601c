//! `capsim validate` over the binary: one broken scenario per validation rule, each made from a
//! small valid scenario by one textual edit, asserting exit code 2 (never a panic), the field
//! path, the file, line and column of the offending value, and the "did you mean" suggestion;
//! a file with many independent errors reports every one in one run; random edits never panic
//! and every error they cause is located.

use proptest::prelude::*;

use crate::util::Workdir;

/// A small valid scenario using most of the format. Every case below breaks it in one place.
pub const BASE: &str = r#"# A small valid scenario; each test case breaks it in one place.
name = { en = "Test", zh = "测试" }
source = "assumption: test fixture"

[settings]
base_year = 2020
end_year = 2030
draws = 100
seed = 1
risk = 0.2
decision_year = 2022

[age_structures.flat]
age_groups = [[0, 49], [50, 100]]
share = [0.6, 0.4]
sex_ratio = 105

[demography.mortality]
delta = 0.01
sigma_k = 0.02

[demography.mortality.female]
a = 0.0001
b = 1.5e-5
c = 0.1
infant_prob = 0.002

[demography.mortality.male]
a = 0.0002
b = 2.5e-5
c = 0.1
infant_rate = 0.0025

[demography.fertility]
tfr0 = 0.8
tfr_star = { uniform = [0.6, 1.0] }
phi = 0.2
sigma_f = 0.03
srb = 107
schedule = { mean_age = 31, sd_age = 5.5 }

[demography.migration]
c = 0.5
rho = 0.1
sigma_m = 0.2
female_share = 0.5
profile = { a1 = 0.02, alpha1 = 0.1, a2 = 0.06, alpha2 = 0.1, mu2 = 26, lambda2 = 0.4, c0 = 0.001 }

[towns.alpha]
name = { en = "Alpha", zh = "甲" }
streets = { from = { 2020 = 4, 2025 = 5 } }
targets = { 2025 = 120000 }

[towns.alpha.population]
age_groups = [[0, 14], [15, 64], [65, 100]]
female = [8000, 35000, 7000]
male = [8500, 36000, 5500]

[towns.alpha.migration]
k = { normal = { mean = 150000, sd = 10000 } }

[towns.beta]
name = { en = "Beta", zh = "乙" }
streets = 3

[towns.beta.population]
structure = "flat"
total = 80000

[towns.beta.migration]
k = { from = { 2021 = 90000, 2026 = 100000 } }

[resources.school_places]
name = { en = "School places", zh = "学位" }
unit = { en = "places", zh = "个" }
kind = "per_capita"
ages = [6, 10]
rate = { triangular = [0.9, 0.95, 1.0] }

[resources.teachers]
name = { en = "Teachers", zh = "教师" }
unit = { en = "staff", zh = "人" }
kind = "derived"
of = "school_places"
per = 19

[resources.clinics]
name = { en = "Clinics", zh = "诊所" }
unit = { en = "clinics", zh = "个" }
kind = "per_capita"
rate = { factors = { need = 0.9, share = { uniform = [0.8, 1.0] } } }
per = { lognormal = { mu = 9.5, sigma = 0.1 } }
round = "ceil"

[capacity.alpha]
school_places = { base = 7000, projects = { new_school = { amount = 900, year = 2024, delay = { triangular = [0, 1, 3] } } } }
teachers = { base = 400 }
clinics = { base = 8 }

[capacity.beta]
school_places = { base = 4000 }
teachers = { base = 200 }
clinics = { base = 5 }
"#;

/// The file name the scenario is written to in each case.
const FILE: &str = "scenario.toml";

/// One broken scenario.
struct Case {
    /// The rule it breaks.
    rule: &'static str,
    /// Textual edits `(find, replace)` applied to [`BASE`]; each `find` occurs exactly once.
    edits: &'static [(&'static str, &'static str)],
    /// Extra files written beside the scenario.
    files: &'static [(&'static str, &'static str)],
    /// The field path the error names (`""` for a TOML syntax error, which has none).
    path: &'static str,
    /// Text of the edited scenario, occurring once, inside which the error's line:column lies.
    at: &'static str,
    /// Words the message must contain.
    message: &'static str,
    /// The suggestion, if the rule gives one.
    help: Option<&'static str>,
    /// How many errors the file has in all: one mistake should give one message, not a cascade.
    errors: usize,
}

const fn case(
    rule: &'static str,
    edits: &'static [(&'static str, &'static str)],
    path: &'static str,
    at: &'static str,
    message: &'static str,
) -> Case {
    Case { rule, edits, files: &[], path, at, message, help: None, errors: 1 }
}

const CASES: &[Case] = &[
    case("TOML syntax error", &[("draws = 100", "draws = = 100")], "", "draws = = 100", "not valid TOML"),
    Case {
        help: Some("did you mean `capacity`?"),
        ..case("unknown top-level key", &[("[capacity.beta]", "[capcity.beta]")], "capcity", "capcity", "unknown key")
    },
    Case {
        help: Some("did you mean `seed`?"),
        ..case("unknown key in settings", &[("seed = 1\n", "sede = 1\n")], "settings.sede", "sede = 1", "unknown key")
    },
    case(
        "end_year after base_year",
        &[("end_year = 2030", "end_year = 2020")],
        "settings.end_year",
        "end_year = 2020",
        "expected a year after base_year 2020",
    ),
    case("draws ≥ 1", &[("draws = 100", "draws = 0")], "settings.draws", "draws = 0", "found 0"),
    case("risk in (0, 1)", &[("risk = 0.2", "risk = 1.5")], "settings.risk", "risk = 1.5", "strictly between 0 and 1"),
    case(
        "decision_year within the horizon",
        &[("decision_year = 2022", "decision_year = 2040")],
        "settings.decision_year",
        "decision_year = 2040",
        "[2020, 2030]",
    ),
    case(
        "ids are lower case",
        &[
            ("[resources.clinics]", "[resources.Clinics]"),
            ("clinics = { base = 8 }", "Clinics = { base = 8 }"),
            ("clinics = { base = 5 }", "Clinics = { base = 5 }"),
        ],
        "resources.Clinics",
        "[resources.Clinics]",
        "lower-case letters",
    ),
    case(
        "ids have no dashes",
        &[
            ("[towns.beta]\n", "[towns.be-ta]\n"),
            ("[towns.beta.population]", "[towns.be-ta.population]"),
            ("[towns.beta.migration]", "[towns.be-ta.migration]"),
            ("[capacity.beta]", "[capacity.be-ta]"),
        ],
        "towns.be-ta",
        "[towns.be-ta]\n",
        "lower-case letters",
    ),
    case(
        "project ids are ids too",
        &[("new_school = {", "new-school = {")],
        "capacity.alpha.school_places.projects.new-school",
        "new-school",
        "lower-case letters",
    ),
    case(
        "`all` is reserved",
        &[
            ("[towns.beta]\n", "[towns.all]\n"),
            ("[towns.beta.population]", "[towns.all.population]"),
            ("[towns.beta.migration]", "[towns.all.migration]"),
            ("[capacity.beta]", "[capacity.all]"),
        ],
        "towns.all",
        "[towns.all]\n",
        "reserved",
    ),
    case(
        "names need English",
        &[(r#"name = { en = "Alpha", zh = "甲" }"#, r#"name = { zh = "甲" }"#)],
        "towns.alpha.name.en",
        r#"{ zh = "甲" }"#,
        "missing",
    ),
    case(
        "towns need a name",
        &[("name = { en = \"Beta\", zh = \"乙\" }\n", "")],
        "towns.beta.name",
        "[towns.beta]\n",
        "missing",
    ),
    case(
        "population counts ≥ 0",
        &[("female = [8000, 35000, 7000]", "female = [8000, -35000, 7000]")],
        "towns.alpha.population.female[1]",
        "-35000",
        "expected a number ≥ 0",
    ),
    case("NaN is rejected", &[("sigma_k = 0.02", "sigma_k = nan")], "demography.mortality.sigma_k", "nan", "NaN"),
    case(
        "infinity is rejected",
        &[("total = 80000", "total = inf")],
        "towns.beta.population.total",
        "total = inf",
        "finite",
    ),
    case(
        "negative infinity is rejected in arrays",
        &[("male = [8500, 36000, 5500]", "male = [8500, -inf, 5500]")],
        "towns.alpha.population.male[1]",
        "-inf",
        "finite",
    ),
    case(
        "age groups are contiguous",
        &[("[[0, 14], [15, 64], [65, 100]]", "[[0, 14], [16, 64], [65, 100]]")],
        "towns.alpha.population.age_groups[1]",
        "[16, 64]",
        "age 15 is missing",
    ),
    case(
        "age groups start at 0",
        &[("[[0, 14], [15, 64], [65, 100]]", "[[1, 14], [15, 64], [65, 100]]")],
        "towns.alpha.population.age_groups[0]",
        "[1, 14]",
        "the first group starts at 1, expected 0: age 0 is missing",
    ),
    case(
        "age groups do not overlap",
        &[("[[0, 14], [15, 64], [65, 100]]", "[[0, 14], [10, 64], [65, 100]]")],
        "towns.alpha.population.age_groups[1]",
        "[10, 64]",
        "overlapping",
    ),
    case(
        "age groups reach 100",
        &[("[[0, 14], [15, 64], [65, 100]]", "[[0, 14], [15, 64], [65, 90]]")],
        "towns.alpha.population.age_groups",
        "[[0, 14], [15, 64], [65, 90]]",
        "cover 0 … 100",
    ),
    case(
        "shares sum to 1 within 0.99–1.01",
        &[("share = [0.6, 0.4]", "share = [0.6, 0.5]")],
        "age_structures.flat.share",
        "[0.6, 0.5]",
        "sum to 1.1000",
    ),
    case(
        "one value per age group",
        &[("male = [8500, 36000, 5500]", "male = [8500, 36000]")],
        "towns.alpha.population.male",
        "[8500, 36000]",
        "found 2 numbers, expected 3",
    ),
    case(
        "rates in [0, 1]",
        &[("rate = { triangular = [0.9, 0.95, 1.0] }", "rate = 1.5")],
        "resources.school_places.rate",
        "rate = 1.5",
        "a rate in [0, 1]",
    ),
    case(
        "normal sd ≥ 0",
        &[("sd = 10000", "sd = -10000")],
        "towns.alpha.migration.k.sd",
        "{ mean = 150000, sd = -10000 }",
        "standard deviation",
    ),
    case(
        "uniform low ≤ high",
        &[("tfr_star = { uniform = [0.6, 1.0] }", "tfr_star = { uniform = [1.0, 0.6] }")],
        "demography.fertility.tfr_star",
        "[1.0, 0.6]",
        "low ≤ high",
    ),
    case(
        "triangular mode inside [low, high]",
        &[("[0.9, 0.95, 1.0]", "[0.9, 1.05, 1.0]")],
        "resources.school_places.rate",
        "[0.9, 1.05, 1.0]",
        "low ≤ mode ≤ high",
    ),
    case(
        "lognormal sigma ≥ 0",
        &[("sigma = 0.1 }", "sigma = -0.1 }")],
        "resources.clinics.per.sigma",
        "{ mu = 9.5, sigma = -0.1 }",
        "sigma ≥ 0",
    ),
    case(
        "one distribution per variable",
        &[(
            "tfr_star = { uniform = [0.6, 1.0] }",
            "tfr_star = { uniform = [0.6, 1.0], normal = { mean = 0.8, sd = 0.1 } }",
        )],
        "demography.fertility.tfr_star",
        "{ uniform = [0.6, 1.0], normal = { mean = 0.8, sd = 0.1 } }",
        "uniform and normal together",
    ),
    Case {
        help: Some("did you mean `uniform`?"),
        errors: 2, // and the table then has no value
        ..case(
            "unknown distribution key",
            &[("tfr_star = { uniform = [0.6, 1.0] }", "tfr_star = { unifrom = [0.6, 1.0] }")],
            "demography.fertility.tfr_star.unifrom",
            "unifrom",
            "unknown key",
        )
    },
    case(
        "clip low ≤ high",
        &[("sigma_m = 0.2", "sigma_m = { normal = { mean = 0.2, sd = 0.1 }, clip = [0.5, 0.0] }")],
        "demography.migration.sigma_m.clip",
        "[0.5, 0.0]",
        "low ≤ high",
    ),
    Case {
        help: Some("did you mean `school_places`?"),
        ..case(
            "derived resources name an existing resource",
            &[(r#"of = "school_places""#, r#"of = "school_place""#)],
            "resources.teachers.of",
            r#""school_place""#,
            "no resource `school_place`",
        )
    },
    case(
        "derived resources form no cycle",
        &[(r#"of = "school_places""#, r#"of = "teachers""#)],
        "resources.teachers.of",
        r#""teachers""#,
        "cycle",
    ),
    Case {
        help: Some("did you mean `beta`?"),
        ..case(
            "capacity for an existing town",
            &[("[capacity.beta]", "[capacity.betta]")],
            "capacity.betta",
            "betta",
            "no town `betta`",
        )
    },
    Case {
        help: Some("did you mean `clinics`?"),
        ..case(
            "capacity for an existing resource",
            &[("clinics = { base = 5 }", "clinic = { base = 5 }")],
            "capacity.beta.clinic",
            "clinic = { base = 5 }",
            "no resource `clinic`",
        )
    },
    case(
        "capacity ≥ 0",
        &[("teachers = { base = 200 }", "teachers = { base = -200 }")],
        "capacity.beta.teachers.base",
        "-200",
        "≥ 0",
    ),
    case(
        "project year within the horizon",
        &[("year = 2024", "year = 2040")],
        "capacity.alpha.school_places.projects.new_school.year",
        "2040",
        "within the horizon",
    ),
    case(
        "step years in increasing order",
        &[("{ 2021 = 90000, 2026 = 100000 }", "{ 2026 = 100000, 2021 = 90000 }")],
        "towns.beta.migration.k.from.2021",
        "2021 = 90000",
        "increasing order",
    ),
    case(
        "step years within the horizon",
        &[("{ 2021 = 90000, 2026 = 100000 }", "{ 2021 = 90000, 2036 = 100000 }")],
        "towns.beta.migration.k.from.2036",
        "2036",
        "expected a year in [2020, 2030]",
    ),
    case(
        "the first step is at the base year",
        &[("streets = { from = { 2020 = 4, 2025 = 5 } }", "streets = { from = { 2022 = 4, 2025 = 5 } }")],
        "towns.alpha.streets.from",
        "{ 2022 = 4, 2025 = 5 }",
        "at or before the base year 2020",
    ),
    case(
        "migration steps start by the first step year",
        &[("{ 2021 = 90000, 2026 = 100000 }", "{ 2023 = 90000, 2026 = 100000 }")],
        "towns.beta.migration.k.from",
        "{ 2023 = 90000, 2026 = 100000 }",
        "needed from 2021",
    ),
    case(
        "target years within the horizon",
        &[("targets = { 2025 = 120000 }", "targets = { 2045 = 120000 }")],
        "towns.alpha.targets.2045",
        "2045",
        "expected a year in [2020, 2030]",
    ),
    Case {
        help: Some("did you mean `per_capita`?"),
        ..case(
            "resource kinds are known",
            &[("kind = \"per_capita\"\nages", "kind = \"per_capta\"\nages")],
            "resources.school_places.kind",
            "\"per_capta\"",
            "expected one of: per_capita",
        )
    },
    case(
        "keys belong to the resource's kind",
        &[("per = 19", "per = 19\nages = [6, 10]")],
        "resources.teachers.ages",
        "ages = [6, 10]\n\n[resources.clinics]",
        "not used by kind \"derived\"",
    ),
    case(
        "round is ceil or none",
        &[("round = \"ceil\"", "round = \"up\"")],
        "resources.clinics.round",
        "\"up\"",
        "expected \"ceil\"",
    ),
    Case {
        help: Some("did you mean `flat`?"),
        ..case(
            "structure names an age structure",
            &[("structure = \"flat\"", "structure = \"flta\"")],
            "towns.beta.population.structure",
            "\"flta\"",
            "no age structure `flta`",
        )
    },
    Case {
        errors: 2, // `share` and `sex_ratio` both sit beside the shares by sex
        ..case(
            "population forms are not mixed",
            &[("share = [0.6, 0.4]\n", "share = [0.6, 0.4]\nfemale_share = [0.3, 0.2]\nmale_share = [0.3, 0.2]\n")],
            "age_structures.flat.share",
            "[0.6, 0.4]",
            "cannot be combined with shares by sex",
        )
    },
    case(
        "shares need a total",
        &[("total = 80000\n", "")],
        "towns.beta.population.total",
        "[towns.beta.population]",
        "shares need the total population",
    ),
    case(
        "the population file exists",
        &[("structure = \"flat\"\ntotal = 80000", "file = \"ages.csv\"")],
        "towns.beta.population.file",
        "\"ages.csv\"",
        "cannot read",
    ),
    Case {
        files: &[("ages.csv", "age,females,male\n0,1,1\n")],
        ..case(
            "the population file's header is age,female,male",
            &[("structure = \"flat\"\ntotal = 80000", "file = \"ages.csv\"")],
            "towns.beta.population.file",
            "\"ages.csv\"",
            "ages.csv:1: found header `age,females,male`, expected `age,female,male`",
        )
    },
    Case {
        files: &[("ages.csv", "age,female,male\n0,100,105\n1,100,-5\n")],
        ..case(
            "the population file's counts are ≥ 0",
            &[("structure = \"flat\"\ntotal = 80000", "file = \"ages.csv\"")],
            "towns.beta.population.file",
            "\"ages.csv\"",
            "ages.csv:3: found `1,100,-5`",
        )
    },
    Case {
        help: Some("1.07 is written 107"),
        ..case(
            "SRB is boys per 100 girls",
            &[("srb = 107", "srb = 1.07")],
            "demography.fertility.srb",
            "1.07",
            "per 100",
        )
    },
    Case {
        help: Some("1.05 is written 105"),
        ..case(
            "sex ratio is males per 100 females",
            &[("sex_ratio = 105", "sex_ratio = 1.05")],
            "age_structures.flat.sex_ratio",
            "1.05",
            "per 100",
        )
    },
    case("TFR in [0.1, 4]", &[("tfr0 = 0.8", "tfr0 = 8")], "demography.fertility.tfr0", "tfr0 = 8", "a TFR in"),
    case(
        "b or e0, not both",
        &[("b = 1.5e-5\n", "b = 1.5e-5\ne0 = 85\n")],
        "demography.mortality.female.e0",
        "e0 = 85",
        "not both",
    ),
    case(
        "e0 must be reachable",
        &[("a = 0.0001\nb = 1.5e-5\n", "a = 0.05\ne0 = 60\n")],
        "demography.mortality.female.e0",
        "e0 = 60",
        "no Gompertz B",
    ),
    case("TOML duplicate key", &[("seed = 1\n", "seed = 1\nseed = 2\n")], "", "seed = 2", "duplicate key `seed`"),
    case(
        "extends names a file that exists",
        &[("# A small", "extends = \"nope.toml\"\n# A small")],
        "extends",
        "\"nope.toml\"",
        "cannot read",
    ),
    case(
        "numbers are numbers",
        &[("phi = 0.2", "phi = \"0.2\"")],
        "demography.fertility.phi",
        "\"0.2\"",
        "expected a number",
    ),
    case(
        "years are whole numbers",
        &[("year = 2024", "year = 2024.5")],
        "capacity.alpha.school_places.projects.new_school.year",
        "2024.5",
        "whole number",
    ),
    case("per > 0", &[("per = 19", "per = 0")], "resources.teachers.per", "per = 0", "a number > 0"),
    case(
        "an explicit clip contains the central value",
        &[("sigma_m = 0.2", "sigma_m = { value = 0.2, clip = [0.3, 0.5] }")],
        "demography.migration.sigma_m.clip",
        "{ value = 0.2, clip = [0.3, 0.5] }",
        "lies outside the clip",
    ),
    case(
        "street counts are whole numbers",
        &[("streets = 3\n", "streets = 3.0\n")],
        "towns.beta.streets",
        "3.0",
        "found 3.0, expected a whole number",
    ),
    case(
        "the migration correlation is city-wide",
        &[("k = { normal", "c = 0.3\nk = { normal")],
        "towns.alpha.migration.c",
        "c = 0.3",
        "city-wide",
    ),
    case(
        "mortality improvement is city-wide",
        &[(
            "[towns.beta.migration]",
            "[towns.beta.mortality]\ndelta = 0.02\nfemale = { a = 0.0001, b = 1.2e-5, c = 0.1, infant_prob = 0.002 }\n\
             male = { a = 0.0002, b = 2.2e-5, c = 0.1, infant_prob = 0.0025 }\n\n[towns.beta.migration]",
        )],
        "towns.beta.mortality.delta",
        "delta = 0.02",
        "city-wide",
    ),
];

/// Applies a case's edits to [`BASE`]; each `find` must occur exactly once.
fn edited(c: &Case) -> String {
    let mut text = BASE.to_string();
    for (find, replace) in c.edits {
        assert_eq!(text.matches(find).count(), 1, "{}: `{find}` must occur exactly once", c.rule);
        text = text.replacen(find, replace, 1);
    }
    text
}

/// 1-based line and the 1-based columns (in characters) spanned by the only occurrence of `at`.
fn place_of(text: &str, at: &str, rule: &str) -> (usize, std::ops::RangeInclusive<usize>) {
    assert_eq!(text.matches(at).count(), 1, "{rule}: `{at}` must occur exactly once in the edited scenario");
    let start = text.find(at).expect("counted above");
    let line = text[..start].matches('\n').count() + 1;
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let col = text[line_start..start].chars().count() + 1;
    let first_line_len = at.split('\n').next().unwrap_or("").chars().count();
    (line, col..=col + first_line_len.max(1) - 1)
}

/// Runs `capsim validate` on a scenario text (with extra files); returns (exit code, stderr).
fn validate(text: &str, files: &[(&str, &str)]) -> (i32, String) {
    let w = Workdir::new();
    w.write(FILE, text);
    for (name, body) in files {
        w.write(name, body);
    }
    let out = w.capsim().args(["validate", FILE]).output().expect("runs");
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// The error line for `path` (or the TOML syntax error when `path` is empty), with its line and
/// column.
fn find_error<'a>(stderr: &'a str, path: &str) -> Option<(&'a str, usize, usize)> {
    let prefix = format!("error: {FILE}:");
    stderr.lines().filter_map(|l| l.strip_prefix(prefix.as_str()).map(|rest| (l, rest))).find_map(|(l, rest)| {
        let mut parts = rest.splitn(3, ':');
        let line = parts.next()?.parse().ok()?;
        let col = parts.next()?.parse().ok()?;
        let tail = parts.next()?.trim_start();
        let matches = if path.is_empty() {
            tail.starts_with("this is not valid TOML")
        } else {
            tail.starts_with(&format!("{path}: "))
        };
        matches.then_some((l, line, col))
    })
}

fn error_count(stderr: &str) -> usize {
    stderr.lines().filter(|l| l.starts_with("error: ")).count()
}

#[test]
fn the_base_scenario_is_valid() {
    let w = Workdir::new();
    w.write(FILE, BASE);
    let out = w.capsim().args(["validate", FILE]).output().expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with("ok: scenario.toml: 2 towns, 3 resources, 6 random inputs"), "{stdout}");
    assert!(out.stderr.is_empty(), "a clean scenario prints no notes: {}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn every_broken_scenario_is_reported_with_its_path_and_place() {
    assert!(CASES.len() >= 30, "one case per rule, at least 30");
    let mut failures = Vec::new();
    for c in CASES {
        let text = edited(c);
        let (line, cols) = place_of(&text, c.at, c.rule);
        let (code, stderr) = validate(&text, c.files);
        let problem = if code != 2 {
            Some(format!("exit code {code}, expected 2 (101 is a panic)"))
        } else if let Some((msg, l, col)) = find_error(&stderr, c.path) {
            if l != line || !cols.contains(&col) {
                Some(format!("reported at {l}:{col}, expected line {line}, column in {cols:?}"))
            } else if !msg.contains(c.message) {
                Some(format!("message lacks `{}`", c.message))
            } else if let Some(h) = c.help
                && !stderr.lines().any(|l| l.starts_with("  help: ") && l.contains(h))
            {
                Some(format!("no suggestion `{h}`"))
            } else if error_count(&stderr) != c.errors {
                Some(format!("{} errors, expected {}", error_count(&stderr), c.errors))
            } else {
                None
            }
        } else {
            Some(format!("no error for path `{}`", c.path))
        };
        if let Some(p) = problem {
            failures.push(format!("[{}] {p}\n{stderr}", c.rule));
        }
    }
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), CASES.len(), failures.join("\n"));
}

#[test]
fn all_errors_of_a_file_are_reported_in_one_run() {
    // Six independent mistakes in different parts of the file.
    let edits: &[(&str, &str, &str, &str)] = &[
        ("draws = 100", "draws = 0", "settings.draws", "draws = 0"),
        ("srb = 107", "srb = 1.07", "demography.fertility.srb", "1.07"),
        ("female = [8000, 35000, 7000]", "female = [8000, -35000, 7000]", "towns.alpha.population.female[1]", "-35000"),
        (r#"of = "school_places""#, r#"of = "school_place""#, "resources.teachers.of", "\"school_place\""),
        ("[capacity.beta]", "[capacity.betta]", "capacity.betta", "betta"),
        ("phi = 0.2", "phi = \"0.2\"", "demography.fertility.phi", "\"0.2\""),
        ("year = 2024", "year = 2040", "capacity.alpha.school_places.projects.new_school.year", "2040"),
    ];
    let mut text = BASE.to_string();
    for (find, replace, ..) in edits {
        assert_eq!(text.matches(find).count(), 1);
        text = text.replacen(find, replace, 1);
    }
    let (code, stderr) = validate(&text, &[]);
    assert_eq!(code, 2, "{stderr}");
    for (_, _, path, at) in edits {
        let (line, _) = place_of(&text, at, path);
        let (_, l, _) = find_error(&stderr, path).unwrap_or_else(|| panic!("`{path}` not reported:\n{stderr}"));
        assert_eq!(l, line, "{path}:\n{stderr}");
    }
    assert_eq!(error_count(&stderr), edits.len(), "one message per mistake:\n{stderr}");
    assert!(stderr.contains(&format!("{} errors in the scenario", edits.len())), "{stderr}");
    // Reported top to bottom, so a planner can fix the file in one pass.
    let prefix = format!("error: {FILE}:");
    let lines: Vec<usize> =
        stderr.lines().filter_map(|l| l.strip_prefix(prefix.as_str())?.split(':').next()?.parse().ok()).collect();
    assert_eq!(lines.len(), edits.len());
    let mut sorted = lines.clone();
    sorted.sort_unstable();
    assert_eq!(lines, sorted);
}

#[test]
fn a_missing_scenario_file_is_an_input_error() {
    let w = Workdir::new();
    let out = w.capsim().args(["validate", "nope.toml"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read nope.toml"));
}

#[test]
fn an_empty_file_reports_what_is_missing() {
    let (code, stderr) = validate("", &[]);
    assert_eq!(code, 2, "{stderr}");
    for what in ["name", "demography", "towns", "resources"] {
        assert!(stderr.contains(&format!("error: {FILE}:1:1: {what}: missing")), "{what}:\n{stderr}");
    }
}

/// Values a careless or hostile edit may put in place of a number.
const NASTY: &[&str] = &[
    "-1",
    "0",
    "1e308",
    "-1e308",
    "nan",
    "inf",
    "-inf",
    "1.5",
    "\"x\"",
    "[]",
    "{}",
    "[1, 2]",
    "{ value = 1 }",
    "{ normal = { mean = 1, sd = 1e308 } }",
    "{ uniform = [-1e308, 1e308] }",
    "{ lognormal = { mu = 800, sigma = 1 } }",
    "{ triangular = [0, 0, 0] }",
    "9223372036854775807",
    "-9223372036854775808",
    "2e9",
    "100",
    "2020",
    "true",
    "1979-05-27",
];

/// Byte offsets of every number in the text (a digit not inside a word).
fn number_spans(text: &str) -> Vec<(usize, usize)> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let starts = (b[i].is_ascii_digit() || b[i] == b'-')
            && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_' || b[i - 1] == b'.'));
        if starts {
            let mut j = i + 1;
            while j < b.len() && (b[j].is_ascii_alphanumeric() || b"._-+".contains(&b[j])) {
                j += 1;
            }
            if b[i..j].iter().any(u8::is_ascii_digit) {
                out.push((i, j));
            }
            i = j;
        } else {
            i += 1;
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, failure_persistence: None, ..ProptestConfig::default() })]

    /// Random edits (numbers replaced by nasty values, lines dropped or doubled) never panic,
    /// and every error they cause names a line.
    #[test]
    fn random_edits_never_panic_and_errors_are_located(
        edits in proptest::collection::vec((0usize..10_000, 0usize..NASTY.len(), 0u8..4), 1..4)
    ) {
        let mut text = BASE.to_string();
        for (pick, nasty, how) in edits {
            match how {
                0 | 1 => {
                    let spans = number_spans(&text);
                    let (a, b) = spans[pick % spans.len()];
                    text.replace_range(a..b, NASTY[nasty]);
                }
                2 => {
                    let lines: Vec<&str> = text.lines().collect();
                    let drop = pick % lines.len();
                    text = lines.iter().enumerate().filter(|(i, _)| *i != drop).map(|(_, l)| *l).collect::<Vec<_>>().join("\n");
                }
                _ => {
                    let lines: Vec<&str> = text.lines().collect();
                    let dup = pick % lines.len();
                    let mut out: Vec<&str> = Vec::new();
                    for (i, l) in lines.iter().enumerate() {
                        out.push(l);
                        if i == dup { out.push(l); }
                    }
                    text = out.join("\n");
                }
            }
        }
        match capsim::scenario::from_text("fuzz.toml", &text) {
            Ok(_) => {}
            Err(e) => {
                prop_assert!(e.0.iter().any(|d| d.severity == capsim::scenario::Severity::Error));
                for d in e.0.iter().filter(|d| d.severity == capsim::scenario::Severity::Error) {
                    prop_assert!(d.line.is_some(), "unlocated error: {d}\n--- scenario:\n{text}");
                }
            }
        }
    }
}
