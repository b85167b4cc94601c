//! Streaming, mergeable aggregation of draws (MODEL §6): a [`Sketch`] per series, shortfall
//! counts and first-shortfall-year histograms. Memory depends on the scenario, not on the
//! number of draws; partial aggregates of disjoint draw sets merge into exactly the one-run
//! aggregate, which is what makes threads and shards byte-identical.

pub mod sketch;

use std::sync::Mutex;

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

/// The lengths of an [`Aggregate`]'s `shortfall` and `first`.
fn count_lens(model: &Model) -> (usize, usize) {
    let cells = model.areas() * model.resources.len();
    (cells * model.rows, cells * (model.rows + 1))
}

/// The bucket bits ([`sketch::COARSE_BITS`] or [`sketch::FINE_BITS`]) of every series of
/// `model`, per kind in series order (population, groups, births, deaths, migration, demand,
/// capacity, gap): an [`Aggregate`]'s shape without its sketches, for what needs only that.
fn series_bits(model: &Model) -> [Vec<u8>; 8] {
    let (a, nr, rows, steps) = (model.areas(), model.resources.len(), model.rows, model.steps());
    let coarse = |n: usize| vec![sketch::COARSE_BITS; n];
    // Whole-number series keep the finer buckets their whole-number quantiles need.
    let by_resource = |whole: &dyn Fn(usize) -> bool| -> Vec<u8> {
        (0..a * nr * rows)
            .map(|i| if whole((i / rows) % nr) { sketch::FINE_BITS } else { sketch::COARSE_BITS })
            .collect()
    };
    let res = &model.resources;
    [
        coarse(a * rows),
        coarse(a * rows * 2 * model.groups.len()),
        coarse(a * steps),
        coarse(a * steps),
        coarse(a * steps),
        by_resource(&|r| res[r].integral),
        by_resource(&|r| res[r].capacity_integral),
        by_resource(&|r| res[r].integral && res[r].capacity_integral),
    ]
}

impl Aggregate {
    /// An empty aggregate shaped for `model`.
    pub fn new(model: &Model) -> Aggregate {
        let [population, groups, births, deaths, migration, demand, capacity, gap] =
            series_bits(model).map(|bits| bits.into_iter().map(Sketch::new).collect::<Vec<_>>());
        let (shortfall, first) = count_lens(model);
        Aggregate {
            draws: 0,
            population,
            groups,
            demand,
            capacity,
            gap,
            shortfall: vec![0; shortfall],
            first: vec![0; first],
            births,
            deaths,
            migration,
        }
    }

    /// Adds the draws collected in a block (the same result as adding them one by one, faster:
    /// each series' histogram is updated for the whole block while it is in cache), or refuses
    /// it, adding nothing, if its fixed series did not hold (see [`Layout`]). Either way the
    /// block is emptied.
    ///
    /// # Panics
    /// If the block was made for another model's shape.
    pub fn add_block(&mut self, block: &mut Block) -> Result<(), FixedVaried> {
        assert!(self.series_mut().map(|s| s.len()) == block.layout.kinds, "a block of another shape");
        if block.len == 0 {
            return Ok(());
        }
        let agg = std::mem::replace(self, Aggregate::empty());
        let shared = SharedAggregate::from_aggregate(agg, block.layout.clone());
        let added = shared.add_block(block, 0);
        *self = shared.into_aggregate();
        added
    }

    /// An aggregate of no series (a placeholder while one is moved out).
    fn empty() -> Aggregate {
        Aggregate {
            draws: 0,
            population: Vec::new(),
            groups: Vec::new(),
            demand: Vec::new(),
            capacity: Vec::new(),
            gap: Vec::new(),
            shortfall: Vec::new(),
            first: Vec::new(),
            births: Vec::new(),
            deaths: Vec::new(),
            migration: Vec::new(),
        }
    }

