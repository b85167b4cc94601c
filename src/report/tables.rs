//! The CSV tables of a run, written from the aggregate and the central variant. Column names
//! are a contract (documented in the README and `docs/outputs.md`); rows are year-end figures
//! (MODEL §1), and components of change are reported for the calendar year they happen in.

use std::fmt::Write;

use crate::engine::{DrawOutput, Model};
use crate::scenario::Scenario;
use crate::stats::{self, Aggregate, Level, Sketch};

/// Quantile levels used in the tables.
pub const P05: Level = Level::new(5, 100);
/// 10 %.
pub const P10: Level = Level::new(10, 100);
/// 25 %.
pub const P25: Level = Level::new(25, 100);
/// Median.
pub const P50: Level = Level::new(50, 100);
/// 75 %.
pub const P75: Level = Level::new(75, 100);
/// 90 %.
pub const P90: Level = Level::new(90, 100);
/// 95 %.
pub const P95: Level = Level::new(95, 100);

/// Everything a report is made from.
pub struct Tables<'a> {
    /// The scenario.
    pub scenario: &'a Scenario,
    /// Its compiled model.
    pub model: &'a Model,
    /// The aggregated draws.
    pub agg: &'a Aggregate,
    /// The central variant.
    pub central: &'a DrawOutput,
    /// Risk level for `first_year_risk`.
    pub risk: f64,
}

/// Formats a number with `dp` decimals, never `-0`.
pub fn fixed(v: f64, dp: usize) -> String {
    // Whole numbers (the quantiles of whole-number series, and many others) are exact as
    // integers; the general float formatter falls back to its slow exact algorithm for most
    // of them.
    if v.fract() == 0.0 && v.abs() < 9.0e15 {
        let mut s = (v as i64).to_string();
        if dp > 0 {
            s.push('.');
            s.extend(std::iter::repeat_n('0', dp));
        }
        return s;
    }
    let s = format!("{v:.dp$}");
    if s.starts_with('-') && s[1..].chars().all(|c| c == '0' || c == '.') { s[1..].to_string() } else { s }
}

/// A name for an area: a town id, or `all`.
pub fn area_id(model: &Model, area: usize) -> &str {
    model.towns.get(area).map_or("all", |t| t.id.as_str())
}

fn quantiles(s: &Sketch, levels: &[Level], integral: bool, dp: usize) -> String {
    s.quantiles(levels, integral).into_iter().map(|q| fixed(q, dp)).collect::<Vec<_>>().join(",")
}

/// Decimals for people counts and for demand/capacity values.
const DP_PEOPLE: usize = 1;
const DP_AMOUNT: usize = 2;
const DP_PROB: usize = 4;

