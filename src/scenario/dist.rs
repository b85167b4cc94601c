//! Distributions of scenario inputs, sampled by inverse CDF from one uniform per draw.
//!
//! Every random input is drawn as `x = Q(u)` with `u` the variable's own uniform (MODEL §7).
//! Sampling through the quantile function is what makes a shared `key` work for any mix of
//! distributions (one `u`, comonotone values), and what lets sensitivity analysis supply its own
//! points in the unit cube. All maths is `libm`, so results do not depend on the host's libm.

use serde::Serialize;

use super::tree::Loc;

/// A distribution, or a fixed number.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Dist {
    /// A fixed number.
    #[serde(rename = "value")]
    Fixed(f64),
    /// Normal with mean and standard deviation.
    Normal {
        /// Mean.
        mean: f64,
        /// Standard deviation (≥ 0).
        sd: f64,
    },
    /// Uniform on `[low, high]`.
    Uniform {
        /// Lower end.
        low: f64,
        /// Upper end.
        high: f64,
    },
    /// Triangular on `[low, high]` with its peak at `mode`.
    Triangular {
        /// Lower end.
        low: f64,
        /// Most likely value.
        mode: f64,
        /// Upper end.
        high: f64,
    },
    /// Log-normal: `exp(N(mu, sigma))`.
    Lognormal {
        /// Mean of the logarithm.
        mu: f64,
        /// Standard deviation of the logarithm (≥ 0).
        sigma: f64,
    },
}

impl Dist {
    /// Whether this is random (a draw can differ from the central value).
    pub fn is_random(&self) -> bool {
        match *self {
            Dist::Fixed(_) => false,
            Dist::Normal { sd, .. } => sd > 0.0,
            Dist::Uniform { low, high } => high > low,
            Dist::Triangular { low, high, .. } => high > low,
            Dist::Lognormal { sigma, .. } => sigma > 0.0,
        }
    }

    /// The central value (MODEL §2): normal → mean, uniform → midpoint, triangular → mode,
    /// lognormal → median.
    pub fn central(&self) -> f64 {
        match *self {
            Dist::Fixed(v) => v,
            Dist::Normal { mean, .. } => mean,
            Dist::Uniform { low, high } => 0.5 * (low + high),
            Dist::Triangular { mode, .. } => mode,
            Dist::Lognormal { mu, .. } => libm::exp(mu),
        }
    }

    /// The quantile function: the value with CDF `u`, for `u` in (0, 1).
    pub fn quantile(&self, u: f64) -> f64 {
        match *self {
            Dist::Fixed(v) => v,
            Dist::Normal { mean, sd } => mean + sd * inverse_normal_cdf(u),
            Dist::Uniform { low, high } => low + u * (high - low),
            Dist::Triangular { low, mode, high } => {
                let width = high - low;
                if width <= 0.0 {
                    return mode;
                }
                let f_mode = (mode - low) / width;
                if u < f_mode {
                    low + libm::sqrt(u * width * (mode - low))
                } else {
                    high - libm::sqrt((1.0 - u) * width * (high - mode))
                }
            }
            Dist::Lognormal { mu, sigma } => libm::exp(mu + sigma * inverse_normal_cdf(u)),
        }
    }

    /// The smallest and largest values the distribution can take.
    pub fn support(&self) -> (f64, f64) {
        match *self {
            Dist::Fixed(v) => (v, v),
            Dist::Normal { mean, sd } => {
                if sd > 0.0 {
                    (f64::NEG_INFINITY, f64::INFINITY)
                } else {
                    (mean, mean)
                }
            }
            Dist::Uniform { low, high } | Dist::Triangular { low, high, .. } => (low, high),
            Dist::Lognormal { mu, sigma } => {
                if sigma > 0.0 {
                    (0.0, f64::INFINITY)
                } else {
                    (libm::exp(mu), libm::exp(mu))
                }
            }
        }
    }

    /// The names of the parameters, in the order written (for paths such as `….mean`).
    pub fn parameter_names(&self) -> &'static [&'static str] {
        match self {
            Dist::Fixed(_) => &["value"],
            Dist::Normal { .. } => &["mean", "sd"],
            Dist::Uniform { .. } => &["low", "high"],
            Dist::Triangular { .. } => &["low", "mode", "high"],
            Dist::Lognormal { .. } => &["mu", "sigma"],
        }
    }

    /// The name of the kind as written in TOML.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Dist::Fixed(_) => "value",
            Dist::Normal { .. } => "normal",
            Dist::Uniform { .. } => "uniform",
            Dist::Triangular { .. } => "triangular",
            Dist::Lognormal { .. } => "lognormal",
        }
    }

    /// A compact human form: `0.75`, `normal(1.2, 0.1)`, `uniform(10000, 20000)`.
    pub fn describe(&self) -> String {
        match *self {
            Dist::Fixed(v) => fmt_g(v),
            Dist::Normal { mean, sd } => format!("normal(mean {}, sd {})", fmt_g(mean), fmt_g(sd)),
            Dist::Uniform { low, high } => format!("uniform({}, {})", fmt_g(low), fmt_g(high)),
            Dist::Triangular { low, mode, high } => {
                format!("triangular({}, {}, {})", fmt_g(low), fmt_g(mode), fmt_g(high))
            }
            Dist::Lognormal { mu, sigma } => format!("lognormal(mu {}, sigma {})", fmt_g(mu), fmt_g(sigma)),
        }
    }
}