    /// Every kind of series, in the order a [`Layout`] numbers them ("series order").
    fn series_mut(&mut self) -> [&mut Vec<Sketch>; 8] {
        [
            &mut self.population,
            &mut self.groups,
            &mut self.births,
            &mut self.deaths,
            &mut self.migration,
            &mut self.demand,
            &mut self.capacity,
            &mut self.gap,
        ]
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

    /// Whether the shapes match `model` (series counts, and each sketch's bucket resolution:
    /// sketches of different resolutions cannot be merged) and the counts agree (for partial
    /// results read back).
    pub fn fits(&self, model: &Model) -> bool {
        let (shortfall, first) = count_lens(model);
        let series = [
            &self.population,
            &self.groups,
            &self.births,
            &self.deaths,
            &self.migration,
            &self.demand,
            &self.capacity,
            &self.gap,
        ];
        let same_shape = self.shortfall.len() == shortfall
            && self.first.len() == first
            && (series.iter().zip(series_bits(model)))
                .all(|(s, bits)| s.len() == bits.len() && s.iter().zip(bits).all(|(x, b)| x.bits == b));
        if !same_shape {
            return false;
        }
        let sketches_ok = series.iter().all(|v| v.iter().all(|s| s.count == self.draws && s.is_consistent()));
        let firsts_ok = self.first.chunks(model.rows + 1).all(|c| c.iter().sum::<u64>() == self.draws);
        let short_ok = self.shortfall.iter().all(|&c| c <= self.draws);
        sketches_ok && firsts_ok && short_ok
    }
}

/// Where each series goes in a [`Block`] and a [`SharedAggregate`]: the series that vary
/// between draws first, in series order (population, groups, births, deaths, migration,
/// demand, capacity, gap), then the series the model fixes ([`Model::fixed_demand_capacity`]:
/// capacity that no random amount or delay reaches, demand from streets, a fixed minimum, a
/// fixed coverage share or a fixed ratio of such a demand, and the gaps between the two;
/// 2,264 of the Shanghai scenario's 12,270 series). A block takes a fixed series' value from
/// its first draw and only compares it in the others (where a varying series costs an
/// encoding, its extremes, its sum, a stored code and its share of the counting pass), and the
/// series is added to its sketch in one update. Last come the copies: series equal in every
/// draw to another ([`Model::capacity_repeats`]: a capacity in a year no opening can fall in
/// is the year before's; 1,250 more), compared with it in each draw and given its sketch at
/// the end. A block whose fixed series or copies did not hold is refused ([`FixedVaried`]),
/// so a wrong analysis can stop a run but never skew its numbers.
#[derive(Clone, Debug, PartialEq)]
pub struct Layout {
    /// Series count of each kind, in series order.
    kinds: [usize; 8],
    /// The series (index in series order) at each position: the varying, the fixed, then the
    /// copies.
    order: Vec<u32>,
    /// Positions below this hold the varying series.
    varying: usize,
    /// How many fixed series follow them.
    fixed: usize,
    /// `(series, source)` of each copy, in position order: a series equal in every draw to a
    /// varying or fixed series of the same kind.
    copies: Vec<(u32, u32)>,
}

impl Layout {
    /// The layout for `model`: fixed are the series [`Model::fixed_demand_capacity`] marks
    /// (and the gaps between a fixed demand and a fixed capacity); a capacity that
    /// [`Model::capacity_repeats`] the year before's is a copy of it.
    pub fn of(model: &Model) -> Layout {
        let (demand, capacity) = model.fixed_demand_capacity();
        let gap: Vec<bool> = demand.iter().zip(&capacity).map(|(d, c)| *d && *c).collect();
        let kinds = series_bits(model).map(|b| b.len());
        let before = kinds[..5].iter().sum();
        let mut fixed = vec![false; before];
        fixed.extend(demand.iter().chain(&capacity).chain(&gap));
        let c0 = before + demand.len();
        let copies: Vec<(usize, usize)> = (model.capacity_repeats().into_iter().enumerate())
            .filter(|(_, repeats)| *repeats)
            .map(|(i, _)| (c0 + i, c0 + i - 1))
            .collect();
        Layout::new(model, &fixed, &copies)
    }

    /// A layout in which the series marked in `fixed` (in series order: population, groups,
    /// births, deaths, migration, demand, capacity, gap) are taken to be the same in every
    /// draw, and each `(series, source)` of `copies` equal to its source (of the same kind) in
    /// every draw. A copy of a copy is one of its source's source; a copy of a fixed series is
    /// fixed; a series both fixed and a copy is fixed. [`Layout::of`] is the one a run uses;
    /// this one lets tests choose.
    ///
    /// # Panics
    /// If `fixed` is not one flag per series of `model`, or a copy's source is of another kind,
    /// or the copies make a cycle.
    pub fn new(model: &Model, fixed: &[bool], copies: &[(usize, usize)]) -> Layout {
        let kinds = series_bits(model).map(|b| b.len());
        let n = kinds.iter().sum::<usize>();
        assert_eq!(fixed.len(), n, "one flag per series");
        let kind_of = |g: usize| {
            let mut end = 0;
            kinds.iter().position(|&k| {
                end += k;
                g < end
            })
        };
        let mut source: Vec<Option<usize>> = vec![None; n];
        for &(g, h) in copies {
            assert!(g != h && kind_of(g) == kind_of(h), "a copy of a series of another kind");
            source[g] = Some(h);
        }
        // Each copy's root: the first series along its sources that is not a copy.
        let root = |mut g: usize| {
            for _ in 0..=n {
                match source[g] {
                    Some(h) if !fixed[g] => g = h,
                    _ => return g,
                }
            }
            panic!("the copies make a cycle");
        };
        let roots: Vec<usize> = (0..n).map(root).collect();
        let class = |g: usize| {
            if fixed[g] || fixed[roots[g]] {
                1
            } else if roots[g] != g {
                2
            } else {
                0
            }
        };
        let mut order: Vec<u32> = Vec::with_capacity(n);
        let mut counts = [0; 3];
        for c in 0..3 {
            for g in (0..n).filter(|&g| class(g) == c) {
                order.push(g as u32);
                counts[c] += 1;
            }
        }
        let copies = order[counts[0] + counts[1]..].iter().map(|&g| (g, roots[g as usize] as u32)).collect();
        Layout { kinds, order, varying: counts[0], fixed: counts[1], copies }
    }

