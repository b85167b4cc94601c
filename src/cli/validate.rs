//! `capsim validate`: read a scenario with its overlays, report every problem at once, and
//! optionally print the resolved scenario or its provenance table.

use crate::scenario::{self, Severity, resolved};

use super::{Out, ScenarioArgs};

/// Arguments of `capsim validate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    scenario: ScenarioArgs,
    /// Print the fully resolved scenario as JSON (overlays applied, defaults filled in,
    /// per-age vectors expanded): exactly what the engine runs.
    #[arg(long)]
    print_resolved: bool,
    /// Print a table of every input: path, value or distribution, source.
    #[arg(long)]
    sources: bool,
}

/// Runs the command.
pub fn run(args: &Args, out: &Out) -> crate::Result<()> {
    let s = scenario::load(&args.scenario.scenario, &args.scenario.with)?;
    for d in &s.notes {
        out.note(&d.to_string());
    }
    if args.print_resolved {
        out.data(&resolved::print_resolved(&s));
    }
    if args.sources {
        out.data(&resolved::sources_markdown(&s));
    }
    if !args.print_resolved && !args.sources {
        let random = s.params().iter().filter(|p| p.is_random()).count();
        let warnings = s.notes.iter().filter(|d| d.severity == Severity::Warning).count();
        out.line(&format!(
            "ok: {}: {} towns, {} resources, {} random inputs, {} warning{}; sha256 {}",
            args.scenario.scenario.display(),
            s.towns.len(),
            s.resources.len(),
            random,
            warnings,
            if warnings == 1 { "" } else { "s" },
            resolved::sha256(&s)
        ));
    }
    Ok(())
}
