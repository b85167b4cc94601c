//! The survival exponential, fast and deterministic.
//!
//! Survival `S = exp(−m⁰·e^{−k})` needs ~3,000 exponentials per draw (101 ages × 2 sexes × 15
//! steps); called one by one through `libm` they dominate the draw. This is FreeBSD/musl's
//! `e_exp.c` algorithm (argument reduction by ln 2, a degree-5 Remez rational for exp(r),
//! error < 1 ulp), written without branches so that the loop over ages vectorises. It uses only
//! IEEE-754 +, −, ×, ÷ (no fused multiply–add), so every host computes the same bits.

// The constants of e_exp.c, by their exact bits.
const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000);
const LN2_LO: f64 = f64::from_bits(0x3dea_39ef_3579_3c76);
const INV_LN2: f64 = f64::from_bits(0x3ff7_1547_652b_82fe);
const P1: f64 = f64::from_bits(0x3fc5_5555_5555_553e);
const P2: f64 = f64::from_bits(0xbf66_c16c_16be_bd93);
const P3: f64 = f64::from_bits(0x3f11_566a_af25_de2c);
const P4: f64 = f64::from_bits(0xbebb_bd41_c5d2_6bf1);
const P5: f64 = f64::from_bits(0x3e66_3769_72be_a4d0);
/// 1.5·2⁵²: adding and subtracting it rounds to the nearest integer (ties to even).
const ROUND: f64 = 6_755_399_441_055_744.0;

/// `exp(x)` for `x ≤ 0` (arguments below −708 give 0, as survival through such a hazard is nil).
#[inline(always)]
pub fn exp_nonpositive(x: f64) -> f64 {
    let below = x < -708.0;
    let x = if below {
        -708.0
    } else if x > 0.0 {
        0.0
    } else {
        x
    };
    let t = x * INV_LN2 + ROUND;
    let kf = t - ROUND;
    let hi = x - kf * LN2_HI;
    let lo = kf * LN2_LO;
    let r = hi - lo;
    let rr = r * r;
    let c = r - rr * (P1 + rr * (P2 + rr * (P3 + rr * (P4 + rr * P5))));
    let y = 1.0 + (r * c / (2.0 - c) - lo + hi);
    // 2^k for k in [−1022, 0]: a normal number built from its exponent bits. k is read from the
    // low bits of `t` (1.5·2⁵² + k, whose mantissa holds k in two's complement) rather than by
    // `kf as i64`: x86 has no packed f64 → i64 conversion before AVX-512, so the cast would
    // take the loop out of vector registers. Both give the same k.
    let k = t.to_bits().wrapping_sub(ROUND.to_bits());
    let scale = f64::from_bits(k.wrapping_add(1023) << 52);
    if below { 0.0 } else { y * scale }
}

/// `out[x] = exp(−m[x]·scale)` for every age.
#[inline(always)]
fn survival_body(m: &[f64], scale: f64, out: &mut [f64]) {
    for (o, &mx) in out.iter_mut().zip(m) {
        *o = exp_nonpositive(-mx * scale);
    }
}

/// Survival over a step for every age: `out[x] = exp(−m[x]·scale)` (hazards ≥ 0, scale > 0).
pub fn survival(m: &[f64], scale: f64, out: &mut [f64]) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked just above).
            unsafe { avx2::survival(m, scale, out) };
            return;
        }
    }
    survival_body(m, scale, out)
}