    /// [`Layout::new`] with no copies.
    pub fn with_fixed(model: &Model, fixed: &[bool]) -> Layout {
        Layout::new(model, fixed, &[])
    }

    /// Every series varying (for draws whose values follow no model).
    pub fn all_varying(model: &Model) -> Layout {
        let n = series_bits(model).iter().map(Vec::len).sum();
        Layout::with_fixed(model, &vec![false; n])
    }

    /// How many series are fixed.
    pub fn fixed(&self) -> usize {
        self.fixed
    }

    /// How many series are copies.
    pub fn copies(&self) -> usize {
        self.copies.len()
    }

    /// How many series there are.
    pub fn series(&self) -> usize {
        self.order.len()
    }

    /// Whether each series (in series order) varies on its own: not fixed, not a copy.
    pub fn varies(&self) -> Vec<bool> {
        let mut v = vec![false; self.order.len()];
        for &g in &self.order[..self.varying] {
            v[g as usize] = true;
        }
        v
    }
}

/// A block whose fixed series (see [`Layout`]) did not all keep their first draw's values, or
/// whose copies their sources':
/// the model's analysis of what cannot change was wrong, and adding the block would have
/// skewed the aggregate, so it was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FixedVaried;

/// Series per part of a [`SharedAggregate`].
const PART: usize = 256;

/// One aggregate for all of a run's workers: the series split into parts of 256, each behind
/// its own lock, so the workers add their blocks into one set of histograms — half the memory
/// of an aggregate per worker, and no merge at the end — and seldom wait on each other: each
/// starts at a different part. The result does not depend on the order blocks arrive in
/// (counts and fixed-point sums add exactly), so it is the same as [`Aggregate::add_block`]'s.
/// The sketches are kept in the order of their [`Layout`]'s positions, like a block's series.
#[derive(Debug)]
pub struct SharedAggregate {
    layout: Layout,
    /// `(first position, sketches)` of each part.
    parts: Vec<(usize, Mutex<Vec<Sketch>>)>,
    /// Draws, shortfall counts and first-shortfall rows, shaped as in [`Aggregate`].
    counts: Mutex<(u64, Vec<u64>, Vec<u64>)>,
}

impl SharedAggregate {
    /// An empty aggregate shaped for `model`, for blocks of [`Layout::of`] `model`.
    pub fn new(model: &Model) -> SharedAggregate {
        SharedAggregate::with_layout(model, Layout::of(model))
    }

    /// An empty aggregate shaped for `model`, for blocks of `layout`.
    pub fn with_layout(model: &Model, layout: Layout) -> SharedAggregate {
        let bits = series_bits(model);
        assert!(bits.each_ref().map(Vec::len) == layout.kinds, "a layout of another shape");
        let bits: Vec<u8> = bits.into_iter().flatten().collect();
        // Each sketch made where it stays (an aggregate's worth of them is megabytes: moving
        // them about costs page faults).
        let parts = in_parts(&layout.order, |g| Sketch::new(bits[g]));
        let (shortfall, first) = count_lens(model);
        SharedAggregate { layout, parts, counts: Mutex::new((0, vec![0; shortfall], vec![0; first])) }
    }

    /// `agg`, to go on adding blocks of `layout` to.
    fn from_aggregate(mut agg: Aggregate, layout: Layout) -> SharedAggregate {
        assert!(agg.series_mut().map(|s| s.len()) == layout.kinds, "a layout of another shape");
        let counts = Mutex::new((agg.draws, std::mem::take(&mut agg.shortfall), std::mem::take(&mut agg.first)));
        let mut flat = Vec::with_capacity(layout.order.len());
        for sketches in agg.series_mut() {
            flat.append(sketches);
        }
        // Into position order: series `layout.order[p]` at `p` (a permutation, so each is
        // taken once; what is left behind is an empty sketch, which allocates nothing).
        let parts = in_parts(&layout.order, |g| std::mem::take(&mut flat[g]));
        SharedAggregate { layout, parts, counts }
    }

