//! Located diagnostics: every problem names the file, line and column, the field path, what was
//! found and what was expected, with "did you mean" for near misses. Validation collects all of
//! them in one pass, so a planner fixes a file in one round trip.

use std::fmt;
use std::path::{Path, PathBuf};

use super::tree::{Loc, SourceFiles};

/// How serious a diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The scenario cannot be used.
    Error,
    /// Used, but probably not what was meant.
    Warning,
    /// Done on the planner's behalf (e.g. shares renormalised); recorded in run.json.
    Note,
}

/// One problem found in the input.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Diagnostic {
    /// Error, warning or note.
    pub severity: Severity,
    /// The file, when known.
    pub file: Option<PathBuf>,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// 1-based column, when known.
    pub column: Option<usize>,
    /// The field path (`towns.songjiang.fertility.tfr0`), empty for the whole file.
    pub path: String,
    /// What was found and what is expected.
    pub message: String,
    /// A suggestion ("did you mean `towns`?").
    pub help: Option<String>,
    #[serde(skip)]
    loc: Loc,
}

impl Diagnostic {
    /// An error at a location in a file.
    pub fn error(loc: Loc, path: impl Into<String>, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            file: None,
            line: None,
            column: None,
            path: path.into(),
            message: message.into(),
            help: None,
            loc,
        }
    }

    /// A warning at a location.
    pub fn warning(loc: Loc, path: impl Into<String>, message: impl Into<String>) -> Diagnostic {
        Diagnostic { severity: Severity::Warning, ..Diagnostic::error(loc, path, message) }
    }

    /// A note at a location.
    pub fn note(loc: Loc, path: impl Into<String>, message: impl Into<String>) -> Diagnostic {
        Diagnostic { severity: Severity::Note, ..Diagnostic::error(loc, path, message) }
    }

    /// An error about a whole file (cannot be read, `extends` cycle).
    pub fn file_error(file: &Path, message: impl Into<String>) -> Diagnostic {
        Diagnostic { file: Some(file.to_path_buf()), ..Diagnostic::error(Loc::NONE, "", message) }
    }

    /// Adds a suggestion.
    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    /// Adds a suggestion if there is one.
    pub fn with_help_opt(mut self, help: Option<String>) -> Diagnostic {
        self.help = help;
        self
    }

    /// Fills in file, line and column from the location.
    pub fn locate(mut self, files: &SourceFiles) -> Diagnostic {
        if let Some((file, line, col)) = files.position(self.loc) {
            self.file = Some(file.to_path_buf());
            self.line = Some(line);
            self.column = Some(col);
        }
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "note",
        };
        write!(f, "{sev}: ")?;
        if let Some(file) = &self.file {
            write!(f, "{}", file.display())?;
            if let (Some(l), Some(c)) = (self.line, self.column) {
                write!(f, ":{l}:{c}")?;
            }
            write!(f, ": ")?;
        }
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        write!(f, "{}", self.message)?;
        if let Some(h) = &self.help {
            write!(f, "\n  help: {h}")?;
        }
        Ok(())
    }
}

/// A collection of diagnostics from one pass.
#[derive(Clone, Debug, Default)]
pub struct Diagnostics {
    /// In the order found.
    pub items: Vec<Diagnostic>,
}

impl Diagnostics {
    /// Adds one.
    pub fn push(&mut self, d: Diagnostic) {
        self.items.push(d);
    }

    /// Whether any is an error.
    pub fn has_errors(&self) -> bool {
        self.items.iter().any(|d| d.severity == Severity::Error)
    }

    /// The errors.
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter().filter(|d| d.severity == Severity::Error)
    }

    /// Sorts by file, line and column so output reads top to bottom (stable for equal places).
    pub fn sort(&mut self) {
        self.items
            .sort_by(|a, b| (a.severity, &a.file, a.line, a.column).cmp(&(b.severity, &b.file, b.line, b.column)));
    }
}

/// The closest candidate to `found`, if one is close enough to be a likely typo.
pub fn did_you_mean<'a>(found: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let mut best: Option<(f64, &str)> = None;
    for c in candidates {
        let score = strsim::jaro_winkler(found, c);
        if score > best.map_or(0.0, |b| b.0) {
            best = Some((score, c));
        }
    }
    match best {
        Some((score, c)) if score >= 0.8 => Some(format!("did you mean `{c}`?")),
        _ => None,
    }
}

/// The `n` candidates nearest to `found`, best first (for "valid paths near …" lists).
pub fn nearest<'a>(found: &str, candidates: impl IntoIterator<Item = &'a str>, n: usize) -> Vec<&'a str> {
    let mut scored: Vec<(f64, &str)> = candidates.into_iter().map(|c| (strsim::jaro_winkler(found, c), c)).collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
    scored.into_iter().take(n).map(|x| x.1).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_near_misses_only() {
        assert_eq!(did_you_mean("towsn", ["towns", "resources"]).as_deref(), Some("did you mean `towns`?"));
        assert_eq!(did_you_mean("zzz", ["towns", "resources"]), None);
    }

    #[test]
    fn display_names_file_line_path_and_help() {
        let d = Diagnostic {
            file: Some("a.toml".into()),
            line: Some(3),
            column: Some(5),
            ..Diagnostic::error(Loc::NONE, "towns.x.tfr", "found -1, expected a number ≥ 0")
        }
        .with_help("did you mean `tfr0`?");
        assert_eq!(
            d.to_string(),
            "error: a.toml:3:5: towns.x.tfr: found -1, expected a number ≥ 0\n  help: did you mean `tfr0`?"
        );
    }
}
