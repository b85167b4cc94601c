//! Pieces every chart shares: the palette, text sizes, the title block, the legend, the
//! footnote, panel grids and axes with "nice" ticks. Every piece measures its text before
//! placing it and reports the space it took, so charts stack pieces without overlaps.

use super::canvas::{Canvas, HAlign, Rgb, VAlign, line_height};
use crate::report::lang::grouped;

/// Okabe–Ito colours (colour-blind safe).
pub mod palette {
    use super::Rgb;
    /// Blue.
    pub const BLUE: Rgb = Rgb::hex(0x0072B2);
    /// Vermillion.
    pub const VERMILLION: Rgb = Rgb::hex(0xD55E00);
    /// Orange.
    pub const ORANGE: Rgb = Rgb::hex(0xE69F00);
    /// Sky blue.
    pub const SKY: Rgb = Rgb::hex(0x56B4E9);
    /// Bluish green.
    pub const GREEN: Rgb = Rgb::hex(0x009E73);
    /// Reddish purple.
    pub const PURPLE: Rgb = Rgb::hex(0xCC79A7);
    /// Black.
    pub const BLACK: Rgb = Rgb(0, 0, 0);
    /// Body text.
    pub const TEXT: Rgb = Rgb::hex(0x222222);
    /// Secondary text.
    pub const MUTED: Rgb = Rgb::hex(0x555555);
    /// Axis lines.
    pub const AXIS: Rgb = Rgb::hex(0x666666);
    /// Grid lines.
    pub const GRID: Rgb = Rgb::hex(0xE3E3E3);
    /// Neutral fill (base year, capacity band).
    pub const GREY: Rgb = Rgb::hex(0x9A9A9A);
}

/// Text sizes in pixels per em at the default 1600 × 1000 (none below 14).
pub mod size {
    /// Chart title.
    pub const TITLE: f64 = 24.0;
    /// Subtitle.
    pub const SUBTITLE: f64 = 16.0;
    /// Panel title.
    pub const PANEL: f64 = 17.0;
    /// Axis titles.
    pub const AXIS_TITLE: f64 = 15.0;
    /// Tick labels, legend, cells, footnote.
    pub const SMALL: f64 = 14.0;
    /// Legend entries.
    pub const LEGEND: f64 = 15.0;
}

/// Outer margin of every chart.
pub const MARGIN: f64 = 28.0;

/// A rectangle in logical pixels.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rect {
    /// Left.
    pub x0: f64,
    /// Top.
    pub y0: f64,
    /// Right.
    pub x1: f64,
    /// Bottom.
    pub y1: f64,
}

impl Rect {
    /// Width.
    pub fn w(&self) -> f64 {
        self.x1 - self.x0
    }
    /// Height.
    pub fn h(&self) -> f64 {
        self.y1 - self.y0
    }
}

/// Splits `text` into lines no wider than `width` (at word boundaries; between any two
/// characters of Chinese text).
pub fn wrap(c: &Canvas, text: &str, em: f64, width: f64) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    // Tokens: runs of non-space Latin characters, single CJK characters, and spaces. Chinese
    // closing punctuation stays with the character before it and opening punctuation with the
    // one after it, so no line starts with "。" or ends with "（".
    const CLOSING: &str = "，。、；：！？）》」』”’";
    const OPENING: &str = "（《「『“‘";
    let mut tokens: Vec<String> = Vec::new();
    let mut glue_next = false;
    for ch in text.chars() {
        let cjk = (ch as u32) >= 0x2E80;
        let last_is_word = tokens.last().is_some_and(|t| {
            let l = t.chars().last().unwrap_or(' ');
            l != ' ' && (l as u32) < 0x2E80
        });
        let last_is_text = tokens.last().is_some_and(|t| t != " ");
        if (!cjk && ch != ' ' && last_is_word) || (CLOSING.contains(ch) && last_is_text) || (glue_next && ch != ' ') {
            if let Some(t) = tokens.last_mut() {
                t.push(ch);
            }
        } else {
            tokens.push(ch.to_string());
        }
        glue_next = OPENING.contains(ch);
    }
    for tok in tokens {
        let candidate = format!("{line}{tok}");
        if line.is_empty() || c.text_width(candidate.trim_end(), em) <= width {
            if !(line.is_empty() && tok == " ") {
                line = candidate;
            }
        } else {
            lines.push(line.trim_end().to_string());
            line = if tok == " " { String::new() } else { tok };
        }
    }
    if !line.trim().is_empty() {
        lines.push(line.trim_end().to_string());
    }
    lines
}