    /// Adds the draws collected in a block, starting with the part at `start` (of
    /// [`SharedAggregate::parts`]) and wrapping around; or refuses it, adding nothing, if its
    /// fixed series did not hold (see [`Layout`]). Either way the block is emptied.
    ///
    /// # Panics
    /// If the block was made for another layout.
    pub fn add_block(&self, block: &mut Block, start: usize) -> Result<(), FixedVaried> {
        let n = block.len;
        if n == 0 {
            return Ok(());
        }
        assert!(block.layout == self.layout, "a block of another layout");
        if !block.fixed_held {
            block.discard();
            return Err(FixedVaried);
        }
        let mut codes = std::mem::take(&mut block.codes);
        let mut counts = std::mem::take(&mut block.counts);
        let np = self.parts.len();
        let varying = self.layout.varying;
        for i in 0..np {
            let (p, part) = &self.parts[(start + i) % np];
            let mut sketches = part.lock().unwrap_or_else(|p| p.into_inner());
            // The part's varying series from the block's codes, its fixed ones in one update.
            let len = sketches.len();
            let (v, rest) = sketches.split_at_mut(varying.saturating_sub(*p).min(len));
            // The copies after the fixed series are set from their sources at the end.
            let fixed = (varying + self.layout.fixed).saturating_sub(*p + v.len()).min(rest.len());
            block.add_series_to(*p, v, &mut codes, &mut counts);
            if fixed > 0 {
                block.add_fixed(*p + v.len() - varying, &mut rest[..fixed]);
            }
        }
        block.counts = counts;
        {
            let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
            counts.0 += n as u64;
            for (a, b) in counts.1.iter_mut().zip(&mut block.shortfall) {
                *a += std::mem::take(b);
            }
            for (a, b) in counts.2.iter_mut().zip(&mut block.first) {
                *a += std::mem::take(b);
            }
        }
        block.codes = codes;
        block.reset();
        Ok(())
    }

    /// How many parts the series are split into.
    pub fn parts(&self) -> usize {
        self.parts.len()
    }

    /// The aggregate of everything added.
    pub fn into_aggregate(self) -> Aggregate {
        let (draws, shortfall, first) = self.counts.into_inner().unwrap_or_else(|p| p.into_inner());
        // Back into series order: `at[g]` is series g's position. A copy is left empty here
        // and given its source's sketch (a varying or fixed series) below.
        let mut at = vec![0; self.layout.order.len()];
        for (p, &g) in self.layout.order.iter().enumerate() {
            at[g as usize] = p;
        }
        let mut parts: Vec<Vec<Sketch>> =
            self.parts.into_iter().map(|(_, part)| part.into_inner().unwrap_or_else(|p| p.into_inner())).collect();
        let copies = self.layout.varying + self.layout.fixed;
        let mut series = at
            .iter()
            .map(|&p| if p < copies { std::mem::take(&mut parts[p / PART][p % PART]) } else { Sketch::default() });
        let mut kinds = self.layout.kinds.map(|n| series.by_ref().take(n).collect::<Vec<Sketch>>());
        let mut flat: Vec<&mut Sketch> = kinds.iter_mut().flatten().collect();
        for &(c, source) in &self.layout.copies {
            *flat[c as usize] = flat[source as usize].clone();
        }
        let [population, groups, births, deaths, migration, demand, capacity, gap] = kinds;
        Aggregate { draws, population, groups, births, deaths, migration, demand, capacity, gap, shortfall, first }
    }
}

/// The parts of a [`SharedAggregate`] whose positions hold the series `order` (series order
/// indices), each series' sketch given by `sketch`.
fn in_parts(order: &[u32], mut sketch: impl FnMut(usize) -> Sketch) -> Vec<(usize, Mutex<Vec<Sketch>>)> {
    (order.chunks(PART).enumerate())
        .map(|(i, order)| (i * PART, Mutex::new(order.iter().map(|&g| sketch(g as usize)).collect())))
        .collect()
}

/// Series per tile of a [`Block`]: one cache line of 32-bit codes.
const TILE: usize = 16;

/// Buckets a series may span in a block to be counted in [`Block::add_tile`]'s pass: 64 pages.
const SPAN: usize = 2048;

/// Distance between two series' counts in [`Block::add_tile`]: [`SPAN`] and 40 more, so that
/// the 16 series' counters do not lie a multiple of 4 KB apart (the processor would take
/// their loads and stores for the same address's and serialise them).
const STRIDE: usize = SPAN + 40;

/// Buckets per histogram page (see `sketch`).
const PAGE_KEYS: u64 = 32;

/// Draws collected for [`Aggregate::add_block`]. Each draw is summarised as it is pushed, in
/// draw order: shortfalls are counted, every varying series' extremes and exact sum are
/// updated and its value encoded as its 32-bit bucket code ([`Sketch::encode`]), and the
/// fixed series (see [`Layout`]) compared with the block's first draw. Only the codes are
/// stored, in tiles of 16 series (a draw's codes of 16 series fill one cache line; a tile
/// holds every lane of its series), half the bytes of the values themselves. The block is far
/// larger than the cache, so moving data into and out of it is most of the aggregation's cost.
#[derive(Clone, Debug)]
pub struct Block {
    lanes: usize,
    len: usize,
    rows: usize,
    /// Where each series goes; the block holds codes of the varying series only.
    layout: Layout,
    /// Codes `[position / TILE][lane]` of the varying series.
    tiles: Vec<CodeTile>,
    /// This draw's codes, then copied into `tiles` a whole line at a time.
    draw_codes: Vec<u32>,
    /// Per kind of series (in series order), runs of consecutive varying
    /// series with the same bucket-key parameters.
    runs: [Vec<Run>; 8],
    /// Per kind, runs of consecutive fixed series: `(first, end, index in fixed)`.
    fixed_runs: [Vec<(usize, usize, usize)>; 8],
    /// Per kind, runs of consecutive copies of one series: `(first, end, source)`.
    copy_runs: [Vec<(usize, usize, usize)>; 8],
    /// The fixed series' values, from the block's first draw.
    fixed: Vec<f64>,
    /// Whether every draw since the block's first gave the fixed series the same values, and
    /// every copy its source's.
    fixed_held: bool,
    /// Each varying series' extremes over the block's draws.
    lo: Vec<f64>,
    hi: Vec<f64>,
    /// Each varying series' fixed-point sum of the values below 10⁹ in magnitude...
    sum: Vec<i64>,
    /// ...and of the others (rare: exact 128-bit arithmetic), with whether there are any.
    wide: Vec<i128>,
    any_wide: bool,
    /// This draw's gaps `[area][resource][row]`.
    gaps: Vec<f64>,
    /// Shortfall counts and first-shortfall rows, shaped as in [`Aggregate`].
    shortfall: Vec<u64>,
    first: Vec<u64>,
    codes: Vec<u32>,
    /// Room for [`Block::add_tile`]'s counts: [`SPAN`] buckets for each series of a tile (all
    /// zero between uses).
    counts: Vec<u16>,
}

impl Block {
    /// A block of up to `lanes` draws for `model`, of [`Layout::of`] `model`.
    pub fn new(model: &Model, lanes: usize) -> Block {
        Block::with_layout(model, Layout::of(model), lanes)
    }

