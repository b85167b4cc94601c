//! The engine: a resolved scenario compiled into flat arrays ([`Model`]), the sampler that
//! fills one draw's inputs from the per-variable streams ([`sample_draw`]), and
//! [`simulate_draw`], which runs the cohort-component projection, demand and capacity of one
//! draw from supplied inputs (MODEL §3–§5). Sensitivity analysis and `plan` call the same
//! `simulate_draw` with inputs of their own.
//!
//! Every scenario number is a *slot* in one `values` array; a draw overwrites the random slots.
//! The per-draw loop works on buffers allocated once in a [`Workspace`] and allocates nothing.

mod compile;
mod draw;
pub mod fastmath;

pub use compile::compile;
pub use draw::{NonFinite, ceil_units, opening_row, simulate_draw};

use crate::scenario::Dist;
use crate::scenario::schedule::{AGES, FERTILE_AGES};

/// Index of a number in a draw's `values`.
pub type Slot = u32;

/// Female / male index in per-sex arrays.
pub const FEMALE: usize = 0;
/// Male index.
pub const MALE: usize = 1;

/// The names of the yearly shock processes (for sensitivity groups and stream ids).
pub const SHOCK_MORTALITY: usize = 0;
/// ε_F(t), shared by all towns.
pub const SHOCK_FERTILITY: usize = 1;
/// Z(t), the city-wide migration shock.
pub const SHOCK_MIGRATION_CITY: usize = 2;
/// Z_i(t) of town i is series `SHOCK_MIGRATION_TOWN0 + i`.
pub const SHOCK_MIGRATION_TOWN0: usize = 3;

/// A scenario compiled for the engine.
#[derive(Clone, Debug)]
pub struct Model {
    /// Base year t0.
    pub t0: i32,
    /// Year rows, t0 … T.
    pub rows: usize,
    /// Towns.
    pub towns: Vec<TownModel>,
    /// Resources.
    pub resources: Vec<ResourceModel>,
    /// Resources in an order where every derived resource follows its source.
    pub resource_order: Vec<usize>,
    /// Capacity, `[town * resources + resource]`.
    pub capacity: Vec<CapacityModel>,
    /// Distinct base mortality schedules (0 is the city's).
    pub mortality: Vec<MortalityModel>,
    /// Output age groups (five-year groups, then the service bands).
    pub groups: Vec<AgeGroup>,
    /// Distinct age bands demand is computed over (band 0 is all ages).
    pub bands: Vec<(usize, usize)>,
    /// The output group of each band (band 0, all ages, has none).
    pub band_group: Vec<usize>,
    /// Every slot at its central value (MODEL §2): a draw starts from a copy of this.
    pub central: Vec<f64>,
    /// The path of every slot.
    pub slot_paths: Vec<String>,
    /// The random slots.
    pub inputs: Vec<RandomInput>,
    /// Shared keys: each is one uniform per draw.
    pub keys: Vec<String>,
    /// Shock series, `shocks[series * steps + step]`.
    pub shock_names: Vec<String>,
    /// Stream id of each shock series.
    pub shock_streams: Vec<u64>,
    /// δ.
    pub delta: Slot,
    /// σ_k.
    pub sigma_k: Slot,
    /// c.
    pub correlation: Slot,
}

impl Model {
    /// Projection steps (rows − 1).
    pub fn steps(&self) -> usize {
        self.rows - 1
    }

    /// Areas: the towns and then "all".
    pub fn areas(&self) -> usize {
        self.towns.len() + 1
    }

    /// Length of the shock array of one draw.
    pub fn shock_len(&self) -> usize {
        self.shock_names.len() * self.steps()
    }

    /// Calendar year of a row.
    pub fn year(&self, row: usize) -> i32 {
        self.t0 + row as i32
    }

    /// A fresh workspace for this model, with the schedules and capacities that no draw changes
    /// computed once.
    /// Slots that are not random inputs must hold their central values in every draw.
    pub fn workspace(&self) -> Workspace {
        let mut ws = Workspace::new(self);
        draw::fixed_schedules(self, &self.central, &mut ws);
        ws
    }
}

