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

/// A dense histogram over a contiguous range of bucket keys. Equality compares contents, not
/// the slack left by growth (which depends on the order values arrived in).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Hist {
    /// Key of `counts[0]`.
    pub first: u64,
    /// Counts per key.
    pub counts: Vec<u32>,
}

impl PartialEq for Hist {
    fn eq(&self, other: &Hist) -> bool {
        self.trimmed() == other.trimmed()
    }
}

impl Hist {
    /// The non-zero range: (first key, counts).
    fn trimmed(&self) -> (u64, &[u32]) {
        let start = self.counts.iter().position(|&c| c > 0).unwrap_or(self.counts.len());
        let end = self.counts.iter().rposition(|&c| c > 0).map_or(start, |e| e + 1);
        (self.first + start as u64, &self.counts[start..end])
    }

    #[inline]
    fn add(&mut self, key: u64, n: u32) {
        if self.counts.is_empty() {
            self.first = key;
            self.counts.push(n);
            return;
        }
        if key < self.first {
            // Grow downwards with slack, so a slowly widening range reallocates rarely.
            let need = (self.first - key) as usize;
            let grow = need.max(self.counts.len() / 2).min(self.first as usize);
            let grow = grow.max(need);
            let mut v = vec![0u32; grow + self.counts.len()];
            v[grow..].copy_from_slice(&self.counts);
            self.counts = v;
            self.first -= grow as u64;
        }
        let i = (key - self.first) as usize;
        if i >= self.counts.len() {
            let new_len = (i + 1).max(self.counts.len() + self.counts.len() / 2);
            self.counts.resize(new_len, 0);
        }
        self.counts[i] += n;
    }

    fn merge(&mut self, other: &Hist) {
        for (i, &c) in other.counts.iter().enumerate() {
            if c > 0 {
                self.add(other.first + i as u64, c);
            }
        }
    }

    fn total(&self) -> u64 {
        self.counts.iter().map(|&c| u64::from(c)).sum()
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
                mid = libm::round(mid);
            }
            if negative { -mid } else { mid }
        };
        let clamp = |x: f64| x.max(self.min).min(self.max);
        // Negative values from the most negative (largest magnitude) upwards.
        for (i, &c) in self.neg.counts.iter().enumerate().rev() {
            seen += u64::from(c);
            if seen >= rank {
                return clamp(rep(self.neg.first + i as u64, true));
            }
        }
        seen += self.zeros;
        if seen >= rank {
            return clamp(0.0);
        }
        for (i, &c) in self.pos.counts.iter().enumerate() {
            seen += u64::from(c);
            if seen >= rank {
                return clamp(rep(self.pos.first + i as u64, false));
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
    fn whole_numbers_stay_whole() {
        let mut s = Sketch::default();
        for v in [3.0, 3.0, 4.0, 7.0, 1500.0] {
            s.add(v);
        }
        assert_eq!(s.quantile(Level::new(1, 2), true), 4.0);
        assert_eq!(s.quantile(Level::new(80, 100), true), 7.0);
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
