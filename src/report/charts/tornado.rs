//! `tornado_<town>.png`, the charts of `capsim sensitivity`: for each key output of a town
//! (its end-year population and, for each resource, the end-year gap — or the first shortfall
//! year where the gap never varies), the inputs ranked by their total effect.
//!
//! Sobol': the total index ST (bar, with its 95 % bootstrap interval as a whisker) and the
//! first-order index S1 (a second, thinner bar with its own whisker), on one 0–1 scale shared
//! by every panel. Morris: μ* (bar) and σ (second bar), in each output's unit. The eight
//! leading inputs are drawn; a line under them says how many were left out and how small
//! their indices are. Input names are the paths of `indices.csv` (shortened in the middle only
//! when they do not fit). The chart grows taller with the number of outputs rather than shrink
//! its text.
//!
//! Every number drawn is a cell of `indices.csv` ([`data`] reads the same [`Analysis`] the CSV
//! is written from; the tests compare them).

use rayon::prelude::*;

use super::canvas::{Canvas, HAlign, VAlign, line_height};
use super::frame::{self, Key, Plot, Rect, palette, size};
use super::sweep::area_name;
use super::{ChartOptions, check_size};
use crate::Result;
use crate::output::OutFile;
use crate::report::Lang;
use crate::report::lang::{amount, grouped};
use crate::report::tables::fixed;
use crate::scenario::Scenario;
use crate::sensitivity::{Analysis, Index, Method, Settings};

/// Inputs drawn per output.
pub const TOP: usize = 8;

/// The outputs a tornado shows for an area: `population_end`, and for each resource its
/// end-year gap, or its first shortfall year where the gap never varies. Outputs that do not
/// vary are left out.
pub fn tornado_outputs(analysis: &Analysis, area: usize) -> Vec<usize> {
    let varies = |o: usize| (0..analysis.inputs.len()).any(|i| analysis.rank_value(o, i) > 0.0);
    let of_area: Vec<usize> = (0..analysis.outputs.len()).filter(|&o| analysis.outputs[o].area == area).collect();
    let mut out = Vec::new();
    for &o in &of_area {
        let name = &analysis.outputs[o].name;
        if name == "population_end" && varies(o) {
            out.push(o);
        } else if let Some(res) = name.strip_prefix("gap_end:") {
            let first = of_area.iter().copied().find(|&f| analysis.outputs[f].name == format!("first_year:{res}"));
            if varies(o) {
                out.push(o);
            } else if let Some(f) = first.filter(|&f| varies(f)) {
                out.push(f);
            }
        }
    }
    out
}

/// One input's bars: the values of its `indices.csv` row.
#[derive(Clone, Debug, PartialEq)]
pub struct TornadoBar {
    /// Input index.
    pub input: usize,
    /// Input name (`indices.csv`'s `input`).
    pub name: String,
    /// The ranking measure: ST (Sobol') or μ* (Morris).
    pub main: f64,
    /// Half-width of the main measure's 95 % interval (Sobol': ST_conf).
    pub main_conf: Option<f64>,
    /// The second measure: S1 (Sobol') or σ (Morris).
    pub second: f64,
    /// Half-width of its 95 % interval (Sobol': S1_conf).
    pub second_conf: Option<f64>,
}

/// One output's panel.
#[derive(Clone, Debug, PartialEq)]
pub struct TornadoPanel {
    /// Output index.
    pub output: usize,
    /// Output name (`indices.csv`'s `output`).
    pub name: String,
    /// Display title (with the unit for Morris).
    pub title: String,
    /// The leading inputs, largest main measure first (at most [`TOP`], none with 0).
    pub bars: Vec<TornadoBar>,
    /// Inputs not drawn.
    pub rest: usize,
    /// The largest main measure among them.
    pub rest_max: f64,
}

