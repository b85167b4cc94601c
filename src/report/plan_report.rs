//! The charts and page of `capsim plan`: `plan.png` (a timeline per town of what is decided and
//! when it opens), `plan_heatmap.png` (shortfall risk before and after the plan) and
//! `report.html` with the recommended schedule and its total cost.
//!
//! Everything here reads the [`Plan`] that `plan.csv` and `plan.toml` are written from — its
//! batches, unavoidable years and per-year risks before and after — and the scenario's names
//! and build units; nothing runs the model again. [`timeline`] and [`heatmap`] are the data
//! behind the two charts (the tests compare them with plan.csv); the drawing reuses the run
//! charts' canvas, frame and heatmap cells, so the colour scale and legend are the same as
//! `shortfall_heatmap.png`'s.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use crate::Result;
use crate::engine::Model;
use crate::output::OutFile;
use crate::plan::{Plan, ResourcePlan};
use crate::report::Lang;
use crate::report::charts::canvas::{Canvas, HAlign, Rgb, VAlign, line_height};
use crate::report::charts::frame::{self, Key, Rect, palette, size};
use crate::report::charts::heatmap;
use crate::report::html::{STYLE, base64, esc, png_size, table_head};
use crate::report::lang::{amount, grouped, prob};
use crate::scenario::{Build, Scenario};

use super::charts::{ChartOptions, MAX_SIDE};

/// One recommended project on the timeline (a plan.csv row with `units > 0`).
#[derive(Clone, Debug, PartialEq)]
pub struct Bar {
    /// plan.csv `decision_year`.
    pub decision_year: i32,
    /// plan.csv `planned_open_year`.
    pub planned_open_year: i32,
    /// plan.csv `units`.
    pub units: u32,
    /// plan.csv `amount`.
    pub amount: f64,
    /// The label when it fits: "2 × 30-class primary school", or "1,350 places" for a unit
    /// without a name.
    pub label: String,
    /// The label where the long one does not fit: "×2", or "1,350".
    pub short: String,
}

/// One town × resource of the timeline.
#[derive(Clone, Debug, PartialEq)]
pub struct TimelineRow {
    /// Resource index.
    pub res: usize,
    /// Town id and resource id, as in plan.csv.
    pub ids: (String, String),
    /// Resource name.
    pub resource: String,
    /// What one unit is and its lead time.
    pub unit: String,
    /// The projects, by decision year.
    pub bars: Vec<Bar>,
    /// Unavoidable years (plan.csv rows with `units = 0`) and their risk with the plan.
    pub unavoidable: Vec<(i32, f64)>,
}

/// One town's panel of the timeline.
#[derive(Clone, Debug, PartialEq)]
pub struct TimelinePanel {
    /// Town index.
    pub town: usize,
    /// Display name.
    pub name: String,
    /// The town's resources with a project or an unavoidable year, in scenario order.
    pub rows: Vec<TimelineRow>,
}

/// `plan.png`: what is decided when and when it opens, town by town.
#[derive(Clone, Debug, PartialEq)]
pub struct Timeline {
    /// First column: the first decision year (`--from`).
    pub first: i32,
    /// Last column: the end year.
    pub last: i32,
    /// One panel per town, in scenario order.
    pub panels: Vec<TimelinePanel>,
    /// Town × resource pairs shown, and in all.
    pub shown: (usize, usize),
}

/// One row of `plan_heatmap.png`.
#[derive(Clone, Debug, PartialEq)]
pub struct PlanRiskRow {
    /// Town index.
    pub town: usize,
    /// Resource index.
    pub res: usize,
    /// Town id and resource id.
    pub ids: (String, String),
    /// Town name.
    pub town_name: String,
    /// Resource name.
    pub resource: String,
    /// P(shortfall) without the plan, by column (the plan's `risk_before`).
    pub before: Vec<f64>,
    /// P(shortfall) with it (`risk_after`).
    pub after: Vec<f64>,
    /// Whether the column's year is unavoidable (a plan.csv row with `units = 0`).
    pub unavoidable: Vec<bool>,
}

/// `plan_heatmap.png`: every town × resource, the years from the first decision year.
#[derive(Clone, Debug, PartialEq)]
pub struct PlanHeatmap {
    /// Column years.
    pub years: Vec<i32>,
    /// Rows, town by town, resources in scenario order.
    pub rows: Vec<PlanRiskRow>,
}

/// What one unit of a resource is, in words: "30-class primary school", or "1 staff".
pub fn unit_name(s: &Scenario, res: usize, b: &Build, lang: Lang) -> String {
    match &b.name {
        Some(n) => n.get(lang.code()).to_string(),
        None => with_unit(s, res, b.unit, lang),
    }
}

/// An amount of a resource with its unit: "1,350 places", "1 place", "1,350个".
pub fn with_unit(s: &Scenario, res: usize, v: f64, lang: Lang) -> String {
    let unit = s.resources[res].unit.get(lang.code());
    match lang {
        Lang::En if v == 1.0 => format!("1 {}", singular(unit)),
        Lang::En => format!("{} {unit}", amount(v)),
        Lang::Zh => format!("{}{unit}", amount(v)),
    }
}

/// The singular of an English unit written in the plural, for "1 place" (scenario units are
/// plural nouns: "places", "beds", "campuses", "staff", "m²").
fn singular(unit: &str) -> String {
    if unit.ends_with("uses") {
        unit[..unit.len() - 2].to_string()
    } else if unit.ends_with('s') && !unit.ends_with("ss") && !unit.contains(' ') {
        unit[..unit.len() - 1].to_string()
    } else {
        unit.to_string()
    }
}

/// What one unit is and its lead time, for a row label: "unit: 30-class primary school (1,350
/// places) · decided 3 years ahead".
pub fn unit_description(s: &Scenario, res: usize, b: &Build, lang: Lang) -> String {
    let size = with_unit(s, res, b.unit, lang);
    let what = match &b.name {
        // The size in brackets unless the name already says it ("1,000 m² …") or it is one.
        Some(n) => {
            let n = n.get(lang.code());
            if b.unit == 1.0 || n.contains(&amount(b.unit)) || n.contains(&format!("{}", b.unit)) {
                n.to_string()
            } else {
                match lang {
                    Lang::En => format!("{n} ({size})"),
                    Lang::Zh => format!("{n}（{size}）"),
                }
            }
        }
        None => size,
    };
    let lead = b.lead_time;
    match lang {
        Lang::En => format!("unit: {what} · decided {lead} year{} ahead", if lead == 1 { "" } else { "s" }),
        Lang::Zh => format!("单位：{what} · 提前{lead}年决策"),
    }
}

/// A project's size in words: "2 × 30-class primary school", or "1,350 places" for a unit
/// without a name.
pub fn project_size(s: &Scenario, item: &ResourcePlan, units: u32, lang: Lang) -> String {
    let b = &item.build;
    match &b.name {
        Some(n) => format!("{units} × {}", n.get(lang.code())),
        None => with_unit(s, item.resource, b.unit * f64::from(units), lang),
    }
}

fn town_name(s: &Scenario, town: usize, lang: Lang) -> String {
    s.towns[town].name.get(lang.code()).to_string()
}

