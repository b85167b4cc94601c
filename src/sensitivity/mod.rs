//! Sensitivity analysis: which assumptions drive a shortfall ([`sobol`], [`morris`]) and how
//! far one must move before the answer changes ([`sweep`]).
//!
//! **Inputs** of the global methods are the scenario's random variables, each named by its
//! path; variables that share a `key` are one input, `key:<name>`, because they are drawn from
//! one uniform (comonotone, MODEL §7) and cannot be moved apart. The yearly shocks are one input
//! per process — `shocks:mortality` (ε_k), `shocks:fertility` (ε_F), `shocks:migration` (Z and
//! every town's Z_i) — and a process whose scale σ is fixed at 0 is left out, since its shocks
//! cannot change anything. Every input is a uniform `u` in (0, 1): a variable takes the value
//! `Q(u)` of its distribution (clip included) exactly as in a Monte Carlo draw; a shock group's
//! `u` is a **seed** for its whole series vector — the series are drawn from the streams keyed
//! by `(seed, bits of u, series id)` — so the group's index measures how much the output
//! changes when the whole shock path is redrawn. Everything not an input stays at its central
//! value. One model run is one [`engine::simulate_draw`] with these supplied inputs.
//!
//! **Outputs** per town and for `all`: `population_end` (the end-year population),
//! `gap_end:<resource>` (max(0, demand − capacity) in the end year) and
//! `first_year:<resource>` (the first year demand exceeds capacity, censored at end year + 1).

pub mod morris;
pub mod sobol;
pub mod sweep;

use std::fmt::Write;
use std::sync::atomic::{AtomicUsize, Ordering};

use rayon::prelude::*;
use serde::Serialize;

use crate::engine::{self, Model, NonFinite, SHOCK_FERTILITY, SHOCK_MIGRATION_CITY, SHOCK_MORTALITY};
use crate::report::tables::{area_id, fixed};
use crate::scenario::dist::inverse_normal_cdf;
use crate::{Error, Result, rng};

/// What an input moves.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum InputKind {
    /// Random variables of the model (indices into `model.inputs`): one, or all those sharing
    /// a key.
    Variables {
        /// Indices into [`Model::inputs`].
        members: Vec<usize>,
    },
    /// A group of shock series (indices into the shock array's series).
    Shocks {
        /// Series indices.
        series: Vec<usize>,
    },
}

/// One input of a sensitivity analysis.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Input {
    /// Its name in `indices.csv`: a path, `key:<name>` or `shocks:<process>`.
    pub name: String,
    /// What it moves.
    #[serde(flatten)]
    pub kind: InputKind,
}

/// The inputs of `model`, in a fixed order: the random variables in scenario order (a key at
/// its first member), then the shock groups.
pub fn inputs(model: &Model) -> Vec<Input> {
    let mut out: Vec<Input> = Vec::new();
    for (i, ri) in model.inputs.iter().enumerate() {
        match ri.key {
            Some(key) => {
                let name = format!("key:{}", model.keys[key]);
                match out.iter_mut().find(|x| x.name == name) {
                    Some(Input { kind: InputKind::Variables { members }, .. }) => members.push(i),
                    _ => out.push(Input { name, kind: InputKind::Variables { members: vec![i] } }),
                }
            }
            None => out.push(Input { name: ri.path.clone(), kind: InputKind::Variables { members: vec![i] } }),
        }
    }
    let random_slots: Vec<u32> = model.inputs.iter().map(|i| i.slot).collect();
    // A shock process matters only if its scale can be non-zero.
    let active = |slot: u32| random_slots.contains(&slot) || model.central[slot as usize] != 0.0;
    if active(model.sigma_k) {
        out.push(Input { name: "shocks:mortality".into(), kind: InputKind::Shocks { series: vec![SHOCK_MORTALITY] } });
    }
    if model.towns.iter().any(|t| active(t.sigma_f)) {
        out.push(Input { name: "shocks:fertility".into(), kind: InputKind::Shocks { series: vec![SHOCK_FERTILITY] } });
    }
    if model.towns.iter().any(|t| active(t.sigma_m)) {
        let series = (SHOCK_MIGRATION_CITY..model.shock_names.len()).collect();
        out.push(Input { name: "shocks:migration".into(), kind: InputKind::Shocks { series } });
    }
    out
}

/// One output of a sensitivity analysis.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Output {
    /// Area: a town index, or `towns.len()` for "all".
    pub area: usize,
    /// The town id or `all`.
    pub town: String,
    /// `population_end`, `gap_end:<resource>` or `first_year:<resource>`.
    pub name: String,
}

