//! Variance-based (Sobol') sensitivity indices with Saltelli's sampling design.
//!
//! **Design.** Two independent base matrices `A` and `B` (N rows × k inputs, uniforms in the
//! unit cube) are taken from one 2k-dimensional Sobol' sequence (`A` = its first k coordinates,
//! `B` = the last k), and for each input `i` the matrix `AB⁽ⁱ⁾` is `A` with column `i` taken
//! from `B`: N(k + 2) model runs in all. Runs are ordered as SALib orders them
//! (`calc_second_order = False`): for each base row j, `A_j`, `AB⁽¹⁾_j … AB⁽ᵏ⁾_j`, `B_j`.
//!
//! **Sequence.** Sobol' points from Joe and Kuo's direction numbers `new-joe-kuo-6.21201`
//! (the first 1024 dimensions are embedded, so up to 512 inputs), in Gray-code order, with a
//! random **digital shift** (each coordinate's 32 bits XORed with a seeded random word): the
//! shift keeps every (t, m, s)-net property of the first 2^m points, moves the all-zero first
//! point off the corner, and makes `--seed` meaningful. A coordinate is the centre of its
//! 2⁻³² cell, so u is never 0 or 1. N must be a power of two: only then are the points
//! balanced. Past 1024 dimensions the base matrices are pseudo-random uniforms instead (plain
//! Monte Carlo: the same estimators, slower convergence).
//!
//! **Estimators** (outputs centred on the mean of all runs first: the first-order estimator
//! is not shift-invariant, and SALib does the same):
//! `V = Var([f(A); f(B)])` (population variance),
//! first order (Saltelli et al. 2010) `S1ᵢ = mean(f(B)·(f(AB⁽ⁱ⁾) − f(A))) / V`,
//! total (Jansen 1999) `STᵢ = ½·mean((f(A) − f(AB⁽ⁱ⁾))²) / V`.
//! **Confidence intervals:** the base rows are resampled with replacement (the same rows for
//! every input), the indices recomputed, and the half-width of the 95 % interval is
//! `1.96 × the bootstrap standard deviation` — SALib's `S1_conf` / `ST_conf` convention.

use rand::Rng;

use crate::rng;

/// The embedded direction numbers: Joe–Kuo format `d s a m_1 … m_s`, dimensions 2 … 1024
/// (BSD licence: `JOE_KUO_LICENSE.txt` beside this file).
const JOE_KUO: &str = include_str!("new-joe-kuo-6.1024.txt");

/// Dimensions of the embedded Sobol' sequence.
pub const MAX_DIMS: usize = 1024;

/// Bootstrap resamples for the confidence intervals.
pub const RESAMPLES: usize = 500;

/// z for a two-sided 95 % interval.
pub const Z95: f64 = 1.959_963_984_540_054;

/// A Sobol' sequence generator: 32-bit direction numbers per dimension.
#[derive(Clone, Debug)]
pub struct SobolSequence {
    dims: usize,
    /// `v[d][b]`: direction number b of dimension d, scaled to 32 bits.
    v: Vec<[u32; 32]>,
}

impl SobolSequence {
    /// The first `dims` dimensions (at most [`MAX_DIMS`]).
    pub fn new(dims: usize) -> Option<SobolSequence> {
        if dims > MAX_DIMS {
            return None;
        }
        let mut v = Vec::with_capacity(dims);
        if dims > 0 {
            // Dimension 1 is van der Corput: every m_i = 1.
            let mut first = [0u32; 32];
            for (b, x) in first.iter_mut().enumerate() {
                *x = 1u32 << (31 - b);
            }
            v.push(first);
        }
        for line in JOE_KUO.lines().skip(1).take(dims.saturating_sub(1)) {
            let nums: Vec<u64> = line.split_whitespace().map(|t| t.parse().expect("embedded table")).collect();
            let (s, a) = (nums[1] as usize, nums[2]);
            let mut m = [0u64; 32];
            m[..s].copy_from_slice(&nums[3..3 + s]);
            // m_i = 2a_1·m_{i−1} ⊕ 2²a_2·m_{i−2} ⊕ … ⊕ 2^{s−1}a_{s−1}·m_{i−s+1} ⊕ 2^s·m_{i−s} ⊕ m_{i−s}
            for i in s..32 {
                let mut x = m[i - s] ^ (m[i - s] << s);
                for k in 1..s {
                    if (a >> (s - 1 - k)) & 1 == 1 {
                        x ^= m[i - k] << k;
                    }
                }
                m[i] = x;
            }
            let mut dir = [0u32; 32];
            for (b, x) in dir.iter_mut().enumerate() {
                *x = (m[b] << (31 - b)) as u32;
            }
            v.push(dir);
        }
        Some(SobolSequence { dims, v })
    }

