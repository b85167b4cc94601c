//! Scenario files: the TOML format planners write (documented in `docs/scenario.md`), read into
//! a fully resolved, validated [`Scenario`] — overlays applied, defaults filled in, tables
//! loaded, every number a [`Param`] with its path and source.
//!
//! Reading is two layers: [`tree`] parses TOML keeping the location of every key and value and
//! merges `extends` / `--with` overlays; [`read`] walks the merged tree once, collecting every
//! problem as a located [`Diagnostic`]. Nothing here panics on any input.

pub mod diag;
pub mod dist;
pub mod paths;
mod read;
pub mod resolved;
pub mod schedule;
pub mod tree;

use std::path::{Path, PathBuf};

use serde::Serialize;

pub use diag::{Diagnostic, Diagnostics, Severity};
pub use dist::{Dist, Param};
use schedule::{AGES, FERTILE_AGES};
pub use tree::Document;

/// A name in English and Chinese (Chinese optional; English is used where it is missing).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Names {
    /// English.
    pub en: String,
    /// Simplified Chinese.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zh: Option<String>,
}

impl Names {
    /// The name in a language (`"zh"` or anything else for English), falling back to English.
    pub fn get(&self, lang: &str) -> &str {
        match (lang, &self.zh) {
            ("zh", Some(zh)) => zh,
            _ => &self.en,
        }
    }
}

/// Most Monte Carlo draws one run may ask for (`settings.draws`, `--draws`); beyond it, a run
/// is split into shards (each shard's total is still at most this).
pub const MAX_DRAWS: u64 = 1_000_000_000;

/// The `[settings]` table.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Settings {
    /// First year; the base population is its year-end figure (MODEL §1).
    pub base_year: i32,
    /// Last year projected.
    pub end_year: i32,
    /// Monte Carlo draws.
    pub draws: u64,
    /// Seed of every random stream.
    pub seed: u64,
    /// The shortfall risk planners accept (for `first_year_risk` and `plan`).
    pub risk: f64,
    /// First year a new decision can be taken (`capsim plan`).
    pub decision_year: i32,
}

impl Settings {
    /// Number of year rows, base year included.
    pub fn years(&self) -> usize {
        (self.end_year - self.base_year + 1) as usize
    }
}

/// A number that may change at milestone years: `from = { 2021 = …, 2026 = … }`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Sched {
    /// The same variable every year.
    Const(Param),
    /// A variable per step: each applies from its year until the next step's year.
    Steps {
        /// `(first year, variable)`, years ascending.
        from: Vec<(i32, Param)>,
    },
}

impl Sched {
    /// The variable in force in `year` (the last step starting at or before it; the first
    /// step for earlier years, which validation rules out where it matters).
    pub fn at(&self, year: i32) -> &Param {
        match self {
            Sched::Const(p) => p,
            Sched::Steps { from } => from.iter().rev().find(|(y, _)| *y <= year).map_or(&from[0].1, |(_, p)| p),
        }
    }

    /// Every variable in the schedule.
    pub fn params(&self) -> Vec<&Param> {
        match self {
            Sched::Const(p) => vec![p],
            Sched::Steps { from } => from.iter().map(|(_, p)| p).collect(),
        }
    }
}

/// The city-wide mortality block (MODEL §3, §8.4).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Mortality {
    /// Annual improvement δ of the mortality index.
    pub delta: Param,
    /// Standard deviation σ_k of the index's yearly shock.
    pub sigma_k: Param,
    /// The base schedule m⁰, city-wide unless a town overrides it.
    pub base: MortalitySchedule,
}

/// A base mortality schedule for both sexes.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MortalitySchedule {
    /// Females.
    pub female: SexMortality,
    /// Males.
    pub male: SexMortality,
}

/// One sex's base mortality.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SexMortality {
    /// `m⁰_x = A + B·exp(C·x)` for x ≥ 1; `m⁰_0` from the infant rate or probability.
    GompertzMakeham {
        /// Makeham constant A.
        a: Param,
        /// Gompertz level B (solved from `e0` when that is given).
        b: Param,
        /// Gompertz slope C.
        c: Param,
        /// Infant hazard m⁰_0 or probability q0 (see `infant_is_probability`).
        infant: Param,
        /// Whether `infant` is a probability q0 (converted by −ln(1 − q0)).
        infant_is_probability: bool,
        /// The life expectancy B was calibrated to, if it was.
        #[serde(skip_serializing_if = "Option::is_none")]
        e0_target: Option<f64>,
    },
    /// A table of hazards for ages 0 … 100+.
    Table {
        /// The hazards.
        rates: Vec<f64>,
        /// Where the table came from.
        #[serde(skip_serializing_if = "Option::is_none")]
        source: Option<String>,
    },
}

