//! The raster surface every chart is drawn on: plotters' bitmap backend rasterises the shapes,
//! and text is drawn from the embedded font with ab_glyph, so that every string is measured
//! exactly before it is placed (that is how nothing overlaps or is clipped).
//!
//! Why not plotters' own text path: its ab_glyph backend places the baseline at half the font
//! size and drops each glyph's side bearing, and its layout box is an estimate, which makes
//! exact placement of labels impossible. Shapes go through plotters unchanged.
//!
//! Charts are drawn at `SUPERSAMPLE`× the requested size in logical pixels and averaged down
//! (box filter), which anti-aliases lines and polygons that plotters draws aliased. Everything
//! is integer or IEEE arithmetic in a fixed order on one thread: the same inputs give the same
//! bytes.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use ab_glyph::{Font, FontArc, GlyphId, PxScale, ScaleFont, point};
use plotters::prelude::*;

use crate::{Error, Result};

/// The embedded font: a subset of Noto Sans CJK SC (see `assets/fonts/OFL.txt` and
/// `scripts/make-font.py`). It holds Latin and the 3,755 GB2312 level-1 hanzi.
pub static EMBEDDED_FONT: &[u8] = include_bytes!("../../../assets/fonts/NotoSansSC-capsim.otf");

/// Drawing resolution per logical pixel (anti-aliasing by supersampling).
pub const SUPERSAMPLE: u32 = 2;

/// A font for chart text (cheap to clone).
#[derive(Clone, Debug)]
pub struct ChartFont {
    font: FontArc,
    /// Scale of one pixel per em, as ab_glyph's `PxScale` (which is relative to the font height).
    px_per_em: f32,
    /// Where the font came from (for messages).
    pub origin: Arc<str>,
}

impl ChartFont {
    /// The embedded font.
    pub fn embedded() -> ChartFont {
        // The embedded file is checked by the tests; a failure here is a build defect.
        let font = FontArc::try_from_slice(EMBEDDED_FONT).expect("the embedded chart font is a valid OpenType font");
        ChartFont::new(font, "the embedded Noto Sans CJK SC subset")
    }

    /// A font read from a file (`--font PATH`): TrueType or OpenType, not a collection.
    pub fn from_file(path: &Path) -> Result<ChartFont> {
        let bytes = crate::scenario::tree::read_bytes_limited(path, super::MAX_FONT_BYTES)
            .map_err(|e| Error::Input(format!("--font: {e}")))?;
        let font = FontArc::try_from_vec(bytes).map_err(|_| {
            Error::Input(format!(
                "--font {}: not a TrueType/OpenType font file (.ttf/.otf; a .ttc collection must be split first, \
                 see scripts/make-font.py)",
                path.display()
            ))
        })?;
        let f = ChartFont::new(font, &path.display().to_string());
        if f.font.glyph_id('0').0 == 0 || f.font.glyph_id('A').0 == 0 {
            return Err(Error::Input(format!(
                "--font {}: the font has no Latin letters or digits; charts need one font holding both Latin and \
                 Chinese",
                path.display()
            )));
        }
        Ok(f)
    }

    fn new(font: FontArc, origin: &str) -> ChartFont {
        let upem = font.units_per_em().unwrap_or(1000.0);
        let px_per_em = font.height_unscaled() / upem;
        ChartFont { font, px_per_em, origin: origin.into() }
    }

    fn scale(&self, em_px: f64) -> PxScale {
        PxScale::from(em_px as f32 * self.px_per_em)
    }

    /// Whether the font has a glyph for `c`.
    pub fn has(&self, c: char) -> bool {
        c.is_control() || c == ' ' || self.font.glyph_id(c).0 != 0
    }

    /// Advance width of `text` at `em_px` pixels per em.
    pub fn width(&self, text: &str, em_px: f64) -> f64 {
        let sf = self.font.as_scaled(self.scale(em_px));
        let mut w = 0f32;
        let mut prev: Option<GlyphId> = None;
        for c in text.chars() {
            let id = sf.glyph_id(c);
            if let Some(p) = prev {
                w += sf.kern(p, id);
            }
            w += sf.h_advance(id);
            prev = Some(id);
        }
        f64::from(w)
    }
}

/// An RGB colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rgb(pub u8, pub u8, pub u8);

impl Rgb {
    /// From `0xRRGGBB`.
    pub const fn hex(v: u32) -> Rgb {
        Rgb((v >> 16) as u8, (v >> 8) as u8, v as u8)
    }