/// One random input: a slot drawn from a distribution by inverse CDF.
#[derive(Clone, Debug)]
pub struct RandomInput {
    /// The variable's path.
    pub path: String,
    /// The slot it fills.
    pub slot: Slot,
    /// Its distribution.
    pub dist: Dist,
    /// Clamp bounds.
    pub clip: Option<[f64; 2]>,
    /// Shared key index, if any.
    pub key: Option<usize>,
    /// Stream id (of the key when shared, else of the path).
    pub stream: u64,
}

impl RandomInput {
    /// The value for uniform `u`.
    pub fn value(&self, u: f64) -> f64 {
        let v = self.dist.quantile(u);
        match self.clip {
            Some([lo, hi]) => v.max(lo).min(hi),
            None => v,
        }
    }
}

/// A town, compiled.
#[derive(Clone, Debug)]
pub struct TownModel {
    /// Id.
    pub id: String,
    /// Base population shape `[sex][age]` (counts, or shares when `total` is set).
    pub base: [[f64; AGES]; 2],
    /// Scales the shape to a total in each draw.
    pub total: Option<Slot>,
    /// Index of the town's base mortality schedule.
    pub mortality: usize,
    /// TFR(t0).
    pub tfr0: Slot,
    /// TFR*.
    pub tfr_star: Slot,
    /// φ.
    pub phi: Slot,
    /// σ_F.
    pub sigma_f: Slot,
    /// SRB.
    pub srb: Slot,
    /// Fertility schedule.
    pub fertility: FertilityModel,
    /// The fertility schedule has a random parameter (recomputed every draw).
    pub fertility_random: bool,
    /// An earlier town whose fertility schedule has the same slots (towns that inherit the
    /// city's schedule): a draw copies it instead of recomputing it.
    pub fertility_same_as: Option<usize>,
    /// K in force in the step into each row (`[row]`, row 0 unused).
    pub k: Vec<Slot>,
    /// ρ by row.
    pub rho: Vec<Slot>,
    /// N_fix by row.
    pub n_fix: Vec<Slot>,
    /// σ_m.
    pub sigma_m: Slot,
    /// Migrant age profile.
    pub profile: ProfileModel,
    /// Female share of migrants.
    pub female_share: Slot,
    /// The migrant profile or the female share is random (recomputed every draw).
    pub profile_random: bool,
    /// An earlier town whose migrant profile and female share have the same slots: a draw
    /// copies it instead of recomputing it.
    pub profile_same_as: Option<usize>,
    /// Streets/towns by row.
    pub streets: Vec<f64>,
}

/// Base mortality, compiled.
#[derive(Clone, Debug)]
pub struct MortalityModel {
    /// Per sex.
    pub sexes: [SexMortalityModel; 2],
    /// Some parameter is random: the schedule is recomputed in every draw.
    pub random: bool,
}

/// One sex's base hazards.
#[derive(Clone, Debug)]
pub enum SexMortalityModel {
    /// Gompertz–Makeham from slots.
    Gm {
        /// A.
        a: Slot,
        /// B.
        b: Slot,
        /// C.
        c: Slot,
        /// m⁰_0 or q0.
        infant: Slot,
        /// `infant` is a probability.
        infant_is_probability: bool,
    },
    /// A fixed table.
    Table(Box<[f64; AGES]>),
}

/// Fertility schedule, compiled.
#[derive(Clone, Debug, PartialEq)]
pub enum FertilityModel {
    /// Gamma from slots.
    Gamma {
        /// μ_f.
        mean_age: Slot,
        /// σ_f.
        sd_age: Slot,
    },
    /// A fixed table.
    Table(Box<[f64; FERTILE_AGES]>),
}

/// Migrant profile, compiled.
#[derive(Clone, Debug, PartialEq)]
pub enum ProfileModel {
    /// Rogers–Castro from slots: a1, α1, a2, α2, μ2, λ2, c.
    RogersCastro([Slot; 7]),
    /// A fixed table.
    Table(Box<[f64; AGES]>),
}

