//! Charts of sweeps and sensitivity analyses (PNG, plotters' bitmap backend):
//! `sweep_<resource>.png` — for one swept path, the first year P(shortfall) reaches the risk
//! level and P(shortfall by the end year) against the swept value, one line per town (black:
//! all towns); for a grid of two paths, a heatmap of P(shortfall by end) per town, annotated
//! with the first year at risk — and `tornado_<town>.png`, the inputs ranked by total index
//! (Sobol') or μ* (Morris) for the key outputs.
//!
//! Text needs a font: plotters' `ab_glyph` backend draws only fonts registered at run time. The
//! embedded chart font of `report::charts` (Latin and CJK glyphs) is registered unless
//! `--font` names another. The numbers behind every chart are in `sweep.csv` / `indices.csv`.

use std::error::Error as StdError;
use std::sync::atomic::{AtomicBool, Ordering};

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::scenario::dist::fmt_g;
use crate::sensitivity::sweep::{SweepResult, show};
use crate::sensitivity::{Analysis, Index, Method};

type DrawResult = Result<(), Box<dyn StdError>>;

/// The family every chart's text uses (also the default of plotters' axis labels).
const FAMILY: &str = "sans-serif";

static FONT_READY: AtomicBool = AtomicBool::new(false);

/// The font built into capsim: the embedded chart font (Latin and CJK glyphs).
pub fn builtin_font() -> Option<&'static [u8]> {
    Some(crate::report::charts::canvas::EMBEDDED_FONT)
}

/// Registers font bytes (TTF/OTF; face 0 of a collection) for every chart's text.
pub fn register_font(bytes: Vec<u8>) -> Result<(), String> {
    let leaked: &'static [u8] = Box::leak(bytes.into_boxed_slice());
    plotters::style::register_font(FAMILY, FontStyle::Normal, leaked)
        .map_err(|_| "not a TrueType or OpenType font".to_string())?;
    FONT_READY.store(true, Ordering::SeqCst);
    Ok(())
}

/// Makes text available if it can be: the font file given, else the built-in font. Returns
/// whether charts can carry text.
pub fn prepare_font(file: Option<&std::path::Path>) -> Result<bool, String> {
    if let Some(path) = file {
        let bytes = crate::scenario::tree::read_bytes_limited(path, super::charts::MAX_FONT_BYTES)
            .map_err(|e| format!("--font: {e}"))?;
        register_font(bytes).map_err(|e| format!("font {}: {e}", path.display()))?;
    } else if !FONT_READY.load(Ordering::SeqCst)
        && let Some(b) = builtin_font()
    {
        plotters::style::register_font(FAMILY, FontStyle::Normal, b)
            .map_err(|_| "the built-in font is not usable".to_string())?;
        FONT_READY.store(true, Ordering::SeqCst);
    }
    Ok(FONT_READY.load(Ordering::SeqCst))
}

/// Town colours (a colour-blind-safe qualitative palette); "all" is black.
const PALETTE: [RGBColor; 8] = [
    RGBColor(0, 114, 178),
    RGBColor(230, 159, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(86, 180, 233),
    RGBColor(213, 94, 0),
    RGBColor(240, 228, 66),
    RGBColor(120, 120, 120),
];

fn area_colour(area: usize, areas: usize) -> RGBColor {
    if area + 1 == areas { BLACK } else { PALETTE[area % PALETTE.len()] }
}

/// Renders into an RGB buffer and encodes it as PNG.
fn render(
    w: u32,
    h: u32,
    draw: impl FnOnce(DrawingArea<BitMapBackend, plotters::coord::Shift>) -> DrawResult,
) -> Result<Vec<u8>, String> {
    let mut buf = vec![0u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        draw(root.clone()).map_err(|e| format!("cannot draw the chart: {e}"))?;
        root.present().map_err(|e| e.to_string())?;
    }
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut wr = enc.write_header().map_err(|e| e.to_string())?;
        wr.write_image_data(&buf).map_err(|e| e.to_string())?;
        wr.finish().map_err(|e| e.to_string())?;
    }
    Ok(out)
}

fn style(size: f64) -> TextStyle<'static> {
    TextStyle::from((FAMILY, size).into_font())
}

/// A padded range around values (a single value gets ±1, or ±10 % of its size).
fn padded(lo: f64, hi: f64) -> (f64, f64) {
    if hi > lo {
        let pad = 0.05 * (hi - lo);
        (lo - pad, hi + pad)
    } else {
        let pad = (0.1 * lo.abs()).max(1.0);
        (lo - pad, hi + pad)
    }
}