/// Formats a number compactly and exactly enough for tables of inputs. Numbers too large or
/// too small for six decimals (which would print hundreds of digits, or `0`) are written in
/// scientific notation, e.g. `4.5e290`, `1.2e-7`.
pub fn fmt_g(v: f64) -> String {
    if v == v.trunc() && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else if !v.is_finite() || v.abs() >= 1e15 || v.abs() < 1e-6 {
        format!("{v:e}")
    } else {
        let s = format!("{v:.6}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        s.to_string()
    }
}

/// One scenario number: its path, its distribution, and where it came from.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Param {
    /// The variable's path (`towns.songjiang.migration.k`); also its random stream's id.
    pub path: String,
    /// The distribution (or fixed value).
    #[serde(flatten)]
    pub dist: Dist,
    /// Values are clamped into `[low, high]` after sampling.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clip: Option<[f64; 2]>,
    /// Distributions with the same key share one uniform per draw (MODEL §7).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Where the number comes from (a document, or `assumption: …`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// How sure the source is (DATA.md's scale: DQ, inferred, prior, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confidence: Option<String>,
    /// Where it was written.
    #[serde(skip)]
    pub loc: Loc,
}

impl Param {
    /// A fixed number made by capsim (a default).
    pub fn fixed(path: impl Into<String>, v: f64) -> Param {
        Param {
            path: path.into(),
            dist: Dist::Fixed(v),
            clip: None,
            key: None,
            source: Some("default".into()),
            confidence: None,
            loc: Loc::NONE,
        }
    }

    /// Whether a draw can differ from the central value.
    pub fn is_random(&self) -> bool {
        self.dist.is_random() && self.clip.is_none_or(|[lo, hi]| hi > lo)
    }

    /// The central value, clipped.
    pub fn central(&self) -> f64 {
        self.clamp(self.dist.central())
    }

    /// The value for uniform `u`, clipped.
    pub fn sample(&self, u: f64) -> f64 {
        self.clamp(self.dist.quantile(u))
    }

    fn clamp(&self, v: f64) -> f64 {
        match self.clip {
            Some([lo, hi]) => v.max(lo).min(hi),
            None => v,
        }
    }

    /// The range the value can take after clipping.
    pub fn support(&self) -> (f64, f64) {
        let (lo, hi) = self.dist.support();
        match self.clip {
            Some([a, b]) => (lo.max(a).min(b), hi.min(b).max(a)),
            None => (lo, hi),
        }
    }
}

