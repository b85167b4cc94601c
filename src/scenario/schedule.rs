//! Age schedules (MODEL §3 and §8.1): Gompertz–Makeham mortality and its life table, the
//! calibration of Gompertz `B` to a target life expectancy, the gamma fertility schedule, the
//! Rogers–Castro migrant profile, and the expansion of age groups into single years.
//!
//! Ages run `0 ..= OMEGA`, the last being the open group "100+".

/// The open age group (100+).
pub const OMEGA: usize = 100;
/// Number of single-year ages, 0 … 100+.
pub const AGES: usize = OMEGA + 1;
/// First age of the fertility schedule.
pub const FERTILE_MIN: usize = 15;
/// Last age of the fertility schedule.
pub const FERTILE_MAX: usize = 49;
/// Number of fertile ages.
pub const FERTILE_AGES: usize = FERTILE_MAX - FERTILE_MIN + 1;

/// Gompertz–Makeham hazards: `m_x = A + B·exp(C·x)` for `x ≥ 1`, `m_0` given separately;
/// the open group takes the rate at exactly 100 (MODEL §8.1).
pub fn gompertz_makeham(a: f64, b: f64, c: f64, infant_rate: f64) -> [f64; AGES] {
    let mut m = [0.0; AGES];
    m[0] = infant_rate;
    for (x, mx) in m.iter_mut().enumerate().skip(1) {
        *mx = a + b * libm::exp(c * x as f64);
    }
    m
}

/// The infant hazard from an infant mortality probability: `m_0 = −ln(1 − q0)` (MODEL §3).
pub fn infant_rate_from_probability(q0: f64) -> f64 {
    -libm::log(1.0 - q0)
}

/// Life expectancy at birth from single-year hazards (MODEL §3's life table):
/// `l_{x+1} = l_x·e^{−m_x}`, `L_x = (l_x − l_{x+1})/m_x` (`= l_x` where `m_x = 0`),
/// `L_ω = l_ω/m_ω`, `e0 = Σ L_x`.
pub fn life_expectancy(m: &[f64; AGES]) -> f64 {
    let mut l = 1.0;
    let mut e0 = 0.0;
    for &mx in &m[..OMEGA] {
        let next = l * libm::exp(-mx);
        e0 += if mx > 0.0 { (l - next) / mx } else { l };
        l = next;
    }
    let m_open = m[OMEGA];
    if m_open > 0.0 {
        e0 += l / m_open;
    } else if l > 0.0 {
        return f64::INFINITY;
    }
    e0
}

/// Why a calibration could not be done.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CalibrationError {
    /// The target cannot be reached with any positive B.
    #[error(
        "no Gompertz B > 0 gives life expectancy {target} (reachable: below {max:.2} years with these A, C and infant rate)"
    )]
    Unreachable {
        /// The requested e0.
        target: f64,
        /// The e0 as B → 0.
        max: f64,
    },
}

/// Solves for Gompertz `B` so that the schedule's life expectancy equals `e0_target`, with
/// `A`, `C` and the infant rate fixed (MODEL §3, "Calibrating to a target e0"). Bisection on
/// `ln B`, to 1e-10 years: e0 falls strictly as B grows.
pub fn calibrate_gompertz_b(a: f64, c: f64, infant_rate: f64, e0_target: f64) -> Result<f64, CalibrationError> {
    let e0_of = |b: f64| life_expectancy(&gompertz_makeham(a, b, c, infant_rate));
    let (mut lo, mut hi) = (libm::log(1e-15), libm::log(10.0));
    let max = e0_of(libm::exp(lo));
    if e0_target >= max || e0_target.is_nan() || e0_of(libm::exp(hi)) > e0_target {
        return Err(CalibrationError::Unreachable { target: e0_target, max });
    }
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if e0_of(libm::exp(mid)) > e0_target {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi - lo < 1e-14 {
            break;
        }
    }
    Ok(libm::exp(0.5 * (lo + hi)))
}

/// `ln(x + ½)` for `x = 15 … 49`: the same in every draw, so computed once (a random schedule
/// is recomputed in every draw, and the logarithms were half of its cost).
static LOG_FERTILE_MID: std::sync::LazyLock<[f64; FERTILE_AGES]> =
    std::sync::LazyLock::new(|| std::array::from_fn(|i| libm::log((FERTILE_MIN + i) as f64 + 0.5)));

/// The gamma-shaped fertility schedule (MODEL §8.1): the gamma density with shape `(μ/σ)²` and
/// scale `σ²/μ` evaluated at `x + ½` for `x = 15 … 49`, normalised to sum 1.
pub fn gamma_fertility(mean_age: f64, sd: f64) -> [f64; FERTILE_AGES] {
    let shape = (mean_age / sd) * (mean_age / sd);
    let scale = sd * sd / mean_age;
    let mut log_d = [0.0; FERTILE_AGES];
    for (i, (v, log_x)) in log_d.iter_mut().zip(LOG_FERTILE_MID.iter()).enumerate() {
        let x = (FERTILE_MIN + i) as f64 + 0.5;
        *v = (shape - 1.0) * log_x - x / scale;
    }
    // Work in logs and subtract the largest: the raw density underflows for large shapes.
    let top = log_d.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut g = [0.0; FERTILE_AGES];
    let mut total = 0.0;
    for (gi, &ld) in g.iter_mut().zip(&log_d) {
        *gi = libm::exp(ld - top);
        total += *gi;
    }
    for gi in &mut g {
        *gi /= total;
    }
    g
}

