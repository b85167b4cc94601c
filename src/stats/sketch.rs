//! A streaming, exactly mergeable summary of one series across draws: count, min, max, an exact
//! sum, and a histogram bucketed by the float's bits (MODEL §6).
//!
//! A positive value's bucket is its IEEE-754 bits shifted right by `52 − MANTISSA_BITS`: the
//! exponent and the top mantissa bits. Each bucket spans a relative width of at most
//! `2^-MANTISSA_BITS`; the reported value is the bucket's midpoint (rounded for whole-number
//! series) clamped to the observed [min, max], so a quantile is within `2^-(MANTISSA_BITS+1)`
//! (0.05 %) of MODEL §6's estimator — the lowest observed value whose empirical CDF is ≥ q —
//! and exact when all draws are equal. The sum is kept in fixed point (2⁻²⁰) in an `i128`, so
//! sums, counts and histograms all merge exactly: any split of the draws gives the same bytes.

use serde::{Deserialize, Serialize};

/// Mantissa bits kept in a bucket key: relative bucket width 2⁻¹⁰ ≈ 0.1 %, error ≤ 0.05 %.
pub const MANTISSA_BITS: u32 = 10;
const SHIFT: u32 = 52 - MANTISSA_BITS;
/// Fixed-point scale of the exact sum.
const SUM_SCALE: f64 = (1u64 << 20) as f64;

/// Buckets per page (one cache line of `u32` counts).
const PAGE: usize = 16;
const PAGE_BITS: u32 = 4;

/// One page of counts, aligned to a cache line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(align(64))]
struct Page([u32; PAGE]);

/// A sparse histogram over bucket keys: pages of 16 buckets allocated only where values fall,
/// found through a page table. Memory follows the values seen, not the range they span (a
/// series from 1e-9 to 1e6 costs a page table, not a dense array of every bucket between), and
/// grows only when a value lands in an empty page. Equality compares contents.
#[derive(Clone, Debug, Default)]
pub struct Hist {
    first_page: u64,
    /// 0 = no page; otherwise 1 + index into `pages`.
    table: Vec<u32>,
    pages: Vec<Page>,
}

impl PartialEq for Hist {
    fn eq(&self, other: &Hist) -> bool {
        self.entries().eq(other.entries())
    }
}

impl Hist {
    /// Non-zero buckets `(key, count)` in increasing key order.
    pub fn entries(&self) -> impl DoubleEndedIterator<Item = (u64, u32)> + '_ {
        self.table.iter().enumerate().filter(|(_, t)| **t != 0).flat_map(move |(i, &t)| {
            let base = (self.first_page + i as u64) << PAGE_BITS;
            self.pages[t as usize - 1]
                .0
                .iter()
                .enumerate()
                .filter(|(_, c)| **c > 0)
                .map(move |(k, &c)| (base + k as u64, c))
        })
    }

    /// Memory held, in bytes (for diagnostics and the memory estimate).
    pub fn bytes(&self) -> usize {
        self.table.capacity() * 4 + self.pages.capacity() * std::mem::size_of::<Page>()
    }

    #[inline]
    fn add(&mut self, key: u64, n: u32) {
        let p = (key >> PAGE_BITS).wrapping_sub(self.first_page) as usize;
        if let Some(&t) = self.table.get(p)
            && t != 0
        {
            self.pages[t as usize - 1].0[(key as usize) & (PAGE - 1)] += n;
            return;
        }
        self.add_slow(key, n);
    }

    #[cold]
    fn add_slow(&mut self, key: u64, n: u32) {
        let page = key >> PAGE_BITS;
        if self.table.is_empty() {
            self.first_page = page;
            self.table.push(0);
        } else if page < self.first_page {
            // Grow the table downwards with slack, so a widening range reallocates rarely.
            let need = (self.first_page - page) as usize;
            let grow = need.max(self.table.len() / 2).min(self.first_page as usize).max(need);
            let mut t = vec![0u32; grow + self.table.len()];
            t[grow..].copy_from_slice(&self.table);
            self.table = t;
            self.first_page -= grow as u64;
        }
        let p = (page - self.first_page) as usize;
        if p >= self.table.len() {
            let new_len = (p + 1).max(self.table.len() + self.table.len() / 2);
            self.table.resize(new_len, 0);
        }
        if self.table[p] == 0 {
            self.pages.push(Page::default());
            self.table[p] = self.pages.len() as u32;
        }
        self.pages[self.table[p] as usize - 1].0[(key as usize) & (PAGE - 1)] += n;
    }

    /// Adds many keys (a block of one series): counted in a small local array when they span a
    /// narrow range, then added page by page, so each page is looked up once per block.
    fn add_keys(&mut self, keys: impl Iterator<Item = u64> + Clone, n: usize) {
        const LOCAL: usize = 4096;
        let (mut kmin, mut kmax) = (u64::MAX, 0);
        for k in keys.clone() {
            kmin = kmin.min(k);
            kmax = kmax.max(k);
        }
        if n < 16 || kmax - kmin >= LOCAL as u64 {
            for k in keys {
                self.add(k, 1);
            }
            return;
        }
        // Align the local array to page boundaries.
        let base = kmin & !(PAGE as u64 - 1);
        let span = (kmax - base) as usize + 1;
        let mut local = [0u32; LOCAL + PAGE];
        for k in keys {
            local[(k - base) as usize] += 1;
        }
        for (pi, chunk) in local[..span.div_ceil(PAGE) * PAGE].chunks_exact(PAGE).enumerate() {
            if chunk.iter().all(|&c| c == 0) {
                continue;
            }
            let key0 = base + (pi * PAGE) as u64;
            self.add(key0, 0);
            let p = ((key0 >> PAGE_BITS) - self.first_page) as usize;
            let page = &mut self.pages[self.table[p] as usize - 1].0;
            for (dst, &c) in page.iter_mut().zip(chunk) {
                *dst += c;
            }
        }
    }

    fn merge(&mut self, other: &Hist) {
        for (key, c) in other.entries() {
            self.add(key, c);
        }
    }

    fn total(&self) -> u64 {
        self.pages.iter().flat_map(|p| p.0.iter()).map(|&c| u64::from(c)).sum()
    }
}

