//! The PNG charts of a run (issue 5): population fans, age–sex pyramids, the shortfall
//! heatmap, first-shortfall years and demand against capacity per resource; and, on the same
//! canvas and frame, the charts of `capsim sweep` ([`sweep`]) and `capsim sensitivity`
//! ([`tornado`]).
//!
//! Every chart is drawn from [`data`], which reads the same aggregate, central variant and
//! shortfall facts the CSV tables are written from; nothing here recomputes a statistic.
//! Charts are drawn on a [`canvas::Canvas`] (plotters' bitmap backend for shapes, the embedded
//! font for text), measured before they are placed, and encoded with fixed PNG settings, so
//! the same inputs give byte-identical files. Text is at least 14 px at any chart size; charts
//! with one row per town × resource grow in height rather than shrink their text.

pub mod canvas;
pub mod data;
mod demand;
mod fan;
pub mod frame;
pub mod heatmap;
mod pyramid;
pub mod sweep;
pub mod tornado;
mod years;

use std::collections::BTreeSet;

use rayon::prelude::*;

pub use canvas::ChartFont;

use crate::output::OutFile;
use crate::report::Lang;
use crate::report::Tables;
use crate::report::lang::grouped;
use crate::scenario::Names;
use crate::{Error, Result};

/// Default chart width in pixels.
pub const DEFAULT_WIDTH: u32 = 1600;

/// Largest `--font` file read (a full Noto Sans CJK SC `.otf` is about 16 MB): refused before
/// reading, so `--font /dev/zero` or a mistaken 10 GB file cannot exhaust memory.
pub const MAX_FONT_BYTES: u64 = 128 << 20;
/// Default chart height in pixels.
pub const DEFAULT_HEIGHT: u32 = 1000;
/// Smallest chart size that keeps 14 px text free of overlaps.
pub const MIN_SIZE: (u32, u32) = (960, 600);
/// Largest chart size accepted (memory: a chart is drawn at 2× in RGB).
pub const MAX_SIDE: u32 = 8000;

/// How charts are drawn.
#[derive(Clone, Debug)]
pub struct ChartOptions {
    /// Language of titles, labels and findings.
    pub lang: Lang,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels (charts with a row per town × resource may be taller).
    pub height: u32,
    /// The font.
    pub font: ChartFont,
}

impl Default for ChartOptions {
    fn default() -> ChartOptions {
        ChartOptions { lang: Lang::En, width: DEFAULT_WIDTH, height: DEFAULT_HEIGHT, font: ChartFont::embedded() }
    }
}

/// Parses `WxH` (e.g. `1600x1000`) and checks it lies within [`MIN_SIZE`] … [`MAX_SIDE`].
pub fn parse_size(s: &str) -> std::result::Result<(u32, u32), String> {
    let (w, h) =
        s.split_once(['x', 'X', '×']).ok_or_else(|| format!("'{s}' is not WIDTHxHEIGHT in pixels (e.g. 1600x1000)"))?;
    let num =
        |v: &str| v.trim().parse::<u32>().map_err(|_| format!("'{s}' is not WIDTHxHEIGHT in pixels (e.g. 1600x1000)"));
    let (w, h) = (num(w)?, num(h)?);
    if w < MIN_SIZE.0 || h < MIN_SIZE.1 || w > MAX_SIDE || h > MAX_SIDE {
        return Err(format!(
            "{w}x{h} is outside the sizes charts can be drawn at: width {}–{max}, height {}–{max} pixels \
             (smaller charts cannot keep 14 px text free of overlaps)",
            MIN_SIZE.0,
            MIN_SIZE.1,
            max = MAX_SIDE
        ));
    }
    Ok((w, h))
}

/// What the footnote of every chart and the HTML page say about the run.
#[derive(Clone, Debug)]
pub struct ChartInfo {
    /// The scenario's name.
    pub scenario: Names,
    /// Draws aggregated.
    pub draws: u64,
    /// Seed (text, so merged runs can say e.g. "7 (3 shards)").
    pub seed: String,
    /// capsim's version.
    pub version: String,
}