/// Rogers–Castro parameters: `M(x) = a1·e^{−α1·x} + a2·exp(−α2(x−μ2) − e^{−λ2(x−μ2)}) + c0`.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct RogersCastro {
    /// Childhood component level.
    pub a1: f64,
    /// Childhood component rate of descent.
    pub alpha1: f64,
    /// Labour-force component level.
    pub a2: f64,
    /// Labour-force component rate of descent.
    pub alpha2: f64,
    /// Labour-force peak location (age).
    pub mu2: f64,
    /// Labour-force component rate of ascent.
    pub lambda2: f64,
    /// Constant.
    pub c0: f64,
}

/// The Rogers–Castro schedule at whole ages 0 … 100 (100+ at 100), normalised to sum 1
/// (MODEL §8.1). Returns `None` when it does not sum to a positive finite number.
pub fn rogers_castro(p: &RogersCastro) -> Option<[f64; AGES]> {
    let mut h = [0.0; AGES];
    let mut total = 0.0;
    for (x, hx) in h.iter_mut().enumerate() {
        let x = x as f64;
        let v = p.a1 * libm::exp(-p.alpha1 * x)
            + p.a2 * libm::exp(-p.alpha2 * (x - p.mu2) - libm::exp(-p.lambda2 * (x - p.mu2)))
            + p.c0;
        *hx = v;
        total += v;
    }
    if !(total.is_finite() && total > 0.0) || h.iter().any(|v| !v.is_finite() || *v < 0.0) {
        return None;
    }
    for hx in &mut h {
        *hx /= total;
    }
    Some(h)
}