/// The outputs of `model`: for each town and then `all`, `population_end` and for each
/// resource `gap_end:<resource>` and `first_year:<resource>`.
pub fn outputs(model: &Model) -> Vec<Output> {
    let mut out = Vec::new();
    for a in 0..model.areas() {
        let town = area_id(model, a).to_string();
        out.push(Output { area: a, town: town.clone(), name: "population_end".into() });
        for r in &model.resources {
            out.push(Output { area: a, town: town.clone(), name: format!("gap_end:{}", r.id) });
            out.push(Output { area: a, town: town.clone(), name: format!("first_year:{}", r.id) });
        }
    }
    out
}

/// Fills `values` and `shocks` for one sample row of uniforms (one per input).
pub fn fill_inputs(model: &Model, inputs: &[Input], row: &[f64], seed: u64, values: &mut [f64], shocks: &mut [f64]) {
    values.copy_from_slice(&model.central);
    shocks.fill(0.0);
    let steps = model.steps();
    for (input, &u) in inputs.iter().zip(row) {
        match &input.kind {
            InputKind::Variables { members } => {
                for &i in members {
                    let ri = &model.inputs[i];
                    values[ri.slot as usize] = ri.value(u);
                }
            }
            InputKind::Shocks { series } => {
                for &s in series {
                    let mut g = rng::stream(seed, u.to_bits(), model.shock_streams[s]);
                    for x in &mut shocks[s * steps..(s + 1) * steps] {
                        *x = inverse_normal_cdf(rng::open_uniform(&mut g));
                    }
                }
            }
        }
    }
}

/// Reads the outputs (in [`outputs`] order) of the draw in `out`.
pub fn read_outputs(model: &Model, out: &engine::DrawOutput, dest: &mut [f64]) {
    let rows = model.rows;
    let nr = model.resources.len();
    let last = rows - 1;
    let none = f64::from(model.year(last) + 1);
    let mut o = 0;
    for a in 0..model.areas() {
        dest[o] = out.population[a * rows + last];
        o += 1;
        for r in 0..nr {
            let base = (a * nr + r) * rows;
            dest[o] = (out.demand[base + last] - out.capacity[base + last]).max(0.0);
            let first = (0..rows).find(|&row| out.demand[base + row] > out.capacity[base + row]);
            dest[o + 1] = first.map_or(none, |row| f64::from(model.year(row)));
            o += 2;
        }
    }
}

/// Runs the model once per row of `design` (`runs × inputs.len()` uniforms) in parallel on
/// `threads` workers (0 = all cores) and returns the outputs, `runs × outputs(model).len()`,
/// row-major. The result depends only on the design and the seed, never on the threads.
pub fn evaluate(model: &Model, inputs: &[Input], design: &[f64], seed: u64, threads: usize) -> Result<Vec<f64>> {
    let k = inputs.len();
    let runs = design.len().checked_div(k).unwrap_or(0);
    let n_out = outputs(model).len();
    let mut y = vec![0.0; runs * n_out];
    const CHUNK: usize = 16;
    let first_failure = AtomicUsize::new(usize::MAX);
    let failures: std::sync::Mutex<Vec<(usize, NonFinite)>> = std::sync::Mutex::new(Vec::new());
    let pool = crate::runner::pool(threads)?;
    pool.install(|| {
        y.par_chunks_mut(n_out * CHUNK).enumerate().for_each_init(
            || (model.workspace(), model.central_values(), vec![0.0; model.shock_len()]),
            |(ws, values, shocks), (c, chunk)| {
                let start = c * CHUNK;
                // Chunks after a known failure are skipped; chunks before it still run, so the
                // failure reported is always the earliest run's, whatever the timing.
                if start > first_failure.load(Ordering::Relaxed) {
                    return;
                }
                for (m, dest) in chunk.chunks_mut(n_out).enumerate() {
                    let run = start + m;
                    fill_inputs(model, inputs, &design[run * k..(run + 1) * k], seed, values, shocks);
                    if let Err(e) = engine::simulate_draw(model, values, shocks, ws) {
                        first_failure.fetch_min(run, Ordering::Relaxed);
                        failures.lock().unwrap_or_else(|p| p.into_inner()).push((run, e));
                        return;
                    }
                    read_outputs(model, &ws.out, dest);
                }
            },
        );
    });
    let mut failures = failures.into_inner().unwrap_or_else(|p| p.into_inner());
    failures.sort_by_key(|f| f.0);
    if let Some((run, e)) = failures.into_iter().next() {
        let row = &design[run * k..(run + 1) * k];
        let at: Vec<String> = inputs.iter().zip(row).map(|(i, u)| format!("{} at u = {u:.4}", i.name)).collect();
        let feeds: Vec<String> =
            e.inputs.iter().map(|(p, v)| format!("{p} = {}", crate::scenario::dist::fmt_g(*v))).collect();
        return Err(Error::Numerical(format!(
            "{} became NaN, infinite or beyond 1e15 in sensitivity run {run} ({}); the inputs that feed it were: {}. \
             Check these distributions in the scenario.",
            e.what,
            at.join(", "),
            if feeds.is_empty() { "(none identified)".to_string() } else { feeds.join(", ") }
        )));
    }
    Ok(y)
}

