//! Parameter sweeps: how far must an assumption move before the answer changes?
//!
//! A sweep sets one or two scenario paths (the path grammar of `scenario::paths`) to each
//! value of a list — two paths make a grid — and runs the full Monte Carlo at every point.
//! Each point's scenario is the planner's document with the value written in and validated
//! again, so a swept value is checked exactly as if written by hand; whole-number paths
//! (years, delays) are rounded half up before duplicates are looked for. Every point uses the
//! same seed and draws (common random numbers, MODEL §7): every other variable takes the same
//! values in draw d at every point, so differences between points come from the swept value
//! alone, and a point gives exactly what `capsim run` gives for the edited scenario.
//!
//! Points run one after another, each over its draws on all workers (`runner::run`): the runner
//! is exact for any thread count, splits even a small point's draws between the workers, and
//! holds one aggregate for the point being run rather than one per point.

use std::fmt::Write;

use crate::engine;
use crate::report::tables::{P50, Tables, area_id, fixed};
use crate::runner;
use crate::scenario::paths::{self, Address};
use crate::scenario::{self, Document, Scenario};
use crate::{Error, Result};

/// Most points one list may have.
pub const MAX_POINTS: usize = 1000;

/// Most points a sweep (grid) may have.
pub const MAX_GRID: usize = 10_000;

/// Why a value list was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ValuesError {
    /// Nothing given.
    #[error("the value list is empty; give numbers such as `0.1,0.2,0.3` or a range `low..high:n`")]
    Empty,
    /// An item is not a number.
    #[error("`{0}` is not a number; give numbers such as `0.1,0.2,0.3` or a range `low..high:n`")]
    NotANumber(String),
    /// A range is malformed.
    #[error("`{0}` is not a range of the form `low..high:n` (n points, both ends included), e.g. `0.5..1.5:5`")]
    BadRange(String),
    /// A range with fewer than two points.
    #[error("`{range}` asks for {n} point(s); a range needs n ≥ 2 (both ends are included)")]
    TooFewPoints {
        /// The range as written.
        range: String,
        /// The n given.
        n: usize,
    },
    /// Too many points.
    #[error("`{0}` has more than {MAX_POINTS} points; sweep a coarser grid first")]
    TooMany(String),
    /// The same point twice.
    #[error("{value} appears twice in `{list}`{rounded}; every point of a sweep must differ")]
    Duplicate {
        /// The repeated value.
        value: String,
        /// The list as written.
        list: String,
        /// A note when rounding made them equal.
        rounded: String,
    },
}

/// Parses a value list: `a,b,c` or `low..high:n` (n ≥ 2 points, both ends included, interior
/// points rounded to 12 significant digits so `0.1..0.5:5` gives 0.3, not 0.30000000000000004).
/// With `integer`, values are rounded half up (as `paths::set` does) before duplicates are
/// refused.
pub fn parse_values(text: &str, integer: bool) -> std::result::Result<Vec<f64>, ValuesError> {
    let t = text.trim();
    if t.is_empty() {
        return Err(ValuesError::Empty);
    }
    let raw: Vec<f64> = if let Some((low, rest)) = t.split_once("..") {
        let bad = || ValuesError::BadRange(t.to_string());
        let (high, n) = rest.split_once(':').ok_or_else(bad)?;
        let low = number(low).map_err(|_| bad())?;
        let high = number(high).map_err(|_| bad())?;
        let n: usize = n.trim().parse().map_err(|_| bad())?;
        if n < 2 {
            return Err(ValuesError::TooFewPoints { range: t.to_string(), n });
        }
        if n > MAX_POINTS {
            return Err(ValuesError::TooMany(t.to_string()));
        }
        // Weights of both ends rather than low + (high − low)·t: the difference of two large
        // numbers of opposite sign overflows to infinity.
        let points: Vec<f64> = (0..n)
            .map(|i| match i {
                0 => low,
                _ if i == n - 1 => high,
                _ => {
                    let t = i as f64 / (n - 1) as f64;
                    tidy(low * (1.0 - t) + high * t)
                }
            })
            .collect();
        if points.iter().any(|v| !v.is_finite()) {
            return Err(ValuesError::BadRange(t.to_string()));
        }
        points
    } else {
        let items: Vec<&str> = t.split(',').collect();
        if items.len() > MAX_POINTS {
            return Err(ValuesError::TooMany(t.to_string()));
        }
        items.iter().map(|s| number(s)).collect::<std::result::Result<_, _>>()?
    };
    let values: Vec<f64> = if integer { raw.iter().map(|v| libm::floor(v + 0.5)).collect() } else { raw.clone() };
    for (i, v) in values.iter().enumerate() {
        if let Some(j) = values[..i].iter().position(|w| w == v) {
            let rounded = if integer && raw[i] != raw[j] {
                format!(" after rounding to whole numbers ({} and {})", show(raw[j]), show(raw[i]))
            } else {
                String::new()
            };
            return Err(ValuesError::Duplicate { value: show(*v), list: t.to_string(), rounded });
        }
    }
    Ok(values)
}