/// Height of the title band of a grid chart.
const GRID_TITLE: i32 = 56;

/// `sweep_<resource>.png` for resource `r`: lines for one swept path, heatmaps for a grid.
pub fn sweep_png(result: &SweepResult, r: usize, text: bool) -> Result<Vec<u8>, String> {
    if result.params.len() == 2 {
        let areas = result.areas.len();
        let cols = (areas as f64).sqrt().ceil() as usize;
        let rows = areas.div_ceil(cols);
        render(420 * cols as u32, GRID_TITLE as u32 + 400 * rows as u32, |root| {
            sweep_grid(root, result, r, text, (rows, cols))
        })
    } else {
        render(1400, 560, |root| sweep_lines(root, result, r, text))
    }
}

fn sweep_lines(
    root: DrawingArea<BitMapBackend, plotters::coord::Shift>,
    res: &SweepResult,
    r: usize,
    text: bool,
) -> DrawResult {
    let path = &res.params[0].path;
    let body = if text {
        let (title, body) = root.split_vertically(40);
        title.draw(&Text::new(
            format!("{}: sweep of {path} (seed {}, {} draws per point)", res.resources[r], res.seed, res.draws),
            (20, 12),
            style(20.0),
        ))?;
        body
    } else {
        root
    };
    let (left, right) = body.split_horizontally(700);
    let xs: Vec<f64> = res.points.iter().map(|p| p.values[0]).collect();
    let (x0, x1) =
        padded(xs.iter().copied().fold(f64::INFINITY, f64::min), xs.iter().copied().fold(f64::NEG_INFINITY, f64::max));
    let t0 = res.points.iter().map(|p| p.base_year).min().unwrap_or(0);
    let end = res.points.iter().map(|p| p.end_year).max().unwrap_or(t0);
    let areas = res.areas.len();
    let label_px = if text { 50 } else { 8 };

    // Left: the first year the shortfall risk reaches the risk level ("none" above the end).
    let mut years = ChartBuilder::on(&left)
        .margin(15)
        .x_label_area_size(label_px)
        .y_label_area_size(label_px + 10)
        .build_cartesian_2d(x0..x1, t0..end + 2)?;
    let risk = res.points.first().map_or(0.0, |p| p.risk);
    if text {
        years
            .configure_mesh()
            .x_desc(path.as_str())
            .x_label_formatter(&|x| fmt_g(*x))
            .y_desc(format!("first year P(shortfall) ≥ {risk}"))
            .y_label_formatter(&|y| if *y > end { "none".into() } else { y.to_string() })
            .label_style(style(13.0))
            .draw()?;
    } else {
        years.plotting_area().draw(&Rectangle::new([(x0, t0), (x1, end + 2)], BLACK.stroke_width(1)))?;
    }
    for a in 0..areas {
        let colour = area_colour(a, areas);
        let pts: Vec<(f64, i32)> = res
            .points
            .iter()
            .map(|p| (p.values[0], p.cells[a * res.resources.len() + r].first_year_risk.unwrap_or(p.end_year + 1)))
            .collect();
        years.draw_series(LineSeries::new(pts.clone(), colour.stroke_width(if a + 1 == areas { 3 } else { 2 })))?;
        years.draw_series(pts.iter().map(|&p| Circle::new(p, 4, colour.filled())))?;
    }

    // Right: P(shortfall by the end year).
    let mut prob = ChartBuilder::on(&right)
        .margin(15)
        .x_label_area_size(label_px)
        .y_label_area_size(label_px)
        .build_cartesian_2d(x0..x1, 0.0..1.0)?;
    if text {
        prob.configure_mesh()
            .x_desc(path.as_str())
            .x_label_formatter(&|x| fmt_g(*x))
            .y_desc(format!("P(shortfall by {end})"))
            .label_style(style(13.0))
            .draw()?;
    } else {
        prob.plotting_area().draw(&Rectangle::new([(x0, 0.0), (x1, 1.0)], BLACK.stroke_width(1)))?;
    }
    for a in 0..areas {
        let colour = area_colour(a, areas);
        let pts: Vec<(f64, f64)> =
            res.points.iter().map(|p| (p.values[0], p.cells[a * res.resources.len() + r].prob_by_end)).collect();
        let series =
            prob.draw_series(LineSeries::new(pts.clone(), colour.stroke_width(if a + 1 == areas { 3 } else { 2 })))?;
        if text {
            series
                .label(res.areas[a].as_str())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(3)));
        }
        prob.draw_series(pts.iter().map(|&p| Circle::new(p, 4, colour.filled())))?;
    }
    if text {
        prob.configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font(style(13.0))
            .draw()?;
    }
    Ok(())
}