impl Tables<'_> {
    fn series_index(&self, area: usize, res: usize) -> usize {
        area * self.model.resources.len() + res
    }

    /// `population.csv`: `town,year,central,mean,p05,p25,p50,p75,p95`.
    pub fn population(&self) -> String {
        let m = self.model;
        let mut out = String::from("town,year,central,mean,p05,p25,p50,p75,p95\n");
        for a in 0..m.areas() {
            for row in 0..m.rows {
                let i = a * m.rows + row;
                let s = &self.agg.population[i];
                let _ = writeln!(
                    out,
                    "{},{},{},{},{}",
                    area_id(m, a),
                    m.year(row),
                    fixed(self.central.population[i], DP_PEOPLE),
                    fixed(s.mean(), DP_PEOPLE),
                    quantiles(s, &[P05, P25, P50, P75, P95], false, DP_PEOPLE)
                );
            }
        }
        out
    }

    /// `population_age.csv`: `town,year,sex,age_group,central,mean,p05,p50,p95`.
    pub fn population_age(&self) -> String {
        let m = self.model;
        let ng = m.groups.len();
        let mut out = String::from("town,year,sex,age_group,central,mean,p05,p50,p95\n");
        for a in 0..m.areas() {
            for row in 0..m.rows {
                for (sex, sex_name) in ["female", "male"].iter().enumerate() {
                    for (g, group) in m.groups.iter().enumerate() {
                        let i = ((a * m.rows + row) * 2 + sex) * ng + g;
                        let s = &self.agg.groups[i];
                        let _ = writeln!(
                            out,
                            "{},{},{sex_name},{},{},{},{}",
                            area_id(m, a),
                            m.year(row),
                            group.label,
                            fixed(self.central.groups[i], DP_PEOPLE),
                            fixed(s.mean(), DP_PEOPLE),
                            quantiles(s, &[P05, P50, P95], false, DP_PEOPLE)
                        );
                    }
                }
            }
        }
        out
    }

    /// `summary.csv`: demand, capacity, shortfall probability and gap by town, resource, year.
    pub fn summary(&self) -> String {
        let m = self.model;
        let n = self.agg.draws as f64;
        let five = [P05, P25, P50, P75, P95];
        let mut out = String::from(
            "town,resource,unit,year,central_demand,demand_mean,demand_p05,demand_p25,demand_p50,demand_p75,demand_p95,\
             central_capacity,capacity_p05,capacity_p25,capacity_p50,capacity_p75,capacity_p95,\
             shortfall_prob,shortfall_prob_se,gap_mean,gap_p05,gap_p25,gap_p50,gap_p75,gap_p95\n",
        );
        for a in 0..m.areas() {
            for (r, res) in m.resources.iter().enumerate() {
                let unit = &self.scenario.resources[r].unit.en;
                let gap_integral = res.integral && res.capacity_integral;
                for row in 0..m.rows {
                    let i = self.series_index(a, r) * m.rows + row;
                    let p = self.agg.shortfall[i] as f64 / n;
                    let se = (p * (1.0 - p) / n).sqrt();
                    let fields = [
                        area_id(m, a).to_string(),
                        res.id.clone(),
                        csv_field(unit),
                        m.year(row).to_string(),
                        fixed(self.central.demand[i], DP_AMOUNT),
                        fixed(self.agg.demand[i].mean(), DP_AMOUNT),
                        quantiles(&self.agg.demand[i], &five, res.integral, DP_AMOUNT),
                        fixed(self.central.capacity[i], DP_AMOUNT),
                        quantiles(&self.agg.capacity[i], &five, res.capacity_integral, DP_AMOUNT),
                        fixed(p, DP_PROB),
                        fixed(se, DP_PROB),
                        fixed(self.agg.gap[i].mean(), DP_AMOUNT),
                        quantiles(&self.agg.gap[i], &five, gap_integral, DP_AMOUNT),
                    ];
                    out.push_str(&fields.join(","));
                    out.push('\n');
                }
            }
        }
        out
    }

    /// The shortfall facts of one town × resource, as the tables and charts report them.
    pub fn shortfall_facts(&self, area: usize, res: usize) -> ShortfallFacts {
        let m = self.model;
        let rows = m.rows;
        let s = self.series_index(area, res);
        let first = &self.agg.first[s * (rows + 1)..(s + 1) * (rows + 1)];
        let draws = self.agg.draws;
        let probs: Vec<f64> = (0..rows).map(|row| self.agg.shortfall[s * rows + row] as f64 / draws as f64).collect();
        let cdf = stats::first_cdf(first, draws);
        let year = |row: Option<usize>| row.map(|r| m.year(r));
        ShortfallFacts {
            prob_by_end: cdf.last().copied().unwrap_or(0.0),
            first_p10: year(stats::first_quantile(first, draws, P10)),
            first_p50: year(stats::first_quantile(first, draws, P50)),
            first_p90: year(stats::first_quantile(first, draws, P90)),
            first_year_risk: year(probs.iter().position(|&p| p >= self.risk)),
            years_likely: (0..rows).filter(|&r| probs[r] >= 0.5).map(|r| m.year(r)).collect(),
            cdf,
            probs,
        }
    }

    /// `first_shortfall.csv`.
    pub fn first_shortfall(&self) -> String {
        let m = self.model;
        let mut out = String::from(
            "town,resource,prob_by_end,first_year_p10,first_year_p50,first_year_p90,first_year_risk,years_likely\n",
        );
        for a in 0..m.areas() {
            for (r, res) in m.resources.iter().enumerate() {
                let f = self.shortfall_facts(a, r);
                let _ = writeln!(
                    out,
                    "{},{},{},{},{},{},{},{}",
                    area_id(m, a),
                    res.id,
                    fixed(f.prob_by_end, DP_PROB),
                    year_or_none(f.first_p10),
                    year_or_none(f.first_p50),
                    year_or_none(f.first_p90),
                    year_or_none(f.first_year_risk),
                    year_ranges(&f.years_likely)
                );
            }
        }
        out
    }

    /// `first_shortfall_cdf.csv`: `town,resource,year,prob_first_by_year`.
    pub fn first_shortfall_cdf(&self) -> String {
        let m = self.model;
        let mut out = String::from("town,resource,year,prob_first_by_year\n");
        for a in 0..m.areas() {
            for (r, res) in m.resources.iter().enumerate() {
                let f = self.shortfall_facts(a, r);
                for (row, p) in f.cdf.iter().enumerate() {
                    let _ = writeln!(out, "{},{},{},{}", area_id(m, a), res.id, m.year(row), fixed(*p, DP_PROB));
                }
            }
        }
        out
    }

    /// `components.csv`: births, deaths and realised migration of each calendar year.
    pub fn components(&self) -> String {
        let m = self.model;
        let steps = m.steps();
        let mut out = String::from(
            "town,year,births_mean,births_p05,births_p95,deaths_mean,deaths_p05,deaths_p95,migration_mean,migration_p05,migration_p95\n",
        );
        for a in 0..m.areas() {
            for step in 0..steps {
                let i = a * steps + step;
                let cell = |s: &Sketch| {
                    format!("{},{}", fixed(s.mean(), DP_PEOPLE), quantiles(s, &[P05, P95], false, DP_PEOPLE))
                };
                let _ = writeln!(
                    out,
                    "{},{},{},{},{}",
                    area_id(m, a),
                    m.year(step + 1),
                    cell(&self.agg.births[i]),
                    cell(&self.agg.deaths[i]),
                    cell(&self.agg.migration[i])
                );
            }
        }
        out
    }

    /// The console table: for each resource and town, the first year the shortfall risk
    /// reaches the scenario's risk level (or `–`).
    pub fn console(&self) -> String {
        let m = self.model;
        let mut header = vec!["resource".to_string()];
        header.extend((0..m.areas()).map(|a| area_id(m, a).to_string()));
        let mut rows = vec![header];
        for (r, res) in m.resources.iter().enumerate() {
            let mut row = vec![res.id.clone()];
            for a in 0..m.areas() {
                let f = self.shortfall_facts(a, r);
                row.push(f.first_year_risk.map_or("–".to_string(), |y| y.to_string()));
            }
            rows.push(row);
        }
        let widths: Vec<usize> =
            (0..rows[0].len()).map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0)).collect();
        let mut out = format!(
            "First year with P(shortfall) ≥ {} (year-end rows; – = not by {}):\n",
            self.risk,
            m.year(m.rows - 1)
        );
        for row in rows {
            let cells: Vec<String> = row
                .iter()
                .enumerate()
                .map(|(c, v)| {
                    let pad = widths[c] - v.chars().count();
                    if c == 0 { format!("{v}{}", " ".repeat(pad)) } else { format!("{}{v}", " ".repeat(pad)) }
                })
                .collect();
            let _ = writeln!(out, "  {}", cells.join("  "));
        }
        out
    }
}