    /// A block of up to `lanes` draws for `model`, its series placed by `layout`.
    pub fn with_layout(model: &Model, layout: Layout, lanes: usize) -> Block {
        // A series' fast sum holds up to 2⁵⁰ a value (|v| < 10⁹ at 2²⁰) in an i64.
        assert!(lanes <= 8192, "a block of more than 8,192 draws would overflow its sums");
        let bits = series_bits(model);
        assert!(bits.each_ref().map(Vec::len) == layout.kinds, "a layout of another shape");
        let (shortfall, first) = count_lens(model);
        let mut at = vec![0; layout.order.len()];
        for (p, &g) in layout.order.iter().enumerate() {
            at[g as usize] = p;
        }
        let (varying, fixed) = (layout.varying, layout.fixed);
        let mut root = vec![0; layout.order.len()];
        for &(c, r) in &layout.copies {
            root[c as usize] = r as usize;
        }
        let mut g = 0;
        let mut runs: [Vec<Run>; 8] = Default::default();
        let mut fixed_runs: [Vec<(usize, usize, usize)>; 8] = Default::default();
        let mut copy_runs: [Vec<(usize, usize, usize)>; 8] = Default::default();
        for (kind, bits) in bits.iter().enumerate() {
            for (i, &b) in bits.iter().enumerate() {
                let p = at[g + i];
                if p >= varying + fixed {
                    // A copy: its source is of the same kind (`Layout::new`).
                    let r = root[g + i] - g;
                    match copy_runs[kind].last_mut() {
                        Some(c) if c.1 == i && c.2 == r => c.1 += 1,
                        _ => copy_runs[kind].push((i, i + 1, r)),
                    }
                } else if p < varying {
                    let (shift, offset) = Sketch::new(b).key_params();
                    match runs[kind].last_mut() {
                        Some(r) if r.1 == i && r.2 + (r.1 - r.0) == p && (r.3, r.4) == (shift, offset) => r.1 += 1,
                        _ => runs[kind].push((i, i + 1, p, shift, offset)),
                    }
                } else {
                    let j = p - varying;
                    match fixed_runs[kind].last_mut() {
                        Some(r) if r.1 == i && r.2 + (r.1 - r.0) == j => r.1 += 1,
                        _ => fixed_runs[kind].push((i, i + 1, j)),
                    }
                }
            }
            g += bits.len();
        }
        let padded = varying.div_ceil(TILE) * TILE;
        let mut block = Block {
            lanes,
            len: 0,
            rows: model.rows,
            layout,
            tiles: huge_vec(padded / TILE * lanes),
            draw_codes: vec![0; padded],
            runs,
            fixed_runs,
            copy_runs,
            fixed: vec![0.0; fixed],
            fixed_held: true,
            lo: vec![0.0; varying],
            hi: vec![0.0; varying],
            sum: vec![0; varying],
            wide: vec![0; varying],
            any_wide: false,
            gaps: vec![0.0; bits[7].len()],
            shortfall: vec![0; shortfall],
            first: vec![0; first],
            codes: vec![0; lanes],
            counts: vec![0; TILE * STRIDE],
        };
        block.reset();
        block
    }

    /// Whether every draw pushed since the block was last added gave each fixed series (of its
    /// [`Layout`]) the value of the first. A `false` means a series the layout takes to be
    /// fixed is not, and the block's aggregate would be wrong.
    pub fn fixed_held(&self) -> bool {
        self.fixed_held
    }