/// Spreads age-group values evenly over their single ages (MODEL §8.2). `groups` must be
/// contiguous and cover 0 … 100 (checked by validation).
pub fn expand_groups(groups: &[(usize, usize)], values: &[f64]) -> [f64; AGES] {
    let mut out = [0.0; AGES];
    for (&(lo, hi), &v) in groups.iter().zip(values) {
        let n = (hi - lo + 1) as f64;
        for slot in &mut out[lo..=hi.min(OMEGA)] {
            *slot = v / n;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn life_table_by_hand_for_a_constant_hazard() {
        // Constant hazard m: l_x = e^{−mx}, L_x = l_x(1 − e^{−m})/m, open group l_ω/m.
        // The sum telescopes to (1 − e^{−100m})/m + e^{−100m}/m = 1/m exactly.
        let m = [0.05; AGES];
        assert!((life_expectancy(&m) - 20.0).abs() < 1e-9);
    }

    #[test]
    fn life_table_with_zero_hazard_uses_l_x() {
        // No deaths until 100, then hazard 1 in the open group: e0 = 100 + 1.
        let mut m = [0.0; AGES];
        m[OMEGA] = 1.0;
        assert!((life_expectancy(&m) - 101.0).abs() < 1e-12);
    }

    #[test]
    fn gompertz_makeham_by_hand() {
        let m = gompertz_makeham(0.001, 0.0001, 0.1, 0.003);
        assert_eq!(m[0], 0.003);
        assert!((m[1] - (0.001 + 0.0001 * 0.1f64.exp())).abs() < 1e-18);
        assert!((m[100] - (0.001 + 0.0001 * 10f64.exp())).abs() < 1e-15);
    }

    #[test]
    fn infant_probability_to_rate() {
        assert!((infant_rate_from_probability(0.0023) - (-(1.0f64 - 0.0023).ln())).abs() < 1e-18);
    }

    #[test]
    fn calibration_hits_the_target_life_expectancy() {
        for (target, c) in [(81.5, 0.1), (86.3, 0.11), (70.0, 0.09)] {
            let q0 = infant_rate_from_probability(0.0023);
            let b = calibrate_gompertz_b(0.0002, c, q0, target).unwrap();
            let e0 = life_expectancy(&gompertz_makeham(0.0002, b, c, q0));
            assert!((e0 - target).abs() < 1e-6, "target {target}: got {e0}");
        }
    }

    #[test]
    fn calibration_refuses_unreachable_targets() {
        // With A = 0.05 the Makeham term alone caps e0 near 20.
        assert!(calibrate_gompertz_b(0.05, 0.1, 0.01, 60.0).is_err());
    }

    #[test]
    fn gamma_schedule_by_hand() {
        let g = gamma_fertility(30.0, 5.0);
        assert!((g.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        // shape 36, scale 25/30: ratio of densities at 30.5 and 29.5 by hand.
        let (k, th) = (36.0f64, 25.0 / 30.0);
        let ratio = ((k - 1.0) * (30.5f64 / 29.5).ln() - 1.0 / th).exp();
        assert!((g[30 - 15] / g[29 - 15] - ratio).abs() < 1e-12);
        // The mean of the discrete schedule is close to the requested mean.
        let mean: f64 = g.iter().enumerate().map(|(i, v)| (15.0 + i as f64 + 0.5) * v).sum();
        assert!((mean - 30.0).abs() < 0.05, "{mean}");
    }

    #[test]
    fn rogers_castro_by_hand() {
        let p = RogersCastro { a1: 0.02, alpha1: 0.1, a2: 0.06, alpha2: 0.1, mu2: 25.0, lambda2: 0.4, c0: 0.001 };
        let h = rogers_castro(&p).unwrap();
        assert!((h.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        let raw =
            |x: f64| 0.02 * (-0.1 * x).exp() + 0.06 * (-0.1 * (x - 25.0) - (-0.4 * (x - 25.0)).exp()).exp() + 0.001;
        assert!((h[30] / h[0] - raw(30.0) / raw(0.0)).abs() < 1e-12);
        // The labour-force peak sits in the twenties.
        let peak = (0..AGES).max_by(|&a, &b| h[a].total_cmp(&h[b])).unwrap();
        assert!((20..=30).contains(&peak), "{peak}");
    }

    #[test]
    fn gamma_schedule_with_shape_one_is_a_geometric_series() {
        // mean = sd = 20: shape 1, scale 20, so g_x ∝ e^{−(x+½)/20}, a geometric series with
        // ratio r = e^{−1/20} over 35 ages: g_15 = (1 − r)/(1 − r³⁵) = 0.059028125671755374.
        let g = gamma_fertility(20.0, 20.0);
        assert!((g[0] - 0.059028125671755374).abs() < 1e-15, "{}", g[0]);
        let r = (-0.05f64).exp();
        for i in 1..FERTILE_AGES {
            assert!((g[i] / g[i - 1] - r).abs() < 1e-12, "{i}");
        }
    }

    #[test]
    fn gamma_schedule_does_not_underflow_for_narrow_schedules() {
        // shape (45/0.5)² = 8100: the raw density underflows; the log-space sum does not.
        let g = gamma_fertility(45.0, 0.5);
        assert!(g.iter().all(|v| v.is_finite()));
        assert!((g.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        let peak = (0..FERTILE_AGES).max_by(|&a, &b| g[a].total_cmp(&g[b])).unwrap();
        assert_eq!(FERTILE_MIN + peak, 44, "the density peaks at 44.5, the midpoint of age 44");
    }

    #[test]
    fn rogers_castro_components_by_hand() {
        // The constant alone: every age equally, 1/101.
        let flat = RogersCastro { a1: 0.0, alpha1: 0.0, a2: 0.0, alpha2: 0.0, mu2: 0.0, lambda2: 0.0, c0: 0.3 };
        let h = rogers_castro(&flat).unwrap();
        assert!(h.iter().all(|v| (v - 1.0 / 101.0).abs() < 1e-15));
        // The childhood component alone with α1 = ln 2: h_x = 2^{−x} / Σ 2^{−x} = 2^{−x}/(2 − 2^{−100}).
        let child = RogersCastro { a1: 1.0, alpha1: std::f64::consts::LN_2, ..flat };
        let child = RogersCastro { c0: 0.0, ..child };
        let h = rogers_castro(&child).unwrap();
        assert!((h[0] - 0.5).abs() < 1e-15);
        assert!((h[3] - 0.0625).abs() < 1e-15);
        // The labour-force component at its peak x = μ2 is a2·e^{−1}, and one year later
        // a2·exp(−α2 − e^{−λ2}) = a2·0.46286490652482676 (α2 = 0.1, λ2 = 0.4).
        let labour = RogersCastro { a1: 0.0, alpha1: 0.0, a2: 0.06, alpha2: 0.1, mu2: 26.0, lambda2: 0.4, c0: 0.0 };
        let h = rogers_castro(&labour).unwrap();
        assert!((h[27] / h[26] - 0.46286490652482676 / 0.36787944117144233).abs() < 1e-14);
        // Overflow is refused rather than normalised into NaN.
        let wild = RogersCastro { alpha2: 10.0, mu2: 100.0, lambda2: 0.0, ..labour };
        assert!(rogers_castro(&wild).is_none());
    }

    #[test]
    fn groups_of_one_age_and_the_open_group() {
        let v = expand_groups(&[(0, 0), (1, 4), (5, 99), (100, 100)], &[12.0, 40.0, 950.0, 3.0]);
        assert_eq!(v[0], 12.0);
        assert_eq!(&v[1..5], &[10.0; 4]);
        assert_eq!(v[5], 10.0);
        assert_eq!(v[99], 10.0);
        assert_eq!(v[100], 3.0);
    }

    #[test]
    fn groups_are_spread_evenly() {
        let v = expand_groups(&[(0, 4), (5, 99), (100, 100)], &[50.0, 950.0, 7.0]);
        assert_eq!(v[0], 10.0);
        assert_eq!(v[4], 10.0);
        assert_eq!(v[5], 10.0);
        assert_eq!(v[100], 7.0);
        assert!((v.iter().sum::<f64>() - 1007.0).abs() < 1e-9);
    }
}
