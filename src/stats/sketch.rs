//! A streaming, exactly mergeable summary of one series across draws: count, min, max, an exact
//! sum, and a histogram bucketed by the float's bits (MODEL §6).
//!
//! A positive value's bucket is its IEEE-754 bits shifted right by `52 − bits`: the exponent
//! and the top `bits` mantissa bits. A bucket spans a relative width of at most `2^-bits`; the
//! reported value is the bucket's midpoint clamped to the observed [min, max], so a quantile is
//! within `2^-(bits+1)` of MODEL §6's estimator — the lowest observed value whose empirical CDF
//! is ≥ q — and exact when all draws are equal. Series of real numbers use 9 bits (error
//! ≤ 0.098 %). Whole-number series (facility counts, integral demand, capacity and gaps) use 10
//! bits on `v + 1024` ([`WHOLE_OFFSET`]) and report whole numbers: exact below 1,024 and within
//! 0.098 % above.
//!
//! The sum is kept in fixed point (2⁻²⁰, each value rounded) in an `i128`, so sums, counts and histograms all merge
//! exactly: any split of the draws gives the same bytes.

use serde::{Deserialize, Serialize};

/// Mantissa bits for series of real numbers: error ≤ 2⁻¹⁰ ≈ 0.098 %.
pub const COARSE_BITS: u8 = 9;
/// Mantissa bits for whole-number series, bucketed with [`WHOLE_OFFSET`] (see the module docs).
pub const FINE_BITS: u8 = 10;
/// Whole-number series bucket `v + 1024` rather than `v`: every bucket is then at least 1 wide,
/// so the whole numbers below 1,024 fill consecutive buckets (32 to a page) instead of leaving
/// most buckets of their pages empty — a series of counts from 0 to a few hundred used up to
/// 32 pages an octave, and more as draws reached new values. The bucket holding `v + 1024` is
/// `w` wide with `v + 1024 ≥ 1024·w`, so `v ≥ 1024·(w − 1)`: a bucket of width 1 holds one
/// whole number (reported exactly), a wider one is reported within `w/2 ≤ v/1024` (0.098 %).
pub const WHOLE_OFFSET: f64 = 1024.0;
/// Fixed-point scale of the exact sum.
const SUM_SCALE: f64 = (1u64 << 20) as f64;
/// 1.5·2⁵²: `x + ROUND` holds round(x) in its low mantissa bits for |x| < 2⁵¹.
const ROUND: f64 = 6_755_399_441_055_744.0;
const ROUND_BITS: i64 = 0x4338_0000_0000_0000;

/// Pages of buckets [`Hist::add_keys`] counts locally: 32,768 buckets, 32 octaves of
/// whole-number keys (a series spanning more goes key by key).
const LOCAL_PAGES: usize = 1024;

/// Per-thread counting arrays of [`Hist::add_keys`] (all zero between calls): counts per
/// bucket and, per page, whether any count in it is non-zero.
#[derive(Default)]
struct Scratch {
    counts: Vec<u32>,
    marks: Vec<bool>,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> =
        const { std::cell::RefCell::new(Scratch { counts: Vec::new(), marks: Vec::new() }) };
}

/// Buckets per page: 32 `u16` counts fill one cache line.
const PAGE: usize = 32;
const PAGE_BITS: u32 = 5;

/// One page of counts (the low 16 bits of each), aligned to a cache line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(align(64))]
struct Page([u16; PAGE]);

/// A sparse histogram over bucket keys: pages of 32 buckets allocated only where values fall,
/// found through a page table, so memory follows the values seen rather than the range they
/// span. Counts keep their low 16 bits in the page (half the cache lines of `u32` counts: the
/// aggregation is bound by how many lines it touches) and carry the rest into a side page
/// allocated only for pages that overflow. Equality compares contents.
#[derive(Clone, Debug, Default)]
pub struct Hist {
    first_page: u64,
    /// 0 = no page; otherwise 1 + index into `pages`.
    table: Vec<u32>,
    pages: Vec<Page>,
    /// Per page: 0 = no high part; otherwise 1 + index into `highs`.
    high: Vec<u32>,
    /// Counts above 16 bits, in units of 2¹⁶.
    highs: Vec<[u32; PAGE]>,
}

impl PartialEq for Hist {
    fn eq(&self, other: &Hist) -> bool {
        self.entries().eq(other.entries())
    }
}

impl Hist {
    fn count_at(&self, pi: usize, k: usize) -> u64 {
        let low = u64::from(self.pages[pi].0[k]);
        match self.high[pi] {
            0 => low,
            h => low + (u64::from(self.highs[h as usize - 1][k]) << 16),
        }
    }