/// The column of output `o` from a run-major output matrix.
pub fn column(y: &[f64], n_out: usize, o: usize) -> Vec<f64> {
    y.iter().skip(o).step_by(n_out).copied().collect()
}

/// The method of a sensitivity analysis.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// Sobol' indices with Saltelli's design.
    Sobol,
    /// Morris elementary effects.
    Morris,
}

/// The indices of one (output, input).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Index {
    /// Sobol' (None when the output does not vary).
    Sobol(Option<sobol::SobolIndex>),
    /// Morris.
    Morris(morris::MorrisIndex),
}

/// A finished analysis.
#[derive(Clone, Debug)]
pub struct Analysis {
    /// The method.
    pub method: Method,
    /// The inputs.
    pub inputs: Vec<Input>,
    /// The outputs.
    pub outputs: Vec<Output>,
    /// `indices[output * inputs + input]`.
    pub indices: Vec<Index>,
    /// The sample matrix in u-space (`runs × inputs`).
    pub design: Vec<f64>,
    /// The run outputs (`runs × outputs`).
    pub y: Vec<f64>,
    /// Whether the Sobol' sequence was used (false: pseudo-random base matrices).
    pub quasi_random: bool,
}

/// Settings of an analysis.
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    /// Sobol or Morris.
    pub method: Method,
    /// N (Sobol: base sample, a power of two) or r (Morris: trajectories).
    pub samples: usize,
    /// Morris grid levels.
    pub levels: usize,
    /// Seed of the sample matrix, the shock series and the bootstrap.
    pub seed: u64,
    /// Worker threads (0 = all cores).
    pub threads: usize,
    /// Bootstrap resamples (Sobol).
    pub resamples: usize,
}

/// Most memory an analysis may hold for its sample matrix and run outputs.
pub const MAX_BYTES: f64 = 4e9;

/// Model runs an analysis of `k` inputs needs.
pub fn runs_needed(settings: &Settings, k: usize) -> usize {
    match settings.method {
        Method::Sobol => settings.samples.saturating_mul(k + 2),
        Method::Morris => settings.samples.saturating_mul(k + 1),
    }
}

/// Checks the settings (the CLI's argument errors, exit code 2).
pub fn check(settings: &Settings) -> Result<()> {
    match settings.method {
        Method::Sobol => {
            let n = settings.samples;
            if n < 4 || !n.is_power_of_two() || n > (1 << 30) {
                let lower = if n < 4 { 4 } else { (1usize << (usize::BITS - 1 - n.leading_zeros())).min(1 << 29) };
                return Err(Error::Input(format!(
                    "--samples {n}: Sobol' analysis needs a base sample N that is a power of two between 4 and 2^30 \
                     (the Sobol' points are balanced only then), e.g. {lower} or {}",
                    (lower * 2).max(8)
                )));
            }
        }
        Method::Morris => {
            if settings.samples < 2 {
                return Err(Error::Input(format!(
                    "--samples {}: Morris needs at least 2 trajectories (σ needs two effects per input); 20–50 is usual",
                    settings.samples
                )));
            }
            if settings.levels < 2 || settings.levels % 2 == 1 || settings.levels > 100 {
                return Err(Error::Input(format!(
                    "--levels {}: Morris needs an even number of grid levels between 2 and 100 (only then does the \
                     step Δ = p/(2(p−1)) land on the grid); 4 is usual",
                    settings.levels
                )));
            }
        }
    }
    Ok(())
}