    /// The first `n` points as 32-bit integers, point-major (`x[point * dims + d]`), in
    /// Gray-code order (Antonov–Saleev), the order SciPy's `qmc.Sobol` uses.
    pub fn points(&self, n: usize) -> Vec<u32> {
        let d = self.dims;
        let mut out = vec![0u32; n * d];
        let mut x = vec![0u32; d];
        for p in 1..n {
            // Flip the direction number of the lowest set bit of p.
            let c = (p as u64).trailing_zeros() as usize;
            for (j, xj) in x.iter_mut().enumerate() {
                *xj ^= self.v[j][c.min(31)];
            }
            out[p * d..(p + 1) * d].copy_from_slice(&x);
        }
        out
    }
}

/// Saltelli's base matrices: `(A, B)`, each `n × k` row-major uniforms in (0, 1).
/// `sobol` reports whether they come from the Sobol' sequence (false past [`MAX_DIMS`]).
pub fn base_matrices(n: usize, k: usize, seed: u64) -> (Vec<f64>, Vec<f64>, bool) {
    let dims = 2 * k;
    let mut shift_rng = rng::stream(seed, 0, rng::stream_id("sensitivity.sobol.digital_shift"));
    let scale = 1.0 / 4_294_967_296.0;
    let mut a = vec![0.0; n * k];
    let mut b = vec![0.0; n * k];
    match SobolSequence::new(dims) {
        Some(seq) => {
            let shifts: Vec<u32> = (0..dims).map(|_| (shift_rng.next_u64() >> 32) as u32).collect();
            let pts = seq.points(n);
            for j in 0..n {
                for i in 0..dims {
                    let u = (f64::from(pts[j * dims + i] ^ shifts[i]) + 0.5) * scale;
                    if i < k {
                        a[j * k + i] = u;
                    } else {
                        b[j * k + i - k] = u;
                    }
                }
            }
            (a, b, true)
        }
        None => {
            // Each base row from its own stream, so the matrices do not depend on threads.
            for j in 0..n {
                let mut r = rng::stream(seed, j as u64, rng::stream_id("sensitivity.sobol.random_rows"));
                for i in 0..k {
                    a[j * k + i] = rng::open_uniform(&mut r);
                }
                for i in 0..k {
                    b[j * k + i] = rng::open_uniform(&mut r);
                }
            }
            (a, b, false)
        }
    }
}

/// The full run matrix in SALib's order: for each base row j, `A_j`, `AB⁽¹⁾_j … AB⁽ᵏ⁾_j`,
/// `B_j` — `n(k + 2)` rows of `k` uniforms.
pub fn saltelli_design(a: &[f64], b: &[f64], n: usize, k: usize) -> Vec<f64> {
    let per = k + 2;
    let mut x = vec![0.0; n * per * k];
    for j in 0..n {
        let ra = &a[j * k..(j + 1) * k];
        let rb = &b[j * k..(j + 1) * k];
        let base = j * per * k;
        x[base..base + k].copy_from_slice(ra);
        for i in 0..k {
            let row = base + (1 + i) * k;
            x[row..row + k].copy_from_slice(ra);
            x[row + i] = rb[i];
        }
        let last = base + (k + 1) * k;
        x[last..last + k].copy_from_slice(rb);
    }
    x
}

/// The indices of one input for one output.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SobolIndex {
    /// First-order index.
    pub s1: f64,
    /// Half-width of its 95 % bootstrap interval.
    pub s1_conf: f64,
    /// Total index.
    pub st: f64,
    /// Half-width of its 95 % bootstrap interval.
    pub st_conf: f64,
}

