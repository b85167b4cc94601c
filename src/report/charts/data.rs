//! The numbers behind each chart, read from the same aggregate, central variant and shortfall
//! facts the CSV tables are written from, with the same quantile levels and rounding flags —
//! so every point drawn is a value of `population.csv`, `population_age.csv`, `summary.csv`
//! or `first_shortfall.csv` (the tests check this cell by cell). Nothing here runs the model.

use crate::report::Lang;
use crate::report::tables::{P05, P25, P50, P75, P95, ShortfallFacts, Tables};
use crate::stats::Sketch;

/// Quantiles across draws of one series, by year row, and the central variant.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Quantiles {
    /// 5 %.
    pub p05: Vec<f64>,
    /// 25 %.
    pub p25: Vec<f64>,
    /// Median.
    pub p50: Vec<f64>,
    /// 75 %.
    pub p75: Vec<f64>,
    /// 95 %.
    pub p95: Vec<f64>,
    /// The central variant.
    pub central: Vec<f64>,
}

impl Quantiles {
    fn of(sketches: &[Sketch], central: &[f64], integral: bool) -> Quantiles {
        let all: Vec<Vec<f64>> = sketches.iter().map(|s| s.quantiles(&[P05, P25, P50, P75, P95], integral)).collect();
        let q = |i: usize| all.iter().map(|v| v[i]).collect();
        Quantiles { p05: q(0), p25: q(1), p50: q(2), p75: q(3), p95: q(4), central: central.to_vec() }
    }

    /// The largest value drawn (for axis ranges).
    pub fn max(&self) -> f64 {
        self.p95.iter().chain(&self.central).chain(&self.p50).copied().filter(|v| v.is_finite()).fold(0.0, f64::max)
    }
}

/// The display name of an area: a town's name, or "All new towns".
pub fn area_name(t: &Tables, area: usize, lang: Lang) -> String {
    match t.scenario.towns.get(area) {
        Some(town) => town.name.get(lang.code()).to_string(),
        None => lang.t("All new towns", "全部新城").to_string(),
    }
}

/// One panel of `population_fan.png`: `population.csv` rows of one town.
#[derive(Clone, Debug, PartialEq)]
pub struct FanPanel {
    /// Area index (towns, then "all").
    pub area: usize,
    /// Town id or `all`, as in the tables.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Years of the rows.
    pub years: Vec<i32>,
    /// Residents: `p05 … p95` and `central` of population.csv.
    pub population: Quantiles,
    /// The scenario's targets `(year, residents)` (for "all": none).
    pub targets: Vec<(i32, f64)>,
}

/// The panels of `population_fan.png`: every town, then "all".
pub fn fan(t: &Tables, lang: Lang) -> Vec<FanPanel> {
    let m = t.model;
    let years: Vec<i32> = (0..m.rows).map(|r| m.year(r)).collect();
    (0..m.areas())
        .map(|a| {
            let range = a * m.rows..(a + 1) * m.rows;
            FanPanel {
                area: a,
                id: crate::report::tables::area_id(m, a).to_string(),
                name: area_name(t, a, lang),
                years: years.clone(),
                population: Quantiles::of(&t.agg.population[range.clone()], &t.central.population[range], false),
                targets: t
                    .scenario
                    .towns
                    .get(a)
                    .map_or_else(Vec::new, |town| town.targets.iter().map(|tg| (tg.year, tg.value)).collect()),
            }
        })
        .collect()
}

/// One age group of a pyramid in one year and sex: `population_age.csv`'s
/// `central`, `p05`, `p50`, `p95`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GroupStat {
    /// Central variant.
    pub central: f64,
    /// 5 %.
    pub p05: f64,
    /// Median.
    pub p50: f64,
    /// 95 %.
    pub p95: f64,
}

/// One five-year age group of a pyramid.
#[derive(Clone, Debug, PartialEq)]
pub struct PyramidRow {
    /// Label as in population_age.csv (`0-4` … `100+`).
    pub label: String,
    /// Females `[base year, end year]`.
    pub female: [GroupStat; 2],
    /// Males `[base year, end year]`.
    pub male: [GroupStat; 2],
}

/// `pyramid_<town>.png`: the five-year groups of the base and end years.
#[derive(Clone, Debug, PartialEq)]
pub struct Pyramid {
    /// Area index.
    pub area: usize,
    /// Town id (the file name's `<town>`).
    pub id: String,
    /// Display name.
    pub name: String,
    /// `[base year, end year]`.
    pub years: [i32; 2],
    /// Groups, youngest first.
    pub rows: Vec<PyramidRow>,
}

/// The pyramids of every town (not of "all").
pub fn pyramids(t: &Tables, lang: Lang) -> Vec<Pyramid> {
    let m = t.model;
    let ng = m.groups.len();
    // The five-year groups 0-4 … 95-99 and 100+, in age order (the service bands that follow
    // them in the model overlap them and are not part of a pyramid).
    let five: Vec<usize> =
        (0..ng).filter(|&g| m.groups[g].lo.is_multiple_of(5) && m.groups[g].hi == m.groups[g].lo + 4).collect();
    let open = (0..ng).find(|&g| m.groups[g].lo == 100 && m.groups[g].hi == 100);
    let groups: Vec<usize> = five.into_iter().chain(open).collect();
    let last = m.rows - 1;
    (0..m.towns.len())
        .map(|a| {
            let stat = |row: usize, sex: usize, g: usize| {
                let i = ((a * m.rows + row) * 2 + sex) * ng + g;
                let s = &t.agg.groups[i];
                GroupStat {
                    central: t.central.groups[i],
                    p05: s.quantile(P05, false),
                    p50: s.quantile(P50, false),
                    p95: s.quantile(P95, false),
                }
            };
            Pyramid {
                area: a,
                id: m.towns[a].id.clone(),
                name: area_name(t, a, lang),
                years: [m.year(0), m.year(last)],
                rows: groups
                    .iter()
                    .map(|&g| PyramidRow {
                        label: m.groups[g].label.clone(),
                        female: [stat(0, 0, g), stat(last, 0, g)],
                        male: [stat(0, 1, g), stat(last, 1, g)],
                    })
                    .collect(),
            }
        })
        .collect()
}