/// Runs a whole analysis: design, model runs, indices.
pub fn analyse(model: &Model, settings: &Settings) -> Result<Analysis> {
    check(settings)?;
    let inputs = inputs(model);
    let k = inputs.len();
    if k == 0 {
        return Err(Error::Input(
            "the scenario has no random inputs (every number is fixed and every shock scale is 0): \
             there is nothing to attribute; write a distribution for the assumptions to test, or use `capsim sweep`"
                .into(),
        ));
    }
    let outputs = outputs(model);
    let n_out = outputs.len();
    // The sample matrix and every run's outputs are kept (for the estimators and the export).
    let runs = runs_needed(settings, k);
    let bytes = (runs as f64) * ((k + n_out) as f64) * 8.0;
    if bytes > MAX_BYTES {
        return Err(Error::Input(format!(
            "{runs} model runs × {} numbers each would need {:.1} GB of memory (at most {:.0} GB); use a smaller --samples",
            k + n_out,
            bytes / 1e9,
            MAX_BYTES / 1e9
        )));
    }
    let (design, quasi_random, morris_design) = match settings.method {
        Method::Sobol => {
            let (a, b, q) = sobol::base_matrices(settings.samples, k, settings.seed);
            (sobol::saltelli_design(&a, &b, settings.samples, k), q, None)
        }
        Method::Morris => {
            let d = morris::design(k, settings.samples, settings.levels, settings.seed);
            (d.u.clone(), false, Some(d))
        }
    };
    let y = evaluate(model, &inputs, &design, settings.seed, settings.threads)?;
    let pool = crate::runner::pool(settings.threads)?;
    let per_output: Vec<Vec<Index>> = pool.install(|| {
        (0..n_out)
            .into_par_iter()
            .map(|o| {
                let col = column(&y, n_out, o);
                match &morris_design {
                    Some(d) => morris::effects(d, &col).into_iter().map(Index::Morris).collect(),
                    None => {
                        // Each output's resamples come from its own stream: thread-independent.
                        let boot_seed = rng::splitmix64(settings.seed ^ (o as u64).wrapping_mul(0x9e37_79b9));
                        match sobol::estimate(&col, settings.samples, k, settings.resamples, boot_seed) {
                            Some(v) => v.into_iter().map(|s| Index::Sobol(Some(s))).collect(),
                            None => vec![Index::Sobol(None); k],
                        }
                    }
                }
            })
            .collect()
    });
    Ok(Analysis {
        method: settings.method,
        inputs,
        outputs,
        indices: per_output.into_iter().flatten().collect(),
        design,
        y,
        quasi_random,
    })
}

/// Decimals of indices in `indices.csv`.
const DP_INDEX: usize = 4;

impl Analysis {
    /// The index of output `o`, input `i`.
    pub fn index(&self, o: usize, i: usize) -> Index {
        self.indices[o * self.inputs.len() + i]
    }

    /// `indices.csv`: `method,town,output,input,S1,S1_conf,ST,ST_conf` (Sobol; `NA` where the
    /// output does not vary over the base matrices, or an interval could not be estimated) or `method,town,output,input,mu_star,sigma,mu` (Morris).
    pub fn indices_csv(&self) -> String {
        let mut out = match self.method {
            Method::Sobol => String::from("method,town,output,input,S1,S1_conf,ST,ST_conf\n"),
            Method::Morris => String::from("method,town,output,input,mu_star,sigma,mu\n"),
        };
        for (o, output) in self.outputs.iter().enumerate() {
            for (i, input) in self.inputs.iter().enumerate() {
                let cells = match self.index(o, i) {
                    Index::Sobol(Some(s)) => [s.s1, s.s1_conf, s.st, s.st_conf]
                        .iter()
                        .map(|v| if v.is_finite() { fixed(*v, DP_INDEX) } else { "NA".into() })
                        .collect::<Vec<_>>()
                        .join(","),
                    Index::Sobol(None) => "NA,NA,NA,NA".into(),
                    Index::Morris(m) => {
                        format!("{},{},{}", fixed(m.mu_star, DP_INDEX), fixed(m.sigma, DP_INDEX), fixed(m.mu, DP_INDEX))
                    }
                };
                let method = match self.method {
                    Method::Sobol => "sobol",
                    Method::Morris => "morris",
                };
                let _ = writeln!(out, "{method},{},{},{},{cells}", output.town, output.name, input.name);
            }
        }
        out
    }