/// Assigns lanes to spans `(start, end)` in pixels, sorted by start: spans sharing a lane are
/// at least `gap` apart. Returns each span's lane and the number of lanes.
fn lanes_for(spans: &[(f64, f64)], gap: f64) -> (Vec<usize>, usize) {
    let mut ends: Vec<f64> = Vec::new();
    let mut lanes = Vec::with_capacity(spans.len());
    for &(start, end) in spans {
        let lane = ends.iter().position(|&e| e + gap <= start).unwrap_or(ends.len());
        if lane == ends.len() {
            ends.push(end);
        } else {
            ends[lane] = end;
        }
        lanes.push(lane);
    }
    (lanes, ends.len())
}

/// The timeline's data: every town × resource with a project or an unavoidable year.
pub fn timeline(s: &Scenario, model: &Model, p: &Plan, lang: Lang) -> Timeline {
    let t0 = model.t0;
    let nr = s.resources.len();
    let mut panels: Vec<TimelinePanel> =
        (0..s.towns.len()).map(|t| TimelinePanel { town: t, name: town_name(s, t, lang), rows: Vec::new() }).collect();
    let mut shown = 0;
    for item in &p.items {
        if item.batches.is_empty() && item.unavoidable.is_empty() {
            continue;
        }
        shown += 1;
        let b = &item.build;
        let mut bars: Vec<Bar> = item
            .batches
            .iter()
            .map(|x| {
                let short = match b.name {
                    Some(_) => format!("×{}", x.units),
                    None => amount(x.amount),
                };
                Bar {
                    decision_year: x.decision_year,
                    planned_open_year: x.planned_open_year,
                    units: x.units,
                    amount: x.amount,
                    label: project_size(s, item, x.units, lang),
                    short,
                }
            })
            .collect();
        bars.sort_by_key(|x| x.decision_year);
        let unit = unit_description(s, item.resource, b, lang);
        panels[item.town].rows.push(TimelineRow {
            res: item.resource,
            ids: (s.towns[item.town].id.clone(), s.resources[item.resource].id.clone()),
            resource: s.resources[item.resource].name.get(lang.code()).to_string(),
            unit,
            bars,
            unavoidable: item.unavoidable.iter().map(|&y| (y, item.risk_after[(y - t0) as usize])).collect(),
        });
    }
    Timeline { first: p.settings.from, last: model.year(model.rows - 1), panels, shown: (shown, s.towns.len() * nr) }
}

/// The heatmap's cells: `risk_before` and `risk_after` of every town × resource, years from
/// the first decision year.
pub fn heatmap(s: &Scenario, model: &Model, p: &Plan, lang: Lang) -> PlanHeatmap {
    let first_row = (p.settings.from - model.t0) as usize;
    let years: Vec<i32> = (first_row..model.rows).map(|r| model.year(r)).collect();
    let rows = p
        .items
        .iter()
        .map(|item| PlanRiskRow {
            town: item.town,
            res: item.resource,
            ids: (s.towns[item.town].id.clone(), s.resources[item.resource].id.clone()),
            town_name: town_name(s, item.town, lang),
            resource: s.resources[item.resource].name.get(lang.code()).to_string(),
            before: item.risk_before[first_row..].to_vec(),
            after: item.risk_after[first_row..].to_vec(),
            unavoidable: years.iter().map(|y| item.unavoidable.contains(y)).collect(),
        })
        .collect();
    PlanHeatmap { years, rows }
}

/// The footnote of both charts.
pub fn footnote(s: &Scenario, p: &Plan, lang: Lang) -> String {
    let set = &p.settings;
    match lang {
        Lang::En => format!(
            "Scenario: {} · {} draws · seed {} · capsim {} · capsim plan: P(shortfall) ≤ {} in every year that decisions \
             from {} can fix · year-end (31 Dec) figures",
            s.name.en,
            grouped(set.draws as f64, 0),
            set.seed,
            env!("CARGO_PKG_VERSION"),
            set.risk,
            set.from
        ),
        Lang::Zh => format!(
            "情景：{} · 蒙特卡洛抽样 {} 次 · 随机种子 {} · capsim {} · capsim plan：{}年起的决策可以影响的每一年短缺概率 ≤ {} · \
             年末（12月31日）数据",
            s.name.get("zh"),
            grouped(set.draws as f64, 0),
            set.seed,
            env!("CARGO_PKG_VERSION"),
            set.from,
            set.risk
        ),
    }
}

/// Characters of the names the plan's charts and page draw (in the chart language) that the
/// chart font lacks; the CLI warns about them.
pub fn missing_glyphs(s: &Scenario, opts: &ChartOptions) -> BTreeSet<char> {
    let code = opts.lang.code();
    let mut names: Vec<&str> = vec![s.name.get(code)];
    names.extend(s.towns.iter().map(|x| x.name.get(code)));
    for r in &s.resources {
        names.push(r.name.get(code));
        names.push(r.unit.get(code));
        if let Some(n) = r.build.as_ref().and_then(|b| b.name.as_ref()) {
            names.push(n.get(code));
        }
    }
    names.iter().flat_map(|n| n.chars()).filter(|c| !opts.font.has(*c)).collect()
}

/// The plan's chart and report files: `plan.png`, `plan_heatmap.png`, `report.html`.
pub fn files(s: &Scenario, model: &Model, p: &Plan, opts: &ChartOptions) -> Result<Vec<OutFile>> {
    let note = footnote(s, p, opts.lang);
    let tl = timeline(s, model, p, opts.lang);
    let hm = heatmap(s, model, p, opts.lang);
    let (a, b) = rayon::join(|| draw_timeline(&tl, p, opts, &note), || draw_heatmap(&hm, p, opts, &note));
    let mut files = vec![("plan.png".to_string(), a?), ("plan_heatmap.png".to_string(), b?)];
    let page = report(s, model, p, opts, &files);
    files.push(("report.html".into(), page));
    Ok(files)
}

/// "2027–2035", or "2035" for a single year.
fn span(first: i32, last: i32) -> String {
    if first == last { first.to_string() } else { format!("{first}–{last}") }
}

/// Checks a chart size (internal consistency: every chart here grows only in height).
fn check_size(w: u32, h: u32) -> Result<()> {
    if h > 4 * MAX_SIDE {
        return Err(crate::Error::Input(format!(
            "the plan's chart would be {w}×{h} pixels, taller than the {} pixels a chart may have: too many town × \
             service rows to draw; pass --no-charts for the tables only",
            4 * MAX_SIDE
        )));
    }
    Ok(())
}

// --- plan.png ------------------------------------------------------------------------------

/// Height of one lane of bars.
const LANE: f64 = 20.0;
/// Padding above and below the lanes of a row.
const ROW_PAD: f64 = 5.0;
/// Fill of unavoidable years.
const UNAVOIDABLE_FILL: Rgb = Rgb(234, 234, 234);

fn panel_head_height() -> f64 {
    line_height(size::PANEL) + 14.0
}

fn empty_panel_height() -> f64 {
    line_height(size::SMALL) + 12.0
}

