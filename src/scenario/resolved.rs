//! Views of a resolved scenario: the JSON of `--print-resolved`, its SHA-256 (the scenario's
//! identity in run.json and partial results), and the provenance table of `--sources`.

use sha2::{Digest, Sha256};

use super::Scenario;

/// The resolved scenario as a JSON value (what `--print-resolved` prints, less the notes).
pub fn to_json(s: &Scenario) -> serde_json::Value {
    serde_json::to_value(s).unwrap_or(serde_json::Value::Null)
}

/// SHA-256 (hex) of the resolved scenario's compact JSON: overlays applied, defaults filled in,
/// tables loaded. Two files that resolve to the same scenario have the same identity.
pub fn sha256(s: &Scenario) -> String {
    let text = serde_json::to_string(&to_json(s)).unwrap_or_default();
    let digest = Sha256::digest(text.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The document `--print-resolved` prints: identity, notes, then the scenario.
pub fn print_resolved(s: &Scenario) -> String {
    let mut obj = serde_json::Map::new();
    obj.insert("sha256".into(), sha256(s).into());
    let notes: Vec<String> = s.notes.iter().map(|d| d.to_string()).collect();
    obj.insert("notes".into(), notes.into());
    if let serde_json::Value::Object(m) = to_json(s) {
        obj.extend(m);
    }
    serde_json::to_string_pretty(&serde_json::Value::Object(obj)).unwrap_or_default()
}

/// How a source is shown: the text, or "no source".
pub fn source_label(source: Option<&str>) -> String {
    match source {
        Some(s) => s.to_string(),
        None => "no source".to_string(),
    }
}

/// The provenance table: every input with its value or distribution and its source, as
/// Markdown (paste into a README) — generated, never typed.
pub fn sources_markdown(s: &Scenario) -> String {
    let mut out = String::from("| path | value | source | confidence |\n|---|---|---|---|\n");
    for i in &s.inputs {
        let esc = |t: &str| t.replace('|', "\\|").replace('\n', " ");
        out.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            i.path,
            esc(&i.value),
            esc(&source_label(i.source.as_deref())),
            esc(i.confidence.as_deref().unwrap_or(""))
        ));
    }
    out
}

/// Inputs without a source (empty for a fully sourced scenario).
pub fn unsourced(s: &Scenario) -> Vec<&str> {
    s.inputs.iter().filter(|i| i.source.is_none()).map(|i| i.path.as_str()).collect()
}