/// A resource, compiled.
#[derive(Clone, Debug)]
pub struct ResourceModel {
    /// Id.
    pub id: String,
    /// Demand rounded up to whole units.
    pub ceil: bool,
    /// Demand is always a whole number.
    pub integral: bool,
    /// Capacity is always a whole number.
    pub capacity_integral: bool,
    /// The rule for each town.
    pub rules: Vec<RuleModel>,
}

/// A demand rule, compiled (MODEL §4). Year-dependent slots are stored by row.
#[derive(Clone, Debug)]
pub enum RuleModel {
    /// `Π rate · band / per` (or `· per / 1000`).
    PerCapita {
        /// Index into [`Model::bands`].
        band: usize,
        /// Rate factors by row: `rate[factor * rows + row]`.
        rate: Vec<Slot>,
        /// Number of factors.
        factors: usize,
        /// Per by row.
        per: Vec<Slot>,
        /// `per` is units per 1,000 residents.
        per_1000: bool,
        /// Rows where a rate or per slot changes (the coefficient is recomputed there).
        changes: Vec<bool>,
    },
    /// Streets/towns, from a row on.
    AdminUnits {
        /// First row it applies.
        from_row: usize,
    },
    /// ⌈share · streets⌉, from a row on.
    CoverageShare {
        /// The share.
        share: Slot,
        /// First row it applies.
        from_row: usize,
    },
    /// A constant from a row on.
    FixedMin {
        /// The value.
        value: Slot,
        /// First row it applies.
        from_row: usize,
    },
    /// Source demand ÷ per.
    Derived {
        /// Source resource.
        of: usize,
        /// Per by row.
        per: Vec<Slot>,
    },
}

/// Capacity of one town × resource, compiled.
#[derive(Clone, Debug)]
pub struct CapacityModel {
    /// The base or a project has a random amount or delay: recomputed in every draw (the
    /// others are computed once per workspace).
    pub random: bool,
    /// Base capacity.
    pub base: Slot,
    /// Projects and closures.
    pub projects: Vec<ProjectModel>,
}

/// A project, compiled.
#[derive(Clone, Debug)]
pub struct ProjectModel {
    /// Amount added (or removed).
    pub amount: Slot,
    /// Planned opening row (may lie outside 0 … rows−1).
    pub row: i64,
    /// Delay in years.
    pub delay: Slot,
    /// +1 for projects, −1 for closures.
    pub sign: f64,
}

/// An output age group.
#[derive(Clone, Debug, PartialEq)]
pub struct AgeGroup {
    /// Label (`0-4`, `100+`, `60+`).
    pub label: String,
    /// First age.
    pub lo: usize,
    /// Last age (100 = 100+).
    pub hi: usize,
}

/// One draw's results: the arrays the tables and charts are made from.
#[derive(Clone, Debug, Default)]
pub struct DrawOutput {
    /// Population `[area][row]` (area = town, then "all").
    pub population: Vec<f64>,
    /// Population by group `[area][row][sex][group]`.
    pub groups: Vec<f64>,
    /// Demand `[area][resource][row]`.
    pub demand: Vec<f64>,
    /// Capacity `[area][resource][row]`.
    pub capacity: Vec<f64>,
    /// Births `[area][step]` (calendar year = row step + 1).
    pub births: Vec<f64>,
    /// Deaths `[area][step]`.
    pub deaths: Vec<f64>,
    /// Realised net migration `[area][step]`.
    pub migration: Vec<f64>,
}

