//! `sweep_<resource>.png`, the charts of `capsim sweep`.
//!
//! One swept path: two panels against the swept value — the first year with P(shortfall) ≥ the
//! risk level (`first_year_risk`, "none by <end>" as its own row at the top) and the probability
//! of a shortfall in any year up to the end year (`prob_by_end`) — one line per town (Okabe–Ito
//! colours, each with its own marker shape) and black for all towns together. Series that
//! coincide are drawn a few pixels apart (a constant offset per series, stated on the chart) so
//! that none hides another. A dashed line marks the value the scenario itself gives the path.
//!
//! Two swept paths (a grid): one panel per town and for all towns, a heatmap of
//! `prob_by_end` over the grid on the run charts' colour scale (reversed viridis, white for
//! exactly 0), each cell annotated with `first_year_risk` and, where it fits, the probability.
//!
//! Every number drawn is a cell of `sweep.csv` ([`data`] reads the same [`SweepResult`] the
//! CSV is written from; the tests compare them).

use rayon::prelude::*;

use super::canvas::{Canvas, HAlign, Rgb, VAlign, line_height};
use super::fan::Grid;
use super::frame::{self, Key, Marker, Plot, Rect, palette, size};
use super::heatmap;
use super::{ChartOptions, check_size};
use crate::Result;
use crate::output::OutFile;
use crate::report::Lang;
use crate::report::lang::{grouped, prob};
use crate::report::tables::fixed;
use crate::scenario::paths::{self, Target};
use crate::scenario::{Dist, Rule, Scenario};
use crate::sensitivity::sweep::SweepResult;

/// Colours of the towns' lines, in scenario order (Okabe–Ito, without the yellow that is
/// illegible on white); all towns together are black.
pub const TOWN_COLOURS: [Rgb; 6] =
    [palette::BLUE, palette::ORANGE, palette::GREEN, palette::VERMILLION, palette::PURPLE, palette::SKY];

/// The colour and marker of series `i` of `n` (the last is "all").
pub fn series_style(i: usize, n: usize) -> (Rgb, Marker, f64) {
    if i + 1 == n {
        (palette::BLACK, Marker::Circle, 3.4)
    } else {
        (TOWN_COLOURS[i % TOWN_COLOURS.len()], Marker::ALL[i % Marker::ALL.len()], 2.4)
    }
}

/// The value a scenario gives a swept path.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScenarioValue {
    /// The value.
    pub value: f64,
    /// The path names a variable with a distribution: `value` is its central value.
    pub central: bool,
}

/// The value the scenario gives `path` (what a sweep moves away from), if it has one number.
pub fn scenario_value(s: &Scenario, path: &str) -> Option<ScenarioValue> {
    let plain = |value: f64| Some(ScenarioValue { value, central: false });
    match path {
        "settings.base_year" => return plain(f64::from(s.settings.base_year)),
        "settings.end_year" => return plain(f64::from(s.settings.end_year)),
        "settings.decision_year" => return plain(f64::from(s.settings.decision_year)),
        "settings.risk" => return plain(s.settings.risk),
        _ => {}
    }
    let address = paths::find(s, path).ok()?;
    match address.target {
        Target::Variable => {
            let p = paths::collect_params(s).into_iter().find(|p| p.path == path)?;
            Some(ScenarioValue { value: p.central(), central: p.is_random() })
        }
        Target::Parameter(name) => {
            let (var, _) = path.rsplit_once('.')?;
            let p = paths::collect_params(s).into_iter().find(|p| p.path == var)?;
            let v = match (&p.dist, name) {
                (Dist::Fixed(v), "value") => *v,
                (Dist::Normal { mean, .. }, "mean") => *mean,
                (Dist::Normal { sd, .. }, "sd") => *sd,
                (Dist::Uniform { low, .. } | Dist::Triangular { low, .. }, "low") => *low,
                (Dist::Uniform { high, .. } | Dist::Triangular { high, .. }, "high") => *high,
                (Dist::Triangular { mode, .. }, "mode") => *mode,
                (Dist::Lognormal { mu, .. }, "mu") => *mu,
                (Dist::Lognormal { sigma, .. }, "sigma") => *sigma,
                _ => return None,
            };
            plain(v)
        }
        Target::Integer | Target::Number => {
            for c in &s.capacity {
                for p in &c.projects {
                    let kind = if p.closure { "closures" } else { "projects" };
                    if path == format!("capacity.{}.{}.{kind}.{}.year", c.town, c.resource, p.id) {
                        return plain(f64::from(p.year));
                    }
                }
            }
            for r in &s.resources {
                if path == format!("resources.{}.from_year", r.id) {
                    return match r.rule {
                        Rule::FixedMin { from_year, .. }
                        | Rule::AdminUnits { from_year }
                        | Rule::CoverageShare { from_year, .. } => plain(f64::from(from_year)),
                        _ => None,
                    };
                }
            }
            None
        }
    }
}

/// Whether a path holds a calendar year (printed without thousands separators).
pub fn is_year(path: &str) -> bool {
    path.ends_with("year")
}