    /// Empties the block without adding it: counts gathered at push time are dropped too.
    fn discard(&mut self) {
        self.shortfall.fill(0);
        self.first.fill(0);
        self.reset();
    }

    fn reset(&mut self) {
        self.len = 0;
        self.fixed_held = true;
        self.lo.fill(f64::INFINITY);
        self.hi.fill(f64::NEG_INFINITY);
        self.sum.fill(0);
        if self.any_wide {
            self.wide.fill(0);
            self.any_wide = false;
        }
    }

    /// Whether the block holds `lanes` draws.
    pub fn is_full(&self) -> bool {
        self.len == self.lanes
    }

    /// Adds one draw's output (which must be finite, as `simulate_draw` guarantees).
    pub fn push(&mut self, out: &DrawOutput) {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU supports AVX2 (checked just above).
                return unsafe { self.push_avx2(out) };
            }
        }
        self.push_body(out)
    }

    /// [`Block::push`] compiled for AVX2: four values to a vector instead of two. Only
    /// comparisons, additions and integer operations, so the same results as the portable
    /// build to the bit.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn push_avx2(&mut self, out: &DrawOutput) {
        self.push_body(out)
    }

    #[inline(always)]
    fn push_body(&mut self, out: &DrawOutput) {
        assert!(self.len < self.lanes, "push into a full block");
        let rows = self.rows;
        // Gaps, shortfall counts and first-shortfall rows, per (area, resource).
        for (s, ((d, c), gap)) in out
            .demand
            .chunks_exact(rows)
            .zip(out.capacity.chunks_exact(rows))
            .zip(self.gaps.chunks_exact_mut(rows))
            .enumerate()
        {
            // Branch-free over the rows (so it vectorises); the first shortfall row after.
            let shortfall = &mut self.shortfall[s * rows..(s + 1) * rows];
            for row in 0..rows {
                let short = d[row] > c[row];
                gap[row] = if short { d[row] - c[row] } else { 0.0 };
                shortfall[row] += u64::from(short);
            }
            let first = (0..rows).find(|&row| d[row] > c[row]).unwrap_or(rows);
            self.first[s * (rows + 1) + first] += 1;
        }
        let gaps = std::mem::take(&mut self.gaps);
        let first_draw = self.len == 0;
        for (kind, src) in
            [&out.population, &out.groups, &out.births, &out.deaths, &out.migration, &out.demand, &out.capacity, &gaps]
                .into_iter()
                .enumerate()
        {
            for r in 0..self.runs[kind].len() {
                let (first, end, at, shift, offset) = self.runs[kind][r];
                self.record(at, &src[first..end], (shift, offset));
            }
            // Fixed series: taken from the first draw, compared in the others (`==`, so a zero
            // of either sign holds a zero — which the sketches do not tell apart).
            for &(first, end, j) in &self.fixed_runs[kind] {
                let (values, fixed) = (&src[first..end], &mut self.fixed[j..j + end - first]);
                if first_draw {
                    fixed.copy_from_slice(values);
                    // Non-finite values never reach a block; were one to, `==` could not
                    // hold it.
                    self.fixed_held &= values.iter().all(|v| v.is_finite());
                } else {
                    let same = values.iter().zip(fixed.iter()).fold(true, |all, (v, f)| all & (v == f));
                    self.fixed_held &= same;
                }
            }
            for &(first, end, source) in &self.copy_runs[kind] {
                let v = src[source];
                self.fixed_held &= src[first..end].iter().fold(true, |all, c| all & (*c == v));
            }
        }
        self.gaps = gaps;
        let (lane, lanes) = (self.len, self.lanes);
        for (t, codes) in self.draw_codes.chunks_exact(TILE).enumerate() {
            store_tile(&mut self.tiles[t * lanes + lane], codes);
        }
        store_fence();
        self.len += 1;
    }

    /// Series `g, g+1, …` take `values`: extremes, sums and codes.
    #[inline(always)]
    fn record(&mut self, g: usize, values: &[f64], (shift, offset): (u32, f64)) {
        let n = values.len();
        let (lo, hi) = (&mut self.lo[g..g + n], &mut self.hi[g..g + n]);
        let (sum, codes) = (&mut self.sum[g..g + n], &mut self.draw_codes[g..g + n]);
        Self::extremes(values, lo, hi);
        let mut wide = false;
        for i in 0..n {
            let v = values[i];
            wide |= v.abs() >= 1e9;
            sum[i] = sum[i].wrapping_add(Sketch::fixed_fast(v));
            codes[i] = Sketch::encode(v, shift, offset);
        }
        if wide {
            self.any_wide = true;
            // Values of 10⁹ or more: the fast contribution is taken back and the exact one
            // kept apart.
            for (i, &v) in values.iter().enumerate() {
                if v.abs() >= 1e9 {
                    sum[i] = sum[i].wrapping_sub(Sketch::fixed_fast(v));
                    self.wide[g + i] += Sketch::fixed_exact(v);
                }
            }
        }
    }

    /// `lo[i] = if v < lo[i] { v } else { lo[i] }` and likewise `hi` for each value: the
    /// comparisons [`Sketch::add_slice`] makes (a zero never replaces a zero of the other sign). On x86-64 with the
    /// `minpd`/`maxpd` instructions, whose rule is exactly that comparison: written as plain Rust,
    /// the compiler turns the loop into masked stores, which are slow on some processors.
    #[inline(always)]
    fn extremes(values: &[f64], lo: &mut [f64], hi: &mut [f64]) {
        let n = values.len();
        let (lo, hi) = (&mut lo[..n], &mut hi[..n]);
        #[cfg(target_arch = "x86_64")]
        let done = {
            use std::arch::x86_64::{_mm_loadu_pd, _mm_max_pd, _mm_min_pd, _mm_storeu_pd};
            let pairs = n / 2 * 2;
            for i in (0..pairs).step_by(2) {
                // SAFETY: `i + 1 < n` and all three slices hold `n` values (unaligned loads and
                // stores of two doubles each); SSE2 is part of x86-64.
                unsafe {
                    let v = _mm_loadu_pd(values.as_ptr().add(i));
                    // minpd(a, b) = a < b ? a : b; maxpd(a, b) = a > b ? a : b.
                    let l = _mm_min_pd(v, _mm_loadu_pd(lo.as_ptr().add(i)));
                    let h = _mm_max_pd(v, _mm_loadu_pd(hi.as_ptr().add(i)));
                    _mm_storeu_pd(lo.as_mut_ptr().add(i), l);
                    _mm_storeu_pd(hi.as_mut_ptr().add(i), h);
                }
            }
            pairs
        };
        #[cfg(not(target_arch = "x86_64"))]
        let done = 0;
        for i in done..n {
            let v = values[i];
            lo[i] = if v < lo[i] { v } else { lo[i] };
            hi[i] = if v > hi[i] { v } else { hi[i] };
        }
    }

    /// Adds series `g, g+1, …` of the block's draws to `sketches` (one per series), with
    /// `codes` (at least `lanes` long) as room to gather each series' codes into.
    fn add_series_to(&self, g: usize, sketches: &mut [Sketch], codes: &mut [u32], counts: &mut [u16]) {
        let mut s = 0;
        while s < sketches.len() {
            if (g + s).is_multiple_of(TILE) && s + TILE <= sketches.len() {
                self.add_tile(g + s, &mut sketches[s..s + TILE], codes, counts);
                s += TILE;
            } else {
                if let Some(next) = sketches.get(s + 1) {
                    next.prefetch();
                }
                self.add_one(g + s, &mut sketches[s], codes);
                s += 1;
            }
        }
    }

    /// Adds series `g` of the block's draws to `sketch`, its codes gathered into `codes`.
    fn add_one(&self, g: usize, sketch: &mut Sketch, codes: &mut [u32]) {
        let n = self.len;
        let (lo, hi) = (self.lo[g], self.hi[g]);
        if lo != hi {
            self.gather(g, codes);
        }
        let sum = i128::from(self.sum[g]) + self.wide[g];
        sketch.add_encoded(n as u64, lo, hi, sum, &codes[..n]);
    }

    /// Adds the 16 series of the tile starting at series `g` to `sketches`. The series whose
    /// block values are positive and span fewer than [`SPAN`] buckets — most of them — are
    /// counted together in one pass over the tile's lines, each into its own stretch of
    /// `counts` (reading each line once, not once per series); the others go one by one.
    fn add_tile(&self, g: usize, sketches: &mut [Sketch], codes: &mut [u32], counts: &mut [u16]) {
        let n = self.len;
        // Per series: the code of its first counted bucket, and a mask that sends the codes
        // of a series not counted here to bins of its own, emptied afterwards.
        let mut first_code = [0u32; TILE];
        let mut mask = [0u32; TILE];
        let mut base = [0u64; TILE];
        let mut span = [0usize; TILE];
        for k in 0..TILE {
            sketches[k].prefetch();
            if let Some((kmin, kmax)) = sketches[k].key_range(self.lo[g + k], self.hi[g + k]) {
                let b = kmin & !(PAGE_KEYS - 1);
                if kmax - b < SPAN as u64 {
                    // A positive value's code is 1 + its key.
                    first_code[k] = b as u32 + 1;
                    mask[k] = u32::MAX;
                    base[k] = b;
                    span[k] = (kmax - b) as usize + 1;
                }
            }
        }
        let counts = &mut counts[..TILE * STRIDE];
        let t = g / TILE;
        for (lane, tile) in self.tiles[t * self.lanes..t * self.lanes + n].iter().enumerate() {
            // A series not counted here spreads its codes over 64 bins by lane, so that its
            // increments do not queue on one counter.
            let spread = lane as u32 & 63;
            for k in 0..TILE {
                let i = ((tile.0[k].wrapping_sub(first_code[k]) & mask[k]) | (spread & !mask[k])) as usize;
                debug_assert!(i < SPAN);
                counts[k * STRIDE + i] += 1;
            }
        }
        for k in 0..TILE {
            let stretch = &mut counts[k * STRIDE..k * STRIDE + SPAN];
            if mask[k] != 0 {
                let sum = i128::from(self.sum[g + k]) + self.wide[g + k];
                let (lo, hi) = (self.lo[g + k], self.hi[g + k]);
                let len = span[k].next_multiple_of(PAGE_KEYS as usize);
                sketches[k].add_counted(n as u64, lo, hi, sum, base[k], &mut stretch[..len]);
            } else {
                stretch[..64].fill(0);
                self.add_one(g + k, &mut sketches[k], codes);
            }
        }
    }

    /// Adds the fixed series from index `j` (of [`Block::fixed`]) to `sketches`: the block's
    /// draws all hold the value of its first, so one update each — what adding them one by one
    /// gives (`n` times the value's exact fixed-point amount is the sum of `n` of them).
    fn add_fixed(&self, j: usize, sketches: &mut [Sketch]) {
        let n = self.len as u64;
        for (sketch, &v) in sketches.iter_mut().zip(&self.fixed[j..]) {
            sketch.add_encoded(n, v, v, i128::from(n) * Sketch::fixed_exact(v), &[]);
        }
    }

    /// The codes of series `g` for the block's lanes into `buf`.
    fn gather(&self, g: usize, buf: &mut [u32]) {
        let (t, k) = (g / TILE, g % TILE);
        let tiles = &self.tiles[t * self.lanes..t * self.lanes + self.len];
        for (x, tile) in buf[..self.len].iter_mut().zip(tiles) {
            *x = tile.0[k];
        }
    }
}