/// The data of one `tornado_<town>.png`.
#[derive(Clone, Debug, PartialEq)]
pub struct Tornado {
    /// Area index (towns, then all).
    pub area: usize,
    /// Town id or `all` (the file name's `<town>`).
    pub id: String,
    /// Display name.
    pub name: String,
    /// The method.
    pub method: Method,
    /// Inputs analysed.
    pub inputs: usize,
    /// One panel per output of [`tornado_outputs`].
    pub panels: Vec<TornadoPanel>,
}

fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

/// The title of an output's panel.
fn output_title(s: &Scenario, name: &str, method: Method, lang: Lang) -> String {
    let end = s.settings.end_year;
    let res = |id: &str| s.resource_index(id).map(|r| &s.resources[r]);
    let unit = |u: &str| match method {
        Method::Sobol => String::new(),
        Method::Morris => match lang {
            Lang::En => format!(" ({u})"),
            Lang::Zh => format!("（{u}）"),
        },
    };
    if name == "population_end" {
        return match lang {
            Lang::En => format!("Population at the end of {end}{}", unit("residents")),
            Lang::Zh => format!("{end}年末常住人口{}", unit("人")),
        };
    }
    if let Some(r) = name.strip_prefix("gap_end:").and_then(res) {
        let u = r.unit.get(lang.code());
        return match lang {
            Lang::En => format!("{}: shortfall at the end of {end}{}", r.name.en, unit(u)),
            Lang::Zh => format!("{}：{end}年末缺口{}", r.name.get("zh"), unit(u)),
        };
    }
    if let Some(r) = name.strip_prefix("first_year:").and_then(res) {
        let none = end + 1;
        return match (lang, method) {
            (Lang::En, Method::Sobol) => format!("{}: first shortfall year ({none} if none)", r.name.en),
            (Lang::En, Method::Morris) => format!("{}: first shortfall year, in years ({none} if none)", r.name.en),
            (Lang::Zh, Method::Sobol) => format!("{}：首次短缺年份（无短缺计为{none}年）", r.name.get("zh")),
            (Lang::Zh, Method::Morris) => format!("{}：首次短缺年份（年；无短缺计为{none}年）", r.name.get("zh")),
        };
    }
    name.to_string()
}

/// The data of every `tornado_<town>.png`: every town, then all.
pub fn data(an: &Analysis, s: &Scenario, lang: Lang) -> Vec<Tornado> {
    let mut areas: Vec<(usize, String)> = Vec::new();
    for o in &an.outputs {
        if !areas.iter().any(|a| a.0 == o.area) {
            areas.push((o.area, o.town.clone()));
        }
    }
    areas
        .into_iter()
        .map(|(area, id)| {
            let panels = tornado_outputs(an, area)
                .into_iter()
                .map(|o| {
                    let ranked = an.ranked(o);
                    // Inputs whose measure prints as 0 are left to the line under the bars.
                    let shown: Vec<usize> =
                        ranked.iter().copied().filter(|&i| shows(an.method, an.rank_value(o, i))).take(TOP).collect();
                    let bars = shown
                        .iter()
                        .map(|&i| {
                            let (main, main_conf, second, second_conf) = match an.index(o, i) {
                                Index::Sobol(Some(x)) => (x.st, finite(x.st_conf), x.s1, finite(x.s1_conf)),
                                Index::Sobol(None) => (f64::NAN, None, f64::NAN, None),
                                Index::Morris(m) => (m.mu_star, None, m.sigma, None),
                            };
                            TornadoBar {
                                input: i,
                                name: an.inputs[i].name.clone(),
                                main,
                                main_conf,
                                second,
                                second_conf,
                            }
                        })
                        .collect();
                    let rest_max = ranked
                        .iter()
                        .filter(|i| !shown.contains(i))
                        .map(|&i| an.rank_value(o, i))
                        .filter(|v| v.is_finite())
                        .fold(0.0, f64::max);
                    TornadoPanel {
                        output: o,
                        name: an.outputs[o].name.clone(),
                        title: output_title(s, &an.outputs[o].name, an.method, lang),
                        bars,
                        rest: an.inputs.len() - shown.len(),
                        rest_max,
                    }
                })
                .collect();
            Tornado { area, name: area_name(s, &id, lang), id, method: an.method, inputs: an.inputs.len(), panels }
        })
        .collect()
}