/// One swept path as a chart axis.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepAxis {
    /// The path (shown as written, in every language).
    pub path: String,
    /// The values swept, in the order given.
    pub values: Vec<f64>,
    /// Values are whole numbers.
    pub integral: bool,
    /// Values are calendar years.
    pub year: bool,
    /// The scenario's own value of the path.
    pub scenario: Option<ScenarioValue>,
}

/// One town's (or all towns') results at every point: columns of `sweep.csv`.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepSeries {
    /// Area index: towns, then all.
    pub area: usize,
    /// Town id or `all`, as in `sweep.csv`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// `first_year_risk` by point (None: "none").
    pub first_year: Vec<Option<i32>>,
    /// `prob_by_end` by point.
    pub prob_by_end: Vec<f64>,
}

/// The data of one `sweep_<resource>.png`.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepChart {
    /// Resource index.
    pub res: usize,
    /// Resource id (the file name's `<resource>`).
    pub id: String,
    /// Display name.
    pub name: String,
    /// The swept paths (one, or two for a grid; the first varies slowest).
    pub axes: Vec<SweepAxis>,
    /// The swept values of every point, in `sweep.csv` order.
    pub points: Vec<Vec<f64>>,
    /// Every town, then all.
    pub series: Vec<SweepSeries>,
    /// Base year, end year and risk level of every point (they differ only when swept).
    pub base_years: Vec<i32>,
    /// See [`SweepChart::base_years`].
    pub end_years: Vec<i32>,
    /// See [`SweepChart::base_years`].
    pub risks: Vec<f64>,
    /// Draws at every point.
    pub draws: u64,
}

impl SweepChart {
    /// The end year, if every point has the same.
    pub fn end_year(&self) -> Option<i32> {
        same(&self.end_years)
    }

    /// The risk level, if every point has the same.
    pub fn risk(&self) -> Option<f64> {
        same(&self.risks)
    }
}

fn same<T: Copy + PartialEq>(v: &[T]) -> Option<T> {
    let first = *v.first()?;
    v.iter().all(|x| *x == first).then_some(first)
}

/// The display name of an area of a scenario: a town's name, or "All new towns".
pub fn area_name(s: &Scenario, id: &str, lang: Lang) -> String {
    match s.town_index(id) {
        Some(i) => s.towns[i].name.get(lang.code()).to_string(),
        None => lang.t("All new towns", "全部新城").to_string(),
    }
}

/// The data of every `sweep_<resource>.png`, in resource order.
pub fn data(result: &SweepResult, s: &Scenario, lang: Lang) -> Vec<SweepChart> {
    let axes: Vec<SweepAxis> = result
        .params
        .iter()
        .map(|p| SweepAxis {
            path: p.path.clone(),
            values: p.values.clone(),
            integral: p.address.is_integer(),
            year: is_year(&p.path),
            scenario: scenario_value(s, &p.path),
        })
        .collect();
    result
        .resources
        .iter()
        .enumerate()
        .map(|(r, id)| {
            let name = s.resource_index(id).map_or_else(|| id.clone(), |i| s.resources[i].name.get(lang.code()).into());
            let series = result
                .areas
                .iter()
                .enumerate()
                .map(|(a, area)| SweepSeries {
                    area: a,
                    id: area.clone(),
                    name: area_name(s, area, lang),
                    first_year: (0..result.points.len()).map(|i| result.cell(i, a, r).first_year_risk).collect(),
                    prob_by_end: (0..result.points.len()).map(|i| result.cell(i, a, r).prob_by_end).collect(),
                })
                .collect();
            SweepChart {
                res: r,
                id: id.clone(),
                name,
                axes: axes.clone(),
                points: result.points.iter().map(|p| p.values.clone()).collect(),
                series,
                base_years: result.points.iter().map(|p| p.base_year).collect(),
                end_years: result.points.iter().map(|p| p.end_year).collect(),
                risks: result.points.iter().map(|p| p.risk).collect(),
                draws: result.draws,
            }
        })
        .collect()
}

/// The footnote of every sweep chart.
pub fn footnote(result: &SweepResult, s: &Scenario, lang: Lang) -> String {
    let n = result.points.len();
    match lang {
        Lang::En => format!(
            "Scenario: {} · capsim sweep: {} point{} × {} draws, seed {} at every point (common random numbers) · \
             capsim {} · year-end (31 Dec) figures · values in sweep.csv",
            s.name.en,
            grouped(n as f64, 0),
            if n == 1 { "" } else { "s" },
            grouped(result.draws as f64, 0),
            result.seed,
            env!("CARGO_PKG_VERSION")
        ),
        Lang::Zh => format!(
            "情景：{} · capsim sweep：{} 个取值点 × 蒙特卡洛抽样 {} 次，各点随机种子均为 {}（共同随机数） · capsim {} · \
             年末（12月31日）数据 · 数值见 sweep.csv",
            s.name.get("zh"),
            grouped(n as f64, 0),
            grouped(result.draws as f64, 0),
            result.seed,
            env!("CARGO_PKG_VERSION")
        ),
    }
}