/// Fertility of one town (inherited values carry the city-wide path: one shared variable).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Fertility {
    /// TFR in the base year.
    pub tfr0: Param,
    /// Long-run TFR that TFR(t) moves toward.
    pub tfr_star: Param,
    /// Yearly share φ of the gap to TFR* closed.
    pub phi: Param,
    /// Standard deviation σ_F of the yearly TFR shock.
    pub sigma_f: Param,
    /// Sex ratio at birth, boys per 100 girls.
    pub srb: Param,
    /// The age schedule g of fertility.
    pub schedule: FertilitySchedule,
}

/// The age pattern of fertility, ages 15 … 49.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FertilitySchedule {
    /// Gamma-shaped (MODEL §8.1).
    Gamma {
        /// Mean age at childbearing μ_f.
        mean_age: Param,
        /// Standard deviation σ_f of the age at childbearing.
        sd_age: Param,
    },
    /// A table for ages 15 … 49, normalised to sum 1.
    Table {
        /// The shares.
        shares: Vec<f64>,
    },
}

/// Migration of one town (MODEL §3, "Net migration").
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Migration {
    /// K: the population the town is heading for.
    pub k: Sched,
    /// ρ: the yearly share of the remaining gap that arrives.
    pub rho: Sched,
    /// σ_m: scale of the yearly migration shock.
    pub sigma_m: Param,
    /// N_fix: a fixed yearly flow.
    pub n_fix: Sched,
    /// Age profile of migrants.
    pub profile: MigrantProfile,
    /// Female share of migrants.
    pub female_share: Param,
}

/// The age profile of migrants, ages 0 … 100+.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MigrantProfile {
    /// Rogers–Castro (MODEL §3).
    RogersCastro {
        /// Childhood level a1.
        a1: Param,
        /// Childhood descent α1.
        alpha1: Param,
        /// Labour-force level a2.
        a2: Param,
        /// Labour-force descent α2.
        alpha2: Param,
        /// Labour-force peak μ2.
        mu2: Param,
        /// Labour-force ascent λ2.
        lambda2: Param,
        /// Constant c.
        c0: Param,
    },
    /// A table, normalised to sum 1.
    Table {
        /// The shares by age.
        shares: Vec<f64>,
    },
}

/// A town's base population (end of the base year).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BasePopulation {
    /// How it was given (`counts`, `shares`, `structure <id>`, `file <path>`).
    pub given_as: String,
    /// If set, the age–sex structure is scaled to this total in each draw.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<Param>,
    /// Females by single age 0 … 100+ (counts, or shares of the whole population when `total` is set).
    pub female: Vec<f64>,
    /// Males by single age.
    pub male: Vec<f64>,
    /// Where the age structure came from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// A population target, for chart markers and checks.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Target {
    /// Year (compared with that year's year-end row).
    pub year: i32,
    /// Residents.
    pub value: f64,
    /// Where it comes from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// Per-age vectors at the central values, as the engine expands them (for `--print-resolved`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Expanded {
    /// Base population, females, ages 0 … 100+.
    pub population_female: Vec<f64>,
    /// Base population, males.
    pub population_male: Vec<f64>,
    /// Base hazards m⁰, females.
    pub m0_female: Vec<f64>,
    /// Base hazards m⁰, males.
    pub m0_male: Vec<f64>,
    /// Fertility schedule g, ages 15 … 49.
    pub fertility_g: Vec<f64>,
    /// Migrant profile h, females (the female share included).
    pub migrants_female: Vec<f64>,
    /// Migrant profile h, males.
    pub migrants_male: Vec<f64>,
    /// Life expectancy at birth of m⁰, females.
    pub e0_female: f64,
    /// Life expectancy at birth of m⁰, males.
    pub e0_male: f64,
}

/// A new town.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Town {
    /// Id (`[a-z0-9_]+`).
    pub id: String,
    /// Names.
    pub name: Names,
    /// Number of streets/towns (街镇) from each year on.
    pub streets: Vec<(i32, u32)>,
    /// Population targets by year.
    pub targets: Vec<Target>,
    /// Base population.
    pub population: BasePopulation,
    /// The town's own base mortality, if it overrides the city's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mortality: Option<MortalitySchedule>,
    /// Fertility (city-wide values inherited).
    pub fertility: Fertility,
    /// Migration (city-wide values inherited).
    pub migration: Migration,
    /// The per-age vectors at central values.
    pub expanded: Expanded,
}

impl Town {
    /// Streets/towns in `year`.
    pub fn streets_in(&self, year: i32) -> u32 {
        self.streets.iter().rev().find(|(y, _)| *y <= year).or(self.streets.first()).map_or(0, |s| s.1)
    }
}

