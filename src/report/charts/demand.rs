//! `demand_<resource>.png`: one panel per town (and "all"): demand median with its 50 % and
//! 90 % bands and the central variant dashed, against capacity — its median as a step line,
//! with its 90 % band where project delays make it uncertain — and the years with
//! P(shortfall) ≥ 0.5 shaded. All values are summary.csv's columns.

use super::canvas::{Canvas, Rgb};
use super::data::{DemandChart, Quantiles};
use super::fan::{BAND50, BAND90, CENTRAL_W, Grid, MEDIAN_W, fan_series, panel};
use super::frame::{self, Key, Plot, palette};
use super::{ChartOptions, check_size};
use crate::Result;
use crate::report::Lang;

/// Opacity of the shading of years with P(shortfall) ≥ 0.5.
const SHADE: f64 = 0.22;
/// Opacity of the capacity band.
const CAP_BAND: f64 = 0.35;
/// Colour of the capacity line and band.
const CAPACITY: Rgb = palette::BLACK;

fn step_points(p: &Plot, years: &[i32], v: &[f64]) -> Vec<(f64, f64)> {
    let (first, last) = (f64::from(years[0]), f64::from(years[years.len() - 1]));
    let mut pts = Vec::with_capacity(years.len() * 2);
    for (y, v) in years.iter().zip(v) {
        let y = f64::from(*y);
        pts.push((p.x((y - 0.5).max(first)), p.y(*v)));
        pts.push((p.x((y + 0.5).min(last)), p.y(*v)));
    }
    pts
}

/// The capacity band, drawn only where p05 and p95 differ (uncertain project delays).
fn capacity_band(c: &mut Canvas, p: &Plot, years: &[i32], q: &Quantiles) {
    if q.p05.iter().zip(&q.p95).any(|(a, b)| a != b) {
        let mut pts = step_points(p, years, &q.p95);
        let mut low = step_points(p, years, &q.p05);
        low.reverse();
        pts.extend(low);
        c.polygon(&pts, palette::GREY, CAP_BAND);
    }
}

/// Draws one resource's chart.
pub fn draw(d: &DemandChart, opts: &ChartOptions, note: &str) -> Result<Vec<u8>> {
    let lang = opts.lang;
    let (w, h) = (opts.width, opts.height);
    check_size(w, h)?;
    let mut c = Canvas::new(w, h, &opts.font);
    let (first, last) = (d.years[0], d.years[d.years.len() - 1]);
    let title = match lang {
        Lang::En => format!("{}: demand against capacity by town, {first}–{last}", d.name),
        Lang::Zh => format!("{}：各新城需求与供给，{first}–{last}年", d.name),
    };
    let subtitle = lang.t(
        "Year-end demand across the Monte Carlo draws (median, 50 % and 90 % bands, central variant dashed) against \
         capacity (median as a step line; grey band: 90 % band where project delays are uncertain). Shaded years: \
         P(shortfall) ≥ 0.5.",
        "各次抽样的年末需求（中位数、50% 与 90% 区间，虚线为中心情景）与供给（阶梯线为中位数；灰色带为项目延期不确定时的 90% \
         区间）。阴影年份：短缺概率 ≥ 0.5。",
    );
    let mut y = frame::header(&mut c, &title, subtitle);
    let entries = vec![
        (Key::Line(palette::BLUE, MEDIAN_W), lang.t("Demand, median", "需求中位数").to_string()),
        (Key::Swatch(palette::BLUE, BAND50 + BAND90 * (1.0 - BAND50)), lang.t("50 % band", "50% 区间").to_string()),
        (Key::Swatch(palette::BLUE, BAND90), lang.t("90 % band", "90% 区间").to_string()),
        (Key::Dashed(palette::BLACK, CENTRAL_W), lang.t("Demand, central variant", "需求（中心情景）").to_string()),
        (Key::Step(CAPACITY, 2.4), lang.t("Capacity, median", "供给中位数").to_string()),
        (Key::Swatch(palette::GREY, CAP_BAND), lang.t("Capacity, 90 % band", "供给 90% 区间").to_string()),
        (Key::Swatch(palette::ORANGE, SHADE), lang.t("P(shortfall) ≥ 0.5", "短缺概率 ≥ 0.5").to_string()),
    ];
    y = frame::legend(&mut c, &entries, frame::MARGIN, f64::from(w) - frame::MARGIN, y);
    let foot = frame::footnote_lines(&c, note);
    let bottom = f64::from(h) - frame::footnote_height(&foot);
    let y_title = match lang {
        Lang::En => format!("Demand and capacity ({})", d.unit),
        Lang::Zh => format!("需求与供给（{}）", d.unit),
    };
    let grid = Grid::new(&mut c, d.panels.len(), y + 4.0, bottom - 6.0, &y_title, lang.t("Year", "年份"));
    for (i, dp) in d.panels.iter().enumerate() {
        let max = dp.demand.max().max(dp.capacity.max());
        let p = panel(&mut c, grid.cell(i), &dp.name, max, d.integral, (first, last));
        // Shading first, so the data stay on top; a column spans half a year each side.
        // Consecutive years are one rectangle (no seams between translucent columns).
        let mut run: Option<(i32, i32)> = None;
        let runs = d.years.iter().zip(&dp.shortfall_prob).chain(std::iter::once((&i32::MAX, &0.0)));
        for (&year, &prob) in runs {
            match (prob >= 0.5, run) {
                (true, None) => run = Some((year, year)),
                (true, Some((a, _))) => run = Some((a, year)),
                (false, Some((a, b))) => {
                    let (x0, x1) = (p.x((f64::from(a) - 0.5).max(p.xmin)), p.x((f64::from(b) + 0.5).min(p.xmax)));
                    c.fill_rect(x0, p.r.y0, x1, p.r.y1, palette::ORANGE, SHADE);
                    run = None;
                }
                (false, None) => {}
            }
        }
        capacity_band(&mut c, &p, &d.years, &dp.capacity);
        fan_series(&mut c, &p, &d.years, &dp.demand, palette::BLUE);
        // The capacity line last: where demand meets it is the point of the chart.
        c.line(&step_points(&p, &d.years, &dp.capacity.p50), CAPACITY, 2.4);
    }
    frame::footnote(&mut c, &foot);
    c.png(&title)
}