/// `text`, shortened with an ellipsis to fit `width` (labels never run into their neighbours).
pub fn fit(c: &Canvas, text: &str, em: f64, width: f64) -> String {
    if c.text_width(text, em) <= width {
        return text.to_string();
    }
    let chars: Vec<char> = text.chars().collect();
    for n in (0..chars.len()).rev() {
        let s: String = chars[..n].iter().collect::<String>().trim_end().to_string() + "…";
        if c.text_width(&s, em) <= width {
            return s;
        }
    }
    "…".into()
}

/// A dotted path (`capacity.songjiang.hospital_beds.projects.first_south_ii.delay`),
/// shortened to fit `width` by replacing whole segments in its middle with "…" — the first
/// segments (what and where) and the last ones (which number) are what a reader needs — or,
/// if even that is too wide, by keeping its end.
pub fn fit_path(c: &Canvas, path: &str, em: f64, width: f64) -> String {
    if c.text_width(path, em) <= width {
        return path.to_string();
    }
    let parts: Vec<&str> = path.split('.').collect();
    let n = parts.len();
    // Preference: the last two segments (which number, of what), then the first two (section
    // and town or resource), then as many characters as fit.
    let mut best: Option<((usize, usize, usize), String)> = None;
    for head in 1..n {
        for tail in 1..n - head {
            let s = format!("{}…{}", parts[..head].join("."), parts[n - tail..].join("."));
            let score = (tail.min(2), head.min(2), s.chars().count());
            if c.text_width(&s, em) <= width && best.as_ref().is_none_or(|(b, _)| score > *b) {
                best = Some((score, s));
            }
        }
    }
    if let Some((_, s)) = best {
        return s;
    }
    let chars: Vec<char> = path.chars().collect();
    for k in (0..chars.len()).rev() {
        let s: String = std::iter::once('…').chain(chars[chars.len() - k..].iter().copied()).collect();
        if c.text_width(&s, em) <= width {
            return s;
        }
    }
    "…".into()
}

/// Ticks for an axis from `lo` to `hi` that is `px` pixels long: multiples of a nice step
/// (whole numbers when `integral`) inside the range, spaced at least `min_gap` pixels apart.
pub fn ticks(lo: f64, hi: f64, px: f64, min_gap: f64, integral: bool) -> (Vec<f64>, f64) {
    let span = if hi > lo { hi - lo } else { 1.0 };
    let mut target = (px / min_gap.max(1.0)).floor().clamp(1.0, 10.0);
    loop {
        let step = nice_step(span, target, integral);
        if step / span * px >= min_gap || target <= 1.0 {
            let first = (lo / step - 1e-9).ceil() as i64;
            let last = (hi / step + 1e-9).floor() as i64;
            let ticks = (first..=last).map(|k| k as f64 * step).map(|v| if v == 0.0 { 0.0 } else { v }).collect();
            return (ticks, step);
        }
        target -= 1.0;
    }
}

/// Draws the title and the subtitle (wrapped) from the top margin; returns the y below them.
pub fn header(c: &mut Canvas, title: &str, subtitle: &str) -> f64 {
    let width = f64::from(c.width) - 2.0 * MARGIN;
    let mut y = MARGIN - 4.0;
    for line in wrap(c, title, size::TITLE, width) {
        c.text(MARGIN, y, &line, size::TITLE, palette::TEXT, (HAlign::Left, VAlign::Top));
        y += line_height(size::TITLE);
    }
    y += 4.0;
    for line in wrap(c, subtitle, size::SUBTITLE, width) {
        c.text(MARGIN, y, &line, size::SUBTITLE, palette::MUTED, (HAlign::Left, VAlign::Top));
        y += line_height(size::SUBTITLE) + 2.0;
    }
    y + 6.0
}