    /// This colour mixed with white: `t` = 1 is the colour, 0 is white.
    pub fn tint(self, t: f64) -> Rgb {
        let m = |c: u8| (255.0 - (255.0 - f64::from(c)) * t).round() as u8;
        Rgb(m(self.0), m(self.1), m(self.2))
    }

    /// Relative luminance (0 black … 1 white), for choosing text colour on a fill.
    pub fn luminance(self) -> f64 {
        let lin = |c: u8| {
            let c = f64::from(c) / 255.0;
            if c <= 0.04045 { c / 12.92 } else { ((c + 0.055) / 1.055).powf(2.4) }
        };
        0.2126 * lin(self.0) + 0.7152 * lin(self.1) + 0.0722 * lin(self.2)
    }

    fn rgba(self, alpha: f64) -> RGBAColor {
        RGBAColor(self.0, self.1, self.2, alpha)
    }
}

/// Horizontal alignment of text at its anchor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HAlign {
    /// Anchor at the left end.
    Left,
    /// Anchor at the middle.
    Center,
    /// Anchor at the right end.
    Right,
}

/// Vertical alignment of text at its anchor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VAlign {
    /// Anchor at the top of the text box.
    Top,
    /// Anchor at the visual middle (half the height of a capital or a hanzi).
    Middle,
    /// Anchor on the baseline.
    Baseline,
    /// Anchor at the bottom of the text box (below descenders).
    Bottom,
}

/// Height of a text box in ems: from `ASCENT` above the baseline to `DESCENT` below. Hanzi
/// reach about 0.88 em above the baseline and 0.12 em below; Latin descenders about 0.2 em.
pub const ASCENT: f64 = 0.90;
/// See [`ASCENT`].
pub const DESCENT: f64 = 0.24;
/// Half the height of a capital letter or a hanzi, in ems (for centring text on a point).
const MIDDLE: f64 = 0.37;

/// Height of a line of text at `em` pixels per em.
pub fn line_height(em: f64) -> f64 {
    (ASCENT + DESCENT) * em
}

/// A chart being drawn: logical coordinates in pixels of the final image, `(0, 0)` top left.
pub struct Canvas {
    /// Width in logical pixels.
    pub width: u32,
    /// Height in logical pixels.
    pub height: u32,
    ss: u32,
    buf: Vec<u8>,
    font: ChartFont,
    /// Characters drawn that the font lacks (drawn as boxes).
    pub missing: BTreeSet<char>,
    /// Every text drawn and its box `(x0, y0, x1, y1)`, in drawing order (tests check that no
    /// two overlap and none is clipped: [`Canvas::text_problems`]).
    pub text_boxes: Vec<(String, [f64; 4])>,
}

impl Canvas {
    /// A white canvas.
    pub fn new(width: u32, height: u32, font: &ChartFont) -> Canvas {
        let ss = SUPERSAMPLE;
        let buf = vec![255u8; (width * ss) as usize * (height * ss) as usize * 3];
        Canvas { width, height, ss, buf, font: font.clone(), missing: BTreeSet::new(), text_boxes: Vec::new() }
    }

    fn dev(&self, v: f64) -> i32 {
        (v * f64::from(self.ss)).round() as i32
    }

    fn pt(&self, (x, y): (f64, f64)) -> (i32, i32) {
        (self.dev(x), self.dev(y))
    }