/// Buffers for one draw, allocated once per thread.
#[derive(Clone, Debug)]
pub struct Workspace {
    pub(crate) m0: Vec<[[f64; AGES]; 2]>,
    pub(crate) surv: Vec<[[f64; AGES]; 2]>,
    /// 1 − `surv`: the probability of dying over the step.
    pub(crate) dead: Vec<[[f64; AGES]; 2]>,
    pub(crate) half0: Vec<[f64; 2]>,
    pub(crate) g: Vec<[f64; FERTILE_AGES]>,
    pub(crate) h: Vec<[[f64; AGES]; 2]>,
    pub(crate) pop: Vec<[[f64; AGES]; 2]>,
    pub(crate) next: Vec<[[f64; AGES]; 2]>,
    pub(crate) tfr: Vec<f64>,
    pub(crate) total: Vec<f64>,
    /// Population of each demand band, `[town][band][row]`.
    pub(crate) band_rows: Vec<f64>,
    /// One rule's demand per resident by row (or a derived rule's source demand).
    pub(crate) coef_rows: Vec<f64>,
    /// The last draw's results. Read-only between draws: capacities with no random input
    /// are computed once per workspace and kept here, not recomputed by each draw.
    pub out: DrawOutput,
}

impl Workspace {
    fn new(m: &Model) -> Workspace {
        let nt = m.towns.len();
        let a = m.areas();
        let nr = m.resources.len();
        Workspace {
            m0: vec![[[0.0; AGES]; 2]; m.mortality.len()],
            surv: vec![[[0.0; AGES]; 2]; m.mortality.len()],
            dead: vec![[[0.0; AGES]; 2]; m.mortality.len()],
            half0: vec![[0.0; 2]; m.mortality.len()],
            g: vec![[0.0; FERTILE_AGES]; nt],
            h: vec![[[0.0; AGES]; 2]; nt],
            pop: vec![[[0.0; AGES]; 2]; nt],
            next: vec![[[0.0; AGES]; 2]; nt],
            tfr: vec![0.0; nt],
            total: vec![0.0; nt],
            band_rows: vec![0.0; nt * m.bands.len() * m.rows],
            coef_rows: vec![0.0; m.rows],
            out: DrawOutput {
                population: vec![0.0; a * m.rows],
                groups: vec![0.0; a * m.rows * 2 * m.groups.len()],
                demand: vec![0.0; a * nr * m.rows],
                capacity: vec![0.0; a * nr * m.rows],
                births: vec![0.0; a * m.steps()],
                deaths: vec![0.0; a * m.steps()],
                migration: vec![0.0; a * m.steps()],
            },
        }
    }
}

/// Fills `values` and `shocks` for draw `draw` from the per-variable streams (MODEL §7).
/// `values` and `shocks` must have the model's lengths; nothing is allocated.
pub fn sample_draw(model: &Model, seed: u64, draw: u64, values: &mut [f64], shocks: &mut [f64]) {
    values.copy_from_slice(&model.central);
    for input in &model.inputs {
        let mut rng = crate::rng::stream(seed, draw, input.stream);
        let u = crate::rng::open_uniform(&mut rng);
        values[input.slot as usize] = input.value(u);
    }
    let steps = model.steps();
    for (s, &id) in model.shock_streams.iter().enumerate() {
        let mut rng = crate::rng::stream(seed, draw, id);
        for x in &mut shocks[s * steps..(s + 1) * steps] {
            *x = crate::scenario::dist::inverse_normal_cdf(crate::rng::open_uniform(&mut rng));
        }
    }
}

impl Model {
    /// The values of the central variant (MODEL §2): every input at its central value.
    pub fn central_values(&self) -> Vec<f64> {
        self.central.clone()
    }