/// `n` zeroed tiles, in huge pages where the system allows. A draw writes one line to every
/// tile group, 16 KB apart: with 4 KB pages each write would need its own TLB entry (a page
/// walk per line), with 2 MB pages the whole block needs a handful.
fn huge_vec(n: usize) -> Vec<CodeTile> {
    if n == 0 {
        return Vec::new();
    }
    let layout = std::alloc::Layout::array::<CodeTile>(n).expect("a block buffer's size overflows");
    // Zeroed by the allocator, which need not write memory fresh from the system (zero
    // already), so the huge-page advice below usually finds it untouched; `resize` wrote all
    // of it first (4 ms a worker). Memory the allocator reuses is zeroed as before.
    // SAFETY: `layout` has a non-zero size (n > 0, CodeTile is 64 bytes).
    let ptr = unsafe { std::alloc::alloc_zeroed(layout) }.cast::<CodeTile>();
    if ptr.is_null() {
        std::alloc::handle_alloc_error(layout);
    }
    #[cfg(target_os = "linux")]
    {
        let start = ptr as usize;
        let page = 4096;
        let aligned = start.next_multiple_of(page);
        let end = (start + layout.size()) / page * page;
        if end > aligned {
            // SAFETY: `aligned..end` lies within the allocation (page-aligned, as madvise
            // requires); MADV_HUGEPAGE is advice about how to back untouched memory and
            // changes no contents. A refusal (no transparent huge pages) is harmless.
            unsafe {
                libc::madvise(aligned as *mut libc::c_void, end - aligned, libc::MADV_HUGEPAGE);
            }
        }
    }
    // SAFETY: allocated by the global allocator with the layout of `n` CodeTiles, all zero
    // bytes, which is a valid CodeTile (plain u32s).
    unsafe { Vec::from_raw_parts(ptr, n, n) }
}

