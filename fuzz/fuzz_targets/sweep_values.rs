//! `capsim sweep --values LIST`: the value-list parser must refuse or accept any text without
//! panicking, and what it accepts must be usable: finite, distinct, at most `MAX_POINTS`, whole
//! numbers when asked for.

#![no_main]

use capsim::sensitivity::sweep::{MAX_POINTS, parse_values, show};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&flag, rest)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    let integer = flag & 1 == 1;
    let Ok(values) = parse_values(text, integer) else { return };
    assert!(!values.is_empty() && values.len() <= MAX_POINTS);
    for (i, v) in values.iter().enumerate() {
        assert!(v.is_finite(), "{text:?} gave {v}");
        if integer {
            assert_eq!(v.fract(), 0.0, "{text:?} gave {v} for a whole-number path");
        }
        assert!(!values[..i].contains(v), "{text:?} gave {v} twice");
        // What sweep.csv writes reads back to the same number.
        assert_eq!(show(*v).parse::<f64>().ok(), Some(*v + 0.0), "{text:?}: {v} is written as {}", show(*v));
    }
});