/// Histograms are stored as their non-zero buckets in key order, each key as its distance
/// from the previous one (small numbers: compact in a varint encoding).
impl Serialize for Hist {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut prev = 0u64;
        let deltas: Vec<(u64, u32)> = self
            .entries()
            .map(|(key, c)| {
                let delta = key - prev;
                prev = key;
                (delta, c)
            })
            .collect();
        deltas.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Hist {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Hist, D::Error> {
        let entries: Vec<(u64, u32)> = Vec::deserialize(d)?;
        let mut h = Hist::default();
        let mut key = 0u64;
        let n = entries.len();
        for (i, (delta, c)) in entries.into_iter().enumerate() {
            if (i > 0 && delta == 0) || c == 0 {
                return Err(serde::de::Error::custom("histogram buckets out of order or empty"));
            }
            // Keys of finite doubles are below 2²¹ (bits >> 42).
            key = key
                .checked_add(delta)
                .filter(|k| *k < (1u64 << 21))
                .ok_or_else(|| serde::de::Error::custom("histogram key out of range"))?;
            h.add(key, c);
            // A real histogram's pages are dense enough; a crafted one must not make us
            // allocate a page table far larger than its data.
            if h.table.len() > 64 * n + 4096 {
                return Err(serde::de::Error::custom("histogram too sparse to be genuine"));
            }
        }
        Ok(h)
    }
}

/// The summary of one series.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sketch {
    /// Values seen.
    pub count: u64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
    /// Exact fixed-point sum (value · 2²⁰, truncated toward zero per value).
    pub sum: i128,
    /// Values equal to zero.
    pub zeros: u64,
    /// Positive values.
    pub pos: Hist,
    /// Negative values (by magnitude).
    pub neg: Hist,
}

impl Default for Sketch {
    fn default() -> Self {
        Sketch {
            count: 0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            sum: 0,
            zeros: 0,
            pos: Hist::default(),
            neg: Hist::default(),
        }
    }
}

/// A quantile level as an exact fraction (so ranks are exact: `ceil(num · n / den)`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Level {
    /// Numerator.
    pub num: u64,
    /// Denominator.
    pub den: u64,
}

impl Level {
    /// `num / den`.
    pub const fn new(num: u64, den: u64) -> Level {
        Level { num, den }
    }

    /// The 1-based rank of the quantile among `n` sorted values: the smallest `r` with
    /// `r / n ≥ q`.
    pub fn rank(&self, n: u64) -> u64 {
        let r = (u128::from(self.num) * u128::from(n)).div_ceil(u128::from(self.den)) as u64;
        r.clamp(1, n.max(1))
    }
}