/// Shortfall statistics of one town × resource.
#[derive(Clone, Debug, PartialEq)]
pub struct ShortfallFacts {
    /// P(a shortfall in some year by the end).
    pub prob_by_end: f64,
    /// 10 % point of the first shortfall year (`None`: not reached by then).
    pub first_p10: Option<i32>,
    /// Median first shortfall year.
    pub first_p50: Option<i32>,
    /// 90 % point.
    pub first_p90: Option<i32>,
    /// Earliest year with P(shortfall) ≥ the risk level.
    pub first_year_risk: Option<i32>,
    /// Years with P(shortfall) ≥ 0.5.
    pub years_likely: Vec<i32>,
    /// P(first shortfall ≤ year), by row.
    pub cdf: Vec<f64>,
    /// P(shortfall) by row.
    pub probs: Vec<f64>,
}

fn year_or_none(y: Option<i32>) -> String {
    y.map_or_else(|| "none".to_string(), |y| y.to_string())
}

/// Years as compact ranges: `2028-2031;2034`, or `none`.
pub fn year_ranges(years: &[i32]) -> String {
    if years.is_empty() {
        return "none".into();
    }
    let mut parts = Vec::new();
    let mut start = years[0];
    let mut prev = years[0];
    for &y in &years[1..] {
        if y != prev + 1 {
            parts.push(range_text(start, prev));
            start = y;
        }
        prev = y;
    }
    parts.push(range_text(start, prev));
    parts.join(";")
}

fn range_text(a: i32, b: i32) -> String {
    if a == b { a.to_string() } else { format!("{a}-{b}") }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_compact() {
        assert_eq!(year_ranges(&[]), "none");
        assert_eq!(year_ranges(&[2028, 2029, 2030, 2034]), "2028-2030;2034");
        assert_eq!(year_ranges(&[2031]), "2031");
    }

    #[test]
    fn fixed_never_prints_negative_zero() {
        assert_eq!(fixed(-0.0001, 2), "0.00");
        assert_eq!(fixed(-1.5, 1), "-1.5");
        assert_eq!(fixed(-0.0, 1), "0.0");
    }

    #[test]
    fn fixed_formats_whole_numbers_as_the_float_formatter_does() {
        for v in [0.0, 1.0, -1.0, 7.0, -42.0, 1234567.0, 8.9e15, -8.9e15, 2f64.powi(52) + 1.0] {
            for dp in [0, 1, 2, 4] {
                assert_eq!(fixed(v, dp), format!("{v:.dp$}"), "{v} with {dp} decimals");
            }
        }
        // Beyond the fast path, and fractions, the formatter's own rounding.
        assert_eq!(fixed(1e16, 1), "10000000000000000.0");
        assert_eq!(fixed(0.125, 2), "0.12");
        assert_eq!(fixed(2.5, 0), "2");
    }
}