    fn with_backend(&mut self, f: impl FnOnce(&mut BitMapBackend<'_>)) {
        let size = (self.width * self.ss, self.height * self.ss);
        let mut be = BitMapBackend::with_buffer(&mut self.buf, size);
        f(&mut be);
    }

    /// Fills an axis-aligned rectangle given by two corners.
    pub fn fill_rect(&mut self, x0: f64, y0: f64, x1: f64, y1: f64, color: Rgb, alpha: f64) {
        let (a, b) = (self.pt((x0.min(x1), y0.min(y1))), self.pt((x0.max(x1), y0.max(y1))));
        if b.0 <= a.0 || b.1 <= a.1 {
            return;
        }
        // plotters' rectangles include their bottom-right corner; stop one device pixel short so
        // adjacent cells do not overlap.
        let style = color.rgba(alpha).filled();
        self.with_backend(|be| {
            let _ = be.draw_rect(a, (b.0 - 1, b.1 - 1), &style, true);
        });
    }

    /// Outlines a rectangle with a line `width` logical pixels wide (drawn inside the edge).
    pub fn stroke_rect(&mut self, x0: f64, y0: f64, x1: f64, y1: f64, color: Rgb, width: f64) {
        self.fill_rect(x0, y0, x1, y0 + width, color, 1.0);
        self.fill_rect(x0, y1 - width, x1, y1, color, 1.0);
        self.fill_rect(x0, y0, x0 + width, y1, color, 1.0);
        self.fill_rect(x1 - width, y0, x1, y1, color, 1.0);
    }

    /// A polyline `width` logical pixels wide.
    pub fn line(&mut self, points: &[(f64, f64)], color: Rgb, width: f64) {
        // Repeated points make zero-length segments, whose joints plotters cannot orient.
        let mut pts: Vec<(i32, i32)> = points.iter().map(|&p| self.pt(p)).collect();
        pts.dedup();
        if pts.len() < 2 {
            return;
        }
        let w = ((width * f64::from(self.ss)).round() as u32).max(1);
        let style = ShapeStyle { color: color.rgba(1.0), filled: false, stroke_width: w };
        self.with_backend(|be| {
            let _ = be.draw_path(pts.iter().copied(), &style);
        });
        // Round the joints and ends a little, so thick segments meet without notches.
        if w > 2 {
            let r = w / 2;
            let dots = pts;
            let fill = color.rgba(1.0).filled();
            self.with_backend(|be| {
                for d in dots {
                    let _ = be.draw_circle(d, r, &fill, true);
                }
            });
        }
    }

    /// A dashed polyline: `dash` drawn, `gap` skipped, measured along the line.
    pub fn dashed_line(&mut self, points: &[(f64, f64)], color: Rgb, width: f64, dash: f64, gap: f64) {
        let mut on = true;
        let mut left = dash;
        let mut current: Vec<(f64, f64)> = Vec::new();
        for seg in points.windows(2) {
            let (a, b) = (seg[0], seg[1]);
            let len = ((b.0 - a.0).powi(2) + (b.1 - a.1).powi(2)).sqrt();
            let mut t = 0.0;
            if on && current.is_empty() {
                current.push(a);
            }
            while len - t > left {
                t += left;
                let p = (a.0 + (b.0 - a.0) * t / len, a.1 + (b.1 - a.1) * t / len);
                if on {
                    current.push(p);
                    self.line(&current, color, width);
                    current.clear();
                } else {
                    current.push(p);
                }
                on = !on;
                left = if on { dash } else { gap };
            }
            left -= len - t;
            if on {
                current.push(b);
            }
        }
        if on && current.len() > 1 {
            self.line(&current, color, width);
        }
    }

    /// A filled polygon (for bands: upper points, then lower points reversed).
    pub fn polygon(&mut self, points: &[(f64, f64)], color: Rgb, alpha: f64) {
        if points.len() < 3 {
            return;
        }
        let pts: Vec<(i32, i32)> = points.iter().map(|&p| self.pt(p)).collect();
        let style = color.rgba(alpha).filled();
        self.with_backend(|be| {
            let _ = be.fill_polygon(pts, &style);
        });
    }

    /// A filled circle.
    pub fn dot(&mut self, x: f64, y: f64, r: f64, color: Rgb) {
        let c = self.pt((x, y));
        let r = (r * f64::from(self.ss)).round().max(1.0) as u32;
        let style = color.rgba(1.0).filled();
        self.with_backend(|be| {
            let _ = be.draw_circle(c, r, &style, true);
        });
    }

    /// A diamond marker of half-diagonal `r`, filled with `fill` and outlined in `edge`.
    pub fn diamond(&mut self, x: f64, y: f64, r: f64, fill: Rgb, edge: Rgb) {
        let outer = [(x, y - r), (x + r, y), (x, y + r), (x - r, y)];
        self.polygon(&outer, edge, 1.0);
        let i = r - 1.6;
        if i > 0.5 {
            let inner = [(x, y - i), (x + i, y), (x, y + i), (x - i, y)];
            self.polygon(&inner, fill, 1.0);
        }
    }

    /// Width of `text` at `em` pixels per em.
    pub fn text_width(&self, text: &str, em: f64) -> f64 {
        self.font.width(text, em)
    }

    /// Draws `text` with its anchor (horizontal, vertical alignment) at `(x, y)`; returns its box
    /// `(x0, y0, x1, y1)`.
    pub fn text(
        &mut self,
        x: f64,
        y: f64,
        text: &str,
        em: f64,
        color: Rgb,
        (h, v): (HAlign, VAlign),
    ) -> (f64, f64, f64, f64) {
        let w = self.text_width(text, em);
        let x0 = match h {
            HAlign::Left => x,
            HAlign::Center => x - w / 2.0,
            HAlign::Right => x - w,
        };
        let baseline = match v {
            VAlign::Top => y + ASCENT * em,
            VAlign::Middle => y + MIDDLE * em,
            VAlign::Baseline => y,
            VAlign::Bottom => y - DESCENT * em,
        };
        self.glyphs(text, em, x0, baseline, color, false);
        let b = (x0, baseline - ASCENT * em, x0 + w, baseline + DESCENT * em);
        self.text_boxes.push((text.to_string(), [b.0, b.1, b.2, b.3]));
        b
    }

    /// Draws `text` rotated a quarter turn counter-clockwise (reading upwards), centred on
    /// `(x, y)` (both along and across the text).
    pub fn text_vertical(&mut self, x: f64, y: f64, text: &str, em: f64, color: Rgb) {
        let w = self.text_width(text, em);
        // In the rotated frame, "along" runs up the page and "baseline" is to the right of the
        // glyphs' tops: a baseline at x + MIDDLE·em centres the text on x.
        self.glyphs(text, em, y + w / 2.0, x + MIDDLE * em, color, true);
        // Rotated, the glyphs' tops point left of the baseline x + MIDDLE·em, descenders right.
        let base = x + MIDDLE * em;
        self.text_boxes.push((text.to_string(), [base - ASCENT * em, y - w / 2.0, base + DESCENT * em, y + w / 2.0]));
    }

    /// Rasterises glyphs. Unrotated: pen starts at `(along, base)` = (x, baseline). Rotated:
    /// the pen starts at y = `along` and moves up; the baseline is the vertical line x = `base`.
    fn glyphs(&mut self, text: &str, em: f64, along: f64, base: f64, color: Rgb, rotated: bool) {
        let ss = f64::from(self.ss);
        let scale = self.font.scale(em * ss);
        let font = self.font.font.clone();
        let sf = font.as_scaled(scale);
        let (dw, dh) = ((self.width * self.ss) as i32, (self.height * self.ss) as i32);
        let mut caret = 0f32;
        let mut prev: Option<GlyphId> = None;
        for c in text.chars() {
            if !self.font.has(c) {
                self.missing.insert(c);
            }
            let id = sf.glyph_id(c);
            if let Some(p) = prev {
                caret += sf.kern(p, id);
            }
            prev = Some(id);
            // Lay the glyph out horizontally at the origin with its baseline at y = 0; rotate
            // when blitting. Sub-pixel positions are kept (f32, deterministic).
            let glyph = id.with_scale_and_position(scale, point(caret, 0.0));
            caret += sf.h_advance(id);
            let Some(outlined) = sf.outline_glyph(glyph) else { continue };
            let b = outlined.px_bounds();
            let (ox, oy) = (b.min.x as i32, b.min.y as i32);
            let along0 = (along * ss) as f32;
            let base0 = (base * ss) as f32;
            let buf = &mut self.buf;
            outlined.draw(|gx, gy, cov| {
                let (lx, ly) = (ox + gx as i32, oy + gy as i32);
                let (px, py) = if rotated {
                    // Horizontal x → upwards; horizontal y (down from baseline) → rightwards
                    // from the baseline... mirrored: glyph tops (negative y) point left.
                    ((base0.round() as i32) + ly, (along0.round() as i32) - lx)
                } else {
                    ((along0.round() as i32) + lx, (base0.round() as i32) + ly)
                };
                if px < 0 || py < 0 || px >= dw || py >= dh {
                    return;
                }
                let i = (py as usize * dw as usize + px as usize) * 3;
                let a = cov.clamp(0.0, 1.0);
                for (k, c) in [color.0, color.1, color.2].into_iter().enumerate() {
                    let old = f32::from(buf[i + k]);
                    buf[i + k] = (old + (f32::from(c) - old) * a).round() as u8;
                }
            });
        }
    }

    /// Texts that overlap another text by more than `tolerance` pixels each way, or reach
    /// outside the canvas: one line per problem (empty when the layout is clean).
    pub fn text_problems(&self, tolerance: f64) -> Vec<String> {
        let (w, h) = (f64::from(self.width), f64::from(self.height));
        let mut out = Vec::new();
        for (i, (t, b)) in self.text_boxes.iter().enumerate() {
            if t.trim().is_empty() {
                continue;
            }
            if b[0] < -tolerance || b[1] < -tolerance || b[2] > w + tolerance || b[3] > h + tolerance {
                out.push(format!("{t:?} at {b:?} is clipped by the {w}×{h} canvas"));
            }
            for (u, d) in &self.text_boxes[i + 1..] {
                let dx = b[2].min(d[2]) - b[0].max(d[0]);
                let dy = b[3].min(d[3]) - b[1].max(d[1]);
                if dx > tolerance && dy > tolerance && !u.trim().is_empty() {
                    out.push(format!("{t:?} at {b:?} overlaps {u:?} at {d:?}"));
                }
            }
        }
        out
    }

    /// The finished image: averaged down to logical size, encoded as PNG.
    pub fn png(&self, description: &str) -> Result<Vec<u8>> {
        let (w, h) = (self.width as usize, self.height as usize);
        let ss = self.ss as usize;
        let dw = w * ss;
        let mut rgb = vec![0u8; w * h * 3];
        let n = (ss * ss) as u32;
        // Row by row over slices, so the compiler can drop bounds checks: this loop is a good
        // part of the time a chart takes.
        let row_bytes = dw * 3;
        for (y, out) in rgb.chunks_exact_mut(w * 3).enumerate() {
            let block = &self.buf[y * ss * row_bytes..(y + 1) * ss * row_bytes];
            let mut acc = vec![0u32; w * 3];
            for row in block.chunks_exact(row_bytes) {
                for (a, sub) in acc.chunks_exact_mut(3).zip(row.chunks_exact(3 * ss)) {
                    for px in sub.chunks_exact(3) {
                        a[0] += u32::from(px[0]);
                        a[1] += u32::from(px[1]);
                        a[2] += u32::from(px[2]);
                    }
                }
            }
            for (o, a) in out.iter_mut().zip(&acc) {
                *o = ((a + n / 2) / n) as u8;
            }
        }
        encode_png(&rgb, self.width, self.height, description)
    }
}

/// Encodes 8-bit RGB as PNG with fixed settings (so the bytes depend only on the pixels).
pub fn encode_png(rgb: &[u8], width: u32, height: u32, description: &str) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let fail = |e: png::EncodingError| Error::Internal(format!("cannot encode a chart as PNG: {e}"));
    {
        let mut enc = png::Encoder::new(&mut out, width, height);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        enc.set_compression(png::Compression::Fast);
        enc.set_filter(png::FilterType::Paeth);
        enc.add_itxt_chunk("Software".into(), format!("capsim {}", env!("CARGO_PKG_VERSION"))).map_err(fail)?;
        enc.add_itxt_chunk("Description".into(), description.into()).map_err(fail)?;
        let mut writer = enc.write_header().map_err(fail)?;
        writer.write_image_data(rgb).map_err(fail)?;
        writer.finish().map_err(fail)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_font_has_latin_and_hanzi() {
        let f = ChartFont::embedded();
        for c in "Aa09,.%–≥²新城学位养老床位嘉定青浦松江奉贤南汇（）：".chars() {
            assert!(f.has(c), "embedded font lacks {c:?}");
        }
        assert!(!f.has('\u{2F800}'));
    }

    #[test]
    fn widths_scale_with_size() {
        let f = ChartFont::embedded();
        let a = f.width("Population 2035", 14.0);
        let b = f.width("Population 2035", 28.0);
        assert!(a > 50.0 && (b / a - 2.0).abs() < 0.01, "{a} {b}");
        // A hanzi is one em wide in Noto Sans CJK.
        assert!((f.width("城", 20.0) - 20.0).abs() < 0.5);
    }

    #[test]
    fn text_marks_pixels_and_missing_glyphs() {
        let f = ChartFont::embedded();
        let mut c = Canvas::new(120, 40, &f);
        c.text(4.0, 20.0, "新城", 20.0, Rgb(0, 0, 0), (HAlign::Left, VAlign::Middle));
        assert!(c.buf.iter().any(|&b| b < 128));
        assert!(c.missing.is_empty());
        c.text(60.0, 20.0, "\u{2F800}", 20.0, Rgb(0, 0, 0), (HAlign::Left, VAlign::Middle));
        assert_eq!(c.missing.len(), 1);
    }

    #[test]
    fn tint_and_luminance() {
        assert_eq!(Rgb::hex(0x0072B2).tint(0.0), Rgb(255, 255, 255));
        assert_eq!(Rgb::hex(0x0072B2).tint(1.0), Rgb::hex(0x0072B2));
        assert!(Rgb(0, 0, 0).luminance() < 0.01 && Rgb(255, 255, 255).luminance() > 0.99);
    }
}
