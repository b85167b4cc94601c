//! `pyramid_<town>.png`: the age–sex pyramid of the base year against the end year, by
//! five-year group — central variant bars with the 90 % band (p05–p95 of
//! population_age.csv) as whiskers. Males on the left, females on the right.

use super::canvas::{Canvas, HAlign, Rgb, VAlign, line_height};
use super::data::{GroupStat, Pyramid};
use super::frame::{self, Key, Plot, Rect, palette, size};
use super::{ChartOptions, check_size};
use crate::Result;
use crate::report::Lang;
use crate::report::lang::grouped;

/// Draws one pyramid.
pub fn draw(p: &Pyramid, opts: &ChartOptions, note: &str) -> Result<Vec<u8>> {
    let lang = opts.lang;
    let (w, h) = (opts.width, opts.height);
    check_size(w, h)?;
    let mut c = Canvas::new(w, h, &opts.font);
    let [base, end] = p.years;
    let title = match lang {
        Lang::En => format!("{}: residents by age and sex, {base} and {end}", p.name),
        Lang::Zh => format!("{}：分年龄、性别常住人口，{base}年与{end}年", p.name),
    };
    let subtitle = match lang {
        Lang::En => format!(
            "Year-end residents in five-year age groups, central variant; whiskers show the 90 % band across draws \
             (5th–95th percentile). Grey: {base} (base year); colour: {end}."
        ),
        Lang::Zh => format!(
            "五岁年龄组年末常住人口（中心情景）；误差线为各次抽样的 90% 区间（第5–95百分位）。灰色：{base}年（基年）；彩色：{end}年。"
        ),
    };
    let mut y = frame::header(&mut c, &title, &subtitle);
    let entries = vec![
        (Key::Swatch(palette::GREY, 1.0), format!("{base}{}", lang.t(" (base year)", "年（基年）"))),
        (Key::Swatch(palette::BLUE, 1.0), format!("{} {end}{}", lang.t("Males", "男性"), lang.t("", "年"))),
        (Key::Swatch(palette::VERMILLION, 1.0), format!("{} {end}{}", lang.t("Females", "女性"), lang.t("", "年"))),
        (Key::Whisker(palette::BLACK), lang.t("90 % band across draws", "抽样 90% 区间").to_string()),
    ];
    y = frame::legend(&mut c, &entries, frame::MARGIN, f64::from(w) - frame::MARGIN, y);
    let foot = frame::footnote_lines(&c, note);
    let bottom = f64::from(h) - frame::footnote_height(&foot) - 6.0;

    // Vertical layout: half titles, bars, tick labels, axis title.
    let half_title_y = y + 4.0;
    let plot_top = half_title_y + line_height(size::PANEL) + 8.0;
    let axis_title_h = line_height(size::AXIS_TITLE);
    let plot_bottom = bottom - axis_title_h - frame::x_years_height() - 8.0;
    let gutter = p
        .rows
        .iter()
        .map(|r| c.text_width(&r.label, size::SMALL))
        .fold(0.0, f64::max)
        .max(c.text_width(lang.t("Age", "年龄"), size::AXIS_TITLE))
        + 28.0;
    let mid = f64::from(w) / 2.0;
    let (lx0, lx1) = (frame::MARGIN + 10.0, mid - gutter / 2.0);
    let (rx0, rx1) = (mid + gutter / 2.0, f64::from(w) - frame::MARGIN - 10.0);

    let max = p
        .rows
        .iter()
        .flat_map(|r| r.female.iter().chain(r.male.iter()))
        .flat_map(|s| [s.central, s.p95])
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    let (top, step) = frame::value_axis(max, lx1 - lx0, false);
    // Keep tick labels apart: fewer ticks if the widest label needs more room.
    let label_w = frame::y_label_width(&c, top, step) + 16.0;
    let (top, step) =
        if label_w * (top / step) > lx1 - lx0 { frame::value_axis(max, (lx1 - lx0) / 2.0, false) } else { (top, step) };
    let right = Plot {
        r: Rect { x0: rx0, y0: plot_top, x1: rx1, y1: plot_bottom },
        xmin: 0.0,
        xmax: top,
        ymin: 0.0,
        ymax: 1.0,
    };
    // The left half runs right to left: x(v) = lx1 − v/top · width.
    let left_x = |v: f64| lx1 - v / top * (lx1 - lx0);

    // Grid lines and tick labels on both halves.
    let dp = frame::step_decimals(step);
    let n = (top / step).round() as i64;
    for i in 0..=n {
        let v = i as f64 * step;
        for x in [left_x(v), right.x(v)] {
            c.fill_rect(x - 0.5, plot_top, x + 0.5, plot_bottom, palette::GRID, 1.0);
            c.text(x, plot_bottom + 8.0, &grouped(v, dp), size::SMALL, palette::MUTED, (HAlign::Center, VAlign::Top));
        }
    }
    c.fill_rect(lx0, plot_bottom, lx1, plot_bottom + 1.0, palette::AXIS, 1.0);
    c.fill_rect(rx0, plot_bottom, rx1, plot_bottom + 1.0, palette::AXIS, 1.0);
    c.text(
        (lx0 + lx1) / 2.0,
        half_title_y,
        lang.t("Males", "男性"),
        size::PANEL,
        palette::TEXT,
        (HAlign::Center, VAlign::Top),
    );
    c.text(
        (rx0 + rx1) / 2.0,
        half_title_y,
        lang.t("Females", "女性"),
        size::PANEL,
        palette::TEXT,
        (HAlign::Center, VAlign::Top),
    );
    c.text(mid, half_title_y, lang.t("Age", "年龄"), size::AXIS_TITLE, palette::TEXT, (HAlign::Center, VAlign::Top));
    let axis_title = lang.t("Residents in the age group (year end)", "该年龄组常住人口（年末，人）");
    c.text(mid, bottom, axis_title, size::AXIS_TITLE, palette::TEXT, (HAlign::Center, VAlign::Bottom));

    let slot = (plot_bottom - plot_top) / p.rows.len().max(1) as f64;
    let bar = (slot * 0.40).min(18.0);
    for (i, row) in p.rows.iter().enumerate() {
        // Oldest at the top.
        let y0 = plot_bottom - (i + 1) as f64 * slot;
        let ym = y0 + slot / 2.0;
        c.text(mid, ym, &row.label, size::SMALL, palette::TEXT, (HAlign::Center, VAlign::Middle));
        for (k, color) in [(0, palette::GREY), (1, palette::BLUE)] {
            let yb = ym - bar - 1.0 + k as f64 * (bar + 2.0);
            bar_with_band(&mut c, &row.male[k], yb, bar, &left_x, color);
        }
        for (k, color) in [(0, palette::GREY), (1, palette::VERMILLION)] {
            let yb = ym - bar - 1.0 + k as f64 * (bar + 2.0);
            bar_with_band(&mut c, &row.female[k], yb, bar, &|v| right.x(v), color);
        }
    }
    frame::footnote(&mut c, &foot);
    c.png(&title)
}

fn bar_with_band(c: &mut Canvas, s: &GroupStat, y: f64, h: f64, x: &dyn Fn(f64) -> f64, color: Rgb) {
    let (x0, x1) = (x(0.0), x(s.central.max(0.0)));
    c.fill_rect(x0, y, x1, y + h, color, 1.0);
    let ym = y + h / 2.0;
    let (a, b) = (x(s.p05), x(s.p95));
    if (b - a).abs() >= 1.0 {
        let ink = Rgb(30, 30, 30);
        c.line(&[(a, ym), (b, ym)], ink, 1.4);
        let cap = (h / 2.0 - 1.0).clamp(2.0, 5.0);
        c.line(&[(a, ym - cap), (a, ym + cap)], ink, 1.4);
        c.line(&[(b, ym - cap), (b, ym + cap)], ink, 1.4);
    }
}
