//! Morris elementary effects: the cheap screen (Morris 1991, with Campolongo et al.'s μ*).
//!
//! Each input is scaled to [0, 1] over its **1–99 % quantile range in u-space**
//! (`u = 0.01 + 0.98·x`), so a heavy-tailed distribution's extremes do not dominate, and the
//! grid has `p` levels `x ∈ {0, 1/(p−1), …, 1}`. A trajectory starts at a random grid point
//! with each coordinate in `{0, …, 1 − Δ}`, `Δ = p / (2(p − 1))`, and moves one input at a
//! time, in random order, by `±Δ`: `k + 1` runs per trajectory, `r(k + 1)` in all. The
//! elementary effect of the input moved between runs m and m + 1 is
//! `EE = (y_{m+1} − y_m) / (x_{m+1} − x_m)` (signed Δ), in output units per whole scaled
//! range. Per input: `μ = mean(EE)`, `μ* = mean(|EE|)` (importance), `σ = sd(EE)` with
//! n − 1 (interaction or non-linearity). This is SALib's definition, so its
//! `morris.analyze(problem, X, Y, num_levels = p)` on the exported samples (bounds
//! [0.01, 0.99]) gives the same numbers.

use rand::Rng;

use super::sobol::below;
use crate::rng;

/// Lowest and highest u of the scaled range (the 1 % and 99 % quantiles).
pub const U_LOW: f64 = 0.01;
/// See [`U_LOW`].
pub const U_HIGH: f64 = 0.99;

/// A Morris design: `r` trajectories of `k + 1` rows.
#[derive(Clone, Debug, PartialEq)]
pub struct MorrisDesign {
    /// Inputs.
    pub k: usize,
    /// Trajectories.
    pub r: usize,
    /// Grid levels.
    pub levels: usize,
    /// Rows in u-space, `r(k + 1) × k`, row-major.
    pub u: Vec<f64>,
    /// For each trajectory step (`r × k`), the input moved between rows m and m + 1.
    pub moved: Vec<usize>,
    /// The signed step in scaled units (`±Δ`) of each move.
    pub step: Vec<f64>,
}

/// The grid step Δ = p / (2(p − 1)).
pub fn delta(levels: usize) -> f64 {
    levels as f64 / (2.0 * (levels as f64 - 1.0))
}

/// Builds `r` trajectories over `k` inputs with `levels` grid levels (even, ≥ 2), from `seed`.
/// Each trajectory comes from its own stream, so the design is the same for any thread count.
pub fn design(k: usize, r: usize, levels: usize, seed: u64) -> MorrisDesign {
    let d = delta(levels);
    let steps = levels as f64 - 1.0;
    // Base levels l with l/(p−1) ≤ 1 − Δ.
    let base_levels = (0..levels).filter(|&l| l as f64 / steps <= 1.0 - d + 1e-12).count().max(1);
    let mut u = Vec::with_capacity(r * (k + 1) * k);
    let mut moved = Vec::with_capacity(r * k);
    let mut step = Vec::with_capacity(r * k);
    for t in 0..r {
        let mut g = rng::stream(seed, t as u64, rng::stream_id("sensitivity.morris.trajectory"));
        let base: Vec<f64> = (0..k).map(|_| below(&mut g, base_levels) as f64 / steps).collect();
        // Start at the low or the high end of each input's pair {x*, x* + Δ} at random.
        let up: Vec<bool> = (0..k).map(|_| g.next_u64() >> 63 == 0).collect();
        let mut x: Vec<f64> = (0..k).map(|i| if up[i] { base[i] } else { base[i] + d }).collect();
        // A random order of the moves (Fisher–Yates).
        let mut order: Vec<usize> = (0..k).collect();
        for i in (1..k).rev() {
            order.swap(i, below(&mut g, i + 1));
        }
        u.extend(x.iter().map(|&v| to_u(v)));
        for &i in &order {
            let s = if up[i] { d } else { -d };
            x[i] += s;
            moved.push(i);
            step.push(s);
            u.extend(x.iter().map(|&v| to_u(v)));
        }
    }
    MorrisDesign { k, r, levels, u, moved, step }
}

fn to_u(x: f64) -> f64 {
    U_LOW + (U_HIGH - U_LOW) * x.clamp(0.0, 1.0)
}

