//! `population_fan.png`: one panel per town plus "all" — median population with its 50 % and
//! 90 % bands (p25–p75, p05–p95 of population.csv), the central variant dashed, the
//! scenario's targets as diamonds.

use super::canvas::{Canvas, HAlign, Rgb, VAlign, line_height};
use super::data::{FanPanel, Quantiles};
use super::frame::{self, Key, Plot, Rect, palette, size};
use super::{ChartOptions, check_size};
use crate::Result;
use crate::report::Tables;

/// Width of the median line.
pub const MEDIAN_W: f64 = 3.6;
/// Width of the dashed central-variant line.
pub const CENTRAL_W: f64 = 1.6;

/// Band opacities: the 90 % band, and the 50 % band drawn over it.
pub const BAND90: f64 = 0.16;
/// See [`BAND90`].
pub const BAND50: f64 = 0.30;

/// Draws the panels of a grid chart: shared y and x axis titles, one panel per item.
pub(super) struct Grid {
    pub area: Rect,
    pub cols: usize,
    pub rows: usize,
}

impl Grid {
    /// Lays out `n` panels in the space between `top` and the footnote, leaving room for the
    /// shared axis titles; draws those titles.
    pub fn new(c: &mut Canvas, n: usize, top: f64, bottom: f64, y_title: &str, x_title: &str) -> Grid {
        let w = f64::from(c.width);
        let title_h = line_height(size::AXIS_TITLE);
        let area =
            Rect { x0: frame::MARGIN + title_h + 6.0, y0: top, x1: w - frame::MARGIN, y1: bottom - title_h - 6.0 };
        let (cols, rows) = frame::grid(n, area);
        c.text_vertical(
            frame::MARGIN + title_h / 2.0,
            (area.y0 + area.y1) / 2.0,
            y_title,
            size::AXIS_TITLE,
            palette::TEXT,
        );
        c.text(
            (area.x0 + area.x1) / 2.0,
            bottom - 2.0,
            x_title,
            size::AXIS_TITLE,
            palette::TEXT,
            (HAlign::Center, VAlign::Bottom),
        );
        Grid { area, cols, rows }
    }

    /// The cell of panel `i`.
    pub fn cell(&self, i: usize) -> Rect {
        let (col, row) = (i % self.cols, i / self.cols);
        let cw = self.area.w() / self.cols as f64;
        let ch = self.area.h() / self.rows as f64;
        Rect {
            x0: self.area.x0 + col as f64 * cw,
            y0: self.area.y0 + row as f64 * ch,
            x1: self.area.x0 + (col + 1) as f64 * cw,
            y1: self.area.y0 + (row + 1) as f64 * ch,
        }
    }
}

/// Lays out one panel in `cell`: its title, and a plot with a value axis from 0 to cover
/// `max`, years `first` … `last` along x. Draws title, grid lines and axes.
pub(super) fn panel(c: &mut Canvas, cell: Rect, title: &str, max: f64, integral: bool, years: (i32, i32)) -> Plot {
    let title = frame::fit(c, title, size::PANEL, cell.w() - 20.0);
    let title_bottom = cell.y0 + line_height(size::PANEL) + 4.0;
    let plot_top = title_bottom + 8.0;
    let plot_bottom = cell.y1 - frame::x_years_height() - 14.0;
    let (top, step) = frame::value_axis(max, plot_bottom - plot_top, integral);
    let label_w = frame::y_label_width(c, top, step);
    let r = Rect { x0: cell.x0 + label_w + 12.0, y0: plot_top, x1: cell.x1 - 18.0, y1: plot_bottom };
    c.text(r.x0, cell.y0 + 2.0, &title, size::PANEL, palette::TEXT, (HAlign::Left, VAlign::Top));
    let p = Plot { r, xmin: f64::from(years.0) - 0.4, xmax: f64::from(years.1) + 0.4, ymin: 0.0, ymax: top };
    frame::y_axis(c, &p, step);
    frame::x_years(c, &p, years.0, years.1);
    p
}