/// Every `sweep_<resource>.png`, in resource order, drawn in parallel (the bytes do not depend
/// on the thread count).
pub fn files(result: &SweepResult, s: &Scenario, opts: &ChartOptions) -> Result<Vec<OutFile>> {
    let note = footnote(result, s, opts.lang);
    data(result, s, opts.lang)
        .into_par_iter()
        .map(|d| draw(&d, opts, &note).map(|png| (format!("sweep_{}.png", d.id), png)))
        .collect()
}

/// Draws one chart as PNG.
pub fn draw(d: &SweepChart, opts: &ChartOptions, note: &str) -> Result<Vec<u8>> {
    let (c, title) = render(d, opts, note)?;
    c.png(&title)
}

/// Draws one chart; returns the canvas (for layout tests) and the title.
pub fn render(d: &SweepChart, opts: &ChartOptions, note: &str) -> Result<(Canvas, String)> {
    if d.axes.len() == 2 { render_grid(d, opts, note) } else { render_lines(d, opts, note) }
}

/// Decimals that print `v` exactly (up to 8).
fn decimals(v: f64) -> usize {
    (0..=8)
        .find(|&dp| fixed(v, dp).parse::<f64>().is_ok_and(|x| (x - v).abs() <= 1e-9 * v.abs().max(1e-9)))
        .unwrap_or(8)
}

/// A value of a swept path for a label: years as written, other numbers with separators.
pub fn value_label(v: f64, axis: &SweepAxis, dp: Option<usize>) -> String {
    if axis.year { format!("{}", v.round() as i64) } else { grouped(v, dp.unwrap_or_else(|| decimals(v))) }
}

/// The legend text of the scenario's value.
fn scenario_label(axis: &SweepAxis, sv: ScenarioValue, lang: Lang) -> String {
    let v = value_label(sv.value, axis, None);
    match (lang, sv.central) {
        (Lang::En, false) => format!("Value in the scenario: {v}"),
        (Lang::En, true) => format!("Central value in the scenario: {v}"),
        (Lang::Zh, false) => format!("情景中的取值：{v}"),
        (Lang::Zh, true) => format!("情景中的中心值：{v}"),
    }
}

fn end_words(d: &SweepChart, lang: Lang) -> String {
    match (d.end_year(), lang) {
        (Some(y), Lang::En) => y.to_string(),
        (Some(y), Lang::Zh) => format!("{y}年"),
        (None, Lang::En) => "the end year".into(),
        (None, Lang::Zh) => "末年".into(),
    }
}

fn risk_words(d: &SweepChart, lang: Lang) -> String {
    match (d.risk(), lang) {
        (Some(r), _) => r.to_string(),
        (None, Lang::En) => "the risk level of each point".into(),
        (None, Lang::Zh) => "各点的风险水平".into(),
    }
}

/// Where the x axis of a one-path sweep puts its ticks: at the swept values when they are few
/// and far enough apart to label, else at nice numbers.
fn x_ticks(c: &Canvas, axis: &SweepAxis, p: &Plot) -> Vec<(f64, String)> {
    let mut vals = axis.values.clone();
    vals.sort_by(f64::total_cmp);
    let labels: Vec<String> = vals.iter().map(|v| value_label(*v, axis, None)).collect();
    let widest = labels.iter().map(|l| c.text_width(l, size::SMALL)).fold(0.0, f64::max);
    let min_gap = vals.windows(2).map(|w| p.x(w[1]) - p.x(w[0])).fold(f64::INFINITY, f64::min);
    if vals.len() <= 15 && min_gap >= widest + 14.0 {
        return vals.into_iter().zip(labels).collect();
    }
    let sample = |v: f64| c.text_width(&value_label(v, axis, Some(6)), size::SMALL);
    let guess = sample(p.xmin).max(sample(p.xmax)).max(widest.min(140.0));
    let (ticks, step) = frame::ticks(p.xmin, p.xmax, p.r.w(), guess + 24.0, axis.integral);
    let dp = frame::step_decimals(step);
    ticks.into_iter().map(|v| (v, value_label(v, axis, Some(dp)))).collect()
}

/// Draws x ticks and labels under a plot.
fn x_axis(c: &mut Canvas, p: &Plot, ticks: &[(f64, String)]) {
    let y = p.r.y1;
    c.fill_rect(p.r.x0, y - 0.5, p.r.x1, y + 1.0, palette::AXIS, 1.0);
    for (v, label) in ticks {
        let x = p.x(*v);
        c.fill_rect(x - 0.6, y, x + 0.6, y + 6.0, palette::AXIS, 1.0);
        c.text(x, y + 8.0, label, size::SMALL, palette::MUTED, (HAlign::Center, VAlign::Top));
    }
}

/// The x range of a one-path sweep: the values, padded so end markers are not cut.
fn x_range(values: &[f64]) -> (f64, f64) {
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if hi > lo {
        let pad = 0.05 * (hi - lo);
        (lo - pad, hi + pad)
    } else {
        let pad = (0.1 * lo.abs()).max(1.0);
        (lo - pad, hi + pad)
    }
}

