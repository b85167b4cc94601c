//! Scenario text from arbitrary bytes: parse + validate must never panic. For every scenario
//! that validates, the rest of what `capsim validate`, `sweep` and `run` do with it must not
//! panic either: the path grammar (`paths::addresses`, `find` of each address, `set` and
//! re-validation, as a sweep does), the resolved JSON and sources table, `engine::compile`,
//! one draw at the central values (which may stop with a NaN/infinity error, but not panic),
//! and a run of a few draws: the aggregation's analysis of which series never change
//! (`stats::Layout::of`) must hold, or the run would stop with an internal error.

#![no_main]

use capsim::engine;
use capsim::scenario::{self, Diagnostics, paths, resolved, tree};
use libfuzzer_sys::fuzz_target;

/// The scenario's name: inside `scenarios/`, so a seed's `file = "data/…"` resolves as it does
/// for the shipped example.
const NAME: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios/fuzz-input.toml");

/// Scenarios bigger than this (towns × (resources + 1) × years) are validated but not run:
/// the engine's cost grows with the shape, and a slow input is not a bug.
const MAX_CELLS: usize = 200_000;

/// Addresses looked up and set per input (each `find` lists every address again).
const MAX_PATHS: usize = 48;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    // The same entry point as tests and `capsim validate` (through the document layer).
    let from_text = scenario::from_text(NAME, text);
    let mut diags = Diagnostics::default();
    let Some(doc) = tree::parse_document_text(NAME, text, &mut diags) else {
        assert!(from_text.is_err());
        return;
    };
    let Ok(s) = from_text else { return };

    let addresses = paths::addresses(&s);
    let salt = data.iter().fold(0usize, |h, b| h.wrapping_mul(31).wrapping_add(*b as usize));
    for (i, a) in addresses.iter().enumerate().skip(salt % addresses.len().max(1)).take(MAX_PATHS) {
        // Every address the grammar lists must be found again by its own path.
        assert!(paths::find(&s, &a.path).is_ok(), "listed path {} not found", a.path);
        // Setting it (as a sweep does) and validating again may be refused, never panic.
        if i % 4 == 0 {
            let mut d = doc.clone();
            let value = [0.0, 1.0, -1.0, 0.5, 2020.0, 1e300, 3.7][salt % 7];
            if paths::set(&mut d, &s, &a.path, value).is_ok() {
                let _ = scenario::from_document(&d);
            }
        }
    }
    let _ = resolved::print_resolved(&s);
    let _ = resolved::sources_markdown(&s);

    let cells = s.towns.len() * (s.resources.len() + 1) * s.settings.years();
    if cells > MAX_CELLS {
        return;
    }
    let model = engine::compile(&s);
    let values = model.central_values();
    let shocks = vec![0.0; model.shock_len()];
    let mut ws = model.workspace();
    if engine::simulate_draw(&model, &values, &shocks, &mut ws).is_err() {
        return;
    }
    let _ = capsim::stats::Layout::of(&model);
    if let Err(e) = capsim::runner::run(&model, salt as u64, 0..6, 1, &|_| {}) {
        assert!(!matches!(e, capsim::Error::Internal(_)), "{e}");
    }
});