/// White → red for a probability in [0, 1].
fn heat(p: f64) -> RGBColor {
    let p = p.clamp(0.0, 1.0);
    let mix = |a: f64, b: f64| (a + (b - a) * p).round() as u8;
    RGBColor(mix(255.0, 178.0), mix(255.0, 24.0), mix(255.0, 43.0))
}

fn sweep_grid(
    root: DrawingArea<BitMapBackend, plotters::coord::Shift>,
    res: &SweepResult,
    r: usize,
    text: bool,
    layout: (usize, usize),
) -> DrawResult {
    let (p1, p2) = (&res.params[0], &res.params[1]);
    let (n1, n2) = (p1.values.len(), p2.values.len());
    let (title, body) = root.split_vertically(GRID_TITLE);
    if text {
        let risk = res.points.first().map_or(0.0, |p| p.risk);
        title.draw(&Text::new(
            format!("{}: P(shortfall by end) (colour, lower number); first year P ≥ {risk} (upper)", res.resources[r]),
            (20, 10),
            style(16.0),
        ))?;
        title.draw(&Text::new(format!("x: {}    y: {}", p1.path, p2.path), (20, 32), style(13.0)))?;
    }
    let panels = body.split_evenly(layout);
    for (a, panel) in panels.iter().enumerate().take(res.areas.len()) {
        let margin_left = if text { 80 } else { 10 };
        let mut chart = ChartBuilder::on(panel)
            .margin(10)
            .margin_left(margin_left)
            .margin_bottom(if text { 40 } else { 10 })
            .margin_top(if text { 30 } else { 10 })
            .build_cartesian_2d(0.0..n1 as f64, 0.0..n2 as f64)?;
        for i in 0..n1 {
            for j in 0..n2 {
                let cell = res.cell(i * n2 + j, a, r);
                let rect = [(i as f64, j as f64), (i as f64 + 1.0, j as f64 + 1.0)];
                chart.draw_series(std::iter::once(Rectangle::new(rect, heat(cell.prob_by_end).filled())))?;
                chart.draw_series(std::iter::once(Rectangle::new(rect, RGBColor(220, 220, 220).stroke_width(1))))?;
                if text {
                    let year = cell.first_year_risk.map_or_else(|| "–".to_string(), |y| y.to_string());
                    let (cx, cy) = chart.backend_coord(&(i as f64 + 0.5, j as f64 + 0.5));
                    let colour = if cell.prob_by_end > 0.6 { WHITE } else { BLACK };
                    let centred = style(12.0).color(&colour).pos(Pos::new(HPos::Center, VPos::Center));
                    root.draw(&Text::new(year, (cx, cy - 8), centred.clone()))?;
                    root.draw(&Text::new(format!("{:.2}", cell.prob_by_end), (cx, cy + 8), centred))?;
                }
            }
        }
        chart.plotting_area().draw(&Rectangle::new([(0.0, 0.0), (n1 as f64, n2 as f64)], BLACK.stroke_width(1)))?;
        if text {
            let (tx, ty) = chart.backend_coord(&(0.0, n2 as f64));
            root.draw(&Text::new(res.areas[a].clone(), (tx, ty - 22), style(16.0)))?;
            for (i, v) in p1.values.iter().enumerate() {
                let (x, y) = chart.backend_coord(&(i as f64 + 0.5, 0.0));
                root.draw(&Text::new(show(*v), (x, y + 6), style(11.0).pos(Pos::new(HPos::Center, VPos::Top))))?;
            }
            for (j, v) in p2.values.iter().enumerate() {
                let (x, y) = chart.backend_coord(&(0.0, j as f64 + 0.5));
                root.draw(&Text::new(show(*v), (x - 6, y), style(11.0).pos(Pos::new(HPos::Right, VPos::Center))))?;
            }
        }
    }
    Ok(())
}

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

/// Bars per tornado panel.
const TOP: usize = 8;

/// `tornado_<town>.png` for an area (`towns.len()` = all).
pub fn tornado_png(analysis: &Analysis, area: usize, text: bool) -> Result<Vec<u8>, String> {
    let outs = tornado_outputs(analysis, area);
    let cols = 2;
    let rows = outs.len().div_ceil(cols).max(1);
    render(1500, 50 + 330 * rows as u32, |root| tornado(root, analysis, area, &outs, text, (rows, cols)))
}