/// The footnote's lines at this chart width (measure before laying out the panels).
pub fn footnote_lines(c: &Canvas, text: &str) -> Vec<String> {
    wrap(c, text, size::SMALL, f64::from(c.width) - 2.0 * MARGIN)
}

/// Height the footnote takes, rule and margin included.
pub fn footnote_height(lines: &[String]) -> f64 {
    12.0 + lines.len() as f64 * (line_height(size::SMALL) + 2.0) + MARGIN - 8.0
}

/// Draws the footnote at the bottom of the chart above a thin rule.
pub fn footnote(c: &mut Canvas, lines: &[String]) {
    let h = f64::from(c.height);
    let top = h - footnote_height(lines);
    c.fill_rect(MARGIN, top, f64::from(c.width) - MARGIN, top + 1.0, palette::GRID, 1.0);
    let mut y = top + 8.0;
    for line in lines {
        c.text(MARGIN, y, line, size::SMALL, palette::MUTED, (HAlign::Left, VAlign::Top));
        y += line_height(size::SMALL) + 2.0;
    }
}

/// A legend entry's symbol.
#[derive(Clone, Copy, Debug)]
pub enum Key {
    /// A line.
    Line(Rgb, f64),
    /// A dashed line.
    Dashed(Rgb, f64),
    /// A filled swatch with opacity.
    Swatch(Rgb, f64),
    /// A swatch with an outline (e.g. white "0" cells).
    Outlined(Rgb, Rgb),
    /// A diamond marker.
    Diamond(Rgb),
    /// A dot.
    Dot(Rgb),
    /// A hollow circle.
    Ring(Rgb),
    /// A horizontal whisker with end caps.
    Whisker(Rgb),
    /// A step line.
    Step(Rgb, f64),
    /// A rectangle hatched with diagonal lines (`ink` on `fill`).
    Hatched(Rgb, Rgb),
    /// A span: a tick at its start, a bar, a diamond at its end (decision → opening).
    Span(Rgb),
    /// A data series: a line of the given width with its marker in the middle.
    Series(Rgb, f64, Marker),
    /// A horizontal bar of the given height (a bar chart's series).
    Bar(Rgb, f64),
}

/// A marker shape. With a colour it tells series apart without relying on colour alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Marker {
    /// A filled circle.
    Circle,
    /// A filled square.
    Square,
    /// A filled diamond.
    Diamond,
    /// A triangle pointing up.
    TriangleUp,
    /// A triangle pointing down.
    TriangleDown,
}

impl Marker {
    /// Every shape, in the order series take them.
    pub const ALL: [Marker; 5] =
        [Marker::Circle, Marker::Square, Marker::Diamond, Marker::TriangleUp, Marker::TriangleDown];
}

/// Draws a marker of about radius `r` centred on `(x, y)`, with a white rim so markers that
/// sit on top of each other stay distinct.
pub fn marker(c: &mut Canvas, m: Marker, x: f64, y: f64, r: f64, color: Rgb) {
    let white = Rgb(255, 255, 255);
    let rim = 1.5;
    let shape = |c: &mut Canvas, r: f64, col: Rgb| match m {
        Marker::Circle => c.dot(x, y, r, col),
        Marker::Square => {
            let h = r * 0.9;
            c.fill_rect(x - h, y - h, x + h, y + h, col, 1.0);
        }
        Marker::Diamond => {
            let d = r * 1.25;
            c.polygon(&[(x, y - d), (x + d, y), (x, y + d), (x - d, y)], col, 1.0);
        }
        Marker::TriangleUp => {
            let d = r * 1.2;
            c.polygon(&[(x, y - d), (x + d, y + d * 0.75), (x - d, y + d * 0.75)], col, 1.0);
        }
        Marker::TriangleDown => {
            let d = r * 1.2;
            c.polygon(&[(x, y + d), (x + d, y - d * 0.75), (x - d, y - d * 0.75)], col, 1.0);
        }
    };
    shape(c, r + rim, white);
    shape(c, r, color);
}