    /// `samples_inputs.csv`: one row per model run, one column per input (u-values, full
    /// precision), in run order (SALib's order for the method).
    pub fn samples_inputs_csv(&self) -> String {
        let k = self.inputs.len();
        let mut out = self.inputs.iter().map(|i| i.name.as_str()).collect::<Vec<_>>().join(",");
        out.push('\n');
        for row in self.design.chunks(k) {
            out.push_str(&row.iter().map(|u| format!("{u:?}")).collect::<Vec<_>>().join(","));
            out.push('\n');
        }
        out
    }

    /// `samples_outputs.csv`: one row per model run, one column per output named
    /// `<town>/<output>` (full precision).
    pub fn samples_outputs_csv(&self) -> String {
        let n_out = self.outputs.len();
        let mut out = self.outputs.iter().map(|o| format!("{}/{}", o.town, o.name)).collect::<Vec<_>>().join(",");
        out.push('\n');
        for row in self.y.chunks(n_out) {
            out.push_str(&row.iter().map(|v| format!("{v:?}")).collect::<Vec<_>>().join(","));
            out.push('\n');
        }
        out
    }

    /// Total indices whose 95 % interval is wider than `width` (full width, 2 × conf):
    /// `(town, output, input, ST, ST_conf)`, widest first.
    pub fn wide_total_intervals(&self, width: f64) -> Vec<(String, String, String, f64, f64)> {
        let mut v = Vec::new();
        for (o, output) in self.outputs.iter().enumerate() {
            for (i, input) in self.inputs.iter().enumerate() {
                if let Index::Sobol(Some(s)) = self.index(o, i)
                    && 2.0 * s.st_conf > width
                {
                    v.push((output.town.clone(), output.name.clone(), input.name.clone(), s.st, s.st_conf));
                }
            }
        }
        v.sort_by(|a, b| b.4.total_cmp(&a.4));
        v
    }

    /// The ranking measure of an (output, input): ST for Sobol, μ* for Morris (NaN when
    /// undefined).
    pub fn rank_value(&self, o: usize, i: usize) -> f64 {
        match self.index(o, i) {
            Index::Sobol(Some(s)) => s.st,
            Index::Sobol(None) => f64::NAN,
            Index::Morris(m) => m.mu_star,
        }
    }

    /// Inputs of output `o` ranked by [`Analysis::rank_value`], largest first.
    pub fn ranked(&self, o: usize) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.inputs.len()).collect();
        order.sort_by(|&a, &b| self.rank_value(o, b).total_cmp(&self.rank_value(o, a)).then(a.cmp(&b)));
        order
    }
}

/// A description of an input for run.json: its name, kind and the paths it moves.
#[derive(Clone, Debug, Serialize)]
pub struct InputRecord {
    /// Name in `indices.csv`.
    pub name: String,
    /// `variable`, `key` or `shocks`.
    pub kind: &'static str,
    /// Paths (variables) or series names (shocks) it moves.
    pub moves: Vec<String>,
    /// The distributions, as written.
    pub distributions: Vec<String>,
}