/// How a row is laid out: its label on one line or two, the bars' lanes, the label form and
/// the row's height.
struct RowLayout {
    two_lines: bool,
    /// Lane of each bar.
    lanes: Vec<usize>,
    /// Lanes in all.
    n_lanes: usize,
    /// Whether the bars carry their long labels.
    long: bool,
    height: f64,
}

/// Gap between a label's end and the next bar of its lane.
const LABEL_GAP: f64 = 8.0;

/// Lays a row out: bars go into lanes so that no bar or label touches the next in its lane;
/// the long labels are used when they fit in the chart and need no more lanes than the short
/// ones, or two.
fn row_layout(c: &Canvas, r: &TimelineRow, label_w: f64, right: f64, x_of: &dyn Fn(i32) -> f64) -> RowLayout {
    let spans = |long: bool| -> Vec<(f64, f64)> {
        r.bars
            .iter()
            .map(|b| {
                let text = if long { &b.label } else { &b.short };
                (x_of(b.decision_year) - 2.0, label_x(x_of, b) + c.text_width(text, size::SMALL) + 3.0)
            })
            .collect()
    };
    let (short_lanes, n_short) = lanes_for(&spans(false), LABEL_GAP);
    let long_spans = spans(true);
    let (long_lanes, n_long) = lanes_for(&long_spans, LABEL_GAP);
    // The long labels say what is built; they may take a second lane, never more, and must end
    // inside the chart (the short ones always do: the columns leave room for them).
    let long_fit = long_spans.iter().all(|&(_, end)| end <= right);
    let (lanes, n_lanes, long) =
        if long_fit && n_long <= n_short.max(2) { (long_lanes, n_long, true) } else { (short_lanes, n_short, false) };
    let one_line = format!("{} · {}", r.resource, r.unit);
    let two_lines = n_lanes >= 2 || c.text_width(&one_line, size::SMALL) > label_w - 14.0;
    let text_h = if two_lines { 2.0 * line_height(size::SMALL) + 4.0 } else { LANE };
    RowLayout { two_lines, lanes, n_lanes, long, height: (n_lanes.max(1) as f64 * LANE).max(text_h) + 2.0 * ROW_PAD }
}

/// Where a bar's label starts: right of its diamond.
fn label_x(x_of: &dyn Fn(i32) -> f64, b: &Bar) -> f64 {
    x_of(b.planned_open_year) + 11.0
}

/// Draws `plan.png`.
pub fn draw_timeline(tl: &Timeline, p: &Plan, opts: &ChartOptions, note: &str) -> Result<Vec<u8>> {
    let lang = opts.lang;
    let w = opts.width;
    let (first, last) = (tl.first, tl.last);
    let risk = p.settings.risk;
    let title = match lang {
        Lang::En => format!("Recommended schedule: what to decide when, and when it opens, {}", span(first, last)),
        Lang::Zh => format!("建议建设时序：何时决策、何时投用，{}年", span(first, last)),
    };
    let subtitle = match lang {
        Lang::En => format!(
            "Columns are calendar years. Each bar is one recommended project, from the year it must be decided to its \
             planned opening (decision + lead time); its label gives its size. Openings may slip: projects are sized for their delay distribution so \
             that P(shortfall) ≤ {risk} in every year decisions from {first} can fix (plan.csv). Town × service pairs with \
             neither a project nor an unavoidable year are left out: {} of {} shown.",
            tl.shown.0, tl.shown.1
        ),
        Lang::Zh => format!(
            "各列为日历年。每条横线为一个建议项目：从必须决策的年份到计划投用年份（决策年份加建设周期），标注为项目规模。投用可能延期：项目规模已考虑延期的分布，\
             使{first}年起的决策可以影响的每一年短缺概率 ≤ {risk}（plan.csv）。既无项目也无无法避免年份的新城×设施组合不予显示：共 {} 个，\
             显示 {} 个。",
            tl.shown.1, tl.shown.0
        ),
    };
    let entries = vec![
        (
            Key::Span(palette::BLUE),
            lang.t("Decision year → planned opening (one project)", "决策年份 → 计划投用年份（一个项目）").to_string(),
        ),
        (
            Key::Hatched(palette::GREY, UNAVOIDABLE_FILL),
            match lang {
                Lang::En => format!("Unavoidable: P(shortfall) > {risk} that no decision from {first} can fix"),
                Lang::Zh => format!("无法避免：{first}年起的任何决策都无法使短缺概率降至 {risk} 以下"),
            },
        ),
    ];
    let right = f64::from(w) - frame::MARGIN;
    let total_w = right - frame::MARGIN;

    // Measure on a one-pixel-high canvas: the label column (wide enough for the longer of a
    // row's two lines), the rows' heights, then the chart's.
    let mut probe = Canvas::new(w, 1, &opts.font);
    let header_bottom = frame::header(&mut probe, &title, &subtitle);
    let legend_bottom = frame::legend(&mut probe, &entries, frame::MARGIN, right, header_bottom);
    let foot = frame::footnote_lines(&probe, note);
    let rows = || tl.panels.iter().flat_map(|pn| &pn.rows);
    let label_need = rows()
        .map(|r| probe.text_width(&r.resource, size::SMALL).max(probe.text_width(&r.unit, size::SMALL)))
        .fold(0.0, f64::max)
        + 20.0;
    let label_w = label_need.min(total_w * 0.42);
    // Columns: the row labels, one column per year, then room for the labels of the last year.
    let reserve =
        rows().flat_map(|r| &r.bars).map(|b| probe.text_width(&b.short, size::SMALL)).fold(0.0, f64::max) + 20.0;
    let x0 = frame::MARGIN + label_w;
    let x1 = right - reserve.min(total_w * 0.12);
    let ncol = (last - first + 1).max(1) as usize;
    let col_w = (x1 - x0) / ncol as f64;
    let x_of = |year: i32| x0 + (f64::from(year - first) + 0.5) * col_w;
    let layouts: Vec<Vec<RowLayout>> = tl
        .panels
        .iter()
        .map(|pn| pn.rows.iter().map(|r| row_layout(&probe, r, label_w, right, &x_of)).collect())
        .collect();
    let panels_h: f64 = tl
        .panels
        .iter()
        .zip(&layouts)
        .map(|(pn, ls)| {
            panel_head_height()
                + if pn.rows.is_empty() { empty_panel_height() } else { ls.iter().map(|l| l.height).sum::<f64>() }
                + 10.0
        })
        .sum();
    let content = legend_bottom + 6.0 + panels_h + frame::footnote_height(&foot) + 8.0;
    let h = content.ceil().max(f64::from(opts.height)) as u32;
    check_size(w, h)?;
    let mut c = Canvas::new(w, h, &opts.font);
    let y = frame::header(&mut c, &title, &subtitle);
    let mut y = frame::legend(&mut c, &entries, frame::MARGIN, right, y) + 6.0;
    let label_every = frame::label_every(first, last, col_w, c.text_width("2035", size::SMALL) + 10.0);

    for (pn, ls) in tl.panels.iter().zip(&layouts) {
        // Panel head: the town and the years over their columns.
        let hh = panel_head_height();
        c.fill_rect(frame::MARGIN, y, right, y + hh, Rgb(242, 242, 242), 1.0);
        let name = frame::fit(&c, &pn.name, size::PANEL, label_w - 8.0);
        c.text(frame::MARGIN + 6.0, y + hh / 2.0, &name, size::PANEL, palette::TEXT, (HAlign::Left, VAlign::Middle));
        for year in (first..=last).filter(|yr| (yr - first) % label_every == 0) {
            let label = year.to_string();
            c.text(x_of(year), y + hh / 2.0, &label, size::SMALL, palette::TEXT, (HAlign::Center, VAlign::Middle));
        }
        c.fill_rect(frame::MARGIN, y + hh - 1.0, right, y + hh, palette::AXIS, 1.0);
        y += hh;
        if pn.rows.is_empty() {
            let text = lang.t("No project and no unavoidable year.", "无需新增项目，也没有无法避免的短缺年份。");
            let eh = empty_panel_height();
            c.text(
                frame::MARGIN + 6.0,
                y + eh / 2.0,
                text,
                size::SMALL,
                palette::MUTED,
                (HAlign::Left, VAlign::Middle),
            );
            y += eh + 10.0;
            continue;
        }
        for (i, (row, lay)) in pn.rows.iter().zip(ls).enumerate() {
            let rh = lay.height;
            let shade = if i % 2 == 1 { Rgb(247, 247, 247) } else { Rgb(255, 255, 255) };
            c.fill_rect(frame::MARGIN, y, right, y + rh, shade, 1.0);
            // Unavoidable years: a hatched band over the year's column.
            for &(year, _) in &row.unavoidable {
                let xa = x_of(year) - col_w / 2.0 + 1.0;
                let r = Rect { x0: xa, y0: y + 2.0, x1: xa + col_w - 2.0, y1: y + rh - 2.0 };
                c.fill_rect(r.x0, r.y0, r.x1, r.y1, UNAVOIDABLE_FILL, 1.0);
                frame::hatch(&mut c, r, palette::GREY, 7.0, 1.2);
            }
            // Year boundaries, light, between the columns (under the bars and their labels).
            for year in first..=last + 1 {
                let x = x_of(year) - col_w / 2.0;
                c.fill_rect(x - 0.5, y, x + 0.5, y + rh, Rgb(222, 222, 222), 1.0);
            }
            // The row's label: the resource and what its unit is.
            let lx = frame::MARGIN + 6.0;
            let avail = label_w - 14.0;
            let ym = y + rh / 2.0;
            if lay.two_lines {
                let l1 = frame::fit(&c, &row.resource, size::SMALL, avail);
                let l2 = frame::fit(&c, &row.unit, size::SMALL, avail);
                let lh = line_height(size::SMALL);
                c.text(lx, ym - lh / 2.0 - 1.0, &l1, size::SMALL, palette::TEXT, (HAlign::Left, VAlign::Middle));
                c.text(lx, ym + lh / 2.0 + 1.0, &l2, size::SMALL, palette::MUTED, (HAlign::Left, VAlign::Middle));
            } else {
                let (_, _, ex, _) =
                    c.text(lx, ym, &row.resource, size::SMALL, palette::TEXT, (HAlign::Left, VAlign::Middle));
                let l2 = format!("· {}", row.unit);
                c.text(ex + 6.0, ym, &l2, size::SMALL, palette::MUTED, (HAlign::Left, VAlign::Middle));
            }
            // Bars, lane by lane (lanes centred in the row), each label right of its diamond.
            let lanes_top = ym - lay.n_lanes.max(1) as f64 * LANE / 2.0;
            for (bar, &lane) in row.bars.iter().zip(&lay.lanes) {
                let yb = lanes_top + (lane as f64 + 0.5) * LANE;
                let (xa, xb) = (x_of(bar.decision_year), x_of(bar.planned_open_year));
                c.fill_rect(xa - 1.0, yb - 6.0, xa + 1.0, yb + 6.0, palette::TEXT, 1.0);
                c.fill_rect(xa, yb - 1.5, xb, yb + 1.5, palette::BLUE, 1.0);
                c.diamond(xb, yb, 6.5, palette::BLUE, palette::BLACK);
                let text = if lay.long { &bar.label } else { &bar.short };
                let lx = label_x(&x_of, bar);
                let tw = c.text_width(text, size::SMALL);
                // A backing box keeps the label legible over hatching and grid lines.
                let half = line_height(size::SMALL) / 2.0;
                c.fill_rect(lx - 3.0, yb - half, lx + tw + 3.0, yb + half, shade, 1.0);
                c.text(lx, yb, text, size::SMALL, palette::TEXT, (HAlign::Left, VAlign::Middle));
            }
            y += rh;
        }
        c.fill_rect(frame::MARGIN, y - 1.0, right, y, palette::GRID, 1.0);
        y += 10.0;
    }
    frame::footnote(&mut c, &foot);
    c.png(&title)
}

