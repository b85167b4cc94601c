//! `shortfall_heatmap.png`: P(shortfall) (summary.csv's `shortfall_prob`) for every town ×
//! resource (rows) and year (columns), on reversed viridis (light = unlikely, dark = likely;
//! exactly 0 is white), the probability printed in each cell where it fits. The chart grows
//! ≈ 18 px a row instead of shrinking its text.

use super::canvas::{Canvas, HAlign, Rgb, VAlign, line_height};
use super::data::Heatmap;
use super::frame::{self, palette, size};
use super::{ChartOptions, check_size};
use crate::Result;
use crate::report::Tables;
use crate::report::lang::prob;

/// Viridis at 0, 0.1, …, 1 (matplotlib's values).
const VIRIDIS: [u32; 11] =
    [0x440154, 0x482475, 0x414487, 0x355F8D, 0x2A788E, 0x21918C, 0x22A884, 0x44BF70, 0x7AD151, 0xBDDF26, 0xFDE725];

/// Viridis at `t` ∈ [0, 1], interpolated linearly between the tabulated points.
pub fn viridis(t: f64) -> Rgb {
    let t = if t.is_finite() { t.clamp(0.0, 1.0) } else { 0.0 };
    let x = t * 10.0;
    let i = (x.floor() as usize).min(9);
    let f = x - i as f64;
    let (a, b) = (Rgb::hex(VIRIDIS[i]), Rgb::hex(VIRIDIS[i + 1]));
    let mix = |p: u8, q: u8| (f64::from(p) + (f64::from(q) - f64::from(p)) * f).round() as u8;
    Rgb(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// The fill of a cell with probability `p`: white for exactly 0, else reversed viridis.
pub fn cell_color(p: f64) -> Rgb {
    if p <= 0.0 { Rgb(255, 255, 255) } else { viridis(1.0 - p) }
}

/// Height the colour legend ([`legend`]) takes.
pub const LEGEND_HEIGHT: f64 = 24.0 + 14.0 * (super::canvas::ASCENT + super::canvas::DESCENT) + 20.0;

/// Where [`legend`] drew its colour bar: P = 0+ at `x0`, P = 1 at `x0 + width`, from `y0` to `y1`.
#[derive(Clone, Copy, Debug)]
pub struct LegendBar {
    /// x of P just above 0.
    pub x0: f64,
    /// Width of the bar (P from 0 to 1).
    pub width: f64,
    /// Top of the bar.
    pub y0: f64,
    /// Bottom of the bar.
    pub y1: f64,
    /// Right end of the labels under the bar.
    pub right: f64,
}

/// Draws the colour legend of P(shortfall) — the lead text, the white "0" swatch and the
/// reversed-viridis bar with ticks at 0.2 steps — from the top `y`; it takes [`LEGEND_HEIGHT`].
pub fn legend(c: &mut Canvas, lang: super::Lang, y: f64) -> LegendBar {
    legend_with(c, lang.t("P(shortfall):", "短缺概率："), y)
}

/// [`legend`] with its own lead text (e.g. "P(shortfall by 2035):").
pub fn legend_with(c: &mut Canvas, lead: &str, y: f64) -> LegendBar {
    let lx = frame::MARGIN;
    let bar_y = y + 4.0;
    let lead_w = c.text_width(lead, size::LEGEND);
    c.text(lx, bar_y + 8.0, lead, size::LEGEND, palette::TEXT, (HAlign::Left, VAlign::Middle));
    let bx0 = lx + lead_w + 14.0;
    let bar_w = 360.0;
    let zero_w = 34.0;
    c.fill_rect(bx0, bar_y, bx0 + zero_w, bar_y + 16.0, Rgb(255, 255, 255), 1.0);
    c.stroke_rect(bx0, bar_y, bx0 + zero_w, bar_y + 16.0, palette::GREY, 1.0);
    c.text(bx0 + zero_w / 2.0, bar_y + 22.0, "0", size::SMALL, palette::MUTED, (HAlign::Center, VAlign::Top));
    let gx0 = bx0 + zero_w + 12.0;
    let steps = 120;
    for i in 0..steps {
        let p = (i as f64 + 0.5) / steps as f64;
        let x = gx0 + bar_w * i as f64 / steps as f64;
        c.fill_rect(x, bar_y, x + bar_w / steps as f64 + 0.5, bar_y + 16.0, cell_color(p), 1.0);
    }
    let mut right = gx0 + bar_w;
    for k in 0..=5 {
        let p = k as f64 / 5.0;
        let x = gx0 + bar_w * p;
        let label = if k == 0 { ">0".to_string() } else { format!("{p:.1}") };
        let (_, _, x1, _) = c.text(x, bar_y + 22.0, &label, size::SMALL, palette::MUTED, (HAlign::Center, VAlign::Top));
        right = right.max(x1);
    }
    LegendBar { x0: gx0, width: bar_w, y0: bar_y, y1: bar_y + 16.0, right }
}

/// Draws one cell of probability `p` at `(x, y)`, `w` × `h`: its colour, hairline borders on
/// the right and bottom (so white cells still read as a grid) and the probability where it fits.
pub fn cell(c: &mut Canvas, x: f64, y: f64, w: f64, h: f64, p: f64) {
    let fill = cell_color(p);
    c.fill_rect(x, y, x + w, y + h, fill, 1.0);
    c.fill_rect(x, y + h - 1.0, x + w, y + h, Rgb(225, 225, 225), 1.0);
    c.fill_rect(x + w - 1.0, y, x + w, y + h, Rgb(225, 225, 225), 1.0);
    if p > 0.0 {
        let label = prob(p);
        if c.text_width(&label, size::SMALL) + 8.0 <= w {
            let ink = if fill.luminance() < 0.3 { Rgb(255, 255, 255) } else { palette::BLACK };
            c.text(x + w / 2.0, y + h / 2.0, &label, size::SMALL, ink, (HAlign::Center, VAlign::Middle));
        }
    }
}

/// Smallest row height (the "≈ 18 px a row").
pub const ROW_MIN: f64 = 18.0;
const ROW_MAX: f64 = 26.0;

/// Draws the heatmap.
pub fn draw(hm: &Heatmap, t: &Tables, opts: &ChartOptions, note: &str) -> Result<Vec<u8>> {
    let lang = opts.lang;
    let w = opts.width;
    let n = hm.rows.len();
    let (first, last) = (t.model.year(0), t.model.year(t.model.rows - 1));
    let title = match lang {
        super::Lang::En => format!("Probability of a shortfall by town, service and year, {first}–{last}"),
        super::Lang::Zh => format!("各新城各项设施短缺概率（按年），{first}–{last}年"),
    };
    let subtitle = lang.t(
        "Share of the Monte Carlo draws in which year-end demand exceeds capacity (summary.csv, shortfall_prob). \
         Blank: no draw falls short.",
        "各次抽样中年末需求超过供给的比例（summary.csv 的 shortfall_prob）。空白：没有任何抽样出现短缺。",
    );
    // Measure the fixed parts on a one-pixel-high canvas, then size the chart to its rows.
    let mut probe = Canvas::new(w, 1, &opts.font);
    let header_bottom = frame::header(&mut probe, &title, subtitle);
    let foot = frame::footnote_lines(&probe, note);
    let legend_h = LEGEND_HEIGHT;
    let col_head = line_height(size::SMALL) + 10.0;
    let fixed = header_bottom + legend_h + 2.0 * col_head + frame::footnote_height(&foot) + 16.0;
    let towns = hm.rows.last().map_or(0, |r| r.area + 1);
    let separators = towns.saturating_sub(1) as f64 * 4.0;
    let row_h = ((f64::from(opts.height) - fixed - separators) / n.max(1) as f64).clamp(ROW_MIN, ROW_MAX);
    let h = (fixed + separators + row_h * n as f64).ceil().max(f64::from(opts.height)) as u32;
    check_size(w, h)?;
    let mut c = Canvas::new(w, h, &opts.font);
    let y = frame::header(&mut c, &title, subtitle);

    legend(&mut c, lang, y);
    let table_top = y + legend_h;

    // Columns: town, resource, then one per year.
    let total_w = f64::from(w) - 2.0 * frame::MARGIN;
    let town_w = hm.rows.iter().map(|r| c.text_width(&r.town, size::SMALL)).fold(0.0, f64::max) + 16.0;
    let res_w = hm.rows.iter().map(|r| c.text_width(&r.resource, size::SMALL)).fold(0.0, f64::max) + 16.0;
    let labels_max = total_w * 0.45;
    let town_w = town_w.min(labels_max * 0.4);
    let res_w = res_w.min(labels_max - town_w);
    let x_cells = frame::MARGIN + town_w + res_w;
    let ncol = hm.years.len().max(1);
    let cell_w = ((f64::from(w) - frame::MARGIN - x_cells) / ncol as f64).min(110.0);
    let x_end = x_cells + cell_w * ncol as f64;

    let years_row = |c: &mut Canvas, y: f64| {
        for (j, year) in hm.years.iter().enumerate() {
            let x = x_cells + (j as f64 + 0.5) * cell_w;
            let label = year.to_string();
            // Every year when it fits, else every other.
            if c.text_width(&label, size::SMALL) + 6.0 <= cell_w || j % 2 == 0 {
                c.text(x, y, &label, size::SMALL, palette::TEXT, (HAlign::Center, VAlign::Middle));
            }
        }
    };
    years_row(&mut c, table_top + col_head / 2.0);
    let mut y = table_top + col_head;
    let mut prev_town = usize::MAX;
    let cells_top = y;
    for (i, row) in hm.rows.iter().enumerate() {
        if row.area != prev_town {
            if prev_town != usize::MAX {
                c.fill_rect(frame::MARGIN, y + 1.0, x_end, y + 2.5, palette::AXIS, 1.0);
                y += 4.0;
            }
            // The town's name on the first row of its group.
            let name = frame::fit(&c, &row.town, size::SMALL, town_w - 12.0);
            c.text(frame::MARGIN, y + row_h / 2.0, &name, size::SMALL, palette::TEXT, (HAlign::Left, VAlign::Middle));
            prev_town = row.area;
        }
        if i % 2 == 1 {
            c.fill_rect(frame::MARGIN + town_w - 6.0, y, x_cells, y + row_h, Rgb(244, 244, 244), 1.0);
        }
        let name = frame::fit(&c, &row.resource, size::SMALL, res_w - 12.0);
        c.text(
            frame::MARGIN + town_w,
            y + row_h / 2.0,
            &name,
            size::SMALL,
            palette::TEXT,
            (HAlign::Left, VAlign::Middle),
        );
        for (j, &p) in row.facts.probs.iter().enumerate() {
            cell(&mut c, x_cells + j as f64 * cell_w, y, cell_w, row_h, p);
        }
        y += row_h;
    }
    c.fill_rect(x_cells, cells_top - 1.0, x_end, cells_top, palette::AXIS, 1.0);
    c.fill_rect(x_cells, y, x_end, y + 1.0, palette::AXIS, 1.0);
    years_row(&mut c, y + col_head / 2.0 + 2.0);
    frame::footnote(&mut c, &foot);
    c.png(&title)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn viridis_ends_and_direction() {
        assert_eq!(viridis(0.0), Rgb::hex(0x440154));
        assert_eq!(viridis(1.0), Rgb::hex(0xFDE725));
        assert_eq!(viridis(0.5), Rgb::hex(0x21918C));
        assert_eq!(cell_color(0.0), Rgb(255, 255, 255));
        // Darker means more likely.
        assert!(cell_color(0.9).luminance() < cell_color(0.2).luminance());
    }
}