/// run.json's description of every input.
pub fn input_records(model: &Model, inputs: &[Input]) -> Vec<InputRecord> {
    inputs
        .iter()
        .map(|i| match &i.kind {
            InputKind::Variables { members } => InputRecord {
                name: i.name.clone(),
                kind: if i.name.starts_with("key:") { "key" } else { "variable" },
                moves: members.iter().map(|&m| model.inputs[m].path.clone()).collect(),
                distributions: members.iter().map(|&m| model.inputs[m].dist.describe()).collect(),
            },
            InputKind::Shocks { series } => InputRecord {
                name: i.name.clone(),
                kind: "shocks",
                moves: series.iter().map(|&s| model.shock_names[s].clone()).collect(),
                distributions: vec!["standard normal, one per year".into()],
            },
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example() -> Model {
        let s = crate::scenario::load(
            &std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios/example.toml"),
            &[],
        )
        .unwrap();
        engine::compile(&s)
    }

    #[test]
    fn keys_are_one_input_and_shock_groups_follow() {
        let m = example();
        let ins = inputs(&m);
        let names: Vec<&str> = ins.iter().map(|i| i.name.as_str()).collect();
        assert!(names.contains(&"key:policy"), "{names:?}");
        assert!(names.contains(&"key:family_policy"));
        assert!(!names.iter().any(|n| n.starts_with("towns.") && n.contains(".migration.k")), "{names:?}");
        let policy = ins.iter().find(|i| i.name == "key:policy").unwrap();
        let InputKind::Variables { members } = &policy.kind else { panic!() };
        assert_eq!(members.len(), 6, "north 2021 + 2026, south, east, west, lake");
        assert_eq!(&names[names.len() - 3..], &["shocks:mortality", "shocks:fertility", "shocks:migration"]);
        // Every random variable is moved by exactly one input.
        let mut moved: Vec<usize> = ins
            .iter()
            .filter_map(|i| match &i.kind {
                InputKind::Variables { members } => Some(members.clone()),
                _ => None,
            })
            .flatten()
            .collect();
        moved.sort();
        assert_eq!(moved, (0..m.inputs.len()).collect::<Vec<_>>());
    }

    #[test]
    fn filled_inputs_match_a_monte_carlo_draw_for_the_same_uniforms() {
        // The sampler of `capsim run` and fill_inputs agree: same uniform → same value.
        let m = example();
        let ins = inputs(&m);
        let row: Vec<f64> = (0..ins.len()).map(|i| (i as f64 + 0.5) / ins.len() as f64).collect();
        let mut values = m.central_values();
        let mut shocks = vec![0.0; m.shock_len()];
        fill_inputs(&m, &ins, &row, 1, &mut values, &mut shocks);
        for (input, &u) in ins.iter().zip(&row) {
            if let InputKind::Variables { members } = &input.kind {
                for &i in members {
                    let ri = &m.inputs[i];
                    assert_eq!(
                        values[ri.slot as usize],
                        ri.dist.quantile(u).clamp(
                            ri.clip.map_or(f64::NEG_INFINITY, |c| c[0]),
                            ri.clip.map_or(f64::INFINITY, |c| c[1])
                        )
                    );
                }
            }
        }
        assert!(shocks.iter().all(|x| x.is_finite()) && shocks.iter().any(|&x| x != 0.0));
        let mut again = vec![0.0; m.shock_len()];
        fill_inputs(&m, &ins, &row, 1, &mut values, &mut again);
        assert_eq!(shocks, again, "a shock group's series is a function of its u");
    }

    #[test]
    fn outputs_are_read_as_defined() {
        let m = example();
        let out = crate::runner::central(&m).unwrap();
        let mut dest = vec![0.0; outputs(&m).len()];
        read_outputs(&m, &out, &mut dest);
        let names = outputs(&m);
        let rows = m.rows;
        let nr = m.resources.len();
        assert_eq!(names[0].name, "population_end");
        assert_eq!(dest[0], out.population[rows - 1]);
        let beds = m.resources.iter().position(|r| r.id == "hospital_beds").unwrap();
        let o = names.iter().position(|x| x.town == "north" && x.name == "first_year:hospital_beds").unwrap();
        let base = beds * rows;
        let expected = (0..rows)
            .find(|&r| out.demand[base + r] > out.capacity[base + r])
            .map_or(f64::from(m.year(rows - 1) + 1), |r| f64::from(m.year(r)));
        assert_eq!(dest[o], expected);
        let g = names.iter().position(|x| x.town == "all" && x.name == "gap_end:hospital_beds").unwrap();
        let all = m.towns.len();
        let i = (all * nr + beds) * rows + rows - 1;
        assert_eq!(dest[g], (out.demand[i] - out.capacity[i]).max(0.0));
    }

    #[test]
    fn evaluation_does_not_depend_on_threads() {
        let m = example();
        let ins = inputs(&m);
        let k = ins.len();
        let (a, b, _) = sobol::base_matrices(4, k, 3);
        let design = sobol::saltelli_design(&a, &b, 4, k);
        let one = evaluate(&m, &ins, &design, 3, 1).unwrap();
        let two = evaluate(&m, &ins, &design, 3, 2).unwrap();
        assert_eq!(one, two);
    }

    #[test]
    fn sample_sizes_are_checked() {
        let s = |method, samples| Settings { method, samples, levels: 4, seed: 1, threads: 1, resamples: 10 };
        assert!(check(&s(Method::Sobol, 1000)).unwrap_err().to_string().contains("e.g. 512 or 1024"));
        assert!(check(&s(Method::Sobol, 2)).unwrap_err().to_string().contains("e.g. 4 or 8"));
        assert!(check(&s(Method::Sobol, 1 << 31)).unwrap_err().to_string().contains("e.g. 536870912 or 1073741824"));
        assert!(check(&s(Method::Sobol, 1024)).is_ok());
        assert!(check(&s(Method::Morris, 1)).is_err());
        assert!(check(&s(Method::Morris, 10)).is_ok());
        let odd = Settings { levels: 5, ..s(Method::Morris, 10) };
        assert!(check(&odd).unwrap_err().to_string().contains("even number of grid levels"));
    }
}