fn number(s: &str) -> std::result::Result<f64, ValuesError> {
    let s = s.trim();
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(ValuesError::NotANumber(s.to_string())),
    }
}

/// Rounds to 12 significant digits (see [`parse_values`]).
fn tidy(v: f64) -> f64 {
    format!("{v:.11e}").parse().unwrap_or(v)
}

/// A number as written in `sweep.csv`: the shortest form that reads back exactly.
pub fn show(v: f64) -> String {
    let s = format!("{v}");
    if s == "-0" { "0".into() } else { s }
}

/// One swept path and its values.
#[derive(Clone, Debug, PartialEq)]
pub struct Param {
    /// The path.
    pub path: String,
    /// What it names.
    pub address: Address,
    /// The values (rounded for whole-number paths).
    pub values: Vec<f64>,
}

/// Resolves `--param PATH --values LIST` pairs against the scenario: unknown paths (with the
/// nearest valid ones), bad lists, paths a sweep cannot move, too many points.
pub fn plan(base: &Scenario, pairs: &[(String, String)]) -> Result<Vec<Param>> {
    if pairs.is_empty() || pairs.len() > 2 {
        return Err(Error::Input(format!(
            "a sweep takes one or two `--param PATH --values LIST` pairs; {} given",
            pairs.len()
        )));
    }
    let mut out: Vec<Param> = Vec::new();
    for (path, list) in pairs {
        let address = paths::find(base, path).map_err(|e| Error::Input(e.to_string()))?;
        if path == "settings.seed" || path == "settings.draws" {
            return Err(Error::Input(format!(
                "`{path}` cannot be swept: every point uses the same seed and draws (common random numbers). \
                 Use --seed and --draws to change them for the whole sweep"
            )));
        }
        if out.iter().any(|p| p.path == *path) {
            return Err(Error::Input(format!("`{path}` is given twice; a grid needs two different paths")));
        }
        let values = parse_values(list, address.is_integer())
            .map_err(|e| Error::Input(format!("--values for `{path}`: {e}")))?;
        out.push(Param { path: path.clone(), address, values });
    }
    let grid: usize = out.iter().map(|p| p.values.len()).product();
    if grid > MAX_GRID {
        return Err(Error::Input(format!(
            "the grid has {grid} points; at most {MAX_GRID} (sweep a coarser grid first)"
        )));
    }
    Ok(out)
}

/// Every point of the sweep, the first path varying slowest.
pub fn points(params: &[Param]) -> Vec<Vec<f64>> {
    let mut pts: Vec<Vec<f64>> = vec![vec![]];
    for p in params {
        pts = pts.iter().flat_map(|prefix| p.values.iter().map(move |v| [prefix.clone(), vec![*v]].concat())).collect();
    }
    pts
}

/// The validated scenario of one point: the document with each value written in.
pub fn scenario_at(doc: &Document, base: &Scenario, params: &[Param], point: &[f64]) -> Result<Scenario> {
    let mut d = doc.clone();
    let at = || params.iter().zip(point).map(|(p, v)| format!("{} = {}", p.path, show(*v))).collect::<Vec<_>>();
    for (p, v) in params.iter().zip(point) {
        paths::set(&mut d, base, &p.path, *v)
            .map_err(|e| Error::Input(format!("at sweep point {}: {e}", at().join(", "))))?;
    }
    scenario::from_document(&d).map_err(|e| Error::Input(format!("at sweep point {}:\n{e}", at().join(", "))))
}

/// Validates every point's scenario, so a bad value is refused before anything runs (and
/// nothing is written).
pub fn validate(doc: &Document, base: &Scenario, params: &[Param]) -> Result<()> {
    for p in points(params) {
        scenario_at(doc, base, params, &p)?;
    }
    Ok(())
}

/// The end-year facts of one point × area × resource.
#[derive(Clone, Debug, PartialEq)]
pub struct Cell {
    /// Earliest year with P(shortfall) ≥ the scenario's risk level.
    pub first_year_risk: Option<i32>,
    /// P(a shortfall in some year by the end).
    pub prob_by_end: f64,
    /// Mean gap in the end year (zero-gap draws included).
    pub gap_mean: f64,
    /// Median population in the end year.
    pub population_p50: f64,
}