/// One row of the heatmap and of the shortfall-years chart: a town × resource.
#[derive(Clone, Debug, PartialEq)]
pub struct RiskRow {
    /// Area (town) index.
    pub area: usize,
    /// Resource index.
    pub res: usize,
    /// Town id and resource id, as in the tables.
    pub ids: (String, String),
    /// Town name.
    pub town: String,
    /// Resource name.
    pub resource: String,
    /// The shortfall facts (P(shortfall) by year = summary.csv's `shortfall_prob`; first
    /// shortfall year quantiles = first_shortfall.csv).
    pub facts: ShortfallFacts,
}

/// `shortfall_heatmap.png`: every town × resource (towns only: "all" compares summed demand
/// with summed capacity, which hides a town's shortfall behind another's surplus).
#[derive(Clone, Debug, PartialEq)]
pub struct Heatmap {
    /// Column years.
    pub years: Vec<i32>,
    /// Rows, town by town in scenario order, resources in scenario order.
    pub rows: Vec<RiskRow>,
}

fn risk_rows(t: &Tables, lang: Lang) -> Vec<RiskRow> {
    let m = t.model;
    let mut rows = Vec::new();
    for a in 0..m.towns.len() {
        for (r, res) in t.scenario.resources.iter().enumerate() {
            rows.push(RiskRow {
                area: a,
                res: r,
                ids: (m.towns[a].id.clone(), res.id.clone()),
                town: area_name(t, a, lang),
                resource: res.name.get(lang.code()).to_string(),
                facts: t.shortfall_facts(a, r),
            });
        }
    }
    rows
}

/// The heatmap's cells.
pub fn heatmap(t: &Tables, lang: Lang) -> Heatmap {
    let m = t.model;
    Heatmap { years: (0..m.rows).map(|r| m.year(r)).collect(), rows: risk_rows(t, lang) }
}

/// How urgent a row is, for sorting: earliest median first year, then earliest 10 % point,
/// then the highest probability of any shortfall by the end year; scenario order breaks ties.
fn urgency(f: &ShortfallFacts) -> (i32, i32, std::cmp::Reverse<u64>) {
    let y = |v: Option<i32>| v.unwrap_or(i32::MAX);
    (y(f.first_p50), y(f.first_p10), std::cmp::Reverse((f.prob_by_end * 1e9).round() as u64))
}

/// `shortfall_years.png`: the rows of [`heatmap`], most urgent first.
pub fn shortfall_years(t: &Tables, lang: Lang) -> Vec<RiskRow> {
    let mut rows = risk_rows(t, lang);
    rows.sort_by_key(|r| urgency(&r.facts)); // stable: scenario order among equals
    rows
}

/// One town's panel of `demand_<resource>.png`: summary.csv's demand and capacity columns.
#[derive(Clone, Debug, PartialEq)]
pub struct DemandPanel {
    /// Area index (towns, then "all").
    pub area: usize,
    /// Display name.
    pub name: String,
    /// Demand: `demand_p05 … demand_p95`, `central_demand`.
    pub demand: Quantiles,
    /// Capacity: `capacity_p05 … capacity_p95`, `central_capacity`.
    pub capacity: Quantiles,
    /// `shortfall_prob` by year.
    pub shortfall_prob: Vec<f64>,
}

/// `demand_<resource>.png`.
#[derive(Clone, Debug, PartialEq)]
pub struct DemandChart {
    /// Resource index.
    pub res: usize,
    /// Resource id (the file name's `<resource>`).
    pub id: String,
    /// Display name.
    pub name: String,
    /// Unit in the chart's language.
    pub unit: String,
    /// Whether demand is whole units (axis ticks are whole numbers).
    pub integral: bool,
    /// Years of the rows.
    pub years: Vec<i32>,
    /// Every town, then "all".
    pub panels: Vec<DemandPanel>,
}

/// The demand charts, one per resource.
pub fn demand(t: &Tables, lang: Lang) -> Vec<DemandChart> {
    let m = t.model;
    let nr = m.resources.len();
    let rows = m.rows;
    (0..nr)
        .map(|r| {
            let res = &m.resources[r];
            let panels = (0..m.areas())
                .map(|a| {
                    let range = (a * nr + r) * rows..(a * nr + r + 1) * rows;
                    DemandPanel {
                        area: a,
                        name: area_name(t, a, lang),
                        demand: Quantiles::of(
                            &t.agg.demand[range.clone()],
                            &t.central.demand[range.clone()],
                            res.integral,
                        ),
                        capacity: Quantiles::of(
                            &t.agg.capacity[range.clone()],
                            &t.central.capacity[range.clone()],
                            res.capacity_integral,
                        ),
                        shortfall_prob: range.map(|i| t.agg.shortfall[i] as f64 / t.agg.draws as f64).collect(),
                    }
                })
                .collect();
            let sres = &t.scenario.resources[r];
            DemandChart {
                res: r,
                id: res.id.clone(),
                name: sres.name.get(lang.code()).to_string(),
                unit: sres.unit.get(lang.code()).to_string(),
                integral: res.integral && res.capacity_integral,
                years: (0..rows).map(|row| m.year(row)).collect(),
                panels,
            }
        })
        .collect()
}