fn short_label(s: &str, max: usize) -> String {
    let n = s.chars().count();
    if n <= max { s.to_string() } else { format!("…{}", s.chars().skip(n - (max - 1)).collect::<String>()) }
}

fn tornado(
    root: DrawingArea<BitMapBackend, plotters::coord::Shift>,
    an: &Analysis,
    area: usize,
    outs: &[usize],
    text: bool,
    layout: (usize, usize),
) -> DrawResult {
    let (title, body) = root.split_vertically(50);
    let town = an.outputs.iter().find(|o| o.area == area).map_or("", |o| o.town.as_str());
    if text {
        let what = match an.method {
            Method::Sobol => "total index ST (bar, with its 95 % interval) and first-order S1 (dark inner bar)",
            Method::Morris => "μ* (bar) and σ (dot), in output units per whole input range",
        };
        title.draw(&Text::new(format!("{town}: inputs ranked by {what}"), (20, 15), style(18.0)))?;
    }
    let panels = body.split_evenly(layout);
    let light = RGBColor(140, 180, 220);
    let dark = RGBColor(0, 70, 140);
    for (panel, &o) in panels.iter().zip(outs) {
        let ranked: Vec<usize> = an.ranked(o).into_iter().take(TOP).collect();
        let n = ranked.len();
        let bars: Vec<(f64, f64, f64)> = ranked
            .iter()
            .map(|&i| match an.index(o, i) {
                Index::Sobol(Some(s)) => (s.st, s.s1, if s.st_conf.is_finite() { s.st_conf } else { 0.0 }),
                Index::Sobol(None) => (0.0, 0.0, 0.0),
                Index::Morris(m) => (m.mu_star, m.sigma, 0.0),
            })
            .collect();
        let (lo, hi) = match an.method {
            Method::Sobol => (
                bars.iter().map(|b| b.1.min(b.0 - b.2)).fold(0.0, f64::min),
                bars.iter().map(|b| b.0 + b.2).fold(1.0, f64::max),
            ),
            Method::Morris => {
                (0.0, bars.iter().map(|b| b.0.max(b.1)).fold(0.0, f64::max).max(f64::MIN_POSITIVE) * 1.05)
            }
        };
        let mut chart = ChartBuilder::on(panel)
            .margin(10)
            .margin_left(if text { 270 } else { 10 })
            .margin_top(if text { 28 } else { 10 })
            .x_label_area_size(if text { 25 } else { 0 })
            .build_cartesian_2d(lo..hi, 0.0..n.max(1) as f64)?;
        if text {
            chart
                .configure_mesh()
                .disable_y_mesh()
                .y_labels(0)
                .x_label_formatter(&|x| fmt_g(*x))
                .label_style(style(12.0))
                .draw()?;
            let (tx, ty) = chart.backend_coord(&(lo, n.max(1) as f64));
            root.draw(&Text::new(an.outputs[o].name.clone(), (tx, ty - 22), style(15.0)))?;
        } else {
            chart.plotting_area().draw(&Rectangle::new([(lo, 0.0), (hi, n.max(1) as f64)], BLACK.stroke_width(1)))?;
        }
        for (rank, (&i, &(main, second, conf))) in ranked.iter().zip(&bars).enumerate() {
            let y = (n - rank) as f64 - 0.5;
            chart.draw_series(std::iter::once(Rectangle::new([(0.0, y - 0.35), (main, y + 0.35)], light.filled())))?;
            match an.method {
                Method::Sobol => {
                    chart.draw_series(std::iter::once(Rectangle::new(
                        [(0.0, y - 0.15), (second, y + 0.15)],
                        dark.filled(),
                    )))?;
                    chart.draw_series(std::iter::once(PathElement::new(
                        vec![(main - conf, y), (main + conf, y)],
                        BLACK.stroke_width(1),
                    )))?;
                }
                Method::Morris => {
                    chart.draw_series(std::iter::once(Circle::new((second, y), 5, dark.filled())))?;
                }
            }
            if text {
                let (x, py) = chart.backend_coord(&(lo, y));
                root.draw(&Text::new(
                    short_label(&an.inputs[i].name, 40),
                    (x - 8, py),
                    style(12.0).pos(Pos::new(HPos::Right, VPos::Center)),
                ))?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::paths::{Address, Target};
    use crate::sensitivity::sobol::SobolIndex;
    use crate::sensitivity::sweep::{Cell, Param, PointResult};
    use crate::sensitivity::{Input, InputKind, Output};

    fn cell(p: f64, year: Option<i32>) -> Cell {
        Cell { first_year_risk: year, prob_by_end: p, gap_mean: 0.0, population_p50: 1.0 }
    }

    fn sweep(two: bool) -> SweepResult {
        let address = Address { path: "x".into(), target: Target::Number };
        let mut params =
            vec![Param { path: "towns.a.migration.k".into(), address: address.clone(), values: vec![1.0, 2.0] }];
        if two {
            params.push(Param { path: "settings.risk".into(), address, values: vec![0.1, 0.5, 0.9] });
        }
        let n = if two { 6 } else { 2 };
        let points = (0..n)
            .map(|i| PointResult {
                values: if two { vec![1.0 + (i / 3) as f64, [0.1, 0.5, 0.9][i % 3]] } else { vec![1.0 + i as f64] },
                end_year: 2030,
                base_year: 2020,
                risk: 0.2,
                cells: vec![cell(0.1 * i as f64, Some(2025)), cell(0.5, None)],
            })
            .collect();
        SweepResult {
            params,
            areas: vec!["a".into(), "all".into()],
            resources: vec!["beds".into()],
            points,
            draws: 10,
            seed: 1,
        }
    }

    fn analysis() -> Analysis {
        let inputs = vec![
            Input { name: "key:policy".into(), kind: InputKind::Variables { members: vec![0] } },
            Input { name: "shocks:migration".into(), kind: InputKind::Shocks { series: vec![2] } },
        ];
        let outputs = ["population_end", "gap_end:beds", "first_year:beds"]
            .iter()
            .map(|n| Output { area: 0, town: "a".into(), name: n.to_string() })
            .collect();
        let s = |st| Index::Sobol(Some(SobolIndex { s1: st * 0.8, s1_conf: 0.05, st, st_conf: 0.05 }));
        Analysis {
            method: Method::Sobol,
            inputs,
            outputs,
            // population varies, the gap never does, the first year does.
            indices: vec![s(0.9), s(0.1), Index::Sobol(None), Index::Sobol(None), s(0.3), s(0.7)],
            design: vec![],
            y: vec![],
            quasi_random: true,
        }
    }

    fn png_size(png: &[u8]) -> (u32, u32) {
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        let be = |o: usize| u32::from_be_bytes([png[o], png[o + 1], png[o + 2], png[o + 3]]);
        (be(16), be(20))
    }

    #[test]
    fn charts_are_pngs_of_the_expected_size() {
        assert_eq!(png_size(&sweep_png(&sweep(false), 0, false).unwrap()), (1400, 560));
        // Two areas in a grid: 2 columns × 1 row of 420 × 400 panels, plus the title band.
        assert_eq!(png_size(&sweep_png(&sweep(true), 0, false).unwrap()), (840, 456));
        // Two outputs vary (population, first year in place of the constant gap): one row.
        assert_eq!(png_size(&tornado_png(&analysis(), 0, false).unwrap()), (1500, 380));
    }

    #[test]
    fn tornado_shows_the_outputs_that_vary() {
        let an = analysis();
        assert_eq!(tornado_outputs(&an, 0), vec![0, 2]);
        assert_eq!(an.ranked(2), vec![1, 0]);
    }

    #[test]
    fn text_is_drawn_with_the_embedded_font() {
        assert!(prepare_font(None).unwrap(), "the embedded font is registered");
        for (plain, labelled) in [
            (sweep_png(&sweep(false), 0, false).unwrap(), sweep_png(&sweep(false), 0, true).unwrap()),
            (sweep_png(&sweep(true), 0, false).unwrap(), sweep_png(&sweep(true), 0, true).unwrap()),
            (tornado_png(&analysis(), 0, false).unwrap(), tornado_png(&analysis(), 0, true).unwrap()),
        ] {
            assert_eq!(png_size(&plain), png_size(&labelled));
            assert_ne!(plain, labelled, "labels change the picture");
        }
    }

    #[test]
    fn bad_font_files_are_refused() {
        assert!(register_font(b"not a font".to_vec()).is_err());
        assert!(prepare_font(Some(std::path::Path::new("/nonexistent/font.ttf"))).unwrap_err().contains("cannot read"));
    }

    #[test]
    fn long_labels_keep_their_end() {
        assert_eq!(short_label("abc", 5), "abc");
        assert_eq!(short_label("towns.north.migration.k", 10), "…gration.k");
    }
}