const KEY_W: f64 = 34.0;

/// Draws a legend symbol in the box `(x, y_mid)` … `(x + KEY_W)`.
pub fn draw_key(c: &mut Canvas, key: Key, x: f64, ym: f64) {
    match key {
        Key::Line(col, w) => c.line(&[(x, ym), (x + KEY_W, ym)], col, w),
        Key::Dashed(col, w) => c.dashed_line(&[(x, ym), (x + KEY_W, ym)], col, w, 7.0, 4.0),
        Key::Swatch(col, a) => c.fill_rect(x, ym - 7.0, x + KEY_W, ym + 7.0, col, a),
        Key::Outlined(fill, edge) => {
            c.fill_rect(x, ym - 7.0, x + KEY_W, ym + 7.0, fill, 1.0);
            c.stroke_rect(x, ym - 7.0, x + KEY_W, ym + 7.0, edge, 1.0);
        }
        Key::Diamond(col) => c.diamond(x + KEY_W / 2.0, ym, 7.0, col, palette::BLACK),
        Key::Dot(col) => c.dot(x + KEY_W / 2.0, ym, 5.0, col),
        Key::Ring(col) => {
            c.dot(x + KEY_W / 2.0, ym, 6.0, col);
            c.dot(x + KEY_W / 2.0, ym, 4.0, Rgb(255, 255, 255));
        }
        Key::Whisker(col) => {
            c.line(&[(x + 2.0, ym), (x + KEY_W - 2.0, ym)], col, 2.0);
            c.line(&[(x + 2.0, ym - 6.0), (x + 2.0, ym + 6.0)], col, 2.0);
            c.line(&[(x + KEY_W - 2.0, ym - 6.0), (x + KEY_W - 2.0, ym + 6.0)], col, 2.0);
        }
        Key::Step(col, w) => c.line(
            &[(x, ym + 6.0), (x + KEY_W / 2.0, ym + 6.0), (x + KEY_W / 2.0, ym - 6.0), (x + KEY_W, ym - 6.0)],
            col,
            w,
        ),
        Key::Hatched(ink, fill) => {
            let r = Rect { x0: x, y0: ym - 7.0, x1: x + KEY_W, y1: ym + 7.0 };
            c.fill_rect(r.x0, r.y0, r.x1, r.y1, fill, 1.0);
            hatch(c, r, ink, 6.0, 1.2);
        }
        Key::Span(col) => {
            c.fill_rect(x + 1.0, ym - 5.0, x + 3.0, ym + 5.0, palette::TEXT, 1.0);
            c.fill_rect(x + 2.0, ym - 1.5, x + KEY_W - 6.0, ym + 1.5, col, 1.0);
            c.diamond(x + KEY_W - 6.0, ym, 6.0, col, palette::BLACK);
        }
        Key::Series(col, w, m) => {
            c.line(&[(x, ym), (x + KEY_W, ym)], col, w);
            marker(c, m, x + KEY_W / 2.0, ym, 5.0, col);
        }
        Key::Bar(col, h) => c.fill_rect(x, ym - h / 2.0, x + KEY_W, ym + h / 2.0, col, 1.0),
    }
}

/// Fills `r` with diagonal lines (lower left to upper right) `spacing` apart, clipped to `r`.
pub fn hatch(c: &mut Canvas, r: Rect, color: Rgb, spacing: f64, width: f64) {
    // Lines x − (y1 − y) = k: from the bottom edge (or the left edge) up to the top edge (or the
    // right edge). k starts left of the rectangle so the lower-left corner is covered too.
    let (w, h) = (r.w(), r.h());
    if w <= 0.0 || h <= 0.0 {
        return;
    }
    let n = ((w + h) / spacing).ceil() as i64;
    for i in 1..n {
        let k = i as f64 * spacing - h;
        // Bottom end: (x0 + k, y1) if k ≥ 0, else on the left edge at (x0, y1 + k).
        let (ax, ay) = if k >= 0.0 { (r.x0 + k, r.y1) } else { (r.x0, r.y1 + k) };
        // Top end: (x0 + k + h, y0) if that is inside, else on the right edge.
        let (bx, by) = if k + h <= w { (r.x0 + k + h, r.y0) } else { (r.x1, r.y1 - (w - k)) };
        if ax < bx {
            c.line(&[(ax, ay), (bx, by)], color, width);
        }
    }
}

