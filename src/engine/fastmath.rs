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

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn survival_avx2(m: &[f64], scale: f64, out: &mut [f64]) {
    // The same operations as the portable version (no FMA): identical results, wider vectors.
    survival_body(m, scale, out)
}

/// Survival over a step for every age: `out[x] = exp(−m[x]·scale)` (hazards ≥ 0, scale > 0).
pub fn survival(m: &[f64], scale: f64, out: &mut [f64]) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked just above).
            unsafe { survival_avx2(m, scale, out) };
            return;
        }
    }
    survival_body(m, scale, out)
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

    #[test]
    fn vector_and_scalar_paths_agree() {
        let m: Vec<f64> = (0..101).map(|x| 0.0002 + 0.00003 * (0.1 * x as f64).exp()).collect();
        let mut a = vec![0.0; 101];
        survival(&m, 0.87, &mut a);
        let b: Vec<f64> = m.iter().map(|v| exp_nonpositive(-v * 0.87)).collect();
        assert_eq!(a, b);
    }
}