/// How a resource's demand is computed (MODEL §4).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Rule {
    /// `rate · Σ_{band} P / per`.
    PerCapita {
        /// Age band (inclusive; 100 = 100+); all ages when absent.
        #[serde(skip_serializing_if = "Option::is_none")]
        ages: Option<(usize, usize)>,
        /// Participation rate: the product of its factors (in the order written).
        rate: Vec<(String, Sched)>,
        /// Residents per unit, or units per 1,000 residents when `per_1000`.
        per: Sched,
        /// `per` holds units per 1,000 residents (written `per_1000 = …`).
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        per_1000: bool,
    },
    /// One per street/town, from a year on (0 before).
    AdminUnits {
        /// First year it applies (the base year unless the standard has a deadline).
        from_year: i32,
    },
    /// ⌈share · streets⌉, from a year on (0 before).
    CoverageShare {
        /// The share of streets/towns that must be covered.
        share: Param,
        /// First year it applies.
        from_year: i32,
    },
    /// A constant from a year on, 0 before.
    FixedMin {
        /// The minimum.
        value: Param,
        /// First year it applies.
        from_year: i32,
    },
    /// Another resource's demand (after its rounding) ÷ per.
    Derived {
        /// The source resource's id.
        of: String,
        /// Source units per unit of this resource (e.g. pupils per staff member).
        per: Sched,
    },
}

/// A service standard.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Resource {
    /// Id.
    pub id: String,
    /// Names.
    pub name: Names,
    /// Unit of demand and capacity (places, beds, stations, m²).
    pub unit: Names,
    /// Demand is rounded up to whole units (facilities).
    pub ceil: bool,
    /// The rule as written at the resource level.
    pub rule: Rule,
    /// Towns whose rule differs (overrides applied), by town id.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub town_rules: Vec<(String, Rule)>,
    /// Where the standard comes from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// How capacity grows, for `capsim plan` (defaults when absent: see [`Build::default_for`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build: Option<Build>,
}

/// The unit a resource grows by, for `capsim plan`: e.g. a 30-class primary school of 1,350
/// places, decided `lead_time` years before its planned opening, which may slip by `delay`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Build {
    /// What one unit is called ("30-class primary school").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<Names>,
    /// Capacity one unit adds, in the resource's unit.
    pub unit: f64,
    /// Years from the decision to the planned opening.
    pub lead_time: i32,
    /// Opening delay in years (per project, rounded half up, floored at 0).
    pub delay: Param,
    /// Cost of one unit, if known (in the currency its source names).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost: Option<f64>,
}

impl Build {
    /// The documented default when a resource declares no `build`: one unit of the resource,
    /// decided two years ahead, no delay, no cost.
    pub fn default_for(resource: &str) -> Build {
        Build {
            name: None,
            unit: 1.0,
            lead_time: 2,
            delay: Param::fixed(format!("resources.{resource}.build.delay"), 0.0),
            cost: None,
        }
    }
}

impl Resource {
    /// The rule for a town (its override, or the resource's rule).
    pub fn rule_for(&self, town: &str) -> &Rule {
        self.town_rules.iter().find(|(t, _)| t == town).map_or(&self.rule, |(_, r)| r)
    }

    /// Whether demand is a whole number in every draw: rounded up, or every rule in force (the
    /// resource's and each town's override) gives whole numbers — streets and a rounded-up
    /// share of them always, a fixed minimum only when its value is fixed and whole (a random
    /// or fractional one is reported as the number it is, not rounded).
    pub fn is_integral(&self) -> bool {
        let whole = |rule: &Rule| match rule {
            Rule::AdminUnits { .. } | Rule::CoverageShare { .. } => true,
            Rule::FixedMin { value, .. } => !value.is_random() && value.central().fract() == 0.0,
            Rule::PerCapita { .. } | Rule::Derived { .. } => false,
        };
        self.ceil || (whole(&self.rule) && self.town_rules.iter().all(|(_, r)| whole(r)))
    }
}

/// A planned project (or closure) adding capacity from its opening year (MODEL §5).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Project {
    /// Id within its town × resource.
    pub id: String,
    /// Names, if given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<Names>,
    /// Capacity added (removed, for a closure).
    pub amount: Param,
    /// Planned opening (or closing) year.
    pub year: i32,
    /// Delay in years (rounded half up, floored at 0, per draw).
    pub delay: Param,
    /// A closure subtracts its amount.
    pub closure: bool,
}