    /// Non-zero buckets `(key, count)` in increasing key order.
    pub fn entries(&self) -> impl DoubleEndedIterator<Item = (u64, u64)> + '_ {
        self.table.iter().enumerate().filter(|(_, t)| **t != 0).flat_map(move |(i, &t)| {
            let base = (self.first_page + i as u64) << PAGE_BITS;
            let pi = t as usize - 1;
            (0..PAGE).filter_map(move |k| {
                let c = self.count_at(pi, k);
                (c > 0).then_some((base + k as u64, c))
            })
        })
    }

    /// Non-empty pages in increasing key order: `(page index, key of its first bucket)`.
    fn page_list(&self) -> impl DoubleEndedIterator<Item = (usize, u64)> + '_ {
        let first = self.first_page;
        self.table
            .iter()
            .enumerate()
            .filter(|(_, t)| **t != 0)
            .map(move |(i, &t)| (t as usize - 1, (first + i as u64) << PAGE_BITS))
    }

    /// The count of all buckets of page `pi`.
    fn page_total(&self, pi: usize) -> u64 {
        let low: u64 = self.pages[pi].0.iter().map(|&c| u64::from(c)).sum();
        match self.high[pi] {
            0 => low,
            h => low + (self.highs[h as usize - 1].iter().map(|&c| u64::from(c)).sum::<u64>() << 16),
        }
    }

    /// [`Sketch::walk`] over this histogram: its non-empty buckets in increasing key order (in
    /// decreasing order if `down`), each count added to `seen` and then `settle(key, seen)`
    /// called, which gives the rank needed next, or `None` once every level is settled: the
    /// walk then stops and returns false. With `pass_pages`, a page whose total leaves `seen`
    /// below `need` is passed over whole.
    fn walk_ranks(
        &self,
        down: bool,
        pass_pages: bool,
        seen: &mut u64,
        need: &mut u64,
        settle: &mut dyn FnMut(u64, u64) -> Option<u64>,
    ) -> bool {
        let mut pages = self.page_list();
        while let Some((pi, base)) = if down { pages.next_back() } else { pages.next() } {
            let total = self.page_total(pi);
            if pass_pages && *seen + total < *need {
                *seen += total;
                continue;
            }
            for i in 0..PAGE {
                let k = if down { PAGE - 1 - i } else { i };
                let c = self.count_at(pi, k);
                if c > 0 {
                    *seen += c;
                    match settle(base + k as u64, *seen) {
                        Some(r) => *need = r,
                        None => return false,
                    }
                }
            }
        }
        true
    }

    /// Memory held, in bytes.
    pub fn bytes(&self) -> usize {
        self.table.capacity() * 4
            + self.pages.capacity() * std::mem::size_of::<Page>()
            + self.high.capacity() * 4
            + self.highs.capacity() * PAGE * 4
    }

    /// Asks the CPU to start loading this histogram's page table and pages (at most 48 cache
    /// lines) into cache, so that the next series' updates do not wait on memory one dependent
    /// load at a time: the aggregation visits 12,000+ histograms per block, which do not fit in
    /// cache, and is otherwise bound by these misses.
    #[inline]
    fn prefetch(&self) {
        for line in self.table.chunks(16).take(8) {
            prefetch(line.as_ptr().cast());
        }
        for page in self.pages.iter().take(40) {
            prefetch(std::ptr::from_ref(page).cast());
        }
    }

    /// Adds `n` to bucket `k` of page `pi`, carrying above 16 bits.
    #[inline]
    fn bump(&mut self, pi: usize, k: usize, n: u64) {
        let t = u64::from(self.pages[pi].0[k]) + n;
        self.pages[pi].0[k] = (t & 0xffff) as u16;
        if t > 0xffff {
            self.carry(pi, k, t >> 16);
        }
    }

    /// Adds the counts of a page's 32 buckets to page `pi` (all at once unless one of them
    /// carries above 16 bits).
    #[inline]
    fn add_page<C: Copy + Into<u32>>(&mut self, pi: usize, counts: &[C]) {
        let page = &mut self.pages[pi].0;
        let mut sums = [0u32; PAGE];
        let mut over = false;
        for k in 0..PAGE.min(counts.len()) {
            // Counts below 2¹⁶ (u16) or a block's (u32, at most the values of one block).
            sums[k] = u32::from(page[k]).saturating_add(counts[k].into());
            over |= sums[k] > 0xffff;
        }
        if over {
            for (k, &c) in counts.iter().enumerate() {
                let c: u32 = c.into();
                if c > 0 {
                    self.bump(pi, k, u64::from(c));
                }
            }
        } else {
            for k in 0..PAGE.min(counts.len()) {
                page[k] = sums[k] as u16;
            }
        }
    }

    #[cold]
    fn carry(&mut self, pi: usize, k: usize, units: u64) {
        if self.high[pi] == 0 {
            self.highs.push([0; PAGE]);
            self.high[pi] = self.highs.len() as u32;
        }
        let h = &mut self.highs[self.high[pi] as usize - 1][k];
        *h = h.saturating_add(units.min(u64::from(u32::MAX)) as u32);
    }

    /// The page index holding `key`, creating the page if needed.
    #[inline]
    fn page_of(&mut self, key: u64) -> usize {
        let p = (key >> PAGE_BITS).wrapping_sub(self.first_page) as usize;
        if let Some(&t) = self.table.get(p)
            && t != 0
        {
            return t as usize - 1;
        }
        self.new_page(key)
    }

    #[cold]
    fn new_page(&mut self, key: u64) -> usize {
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
            // Grow by a quarter, not the doubling `push` would do: pages are most of a run's
            // memory, and a doubled vector leaves a third of it unused on average.
            if self.pages.len() == self.pages.capacity() {
                self.pages.reserve_exact(self.pages.len() / 4 + 4);
                self.high.reserve_exact(self.pages.capacity() - self.high.len());
            }
            self.pages.push(Page::default());
            self.high.push(0);
            self.table[p] = self.pages.len() as u32;
        }
        self.table[p] as usize - 1
    }

    #[inline]
    fn add(&mut self, key: u64, n: u64) {
        let pi = self.page_of(key);
        self.bump(pi, (key as usize) & (PAGE - 1), n);
    }

    /// Adds many keys (a block of one series): counted in a local array (when they span fewer
    /// than [`LOCAL_PAGES`] pages), marking the pages they fall in, then added page by page,
    /// so each page is looked up and touched once per block, and pages no key fell in cost
    /// one byte compared (a series of gaps spans many octaves with few values in each).
    fn add_keys(&mut self, keys: impl Iterator<Item = u64> + Clone, n: usize, range: Option<(u64, u64)>) {
        if n == 0 {
            return;
        }
        let (kmin, kmax) = range.unwrap_or_else(|| {
            let (mut kmin, mut kmax) = (u64::MAX, 0);
            for k in keys.clone() {
                kmin = kmin.min(k);
                kmax = kmax.max(k);
            }
            (kmin, kmax)
        });
        let base = kmin & !(PAGE as u64 - 1);
        let pages = ((kmax - base) as usize >> PAGE_BITS) + 1;
        if n < 16 || pages > LOCAL_PAGES {
            for k in keys {
                self.add(k, 1);
            }
            return;
        }
        // The arrays live in a per-thread scratch buffer, all zero between calls: only the
        // pages marked are cleared after use (clearing all of it would cost more than the
        // counting).
        SCRATCH.with(|cell| {
            let mut scratch = cell.borrow_mut();
            let Scratch { counts, marks } = &mut *scratch;
            if counts.len() < LOCAL_PAGES * PAGE {
                counts.resize(LOCAL_PAGES * PAGE, 0);
                marks.resize(LOCAL_PAGES, false);
            }
            for k in keys {
                let i = (k - base) as usize;
                counts[i] += 1;
                // A plain store, not a read-modify-write: no chain of dependent updates.
                marks[i >> PAGE_BITS] = true;
            }
            for p in 0..pages {
                if !marks[p] {
                    continue;
                }
                marks[p] = false;
                let chunk = &mut counts[p * PAGE..(p + 1) * PAGE];
                let pi = self.page_of(base + (p * PAGE) as u64);
                self.add_page(pi, chunk);
                chunk.fill(0);
            }
        });
    }

    fn merge(&mut self, other: &Hist) {
        for (key, c) in other.entries() {
            self.add(key, c);
        }
    }

    fn total(&self) -> u64 {
        self.entries().map(|(_, c)| c).sum()
    }
}

