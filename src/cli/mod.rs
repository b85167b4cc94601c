//! The command line: argument definitions (clap) and one module per subcommand. This is the
//! only place that knows about flags and exit codes.

mod charts;
mod merge;
mod plan;
mod progress;
mod run;
mod sensitivity;
mod sweep;
mod validate;

pub use charts::{ChartArgs, LangArg};

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::Error;

/// capsim: when and where will public services fall short, and how sure are we?
#[derive(Debug, Parser)]
#[command(name = "capsim", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// Print nothing but errors.
    #[arg(long, short, global = true)]
    pub quiet: bool,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check a scenario file and report every problem at once.
    Validate(validate::Args),
    /// Project a scenario and write the shortfall tables.
    Run(run::Args),
    /// Merge the partial results of `run --shard` into the tables of one run.
    Merge(merge::Args),
    /// Recommend what to build, where and when, to keep the shortfall risk below a level.
    Plan(plan::Args),
    /// Run the scenario at each value of one or two parameters (same seed at every point).
    Sweep(sweep::Args),
    /// Rank the random inputs by their effect on shortfalls (Sobol' indices or Morris screening).
    Sensitivity(sensitivity::Args),
}

/// Overlay fragments shared by every command that reads a scenario.
#[derive(Debug, Clone, clap::Args)]
pub struct ScenarioArgs {
    /// The scenario file (TOML).
    pub scenario: PathBuf,
    /// A fragment merged over the scenario (repeatable; later fragments win).
    #[arg(long = "with", value_name = "FRAGMENT")]
    pub with: Vec<PathBuf>,
}

/// Where command output goes; `--quiet` silences it.
pub struct Out {
    quiet: bool,
}

impl Out {
    /// Prints a line to stdout unless quiet. A closed pipe is not an error.
    pub fn line(&self, s: &str) {
        if !self.quiet {
            let mut o = std::io::stdout().lock();
            let _ = writeln!(o, "{s}");
        }
    }

    /// Prints to stdout regardless of `--quiet` (the requested data itself, e.g. JSON).
    pub fn data(&self, s: &str) {
        let mut o = std::io::stdout().lock();
        let _ = o.write_all(s.as_bytes());
        if !s.ends_with('\n') {
            let _ = o.write_all(b"\n");
        }
    }

    /// Prints a note or warning to stderr unless quiet.
    pub fn note(&self, s: &str) {
        if !self.quiet {
            // Not `eprintln!`, which panics when stderr is a closed pipe.
            let _ = writeln!(std::io::stderr().lock(), "{s}");
        }
    }

    /// Whether output is silenced.
    pub fn is_quiet(&self) -> bool {
        self.quiet
    }
}

/// Parses the command line, runs the command, and maps errors to exit codes.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let out = Out { quiet: cli.quiet };
    let result = match cli.command {
        Command::Validate(a) => validate::run(&a, &out),
        Command::Run(a) => run::run(&a, &out),
        Command::Merge(a) => merge::run(&a, &out),
        Command::Plan(a) => plan::run(&a, &out),
        Command::Sweep(a) => sweep::run(&a, &out),
        Command::Sensitivity(a) => sensitivity::run(&a, &out),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(std::io::stderr().lock(), "{}", render_error(&e));
            ExitCode::from(e.exit_code())
        }
    }
}

fn render_error(e: &Error) -> String {
    match e {
        Error::Scenario(_) => e.to_string(),
        _ => format!("error: {e}"),
    }
}