/// Varying series `first..end` of a kind (relative to it), at block positions from
/// `position` on, with bucket-key parameters `shift` and `offset`.
type Run = (usize, usize, usize, u32, f64);

/// One lane's codes of 16 consecutive series: one cache line.
#[derive(Clone, Copy, Debug, Default)]
#[repr(C, align(64))]
pub struct CodeTile([u32; TILE]);

/// Writes a draw's 16 codes into a block's tile. On x86-64 with non-temporal stores: a block
/// (35 MB for the Shanghai scenario) is far larger than the cache, so ordinary stores
/// would first read every line they write from memory; these write the whole line without
/// reading it, which halves the memory traffic of filling the block.
#[inline(always)]
fn store_tile(dst: &mut CodeTile, src: &[u32]) {
    let src: &[u32; TILE] = src.try_into().expect("a whole tile");
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `dst` is a valid, exclusively borrowed, 64-byte-aligned tile (so every 16-byte
    // store below is aligned and in bounds); `src` is 16 readable u32s (unaligned loads).
    // Non-temporal stores are weakly ordered, which `store_fence` settles after each draw.
    unsafe {
        use std::arch::x86_64::{__m128i, _mm_loadu_si128, _mm_stream_si128};
        let (d, s) = (dst.0.as_mut_ptr().cast::<__m128i>(), src.as_ptr().cast::<__m128i>());
        for j in 0..TILE / 4 {
            _mm_stream_si128(d.add(j), _mm_loadu_si128(s.add(j)));
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