/// Estimates every input's indices for one output from its `n(k + 2)` run values in
/// [`saltelli_design`] order. `None` when the output does not vary over the base matrices `A`
/// and `B` (its variance estimate is 0, so the indices are undefined). `bootstrap_seed` fixes
/// the resamples, so results are reproducible. A resample whose variance is 0 is left out of
/// the interval; if fewer than two resamples remain, the half-widths are NaN.
pub fn estimate(y: &[f64], n: usize, k: usize, resamples: usize, bootstrap_seed: u64) -> Option<Vec<SobolIndex>> {
    let per = k + 2;
    debug_assert_eq!(y.len(), n * per);
    if is_constant(y) {
        return None;
    }
    // Centre on the mean of all runs (see the module docs).
    let mean = y.iter().sum::<f64>() / y.len() as f64;
    let at = |j: usize, m: usize| y[j * per + m] - mean;
    // A variance below this is rounding noise of values that are all equal (12 significant
    // digits of the largest output), not a variance.
    let scale = y.iter().fold(1.0f64, |m, v| m.max(v.abs()));
    let min_var = (1e-12 * scale).powi(2);
    let rows: Vec<usize> = (0..n).collect();
    let (s1, st) = indices_on(&at, &rows, k, min_var)?;
    let mut boot_s1 = vec![Vec::with_capacity(resamples); k];
    let mut boot_st = vec![Vec::with_capacity(resamples); k];
    let mut r = rng::stream(bootstrap_seed, 0, rng::stream_id("sensitivity.sobol.bootstrap"));
    let mut sample = vec![0usize; n];
    for _ in 0..resamples {
        for s in sample.iter_mut() {
            *s = below(&mut r, n);
        }
        if let Some((b1, bt)) = indices_on(&at, &sample, k, min_var) {
            for i in 0..k {
                boot_s1[i].push(b1[i]);
                boot_st[i].push(bt[i]);
            }
        }
    }
    Some(
        (0..k)
            .map(|i| SobolIndex {
                s1: s1[i],
                s1_conf: Z95 * sd(&boot_s1[i]),
                st: st[i],
                st_conf: Z95 * sd(&boot_st[i]),
            })
            .collect(),
    )
}

/// S1 and ST of every input over the base rows `rows` (a bootstrap resample or all rows);
/// `None` when `[f(A); f(B)]` has no variance over them (none above `min_var`).
fn indices_on(
    at: &impl Fn(usize, usize) -> f64,
    rows: &[usize],
    k: usize,
    min_var: f64,
) -> Option<(Vec<f64>, Vec<f64>)> {
    let n = rows.len() as f64;
    // Two passes: a one-pass variance of nearly equal values cancels into noise, and the
    // ratio of two noises is not an index.
    let m = rows.iter().map(|&j| at(j, 0) + at(j, k + 1)).sum::<f64>() / (2.0 * n);
    let var = rows.iter().map(|&j| (at(j, 0) - m).powi(2) + (at(j, k + 1) - m).powi(2)).sum::<f64>() / (2.0 * n);
    if var <= min_var {
        return None;
    }
    let mut s1 = vec![0.0; k];
    let mut st = vec![0.0; k];
    for i in 0..k {
        let (mut first, mut total) = (0.0, 0.0);
        for &j in rows {
            let (fa, fb, fab) = (at(j, 0), at(j, k + 1), at(j, 1 + i));
            first += fb * (fab - fa);
            total += (fa - fab) * (fa - fab);
        }
        s1[i] = first / n / var;
        st[i] = 0.5 * total / n / var;
    }
    Some((s1, st))
}

/// Whether every value is the same (up to rounding far below any reported digit).
pub fn is_constant(y: &[f64]) -> bool {
    let (lo, hi) = y.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &v| (l.min(v), h.max(v)));
    hi - lo <= 1e-12 * lo.abs().max(hi.abs()).max(1.0)
}

/// Sample standard deviation (n − 1); NaN for fewer than two values.
pub fn sd(x: &[f64]) -> f64 {
    if x.len() < 2 {
        return f64::NAN;
    }
    let m = x.iter().sum::<f64>() / x.len() as f64;
    (x.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / (x.len() - 1) as f64).sqrt()
}