/// One point's results.
#[derive(Clone, Debug, PartialEq)]
pub struct PointResult {
    /// The swept values.
    pub values: Vec<f64>,
    /// The point's end year.
    pub end_year: i32,
    /// Its base year.
    pub base_year: i32,
    /// The risk level used.
    pub risk: f64,
    /// `cells[area * resources + resource]`.
    pub cells: Vec<Cell>,
}

/// A finished sweep.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepResult {
    /// The swept paths.
    pub params: Vec<Param>,
    /// Areas: town ids then `all`.
    pub areas: Vec<String>,
    /// Resource ids.
    pub resources: Vec<String>,
    /// One result per point.
    pub points: Vec<PointResult>,
    /// Draws per point.
    pub draws: u64,
    /// The seed of every point.
    pub seed: u64,
}

/// Runs every point with `draws` draws and `seed` on `threads` workers. `progress` is called
/// after each point with (points done, points).
pub fn run(
    doc: &Document,
    base: &Scenario,
    params: &[Param],
    draws: u64,
    seed: u64,
    threads: usize,
    progress: &dyn Fn(usize, usize),
) -> Result<SweepResult> {
    let pts = points(params);
    validate(doc, base, params)?;
    let model0 = engine::compile(base);
    let areas: Vec<String> = (0..model0.areas()).map(|a| area_id(&model0, a).to_string()).collect();
    let resources: Vec<String> = model0.resources.iter().map(|r| r.id.clone()).collect();
    let mut results = Vec::with_capacity(pts.len());
    for (n, p) in pts.iter().enumerate() {
        let s = scenario_at(doc, base, params, p)?;
        let model = engine::compile(&s);
        let central = runner::central(&model).map_err(|e| at_point(params, p, e))?;
        let agg = runner::run(&model, seed, 0..draws, threads, &|_| {}).map_err(|e| at_point(params, p, e))?;
        let tables = Tables { scenario: &s, model: &model, agg: &agg, central: &central, risk: s.settings.risk };
        let rows = model.rows;
        let nr = model.resources.len();
        let mut cells = Vec::with_capacity(model.areas() * nr);
        for a in 0..model.areas() {
            for r in 0..nr {
                let f = tables.shortfall_facts(a, r);
                cells.push(Cell {
                    first_year_risk: f.first_year_risk,
                    prob_by_end: f.prob_by_end,
                    gap_mean: agg.gap[(a * nr + r) * rows + rows - 1].mean(),
                    population_p50: agg.population[a * rows + rows - 1].quantile(P50, false),
                });
            }
        }
        results.push(PointResult {
            values: p.clone(),
            end_year: s.settings.end_year,
            base_year: s.settings.base_year,
            risk: s.settings.risk,
            cells,
        });
        progress(n + 1, pts.len());
    }
    Ok(SweepResult { params: params.to_vec(), areas, resources, points: results, draws, seed })
}

fn at_point(params: &[Param], point: &[f64], e: Error) -> Error {
    let at: Vec<String> = params.iter().zip(point).map(|(p, v)| format!("{} = {}", p.path, show(*v))).collect();
    match e {
        Error::Numerical(m) => Error::Numerical(format!("at sweep point {}: {m}", at.join(", "))),
        other => other,
    }
}

impl SweepResult {
    /// `sweep.csv`: the swept paths, then
    /// `town,resource,first_year_risk,prob_by_end,gap_mean,population_p50` (end-year values),
    /// one row per point × area × resource.
    pub fn csv(&self) -> String {
        let mut out = String::new();
        for p in &self.params {
            out.push_str(&p.path);
            out.push(',');
        }
        out.push_str("town,resource,first_year_risk,prob_by_end,gap_mean,population_p50\n");
        let nr = self.resources.len();
        for pt in &self.points {
            let prefix: String = pt.values.iter().map(|v| format!("{},", show(*v))).collect();
            for (a, area) in self.areas.iter().enumerate() {
                for (r, res) in self.resources.iter().enumerate() {
                    let c = &pt.cells[a * nr + r];
                    let _ = writeln!(
                        out,
                        "{prefix}{area},{res},{},{},{},{}",
                        c.first_year_risk.map_or_else(|| "none".to_string(), |y| y.to_string()),
                        fixed(c.prob_by_end, 4),
                        fixed(c.gap_mean, 2),
                        fixed(c.population_p50, 1)
                    );
                }
            }
        }
        out
    }

