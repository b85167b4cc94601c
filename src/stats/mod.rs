//! Streaming, mergeable aggregation of draws (MODEL §6): a [`Sketch`] per series, shortfall
//! counts and first-shortfall-year histograms. Memory depends on the scenario, not on the
//! number of draws; partial aggregates of disjoint draw sets merge into exactly the one-run
//! aggregate, which is what makes threads and shards byte-identical.

pub mod sketch;

use serde::{Deserialize, Serialize};

pub use sketch::{Level, Sketch};

use crate::engine::{DrawOutput, Model};

/// Everything the tables and charts are computed from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Aggregate {
    /// Draws aggregated.
    pub draws: u64,
    /// Population `[area][row]`.
    pub population: Vec<Sketch>,
    /// Population by group `[area][row][sex][group]`.
    pub groups: Vec<Sketch>,
    /// Demand `[area][resource][row]`.
    pub demand: Vec<Sketch>,
    /// Capacity `[area][resource][row]`.
    pub capacity: Vec<Sketch>,
    /// Gap max(0, D − C) `[area][resource][row]`.
    pub gap: Vec<Sketch>,
    /// Draws with D > C `[area][resource][row]`.
    pub shortfall: Vec<u64>,
    /// Draws whose first shortfall is in each row `[area][resource][row]`, then "none" at
    /// index `rows` of each block of `rows + 1`.
    pub first: Vec<u64>,
    /// Births `[area][step]`.
    pub births: Vec<Sketch>,
    /// Deaths `[area][step]`.
    pub deaths: Vec<Sketch>,
    /// Realised migration `[area][step]`.
    pub migration: Vec<Sketch>,
}

impl Aggregate {
    /// An empty aggregate shaped for `model`.
    pub fn new(model: &Model) -> Aggregate {
        let a = model.areas();
        let nr = model.resources.len();
        let rows = model.rows;
        let sk = |n: usize| vec![Sketch::default(); n];
        Aggregate {
            draws: 0,
            population: sk(a * rows),
            groups: sk(a * rows * 2 * model.groups.len()),
            demand: sk(a * nr * rows),
            capacity: sk(a * nr * rows),
            gap: sk(a * nr * rows),
            shortfall: vec![0; a * nr * rows],
            first: vec![0; a * nr * (rows + 1)],
            births: sk(a * model.steps()),
            deaths: sk(a * model.steps()),
            migration: sk(a * model.steps()),
        }
    }

    /// Adds one draw.
    pub fn add(&mut self, model: &Model, out: &DrawOutput) {
        self.draws += 1;
        add_all(&mut self.population, &out.population);
        add_all(&mut self.groups, &out.groups);
        add_all(&mut self.births, &out.births);
        add_all(&mut self.deaths, &out.deaths);
        add_all(&mut self.migration, &out.migration);
        let rows = model.rows;
        let series = self.demand.len() / rows;
        for s in 0..series {
            let mut first = rows;
            for row in 0..rows {
                let i = s * rows + row;
                let (d, c) = (out.demand[i], out.capacity[i]);
                self.demand[i].add(d);
                self.capacity[i].add(c);
                let short = d > c;
                self.gap[i].add(if short { d - c } else { 0.0 });
                if short {
                    self.shortfall[i] += 1;
                    if first == rows {
                        first = row;
                    }
                }
            }
            self.first[s * (rows + 1) + first] += 1;
        }
    }

    /// Merges another aggregate of the same model (exact and order-free).
    pub fn merge(&mut self, o: &Aggregate) {
        self.draws += o.draws;
        for (a, b) in [
            (&mut self.population, &o.population),
            (&mut self.groups, &o.groups),
            (&mut self.demand, &o.demand),
            (&mut self.capacity, &o.capacity),
            (&mut self.gap, &o.gap),
            (&mut self.births, &o.births),
            (&mut self.deaths, &o.deaths),
            (&mut self.migration, &o.migration),
        ] {
            for (x, y) in a.iter_mut().zip(b) {
                x.merge(y);
            }
        }
        for (x, y) in self.shortfall.iter_mut().zip(&o.shortfall) {
            *x += y;
        }
        for (x, y) in self.first.iter_mut().zip(&o.first) {
            *x += y;
        }
    }

    /// Whether the shapes match `model` and the counts agree (for partial results read back).
    pub fn fits(&self, model: &Model) -> bool {
        let shape = Aggregate::new(model);
        let same_len = self.population.len() == shape.population.len()
            && self.groups.len() == shape.groups.len()
            && self.demand.len() == shape.demand.len()
            && self.capacity.len() == shape.capacity.len()
            && self.gap.len() == shape.gap.len()
            && self.shortfall.len() == shape.shortfall.len()
            && self.first.len() == shape.first.len()
            && self.births.len() == shape.births.len()
            && self.deaths.len() == shape.deaths.len()
            && self.migration.len() == shape.migration.len();
        if !same_len {
            return false;
        }
        let sketches_ok = [
            &self.population,
            &self.groups,
            &self.demand,
            &self.capacity,
            &self.gap,
            &self.births,
            &self.deaths,
            &self.migration,
        ]
        .iter()
        .all(|v| v.iter().all(|s| s.count == self.draws && s.is_consistent()));
        let firsts_ok = self.first.chunks(model.rows + 1).all(|c| c.iter().sum::<u64>() == self.draws);
        let short_ok = self.shortfall.iter().all(|&c| c <= self.draws);
        sketches_ok && firsts_ok && short_ok
    }
}

fn add_all(sketches: &mut [Sketch], values: &[f64]) {
    for (s, v) in sketches.iter_mut().zip(values) {
        s.add(*v);
    }
}

/// P(first shortfall ≤ row) for each row of one series' first-year histogram.
pub fn first_cdf(first: &[u64], draws: u64) -> Vec<f64> {
    let mut acc = 0u64;
    first[..first.len() - 1]
        .iter()
        .map(|c| {
            acc += c;
            acc as f64 / draws as f64
        })
        .collect()
}

/// The first-shortfall row at a quantile level (MODEL §6: lowest row whose CDF ≥ q), or `None`
/// when that rank falls among the draws with no shortfall ("none" counts as later than T).
pub fn first_quantile(first: &[u64], draws: u64, level: Level) -> Option<usize> {
    let rank = level.rank(draws);
    let mut acc = 0u64;
    for (row, c) in first[..first.len() - 1].iter().enumerate() {
        acc += c;
        if acc >= rank {
            return Some(row);
        }
    }
    None
}