/// Existing capacity and the pipeline of one town × resource.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Capacity {
    /// Town id.
    pub town: String,
    /// Resource id.
    pub resource: String,
    /// Capacity at the base year.
    pub base: Param,
    /// Projects and closures.
    pub projects: Vec<Project>,
}

/// A fully resolved, validated scenario: exactly what the engine runs.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Scenario {
    /// Scenario name.
    pub name: Names,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Settings.
    pub settings: Settings,
    /// City-wide mortality.
    pub mortality: Mortality,
    /// Correlation c of migration shocks between towns.
    pub migration_correlation: Param,
    /// Towns.
    pub towns: Vec<Town>,
    /// Resources (service standards).
    pub resources: Vec<Resource>,
    /// Capacity, town-major: `capacity[town * resources.len() + resource]`.
    pub capacity: Vec<Capacity>,
    /// Notes and warnings from validation (e.g. shares renormalised).
    #[serde(skip)]
    pub notes: Vec<Diagnostic>,
    /// Every input with its source, in the order read (for `--sources`).
    #[serde(skip)]
    pub inputs: Vec<InputRecord>,
    /// The files read: the scenario's `extends` chain then the `--with` fragments.
    #[serde(skip)]
    pub files: Vec<PathBuf>,
    /// SHA-256 of the resolved scenario as read from its files (before any command-line
    /// `--draws`/`--seed`): its identity in run.json and partial results.
    #[serde(skip)]
    pub sha256: String,
}

/// One row of the provenance table.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct InputRecord {
    /// The input's path.
    pub path: String,
    /// Its value or distribution, as text.
    pub value: String,
    /// Its source, if any.
    pub source: Option<String>,
    /// Its confidence, if given.
    pub confidence: Option<String>,
}

impl Scenario {
    /// Capacity of town `t`, resource `r`.
    pub fn capacity_of(&self, t: usize, r: usize) -> &Capacity {
        &self.capacity[t * self.resources.len() + r]
    }

    /// Index of a town by id.
    pub fn town_index(&self, id: &str) -> Option<usize> {
        self.towns.iter().position(|t| t.id == id)
    }

    /// Index of a resource by id.
    pub fn resource_index(&self, id: &str) -> Option<usize> {
        self.resources.iter().position(|r| r.id == id)
    }

    /// Base mortality used by a town.
    pub fn mortality_of<'a>(&'a self, town: &'a Town) -> &'a MortalitySchedule {
        town.mortality.as_ref().unwrap_or(&self.mortality.base)
    }

    /// Every parameter (distribution or number) in the scenario, each path once, in a fixed
    /// order: the inputs of the engine.
    pub fn params(&self) -> Vec<&Param> {
        paths::collect_params(self)
    }
}

/// Why a scenario could not be loaded: the located problems (at least one error).
#[derive(Debug, thiserror::Error)]
#[error("{}", render_errors(.0))]
pub struct ScenarioError(pub Vec<Diagnostic>);

fn render_errors(d: &[Diagnostic]) -> String {
    let errors: Vec<String> = d.iter().filter(|d| d.severity == Severity::Error).map(|d| d.to_string()).collect();
    let n = errors.len();
    format!("{}\n{} error{} in the scenario", errors.join("\n"), n, if n == 1 { "" } else { "s" })
}

/// Loads, merges and validates a scenario file with its `--with` fragments.
pub fn load(path: &Path, with: &[PathBuf]) -> Result<Scenario, ScenarioError> {
    let mut diags = Diagnostics::default();
    let doc = match tree::load_document(path, with, &mut diags) {
        Some(d) if !diags.has_errors() => d,
        _ => return Err(ScenarioError(diags.items)),
    };
    from_document(&doc)
}

/// Validates an already merged document.
pub fn from_document(doc: &Document) -> Result<Scenario, ScenarioError> {
    let mut diags = Diagnostics::default();
    match read::read_scenario(doc, &mut diags) {
        Some(mut s) if !diags.has_errors() => {
            diags.sort();
            s.notes = diags.items;
            s.files = doc.chain.clone();
            s.sha256 = resolved::sha256(&s);
            Ok(s)
        }
        _ => {
            diags.sort();
            Err(ScenarioError(diags.items))
        }
    }
}

/// Validates scenario text (no `extends`): for tests and the fuzzer.
pub fn from_text(name: &str, text: &str) -> Result<Scenario, ScenarioError> {
    let mut diags = Diagnostics::default();
    match tree::parse_document_text(name, text, &mut diags) {
        Some(doc) if !diags.has_errors() => from_document(&doc),
        _ => Err(ScenarioError(diags.items)),
    }
}

// Compile-time reminders of the fixed vector lengths the expansions produce.
const _: () = assert!(AGES == 101 && FERTILE_AGES == 35);