// --- plan_heatmap.png ----------------------------------------------------------------------

/// Draws `plan_heatmap.png`: the two grids side by side (stacked when the chart is too narrow
/// for two grids of legible cells).
pub fn draw_heatmap(hm: &PlanHeatmap, p: &Plan, opts: &ChartOptions, note: &str) -> Result<Vec<u8>> {
    let lang = opts.lang;
    let w = opts.width;
    let n = hm.rows.len();
    let risk = p.settings.risk;
    let (first, last) = (hm.years.first().copied().unwrap_or(0), hm.years.last().copied().unwrap_or(0));
    let title = match lang {
        Lang::En => format!("Probability of a shortfall without and with the plan, {}", span(first, last)),
        Lang::Zh => format!("实施规划前后的短缺概率，{}年", span(first, last)),
    };
    let headings = [
        lang.t("Without the plan", "实施规划前"),
        lang.t("With the plan (capsim run --with plan.toml)", "实施规划后（capsim run --with plan.toml）"),
    ];
    let entries = vec![
        (
            Key::Line(palette::BLACK, 2.0),
            match lang {
                Lang::En => format!("risk level {risk}"),
                Lang::Zh => format!("风险水平 {risk}"),
            },
        ),
        (
            Key::Outlined(Rgb(255, 255, 255), palette::VERMILLION),
            lang.t("unavoidable year", "无法避免的年份").to_string(),
        ),
    ];

    // Layout: label columns, then the grids, side by side when their cells stay legible.
    let mut probe = Canvas::new(w, 1, &opts.font);
    let right = f64::from(w) - frame::MARGIN;
    let total_w = right - frame::MARGIN;
    let town_w = hm.rows.iter().map(|r| probe.text_width(&r.town_name, size::SMALL)).fold(0.0, f64::max) + 16.0;
    let res_w = hm.rows.iter().map(|r| probe.text_width(&r.resource, size::SMALL)).fold(0.0, f64::max) + 16.0;
    let labels_max = total_w * 0.40;
    let town_w = town_w.min(labels_max * 0.4);
    let res_w = res_w.min(labels_max - town_w);
    let x_cells = frame::MARGIN + town_w + res_w;
    let ncol = hm.years.len().max(1);
    let gap = 24.0;
    let side_cell = ((right - x_cells - gap) / (2 * ncol) as f64).min(90.0);
    let stacked = side_cell < 32.0;
    let cell_w = if stacked { ((right - x_cells) / ncol as f64).min(90.0) } else { side_cell };
    let (first_grid, second_grid) = if stacked {
        (lang.t("above", "上"), lang.t("below", "下"))
    } else {
        (lang.t("left", "左"), lang.t("right", "右"))
    };
    let subtitle = match lang {
        Lang::En => format!(
            "Share of the Monte Carlo draws in which year-end demand exceeds capacity: {first_grid}, the scenario as it is; \
             {second_grid}, with the recommended projects added (plan.csv risk_before, risk_after), the same draws. \
             Outlined: years still above the risk level {risk} with the plan (unavoidable). Same colour scale as \
             shortfall_heatmap.png."
        ),
        Lang::Zh => format!(
            "各次抽样中年末需求超过供给的比例：{first_grid}为现有情景，{second_grid}为加入建议项目后（plan.csv 的 risk_before、risk_after），\
             使用相同的抽样。加框：实施规划后仍高于风险水平 {risk} 的年份（无法避免）。色标与 shortfall_heatmap.png 相同。"
        ),
    };
    let header_bottom = frame::header(&mut probe, &title, &subtitle);
    let bar = heatmap::legend(&mut probe, lang, header_bottom);
    let legend_bottom = frame::legend(&mut probe, &entries, bar.right + 36.0, right, header_bottom - 4.0);
    let legend_h = heatmap::LEGEND_HEIGHT.max(legend_bottom - header_bottom);
    let foot = frame::footnote_lines(&probe, note);
    let grid_w = cell_w * ncol as f64;
    // Few columns leave room to spare: widen the gap so the first grid's heading fits over it.
    let wide_gap = {
        let need = probe.text_width(headings[0], size::PANEL) + 16.0 - grid_w;
        let spare = right - x_cells - 2.0 * grid_w;
        gap.max(need.min(spare))
    };
    let col_head = line_height(size::SMALL) + 10.0;
    let grid_head = line_height(size::PANEL) + 8.0;
    let towns = hm.rows.last().map_or(0, |r| r.town + 1);
    let separators = towns.saturating_sub(1) as f64 * 4.0;
    let blocks = if stacked { 2.0 } else { 1.0 };
    let fixed = header_bottom
        + legend_h
        + blocks * (grid_head + 2.0 * col_head + separators + 12.0)
        + frame::footnote_height(&foot)
        + 16.0;
    let row_h = ((f64::from(opts.height) - fixed) / (blocks * n.max(1) as f64)).clamp(heatmap::ROW_MIN, 26.0);
    let h = (fixed + blocks * row_h * n as f64).ceil().max(f64::from(opts.height)) as u32;
    check_size(w, h)?;

    let mut c = Canvas::new(w, h, &opts.font);
    let y = frame::header(&mut c, &title, &subtitle);
    let bar = heatmap::legend(&mut c, lang, y);
    let xr = bar.x0 + bar.width * risk;
    c.fill_rect(xr - 1.0, bar.y0 - 3.0, xr + 1.0, bar.y1 + 3.0, palette::BLACK, 1.0);
    frame::legend(&mut c, &entries, bar.right + 36.0, right, y - 4.0);
    let mut y = y + legend_h;

    // The grids: [without, with], side by side or stacked.
    let origins: Vec<(f64, usize)> =
        if stacked { vec![(x_cells, 0), (x_cells, 1)] } else { vec![(x_cells, 0), (x_cells + grid_w + wide_gap, 1)] };
    let years_row = |c: &mut Canvas, gx: f64, y: f64| {
        for (j, year) in hm.years.iter().enumerate() {
            let label = year.to_string();
            if c.text_width(&label, size::SMALL) + 6.0 <= cell_w || j % 2 == 0 {
                let x = gx + (j as f64 + 0.5) * cell_w;
                c.text(x, y, &label, size::SMALL, palette::TEXT, (HAlign::Center, VAlign::Middle));
            }
        }
    };
    let block = |c: &mut Canvas, y0: f64, grids: &[(f64, usize)]| -> f64 {
        let grids_end = grids.iter().map(|g| g.0 + grid_w).fold(x_cells, f64::max);
        let mut y = y0;
        for (k, &(gx, which)) in grids.iter().enumerate() {
            // Centred over its grid; over a narrow grid, from the grid's left edge to the next
            // grid (or the chart's edge), in smaller type if need be.
            let room = grids.get(k + 1).map_or(right, |g| g.0 - 8.0) - gx;
            if c.text_width(headings[which], size::PANEL) > grid_w {
                let em = if c.text_width(headings[which], size::PANEL) <= room { size::PANEL } else { size::SMALL };
                let head = frame::fit(c, headings[which], em, room);
                c.text(gx, y + grid_head / 2.0, &head, em, palette::TEXT, (HAlign::Left, VAlign::Middle));
                continue;
            }
            c.text(
                gx + grid_w / 2.0,
                y + grid_head / 2.0,
                headings[which],
                size::PANEL,
                palette::TEXT,
                (HAlign::Center, VAlign::Middle),
            );
        }
        y += grid_head;
        for &(gx, _) in grids {
            years_row(c, gx, y + col_head / 2.0);
        }
        y += col_head;
        let cells_top = y;
        let mut prev = usize::MAX;
        for (i, row) in hm.rows.iter().enumerate() {
            if row.town != prev {
                if prev != usize::MAX {
                    c.fill_rect(frame::MARGIN, y + 1.0, grids_end, y + 2.5, palette::AXIS, 1.0);
                    y += 4.0;
                }
                let name = frame::fit(c, &row.town_name, size::SMALL, town_w - 12.0);
                c.text(
                    frame::MARGIN,
                    y + row_h / 2.0,
                    &name,
                    size::SMALL,
                    palette::TEXT,
                    (HAlign::Left, VAlign::Middle),
                );
                prev = row.town;
            }
            if i % 2 == 1 {
                c.fill_rect(frame::MARGIN + town_w - 6.0, y, x_cells, y + row_h, Rgb(244, 244, 244), 1.0);
            }
            let name = frame::fit(c, &row.resource, size::SMALL, res_w - 12.0);
            c.text(
                frame::MARGIN + town_w,
                y + row_h / 2.0,
                &name,
                size::SMALL,
                palette::TEXT,
                (HAlign::Left, VAlign::Middle),
            );
            for &(gx, which) in grids {
                let values = if which == 0 { &row.before } else { &row.after };
                for (j, &pv) in values.iter().enumerate() {
                    heatmap::cell(c, gx + j as f64 * cell_w, y, cell_w, row_h, pv);
                }
                if which == 1 {
                    for (j, &u) in row.unavoidable.iter().enumerate() {
                        if u {
                            let x = gx + j as f64 * cell_w;
                            c.stroke_rect(
                                x + 1.0,
                                y + 1.0,
                                x + cell_w - 1.0,
                                y + row_h - 1.0,
                                palette::VERMILLION,
                                2.5,
                            );
                        }
                    }
                }
            }
            y += row_h;
        }
        for &(gx, _) in grids {
            c.fill_rect(gx, cells_top - 1.0, gx + grid_w, cells_top, palette::AXIS, 1.0);
            c.fill_rect(gx, y, gx + grid_w, y + 1.0, palette::AXIS, 1.0);
            years_row(c, gx, y + col_head / 2.0 + 2.0);
        }
        y + col_head + 12.0
    };
    if stacked {
        for g in &origins {
            y = block(&mut c, y, std::slice::from_ref(g));
        }
    } else {
        block(&mut c, y, &origins);
    }
    frame::footnote(&mut c, &foot);
    c.png(&title)
}