/// Points of a series over years.
pub(super) fn points(p: &Plot, years: &[i32], v: &[f64]) -> Vec<(f64, f64)> {
    years.iter().zip(v).map(|(y, v)| (p.x(f64::from(*y)), p.y(*v))).collect()
}

/// A band between two series: upper points, then the lower ones reversed.
pub(super) fn band(c: &mut Canvas, p: &Plot, years: &[i32], lo: &[f64], hi: &[f64], color: Rgb, alpha: f64) {
    let mut pts = points(p, years, hi);
    let mut low = points(p, years, lo);
    low.reverse();
    pts.extend(low);
    c.polygon(&pts, color, alpha);
}

/// Median, 50 % and 90 % bands and the dashed central variant of a series.
pub(super) fn fan_series(c: &mut Canvas, p: &Plot, years: &[i32], q: &Quantiles, color: Rgb) {
    band(c, p, years, &q.p05, &q.p95, color, BAND90);
    band(c, p, years, &q.p25, &q.p75, color, BAND50);
    c.line(&points(p, years, &q.p50), color, MEDIAN_W);
    // The central variant often lies on the median: thin dashes with wide gaps keep both visible.
    c.dashed_line(&points(p, years, &q.central), palette::BLACK, CENTRAL_W, 7.0, 6.0);
}

/// Draws `population_fan.png`.
pub fn draw(panels: &[FanPanel], t: &Tables, opts: &ChartOptions, note: &str) -> Result<Vec<u8>> {
    let lang = opts.lang;
    let (w, h) = (opts.width, opts.height);
    check_size(w, h)?;
    let mut c = Canvas::new(w, h, &opts.font);
    let (first, last) = (t.model.year(0), t.model.year(t.model.rows - 1));
    let title = match lang {
        super::Lang::En => format!("Population of the new towns, {first}–{last}"),
        super::Lang::Zh => format!("新城常住人口，{first}–{last}年"),
    };
    let subtitle = lang.t(
        "Residents at year end across the Monte Carlo draws: median, 50 % and 90 % bands; the central variant dashed; \
         the scenario's population targets as diamonds.",
        "年末常住人口（各次抽样）：中位数、50% 与 90% 区间；虚线为中心情景；菱形为情景中的人口规划目标。",
    );
    let mut y = frame::header(&mut c, &title, subtitle);
    let entries = vec![
        (Key::Line(palette::BLUE, MEDIAN_W), lang.t("Median", "中位数").to_string()),
        (Key::Swatch(palette::BLUE, BAND50 + BAND90 * (1.0 - BAND50)), lang.t("50 % band", "50% 区间").to_string()),
        (Key::Swatch(palette::BLUE, BAND90), lang.t("90 % band", "90% 区间").to_string()),
        (Key::Dashed(palette::BLACK, CENTRAL_W), lang.t("Central variant", "中心情景").to_string()),
        (Key::Diamond(palette::ORANGE), lang.t("Population target (scenario)", "人口规划目标（情景）").to_string()),
    ];
    y = frame::legend(&mut c, &entries, frame::MARGIN, f64::from(w) - frame::MARGIN, y);
    let foot = frame::footnote_lines(&c, note);
    let bottom = f64::from(h) - frame::footnote_height(&foot);
    let grid = Grid::new(
        &mut c,
        panels.len(),
        y + 4.0,
        bottom - 6.0,
        lang.t("Residents (year end)", "常住人口（年末，人）"),
        lang.t("Year", "年份"),
    );
    for (i, fp) in panels.iter().enumerate() {
        let targets_max = fp.targets.iter().map(|t| t.1).fold(0.0, f64::max);
        let max = fp.population.max().max(targets_max);
        let p = panel(&mut c, grid.cell(i), &fp.name, max, false, (first, last));
        fan_series(&mut c, &p, &fp.years, &fp.population, palette::BLUE);
        for &(year, value) in &fp.targets {
            if (first..=last).contains(&year) {
                c.diamond(p.x(f64::from(year)), p.y(value), 7.5, palette::ORANGE, palette::BLACK);
            }
        }
    }
    frame::footnote(&mut c, &foot);
    c.png(&title)
}