/// The inverse of the standard normal CDF, by Wichura's algorithm AS 241 (PPND16), accurate to
/// about 1e-16. `u` outside (0, 1) is clamped just inside it.
#[allow(clippy::excessive_precision)] // AS 241 publishes its coefficients to this precision
pub fn inverse_normal_cdf(u: f64) -> f64 {
    let p = u.clamp(1e-300, 1.0 - 1e-16);
    let q = p - 0.5;
    if q.abs() <= 0.425 {
        let r = 0.180625 - q * q;
        let num = ((((((2509.0809287301226727 * r + 33430.575583588128105) * r + 67265.770927008700853) * r
            + 45921.953931549871457)
            * r
            + 13731.693765509461125)
            * r
            + 1971.5909503065514427)
            * r
            + 133.14166789178437745)
            * r
            + 3.387132872796366608;
        let den = ((((((5226.495278852545925 * r + 28729.085735721942674) * r + 39307.89580009271061) * r
            + 21213.794301586595867)
            * r
            + 5394.1960214247511077)
            * r
            + 687.1870074920579083)
            * r
            + 42.313330701600911252)
            * r
            + 1.0;
        return q * num / den;
    }
    let mut r = if q < 0.0 { p } else { 1.0 - p };
    r = libm::sqrt(-libm::log(r));
    let x = if r <= 5.0 {
        let r = r - 1.6;
        let num = ((((((7.7454501427834140764e-4 * r + 0.0227238449892691845833) * r + 0.24178072517745061177) * r
            + 1.27045825245236838258)
            * r
            + 3.64784832476320460504)
            * r
            + 5.7694972214606914055)
            * r
            + 4.6303378461565452959)
            * r
            + 1.42343711074968357734;
        let den = ((((((1.05075007164441684324e-9 * r + 5.475938084995344946e-4) * r + 0.0151986665636164571966)
            * r
            + 0.14810397642748007459)
            * r
            + 0.68976733498510000455)
            * r
            + 1.6763848301838038494)
            * r
            + 2.05319162663775882187)
            * r
            + 1.0;
        num / den
    } else {
        let r = r - 5.0;
        let num = ((((((2.01033439929228813265e-7 * r + 2.71155556874348757815e-5) * r + 0.0012426609473880784386)
            * r
            + 0.026532189526576123093)
            * r
            + 0.29656057182850489123)
            * r
            + 1.7848265399172913358)
            * r
            + 5.4637849111641143699)
            * r
            + 6.6579046435011037772;
        let den = ((((((2.04426310338993978564e-15 * r + 1.4215117583164458887e-7) * r + 1.8463183175100546818e-5)
            * r
            + 7.868691311456132591e-4)
            * r
            + 0.0148753612908506148525)
            * r
            + 0.13692988092273580531)
            * r
            + 0.59983220655588793769)
            * r
            + 1.0;
        num / den
    };
    if q < 0.0 { -x } else { x }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inverse_normal_matches_known_quantiles() {
        // Reference values from standard tables (R's qnorm).
        let cases = [
            (0.5, 0.0),
            (0.975, 1.959963984540054),
            (0.025, -1.959963984540054),
            (0.841_344_746_068_543, 1.0),
            (0.001, -3.090232306167813),
            (1e-10, -6.361340902404056),
        ];
        for (p, z) in cases {
            let got = inverse_normal_cdf(p);
            assert!((got - z).abs() < 1e-12, "p={p}: {got} vs {z}");
        }
    }

    #[test]
    fn central_values_follow_model_section_2() {
        assert_eq!(Dist::Normal { mean: 3.0, sd: 1.0 }.central(), 3.0);
        assert_eq!(Dist::Uniform { low: 10.0, high: 20.0 }.central(), 15.0);
        assert_eq!(Dist::Triangular { low: 0.0, mode: 1.0, high: 3.0 }.central(), 1.0);
        assert!((Dist::Lognormal { mu: 1.0, sigma: 0.5 }.central() - std::f64::consts::E).abs() < 1e-15);
    }

    #[test]
    fn triangular_quantile_by_hand() {
        // low 0, mode 1, high 3: F(mode) = 1/3. u = 1/12 → sqrt(1/12·3·1) = 0.5.
        let t = Dist::Triangular { low: 0.0, mode: 1.0, high: 3.0 };
        assert!((t.quantile(1.0 / 12.0) - 0.5).abs() < 1e-15);
        // u = 0.75 → 3 − sqrt(0.25·3·2) = 3 − sqrt(1.5).
        assert!((t.quantile(0.75) - (3.0 - 1.5f64.sqrt())).abs() < 1e-15);
        assert!((t.quantile(1.0 / 3.0) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn quantiles_of_each_kind_by_hand() {
        let z975 = 1.959963984540054;
        assert!((Dist::Normal { mean: 10.0, sd: 2.0 }.quantile(0.975) - (10.0 + 2.0 * z975)).abs() < 1e-12);
        assert_eq!(Dist::Uniform { low: 10000.0, high: 20000.0 }.quantile(0.25), 12500.0);
        // Log-normal: e^{mu + sigma·z}; mu 9.5, sigma 0.1 at 0.975 → 16252.408602297875.
        assert!((Dist::Lognormal { mu: 9.5, sigma: 0.1 }.quantile(0.975) - 16252.408602297875).abs() < 1e-9);
        assert_eq!(Dist::Fixed(3.0).quantile(0.9), 3.0);
        // A degenerate triangular is its mode.
        assert_eq!(Dist::Triangular { low: 1.0, mode: 1.0, high: 1.0 }.quantile(0.3), 1.0);
    }

    #[test]
    fn zero_spread_is_not_random() {
        assert!(!Dist::Normal { mean: 1.0, sd: 0.0 }.is_random());
        assert!(!Dist::Uniform { low: 2.0, high: 2.0 }.is_random());
        assert!(!Dist::Lognormal { mu: 0.0, sigma: 0.0 }.is_random());
        assert!(Dist::Triangular { low: 0.0, mode: 0.0, high: 1.0 }.is_random());
        assert_eq!(Dist::Lognormal { mu: 0.0, sigma: 0.0 }.support(), (1.0, 1.0));
        assert_eq!(Dist::Normal { mean: 1.0, sd: 1.0 }.support(), (f64::NEG_INFINITY, f64::INFINITY));
        // A clip to one point makes a random distribution fixed.
        let mut p = Param::fixed("x", 0.0);
        p.dist = Dist::Uniform { low: 0.0, high: 1.0 };
        p.clip = Some([0.5, 0.5]);
        assert!(!p.is_random());
    }

    #[test]
    fn numbers_print_compactly() {
        assert_eq!(fmt_g(107.0), "107");
        assert_eq!(fmt_g(0.0023), "0.0023");
        assert_eq!(fmt_g(2.5e-5), "0.000025");
        assert_eq!(fmt_g(-1.5), "-1.5");
        assert_eq!(fmt_g(f64::INFINITY), "inf");
    }

    #[test]
    fn clip_bounds_samples_and_central() {
        let mut p = Param::fixed("x", 0.0);
        p.dist = Dist::Normal { mean: 0.9, sd: 1.0 };
        p.clip = Some([0.0, 1.0]);
        assert_eq!(p.sample(0.999), 1.0);
        assert_eq!(p.sample(0.001), 0.0);
        assert_eq!(p.support(), (0.0, 1.0));
    }
}
