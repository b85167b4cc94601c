//! `shortfall_years.png`: for every town × resource, the first year demand exceeds capacity —
//! median as a dot, 10–90 % of draws as a whisker (first_shortfall.csv's `first_year_p50`,
//! `first_year_p10`, `first_year_p90`) — with "none by <end year>" as its own column, and the
//! probability of any shortfall by the end year. Most urgent first; ≈ 18 px a row.

use super::canvas::{Canvas, HAlign, Rgb, VAlign, line_height};
use super::data::RiskRow;
use super::frame::{self, Key, palette, size};
use super::{ChartOptions, check_size};
use crate::Result;
use crate::report::lang::prob;
use crate::report::{Lang, Tables};

const ROW_MIN: f64 = super::heatmap::ROW_MIN;
const ROW_MAX: f64 = 26.0;

/// Draws the chart.
pub fn draw(rows: &[RiskRow], t: &Tables, opts: &ChartOptions, note: &str) -> Result<Vec<u8>> {
    let lang = opts.lang;
    let w = opts.width;
    let n = rows.len();
    let (first, last) = (t.model.year(0), t.model.year(t.model.rows - 1));
    let title = match lang {
        Lang::En => format!("When does each service first fall short? {first}–{last}"),
        Lang::Zh => format!("各项设施首次出现短缺的年份，{first}–{last}年"),
    };
    let subtitle = lang.t(
        "First year in which year-end demand exceeds capacity, across the Monte Carlo draws (first_shortfall.csv): \
         dot = median, whisker = 10th–90th percentile. Most urgent first.",
        "各次抽样中年末需求首次超过供给的年份（first_shortfall.csv）：圆点为中位数，线段为第10–90百分位。按紧迫程度排序。",
    );
    let none_label = match lang {
        Lang::En => format!("none by {last}"),
        Lang::Zh => format!("{last}年前无短缺"),
    };
    let p_label = match lang {
        Lang::En => format!("P(by {last})"),
        Lang::Zh => format!("{last}年前短缺概率"),
    };
    let entries = vec![
        (Key::Dot(palette::BLUE), lang.t("Median first shortfall year", "首次短缺年份中位数").to_string()),
        (Key::Whisker(palette::BLUE), lang.t("10th–90th percentile of draws", "抽样第10–90百分位").to_string()),
        (
            Key::Ring(palette::MUTED),
            match lang {
                Lang::En => format!("Median: no shortfall by {last}"),
                Lang::Zh => format!("中位数：{last}年前无短缺"),
            },
        ),
    ];
    let mut probe = Canvas::new(w, 1, &opts.font);
    let header_bottom = frame::header(&mut probe, &title, subtitle);
    let legend_bottom = frame::legend(&mut probe, &entries, frame::MARGIN, f64::from(w) - frame::MARGIN, header_bottom);
    let foot = frame::footnote_lines(&probe, note);
    let col_head = line_height(size::SMALL) + 10.0;
    let fixed = legend_bottom + 2.0 * col_head + frame::footnote_height(&foot) + 16.0;
    let row_h = ((f64::from(opts.height) - fixed) / n.max(1) as f64).clamp(ROW_MIN, ROW_MAX);
    let h = (fixed + row_h * n as f64).ceil().max(f64::from(opts.height)) as u32;
    check_size(w, h)?;
    let mut c = Canvas::new(w, h, &opts.font);
    let y = frame::header(&mut c, &title, subtitle);
    let table_top = frame::legend(&mut c, &entries, frame::MARGIN, f64::from(w) - frame::MARGIN, y);

    // Columns: town, resource, the years, "none by", P(by end).
    let total_w = f64::from(w) - 2.0 * frame::MARGIN;
    let town_w = rows.iter().map(|r| c.text_width(&r.town, size::SMALL)).fold(0.0, f64::max) + 16.0;
    let res_w = rows.iter().map(|r| c.text_width(&r.resource, size::SMALL)).fold(0.0, f64::max) + 16.0;
    let town_w = town_w.min(total_w * 0.18);
    let res_w = res_w.min(total_w * 0.27);
    let p_w = c.text_width(&p_label, size::SMALL).max(c.text_width("0.00", size::SMALL)) + 24.0;
    let none_w = c.text_width(&none_label, size::SMALL) + 24.0;
    let px0 = frame::MARGIN + town_w + res_w + 8.0;
    let px1 = f64::from(w) - frame::MARGIN - p_w - none_w;
    let nyears = f64::from(last - first + 1);
    let x_of = |year: i32| px0 + (f64::from(year - first) + 0.5) / nyears * (px1 - px0);
    let none_x = px1 + none_w / 2.0;
    let p_x = f64::from(w) - frame::MARGIN - p_w / 2.0;

    let per_year = (px1 - px0) / nyears;
    let label_w = c.text_width("2035", size::SMALL) + 10.0;
    let every = frame::label_every(first, last, per_year, label_w);
    let head = |c: &mut Canvas, y: f64| {
        for year in (first..=last).filter(|y| (y - first) % every == 0) {
            c.text(x_of(year), y, &year.to_string(), size::SMALL, palette::TEXT, (HAlign::Center, VAlign::Middle));
        }
        c.text(none_x, y, &none_label, size::SMALL, palette::TEXT, (HAlign::Center, VAlign::Middle));
        c.text(p_x, y, &p_label, size::SMALL, palette::TEXT, (HAlign::Center, VAlign::Middle));
    };
    head(&mut c, table_top + col_head / 2.0);
    let top = table_top + col_head;
    let bottom = top + row_h * n as f64;
    // Row shading, then year grid lines, then the marks.
    for i in (1..n).step_by(2) {
        let y = top + i as f64 * row_h;
        c.fill_rect(frame::MARGIN, y, f64::from(w) - frame::MARGIN, y + row_h, Rgb(245, 245, 245), 1.0);
    }
    for year in first..=last {
        let x = x_of(year);
        let col = if (year - first) % every == 0 { Rgb(210, 210, 210) } else { palette::GRID };
        c.fill_rect(x - 0.5, top, x + 0.5, bottom, col, 1.0);
    }
    c.fill_rect(px1, top, px1 + 1.0, bottom, palette::AXIS, 1.0);
    c.fill_rect(px1 + none_w, top, px1 + none_w + 1.0, bottom, palette::AXIS, 1.0);
    c.fill_rect(frame::MARGIN, top - 1.0, f64::from(w) - frame::MARGIN, top, palette::AXIS, 1.0);
    c.fill_rect(frame::MARGIN, bottom, f64::from(w) - frame::MARGIN, bottom + 1.0, palette::AXIS, 1.0);

    for (i, row) in rows.iter().enumerate() {
        let ym = top + (i as f64 + 0.5) * row_h;
        let town = frame::fit(&c, &row.town, size::SMALL, town_w - 12.0);
        let res = frame::fit(&c, &row.resource, size::SMALL, res_w - 12.0);
        c.text(frame::MARGIN + 4.0, ym, &town, size::SMALL, palette::TEXT, (HAlign::Left, VAlign::Middle));
        c.text(frame::MARGIN + town_w, ym, &res, size::SMALL, palette::TEXT, (HAlign::Left, VAlign::Middle));
        let f = &row.facts;
        let xs = |y: Option<i32>| y.map_or(none_x, x_of);
        if let Some(p10) = f.first_p10 {
            let (a, b) = (x_of(p10), xs(f.first_p90));
            let cap = (row_h / 2.0 - 3.0).clamp(3.0, 6.0);
            c.line(&[(a, ym), (b, ym)], palette::BLUE, 2.0);
            c.line(&[(a, ym - cap), (a, ym + cap)], palette::BLUE, 2.0);
            if f.first_p90.is_some() {
                c.line(&[(b, ym - cap), (b, ym + cap)], palette::BLUE, 2.0);
            }
        }
        match f.first_p50 {
            Some(y) => c.dot(x_of(y), ym, 5.5, palette::BLUE),
            None => {
                c.dot(none_x, ym, 6.0, palette::MUTED);
                c.dot(none_x, ym, 4.0, if i % 2 == 1 { Rgb(245, 245, 245) } else { Rgb(255, 255, 255) });
            }
        }
        let pb = if f.prob_by_end > 0.0 { prob(f.prob_by_end) } else { "0".into() };
        c.text(p_x, ym, &pb, size::SMALL, palette::TEXT, (HAlign::Center, VAlign::Middle));
    }
    head(&mut c, bottom + col_head / 2.0 + 2.0);
    frame::footnote(&mut c, &foot);
    c.png(&title)
}