impl ChartInfo {
    /// The facts of a single run, from its tables.
    pub fn of_run(t: &Tables) -> ChartInfo {
        ChartInfo {
            scenario: t.scenario.name.clone(),
            draws: t.agg.draws,
            seed: t.scenario.settings.seed.to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }

    /// The footnote text.
    pub fn footnote(&self, lang: Lang) -> String {
        match lang {
            Lang::En => format!(
                "Scenario: {} · {} draws · seed {} · capsim {} · year-end (31 Dec) figures · bands are quantiles across \
                 the Monte Carlo draws",
                self.scenario.en,
                grouped(self.draws as f64, 0),
                self.seed,
                self.version
            ),
            Lang::Zh => format!(
                "情景：{} · 蒙特卡洛抽样 {} 次 · 随机种子 {} · capsim {} · 年末（12月31日）数据 · 区间为各次抽样的分位数",
                self.scenario.get("zh"),
                grouped(self.draws as f64, 0),
                self.seed,
                self.version
            ),
        }
    }
}

/// One chart to draw: its file name and how to draw it.
type Job<'a> = (String, Box<dyn Fn() -> Result<Vec<u8>> + Send + Sync + 'a>);

/// Every chart of a run as PNG files, in a fixed order: `population_fan.png`,
/// `pyramid_<town>.png`, `shortfall_heatmap.png`, `shortfall_years.png`,
/// `demand_<resource>.png`. Drawn in parallel; the bytes do not depend on the thread count.
pub fn chart_files(t: &Tables, info: &ChartInfo, opts: &ChartOptions) -> Result<Vec<OutFile>> {
    let lang = opts.lang;
    let note = info.footnote(lang);
    let mut jobs: Vec<Job<'_>> = Vec::new();
    let fan = data::fan(t, lang);
    let note_ref = &note;
    jobs.push(("population_fan.png".into(), Box::new(move || fan::draw(&fan, t, opts, note_ref))));
    for p in data::pyramids(t, lang) {
        jobs.push((format!("pyramid_{}.png", p.id), Box::new(move || pyramid::draw(&p, opts, note_ref))));
    }
    let heat = data::heatmap(t, lang);
    jobs.push(("shortfall_heatmap.png".into(), Box::new(move || heatmap::draw(&heat, t, opts, note_ref))));
    let rows = data::shortfall_years(t, lang);
    jobs.push(("shortfall_years.png".into(), Box::new(move || years::draw(&rows, t, opts, note_ref))));
    for d in data::demand(t, lang) {
        jobs.push((format!("demand_{}.png", d.id), Box::new(move || demand::draw(&d, opts, note_ref))));
    }
    jobs.into_par_iter().map(|(name, job)| job().map(|bytes| (name, bytes))).collect()
}

/// Characters of the scenario's names (in the chart language) that the chart font lacks:
/// they would be drawn as boxes. The CLI warns about them and suggests `--font`.
pub fn missing_glyphs(t: &Tables, opts: &ChartOptions) -> BTreeSet<char> {
    let code = opts.lang.code();
    let s = t.scenario;
    let mut names: Vec<&str> = vec![s.name.get(code)];
    names.extend(s.towns.iter().map(|x| x.name.get(code)));
    for r in &s.resources {
        names.push(r.name.get(code));
        names.push(r.unit.get(code));
    }
    names.iter().flat_map(|n| n.chars()).filter(|c| !opts.font.has(*c)).collect()
}

/// Characters of a scenario's names (its own, its towns', its resources' and their units', in
/// the chart language) that the chart font lacks. For the charts that are drawn from a
/// scenario rather than a run's tables (sweep, sensitivity).
pub fn scenario_missing_glyphs(s: &crate::scenario::Scenario, opts: &ChartOptions) -> BTreeSet<char> {
    let code = opts.lang.code();
    let mut names: Vec<&str> = vec![s.name.get(code)];
    names.extend(s.towns.iter().map(|x| x.name.get(code)));
    for r in &s.resources {
        names.push(r.name.get(code));
        names.push(r.unit.get(code));
    }
    names.iter().flat_map(|n| n.chars()).filter(|c| !opts.font.has(*c)).collect()
}

/// Checks that a chart size suits the chart (internal consistency, not user input).
fn check_size(w: u32, h: u32) -> Result<()> {
    if w < MIN_SIZE.0 || h < MIN_SIZE.1 || w > MAX_SIDE || h > 4 * MAX_SIDE {
        return Err(Error::Input(format!("a {w}×{h} chart cannot be drawn")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_and_are_checked() {
        assert_eq!(parse_size("1600x1000"), Ok((1600, 1000)));
        assert_eq!(parse_size("1200X800"), Ok((1200, 800)));
        assert!(parse_size("1600").unwrap_err().contains("WIDTHxHEIGHT"));
        assert!(parse_size("axb").is_err());
        assert!(parse_size("100x100").unwrap_err().contains("960"));
        assert!(parse_size("99999x1000").is_err());
    }
}