/// A uniform index below `n` (Lemire's multiply; the bias is below 2⁻³² for any n here).
pub fn below<R: Rng>(r: &mut R, n: usize) -> usize {
    ((u128::from(r.next_u64()) * n as u128) >> 64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference points from SciPy 1.17 `qmc.Sobol(d=1024, scramble=False, bits=32)`, times 2³².
    #[test]
    fn matches_scipy_unscrambled_points() {
        let seq = SobolSequence::new(1024).unwrap();
        let pts = seq.points(65536);
        let at = |p: usize, d: usize| pts[p * 1024 + d];
        let first: [[u32; 6]; 9] = [
            [0, 0, 0, 0, 0, 0],
            [2147483648, 2147483648, 2147483648, 2147483648, 2147483648, 2147483648],
            [3221225472, 1073741824, 1073741824, 1073741824, 3221225472, 3221225472],
            [1073741824, 3221225472, 3221225472, 3221225472, 1073741824, 1073741824],
            [1610612736, 1610612736, 2684354560, 3758096384, 1610612736, 536870912],
            [3758096384, 3758096384, 536870912, 1610612736, 3758096384, 2684354560],
            [2684354560, 536870912, 3758096384, 2684354560, 2684354560, 3758096384],
            [536870912, 2684354560, 1610612736, 536870912, 536870912, 1610612736],
            [805306368, 1342177280, 4026531840, 1879048192, 2415919104, 1342177280],
        ];
        for (p, row) in first.iter().enumerate() {
            for (d, &x) in row.iter().enumerate() {
                assert_eq!(at(p, d), x, "point {p} dim {d}");
            }
        }
        assert_eq!(
            [at(36, 0), at(36, 1), at(36, 2), at(36, 3), at(36, 4), at(36, 5)],
            [1811939328, 603979776, 335544320, 1811939328, 1140850688, 3422552064]
        );
        assert_eq!(
            [at(36, 1020), at(36, 1021), at(36, 1022), at(36, 1023)],
            [2751463424, 1006632960, 1543503872, 1006632960]
        );
        // Deep points exercise the high direction numbers of high dimensions.
        assert_eq!(
            [at(4095, 0), at(4095, 1), at(4095, 7), at(4095, 100), at(4095, 1023)],
            [1048576, 4042260480, 1678770176, 1481637888, 1523580928]
        );
        assert_eq!(
            [at(65535, 0), at(65535, 1), at(65535, 7), at(65535, 100), at(65535, 1023)],
            [65536, 4294901760, 3125346304, 2800418816, 1974403072]
        );
    }

    #[test]
    fn shifted_points_stay_balanced() {
        // Each 1-D projection of 2^m shifted points has one point in each 1/2^m interval.
        let (a, b, sobol) = base_matrices(256, 5, 42);
        assert!(sobol);
        for m in [&a, &b] {
            for i in 0..5 {
                let mut cells = [false; 256];
                for j in 0..256 {
                    let u = m[j * 5 + i];
                    assert!(u > 0.0 && u < 1.0);
                    let c = (u * 256.0) as usize;
                    assert!(!cells[c], "two points in one cell");
                    cells[c] = true;
                }
            }
        }
        let (a2, _, _) = base_matrices(256, 5, 43);
        assert_ne!(a, a2, "the seed moves the digital shift");
    }

    #[test]
    fn too_many_dimensions_fall_back_to_random_uniforms() {
        let (a, b, sobol) = base_matrices(4, 600, 1);
        assert!(!sobol);
        assert!(a.iter().chain(&b).all(|&u| u > 0.0 && u < 1.0));
        assert_eq!(base_matrices(4, 600, 1).0, a, "deterministic");
    }

    #[test]
    fn design_rows_follow_salib_order() {
        let (n, k) = (2, 3);
        let a = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6];
        let b = [0.7, 0.8, 0.9, 0.11, 0.12, 0.13];
        let x = saltelli_design(&a, &b, n, k);
        assert_eq!(x.len(), n * (k + 2) * k);
        assert_eq!(&x[0..3], &[0.1, 0.2, 0.3]); // A_0
        assert_eq!(&x[3..6], &[0.7, 0.2, 0.3]); // AB1_0
        assert_eq!(&x[6..9], &[0.1, 0.8, 0.3]); // AB2_0
        assert_eq!(&x[9..12], &[0.1, 0.2, 0.9]); // AB3_0
        assert_eq!(&x[12..15], &[0.7, 0.8, 0.9]); // B_0
        assert_eq!(&x[15..18], &[0.4, 0.5, 0.6]); // A_1
    }

    fn ishigami(x: &[f64]) -> f64 {
        use std::f64::consts::PI;
        let [a, b, c] = [x[0], x[1], x[2]].map(|u| -PI + 2.0 * PI * u);
        a.sin() + 7.0 * b.sin().powi(2) + 0.1 * c.powi(4) * a.sin()
    }

    /// Ishigami (a = 7, b = 0.1): S1 = 0.3139, 0.4424, 0; ST = 0.5576, 0.4424, 0.2437.
    #[test]
    fn ishigami_indices_within_their_intervals() {
        let (n, k) = (4096, 3);
        let (a, b, _) = base_matrices(n, k, 2024);
        let x = saltelli_design(&a, &b, n, k);
        let y: Vec<f64> = x.chunks(k).map(ishigami).collect();
        let idx = estimate(&y, n, k, RESAMPLES, 7).unwrap();
        let s1 = [0.3139, 0.4424, 0.0];
        let st = [0.5576, 0.4424, 0.2437];
        for i in 0..k {
            let e = idx[i];
            assert!((e.s1 - s1[i]).abs() <= e.s1_conf, "S1[{i}] = {} ± {} vs {}", e.s1, e.s1_conf, s1[i]);
            assert!((e.st - st[i]).abs() <= e.st_conf, "ST[{i}] = {} ± {} vs {}", e.st, e.st_conf, st[i]);
            // And the intervals are informative, not so wide that anything fits.
            assert!(e.s1_conf < 0.1 && e.st_conf < 0.1, "{e:?}");
        }
    }

    #[test]
    fn additive_function_has_equal_first_and_total_indices() {
        // y = 2·x1 + x2 with independent uniforms: S = ST = (4/5, 1/5), exactly.
        let (n, k) = (2048, 3);
        let (a, b, _) = base_matrices(n, k, 5);
        let x = saltelli_design(&a, &b, n, k);
        let y: Vec<f64> = x.chunks(k).map(|r| 2.0 * r[0] + r[1]).collect();
        let idx = estimate(&y, n, k, 200, 1).unwrap();
        assert!((idx[0].s1 - 0.8).abs() < 0.02 && (idx[0].st - 0.8).abs() < 0.02, "{:?}", idx[0]);
        assert!((idx[1].s1 - 0.2).abs() < 0.02 && (idx[1].st - 0.2).abs() < 0.02, "{:?}", idx[1]);
        // The third input is not used: its AB rows equal A exactly, so ST is exactly 0.
        assert_eq!(idx[2].st, 0.0);
        assert_eq!(idx[2].s1, 0.0);
    }

    #[test]
    fn constant_output_has_no_indices_and_estimates_are_reproducible() {
        let (n, k) = (64, 2);
        assert!(estimate(&vec![3.0; n * (k + 2)], n, k, 10, 1).is_none());
        let (a, b, _) = base_matrices(n, k, 9);
        let y: Vec<f64> = saltelli_design(&a, &b, n, k).chunks(k).map(|r| r[0] * r[1]).collect();
        assert_eq!(estimate(&y, n, k, 50, 3), estimate(&y, n, k, 50, 3));
    }

    #[test]
    fn output_varying_only_off_the_base_matrices_has_no_indices() {
        // f(A) and f(B) all equal, one AB run differs: the variance estimate is 0, so the
        // indices are undefined — not the ratio of two rounding errors.
        // (Counts and values chosen so that the centred values do not cancel exactly.)
        let (n, k) = (8, 3);
        for (base, odd) in [(2031.0, 2029.0), (0.0, 16.51171147)] {
            let mut y = vec![base; n * (k + 2)];
            y[3 * (k + 2) + 1] = odd;
            assert!(estimate(&y, n, k, 20, 1).is_none(), "{base} / {odd}");
        }
    }

    #[test]
    fn hand_computed_estimators() {
        // n = 2, k = 1; rows (A, AB1, B): (1, 3, 3), (5, 5, 5). Mean of all = 22/6.
        // Centred: A = (−8/3, 4/3), AB = (−2/3, 4/3), B = (−2/3, 4/3).
        // V = var([A; B]) = mean(x²) − mean² with x = (−8/3, 4/3, −2/3, 4/3): mean = −1/6,
        // mean(x²) = (64 + 16 + 4 + 16)/9/4 = 100/36; V = 100/36 − 1/36 = 99/36.
        // S1 = mean(B·(AB − A)) = ((−2/3)(2) + (4/3)(0))/2 = −2/3 → S1 = (−2/3)/(99/36) = −24/99.
        // ST = ½·mean((A − AB)²) = ½·(4 + 0)/2 = 1 → ST = 36/99.
        let y = [1.0, 3.0, 3.0, 5.0, 5.0, 5.0];
        let e = estimate(&y, 2, 1, 0, 0).unwrap()[0];
        assert!((e.s1 - (-24.0 / 99.0)).abs() < 1e-12, "{e:?}");
        assert!((e.st - 36.0 / 99.0).abs() < 1e-12, "{e:?}");
    }
}