/// Screening statistics of one input for one output.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MorrisIndex {
    /// Mean absolute elementary effect.
    pub mu_star: f64,
    /// Standard deviation of the elementary effects (n − 1).
    pub sigma: f64,
    /// Mean elementary effect.
    pub mu: f64,
}

/// μ*, σ and μ of every input for one output, from its `r(k + 1)` run values in design order.
pub fn effects(design: &MorrisDesign, y: &[f64]) -> Vec<MorrisIndex> {
    let (k, r) = (design.k, design.r);
    let mut ee = vec![Vec::with_capacity(r); k];
    for t in 0..r {
        for m in 0..k {
            let row = t * (k + 1) + m;
            let i = design.moved[t * k + m];
            ee[i].push((y[row + 1] - y[row]) / design.step[t * k + m]);
        }
    }
    ee.iter()
        .map(|e| {
            let n = e.len() as f64;
            let mu = e.iter().sum::<f64>() / n;
            let mu_star = e.iter().map(|v| v.abs()).sum::<f64>() / n;
            MorrisIndex { mu_star, sigma: super::sobol::sd(e), mu }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trajectories_move_one_input_by_delta() {
        let d = design(5, 10, 4, 3);
        assert_eq!(d.u.len(), 10 * 6 * 5);
        let du = (U_HIGH - U_LOW) * delta(4);
        for t in 0..10 {
            let mut seen = [false; 5];
            for m in 0..5 {
                let a = &d.u[(t * 6 + m) * 5..(t * 6 + m + 1) * 5];
                let b = &d.u[(t * 6 + m + 1) * 5..(t * 6 + m + 2) * 5];
                let changed: Vec<usize> = (0..5).filter(|&i| a[i] != b[i]).collect();
                assert_eq!(changed, vec![d.moved[t * 5 + m]]);
                let i = changed[0];
                assert!(((b[i] - a[i]).abs() - du).abs() < 1e-12);
                assert!(!seen[i], "each input moves once per trajectory");
                seen[i] = true;
            }
            assert!(d.u[t * 30..(t + 1) * 30].iter().all(|&u| (U_LOW - 1e-12..=U_HIGH + 1e-12).contains(&u)));
        }
        assert_eq!(design(5, 10, 4, 3), d, "deterministic");
        assert_ne!(design(5, 10, 4, 4).u, d.u);
    }

    #[test]
    fn linear_function_effects_are_its_slopes() {
        // y = 3·x1 − 2·x2 (x in scaled units): every EE of x1 is 3, of x2 is −2, of x3 is 0.
        let d = design(3, 8, 4, 11);
        let x = |u: f64| (u - U_LOW) / (U_HIGH - U_LOW);
        let y: Vec<f64> = d.u.chunks(3).map(|r| 3.0 * x(r[0]) - 2.0 * x(r[1])).collect();
        let e = effects(&d, &y);
        assert!((e[0].mu - 3.0).abs() < 1e-9 && (e[0].mu_star - 3.0).abs() < 1e-9 && e[0].sigma < 1e-9);
        assert!((e[1].mu + 2.0).abs() < 1e-9 && (e[1].mu_star - 2.0).abs() < 1e-9);
        assert_eq!(e[2].mu_star, 0.0);
        assert_eq!(e[2].sigma, 0.0);
    }

    #[test]
    fn hand_computed_effects() {
        // One trajectory by hand: k = 1, rows x = 0 then x = 2/3 (p = 4): EE = Δy/Δ.
        let dsg =
            MorrisDesign { k: 1, r: 2, levels: 4, u: vec![], moved: vec![0, 0], step: vec![2.0 / 3.0, -2.0 / 3.0] };
        // Trajectory 1: y 1 → 3 (EE = 3); trajectory 2: y 5 → 4 going down (EE = −1/−2/3 = 1.5).
        let e = effects(&dsg, &[1.0, 3.0, 5.0, 4.0]);
        assert!((e[0].mu - 2.25).abs() < 1e-12);
        assert!((e[0].mu_star - 2.25).abs() < 1e-12);
        assert!((e[0].sigma - (0.75f64 * 0.75 * 2.0).sqrt()).abs() < 1e-12);
    }
}
