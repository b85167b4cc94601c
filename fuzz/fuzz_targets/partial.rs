//! `partial.capsim` from arbitrary bytes: `partial::decode_meta` (the header `capsim merge`
//! reads first) and `partial::decode` must refuse or accept any input without panicking, and
//! whatever they accept must go through the rest of `capsim merge` without panicking:
//! `check_parts`, `Aggregate::fits` against the scenario the shards ran
//! (`fuzz/seeds/tiny.toml`, whose partial results are small enough to fuzz quickly), merging
//! (two parts, as two shards), and every table.
//!
//! Each input is decoded twice: as given (so the checksum check itself is fuzzed), and with a
//! correct SHA-256 appended (so mutations reach the metadata and the aggregate behind the
//! checksum, as a crafted file would).

#![no_main]

use std::sync::OnceLock;

use capsim::engine::{self, DrawOutput, Model};
use capsim::partial;
use capsim::report::{self, Tables};
use capsim::scenario::{self, Scenario};
use capsim::stats::Aggregate;
use libfuzzer_sys::fuzz_target;
use sha2::{Digest, Sha256};

const SCENARIO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/seeds/tiny.toml");

struct Shards {
    scenario: Scenario,
    model: Model,
    central: DrawOutput,
}

fn shards() -> &'static Shards {
    static E: OnceLock<Shards> = OnceLock::new();
    E.get_or_init(|| {
        let scenario = scenario::load(std::path::Path::new(SCENARIO), &[]).expect("tiny.toml validates");
        let model = engine::compile(&scenario);
        let central = capsim::runner::central(&model).expect("central variant");
        Shards { scenario, model, central }
    })
}

fn exercise(bytes: &[u8]) {
    // What `capsim merge` reads first: the header alone, then the parts' agreement.
    if let Ok(meta) = partial::decode_meta("fuzz.capsim", bytes) {
        let size = bytes.len() as u64;
        let _ = partial::check_parts(&mut [("a".into(), meta.clone(), size)]);
        // The same part twice: refused as overlapping (or, for an empty range, accepted).
        let _ = partial::check_parts(&mut [("a".into(), meta.clone(), size), ("b".into(), meta, size)]);
    }
    let Ok((_, agg)) = partial::decode("fuzz.capsim", bytes) else { return };

    let e = shards();
    // The check `capsim merge` makes before merging.
    if !agg.fits(&e.model) {
        return;
    }
    let mut total = Aggregate::new(&e.model);
    total.merge(&agg);
    total.merge(&agg);
    let tables = Tables { scenario: &e.scenario, model: &e.model, agg: &total, central: &e.central, risk: 0.2 };
    for (_, csv) in report::table_files(&tables) {
        let text = String::from_utf8(csv).expect("tables are UTF-8");
        assert!(!text.contains("NaN") && !text.contains("inf"), "a table holds NaN or inf");
    }
}

fuzz_target!(|data: &[u8]| {
    exercise(data);
    let mut sealed = data.to_vec();
    sealed.extend_from_slice(&Sha256::digest(data));
    exercise(&sealed);
});