/// Draws legend entries left to right from `(x0, y)`, wrapping within `x1`; returns the y
/// below the legend.
pub fn legend(c: &mut Canvas, entries: &[(Key, String)], x0: f64, x1: f64, y: f64) -> f64 {
    let row_h = line_height(size::LEGEND) + 8.0;
    let mut x = x0;
    let mut y = y;
    for (key, label) in entries {
        let w = KEY_W + 8.0 + c.text_width(label, size::LEGEND);
        if x > x0 && x + w > x1 {
            x = x0;
            y += row_h;
        }
        let ym = y + row_h / 2.0;
        draw_key(c, *key, x, ym);
        c.text(x + KEY_W + 8.0, ym, label, size::LEGEND, palette::TEXT, (HAlign::Left, VAlign::Middle));
        x += w + 28.0;
    }
    y + row_h + 6.0
}

/// Columns and rows of a grid of `n` panels in `area`: panels close to 1.45:1, few empty cells.
pub fn grid(n: usize, area: Rect) -> (usize, usize) {
    let mut best = (1, n.max(1));
    let mut best_err = f64::INFINITY;
    for cols in 1..=n.max(1) {
        let rows = n.div_ceil(cols).max(1);
        let aspect = (area.w() / cols as f64) / (area.h() / rows as f64);
        // Empty cells waste room the panels need: each costs about as much as a panel 40 % too wide.
        let empty = (cols * rows - n) as f64;
        let err = (aspect.ln() - 1.45f64.ln()).abs() + 0.35 * empty;
        if err < best_err - 1e-9 {
            best = (cols, rows);
            best_err = err;
        }
    }
    best
}

/// Tick step for a range: 1, 2, 2.5 or 5 × 10^k giving about `target` intervals (whole
/// numbers when `integral`).
pub fn nice_step(span: f64, target: f64, integral: bool) -> f64 {
    let span = if span > 0.0 && span.is_finite() { span } else { 1.0 };
    let raw = span / target.max(1.0);
    let mag = 10f64.powf(raw.log10().floor());
    let mut step = [1.0, 2.0, 2.5, 5.0, 10.0].iter().map(|m| m * mag).find(|s| *s >= raw * 0.999).unwrap_or(10.0 * mag);
    if integral {
        step = step.max(1.0);
        if step.fract() != 0.0 {
            step = step.ceil();
        }
    }
    step
}

/// Decimals needed to print multiples of `step`.
pub fn step_decimals(step: f64) -> usize {
    let mut dp = 0;
    while dp < 6 && ((step * 10f64.powi(dp as i32)).round() - step * 10f64.powi(dp as i32)).abs() > 1e-6 {
        dp += 1;
    }
    dp
}

/// A value axis from 0: the top (a multiple of the step) and the step.
pub fn value_axis(max: f64, px: f64, integral: bool) -> (f64, f64) {
    let target = (px / 70.0).clamp(2.0, 8.0);
    let max = if max > 0.0 && max.is_finite() { max * 1.04 } else { 1.0 };
    let step = nice_step(max, target, integral);
    ((max / step).ceil().max(1.0) * step, step)
}

/// A plot area and its data ranges (x in years or values, y in values).
#[derive(Clone, Copy, Debug)]
pub struct Plot {
    /// Pixel rectangle.
    pub r: Rect,
    /// x at the left edge.
    pub xmin: f64,
    /// x at the right edge.
    pub xmax: f64,
    /// y at the bottom.
    pub ymin: f64,
    /// y at the top.
    pub ymax: f64,
}