    /// The cell of a point, area and resource.
    pub fn cell(&self, point: usize, area: usize, resource: usize) -> &Cell {
        &self.points[point].cells[area * self.resources.len() + resource]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_and_ranges() {
        assert_eq!(parse_values("1,2.5, 3", false).unwrap(), vec![1.0, 2.5, 3.0]);
        assert_eq!(parse_values("0.1..0.5:5", false).unwrap(), vec![0.1, 0.2, 0.3, 0.4, 0.5]);
        assert_eq!(parse_values("-1..1:3", false).unwrap(), vec![-1.0, 0.0, 1.0]);
        assert_eq!(parse_values("5..1:3", false).unwrap(), vec![5.0, 3.0, 1.0], "descending ranges are fine");
        assert_eq!(parse_values("1e5..2e5:2", false).unwrap(), vec![100000.0, 200000.0]);
        assert_eq!(parse_values("42", false).unwrap(), vec![42.0]);
    }

    #[test]
    fn ranges_over_huge_numbers_stay_finite() {
        // Regression (found writing the sweep_values fuzz target): low + (high − low)·t
        // overflowed to infinity when high − low exceeded the largest double, and `inf` was
        // accepted as a point of the sweep.
        assert_eq!(parse_values("-1e308..1e308:3", false).unwrap(), vec![-1e308, 0.0, 1e308]);
        let v = parse_values("-1.7e308..1.7e308:5", false).unwrap();
        assert!(v.iter().all(|x| x.is_finite()), "{v:?}");
    }

    #[test]
    fn whole_number_paths_round_half_up() {
        assert!(matches!(parse_values("0,1.5,2.4", true), Err(ValuesError::Duplicate { .. })));
        assert_eq!(parse_values("0,1.5,3", true).unwrap(), vec![0.0, 2.0, 3.0]);
        assert_eq!(parse_values("-0.5,0.5", true).unwrap(), vec![0.0, 1.0]);
        let e = parse_values("1.6,2.4", true).unwrap_err();
        assert!(e.to_string().contains("after rounding to whole numbers (1.6 and 2.4)"), "{e}");
        assert_eq!(parse_values("0..3:4", true).unwrap(), vec![0.0, 1.0, 2.0, 3.0]);
    }

    #[test]
    fn bad_lists_are_refused_with_the_fix() {
        assert_eq!(parse_values("1..", false), Err(ValuesError::BadRange("1..".into())));
        assert_eq!(parse_values("1..2", false), Err(ValuesError::BadRange("1..2".into())));
        assert_eq!(parse_values("a,b", false), Err(ValuesError::NotANumber("a".into())));
        assert_eq!(parse_values("1,,2", false), Err(ValuesError::NotANumber("".into())));
        assert_eq!(parse_values("nan,1", false), Err(ValuesError::NotANumber("nan".into())));
        assert_eq!(parse_values("inf", false), Err(ValuesError::NotANumber("inf".into())));
        assert!(matches!(parse_values("1,1", false), Err(ValuesError::Duplicate { .. })));
        assert!(matches!(parse_values("1,1.0", false), Err(ValuesError::Duplicate { .. })));
        assert_eq!(parse_values("5..1:0", false), Err(ValuesError::TooFewPoints { range: "5..1:0".into(), n: 0 }));
        assert_eq!(parse_values("5..1:1", false), Err(ValuesError::TooFewPoints { range: "5..1:1".into(), n: 1 }));
        assert!(matches!(parse_values("1..1:3", false), Err(ValuesError::Duplicate { .. })));
        assert!(matches!(parse_values("0..1:1001", false), Err(ValuesError::TooMany(_))));
        assert!(matches!(parse_values("0..1:2.5", false), Err(ValuesError::BadRange(_))));
        assert!(matches!(parse_values("x..1:3", false), Err(ValuesError::BadRange(_))));
        assert_eq!(parse_values("  ", false), Err(ValuesError::Empty));
        // Rounding can make a range collapse onto itself.
        assert!(matches!(parse_values("0..1:3", true), Err(ValuesError::Duplicate { .. })));
    }

    #[test]
    fn grid_points_first_path_slowest() {
        let a = Address { path: "a".into(), target: paths::Target::Number };
        let params = vec![
            Param { path: "a".into(), address: a.clone(), values: vec![1.0, 2.0] },
            Param { path: "b".into(), address: a, values: vec![10.0, 20.0, 30.0] },
        ];
        assert_eq!(
            points(&params),
            vec![vec![1.0, 10.0], vec![1.0, 20.0], vec![1.0, 30.0], vec![2.0, 10.0], vec![2.0, 20.0], vec![2.0, 30.0]]
        );
    }

    #[test]
    fn numbers_print_shortest_exact() {
        assert_eq!(show(0.3), "0.3");
        assert_eq!(show(800000.0), "800000");
        assert_eq!(show(-0.0), "0");
        assert_eq!(show(2.5e-7), "0.00000025");
    }
}