// --- report.html ---------------------------------------------------------------------------

/// The source of a build unit's cost, from the scenario's inputs (it names the currency).
fn cost_source(s: &Scenario, res: usize) -> Option<String> {
    let path = format!("resources.{}.build.cost", s.resources[res].id);
    s.inputs.iter().find(|i| i.path == path).and_then(|i| i.source.clone())
}

/// The delay of a build unit in words, with the whole years it rounds to: "triangular(0, 0, 2)
/// years: on time 44 %, 1 year 50 %, 2 years 6 %".
fn delay_words(b: &Build, lang: Lang) -> String {
    if !b.delay.is_random() {
        let d = crate::engine::opening_row(0, b.delay.central());
        return match (lang, d) {
            (_, 0) => lang.t("none", "无").to_string(),
            (Lang::En, d) => format!("{d} year{}", if d == 1 { "" } else { "s" }),
            (Lang::Zh, d) => format!("{d} 年"),
        };
    }
    // Shares of the whole years the delay rounds to (half up, floored at 0, as the engine
    // does), by the midpoint rule over the quantile function.
    const N: usize = 20_000;
    let mut shares: Vec<(i64, usize)> = Vec::new();
    for i in 0..N {
        let d = crate::engine::opening_row(0, b.delay.sample((i as f64 + 0.5) / N as f64));
        match shares.iter_mut().find(|(k, _)| *k == d) {
            Some((_, n)) => *n += 1,
            None => shares.push((d, 1)),
        }
    }
    shares.sort_unstable();
    let parts: Vec<String> = shares
        .iter()
        .filter(|(_, n)| *n * 200 >= N)
        .map(|&(d, n)| {
            let pct = (100.0 * n as f64 / N as f64).round();
            match (lang, d) {
                (Lang::En, 0) => format!("on time {pct} %"),
                (Lang::En, 1) => format!("1 year late {pct} %"),
                (Lang::En, d) => format!("{d} years late {pct} %"),
                (Lang::Zh, 0) => format!("按时 {pct}%"),
                (Lang::Zh, d) => format!("延期{d}年 {pct}%"),
            }
        })
        .collect();
    match lang {
        Lang::En => format!("{} years: {}", b.delay.dist.describe(), parts.join(", ")),
        Lang::Zh => format!("{} 年：{}", b.delay.dist.describe(), parts.join("，")),
    }
}

