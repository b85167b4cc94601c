//! Chart flags shared by every command that writes charts (`run`, `merge`, `plan`, `sweep`
//! and `sensitivity` flatten the same struct): `--no-charts`, `--lang`, `--chart-size`,
//! `--font`.

use crate::Result;
use crate::output::OutFile;
use crate::report::charts::{self, ChartFont, ChartInfo, ChartOptions};
use crate::report::{Lang, Tables};

use super::Out;

/// Language of charts and report.html.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LangArg {
    /// English.
    En,
    /// Simplified Chinese (names from the scenario's `zh` fields).
    Zh,
}

/// Chart options on the command line.
#[derive(Debug, Clone, clap::Args)]
pub struct ChartArgs {
    /// Write no charts and no report.html (tables only).
    #[arg(long)]
    pub no_charts: bool,
    /// Language of chart titles, labels and the findings in report.html (file names do not change).
    #[arg(long, value_enum, default_value_t = LangArg::En)]
    pub lang: LangArg,
    /// Chart size in pixels; charts with a row per town × service grow taller to keep 14 px text.
    #[arg(long, value_name = "WxH", default_value = "1600x1000", value_parser = charts::parse_size)]
    pub chart_size: (u32, u32),
    /// A TrueType/OpenType font with both Latin and Chinese glyphs, for names the embedded font
    /// (GB2312 level-1 hanzi) lacks.
    #[arg(long, value_name = "PATH", value_parser = parse_font)]
    pub font: Option<ChartFont>,
}

/// Reads `--font` while parsing arguments, so a bad font fails before any computation.
fn parse_font(s: &str) -> std::result::Result<ChartFont, String> {
    ChartFont::from_file(std::path::Path::new(s)).map_err(|e| e.to_string())
}

impl ChartArgs {
    /// The charts and report of a plan (none with `--no-charts`).
    pub fn plan_files(
        &self,
        s: &crate::scenario::Scenario,
        model: &crate::engine::Model,
        p: &crate::plan::Plan,
        out: &Out,
    ) -> Result<Vec<OutFile>> {
        if self.no_charts {
            return Ok(Vec::new());
        }
        let opts = self.options()?;
        warn_missing(&crate::report::plan_report::missing_glyphs(s, &opts), &opts, out);
        crate::report::plan_report::files(s, model, p, &opts)
    }

    /// The charts of a sweep, `sweep_<resource>.png` (none with `--no-charts`).
    pub fn sweep_files(
        &self,
        result: &crate::sensitivity::sweep::SweepResult,
        s: &crate::scenario::Scenario,
        out: &Out,
    ) -> Result<Vec<OutFile>> {
        if self.no_charts {
            return Ok(Vec::new());
        }
        let opts = self.options()?;
        warn_missing(&charts::scenario_missing_glyphs(s, &opts), &opts, out);
        charts::sweep::files(result, s, &opts)
    }

    /// The charts of a sensitivity analysis, `tornado_<town>.png` (none with `--no-charts`).
    pub fn sensitivity_files(
        &self,
        analysis: &crate::sensitivity::Analysis,
        s: &crate::scenario::Scenario,
        settings: &crate::sensitivity::Settings,
        runs: usize,
        out: &Out,
    ) -> Result<Vec<OutFile>> {
        if self.no_charts {
            return Ok(Vec::new());
        }
        let opts = self.options()?;
        warn_missing(&charts::scenario_missing_glyphs(s, &opts), &opts, out);
        charts::tornado::files(analysis, s, settings, runs, &opts)
    }

    /// The validated options (reads `--font`).
    pub fn options(&self) -> Result<ChartOptions> {
        let font = self.font.clone().unwrap_or_else(ChartFont::embedded);
        let lang = match self.lang {
            LangArg::En => Lang::En,
            LangArg::Zh => Lang::Zh,
        };
        Ok(ChartOptions { lang, width: self.chart_size.0, height: self.chart_size.1, font })
    }

    /// The chart files and report.html of a run (none with `--no-charts`); warns about
    /// characters the font lacks.
    pub fn files(&self, t: &Tables, out: &Out) -> Result<Vec<OutFile>> {
        if self.no_charts {
            return Ok(Vec::new());
        }
        let opts = self.options()?;
        warn_missing(&charts::missing_glyphs(t, &opts), &opts, out);
        crate::report::chart_and_report_files(t, &ChartInfo::of_run(t), &opts)
    }
}

/// Warns about characters of the scenario's names that the chart font lacks.
fn warn_missing(missing: &std::collections::BTreeSet<char>, opts: &ChartOptions, out: &Out) {
    if !missing.is_empty() {
        let chars: String = missing.iter().collect();
        out.note(&format!(
            "warning: the chart font ({}) has no glyph for {chars:?}; those characters are drawn as boxes. Pass \
             --font PATH with a font that has them (e.g. a full Noto Sans CJK SC .otf).",
            opts.font.origin
        ));
    }
}