/// The two panels of a one-path sweep.
fn render_lines(d: &SweepChart, opts: &ChartOptions, note: &str) -> Result<(Canvas, String)> {
    let lang = opts.lang;
    let (w, h) = (opts.width, opts.height);
    check_size(w, h)?;
    let axis = &d.axes[0];
    let end = end_words(d, lang);
    let risk = risk_words(d, lang);
    let title = match lang {
        Lang::En => format!("{}: shortfall risk as {} varies", d.name, axis.path),
        Lang::Zh => format!("{}：短缺风险随 {} 的变化", d.name, axis.path),
    };
    let subtitle = match lang {
        Lang::En => format!(
            "Each point is a full Monte Carlo run of {} draws with the value written into the scenario; every point \
             uses the same seed (common random numbers), so differences come from the swept value alone (sweep.csv: \
             first_year_risk, prob_by_end). Where towns share a value, their points are set a few pixels apart.",
            grouped(d.draws as f64, 0)
        ),
        Lang::Zh => format!(
            "每个点为将该取值写入情景后的一次完整蒙特卡洛模拟（抽样 {} 次）；各点使用相同的随机种子（共同随机数），差异仅来自所扫描的参数\
             （sweep.csv 的 first_year_risk、prob_by_end）。数值相同的点错开几个像素绘制。",
            grouped(d.draws as f64, 0)
        ),
    };
    let mut c = Canvas::new(w, h, &opts.font);
    let y = frame::header(&mut c, &title, &subtitle);
    let n = d.series.len();
    let mut entries: Vec<(Key, String)> = d
        .series
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let (col, m, lw) = series_style(i, n);
            (Key::Series(col, lw, m), s.name.clone())
        })
        .collect();
    if let Some(sv) = axis.scenario {
        entries.push((Key::Dashed(palette::MUTED, 1.6), scenario_label(axis, sv, lang)));
    }
    let right = f64::from(w) - frame::MARGIN;
    let y = frame::legend(&mut c, &entries, frame::MARGIN, right, y);
    let foot = frame::footnote_lines(&c, note);
    let bottom = f64::from(h) - frame::footnote_height(&foot) - 6.0;
    let top = y + 6.0;
    let gap = 56.0;
    let pw = (right - frame::MARGIN - gap) / 2.0;
    let cells = [
        Rect { x0: frame::MARGIN, y0: top, x1: frame::MARGIN + pw, y1: bottom },
        Rect { x0: frame::MARGIN + pw + gap, y0: top, x1: right, y1: bottom },
    ];
    let (xmin, xmax) = x_range(&axis.values);
    let first = d.base_years.iter().copied().min().unwrap_or(0);
    let last = d.end_years.iter().copied().max().unwrap_or(first);
    let none = match (d.end_year(), lang) {
        (Some(y), Lang::En) => format!("none by {y}"),
        (Some(y), Lang::Zh) => format!("{y}年前无"),
        (None, Lang::En) => "none by the end".into(),
        (None, Lang::Zh) => "末年前无".into(),
    };
    let x_title = match lang {
        Lang::En => format!("Value of {}", axis.path),
        Lang::Zh => format!("{} 的取值", axis.path),
    };
    let panel_titles = [
        match lang {
            Lang::En => format!("First year with P(shortfall) ≥ {risk}"),
            Lang::Zh => format!("短缺概率首次 ≥ {risk} 的年份"),
        },
        match lang {
            Lang::En => format!("Probability of a shortfall in any year up to {end}"),
            Lang::Zh => format!("{end}前任一年出现短缺的概率"),
        },
    ];
    let y_titles = [lang.t("Year", "年份"), lang.t("Probability", "概率")];
    let year_labels: Vec<String> = (first..=last).map(|y| y.to_string()).collect();
    let label_ws = [
        year_labels.iter().map(|l| c.text_width(l, size::SMALL)).fold(c.text_width(&none, size::SMALL), f64::max),
        c.text_width("0.0", size::SMALL),
    ];
    let markers = d.points.len() <= 40;
    for (k, cell) in cells.iter().enumerate() {
        let t = frame::fit(&c, &panel_titles[k], size::PANEL, cell.w());
        c.text(cell.x0, cell.y0, &t, size::PANEL, palette::TEXT, (HAlign::Left, VAlign::Top));
        let title_h = line_height(size::AXIS_TITLE);
        let plot_top = cell.y0 + line_height(size::PANEL) + 14.0;
        let plot_bottom = cell.y1 - frame::x_years_height() - title_h - 8.0;
        // Both plots as wide as the narrower allows, so they share their x ticks.
        let label_w = label_ws[0].max(label_ws[1]);
        let r = Rect { x0: cell.x0 + title_h + 10.0 + label_w + 8.0, y0: plot_top, x1: cell.x1 - 8.0, y1: plot_bottom };
        c.text_vertical(cell.x0 + title_h / 2.0, (r.y0 + r.y1) / 2.0, y_titles[k], size::AXIS_TITLE, palette::TEXT);
        c.text(
            (r.x0 + r.x1) / 2.0,
            cell.y1,
            &x_title,
            size::AXIS_TITLE,
            palette::TEXT,
            (HAlign::Center, VAlign::Bottom),
        );
        let p = if k == 0 {
            Plot { r, xmin, xmax, ymin: f64::from(first) - 0.5, ymax: f64::from(last) + 1.5 }
        } else {
            Plot { r, xmin, xmax, ymin: -0.035, ymax: 1.035 }
        };
        // Grid and y labels.
        if k == 0 {
            let per_year = r.h() / (p.ymax - p.ymin);
            let every = frame::label_every(first, last, per_year, line_height(size::SMALL) + 4.0);
            for year in first..=last {
                let yy = p.y(f64::from(year));
                // Labelled years, but none so close to the "none" row that their labels touch.
                let clear = p.y(f64::from(year)) - p.y(f64::from(last) + 1.0) >= line_height(size::SMALL) + 2.0;
                if (year - first) % every != 0 && per_year >= 6.0 {
                    // A fainter line for every year between the labels, to read a point off.
                    c.fill_rect(r.x0, yy - 0.5, r.x1, yy + 0.5, Rgb(242, 242, 242), 1.0);
                }
                if (year - first) % every == 0 && clear {
                    c.fill_rect(r.x0, yy - 0.5, r.x1, yy + 0.5, palette::GRID, 1.0);
                    let label = year.to_string();
                    c.text(r.x0 - 7.0, yy, &label, size::SMALL, palette::MUTED, (HAlign::Right, VAlign::Middle));
                }
            }
            // The "none" row, set off by a dashed rule.
            let sep = p.y(f64::from(last) + 0.5);
            c.dashed_line(&[(r.x0, sep), (r.x1, sep)], palette::GREY, 1.0, 5.0, 4.0);
            let yn = p.y(f64::from(last) + 1.0);
            c.fill_rect(r.x0, yn - 0.5, r.x1, yn + 0.5, palette::GRID, 1.0);
            c.text(r.x0 - 7.0, yn, &none, size::SMALL, palette::TEXT, (HAlign::Right, VAlign::Middle));
        } else {
            for i in 0..=5 {
                let v = f64::from(i) * 0.2;
                let yy = p.y(v);
                c.fill_rect(r.x0, yy - 0.5, r.x1, yy + 0.5, palette::GRID, 1.0);
                c.text(r.x0 - 7.0, yy, &grouped(v, 1), size::SMALL, palette::MUTED, (HAlign::Right, VAlign::Middle));
            }
        }
        c.fill_rect(r.x0 - 1.0, r.y0, r.x0, r.y1, palette::AXIS, 1.0);
        let ticks = x_ticks(&c, axis, &p);
        x_axis(&mut c, &p, &ticks);
        if let Some(sv) = axis.scenario
            && sv.value >= p.xmin
            && sv.value <= p.xmax
        {
            let x = p.x(sv.value);
            c.dashed_line(&[(x, r.y0), (x, r.y1)], palette::MUTED, 1.6, 7.0, 5.0);
        }
        // Where series meet at a point (the same year, or probabilities within a few pixels),
        // they are set side by side, a lane apart, in the order of their values; elsewhere
        // each point is drawn where its value is.
        let lane = if k == 0 { (r.h() / (p.ymax - p.ymin) / (n as f64 + 1.0)).min(4.0) } else { 3.0 };
        let value = |i: usize, j: usize| {
            let s = &d.series[i];
            if k == 0 {
                f64::from(s.first_year[j].unwrap_or(d.end_years[j] + 1).min(last + 1))
            } else {
                s.prob_by_end[j]
            }
        };
        let mut ys = vec![vec![0.0; d.points.len()]; n];
        for j in 0..d.points.len() {
            let mut order: Vec<(f64, usize)> = (0..n).map(|i| (p.y(value(i, j)), i)).collect();
            order.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            for cluster in dodge_clusters(&order, lane) {
                let m = cluster.len() as f64;
                let centre = cluster.iter().map(|(y, _)| y).sum::<f64>() / m;
                for (q, (_, i)) in cluster.iter().enumerate() {
                    ys[*i][j] = centre + (q as f64 - (m - 1.0) / 2.0) * lane;
                }
            }
        }
        // All towns first (underneath), then the towns; markers over every line.
        let order: Vec<usize> = std::iter::once(n - 1).chain(0..n - 1).collect();
        let series_points = |i: usize| -> Vec<(f64, f64)> {
            let mut pts: Vec<(f64, f64)> = d.points.iter().enumerate().map(|(j, pt)| (p.x(pt[0]), ys[i][j])).collect();
            pts.sort_by(|a, b| a.0.total_cmp(&b.0));
            pts
        };
        for &i in &order {
            let (col, _, lw) = series_style(i, n);
            c.line(&series_points(i), col, lw);
        }
        if markers {
            for &i in &order {
                let (col, m, _) = series_style(i, n);
                for (x, y) in series_points(i) {
                    frame::marker(&mut c, m, x, y, if i + 1 == n { 5.0 } else { 4.5 }, col);
                }
            }
        }
    }
    frame::footnote(&mut c, &foot);
    Ok((c, title))
}