/// Builds the plan's `report.html` (charts embedded as data URIs, no script, no external
/// resource).
pub fn report(s: &Scenario, model: &Model, p: &Plan, opts: &ChartOptions, charts: &[OutFile]) -> Vec<u8> {
    let lang = opts.lang;
    let code = lang.code();
    let set = &p.settings;
    let t0 = model.t0;
    let end = model.year(model.rows - 1);
    let title = s.name.get(code);
    let mut h = String::new();
    let heading = lang.t("Recommended schedule", "建议建设时序");
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"{}\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" \
         content=\"width=device-width, initial-scale=1\">\n<title>{} — {} — capsim plan</title>\n<style>{STYLE}td.nw{{white-space:nowrap}}</style>\n</head>\n<body>\n",
        lang.t("en", "zh-CN"),
        esc(title),
        esc(heading)
    );
    let _ = writeln!(h, "<h1>{}</h1>", esc(title));
    let meta = match lang {
        Lang::En => format!(
            "capsim plan · {} Monte Carlo draws · seed {} · capsim {} · risk level {} · decisions from {} · years {}–{end}",
            grouped(set.draws as f64, 0),
            set.seed,
            env!("CARGO_PKG_VERSION"),
            set.risk,
            set.from,
            set.from
        ),
        Lang::Zh => format!(
            "capsim plan · 蒙特卡洛抽样 {} 次 · 随机种子 {} · capsim {} · 风险水平 {} · 自{}年起决策 · {}–{end}年",
            grouped(set.draws as f64, 0),
            set.seed,
            env!("CARGO_PKG_VERSION"),
            set.risk,
            set.from,
            set.from
        ),
    };
    let _ = writeln!(h, "<p class=\"meta\">{}</p>", esc(&meta));
    if let Some(d) = &s.description {
        let _ = writeln!(h, "<p>{}</p>", esc(d));
    }

    // The plan in plain words.
    let projects: usize = p.items.iter().map(|i| i.batches.len()).sum();
    let pairs_built = p.items.iter().filter(|i| !i.batches.is_empty()).count();
    let pairs_unavoidable = p.items.iter().filter(|i| !i.unavoidable.is_empty()).count();
    let pairs = p.items.len();
    let intro = match lang {
        Lang::En => format!(
            "This plan keeps the probability of a shortfall — the share of the {draws} Monte Carlo draws in which year-end \
             demand exceeds capacity — at or below {risk} in every year from {from} to {end} that a decision taken in {from} \
             or later can still change. It recommends {projects} projects for {pairs_built} of the {pairs} town × service \
             pairs, each decided as late as the risk allows, and sized for the chance that it opens late. \
             Each project was judged on the same draws and the same arithmetic as capsim run. {pairs_unavoidable} pairs have \
             years no decision from {from} can bring within the risk level (unavoidable, listed below with their risk): a \
             project decided in {from} would open too late for them, or too often late. Add the projects to the scenario's \
             pipeline with `capsim run SCENARIO --with plan.toml --draws {n} --seed {seed}`; with that seed and those \
             draws it reproduces the risks on this page.",
            draws = grouped(set.draws as f64, 0),
            n = set.draws,
            risk = set.risk,
            from = set.from,
            seed = set.seed,
        ),
        Lang::Zh => format!(
            "本规划使{from}至{end}年间、{from}年及以后的决策仍可影响的每一年，短缺概率（{draws} 次蒙特卡洛抽样中年末需求超过供给的比例）均不超过 \
             {risk}。规划为 {pairs} 个新城×设施组合中的 {pairs_built} 个建议 {projects} 个项目，每个项目在风险允许的前提下尽量晚决策，\
             其规模已考虑延期投用的可能。每个项目均以与 capsim run 相同的抽样和算法评估。{pairs_unavoidable} 个组合存在{from}年起的任何决策都无法使其降至风险水平以内的年份\
             （无法避免，下文列出其短缺概率）：{from}年决策的项目投用太晚，或延期的可能太大。用 `capsim run SCENARIO --with plan.toml --draws {n} \
             --seed {seed}` 将这些项目加入情景的在建项目；使用相同的种子和抽样次数可复现本页的短缺概率。",
            draws = grouped(set.draws as f64, 0),
            n = set.draws,
            risk = set.risk,
            from = set.from,
            seed = set.seed,
        ),
    };
    let _ = writeln!(h, "<p>{}</p>", esc(&intro));

    // Recommended schedule.
    let _ = writeln!(h, "<h2 id=\"schedule\">{}</h2>", esc(heading));
    let _ = writeln!(h, "<p><strong>{}</strong></p>", esc(&total_cost_sentence(s, p, lang)));
    if projects == 0 {
        let none = match lang {
            Lang::En => format!(
                "No project is needed: every year that decisions from {} can fix is within the risk level.",
                set.from
            ),
            Lang::Zh => format!("无需新增项目：{}年起的决策可以影响的每一年均已在风险水平以内。", set.from),
        };
        let _ = writeln!(h, "<p>{}</p>", esc(&none));
    } else {
        let heads = [
            lang.t("Town", "新城"),
            lang.t("Service", "设施"),
            lang.t("Decide in", "决策年份"),
            lang.t("Planned opening", "计划投用"),
            lang.t("Units", "单位数"),
            lang.t("One unit", "单位"),
            lang.t("Amount", "新增能力"),
            lang.t("Cost", "投资"),
            lang.t("Fixes year", "对应年份"),
            lang.t("P(shortfall) in that year: before → after", "该年短缺概率：规划前 → 规划后"),
        ];
        table_head(&mut h, &heads, |i| matches!(i, 0 | 1 | 5));
        for item in &p.items {
            for b in &item.batches {
                let i = (b.fixes_year - t0) as usize;
                let _ = writeln!(
                    h,
                    "<tr><td class=\"l nw\">{}</td><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"l\">{}</td>\
                     <td>{}</td><td>{}</td><td>{}</td><td>{} → {}</td></tr>",
                    esc(&town_name(s, item.town, lang)),
                    esc(s.resources[item.resource].name.get(code)),
                    b.decision_year,
                    b.planned_open_year,
                    grouped(f64::from(b.units), 0),
                    esc(&unit_name(s, item.resource, &item.build, lang)),
                    esc(&with_unit(s, item.resource, b.amount, lang)),
                    b.cost.map_or_else(|| "–".to_string(), |c| grouped(c, 0)),
                    b.fixes_year,
                    esc(&prob(item.risk_before[i])),
                    esc(&prob(item.risk_after[i])),
                );
            }
        }
        let _ = writeln!(h, "</table>");
        let note = lang.t(
            "One row per project of plan.csv and plan.toml. “Fixes year”: the first year from the planned opening in which \
             P(shortfall) without the plan exceeds the risk level; its P(shortfall) before and after is plan.csv's \
             risk_before and risk_after. Cost: units × the build unit's cost (– where the unit has none).",
            "每行对应 plan.csv 与 plan.toml 中的一个项目。“对应年份”：自计划投用年份起，规划前短缺概率首次超过风险水平的年份；其规划前后的短缺概率即 plan.csv 的 \
             risk_before 与 risk_after。投资：单位数 × 建设单位的投资（无投资数据时为 –）。",
        );
        let _ = writeln!(h, "<p class=\"note\">{}</p>", esc(note));
    }

    // Unavoidable years, one row per town × service.
    let _ = writeln!(h, "<h2 id=\"unavoidable\">{}</h2>", esc(lang.t("Unavoidable years", "无法避免的短缺年份")));
    let with_years: Vec<&ResourcePlan> = p.items.iter().filter(|i| !i.unavoidable.is_empty()).collect();
    if with_years.is_empty() {
        let s_ = match lang {
            Lang::En => {
                format!("None: every year from {} is within the risk level {} with the plan.", set.from, set.risk)
            }
            Lang::Zh => format!("无：实施规划后，{}年起每一年的短缺概率均在风险水平 {} 以内。", set.from, set.risk),
        };
        let _ = writeln!(h, "<p>{}</p>", esc(&s_));
    } else {
        let early = match lang {
            Lang::En => format!("Before a project decided in {} can open: year (P(shortfall))", set.from),
            Lang::Zh => format!("{}年决策的项目投用之前：年份（短缺概率）", set.from),
        };
        let late = match lang {
            Lang::En => format!("Later, still above {} with the plan: year (P before → after)", set.risk),
            Lang::Zh => format!("此后实施规划仍高于 {} 的年份：年份（规划前 → 规划后）", set.risk),
        };
        let heads = [lang.t("Town", "新城"), lang.t("Service", "设施"), early.as_str(), late.as_str()];
        table_head(&mut h, &heads, |_| true);
        for item in with_years {
            let first_open = set.from + item.build.lead_time;
            let at = |y: i32| (y - t0) as usize;
            let early: Vec<String> = item
                .unavoidable
                .iter()
                .filter(|&&y| y < first_open)
                .map(|&y| format!("{y} ({})", prob(item.risk_after[at(y)])))
                .collect();
            let late: Vec<String> = item
                .unavoidable
                .iter()
                .filter(|&&y| y >= first_open)
                .map(|&y| format!("{y} ({} → {})", prob(item.risk_before[at(y)]), prob(item.risk_after[at(y)])))
                .collect();
            let cell = |v: Vec<String>| if v.is_empty() { "–".to_string() } else { v.join(", ") };
            let _ = writeln!(
                h,
                "<tr><td class=\"l nw\">{}</td><td class=\"l\">{}</td><td class=\"l\">{}</td><td class=\"l\">{}</td></tr>",
                esc(&town_name(s, item.town, lang)),
                esc(s.resources[item.resource].name.get(code)),
                esc(&cell(early)),
                esc(&cell(late))
            );
        }
        let _ = writeln!(h, "</table>");
        let note = match lang {
            Lang::En => format!(
                "plan.csv rows with units = 0. A year is unavoidable when it comes before any project decided in {from} \
                 can open (the decision year plus the build unit's lead time), or when the draws still short with the \
                 plan are ones in which every project that could serve the year opens late (its delay). In such a year \
                 the plan fixes every draw a project can fix, so the risk with the plan is the lowest any schedule \
                 decided from {from} reaches.",
                from = set.from
            ),
            Lang::Zh => format!(
                "即 plan.csv 中 units = 0 的行。若某年早于{from}年决策的项目可投用的年份（决策年份加建设周期），或实施规划后仍然短缺的抽样中，所有可服务该年的项目均延期投用，\
                 则该年无法避免。在这样的年份，规划会解决项目能够解决的每一次抽样，因此规划后的短缺概率是{from}年起决策的任何时序所能达到的最低值。",
                from = set.from
            ),
        };
        let _ = writeln!(h, "<p class=\"note\">{}</p>", esc(&note));
    }

    // Charts.
    let _ = writeln!(h, "<h2>{}</h2>", lang.t("Charts", "图表"));
    for (name, bytes) in charts {
        let cap = match name.as_str() {
            "plan.png" => lang.t("What to decide when, and when it opens", "何时决策、何时投用"),
            _ => lang.t("Probability of a shortfall without and with the plan", "实施规划前后的短缺概率"),
        };
        let (w, ht) = png_size(bytes).unwrap_or((opts.width, opts.height));
        let _ = writeln!(
            h,
            "<figure id=\"{}\"><img src=\"data:image/png;base64,{}\" width=\"{w}\" height=\"{ht}\" alt=\"{}\">\
             <figcaption>{} ({})</figcaption></figure>",
            esc(name.trim_end_matches(".png")),
            base64(bytes),
            esc(cap),
            esc(cap),
            esc(name)
        );
    }

    // Build units.
    let _ = writeln!(h, "<h2 id=\"units\">{}</h2>", esc(lang.t("Build units", "建设单位")));
    let heads = [
        lang.t("Service", "设施"),
        lang.t("One unit", "单位"),
        lang.t("Adds", "新增能力"),
        lang.t("Decision to planned opening", "决策至计划投用"),
        lang.t("Opening delay", "投用延期"),
        lang.t("Cost per unit", "单位投资"),
    ];
    table_head(&mut h, &heads, |i| matches!(i, 0 | 1 | 4));
    for (r, res) in s.resources.iter().enumerate() {
        let b = crate::plan::build_of(s, r);
        let default = res.build.is_none();
        let unit = if default {
            format!("{} {}", unit_name(s, r, &b, lang), lang.t("(default)", "（默认）"))
        } else {
            unit_name(s, r, &b, lang)
        };
        let lead = match lang {
            Lang::En => format!("{} year{}", b.lead_time, if b.lead_time == 1 { "" } else { "s" }),
            Lang::Zh => format!("{} 年", b.lead_time),
        };
        let _ = writeln!(
            h,
            "<tr><td class=\"l\">{}</td><td class=\"l\">{}</td><td>{}</td><td>{}</td><td class=\"l\">{}</td><td>{}</td></tr>",
            esc(res.name.get(code)),
            esc(&unit),
            esc(&with_unit(s, r, b.unit, lang)),
            esc(&lead),
            esc(&delay_words(&b, lang)),
            b.cost.map_or_else(|| "–".to_string(), |c| grouped(c, 0)),
        );
    }
    let _ = writeln!(h, "</table>");
    let mut note = lang
        .t(
            "From each resource's build block in the scenario (validate --sources gives every number's source). The \
             delay is drawn per project and rounded half up to whole years, as for every project of the scenario; the \
             shares are those of the whole years.",
            "取自情景中各设施的 build 配置（validate --sources 列出每个数字的来源）。延期按项目逐一抽样并四舍五入为整年，与情景中的其他项目相同；百分比为各整年数的概率。",
        )
        .to_string();
    if s.resources.iter().any(|r| r.build.is_none()) {
        note.push_str(lang.t(
            " (default): the resource has no build block, so capsim's default applies: one unit of the resource, \
             decided two years ahead, no delay, no cost.",
            "（默认）：该设施未配置 build，使用 capsim 的默认值：每个单位为 1 个该设施单位，提前两年决策，无延期，无投资。",
        ));
    }
    let _ = writeln!(h, "<p class=\"note\">{}</p>", esc(&note));
    for (r, res) in s.resources.iter().enumerate() {
        if let Some(src) = cost_source(s, r) {
            let line = match lang {
                Lang::En => format!("Cost of one unit of {}: {src}", res.name.en),
                Lang::Zh => format!("{}单位投资的来源：{src}", res.name.get("zh")),
            };
            let _ = writeln!(h, "<p class=\"note\">{}</p>", esc(&line));
        }
    }
    let _ = writeln!(
        h,
        "<p class=\"note\">{}. {}</p>",
        esc(&footnote(s, p, lang)),
        esc(lang.t(
            "The schedule is in plan.csv and plan.toml beside this page; docs/plan.md explains the search.",
            "完整时序见本页同目录下的 plan.csv 与 plan.toml；检索方法见 docs/plan.md。"
        ))
    );
    h.push_str("</body>\n</html>\n");
    h.into_bytes()
}

