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
        let sk = |n: usize| vec![Sketch::new(sketch::COARSE_BITS); n];
        // Whole-number series keep the finer buckets their whole-number quantiles need.
        let by_resource = |whole: &dyn Fn(usize) -> bool| -> Vec<Sketch> {
            (0..a * nr * rows)
                .map(|i| {
                    let r = (i / rows) % nr;
                    Sketch::new(if whole(r) { sketch::FINE_BITS } else { sketch::COARSE_BITS })
                })
                .collect()
        };
        let res = &model.resources;
        Aggregate {
            draws: 0,
            population: sk(a * rows),
            groups: sk(a * rows * 2 * model.groups.len()),
            demand: by_resource(&|r| res[r].integral),
            capacity: by_resource(&|r| res[r].capacity_integral),
            gap: by_resource(&|r| res[r].integral && res[r].capacity_integral),
            shortfall: vec![0; a * nr * rows],
            first: vec![0; a * nr * (rows + 1)],
            births: sk(a * model.steps()),
            deaths: sk(a * model.steps()),
            migration: sk(a * model.steps()),
        }
    }

    /// Adds the draws collected in a block (the same result as adding them one by one, faster:
    /// each series' histogram is updated for the whole block while it is in cache).
    pub fn add_block(&mut self, model: &Model, block: &mut Block) {
        let n = block.len;
        if n == 0 {
            return;
        }
        self.draws += n as u64;
        let mut buf = std::mem::take(&mut block.scratch);
        for (sketches, data) in [
            (&mut self.population, &block.population),
            (&mut self.groups, &block.groups),
            (&mut self.births, &block.births),
            (&mut self.deaths, &block.deaths),
            (&mut self.migration, &block.migration),
        ] {
            for s in 0..sketches.len() {
                if let Some(next) = sketches.get(s + 1) {
                    next.prefetch();
                }
                block.gather(data, s, &mut buf);
                sketches[s].add_slice(&buf[..n]);
            }
        }
        let rows = model.rows;
        let series = self.demand.len() / rows;
        let mut first = std::mem::take(&mut block.first_row);
        let mut cap = std::mem::take(&mut block.scratch2);
        for s in 0..series {
            first[..n].fill(rows);
            for row in 0..rows {
                let i = s * rows + row;
                if i + 1 < self.demand.len() {
                    self.demand[i + 1].prefetch();
                    self.capacity[i + 1].prefetch();
                    self.gap[i + 1].prefetch();
                }
                block.gather(&block.demand, i, &mut buf);
                block.gather(&block.capacity, i, &mut cap);
                self.demand[i].add_slice(&buf[..n]);
                self.capacity[i].add_slice(&cap[..n]);
                let mut short = 0;
                for lane in 0..n {
                    let is_short = buf[lane] > cap[lane];
                    // Reuse the demand buffer for the gap.
                    buf[lane] = if is_short { buf[lane] - cap[lane] } else { 0.0 };
                    short += u64::from(is_short);
                    if is_short && first[lane] == rows {
                        first[lane] = row;
                    }
                }
                self.gap[i].add_slice(&buf[..n]);
                self.shortfall[i] += short;
            }
            for &f in &first[..n] {
                self.first[s * (rows + 1) + f] += 1;
            }
        }
        block.first_row = first;
        block.scratch = buf;
        block.scratch2 = cap;
        block.len = 0;
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
        let same_bits = |a: &[Sketch], b: &[Sketch]| a.iter().zip(b).all(|(x, y)| x.bits == y.bits);
        if !(same_bits(&self.demand, &shape.demand)
            && same_bits(&self.capacity, &shape.capacity)
            && same_bits(&self.gap, &shape.gap)
            && same_bits(&self.population, &shape.population)
            && same_bits(&self.groups, &shape.groups)
            && same_bits(&self.births, &shape.births)
            && same_bits(&self.deaths, &shape.deaths)
            && same_bits(&self.migration, &shape.migration))
        {
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

/// Series per tile of a [`Block`]: one cache line of `f64`.
const TILE: usize = 8;

/// Draws collected for [`Aggregate::add_block`]. Values are stored in tiles of 8 series: a
/// draw's values are written contiguously (8 series per cache line), and a tile holds every
/// lane of its 8 series, so both filling and aggregating stream through memory.
#[derive(Clone, Debug)]
pub struct Block {
    lanes: usize,
    len: usize,
    population: Vec<Tile>,
    groups: Vec<Tile>,
    demand: Vec<Tile>,
    capacity: Vec<Tile>,
    births: Vec<Tile>,
    deaths: Vec<Tile>,
    migration: Vec<Tile>,
    scratch: Vec<f64>,
    scratch2: Vec<f64>,
    first_row: Vec<usize>,
}

impl Block {
    /// A block of up to `lanes` draws for `model`.
    pub fn new(model: &Model, lanes: usize) -> Block {
        let shape = Aggregate::new(model);
        let size = |series: usize| series.div_ceil(TILE) * lanes;
        Block {
            lanes,
            len: 0,
            population: vec![Tile::default(); size(shape.population.len())],
            groups: vec![Tile::default(); size(shape.groups.len())],
            demand: vec![Tile::default(); size(shape.demand.len())],
            capacity: vec![Tile::default(); size(shape.capacity.len())],
            births: vec![Tile::default(); size(shape.births.len())],
            deaths: vec![Tile::default(); size(shape.deaths.len())],
            migration: vec![Tile::default(); size(shape.migration.len())],
            scratch: vec![0.0; lanes],
            scratch2: vec![0.0; lanes],
            first_row: vec![0; lanes],
        }
    }

    /// Whether the block holds `lanes` draws.
    pub fn is_full(&self) -> bool {
        self.len == self.lanes
    }

    /// Copies one draw's output into the next lane.
    pub fn push(&mut self, out: &DrawOutput) {
        let (lane, lanes) = (self.len, self.lanes);
        for (dst, src) in [
            (&mut self.population, &out.population),
            (&mut self.groups, &out.groups),
            (&mut self.demand, &out.demand),
            (&mut self.capacity, &out.capacity),
            (&mut self.births, &out.births),
            (&mut self.deaths, &out.deaths),
            (&mut self.migration, &out.migration),
        ] {
            let mut tiles = src.chunks_exact(TILE);
            for (t, tile) in tiles.by_ref().enumerate() {
                store_tile(&mut dst[t * lanes + lane], tile);
            }
            let rest = tiles.remainder();
            if !rest.is_empty() {
                dst[(src.len() / TILE) * lanes + lane].0[..rest.len()].copy_from_slice(rest);
            }
        }
        store_fence();
        self.len += 1;
    }

    /// The lanes of series `s` into `buf`.
    fn gather(&self, data: &[Tile], s: usize, buf: &mut [f64]) {
        let (t, k) = (s / TILE, s % TILE);
        let tiles = &data[t * self.lanes..t * self.lanes + self.len];
        for (x, tile) in buf[..self.len].iter_mut().zip(tiles) {
            *x = tile.0[k];
        }
    }
}

/// One lane's values of 8 consecutive series: one cache line.
#[derive(Clone, Copy, Debug, Default)]
#[repr(C, align(64))]
pub struct Tile([f64; TILE]);

/// Writes a draw's 8 values into a block's tile. On x86-64 with non-temporal stores: a block
/// (about 26 MB for the Shanghai scenario) is far larger than the cache, so ordinary stores
/// would first read every line they write from memory; these write the whole line without
/// reading it, which halves the memory traffic of filling the block.
#[inline(always)]
fn store_tile(dst: &mut Tile, src: &[f64]) {
    let src: &[f64; TILE] = src.try_into().expect("a whole tile");
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `dst` is a valid, exclusively borrowed, 64-byte-aligned tile (so every 16-byte
    // store below is aligned and in bounds); `src` is 8 readable f64s (unaligned loads).
    // Non-temporal stores are weakly ordered, which `store_fence` settles after each draw.
    unsafe {
        use std::arch::x86_64::{_mm_loadu_pd, _mm_stream_pd};
        let (d, s) = (dst.0.as_mut_ptr(), src.as_ptr());
        for j in (0..TILE).step_by(2) {
            _mm_stream_pd(d.add(j), _mm_loadu_pd(s.add(j)));
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        dst.0 = *src;
    }
}

/// Orders the non-temporal stores of [`store_tile`] before everything that follows.
#[inline(always)]
fn store_fence() {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a store fence has no preconditions.
    unsafe {
        std::arch::x86_64::_mm_sfence();
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