impl Plot {
    /// Pixel x of a data x.
    pub fn x(&self, v: f64) -> f64 {
        self.r.x0 + (v - self.xmin) / (self.xmax - self.xmin) * self.r.w()
    }
    /// Pixel y of a data y.
    pub fn y(&self, v: f64) -> f64 {
        self.r.y1 - (v - self.ymin) / (self.ymax - self.ymin) * self.r.h()
    }
}

/// Width of the widest y tick label of an axis 0 … `top` by `step`.
pub fn y_label_width(c: &Canvas, top: f64, step: f64) -> f64 {
    let dp = step_decimals(step);
    let n = (top / step).round() as i64;
    (0..=n).map(|i| c.text_width(&grouped(i as f64 * step, dp), size::SMALL)).fold(0.0, f64::max)
}

/// Draws horizontal grid lines and y tick labels (left of the plot) for 0 … ymax by `step`.
pub fn y_axis(c: &mut Canvas, p: &Plot, step: f64) {
    let dp = step_decimals(step);
    let n = ((p.ymax - p.ymin) / step).round() as i64;
    for i in 0..=n {
        let v = p.ymin + i as f64 * step;
        let y = p.y(v);
        c.fill_rect(p.r.x0, y - 0.5, p.r.x1, y + 0.5, palette::GRID, 1.0);
        c.text(p.r.x0 - 7.0, y, &grouped(v, dp), size::SMALL, palette::MUTED, (HAlign::Right, VAlign::Middle));
    }
}

/// Draws year ticks along the bottom of a plot whose x is in years: a small tick every year,
/// a label every 1, 2, 5 or 10 years (whichever first leaves room), always on the first year.
pub fn x_years(c: &mut Canvas, p: &Plot, first: i32, last: i32) {
    let per_year = p.r.w() / (p.xmax - p.xmin);
    let label_w = c.text_width("2035", size::SMALL) + 10.0;
    let every = label_every(first, last, per_year, label_w);
    let y = p.r.y1;
    c.fill_rect(p.r.x0, y - 0.5, p.r.x1, y + 1.0, palette::AXIS, 1.0);
    for year in first..=last {
        let x = p.x(f64::from(year));
        let labelled = (year - first) % every == 0;
        let len = if labelled { 6.0 } else { 3.0 };
        c.fill_rect(x - 0.6, y, x + 0.6, y + len, palette::AXIS, 1.0);
        if labelled {
            c.text(x, y + 8.0, &year.to_string(), size::SMALL, palette::MUTED, (HAlign::Center, VAlign::Top));
        }
    }
}

/// Years between labels: the smallest of 1, 2, 5, 10, 20, 50 that leaves room for the label,
/// preferring one that divides the span so the last year is labelled too (2020, 2025 … 2035).
pub fn label_every(first: i32, last: i32, per_year: f64, label_w: f64) -> i32 {
    let fits = |k: &i32| f64::from(*k) * per_year >= label_w;
    let span = last - first;
    [1, 2, 5, 10, 20, 50]
        .into_iter()
        .filter(fits)
        .find(|k| span % k == 0 && span / k >= 2)
        .or_else(|| [1, 2, 5, 10, 20, 50].into_iter().find(fits))
        .unwrap_or(100)
}