/// The survival exponential in AVX2 registers, several vectors in lock step.
///
/// Compiled from the scalar loop, each vector of four ages runs through the ~30 dependent
/// operations of [`exp_nonpositive`] before the next one starts, and the processor's window
/// is too short to overlap more than two of those chains: the loop waits on latency, not
/// throughput. Here every step of the algorithm is applied to [`LANES`] vectors before the next
/// step, so their chains run side by side. The operations and their order are those of
/// [`exp_nonpositive`] (IEEE-754, no fused multiply–add), so every result is the same to the bit.
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::*;
    use std::arch::x86_64::*;

    /// Vectors of four ages in flight together.
    const LANES: usize = 4;
    /// Ages per block.
    const BLOCK: usize = 4 * LANES;

    /// `out[x] = exp(−m[x]·scale)`, as [`super::survival_body`].
    #[target_feature(enable = "avx2")]
    pub(super) fn survival(m: &[f64], scale: f64, out: &mut [f64]) {
        let n = m.len().min(out.len());
        let (m, out) = (&m[..n], &mut out[..n]);
        let (scale_v, sign) = (_mm256_set1_pd(scale), _mm256_set1_pd(-0.0));
        let block = |m: &[f64; BLOCK], out: &mut [f64; BLOCK]| {
            let mut x = [_mm256_setzero_pd(); LANES];
            for (x, m) in x.iter_mut().zip(m.as_chunks::<4>().0) {
                // −m·scale as the scalar code computes it: (−m)·scale.
                // SAFETY: `m` is an array of four doubles.
                let v = unsafe { _mm256_loadu_pd(m.as_ptr()) };
                *x = _mm256_mul_pd(_mm256_xor_pd(v, sign), scale_v);
            }
            for (y, out) in exp_nonpositive_lanes(x).iter().zip(out.as_chunks_mut::<4>().0) {
                // SAFETY: `out` is an array of four doubles.
                unsafe { _mm256_storeu_pd(out.as_mut_ptr(), *y) };
            }
        };
        let (ms, m_rest) = m.as_chunks::<BLOCK>();
        let (os, out_rest) = out.as_chunks_mut::<BLOCK>();
        for (m, out) in ms.iter().zip(os) {
            block(m, out);
        }
        // The last ages (fewer than a block) through one more block, padded with hazard 0.
        if !m_rest.is_empty() {
            let (mut m, mut out) = ([0.0; BLOCK], [0.0; BLOCK]);
            m[..m_rest.len()].copy_from_slice(m_rest);
            block(&m, &mut out);
            out_rest.copy_from_slice(&out[..m_rest.len()]);
        }
    }

    /// [`exp_nonpositive`] of `LANES` vectors, step by step.
    #[target_feature(enable = "avx2")]
    #[inline]
    fn exp_nonpositive_lanes(xs: [__m256d; LANES]) -> [__m256d; LANES] {
        let splat = _mm256_set1_pd;
        let zero = _mm256_setzero_pd();
        let mut below = [zero; LANES];
        let mut x = [zero; LANES];
        let mut t = [zero; LANES];
        let mut hi = [zero; LANES];
        let mut lo = [zero; LANES];
        let mut r = [zero; LANES];
        let mut rr = [zero; LANES];
        let mut p = [zero; LANES];
        let mut y = [zero; LANES];
        for j in 0..LANES {
            // x < −708 → −708 (and a result of 0), x > 0 → 0.
            below[j] = _mm256_cmp_pd::<_CMP_LT_OQ>(xs[j], splat(-708.0));
            let positive = _mm256_cmp_pd::<_CMP_GT_OQ>(xs[j], zero);
            x[j] = _mm256_blendv_pd(_mm256_andnot_pd(positive, xs[j]), splat(-708.0), below[j]);
        }
        for j in 0..LANES {
            t[j] = _mm256_add_pd(_mm256_mul_pd(x[j], splat(INV_LN2)), splat(ROUND));
        }
        for j in 0..LANES {
            let kf = _mm256_sub_pd(t[j], splat(ROUND));
            hi[j] = _mm256_sub_pd(x[j], _mm256_mul_pd(kf, splat(LN2_HI)));
            lo[j] = _mm256_mul_pd(kf, splat(LN2_LO));
        }
        for j in 0..LANES {
            r[j] = _mm256_sub_pd(hi[j], lo[j]);
            rr[j] = _mm256_mul_pd(r[j], r[j]);
        }
        // P1 + rr·(P2 + rr·(P3 + rr·(P4 + rr·P5))), innermost first; then c = r − rr·(…).
        for j in 0..LANES {
            p[j] = _mm256_mul_pd(rr[j], splat(P5));
        }
        for coef in [P4, P3, P2, P1] {
            for j in 0..LANES {
                p[j] = _mm256_add_pd(splat(coef), p[j]);
            }
            for j in 0..LANES {
                p[j] = _mm256_mul_pd(rr[j], p[j]);
            }
        }
        for j in 0..LANES {
            // y = 1 + (r·c / (2 − c) − lo + hi), with c = r − p.
            let c = _mm256_sub_pd(r[j], p[j]);
            let q = _mm256_div_pd(_mm256_mul_pd(r[j], c), _mm256_sub_pd(splat(2.0), c));
            y[j] = _mm256_add_pd(splat(1.0), _mm256_add_pd(_mm256_sub_pd(q, lo[j]), hi[j]));
        }
        for j in 0..LANES {
            // 2^k from the low bits of t, as in the scalar code; 0 below −708.
            let k = _mm256_sub_epi64(_mm256_castpd_si256(t[j]), _mm256_set1_epi64x(ROUND.to_bits() as i64));
            let scale = _mm256_castsi256_pd(_mm256_slli_epi64::<52>(_mm256_add_epi64(k, _mm256_set1_epi64x(1023))));
            y[j] = _mm256_andnot_pd(below[j], _mm256_mul_pd(y[j], scale));
        }
        y
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ulps(a: f64, b: f64) -> u64 {
        (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs()
    }

    #[test]
    fn within_one_ulp_of_libm() {
        let mut worst = 0;
        let mut x = 0.0f64;
        while x > -700.0 {
            let (ours, theirs) = (exp_nonpositive(x), libm::exp(x));
            worst = worst.max(ulps(ours, theirs));
            x -= 0.000_731 * (1.0 + x.abs());
        }
        for x in [-1e-300, -1e-18, -1e-9, -0.5, -0.346_573_590_279_972_65, -1.0, -2.5, -50.0, -708.0] {
            worst = worst.max(ulps(exp_nonpositive(x), libm::exp(x)));
        }
        assert!(worst <= 1, "worst error {worst} ulp");
        assert_eq!(exp_nonpositive(0.0), 1.0);
        assert_eq!(exp_nonpositive(-800.0), 0.0);
    }

    /// The AVX2 blocks and the portable loop agree to the bit, over the whole range of hazards,
    /// the clamps at 0 and −708 and every length (full blocks and the remainder).
    #[test]
    #[cfg(target_arch = "x86_64")]
    fn avx2_blocks_and_portable_loop_agree_to_the_bit() {
        if !std::arch::is_x86_feature_detected!("avx2") {
            return;
        }
        let mut m: Vec<f64> = vec![0.0, -0.0, 1e-300, 5e-324, 1e-9, 0.5, 1.0, 707.9, 708.0, 708.1, 750.0, 1e300];
        let mut h = 1e-7;
        while h < 800.0 {
            m.push(h);
            h *= 1.000_37;
        }
        for scale in [1.0, 0.87, 1.3e-3, 2.5] {
            for len in [0, 1, 15, 16, 17, 202, m.len()] {
                let (mut a, mut b) = (vec![0.0; len], vec![0.0; len]);
                // SAFETY: the CPU supports AVX2 (checked above).
                unsafe { avx2::survival(&m[..len], scale, &mut a) };
                survival_body(&m[..len], scale, &mut b);
                for x in 0..len {
                    assert_eq!(a[x].to_bits(), b[x].to_bits(), "m {} scale {scale}", m[x]);
                }
            }
        }
    }

    #[test]
    fn vector_and_scalar_paths_agree() {
        let m: Vec<f64> = (0..101).map(|x| 0.0002 + 0.00003 * (0.1 * x as f64).exp()).collect();
        let mut a = vec![0.0; 101];
        survival(&m, 0.87, &mut a);
        let b: Vec<f64> = m.iter().map(|v| exp_nonpositive(-v * 0.87)).collect();
        assert_eq!(a, b);
    }
}