/// The footnote of every tornado.
pub fn footnote(s: &Scenario, settings: &Settings, inputs: usize, runs: usize, lang: Lang) -> String {
    let g = |v: usize| grouped(v as f64, 0);
    let ver = env!("CARGO_PKG_VERSION");
    match (settings.method, lang) {
        (Method::Sobol, Lang::En) => format!(
            "Scenario: {} · capsim sensitivity, Sobol' (Saltelli design; Saltelli 2010 / Jansen estimators): N = {}, {} \
             inputs, {} model runs, seed {}; 95 % intervals from {} bootstrap resamples · capsim {ver} · values in indices.csv",
            s.name.en,
            g(settings.samples),
            g(inputs),
            g(runs),
            settings.seed,
            g(settings.resamples)
        ),
        (Method::Sobol, Lang::Zh) => format!(
            "情景：{} · capsim sensitivity，Sobol' 方法（Saltelli 设计，Saltelli 2010 / Jansen 估计量）：N = {}，{} 个输入，模型运行 {} 次，\
             随机种子 {}；95% 区间来自 {} 次自助重抽样 · capsim {ver} · 数值见 indices.csv",
            s.name.get("zh"),
            g(settings.samples),
            g(inputs),
            g(runs),
            settings.seed,
            g(settings.resamples)
        ),
        (Method::Morris, Lang::En) => format!(
            "Scenario: {} · capsim sensitivity, Morris elementary effects: r = {} trajectories, {} levels over each \
             input's 1–99 % range, {} inputs, {} model runs, seed {} · capsim {ver} · values in indices.csv",
            s.name.en,
            g(settings.samples),
            settings.levels,
            g(inputs),
            g(runs),
            settings.seed
        ),
        (Method::Morris, Lang::Zh) => format!(
            "情景：{} · capsim sensitivity，Morris 基本效应法：{} 条轨迹，每个输入在其 1–99% 分位区间取 {} 个水平，{} 个输入，模型运行 {} 次，\
             随机种子 {} · capsim {ver} · 数值见 indices.csv",
            s.name.get("zh"),
            g(settings.samples),
            settings.levels,
            g(inputs),
            g(runs),
            settings.seed
        ),
    }
}

/// Every `tornado_<town>.png` (every town, then `all`), drawn in parallel (the bytes do not
/// depend on the thread count).
pub fn files(
    an: &Analysis,
    s: &Scenario,
    settings: &Settings,
    runs: usize,
    opts: &ChartOptions,
) -> Result<Vec<OutFile>> {
    let note = footnote(s, settings, an.inputs.len(), runs, opts.lang);
    data(an, s, opts.lang)
        .into_par_iter()
        .map(|t| draw(&t, opts, &note).map(|png| (format!("tornado_{}.png", t.id), png)))
        .collect()
}

/// Draws one chart as PNG.
pub fn draw(t: &Tornado, opts: &ChartOptions, note: &str) -> Result<Vec<u8>> {
    let (c, title) = render(t, opts, note)?;
    c.png(&title)
}

/// Whether a measure prints as more than 0 (and is drawn as a bar).
fn shows(method: Method, v: f64) -> bool {
    v > 0.0 && value_text(method, v).chars().any(|c| c.is_ascii_digit() && c != '0')
}

/// A value of the main measure as printed at the end of its row.
fn value_text(method: Method, v: f64) -> String {
    match method {
        Method::Sobol => fixed(v, 2),
        Method::Morris => amount(v),
    }
}

/// Narrowest panel: room for an input path, the bars and the value.
const PANEL_MIN: f64 = 640.0;
/// Space between panel columns.
const COL_GAP: f64 = 44.0;
/// Row height per input: smallest (14 px text and two bars) and largest.
const ROW: (f64, f64) = (24.0, 34.0);