/// Height under a plot taken by the year labels.
pub fn x_years_height() -> f64 {
    8.0 + line_height(size::SMALL) + 2.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_nice() {
        assert_eq!(nice_step(1_000_000.0, 5.0, false), 200_000.0);
        assert_eq!(nice_step(12.0, 5.0, false), 2.5);
        assert_eq!(nice_step(12.0, 5.0, true), 3.0);
        assert_eq!(nice_step(3.0, 5.0, true), 1.0);
        assert_eq!(nice_step(0.8, 4.0, false), 0.2);
        assert_eq!(step_decimals(2.5), 1);
        assert_eq!(step_decimals(200_000.0), 0);
        assert_eq!(step_decimals(0.25), 2);
    }

    #[test]
    fn year_labels_end_on_the_last_year() {
        assert_eq!(label_every(2020, 2035, 25.0, 40.0), 5);
        assert_eq!(label_every(2020, 2035, 60.0, 40.0), 1);
        assert_eq!(label_every(2020, 2034, 25.0, 40.0), 2);
    }

    #[test]
    fn value_axis_covers_the_data() {
        for max in [0.0, 0.7, 3.0, 17.0, 950_000.0, 1_234_567.0] {
            let (top, step) = value_axis(max, 300.0, false);
            assert!(top >= max && step > 0.0 && (top / step - (top / step).round()).abs() < 1e-9, "{max}");
        }
    }

    #[test]
    fn ticks_are_nice_and_apart() {
        let (t, step) = ticks(950_000.0, 1_250_000.0, 600.0, 90.0, false);
        assert_eq!(step, 50_000.0);
        assert_eq!(t, [950_000.0, 1_000_000.0, 1_050_000.0, 1_100_000.0, 1_150_000.0, 1_200_000.0, 1_250_000.0]);
        let (t, step) = ticks(-0.1, 1.3, 300.0, 60.0, false);
        assert!(t.windows(2).all(|w| (w[1] - w[0]) / 1.4 * 300.0 >= 60.0), "{t:?} {step}");
        assert!(t.contains(&0.0) && t.iter().all(|v| (-0.1..=1.3).contains(v)));
        let (t, _) = ticks(2020.0, 2035.0, 200.0, 50.0, true);
        assert!(t.iter().all(|v| v.fract() == 0.0));
    }

    #[test]
    fn grids_suit_the_panels() {
        let area = Rect { x0: 0.0, y0: 0.0, x1: 1540.0, y1: 760.0 };
        assert_eq!(grid(6, area), (3, 2));
        assert_eq!(grid(2, area), (2, 1));
        assert_eq!(grid(1, area), (1, 1));
        // A short, wide area: three columns rather than four with two empty cells.
        assert_eq!(grid(6, Rect { x0: 0.0, y0: 0.0, x1: 900.0, y1: 330.0 }), (3, 2));
    }

    #[test]
    fn wrapping_and_fitting() {
        let f = super::super::canvas::ChartFont::embedded();
        let c = Canvas::new(400, 100, &f);
        let lines = wrap(&c, "one two three four five six seven eight nine ten", 14.0, 120.0);
        assert!(lines.len() > 2 && lines.iter().all(|l| c.text_width(l, 14.0) <= 120.0), "{lines:?}");
        let zh = wrap(&c, "情景：示例五个示意新城，抽样二千次", 14.0, 60.0);
        assert!(zh.len() > 2 && zh.iter().all(|l| c.text_width(l, 14.0) <= 60.0), "{zh:?}");
        // No line starts with closing punctuation or ends with opening punctuation.
        for width in [40.0, 50.0, 60.0, 70.0, 80.0, 90.0] {
            let lines =
                wrap(&c, "年份（决策年份加建设周期），标注为项目规模。投用可能延期：规模“已考虑”延期。", 14.0, width);
            for l in &lines {
                assert!(!l.starts_with(['，', '。', '）', '：', '”']), "{width}: {lines:?}");
                assert!(!l.ends_with(['（', '“']), "{width}: {lines:?}");
            }
        }
        let path = "capacity.songjiang.sports_parks.projects.sports_park_songjiang.delay";
        let short = fit_path(&c, path, 14.0, 340.0);
        assert!(c.text_width(&short, 14.0) <= 340.0, "{short}");
        assert!(short.starts_with("capacity.songjiang") && short.ends_with("sports_park_songjiang.delay"), "{short}");
        assert_eq!(fit_path(&c, "key:policy", 14.0, 300.0), "key:policy");
        assert!(c.text_width(&fit_path(&c, path, 14.0, 60.0), 14.0) <= 60.0);
        let s = fit(&c, "Community elderly-care floor area", 14.0, 100.0);
        assert!(s.ends_with('…') && c.text_width(&s, 14.0) <= 100.0);
    }
}