/// A hint to load the cache line holding `p` (no effect where the target has no such hint).
#[inline(always)]
fn prefetch(p: *const i8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is only a hint: it never faults, whatever the address, and changes no
    // memory. `p` points into a live allocation anyway.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Histograms are stored as their non-zero buckets in key order, each key as its distance
/// from the previous one (small numbers: compact in a varint encoding).
impl Serialize for Hist {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut prev = 0u64;
        let deltas: Vec<(u64, u64)> = self
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
        let entries: Vec<(u64, u64)> = Vec::deserialize(d)?;
        let mut h = Hist::default();
        let mut key = 0u64;
        let n = entries.len();
        for (i, (delta, c)) in entries.into_iter().enumerate() {
            if (i > 0 && delta == 0) || c == 0 || c > (1u64 << 46) {
                return Err(serde::de::Error::custom("histogram buckets out of order, empty or too large"));
            }
            // Keys of finite doubles are below 2²² (bits >> 42).
            key = key
                .checked_add(delta)
                .filter(|k| *k < (1u64 << 22))
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
    /// Exact fixed-point sum (value · 2²⁰, rounded to the nearest integer, ties to even).
    pub sum: i128,
    /// Values equal to zero.
    pub zeros: u64,
    /// Mantissa bits of the bucket keys ([`COARSE_BITS`] or [`FINE_BITS`]).
    pub bits: u8,
    /// Positive values.
    pub pos: Hist,
    /// Negative values (by magnitude).
    pub neg: Hist,
}

impl Default for Sketch {
    fn default() -> Self {
        Sketch::new(COARSE_BITS)
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
    /// An empty sketch with `bits` mantissa bits per bucket key.
    pub fn new(bits: u8) -> Sketch {
        Sketch {
            count: 0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            sum: 0,
            zeros: 0,
            bits,
            pos: Hist::default(),
            neg: Hist::default(),
        }
    }

    #[inline]
    fn shift(&self) -> u32 {
        52 - u32::from(self.bits.clamp(1, 20))
    }

    /// What is added to a magnitude before it is bucketed: [`WHOLE_OFFSET`] for whole-number
    /// series ([`FINE_BITS`]), nothing for real-valued ones.
    #[inline]
    fn offset(&self) -> f64 {
        if self.bits == FINE_BITS { WHOLE_OFFSET } else { 0.0 }
    }

    /// Starts loading this sketch's histogram into cache (call it one series ahead).
    #[inline]
    pub fn prefetch(&self) {
        self.pos.prefetch();
    }

    /// Adds one value (must be finite).
    #[inline]
    pub fn add(&mut self, v: f64) {
        self.add_slice(std::slice::from_ref(&v));
    }

    /// Adds a block of values (the same result as adding them one by one). A block whose values
    /// are all equal — a fixed capacity, a zero gap — costs one histogram update.
    pub fn add_slice(&mut self, values: &[f64]) {
        let Some(&first) = values.first() else { return };
        let shift = self.shift();
        // One pass: min and max in four lanes (plain comparisons — values are finite — which
        // vectorise, unlike `f64::min`'s NaN rules) and the exact fixed-point sum, value · 2²⁰
        // rounded to an integer. Inside ±2³⁰ the rounding is the float trick (adding 1.5·2⁵²
        // puts the integer in the low mantissa bits); outside it, a second, checked pass.
        let mut lo4 = [first; 4];
        let mut hi4 = [first; 4];
        let mut part4 = [0i64; 4];
        let chunks = values.chunks_exact(4);
        let rest = chunks.remainder();
        for c in chunks {
            for j in 0..4 {
                lo4[j] = if c[j] < lo4[j] { c[j] } else { lo4[j] };
                hi4[j] = if c[j] > hi4[j] { c[j] } else { hi4[j] };
                part4[j] = part4[j].wrapping_add((c[j] * SUM_SCALE + ROUND).to_bits() as i64 - ROUND_BITS);
            }
        }
        for &v in rest {
            lo4[0] = if v < lo4[0] { v } else { lo4[0] };
            hi4[0] = if v > hi4[0] { v } else { hi4[0] };
            part4[0] = part4[0].wrapping_add((v * SUM_SCALE + ROUND).to_bits() as i64 - ROUND_BITS);
        }
        let lo = lo4.iter().copied().fold(first, |a, b| if b < a { b } else { a });
        let hi = hi4.iter().copied().fold(first, |a, b| if b > a { b } else { a });
        let sum: i128 = if lo > -1e9 && hi < 1e9 && values.len() <= 1 << 20 {
            i128::from(part4.iter().fold(0i64, |a, b| a.wrapping_add(*b)))
        } else {
            values.iter().map(|v| libm::rint(v * SUM_SCALE) as i128).sum()
        };
        self.add_summary(values.len() as u64, lo, hi, sum);
        let offset = self.offset();
        if offset == 0.0 {
            self.add_keyed(values, lo, hi, |m: f64| m.to_bits() >> shift);
        } else {
            self.add_keyed(values, lo, hi, |m: f64| (m + offset).to_bits() >> shift);
        }
    }

    /// Adds a block's count, extremes and exact fixed-point sum.
    #[inline]
    fn add_summary(&mut self, n: u64, lo: f64, hi: f64, sum: i128) {
        self.count += n;
        // `+ 0.0` turns −0 into +0: which zero a tie keeps would otherwise depend on the
        // order blocks and shards arrive in, and a partial result must not.
        self.min = self.min.min(lo + 0.0);
        self.max = self.max.max(hi + 0.0);
        self.sum += sum;
    }

    /// Adds `n` values equal to `v` to the histogram (or the zeros): one update.
    #[inline]
    fn add_same(&mut self, v: f64, n: u64) {
        let (shift, offset) = (self.shift(), self.offset());
        let key = |m: f64| (m + offset).to_bits() >> shift;
        if v > 0.0 {
            self.pos.add(key(v), n);
        } else if v < 0.0 {
            self.neg.add(key(-v), n);
        } else {
            self.zeros += n;
        }
    }

    /// The bucket-key parameters `(shift, offset)` of this sketch (see [`Sketch::encode`]).
    #[inline]
    pub(crate) fn key_params(&self) -> (u32, f64) {
        (self.shift(), self.offset())
    }

    /// A finite value as a 32-bit code for [`Sketch::add_encoded`], with this sketch's
    /// [`key_params`](Sketch::key_params): 0 for zero; otherwise 1 + the bucket key of the
    /// magnitude (below 2²², so it fits), with bit 31 set for a negative value. Branch-free, so
    /// a draw's values are encoded four to a vector.
    #[inline(always)]
    pub(crate) fn encode(v: f64, shift: u32, offset: f64) -> u32 {
        // Keys below 2²² (9 or 10 bits: shift ≥ 42) leave bit 31 for the sign.
        debug_assert!(shift >= 42);
        let key = (((v.abs() + offset).to_bits() >> shift) as u32).wrapping_add(1);
        let code = key | (((v.to_bits() >> 63) as u32) << 31);
        if v == 0.0 { 0 } else { code }
    }

    /// Adds the summary of a block of `n` values (count, extremes and exact fixed-point sum,
    /// as [`Sketch::add_slice`] computes them) and their histogram from `codes`, the values
    /// encoded by [`Sketch::encode`]. `codes` is not read when `lo == hi`; otherwise it holds
    /// `n` codes. The same result as `add_slice` of the values.
    pub(crate) fn add_encoded(&mut self, n: u64, lo: f64, hi: f64, sum: i128, codes: &[u32]) {
        if n == 0 {
            return;
        }
        self.add_summary(n, lo, hi, sum);
        if lo == hi {
            self.add_same(lo, n);
            return;
        }
        let (shift, offset) = (self.shift(), self.offset());
        let key = |m: f64| (m + offset).to_bits() >> shift;
        let decode = |c: u32| u64::from((c & 0x7fff_ffff) - 1);
        if lo > 0.0 {
            let range = (key(lo), key(hi));
            self.pos.add_keys(codes.iter().map(|&c| decode(c)), codes.len(), Some(range));
            return;
        }
        if lo >= 0.0 {
            let zeros = codes.iter().filter(|&&c| c == 0).count();
            self.zeros += zeros as u64;
            let positive = codes.iter().filter(|&&c| c != 0).map(|&c| decode(c));
            self.pos.add_keys(positive, codes.len() - zeros, None);
            return;
        }
        for &c in codes {
            if c == 0 {
                self.zeros += 1;
            } else if c >> 31 == 0 {
                self.pos.add(decode(c), 1);
            } else {
                self.neg.add(decode(c), 1);
            }
        }
    }

    /// The bucket keys of a block's positive values, when all of them are positive and not all
    /// equal: `(key of lo, key of hi)`, every value's key between them (keys rise with the
    /// value). `None` otherwise.
    pub(crate) fn key_range(&self, lo: f64, hi: f64) -> Option<(u64, u64)> {
        if lo > 0.0 && lo != hi {
            let (shift, offset) = (self.shift(), self.offset());
            Some(((lo + offset).to_bits() >> shift, (hi + offset).to_bits() >> shift))
        } else {
            None
        }
    }

    /// Adds a block of `n` positive values counted by bucket: `counts[i]` values in the bucket
    /// of key `base + i` (`base` a multiple of 32), with the block's extremes and exact sum as
    /// for [`Sketch::add_encoded`]. Leaves `counts` all zero.
    pub(crate) fn add_counted(&mut self, n: u64, lo: f64, hi: f64, sum: i128, base: u64, counts: &mut [u16]) {
        debug_assert!(lo > 0.0 && base.is_multiple_of(PAGE as u64));
        self.add_summary(n, lo, hi, sum);
        for (p, chunk) in counts.chunks_mut(PAGE).enumerate() {
            if chunk.iter().all(|&c| c == 0) {
                continue;
            }
            let pi = self.pos.page_of(base + (p * PAGE) as u64);
            self.pos.add_page(pi, chunk);
            chunk.fill(0);
        }
    }

    /// The fixed-point contribution of `v` to the exact sum, for |v| < 10⁹ (where the
    /// float trick is exact); wrapping, so a contribution added and subtracted again cancels
    /// whatever `v` is.
    #[inline(always)]
    pub(crate) fn fixed_fast(v: f64) -> i64 {
        ((v * SUM_SCALE + ROUND).to_bits() as i64).wrapping_sub(ROUND_BITS)
    }

    /// The exact fixed-point value of any finite `v` (rounded to the nearest, ties to even).
    pub(crate) fn fixed_exact(v: f64) -> i128 {
        libm::rint(v * SUM_SCALE) as i128
    }

    /// The histogram part of [`Sketch::add_slice`]: `key` maps a magnitude > 0 to its bucket
    /// (monotone), `lo` and `hi` are the block's extremes.
    #[inline(always)]
    fn add_keyed(&mut self, values: &[f64], lo: f64, hi: f64, key: impl Fn(f64) -> u64 + Copy) {
        if lo == hi {
            self.add_same(lo, values.len() as u64);
            return;
        }
        if lo > 0.0 {
            // Positive keys are monotone in the value: the range is known from min and max.
            let range = (key(lo), key(hi));
            self.pos.add_keys(values.iter().map(|v| key(*v)), values.len(), Some(range));
            return;
        }
        if lo >= 0.0 {
            // Zeros and positives (a gap that is often zero).
            let zeros = values.iter().filter(|v| **v == 0.0).count();
            self.zeros += zeros as u64;
            let positive = values.iter().filter(|v| **v > 0.0).map(|v| key(*v));
            self.pos.add_keys(positive, values.len() - zeros, None);
            return;
        }
        for &v in values {
            if v > 0.0 {
                self.pos.add(key(v), 1);
            } else if v < 0.0 {
                self.neg.add(key(-v), 1);
            } else {
                self.zeros += 1;
            }
        }
    }

    /// Merges another sketch of the same resolution in (exact: the result does not depend on
    /// the order of merges).
    pub fn merge(&mut self, o: &Sketch) {
        debug_assert_eq!(self.bits, o.bits);
        self.count += o.count;
        self.min = self.min.min(o.min + 0.0);
        self.max = self.max.max(o.max + 0.0);
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

    /// The quantile at `level` (MODEL §6), a whole number when `integral`.
    pub fn quantile(&self, level: Level, integral: bool) -> f64 {
        self.quantiles(&[level], integral)[0]
    }

    /// The quantiles at several levels (in any order) in one pass over the histogram: each the
    /// same value [`Sketch::quantile`] gives for its level.
    pub fn quantiles(&self, levels: &[Level], integral: bool) -> Vec<f64> {
        self.walk(levels, integral, true)
    }

    /// [`Sketch::quantiles`], passing over whole pages whose count does not reach the next
    /// rank if `pass_pages` (the same result: a test compares both).
    fn walk(&self, levels: &[Level], integral: bool, pass_pages: bool) -> Vec<f64> {
        let mut out = vec![f64::NAN; levels.len()];
        if self.count == 0 {
            return out;
        }
        let ranks: Vec<u64> = levels.iter().map(|l| l.rank(self.count)).collect();
        let mut order: Vec<usize> = (0..levels.len()).collect();
        order.sort_by_key(|&i| ranks[i]);
        let (shift, offset) = (self.shift(), self.offset());
        // Whole-number series report whole numbers whatever the caller asks.
        let integral = integral || self.bits == FINE_BITS;
        let rep = |key: u64, negative: bool| -> f64 {
            let lo = f64::from_bits(key << shift) - offset;
            let hi = f64::from_bits((key + 1) << shift) - offset;
            let mut mid = 0.5 * (lo + hi);
            if !mid.is_finite() {
                mid = lo;
            }
            if integral {
                // A bucket at most 1 wide holds one whole number at most, ⌈lo⌉; a wider one is
                // reported rounded (within half its width: see WHOLE_OFFSET).
                mid = if hi - lo <= 1.0 { libm::ceil(lo) } else { libm::round(mid) };
            }
            let v = if negative { -mid } else { mid };
            v.max(self.min).min(self.max)
        };
        // `levels` is not empty here (`count > 0` and `order` is as long as `levels`), or
        // nothing is left to settle.
        let Some(mut need) = order.first().map(|&i| ranks[i]) else { return out };
        // Walks the buckets from the lowest value up; each level takes the first bucket at
        // which the running count reaches its rank.
        'walk: {
            let mut next = 0;
            let mut seen = 0u64;
            // Settles the levels whose rank `seen` reaches; the rank still to reach, if any.
            let mut settle = |seen: u64, value: &dyn Fn() -> f64| {
                while next < order.len() && ranks[order[next]] <= seen {
                    out[order[next]] = value();
                    next += 1;
                }
                order.get(next).map(|&i| ranks[i])
            };
            // Negative values from the most negative (largest magnitude) upwards.
            let neg = &mut |key: u64, seen: u64| settle(seen, &|| rep(key, true));
            if !self.neg.walk_ranks(true, pass_pages, &mut seen, &mut need, neg) {
                break 'walk;
            }
            seen += self.zeros;
            match settle(seen, &|| 0.0f64.max(self.min).min(self.max)) {
                Some(r) => need = r,
                None => break 'walk,
            }
            let pos = &mut |key: u64, seen: u64| settle(seen, &|| rep(key, false));
            if !self.pos.walk_ranks(false, pass_pages, &mut seen, &mut need, pos) {
                break 'walk;
            }
            settle(u64::MAX, &|| self.max);
        }
        out
    }

    /// Internal consistency (for reading partial results): counts agree.
    pub fn is_consistent(&self) -> bool {
        (COARSE_BITS..=FINE_BITS).contains(&self.bits)
            && self.pos.total() + self.neg.total() + self.zeros == self.count
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
    fn passing_over_pages_changes_no_quantile() {
        // Negatives, zeros and positives over many pages and octaves, counts carried above 16
        // bits, every level from 0 to 1 in steps of 1/200.
        let levels: Vec<Level> = (0..=200).map(|i| Level::new(i, 200)).collect();
        for bits in [COARSE_BITS, FINE_BITS] {
            let mut s = Sketch::new(bits);
            let mut x = 0.61f64;
            for i in 0..20_000 {
                x = (x * 3.97 * (1.0 - x)).clamp(1e-9, 1.0 - 1e-9);
                let v = match i % 11 {
                    0 => 0.0,
                    1..=3 => -(x * 1e5),
                    _ => x.powi(3) * 1e7,
                };
                s.add(v);
                if i % 997 == 0 || i < 40 {
                    for integral in [false, true] {
                        assert_eq!(s.walk(&levels, integral, true), s.walk(&levels, integral, false), "{i}");
                    }
                }
                if i == 10_000 {
                    s.add_encoded(200_000, 123.0, 123.0, 200_000 * Sketch::fixed_exact(123.0), &[]);
                }
            }
            for integral in [false, true] {
                assert_eq!(s.walk(&levels, integral, true), s.walk(&levels, integral, false));
            }
        }
    }

    #[test]
    fn quantiles_in_one_pass_equal_each_level_on_its_own() {
        // Negative, zero and positive values; levels unsorted, repeated, at both ends.
        let mut s = Sketch::new(COARSE_BITS);
        let mut x = 0.37f64;
        for i in 0..5000 {
            x = (x * 3.9 * (1.0 - x)).clamp(1e-9, 1.0 - 1e-9);
            s.add(if i % 7 == 0 { 0.0 } else { (x - 0.3) * 1e4 });
        }
        let levels = [
            Level::new(95, 100),
            Level::new(5, 100),
            Level::new(50, 100),
            Level::new(5, 100),
            Level::new(0, 100),
            Level::new(100, 100),
            Level::new(1, 7),
            Level::new(25, 100),
        ];
        for integral in [false, true] {
            let together = s.quantiles(&levels, integral);
            let alone: Vec<f64> = levels.iter().map(|l| s.quantile(*l, integral)).collect();
            assert_eq!(together, alone);
        }
        // And against MODEL §6's estimator on the sorted data (to the bucket's accuracy).
        let mut sorted = Vec::new();
        let mut x = 0.37f64;
        for i in 0..5000 {
            x = (x * 3.9 * (1.0 - x)).clamp(1e-9, 1.0 - 1e-9);
            sorted.push(if i % 7 == 0 { 0.0 } else { (x - 0.3) * 1e4 });
        }
        sorted.sort_by(f64::total_cmp);
        for (l, q) in levels.iter().zip(s.quantiles(&levels, false)) {
            let exact = exact_quantile(&sorted, *l);
            assert!((q - exact).abs() <= exact.abs() * 0.001, "{l:?}: {q} vs {exact}");
        }
        assert!(Sketch::new(COARSE_BITS).quantiles(&levels, false).iter().all(|q| q.is_nan()));
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
            assert!((got - want).abs() <= want.abs() * 0.001 + 1e-12, "q{num}: {got} vs {want}");
        }
        assert_eq!(s.quantile(Level::new(1, 10_000), false), -250.0);
    }

    #[test]
    fn whole_number_quantiles_within_accuracy_contract() {
        let mut values: Vec<f64> = (0..4000).map(|i| (300 + (i * 7919) % 5000) as f64).collect();
        let mut s = Sketch::new(FINE_BITS);
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
    fn whole_numbers_below_1024_are_exact_and_fill_their_pages() {
        // Counts 0..1023 in a scattered order, plus large ones: every quantile below 1,024 is
        // the exact order statistic, and the small values take 32 pages (32 to a page), not the
        // hundreds of mostly empty pages that bucketing v itself took.
        let mut values: Vec<f64> = (0..1024).map(|i| ((i * 389) % 1024) as f64).collect();
        values.extend([5000.0, 123_456.0, 2_000_001.0]);
        let mut s = Sketch::new(FINE_BITS);
        values.chunks(100).for_each(|c| s.add_slice(c));
        assert_eq!(s.zeros, 1);
        assert!(s.pos.pages.len() <= 32 + 3, "{} pages", s.pos.pages.len());
        values.sort_by(f64::total_cmp);
        for num in (1..100).step_by(7) {
            let l = Level::new(num, 100);
            let want = exact_quantile(&values, l);
            if want < 1024.0 {
                assert_eq!(s.quantile(l, true), want, "q{num}");
                // Whole-number sketches report whole numbers even when asked otherwise.
                assert_eq!(s.quantile(l, false), want, "q{num}");
            }
        }
        for (l, want) in [(Level::new(1026, 1027), 123_456.0), (Level::new(1, 1), 2_000_001.0)] {
            let got = s.quantile(l, true);
            assert_eq!(got.fract(), 0.0);
            assert!((got - want).abs() <= want / 1024.0, "{got} vs {want}");
        }
    }

    #[test]
    fn whole_numbers_stay_whole() {
        let mut s = Sketch::new(FINE_BITS);
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
        // Zeros and positives only (a gap), and positives only.
        let gaps: Vec<f64> = (0..300).map(|i| if i % 3 == 0 { 0.0 } else { (i as f64).sqrt() * 10.0 }).collect();
        let (mut one, mut blocks) = (Sketch::new(COARSE_BITS), Sketch::new(COARSE_BITS));
        gaps.iter().for_each(|v| one.add(*v));
        gaps.chunks(64).for_each(|c| blocks.add_slice(c));
        assert_eq!(one, blocks);
        assert_eq!(blocks.zeros, 100);
    }

    #[test]
    fn coarse_quantiles_within_accuracy_contract() {
        let mut values: Vec<f64> = (0..20_000).map(|i| 5e5 * (1.0 + 0.2 * ((i as f64) * 0.618).fract())).collect();
        let mut s = Sketch::new(COARSE_BITS);
        for chunk in values.chunks(256) {
            s.add_slice(chunk);
        }
        values.sort_by(f64::total_cmp);
        for num in [1, 5, 10, 25, 50, 75, 90, 95, 99] {
            let l = Level::new(num, 100);
            let (got, want) = (s.quantile(l, false), exact_quantile(&values, l));
            assert!((got - want).abs() <= want * 0.001, "q{num}: {got} vs {want}");
        }
    }

    #[test]
    fn counts_carry_beyond_16_bits() {
        let mut s = Sketch::new(COARSE_BITS);
        for _ in 0..300 {
            s.add_slice(&[42.0; 256]);
            s.add_slice(&[
                41.0, 42.0, 43.0, 42.0, 42.0, 42.0, 42.0, 42.0, 42.0, 42.0, 42.0, 42.0, 42.0, 42.0, 42.0, 42.0,
            ]);
        }
        s.add(7.0);
        assert_eq!(s.count, 300 * 272 + 1);
        assert!(s.is_consistent());
        let total: u64 = s.pos.entries().map(|(_, c)| c).sum();
        assert_eq!(total, s.count);
        assert!((s.quantile(Level::new(1, 2), false) - 42.0).abs() <= 42.0 * 0.001);
        let mut merged = s.clone();
        merged.merge(&s);
        assert_eq!(merged.pos.entries().map(|(_, c)| c).sum::<u64>(), 2 * s.count);
        let bytes = postcard::to_stdvec(&merged).unwrap();
        let back: Sketch = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(back, merged);
    }

    #[test]
    fn fixed_point_sums_are_rounded_values_on_both_paths() {
        // Includes exact halves (2⁻²¹ · odd): both paths round them to even.
        let small = [1.5, -2.25, 1e-7, 123_456.789_012, 1.0 / (1u64 << 21) as f64, 3.0 / (1u64 << 21) as f64];
        let big = [3e9, -4e10, 0.5, 1.0 / (1u64 << 21) as f64, 3.0 / (1u64 << 21) as f64];
        for values in [&small[..], &big[..]] {
            let mut s = Sketch::default();
            s.add_slice(values);
            let want: i128 = values.iter().map(|v| (v * SUM_SCALE).round_ties_even() as i128).sum();
            assert_eq!(s.sum, want);
        }
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