    /// Which capacities equal the year before's in every draw, `[area][resource][row]` as in
    /// [`DrawOutput`] (row 0 never): the rows in which no project or closure can open. A
    /// capacity is its base plus the amounts of the projects open, added in project order, so
    /// where no project's opening can fall in a row, the row repeats the one before to the bit
    /// whatever the amounts. Openings are bounded from the delays: a fixed delay opens in one
    /// row; a random one from the planned row (delays are floored at 0) to the row its largest
    /// value gives (unbounded distributions reach every later row). Conservative, like
    /// [`Model::fixed_demand_capacity`].
    pub fn capacity_repeats(&self) -> Vec<bool> {
        let (nt, nr, rows) = (self.towns.len(), self.resources.len(), self.rows);
        let clamp = |row: i64| row.clamp(0, rows as i64) as usize;
        let mut repeats = vec![false; self.areas() * nr * rows];
        for (tr, c) in self.capacity.iter().enumerate() {
            let mut opens = vec![false; rows + 1];
            for p in &c.projects {
                let (first, last) = match self.inputs.iter().find(|i| i.slot == p.delay) {
                    None => {
                        let row = clamp(opening_row(p.row, self.central[p.delay as usize]));
                        (row, row)
                    }
                    Some(input) => {
                        let high = input.dist.support().1;
                        // A few units in the last place more: the quantile function may round
                        // up to (or a hair past) the support's end.
                        let high = high + high.abs() * 1e-9 + 1e-9;
                        let high = match input.clip {
                            Some([lo, hi]) => high.max(lo).min(hi),
                            None => high,
                        };
                        let last = if high.is_finite() { opening_row(p.row, high) } else { i64::MAX };
                        (clamp(p.row), clamp(last))
                    }
                };
                opens[first..=last].fill(true);
            }
            for row in 1..rows {
                repeats[tr * rows + row] = !opens[row];
            }
        }
        // "All" is the sum over the towns: it repeats where every town's does.
        for at in 0..nr * rows {
            repeats[nt * nr * rows + at] = (0..nt).all(|i| repeats[i * nr * rows + at]);
        }
        repeats
    }

    /// Which demand and capacity results are the same in every draw, each `[area][resource][row]`
    /// as in [`DrawOutput`]: those computed only from slots that are not random inputs, never
    /// from the population. A conservative answer (a result marked `false` may still happen to
    /// be constant), so that aggregation can take these series' values once instead of in
    /// every draw without ever being wrong. What makes it sound: slots other than the random
    /// inputs hold their central values in every draw ([`sample_draw`]), and the rules below
    /// read nothing else.
    pub fn fixed_demand_capacity(&self) -> (Vec<bool>, Vec<bool>) {
        let (nt, nr, rows) = (self.towns.len(), self.resources.len(), self.rows);
        let mut random = vec![false; self.central.len()];
        for input in &self.inputs {
            random[input.slot as usize] = true;
        }
        let fixed = |s: Slot| !random[s as usize];
        let mut demand = vec![false; self.areas() * nr * rows];
        for &r in &self.resource_order {
            for (i, rule) in self.resources[r].rules.iter().enumerate() {
                for row in 0..rows {
                    demand[(i * nr + r) * rows + row] = match rule {
                        // Population varies.
                        RuleModel::PerCapita { .. } => false,
                        // Streets by year are numbers of the scenario, not slots.
                        RuleModel::AdminUnits { .. } => true,
                        RuleModel::CoverageShare { share, from_row } => row < *from_row || fixed(*share),
                        RuleModel::FixedMin { value, from_row } => row < *from_row || fixed(*value),
                        // The source comes first in `resource_order`, so its answer is known.
                        RuleModel::Derived { of, per } => demand[(i * nr + of) * rows + row] && fixed(per[row]),
                    };
                }
            }
        }
        let mut capacity = vec![false; self.areas() * nr * rows];
        for (tr, c) in self.capacity.iter().enumerate() {
            // Fixed before the first row a random amount or delay can reach: a project is
            // counted from its opening row on, and opens at its planned row or later (delays
            // are floored at 0), or at the one row a fixed delay gives.
            let from = if fixed(c.base) {
                let random = c.projects.iter().filter(|p| !fixed(p.amount) || !fixed(p.delay));
                let open = |p: &ProjectModel| {
                    let row = if fixed(p.delay) { opening_row(p.row, self.central[p.delay as usize]) } else { p.row };
                    row.clamp(0, rows as i64) as usize
                };
                random.map(open).min().unwrap_or(rows)
            } else {
                0
            };
            capacity[tr * rows..tr * rows + from].fill(true);
        }
        // "All" is the sum over the towns: fixed where every town's is.
        for v in [&mut demand, &mut capacity] {
            for at in 0..nr * rows {
                v[nt * nr * rows + at] = (0..nt).all(|i| v[i * nr * rows + at]);
            }
        }
        (demand, capacity)
    }
}