/// Splits points sorted by pixel position into runs closer than `lane` to their neighbour.
fn dodge_clusters(sorted: &[(f64, usize)], lane: f64) -> Vec<Vec<(f64, usize)>> {
    let mut out: Vec<Vec<(f64, usize)>> = Vec::new();
    for &pt in sorted {
        match out.last_mut() {
            Some(run) if run.last().is_some_and(|last| pt.0 - last.0 < lane) => run.push(pt),
            _ => out.push(vec![pt]),
        }
    }
    out
}

/// Cells wider or taller than this leave space rather than grow.
const CELL_MAX: (f64, f64) = (150.0, 90.0);

/// The heatmaps of a two-path grid, one panel per town and for all towns.
fn render_grid(d: &SweepChart, opts: &ChartOptions, note: &str) -> Result<(Canvas, String)> {
    let lang = opts.lang;
    let (w, h) = (opts.width, opts.height);
    check_size(w, h)?;
    let (ax, ay) = (&d.axes[0], &d.axes[1]);
    let (nx, ny) = (ax.values.len(), ay.values.len());
    let end = end_words(d, lang);
    let risk = risk_words(d, lang);
    let title = match lang {
        Lang::En => format!("{}: probability of a shortfall by {end} over {} × {}", d.name, ax.path, ay.path),
        Lang::Zh => format!("{}：{end}前出现短缺的概率，随 {} 与 {} 的变化", d.name, ax.path, ay.path),
    };
    let subtitle = match lang {
        Lang::En => format!(
            "Colour: probability of a shortfall in any year up to {end} (sweep.csv prob_by_end). Number: the first year \
             with P(shortfall) ≥ {risk} (first_year_risk; – if not by {end}), with the probability below it where it \
             fits. Each cell is a full Monte Carlo run of {} draws, the same seed in every cell.",
            grouped(d.draws as f64, 0)
        ),
        Lang::Zh => format!(
            "颜色：{end}前任一年出现短缺的概率（sweep.csv 的 prob_by_end）。数字：短缺概率首次 ≥ {risk} 的年份（first_year_risk；\
             –表示{end}前未达到），空间允许时其下为概率。每格为一次完整的蒙特卡洛模拟（抽样 {} 次），各格随机种子相同。",
            grouped(d.draws as f64, 0)
        ),
    };
    let mut c = Canvas::new(w, h, &opts.font);
    let y = frame::header(&mut c, &title, &subtitle);
    let lead = match lang {
        Lang::En => format!("P(shortfall by {end}):"),
        Lang::Zh => format!("{end}前短缺概率："),
    };
    let bar = heatmap::legend_with(&mut c, &lead, y);
    let right = f64::from(w) - frame::MARGIN;
    // The scenario's own values that are points of the grid, marked by triangles at the axes.
    let marks: Vec<(usize, String)> = [ax, ay]
        .iter()
        .enumerate()
        .filter_map(|(k, a)| {
            let sv = a.scenario?;
            a.values.contains(&sv.value).then(|| (k, format!("{} = {}", a.path, value_label(sv.value, a, None))))
        })
        .collect();
    let legend_bottom = y + heatmap::LEGEND_HEIGHT;
    if !marks.is_empty() {
        let text = format!(
            "{}{}",
            lang.t("Value in the scenario: ", "情景中的取值："),
            marks.iter().map(|m| m.1.as_str()).collect::<Vec<_>>().join(lang.t(", ", "，"))
        );
        let x0 = bar.right + 36.0;
        let ym = bar.y0 + 8.0;
        frame::marker(&mut c, Marker::TriangleUp, x0 + 6.0, ym, 4.5, palette::BLACK);
        let line = frame::fit(&c, &text, size::SMALL, right - x0 - 20.0);
        c.text(x0 + 20.0, ym, &line, size::SMALL, palette::TEXT, (HAlign::Left, VAlign::Middle));
    }
    let foot = frame::footnote_lines(&c, note);
    let bottom = f64::from(h) - frame::footnote_height(&foot) - 6.0;
    let x_title = match lang {
        Lang::En => format!("Value of {}", ax.path),
        Lang::Zh => format!("{} 的取值", ax.path),
    };
    let y_title = match lang {
        Lang::En => format!("Value of {}", ay.path),
        Lang::Zh => format!("{} 的取值", ay.path),
    };
    let grid = Grid::new(&mut c, d.series.len(), legend_bottom + 4.0, bottom, &y_title, &x_title);
    let xl: Vec<String> = ax.values.iter().map(|v| value_label(*v, ax, None)).collect();
    let yl: Vec<String> = ay.values.iter().map(|v| value_label(*v, ay, None)).collect();
    let yl_w = yl.iter().map(|l| c.text_width(l, size::SMALL)).fold(0.0, f64::max);
    let xl_w = xl.iter().map(|l| c.text_width(l, size::SMALL)).fold(0.0, f64::max);
    let lh = line_height(size::SMALL);
    let mark_x = marks.iter().any(|m| m.0 == 0);
    let mark_y = marks.iter().any(|m| m.0 == 1);
    for (a, s) in d.series.iter().enumerate() {
        let cell = grid.cell(a);
        let name = frame::fit(&c, &s.name, size::PANEL, cell.w() - 16.0);
        c.text(cell.x0 + 4.0, cell.y0 + 2.0, &name, size::PANEL, palette::TEXT, (HAlign::Left, VAlign::Top));
        let gx0 = cell.x0 + yl_w + 12.0 + if mark_y { 12.0 } else { 0.0 };
        let gy0 = cell.y0 + line_height(size::PANEL) + 10.0;
        let avail_w = cell.x1 - 18.0 - gx0;
        let avail_h = cell.y1 - 14.0 - lh - 8.0 - if mark_x { 12.0 } else { 0.0 } - gy0;
        let cw = (avail_w / nx as f64).min(CELL_MAX.0);
        let ch = (avail_h / ny as f64).min(CELL_MAX.1);
        let gy1 = gy0 + ch * ny as f64;
        let two_lines = ch >= 2.0 * lh + 6.0;
        for (i, _) in ax.values.iter().enumerate() {
            for (j, _) in ay.values.iter().enumerate() {
                let point = i * ny + j;
                let p = s.prob_by_end[point];
                let x = gx0 + i as f64 * cw;
                // The first value of the second path at the bottom, as on a y axis.
                let y = gy1 - (j + 1) as f64 * ch;
                let fill = heatmap::cell_color(p);
                c.fill_rect(x, y, x + cw, y + ch, fill, 1.0);
                c.fill_rect(x, y + ch - 1.0, x + cw, y + ch, Rgb(225, 225, 225), 1.0);
                c.fill_rect(x + cw - 1.0, y, x + cw, y + ch, Rgb(225, 225, 225), 1.0);
                let ink = if fill.luminance() < 0.3 { Rgb(255, 255, 255) } else { palette::BLACK };
                let year = s.first_year[point].map_or_else(|| "–".to_string(), |y| y.to_string());
                let pl = prob(p);
                if c.text_width("2035", size::SMALL) + 6.0 > cw || ch < lh + 2.0 {
                    continue;
                }
                if two_lines && c.text_width(&pl, size::SMALL) + 6.0 <= cw {
                    c.text(
                        x + cw / 2.0,
                        y + ch / 2.0 - lh / 2.0,
                        &year,
                        size::SMALL,
                        ink,
                        (HAlign::Center, VAlign::Middle),
                    );
                    c.text(
                        x + cw / 2.0,
                        y + ch / 2.0 + lh / 2.0,
                        &pl,
                        size::SMALL,
                        ink,
                        (HAlign::Center, VAlign::Middle),
                    );
                } else {
                    c.text(x + cw / 2.0, y + ch / 2.0, &year, size::SMALL, ink, (HAlign::Center, VAlign::Middle));
                }
            }
        }
        c.stroke_rect(gx0 - 1.0, gy0 - 1.0, gx0 + cw * nx as f64 + 1.0, gy1 + 1.0, palette::AXIS, 1.0);
        // Axis labels: every k-th where they would collide.
        let kx = ((xl_w + 10.0) / cw).ceil().max(1.0) as usize;
        for (i, l) in xl.iter().enumerate().filter(|(i, _)| i % kx == 0) {
            let x = gx0 + (i as f64 + 0.5) * cw;
            c.text(x, gy1 + 6.0, l, size::SMALL, palette::MUTED, (HAlign::Center, VAlign::Top));
        }
        let ky = ((lh + 2.0) / ch).ceil().max(1.0) as usize;
        for (j, l) in yl.iter().enumerate().filter(|(j, _)| j % ky == 0) {
            let y = gy1 - (j as f64 + 0.5) * ch;
            c.text(gx0 - 6.0, y, l, size::SMALL, palette::MUTED, (HAlign::Right, VAlign::Middle));
        }
        if let Some(sv) = ax.scenario.filter(|_| mark_x)
            && let Some(i) = ax.values.iter().position(|v| *v == sv.value)
        {
            let x = gx0 + (i as f64 + 0.5) * cw;
            frame::marker(&mut c, Marker::TriangleUp, x, gy1 + 6.0 + lh + 7.0, 4.5, palette::BLACK);
        }
        if let Some(sv) = ay.scenario.filter(|_| mark_y)
            && let Some(j) = ay.values.iter().position(|v| *v == sv.value)
        {
            let y = gy1 - (j as f64 + 0.5) * ch;
            let x = gx0 - 6.0 - yl_w - 10.0;
            c.polygon(&[(x + 5.0, y), (x - 4.0, y - 5.0), (x - 4.0, y + 5.0)], palette::BLACK, 1.0);
        }
    }
    frame::footnote(&mut c, &foot);
    Ok((c, title))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::paths::Address;
    use crate::sensitivity::sweep::{Cell, Param, PointResult};

    fn example() -> Scenario {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/example.toml");
        crate::scenario::load(&path, &[]).unwrap()
    }

    /// A sweep of the example's five towns over one or two paths, with made-up cells.
    fn result(s: &Scenario, two: bool) -> SweepResult {
        let k = "towns.north.migration.k.mean";
        let address = |p: &str| paths::find(s, p).unwrap_or(Address { path: p.into(), target: Target::Number });
        let mut params =
            vec![Param { path: k.into(), address: address(k), values: vec![900000.0, 1000000.0, 1100000.0] }];
        if two {
            params.push(Param {
                path: "settings.risk".into(),
                address: address("settings.risk"),
                values: vec![0.1, 0.2, 0.5],
            });
        }
        let areas: Vec<String> = s.towns.iter().map(|t| t.id.clone()).chain(["all".to_string()]).collect();
        let resources: Vec<String> = s.resources.iter().map(|r| r.id.clone()).collect();
        let pts = crate::sensitivity::sweep::points(&params);
        let points = pts
            .iter()
            .enumerate()
            .map(|(i, values)| PointResult {
                values: values.clone(),
                end_year: 2035,
                base_year: 2020,
                risk: if two { values[1] } else { 0.2 },
                cells: (0..areas.len() * resources.len())
                    .map(|c| Cell {
                        first_year_risk: if c % 3 == 0 { None } else { Some(2020 + ((c + i) % 16) as i32) },
                        prob_by_end: ((c * 7 + i * 3) % 11) as f64 / 10.0,
                        gap_mean: 0.0,
                        population_p50: 1.0,
                    })
                    .collect(),
            })
            .collect();
        SweepResult { params, areas, resources, points, draws: 64, seed: 7 }
    }

    #[test]
    fn chart_data_are_the_sweep_cells() {
        let s = example();
        for two in [false, true] {
            let r = result(&s, two);
            let charts = data(&r, &s, Lang::En);
            assert_eq!(charts.len(), s.resources.len());
            for ch in &charts {
                assert_eq!(ch.series.len(), s.towns.len() + 1);
                for (a, series) in ch.series.iter().enumerate() {
                    for i in 0..r.points.len() {
                        assert_eq!(series.first_year[i], r.cell(i, a, ch.res).first_year_risk);
                        assert_eq!(series.prob_by_end[i], r.cell(i, a, ch.res).prob_by_end);
                    }
                }
                assert_eq!(ch.series[0].name, "North New Town");
                assert_eq!(ch.series.last().unwrap().name, "All new towns");
            }
            assert_eq!(charts[0].risk(), if two { None } else { Some(0.2) });
        }
    }

    #[test]
    fn scenario_values_of_paths() {
        let s = example();
        let v = |p: &str| scenario_value(&s, p);
        assert_eq!(v("settings.risk"), Some(ScenarioValue { value: 0.2, central: false }));
        assert_eq!(v("towns.south.migration.k.mean"), Some(ScenarioValue { value: 650000.0, central: false }));
        // A whole variable with a distribution: its central value, flagged as such.
        let k = v("towns.south.migration.k").unwrap();
        assert!(k.central && k.value == 650000.0, "{k:?}");
        assert_eq!(v("resources.hospital_beds.per_1000.high").map(|x| x.value), Some(7.5));
        assert_eq!(v("no.such.path"), None);
    }

    #[test]
    fn labels_of_values() {
        let axis = |path: &str| SweepAxis {
            path: path.into(),
            values: vec![],
            integral: is_year(path),
            year: is_year(path),
            scenario: None,
        };
        assert_eq!(value_label(2027.0, &axis("capacity.n.b.projects.p.year"), None), "2027");
        assert_eq!(value_label(1090500.0, &axis("towns.n.migration.k.mode"), None), "1,090,500");
        assert_eq!(value_label(0.0988, &axis("towns.n.migration.rho"), None), "0.0988");
        assert_eq!(value_label(0.25, &axis("settings.risk"), Some(2)), "0.25");
    }

    #[test]
    fn coinciding_points_are_set_apart() {
        let sorted = [(10.0, 0), (10.0, 3), (11.0, 1), (40.0, 2)];
        let runs = dodge_clusters(&sorted, 3.0);
        assert_eq!(runs.len(), 2);
        assert_eq!(runs[0].iter().map(|p| p.1).collect::<Vec<_>>(), [0, 3, 1]);
    }

    #[test]
    fn nothing_overlaps_or_is_clipped() {
        let s = example();
        for (two, lang, size) in [
            (false, Lang::En, (1600, 1000)),
            (false, Lang::Zh, (1600, 1000)),
            (false, Lang::En, (960, 600)),
            (true, Lang::En, (1600, 1000)),
            (true, Lang::Zh, (960, 600)),
        ] {
            let r = result(&s, two);
            let opts = ChartOptions { lang, width: size.0, height: size.1, ..ChartOptions::default() };
            let note = footnote(&r, &s, lang);
            for d in data(&r, &s, lang) {
                let (c, _) = render(&d, &opts, &note).unwrap();
                assert_eq!((c.width, c.height), size);
                let problems = c.text_problems(0.5);
                assert!(problems.is_empty(), "{} {two} {lang:?} {size:?}:\n{}", d.id, problems.join("\n"));
                assert!(c.missing.is_empty(), "{:?}", c.missing);
            }
        }
    }
}