/// Draws one chart; returns the canvas (for layout tests) and the title.
pub fn render(t: &Tornado, opts: &ChartOptions, note: &str) -> Result<(Canvas, String)> {
    let lang = opts.lang;
    let w = opts.width;
    let sobol = t.method == Method::Sobol;
    let title = match (t.method, lang) {
        (Method::Sobol, Lang::En) => format!("{}: which inputs drive the results? Sobol' total index ST", t.name),
        (Method::Sobol, Lang::Zh) => format!("{}：哪些输入驱动结果？Sobol' 总指数 ST", t.name),
        (Method::Morris, Lang::En) => format!("{}: which inputs drive the results? Morris screening, μ*", t.name),
        (Method::Morris, Lang::Zh) => format!("{}：哪些输入驱动结果？Morris 筛选 μ*", t.name),
    };
    let subtitle = match (t.method, lang) {
        (Method::Sobol, Lang::En) => format!(
            "For each output, the inputs with the largest total index ST (at most {TOP} of {}) — the share of the output's \
             variance the input explains alone and through interactions — with its 95 % bootstrap interval, and the \
             first-order index S1 (alone). Estimates are not clipped: below 0 or above 1 is sampling noise within the \
             interval. Inputs are scenario paths, keys shared by several paths (key:…) and groups of yearly shocks \
             (shocks:…).",
            t.inputs
        ),
        (Method::Sobol, Lang::Zh) => format!(
            "每项输出中总指数 ST 最大的输入（至多 {TOP} 个，共 {} 个）：ST 为该输入单独及通过交互作用解释的输出方差份额，线段为其 95% 自助区间；\
             S1 为一阶指数（单独解释的份额）。估计值未截断：低于 0 或高于 1 属于区间内的抽样误差。输入为情景路径、多个路径共用的键（key:…）\
             以及逐年冲击组（shocks:…）。",
            t.inputs
        ),
        (Method::Morris, Lang::En) => format!(
            "For each output, the inputs with the largest μ* (at most {TOP} of {}) — the mean absolute change of the output when \
             the input moves across its 1–99 % range (elementary effects) — and σ, their standard deviation (large σ: \
             the effect is non-linear or depends on other inputs). In the output's unit, given in each panel's title.",
            t.inputs
        ),
        (Method::Morris, Lang::Zh) => format!(
            "每项输出中 μ* 最大的输入（至多 {TOP} 个，共 {} 个）：μ* 为输入在其 1–99% 分位区间内变动时输出变化的平均绝对值（基本效应），\
             σ 为其标准差（σ 大：效应非线性或依赖其他输入）。单位为各分图标题中的输出单位。",
            t.inputs
        ),
    };
    let entries: Vec<(Key, String)> = if sobol {
        vec![
            (
                Key::Bar(palette::BLUE, 12.0),
                lang.t("Total index ST (ranks the inputs)", "总指数 ST（排序依据）").into(),
            ),
            (Key::Bar(palette::ORANGE, 8.0), lang.t("First-order index S1", "一阶指数 S1").into()),
            (Key::Whisker(palette::BLACK), lang.t("95 % bootstrap interval", "95% 自助区间").into()),
        ]
    } else {
        vec![
            (
                Key::Bar(palette::BLUE, 12.0),
                lang.t(
                    "μ*: mean absolute elementary effect (ranks the inputs)",
                    "μ*：基本效应绝对值的均值（排序依据）",
                )
                .into(),
            ),
            (
                Key::Bar(palette::ORANGE, 8.0),
                lang.t("σ: standard deviation of the elementary effects", "σ：基本效应的标准差").into(),
            ),
        ]
    };
    let x_title = if sobol {
        lang.t(
            "Sobol' index: share of the output's variance (0 = no effect, 1 = all of it)",
            "Sobol' 指数：占输出方差的份额（0 = 无影响，1 = 全部）",
        )
    } else {
        lang.t(
            "Elementary effect of moving an input across its 1–99 % range, in the output's unit",
            "输入在其 1–99% 分位区间内变动的基本效应，单位同输出",
        )
    };
    let right = f64::from(w) - frame::MARGIN;
    let total_w = right - frame::MARGIN;
    let n = t.panels.len();
    let cols = (((total_w + COL_GAP) / (PANEL_MIN + COL_GAP)).floor() as usize).clamp(1, n.max(1));
    let rows = n.div_ceil(cols).max(1);
    let pw = (total_w - COL_GAP * (cols - 1) as f64) / cols as f64;

    // Measure: header, legend and footnote, then the panels' fixed parts.
    let mut probe = Canvas::new(w, 1, &opts.font);
    let header_bottom = frame::header(&mut probe, &title, &subtitle);
    let legend_bottom = frame::legend(&mut probe, &entries, frame::MARGIN, right, header_bottom);
    let foot = frame::footnote_lines(&probe, note);
    let x_title_h = line_height(size::AXIS_TITLE) + 10.0;
    let panel_head = line_height(size::PANEL) + 10.0;
    let axis_h = 8.0 + line_height(size::SMALL) + 4.0;
    let panel_gap = 22.0;
    // Each row of panels is as tall as its fullest panel: its inputs, and the line about
    // those left out.
    let slots: Vec<usize> = (0..rows)
        .map(|row| {
            t.panels[row * cols..((row + 1) * cols).min(n)]
                .iter()
                .map(|p| p.bars.len() + usize::from(p.rest > 0))
                .max()
                .unwrap_or(1)
                .max(1)
        })
        .collect();
    let total_slots = slots.iter().sum::<usize>().max(1) as f64;
    let fixed_h = legend_bottom + 6.0 + x_title_h + frame::footnote_height(&foot) + 8.0;
    let per_panel_fixed = panel_head + axis_h + panel_gap;
    let avail = f64::from(opts.height) - fixed_h - rows as f64 * per_panel_fixed;
    let rh = (avail / total_slots).clamp(ROW.0, ROW.1);
    let row_tops: Vec<f64> = slots
        .iter()
        .scan(0.0, |acc, &k| {
            let top = *acc;
            *acc += per_panel_fixed + k as f64 * rh;
            Some(top)
        })
        .collect();
    let grid_h = rows as f64 * per_panel_fixed + total_slots * rh;
    let h = (fixed_h + grid_h).ceil().max(f64::from(opts.height)) as u32;
    check_size(w, h)?;

    let mut c = Canvas::new(w, h, &opts.font);
    let y = frame::header(&mut c, &title, &subtitle);
    let y = frame::legend(&mut c, &entries, frame::MARGIN, right, y) + 6.0;
    if n == 0 {
        let msg = lang.t(
            "No output of this area varies with the inputs: there is nothing to rank.",
            "该地区没有任何输出随输入变化：无可排序的输入。",
        );
        c.text(frame::MARGIN, y + 20.0, msg, size::PANEL, palette::TEXT, (HAlign::Left, VAlign::Top));
        frame::footnote(&mut c, &foot);
        return Ok((c, title));
    }

    // Shared columns: the input labels and the values at the row ends.
    let label_need =
        t.panels.iter().flat_map(|p| &p.bars).map(|b| c.text_width(&b.name, size::SMALL)).fold(0.0, f64::max) + 12.0;
    let label_w = label_need.min(pw * 0.48);
    let value_w = t
        .panels
        .iter()
        .flat_map(|p| &p.bars)
        .map(|b| c.text_width(&value_text(t.method, b.main), size::SMALL))
        .fold(c.text_width("0.00", size::SMALL), f64::max)
        + 12.0;
    // Sobol': one scale for every panel, from 0 (or below, for a negative estimate) to 1 (or
    // beyond, for an interval that reaches past it).
    let extent = |p: &TornadoPanel| {
        let mut lo: f64 = 0.0;
        let mut hi: f64 = 0.0;
        for b in &p.bars {
            for (v, cf) in [(b.main, b.main_conf), (b.second, b.second_conf)] {
                if v.is_finite() {
                    let cf = cf.unwrap_or(0.0);
                    lo = lo.min(v - cf);
                    hi = hi.max(v + cf);
                }
            }
        }
        (lo, hi)
    };
    let sobol_range = t.panels.iter().map(extent).fold((0.0f64, 1.0f64), |a, b| (a.0.min(b.0), a.1.max(b.1)));

    let grid_top = y;
    for (k, panel) in t.panels.iter().enumerate() {
        let (col, row) = (k % cols, k / cols);
        let x0 = frame::MARGIN + col as f64 * (pw + COL_GAP);
        let y0 = grid_top + row_tops[row];
        let cell = Rect { x0, y0, x1: x0 + pw, y1: y0 + per_panel_fixed + slots[row] as f64 * rh - panel_gap };
        // Title, and the output's name in indices.csv at the right where it fits.
        let csv_w = c.text_width(&panel.name, size::SMALL);
        let title_w = c.text_width(&panel.title, size::PANEL);
        let ty = cell.y0 + panel_head / 2.0 - 2.0;
        if title_w + csv_w + 24.0 <= cell.w() {
            c.text(cell.x1, ty, &panel.name, size::SMALL, palette::MUTED, (HAlign::Right, VAlign::Middle));
        }
        let t_fit = frame::fit(&c, &panel.title, size::PANEL, cell.w());
        c.text(cell.x0, ty, &t_fit, size::PANEL, palette::TEXT, (HAlign::Left, VAlign::Middle));

        let bars_top = cell.y0 + panel_head;
        let r =
            Rect { x0: cell.x0 + label_w, y0: bars_top, x1: cell.x1 - value_w, y1: bars_top + slots[row] as f64 * rh };
        let (lo, hi) = if sobol {
            sobol_range
        } else {
            let (lo, hi) = extent(panel);
            (lo, if hi > 0.0 { hi * 1.04 } else { 1.0 })
        };
        let p = Plot { r, xmin: lo, xmax: hi, ymin: 0.0, ymax: 1.0 };
        let widest = if sobol || hi < 10.0 { grouped(hi, 2) } else { grouped(hi, 0) };
        let min_gap = c.text_width(&widest, size::SMALL).max(c.text_width("0.00", size::SMALL)) + 28.0;
        let (ticks, step) = frame::ticks(lo, hi, r.w(), min_gap, false);
        let dp = frame::step_decimals(step);
        let axis_y = r.y1;
        for v in &ticks {
            let x = p.x(*v);
            let col = if *v == 0.0 { palette::AXIS } else { palette::GRID };
            c.fill_rect(x - 0.5, r.y0, x + 0.5, axis_y, col, 1.0);
            c.fill_rect(x - 0.6, axis_y, x + 0.6, axis_y + 5.0, palette::AXIS, 1.0);
            c.text(x, axis_y + 7.0, &grouped(*v, dp), size::SMALL, palette::MUTED, (HAlign::Center, VAlign::Top));
        }
        c.fill_rect(r.x0, axis_y - 0.5, r.x1, axis_y + 1.0, palette::AXIS, 1.0);
        let main_h = (rh * 0.42).round();
        let second_h = (rh * 0.26).round();
        for (i, b) in panel.bars.iter().enumerate() {
            let ym = r.y0 + (i as f64 + 0.5) * rh;
            let label = frame::fit_path(&c, &b.name, size::SMALL, label_w - 12.0);
            c.text(r.x0 - 10.0, ym, &label, size::SMALL, palette::TEXT, (HAlign::Right, VAlign::Middle));
            let y_main = ym - (main_h + second_h + 2.0) / 2.0;
            let y_second = y_main + main_h + 2.0;
            let x_zero = p.x(0.0);
            for (v, cf, y0, bh, col) in [
                (b.main, b.main_conf, y_main, main_h, palette::BLUE),
                (b.second, b.second_conf, y_second, second_h, palette::ORANGE),
            ] {
                if !v.is_finite() {
                    continue;
                }
                c.fill_rect(x_zero, y0, p.x(v), y0 + bh, col, 1.0);
                if let Some(cf) = cf.filter(|cf| *cf > 0.0) {
                    let (a, z) = (p.x(v - cf), p.x(v + cf));
                    let yc = y0 + bh / 2.0;
                    let cap = (bh / 2.0 + 1.5).min(6.0);
                    c.line(&[(a, yc), (z, yc)], palette::BLACK, 1.3);
                    c.line(&[(a, yc - cap), (a, yc + cap)], palette::BLACK, 1.3);
                    c.line(&[(z, yc - cap), (z, yc + cap)], palette::BLACK, 1.3);
                }
            }
            let value = value_text(t.method, b.main);
            c.text(cell.x1, ym, &value, size::SMALL, palette::TEXT, (HAlign::Right, VAlign::Middle));
        }
        if panel.rest > 0 {
            let ym = r.y0 + (panel.bars.len() as f64 + 0.5) * rh;
            let measure = if sobol { "ST" } else { "μ*" };
            let more = match lang {
                Lang::En => format!("{} more input{}", panel.rest, if panel.rest == 1 { "" } else { "s" }),
                Lang::Zh => format!("另有 {} 个输入", panel.rest),
            };
            // "≤ the largest left out", or "< 0.01" when even that prints as 0.
            let rel = if shows(t.method, panel.rest_max) {
                format!("≤ {}", value_text(t.method, panel.rest_max))
            } else {
                "< 0.01".to_string()
            };
            let note = match (lang, panel.rest_max > 0.0) {
                (Lang::En, true) => format!("{more}, each with {measure} {rel}"),
                (Lang::En, false) => format!("{more} with no effect ({measure} = 0)"),
                (Lang::Zh, true) => format!("{more}，{measure} 均 {rel}"),
                (Lang::Zh, false) => format!("{more}无影响（{measure} = 0）"),
            };
            // In the label column, clear of the plot's grid lines.
            let note = frame::fit(&c, &note, size::SMALL, label_w - 12.0);
            c.text(r.x0 - 10.0, ym, &note, size::SMALL, palette::MUTED, (HAlign::Right, VAlign::Middle));
        }
    }
    let bottom = grid_top + grid_h;
    c.text(
        (frame::MARGIN + right) / 2.0,
        bottom + 2.0,
        x_title,
        size::AXIS_TITLE,
        palette::TEXT,
        (HAlign::Center, VAlign::Top),
    );
    frame::footnote(&mut c, &foot);
    Ok((c, title))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sensitivity::morris::MorrisIndex;
    use crate::sensitivity::sobol::SobolIndex;
    use crate::sensitivity::{Input, InputKind, Output};

    fn stress() -> Scenario {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/stress25.toml");
        crate::scenario::load(&path, &[]).unwrap()
    }

    /// An analysis of the stress fixture (five towns, 25 resources) with 40 inputs whose paths
    /// are long, and made-up indices.
    fn analysis(s: &Scenario, method: Method) -> Analysis {
        let inputs: Vec<Input> = (0..40)
            .map(|i| Input {
                name: format!("capacity.town{i}.elderly_care_floor_m2.projects.very_long_project_name_{i}.delay"),
                kind: InputKind::Variables { members: vec![i] },
            })
            .collect();
        let mut outputs = Vec::new();
        for a in 0..=s.towns.len() {
            let town = s.towns.get(a).map_or("all".to_string(), |t| t.id.clone());
            outputs.push(Output { area: a, town: town.clone(), name: "population_end".into() });
            for r in &s.resources {
                outputs.push(Output { area: a, town: town.clone(), name: format!("gap_end:{}", r.id) });
                outputs.push(Output { area: a, town: town.clone(), name: format!("first_year:{}", r.id) });
            }
        }
        let k = inputs.len();
        let indices = (0..outputs.len() * k)
            .map(|j| {
                let (o, i) = (j / k, j % k);
                // Output 1 of each area never varies: its first year stands in for it.
                let v = if o % (1 + 2 * s.resources.len()) == 1 { 0.0 } else { ((o * 13 + i * 7) % 17) as f64 / 40.0 };
                match method {
                    Method::Sobol => {
                        Index::Sobol(Some(SobolIndex { s1: v * 0.7 - 0.02, s1_conf: 0.05, st: v, st_conf: 0.08 }))
                    }
                    Method::Morris => Index::Morris(MorrisIndex { mu_star: v * 12345.0, sigma: v * 5000.0, mu: 0.0 }),
                }
            })
            .collect();
        Analysis { method, inputs, outputs, indices, design: vec![], y: vec![], quasi_random: true }
    }

    #[test]
    fn tornado_shows_the_outputs_that_vary() {
        let s = stress();
        let an = analysis(&s, Method::Sobol);
        let outs = tornado_outputs(&an, 0);
        // population_end, then per resource the gap (or, for the first resource, the first year).
        assert_eq!(outs.len(), 1 + s.resources.len());
        assert_eq!(an.outputs[outs[1]].name, format!("first_year:{}", s.resources[0].id));
        assert_eq!(an.outputs[outs[2]].name, format!("gap_end:{}", s.resources[1].id));
    }

    #[test]
    fn bars_are_the_indices_largest_first() {
        let s = stress();
        for method in [Method::Sobol, Method::Morris] {
            let an = analysis(&s, method);
            let ts = data(&an, &s, Lang::En);
            assert_eq!(ts.len(), s.towns.len() + 1);
            for t in &ts {
                for p in &t.panels {
                    assert!(p.bars.len() <= TOP && p.bars.len() + p.rest == an.inputs.len());
                    for w in p.bars.windows(2) {
                        assert!(w[0].main >= w[1].main);
                    }
                    for b in &p.bars {
                        assert_eq!(b.main, an.rank_value(p.output, b.input));
                        assert!(shows(method, b.main));
                        if let Index::Sobol(Some(x)) = an.index(p.output, b.input) {
                            assert_eq!(
                                (b.second, b.main_conf, b.second_conf),
                                (x.s1, Some(x.st_conf), Some(x.s1_conf))
                            );
                        }
                    }
                    let least = p.bars.last().map_or(f64::INFINITY, |b| b.main);
                    assert!(p.rest_max <= least);
                }
            }
        }
        assert!(!shows(Method::Sobol, 0.004) && shows(Method::Sobol, 0.006) && !shows(Method::Morris, 0.0));
    }

    #[test]
    fn nothing_overlaps_or_is_clipped_with_five_towns_and_25_resources() {
        let s = stress();
        let settings = Settings { method: Method::Sobol, samples: 64, levels: 4, seed: 1, threads: 1, resamples: 500 };
        for (method, lang, size) in [
            (Method::Sobol, Lang::En, (1600, 1000)),
            (Method::Morris, Lang::Zh, (1600, 1000)),
            (Method::Sobol, Lang::Zh, (960, 600)),
            (Method::Morris, Lang::En, (2400, 1200)),
        ] {
            let an = analysis(&s, method);
            let opts = ChartOptions { lang, width: size.0, height: size.1, ..ChartOptions::default() };
            let note = footnote(&s, &Settings { method, ..settings }, an.inputs.len(), 2624, lang);
            for t in data(&an, &s, lang).iter().take(2) {
                let (c, _) = render(t, &opts, &note).unwrap();
                assert_eq!(c.width, size.0);
                assert!(c.height >= size.1);
                let problems = c.text_problems(0.5);
                assert!(problems.is_empty(), "{} {method:?} {lang:?} {size:?}:\n{}", t.id, problems.join("\n"));
                assert!(c.missing.is_empty(), "{:?}", c.missing);
            }
        }
    }

    #[test]
    fn an_area_without_varying_outputs_still_draws() {
        let t = Tornado { area: 0, id: "t".into(), name: "T".into(), method: Method::Sobol, inputs: 3, panels: vec![] };
        let (c, _) = render(&t, &ChartOptions::default(), "note").unwrap();
        assert_eq!((c.width, c.height), (1600, 1000));
    }
}