/// The total-cost statement: the sum over projects whose build unit has a cost, what it leaves
/// out, or that no build unit has a cost.
pub fn total_cost_sentence(s: &Scenario, p: &Plan, lang: Lang) -> String {
    let without: usize = p.items.iter().filter(|i| i.build.cost.is_none()).map(|i| i.batches.len()).sum();
    let with: usize = p.items.iter().filter(|i| i.build.cost.is_some()).map(|i| i.batches.len()).sum();
    if !p.has_costs() {
        return lang
            .t(
                "Total cost: not known — no build unit in this scenario gives a cost (add `cost` to a resource's build \
                 block to have one).",
                "总投资：未知——本情景中没有任何建设单位给出投资（在设施的 build 配置中加入 cost 即可计算）。",
            )
            .to_string();
    }
    let costed: Vec<&str> = s
        .resources
        .iter()
        .enumerate()
        .filter(|(r, _)| crate::plan::build_of(s, *r).cost.is_some())
        .map(|(_, res)| res.name.get(lang.code()))
        .collect();
    let total = grouped(p.total_cost(), 0);
    match lang {
        Lang::En => {
            let mut out = format!(
                "Total cost: {total} — the {with} project{} of the services whose build unit gives a cost ({}; currency as in \
                 the cost's source, below).",
                if with == 1 { "" } else { "s" },
                costed.join(", ")
            );
            if without > 0 {
                let _ = write!(out, " The other {without} projects have no cost in the scenario and are not included.");
            }
            out
        }
        Lang::Zh => {
            let mut out = format!(
                "总投资：{total}——给出单位投资的设施（{}）的 {with} 个项目之和（货币单位见下文投资来源）。",
                costed.join("、")
            );
            if without > 0 {
                let _ = write!(out, "其余 {without} 个项目在情景中没有投资数据，未计入。");
            }
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lanes_keep_spans_apart() {
        // Spans of 2.5 columns starting every column: three lanes.
        let spans: Vec<(f64, f64)> = (0..6).map(|i| (100.0 * i as f64, 100.0 * i as f64 + 250.0)).collect();
        let (lanes, n) = lanes_for(&spans, 8.0);
        assert_eq!(n, 3);
        assert_eq!(lanes, vec![0, 1, 2, 0, 1, 2]);
        // Spans in one lane never come closer than the gap.
        for i in 0..spans.len() {
            for j in i + 1..spans.len() {
                if lanes[i] == lanes[j] {
                    assert!(spans[i].1 + 8.0 <= spans[j].0, "{i} {j}");
                }
            }
        }
        // Spaced spans share one lane; a span that ends where the next starts does not.
        assert_eq!(lanes_for(&[(0.0, 50.0), (60.0, 90.0)], 8.0), (vec![0, 0], 1));
        assert_eq!(lanes_for(&[(0.0, 50.0), (55.0, 90.0)], 8.0), (vec![0, 1], 2));
        assert_eq!(lanes_for(&[], 8.0), (vec![], 0));
    }

    #[test]
    fn units_read_in_the_singular() {
        assert_eq!(singular("places"), "place");
        assert_eq!(singular("campuses"), "campus");
        assert_eq!(singular("nurses"), "nurse");
        assert_eq!(singular("staff"), "staff");
        assert_eq!(singular("m²"), "m²");
        assert_eq!(singular("GPs"), "GP");
        assert_eq!(singular("streets/towns covered"), "streets/towns covered");
    }
}