impl Sketch {
    /// Adds one value (must be finite).
    #[inline]
    pub fn add(&mut self, v: f64) {
        self.count += 1;
        if v < self.min {
            self.min = v;
        }
        if v > self.max {
            self.max = v;
        }
        self.sum += (v * SUM_SCALE) as i64 as i128;
        if v > 0.0 {
            self.pos.add(v.to_bits() >> SHIFT, 1);
        } else if v < 0.0 {
            self.neg.add((-v).to_bits() >> SHIFT, 1);
        } else {
            self.zeros += 1;
        }
    }

    /// Adds a block of values (the same result as adding them one by one). A block whose values
    /// are all equal — a fixed capacity, a zero gap — costs one histogram update.
    pub fn add_slice(&mut self, values: &[f64]) {
        let Some(&first) = values.first() else { return };
        let (mut lo, mut hi) = (first, first);
        let mut sum: i128 = 0;
        for &v in values {
            lo = lo.min(v);
            hi = hi.max(v);
            sum += (v * SUM_SCALE) as i64 as i128;
        }
        let n = values.len() as u64;
        self.count += n;
        self.min = self.min.min(lo);
        self.max = self.max.max(hi);
        self.sum += sum;
        if lo == hi {
            if first > 0.0 {
                self.pos.add(first.to_bits() >> SHIFT, n as u32);
            } else if first < 0.0 {
                self.neg.add((-first).to_bits() >> SHIFT, n as u32);
            } else {
                self.zeros += n;
            }
            return;
        }
        if lo > 0.0 {
            self.pos.add_keys(values.iter().map(|v| v.to_bits() >> SHIFT), values.len());
            return;
        }
        for &v in values {
            if v > 0.0 {
                self.pos.add(v.to_bits() >> SHIFT, 1);
            } else if v < 0.0 {
                self.neg.add((-v).to_bits() >> SHIFT, 1);
            } else {
                self.zeros += 1;
            }
        }
    }

    /// Merges another sketch in (exact: the result does not depend on the order of merges).
    pub fn merge(&mut self, o: &Sketch) {
        self.count += o.count;
        self.min = self.min.min(o.min);
        self.max = self.max.max(o.max);
        self.sum += o.sum;
        self.zeros += o.zeros;
        self.pos.merge(&o.pos);
        self.neg.merge(&o.neg);
    }

    /// The mean (from the exact sum).
    pub fn mean(&self) -> f64 {
        if self.count == 0 {
            return f64::NAN;
        }
        (self.sum as f64 / SUM_SCALE) / self.count as f64
    }

    /// The quantile at `level` (MODEL §6), rounded to a whole number when `integral`.
    pub fn quantile(&self, level: Level, integral: bool) -> f64 {
        if self.count == 0 {
            return f64::NAN;
        }
        let rank = level.rank(self.count);
        let mut seen = 0u64;
        let rep = |key: u64, negative: bool| -> f64 {
            let lo = f64::from_bits(key << SHIFT);
            let hi = f64::from_bits((key + 1) << SHIFT);
            let mut mid = 0.5 * (lo + hi);
            if !mid.is_finite() {
                mid = lo;
            }
            if integral {
                // A bucket narrower than 1 holds at most one whole number, ⌈lo⌉; a wider one
                // starts at ≥ 1024, where rounding adds at most 0.05 %.
                mid = if hi - lo < 1.0 { libm::ceil(lo) } else { libm::round(mid) };
            }
            if negative { -mid } else { mid }
        };
        let clamp = |x: f64| x.max(self.min).min(self.max);
        // Negative values from the most negative (largest magnitude) upwards.
        for (key, c) in self.neg.entries().rev() {
            seen += u64::from(c);
            if seen >= rank {
                return clamp(rep(key, true));
            }
        }
        seen += self.zeros;
        if seen >= rank {
            return clamp(0.0);
        }
        for (key, c) in self.pos.entries() {
            seen += u64::from(c);
            if seen >= rank {
                return clamp(rep(key, false));
            }
        }
        self.max
    }

    /// Internal consistency (for reading partial results): counts agree.
    pub fn is_consistent(&self) -> bool {
        self.pos.total() + self.neg.total() + self.zeros == self.count
            && (self.count == 0 || (self.min.is_finite() && self.max.is_finite() && self.min <= self.max))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// MODEL §6's estimator on sorted data: the lowest value whose empirical CDF ≥ q.
    fn exact_quantile(sorted: &[f64], level: Level) -> f64 {
        sorted[(level.rank(sorted.len() as u64) - 1) as usize]
    }

    #[test]
    fn ranks_are_exact_fractions() {
        // 0.05 · 10000 = 500 exactly; a float computation gives 500.00000000000006 → 501.
        assert_eq!(Level::new(5, 100).rank(10_000), 500);
        assert_eq!(Level::new(1, 2).rank(3), 2);
        assert_eq!(Level::new(1, 2).rank(4), 2);
        assert_eq!(Level::new(95, 100).rank(1), 1);
    }

    #[test]
    fn identical_values_give_exact_quantiles() {
        let mut s = Sketch::default();
        for _ in 0..1000 {
            s.add(123_456.789);
        }
        for l in [Level::new(5, 100), Level::new(1, 2), Level::new(95, 100)] {
            assert_eq!(s.quantile(l, false), 123_456.789);
        }
        assert!((s.mean() - 123_456.789).abs() < 1e-5);
    }

    #[test]
    fn quantiles_within_accuracy_contract() {
        let mut values: Vec<f64> =
            (0..5000).map(|i| 1000.0 + (i as f64 * 7.31).sin() * 800.0 + i as f64 * 0.37).collect();
        values.push(0.0);
        values.push(-250.0);
        let mut s = Sketch::default();
        for v in &values {
            s.add(*v);
        }
        values.sort_by(f64::total_cmp);
        for num in [1, 5, 10, 25, 50, 75, 90, 95, 99] {
            let l = Level::new(num, 100);
            let (got, want) = (s.quantile(l, false), exact_quantile(&values, l));
            assert!((got - want).abs() <= want.abs() * 0.0005 + 1e-12, "q{num}: {got} vs {want}");
        }
        assert_eq!(s.quantile(Level::new(1, 10_000), false), -250.0);
    }

    #[test]
    fn whole_number_quantiles_within_accuracy_contract() {
        let mut values: Vec<f64> = (0..4000).map(|i| (300 + (i * 7919) % 5000) as f64).collect();
        let mut s = Sketch::default();
        values.iter().for_each(|v| s.add(*v));
        values.sort_by(f64::total_cmp);
        for num in [1, 5, 10, 25, 50, 75, 90, 95, 99] {
            let l = Level::new(num, 100);
            let (got, want) = (s.quantile(l, true), exact_quantile(&values, l));
            assert_eq!(got.fract(), 0.0);
            assert!((got - want).abs() <= want * 0.001, "q{num}: {got} vs {want}");
        }
    }

    #[test]
    fn whole_numbers_stay_whole() {
        let mut s = Sketch::default();
        for v in [3.0, 3.0, 4.0, 7.0, 1500.0] {
            s.add(v);
        }
        assert_eq!(s.quantile(Level::new(1, 2), true), 4.0);
        assert_eq!(s.quantile(Level::new(80, 100), true), 7.0);
    }

    #[test]
    fn blocks_equal_single_adds() {
        let values: Vec<f64> =
            (0..500).map(|i| if i % 7 == 0 { 0.0 } else { (i as f64 * 0.77).sin() * 300.0 }).collect();
        let mut one = Sketch::default();
        values.iter().for_each(|v| one.add(*v));
        let mut blocks = Sketch::default();
        for chunk in values.chunks(37) {
            blocks.add_slice(chunk);
        }
        blocks.add_slice(&[5.0; 10]);
        one.add_slice(&[]);
        (0..10).for_each(|_| one.add(5.0));
        assert_eq!(one, blocks);
    }

    #[test]
    fn merging_is_exact_and_order_free() {
        let values: Vec<f64> = (0..2000).map(|i| (i as f64 * 1.618).fract() * 1e5 - 2e4).collect();
        let mut one = Sketch::default();
        values.iter().for_each(|v| one.add(*v));
        let mut a = Sketch::default();
        let mut b = Sketch::default();
        values[..700].iter().for_each(|v| a.add(*v));
        values[700..].iter().for_each(|v| b.add(*v));
        let mut ab = a.clone();
        ab.merge(&b);
        let mut ba = b.clone();
        ba.merge(&a);
        for m in [&ab, &ba] {
            assert_eq!(m.count, one.count);
            assert_eq!(m.sum, one.sum);
            assert_eq!(m.min, one.min);
            for num in [5, 50, 95] {
                assert_eq!(m.quantile(Level::new(num, 100), false), one.quantile(Level::new(num, 100), false));
            }
        }
    }
}
