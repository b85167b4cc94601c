//! The validation pass: the merged tree → [`Scenario`], collecting every problem at once.
//!
//! Each reader function takes a node and its path, pushes located diagnostics for what is
//! wrong and returns what it could read (`None` when nothing usable). Provenance (`source`,
//! `confidence`) may be written on any table and is inherited by the values inside it.

use std::collections::{HashMap, HashSet};

use super::diag::{Diagnostic, Diagnostics, did_you_mean};
use super::dist::{Dist, Param};
use super::schedule::{self, AGES, FERTILE_AGES, OMEGA, RogersCastro};
use super::tree::{Document, Loc, Node, SourceFiles, Table, Value, read_text_limited};
use super::*;

/// Largest CSV table capsim reads beside a scenario (an age table is a few kB).
const MAX_TABLE_BYTES: u64 = 1024 * 1024;
/// Limits that keep a scenario within what the engine can hold.
const MAX_TOWNS: usize = 200;
const MAX_RESOURCES: usize = 500;
const MAX_PROJECTS: usize = 1000;
const MAX_YEARS: i32 = 200;

/// Largest magnitude of any number written in a scenario or its tables. No count, rate or
/// amount a planner writes comes near it, and it keeps every quantity the engine derives from
/// them far inside what the aggregation's exact sums can hold: `1e30` is a typo, not a plan.
pub const MAX_MAGNITUDE: f64 = 1e12;
/// Largest magnitude a random input may reach in any draw (its extreme quantile, one draw in
/// about 10¹⁶): a log-normal with a huge sigma would otherwise reach 1e100 now and then.
const MAX_DRAW: f64 = 1e13;
/// The most extreme uniforms the sampler produces (`rng`: 53 random bits, never 0 or 1).
const EDGE_U: f64 = 1.0 / (1u64 << 54) as f64;

/// The range a number must lie in.
#[derive(Clone, Copy)]
struct Domain {
    lo: f64,
    hi: f64,
    /// `lo` itself is not allowed.
    lo_open: bool,
    what: &'static str,
}

const ANY: Domain = Domain { lo: f64::NEG_INFINITY, hi: f64::INFINITY, lo_open: false, what: "a finite number" };
const NONNEG: Domain = Domain { lo: 0.0, hi: f64::INFINITY, lo_open: false, what: "a number ≥ 0" };
const POSITIVE: Domain = Domain { lo: 0.0, hi: f64::INFINITY, lo_open: true, what: "a number > 0" };
const UNIT: Domain = Domain { lo: 0.0, hi: 1.0, lo_open: false, what: "a rate in [0, 1]" };
const TFR: Domain = Domain { lo: 0.1, hi: 4.0, lo_open: false, what: "a TFR in [0.1, 4] births per woman" };
const SRB: Domain = Domain { lo: 90.0, hi: 130.0, lo_open: false, what: "boys per 100 girls, in [90, 130]" };
const DELTA: Domain = Domain { lo: -0.1, hi: 0.1, lo_open: false, what: "a yearly improvement in [-0.1, 0.1]" };
const FERTILE_AGE: Domain = Domain { lo: 15.0, hi: 49.0, lo_open: false, what: "an age in [15, 49]" };
const AGE: Domain = Domain { lo: 0.0, hi: 100.0, lo_open: false, what: "an age in [0, 100]" };
const INFANT_PROB: Domain = Domain { lo: 0.0, hi: 0.5, lo_open: false, what: "a probability in [0, 0.5]" };

const DIST_KEYS: &[&str] = &["value", "normal", "uniform", "triangular", "lognormal"];
const PROV_KEYS: &[&str] = &["source", "confidence"];

#[derive(Clone, Default)]
struct Prov {
    source: Option<String>,
    confidence: Option<String>,
}

struct Reader<'a> {
    files: &'a SourceFiles,
    diags: &'a mut Diagnostics,
    prov: Vec<Prov>,
    inputs: Vec<InputRecord>,
    base_year: i32,
    end_year: i32,
    /// Ids written in the file, whether or not they or their tables validated: a reference to
    /// a declared id with errors of its own is not reported again (one mistake, one message).
    declared: Declared,
}

#[derive(Default)]
struct Declared {
    structures: HashSet<String>,
    towns: HashSet<String>,
    resources: HashSet<String>,
}

impl Declared {
    fn of(root: &Table) -> Declared {
        let ids = |key: &str| -> HashSet<String> {
            root.get(key)
                .and_then(Node::as_table)
                .map(|t| t.keys().filter(|k| !PROV_KEYS.contains(k)).map(String::from).collect())
                .unwrap_or_default()
        };
        Declared { structures: ids("age_structures"), towns: ids("towns"), resources: ids("resources") }
    }
}

/// A sex ratio written as a ratio (1.07) rather than per 100 (107) is the likeliest mistake.
fn ratio_help(what: &str, found: f64) -> Option<String> {
    (what.contains("per 100") && (0.5..=2.0).contains(&found))
        .then(|| format!("this is a number per 100: {} is written {}", dist::fmt_g(found), dist::fmt_g(found * 100.0)))
}

/// A clip range for people: `[0, 1]`, `≥ 0`, `≤ 4`.
fn clip_text(lo: f64, hi: f64) -> String {
    match (lo.is_finite(), hi.is_finite()) {
        (true, true) => format!("[{}, {}]", dist::fmt_g(lo), dist::fmt_g(hi)),
        (true, false) => format!("≥ {}", dist::fmt_g(lo)),
        (false, true) => format!("≤ {}", dist::fmt_g(hi)),
        (false, false) => "(unbounded)".into(),
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_string() } else { format!("{path}.{key}") }
}

fn is_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

impl<'a> Reader<'a> {
    fn err(&mut self, loc: Loc, path: &str, msg: impl Into<String>) {
        self.diags.push(Diagnostic::error(loc, path, msg).locate(self.files));
    }

    fn err_help(&mut self, loc: Loc, path: &str, msg: impl Into<String>, help: Option<String>) {
        self.diags.push(Diagnostic::error(loc, path, msg).with_help_opt(help).locate(self.files));
    }

    fn note(&mut self, loc: Loc, path: &str, msg: impl Into<String>) {
        self.diags.push(Diagnostic::note(loc, path, msg).locate(self.files));
    }

    fn warn(&mut self, loc: Loc, path: &str, msg: impl Into<String>) {
        self.diags.push(Diagnostic::warning(loc, path, msg).locate(self.files));
    }

    fn prov(&self) -> Prov {
        self.prov.last().cloned().unwrap_or_default()
    }

    fn record(&mut self, path: &str, value: String, prov: &Prov) {
        self.inputs.push(InputRecord {
            path: path.to_string(),
            value,
            source: prov.source.clone(),
            confidence: prov.confidence.clone(),
        });
    }

    /// Reads `source` / `confidence` of a table (inheriting what it does not say).
    fn table_prov(&mut self, t: &Table, path: &str) -> Prov {
        let mut p = self.prov();
        if let Some(n) = t.get("source") {
            p.source = self.string(n, &join(path, "source"));
        }
        if let Some(n) = t.get("confidence") {
            p.confidence = self.string(n, &join(path, "confidence"));
        }
        p
    }

    /// Runs `f` with the provenance of table `t` in force.
    fn within<T>(&mut self, t: &Table, path: &str, f: impl FnOnce(&mut Self) -> T) -> T {
        let p = self.table_prov(t, path);
        self.prov.push(p);
        let out = f(self);
        self.prov.pop();
        out
    }

    /// Reports keys of `t` that are not in `allowed` (provenance keys are always allowed).
    fn keys(&mut self, t: &Table, path: &str, allowed: &[&str]) {
        for e in &t.entries {
            if allowed.contains(&e.key.as_str()) || PROV_KEYS.contains(&e.key.as_str()) {
                continue;
            }
            let help = did_you_mean(&e.key, allowed.iter().copied());
            let expected = if allowed.is_empty() {
                "no keys here".to_string()
            } else {
                format!("expected one of: {}", allowed.join(", "))
            };
            self.err_help(e.key_loc, &join(path, &e.key), format!("unknown key `{}`; {expected}", e.key), help);
        }
    }

    fn table<'n>(&mut self, node: &'n Node, path: &str) -> Option<&'n Table> {
        match &node.value {
            Value::Table(t) => Some(t),
            _ => {
                self.err(node.loc, path, format!("found {}, expected a table", node.describe()));
                None
            }
        }
    }

    fn string(&mut self, node: &Node, path: &str) -> Option<String> {
        match &node.value {
            Value::Str(s) if !s.trim().is_empty() => Some(s.clone()),
            Value::Str(_) => {
                self.err(node.loc, path, "found an empty string, expected text");
                None
            }
            _ => {
                self.err(node.loc, path, format!("found {}, expected a string", node.describe()));
                None
            }
        }
    }

    fn number(&mut self, node: &Node, path: &str) -> Option<f64> {
        let v = match node.value {
            Value::Int(i) => i as f64,
            Value::Float(f) => f,
            _ => {
                self.err(node.loc, path, format!("found {}, expected a number", node.describe()));
                return None;
            }
        };
        if !v.is_finite() {
            self.err(
                node.loc,
                path,
                format!("found {}, expected a finite number (NaN and infinity are not allowed)", node.describe()),
            );
            return None;
        }
        if v.abs() > MAX_MAGNITUDE {
            self.err(
                node.loc,
                path,
                format!(
                    "found {v:e}, expected a number between -1e12 and 1e12 (no quantity in a scenario is that \
                     large; is it a typo?)"
                ),
            );
            return None;
        }
        Some(v)
    }

    fn int(&mut self, node: &Node, path: &str, lo: i64, hi: i64, what: &str) -> Option<i64> {
        // A whole number may carry its provenance: `{ value = 2025, source = "…" }`.
        if let Value::Table(t) = &node.value
            && t.get("value").is_some()
        {
            self.keys(t, path, &["value"]);
            let prov = self.table_prov(t, path);
            let v = self.int(t.get("value")?, &join(path, "value"), lo, hi, what)?;
            self.record(path, v.to_string(), &prov);
            return Some(v);
        }
        match node.value {
            Value::Int(i) if (lo..=hi).contains(&i) => Some(i),
            Value::Int(i) => {
                self.err(node.loc, path, format!("found {i}, expected {what} in [{lo}, {hi}]"));
                None
            }
            _ => {
                self.err(node.loc, path, format!("found {}, expected {what} (a whole number)", node.describe()));
                None
            }
        }
    }

    fn year(&mut self, node: &Node, path: &str) -> Option<i32> {
        let (lo, hi) = (self.base_year as i64, self.end_year as i64);
        let y = self.int(node, path, lo, hi, "a year within the horizon")? as i32;
        // A plain year is an input too (a table form was recorded by `int`).
        if !matches!(node.value, Value::Table(_)) {
            let prov = self.prov();
            self.record(path, y.to_string(), &prov);
        }
        Some(y)
    }

    fn numbers(&mut self, node: &Node, path: &str, len: Option<usize>, nonneg: bool) -> Option<Vec<f64>> {
        let Value::Array(items) = &node.value else {
            self.err(node.loc, path, format!("found {}, expected an array of numbers", node.describe()));
            return None;
        };
        if let Some(n) = len
            && items.len() != n
        {
            self.err(node.loc, path, format!("found {} numbers, expected {n}", items.len()));
            return None;
        }
        let mut out = Vec::with_capacity(items.len());
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            let p = format!("{path}[{i}]");
            match self.number(item, &p) {
                Some(v) if nonneg && v < 0.0 => {
                    self.err(item.loc, &p, format!("found {v}, expected a number ≥ 0"));
                    ok = false;
                }
                Some(v) => out.push(v),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn names(&mut self, node: Option<&Node>, path: &str, loc: Loc) -> Option<Names> {
        let Some(node) = node else {
            self.err(loc, path, "missing; expected name = { en = \"…\", zh = \"…\" }");
            return None;
        };
        match &node.value {
            Value::Str(s) => Some(Names { en: s.clone(), zh: None }),
            Value::Table(t) => {
                self.keys(t, path, &["en", "zh"]);
                let en = match t.get("en") {
                    Some(n) => self.string(n, &join(path, "en")),
                    None => {
                        self.err(node.loc, &join(path, "en"), "missing; expected the English name");
                        None
                    }
                };
                let zh = t.get("zh").and_then(|n| self.string(n, &join(path, "zh")));
                Some(Names { en: en?, zh })
            }
            _ => {
                self.err(node.loc, path, format!("found {}, expected {{ en = \"…\", zh = \"…\" }}", node.describe()));
                None
            }
        }
    }

    /// Checks an id-keyed table's keys: ids match `[a-z0-9_]+` and `all` is reserved.
    fn check_id(&mut self, key: &str, loc: Loc, path: &str) -> bool {
        if key == "all" {
            self.err(loc, path, "`all` is reserved for the sum over towns; choose another id");
            false
        } else if !is_id(key) {
            self.err(
                loc,
                path,
                format!("found id `{key}`, expected lower-case letters, digits and `_` only (at most 64)"),
            );
            false
        } else {
            true
        }
    }

    /// A number or a distribution (MODEL §2), checked against its domain.
    fn param(&mut self, node: &Node, path: &str, dom: Domain) -> Option<Param> {
        let mut prov = self.prov();
        let mut clip = None;
        let mut key = None;
        let dist = match &node.value {
            Value::Int(_) | Value::Float(_) => Dist::Fixed(self.number(node, path)?),
            Value::Table(t) => {
                let allowed = ["value", "normal", "uniform", "triangular", "lognormal", "key", "clip"];
                self.keys(t, path, &allowed);
                prov = self.table_prov(t, path);
                let kinds: Vec<&str> = t.keys().filter(|k| DIST_KEYS.contains(k)).collect();
                if kinds.len() != 1 {
                    let msg = if kinds.is_empty() {
                        "found a table without a value, expected a number, { value = … } or a distribution: normal, uniform, triangular, lognormal".to_string()
                    } else {
                        format!(
                            "found {} together, expected exactly one of value, normal, uniform, triangular, lognormal",
                            kinds.join(" and ")
                        )
                    };
                    self.err(node.loc, path, msg);
                    return None;
                }
                if let Some(k) = t.get("key") {
                    key = self.string(k, &join(path, "key"));
                }
                if let Some(c) = t.get("clip") {
                    let cp = join(path, "clip");
                    let v = self.numbers(c, &cp, Some(2), false)?;
                    if v[0] > v[1] {
                        self.err(
                            c.loc,
                            &cp,
                            format!("found [{}, {}], expected [low, high] with low ≤ high", v[0], v[1]),
                        );
                        return None;
                    }
                    clip = Some([v[0], v[1]]);
                }
                let kind = kinds[0];
                let n = t.get(kind)?;
                self.dist(kind, n, &join(path, kind), path)?
            }
            _ => {
                self.err(
                    node.loc,
                    path,
                    format!("found {}, expected a number or a distribution table", node.describe()),
                );
                return None;
            }
        };
        if let Some([lo, hi]) = clip {
            let c = dist.central();
            if !(lo..=hi).contains(&c) {
                self.err(
                    node.loc,
                    &join(path, "clip"),
                    format!(
                        "the central value {} of {} lies outside the clip [{}, {}], which would move it",
                        dist::fmt_g(c),
                        dist.describe(),
                        dist::fmt_g(lo),
                        dist::fmt_g(hi)
                    ),
                );
                return None;
            }
        }
        let mut p = Param {
            path: path.to_string(),
            dist,
            clip,
            key,
            source: prov.source.clone(),
            confidence: prov.confidence.clone(),
            loc: node.loc,
        };
        self.check_domain(&mut p, node.loc, dom)?;
        let mut shown = p.dist.describe();
        if let Some([lo, hi]) = p.clip {
            shown.push_str(&format!(" clipped to {}", clip_text(lo, hi)));
        }
        if let Some(k) = &p.key {
            shown.push_str(&format!(", key {k}"));
        }
        self.record(path, shown, &prov);
        Some(p)
    }

    /// Reads the parameters of one distribution kind. `var_path` is the variable's path, so
    /// that parameters are named `var.mean`, `var.low` … as in the path grammar.
    fn dist(&mut self, kind: &str, n: &Node, kind_path: &str, var_path: &str) -> Option<Dist> {
        let named = |r: &mut Self, t: &Table, names: &[&str]| -> Option<Vec<f64>> {
            r.keys(t, kind_path, names);
            let mut out = Vec::new();
            for name in names {
                let p = join(var_path, name);
                match t.get(name) {
                    Some(v) => out.push(r.number(v, &p)?),
                    None => {
                        r.err(n.loc, &p, format!("missing; {kind} needs {}", names.join(" and ")));
                        return None;
                    }
                }
            }
            Some(out)
        };
        let positional = |r: &mut Self, names: &[&str]| -> Option<Vec<f64>> {
            let Value::Array(items) = &n.value else {
                r.err(n.loc, kind_path, format!("found {}, expected [{}]", n.describe(), names.join(", ")));
                return None;
            };
            if items.len() != names.len() {
                r.err(n.loc, kind_path, format!("found {} numbers, expected [{}]", items.len(), names.join(", ")));
                return None;
            }
            let mut out = Vec::new();
            for (item, name) in items.iter().zip(names) {
                out.push(r.number(item, &join(var_path, name))?);
            }
            Some(out)
        };
        let d = match kind {
            "value" => Dist::Fixed(self.number(n, &join(var_path, "value"))?),
            "normal" => {
                let t = self.table(n, kind_path)?;
                let v = named(self, t, &["mean", "sd"])?;
                if v[1] < 0.0 {
                    self.err(
                        n.loc,
                        &join(var_path, "sd"),
                        format!("found {}, expected a standard deviation ≥ 0", v[1]),
                    );
                    return None;
                }
                Dist::Normal { mean: v[0], sd: v[1] }
            }
            "lognormal" => {
                let t = self.table(n, kind_path)?;
                let v = named(self, t, &["mu", "sigma"])?;
                if v[1] < 0.0 {
                    self.err(n.loc, &join(var_path, "sigma"), format!("found {}, expected sigma ≥ 0", v[1]));
                    return None;
                }
                Dist::Lognormal { mu: v[0], sigma: v[1] }
            }
            "uniform" => {
                let v = positional(self, &["low", "high"])?;
                if v[0] > v[1] {
                    self.err(
                        n.loc,
                        var_path,
                        format!("found uniform [{}, {}], expected [low, high] with low ≤ high", v[0], v[1]),
                    );
                    return None;
                }
                Dist::Uniform { low: v[0], high: v[1] }
            }
            "triangular" => {
                let v = positional(self, &["low", "mode", "high"])?;
                if !(v[0] <= v[1] && v[1] <= v[2]) {
                    self.err(
                        n.loc,
                        var_path,
                        format!(
                            "found triangular [{}, {}, {}], expected [low, mode, high] with low ≤ mode ≤ high",
                            v[0], v[1], v[2]
                        ),
                    );
                    return None;
                }
                Dist::Triangular { low: v[0], mode: v[1], high: v[2] }
            }
            _ => return None,
        };
        Some(d)
    }

    /// The central value must lie in the domain. A support reaching beyond a closed end is
    /// clipped to it (with a note); beyond an open end (e.g. `per` > 0) it is an error, since
    /// no clip can make such a draw meaningful.
    fn check_domain(&mut self, p: &mut Param, loc: Loc, dom: Domain) -> Option<()> {
        let c = p.central();
        if c.is_finite() && c.abs() > MAX_MAGNITUDE {
            self.err(
                loc,
                &p.path,
                format!(
                    "found {} (central value {}), expected a central value between -1e12 and 1e12 (no quantity in a \
                     scenario is that large; is it a typo?)",
                    p.dist.describe(),
                    dist::fmt_g(c)
                ),
            );
            return None;
        }
        let below = if dom.lo_open { c <= dom.lo } else { c < dom.lo };
        if below || c > dom.hi || !c.is_finite() {
            let found = if p.dist.is_random() {
                format!("{} (central value {})", p.dist.describe(), dist::fmt_g(c))
            } else {
                dist::fmt_g(c)
            };
            self.err_help(loc, &p.path, format!("found {found}, expected {}", dom.what), ratio_help(dom.what, c));
            return None;
        }
        let (mut lo, hi) = p.support();
        // A log-normal's infimum 0 is never drawn: its smallest draw is the quantile at the
        // smallest uniform, which is > 0 unless it underflows. That is what an open bound needs.
        if matches!(p.dist, Dist::Lognormal { .. }) && p.clip.is_none() {
            lo = p.dist.quantile(0.0);
        }
        let lo_bad = if dom.lo_open { lo <= dom.lo } else { lo < dom.lo };
        let hi_bad = hi > dom.hi;
        if lo_bad || hi_bad {
            if (lo_bad && dom.lo_open) || p.clip.is_some() {
                self.err(
                    loc,
                    &p.path,
                    format!(
                        "{} can take values outside {}; use a distribution that stays inside, or clip it",
                        p.dist.describe(),
                        dom.what
                    ),
                );
                return None;
            }
            let outside = Self::mass_outside(&p.dist, dom.lo, dom.hi);
            // The side the domain does not bound stays unbounded (±∞; `null` in the JSON).
            let clip_lo = if lo_bad { dom.lo } else { lo };
            let clip_hi = if hi_bad { dom.hi } else { hi };
            p.clip = Some([clip_lo, clip_hi]);
            // Clipping that practically never bites (a normal far from the bound) is not worth a note.
            if outside > 1e-6 {
                let path = p.path.clone();
                let pct = outside * 100.0;
                self.note(
                    loc,
                    &path,
                    format!("{} is clipped to {} ({pct:.2}% of draws fall outside)", p.dist.describe(), dom.what),
                );
            }
        }
        let extreme = p.sample(EDGE_U).abs().max(p.sample(1.0 - EDGE_U).abs());
        if extreme.is_nan() || extreme > MAX_DRAW {
            self.err(
                loc,
                &p.path,
                format!(
                    "{} can draw values as large as {} (about once in 10^16 draws), beyond the 1e13 any input may \
                     reach; narrow it, or clip it with clip = [low, high]",
                    p.dist.describe(),
                    dist::fmt_g(extreme)
                ),
            );
            return None;
        }
        Some(())
    }

    /// Probability mass of a distribution outside `[lo, hi]`.
    fn mass_outside(d: &Dist, lo: f64, hi: f64) -> f64 {
        let cdf = |x: f64| -> f64 {
            match *d {
                Dist::Normal { mean, sd } if sd > 0.0 => {
                    0.5 * libm::erfc(-(x - mean) / (sd * std::f64::consts::SQRT_2))
                }
                Dist::Lognormal { mu, sigma } if sigma > 0.0 => {
                    if x <= 0.0 {
                        0.0
                    } else {
                        0.5 * libm::erfc(-(libm::log(x) - mu) / (sigma * std::f64::consts::SQRT_2))
                    }
                }
                Dist::Uniform { low, high } if high > low => ((x - low) / (high - low)).clamp(0.0, 1.0),
                Dist::Triangular { low, mode, high } if high > low => {
                    if x <= low {
                        0.0
                    } else if x >= high {
                        1.0
                    } else if x <= mode {
                        (x - low) * (x - low) / ((high - low) * (mode - low))
                    } else {
                        1.0 - (high - x) * (high - x) / ((high - low) * (high - mode))
                    }
                }
                _ => {
                    if x >= d.central() {
                        1.0
                    } else {
                        0.0
                    }
                }
            }
        };
        let below = if lo.is_finite() { cdf(lo) } else { 0.0 };
        let above = if hi.is_finite() { 1.0 - cdf(hi) } else { 0.0 };
        below + above
    }

    /// A number that may change at milestone years: a param, or `{ from = { YEAR = param } }`.
    fn sched(&mut self, node: &Node, path: &str, dom: Domain, first_needed: i32) -> Option<Sched> {
        let Some(t) = node.as_table().filter(|t| t.get("from").is_some()) else {
            return Some(Sched::Const(self.param(node, path, dom)?));
        };
        self.keys(t, path, &["from"]);
        self.within(t, path, |r| {
            let from_node = t.get("from")?;
            let fp = join(path, "from");
            let ft = r.table(from_node, &fp)?;
            let mut steps: Vec<(i32, Param)> = Vec::new();
            let mut ok = true;
            for e in &ft.entries {
                let sp = join(&fp, &e.key);
                let year = match e.key.parse::<i32>() {
                    Ok(y) if (r.base_year..=r.end_year).contains(&y) => y,
                    _ => {
                        r.err(
                            e.key_loc,
                            &sp,
                            format!("found `{}`, expected a year in [{}, {}]", e.key, r.base_year, r.end_year),
                        );
                        ok = false;
                        continue;
                    }
                };
                if let Some((prev, _)) = steps.last()
                    && year <= *prev
                {
                    r.err(
                        e.key_loc,
                        &sp,
                        format!("year {year} after {prev}: step years must be written in increasing order"),
                    );
                    ok = false;
                }
                match r.param(&e.node, &sp, dom) {
                    Some(p) => steps.push((year, p)),
                    None => ok = false,
                }
            }
            if ok {
                match steps.first() {
                    None => {
                        r.err(from_node.loc, &fp, "found no steps, expected { YEAR = value, … }");
                        return None;
                    }
                    Some((y, _)) if *y > first_needed => {
                        r.err(
                            from_node.loc,
                            &fp,
                            format!("the first step is {y}, but a value is needed from {first_needed}"),
                        );
                        return None;
                    }
                    _ => {}
                }
            }
            ok.then_some(Sched::Steps { from: steps })
        })
    }

    fn opt_param(&mut self, t: &Table, path: &str, key: &str, dom: Domain) -> Option<Option<Param>> {
        match t.get(key) {
            Some(n) => self.param(n, &join(path, key), dom).map(Some),
            None => Some(None),
        }
    }

    fn req_param(&mut self, t: &Table, loc: Loc, path: &str, key: &str, dom: Domain) -> Option<Param> {
        match t.get(key) {
            Some(n) => self.param(n, &join(path, key), dom),
            None => {
                self.err(loc, &join(path, key), format!("missing; expected {}", dom.what));
                None
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------

pub(super) fn read_scenario(doc: &Document, diags: &mut Diagnostics) -> Option<Scenario> {
    let mut r = Reader {
        files: &doc.files,
        diags,
        prov: Vec::new(),
        inputs: Vec::new(),
        base_year: 2020,
        end_year: 2035,
        declared: Declared::of(&doc.root),
    };
    let root = &doc.root;
    let top = ["name", "description", "settings", "age_structures", "demography", "towns", "resources", "capacity"];
    r.keys(root, "", &top);
    let p = r.table_prov(root, "");
    r.prov.push(p);

    // Whole-file problems ("towns: missing") point at the first key, or the file's start.
    let file_start = if doc.files.files.is_empty() { Loc::NONE } else { Loc { file: 0, start: 0, end: 0 } };
    let root_loc = root.entries.first().map_or(file_start, |e| e.key_loc);
    let name = r.names(root.get("name"), "name", root_loc);
    let description = root.get("description").and_then(|n| r.string(n, "description"));
    let settings = read_settings(&mut r, root.get("settings"));
    if let Some(s) = &settings {
        r.base_year = s.base_year;
        r.end_year = s.end_year;
    }
    let structures = read_structures(&mut r, root.get("age_structures"));
    let city = read_city(&mut r, root.get("demography"), root_loc);
    let towns = read_towns(&mut r, root.get("towns"), root_loc, &structures, &city);
    let town_ids: Vec<String> = towns.iter().map(|t| t.id.clone()).collect();
    let resources = read_resources(&mut r, root.get("resources"), root_loc, &town_ids);
    let capacity = read_capacity(&mut r, root.get("capacity"), &towns, &resources);

    let (name, settings, city, capacity) = (name?, settings?, city?, capacity?);
    let mortality = city.mortality?;
    let migration_correlation = city.c;
    let mut scenario = Scenario {
        name,
        description,
        settings,
        mortality,
        migration_correlation,
        towns,
        resources,
        capacity,
        notes: Vec::new(),
        inputs: std::mem::take(&mut r.inputs),
        files: Vec::new(),
        sha256: String::new(),
    };
    expand_towns(&mut r, &mut scenario)?;
    Some(scenario)
}

fn read_settings(r: &mut Reader, node: Option<&Node>) -> Option<Settings> {
    let mut s = Settings { base_year: 2020, end_year: 2035, draws: 10_000, seed: 1, risk: 0.2, decision_year: 2021 };
    let Some(node) = node else {
        s.decision_year = s.base_year + 1;
        return Some(s);
    };
    let t = r.table(node, "settings")?;
    r.keys(t, "settings", &["base_year", "end_year", "draws", "seed", "risk", "decision_year"]);
    let mut ok = true;
    if let Some(n) = t.get("base_year") {
        match r.int(n, "settings.base_year", 1900, 2200, "a year") {
            Some(v) => s.base_year = v as i32,
            None => ok = false,
        }
    }
    if let Some(n) = t.get("end_year") {
        match r.int(n, "settings.end_year", 1900, 2400, "a year") {
            Some(v) => s.end_year = v as i32,
            None => ok = false,
        }
    }
    if ok && (s.end_year <= s.base_year || s.end_year - s.base_year > MAX_YEARS) {
        let n = t.get("end_year").or(t.get("base_year")).map_or(node.loc, |n| n.loc);
        r.err(
            n,
            "settings.end_year",
            format!(
                "found {}, expected a year after base_year {} and at most {MAX_YEARS} years later",
                s.end_year, s.base_year
            ),
        );
        ok = false;
    }
    if let Some(n) = t.get("draws") {
        match r.int(n, "settings.draws", 1, MAX_DRAWS as i64, "a number of draws") {
            Some(v) => s.draws = v as u64,
            None => ok = false,
        }
    }
    if let Some(n) = t.get("seed") {
        match r.int(n, "settings.seed", 0, i64::MAX, "a seed") {
            Some(v) => s.seed = v as u64,
            None => ok = false,
        }
    }
    if let Some(n) = t.get("risk") {
        match r.number(n, "settings.risk") {
            Some(v) if v > 0.0 && v < 1.0 => s.risk = v,
            Some(v) => {
                r.err(n.loc, "settings.risk", format!("found {v}, expected a probability strictly between 0 and 1"));
                ok = false;
            }
            None => ok = false,
        }
    }
    s.decision_year = s.base_year + 1;
    // Checked against the horizon only when the horizon itself is valid (one mistake, one message).
    if let Some(n) = t.get("decision_year").filter(|_| ok) {
        match r.int(n, "settings.decision_year", s.base_year as i64, s.end_year as i64, "a year within the horizon") {
            Some(v) => s.decision_year = v as i32,
            None => ok = false,
        }
    }
    ok.then_some(s)
}

/// An age–sex structure as read: single-year vectors, counts or shares.
#[derive(Clone)]
struct AgeSex {
    female: Vec<f64>,
    male: Vec<f64>,
    shares: bool,
    given_as: String,
    source: Option<String>,
}

const AGE_KEYS: &[&str] = &["age_groups", "female", "male", "female_share", "male_share", "share", "sex_ratio", "file"];

fn read_structures(r: &mut Reader, node: Option<&Node>) -> HashMap<String, AgeSex> {
    let mut out = HashMap::new();
    let Some(t) = node.and_then(|n| r.table(n, "age_structures")) else { return out };
    r.within(t, "age_structures", |r| {
        for e in &t.entries {
            if PROV_KEYS.contains(&e.key.as_str()) {
                continue;
            }
            let path = join("age_structures", &e.key);
            if !r.check_id(&e.key, e.key_loc, &path) {
                continue;
            }
            let Some(st) = r.table(&e.node, &path) else { continue };
            r.keys(st, &path, AGE_KEYS);
            if let Some(a) = r.within(st, &path, |r| read_age_sex(r, st, &path, e.node.loc)) {
                out.insert(e.key.clone(), a);
            }
        }
    });
    out
}

/// Reads age groups with counts or shares, or a CSV file (MODEL §8.2).
fn read_age_sex(r: &mut Reader, t: &Table, path: &str, loc: Loc) -> Option<AgeSex> {
    let prov = r.prov();
    if let Some(f) = t.get("file") {
        for k in ["age_groups", "female", "male", "female_share", "male_share", "share", "sex_ratio"] {
            if let Some(n) = t.get(k) {
                r.err(n.loc, &join(path, k), "cannot be combined with `file` (the file gives the whole table)");
            }
        }
        let fp = join(path, "file");
        let rel = r.string(f, &fp)?;
        let file_path = r.files.dir_of(f.loc).join(&rel);
        let (female, male) = read_age_csv(r, &file_path, f.loc, &fp)?;
        r.record(path, format!("single-year counts from {rel}"), &prov);
        return Some(AgeSex { female, male, shares: false, given_as: format!("file {rel}"), source: prov.source });
    }
    let Some(gnode) = t.get("age_groups") else {
        r.err(loc, &join(path, "age_groups"), "missing; expected age_groups = [[0, 4], [5, 9], …, [85, 100]] with counts or shares, or file = \"ages.csv\"");
        return None;
    };
    let groups = read_groups(r, gnode, &join(path, "age_groups"))?;
    let n = groups.len();
    let arr = |r: &mut Reader, k: &str| t.get(k).map(|node| (r.numbers(node, &join(path, k), Some(n), true), node.loc));
    let has = |k: &str| t.get(k).is_some();
    let (female, male, shares, given_as) = if has("female") || has("male") {
        for k in ["female_share", "male_share", "share", "sex_ratio"] {
            if let Some(nd) = t.get(k) {
                r.err(nd.loc, &join(path, k), "cannot be combined with counts (female, male)");
            }
        }
        let (f, m) = (arr(r, "female"), arr(r, "male"));
        let (Some((f, _)), Some((m, _))) = (f, m) else {
            r.err(loc, path, "counts need both `female` and `male`");
            return None;
        };
        (f?, m?, false, "counts")
    } else if has("female_share") || has("male_share") {
        // Otherwise `share` would be silently ignored.
        for k in ["share", "sex_ratio"] {
            if let Some(nd) = t.get(k) {
                r.err(nd.loc, &join(path, k), "cannot be combined with shares by sex (female_share, male_share)");
            }
        }
        let (f, m) = (arr(r, "female_share"), arr(r, "male_share"));
        let (Some((f, floc)), Some((m, _))) = (f, m) else {
            r.err(loc, path, "shares by sex need both `female_share` and `male_share`");
            return None;
        };
        let (f, m) = (f?, m?);
        let sum: f64 = f.iter().chain(&m).sum();
        let scale = check_share_sum(r, sum, floc, &join(path, "female_share"))?;
        (f.iter().map(|v| v * scale).collect(), m.iter().map(|v| v * scale).collect(), true, "shares by sex")
    } else if has("share") {
        let (Some((s, sloc)), Some(sr_node)) = (arr(r, "share"), t.get("sex_ratio")) else {
            r.err(
                loc,
                &join(path, "sex_ratio"),
                "missing; shares for both sexes need sex_ratio (males per 100 females)",
            );
            return None;
        };
        let s = s?;
        let sr = r.number(sr_node, &join(path, "sex_ratio"))?;
        if !(50.0..=200.0).contains(&sr) {
            let what = "males per 100 females in [50, 200]";
            r.err_help(
                sr_node.loc,
                &join(path, "sex_ratio"),
                format!("found {sr}, expected {what}"),
                ratio_help(what, sr),
            );
            return None;
        }
        let scale = check_share_sum(r, s.iter().sum(), sloc, &join(path, "share"))?;
        let fshare = 100.0 / (100.0 + sr);
        (
            s.iter().map(|v| v * scale * fshare).collect(),
            s.iter().map(|v| v * scale * (1.0 - fshare)).collect(),
            true,
            "shares with a sex ratio",
        )
    } else {
        r.err(
            loc,
            path,
            "missing values; expected female and male (counts), female_share and male_share, or share and sex_ratio",
        );
        return None;
    };
    let f = schedule::expand_groups(&groups, &female);
    let m = schedule::expand_groups(&groups, &male);
    r.record(path, format!("{} age groups, {given_as}", groups.len()), &prov);
    Some(AgeSex { female: f.to_vec(), male: m.to_vec(), shares, given_as: given_as.into(), source: prov.source })
}

/// The open age group's hazard must be positive: with none, nobody ever dies at 100+ and life
/// expectancy is infinite (MODEL §3: `L_ω = l_ω/m_ω`).
fn check_open_hazard(r: &mut Reader, m_open: f64, loc: Loc, path: &str) -> bool {
    if m_open > 0.0 {
        return true;
    }
    r.err(loc, path, format!("found {m_open} for ages 100+, expected a hazard > 0 for the open age group"));
    false
}

/// Shares must sum to 1 within 0.99–1.01; inside that band they are renormalised (noted).
fn check_share_sum(r: &mut Reader, sum: f64, loc: Loc, path: &str) -> Option<f64> {
    if !(0.99..=1.01).contains(&sum) {
        r.err(loc, path, format!("shares sum to {sum:.4}, expected 1 (0.99–1.01 is accepted and renormalised)"));
        return None;
    }
    if (sum - 1.0).abs() > 1e-12 {
        r.note(loc, path, format!("shares summed to {sum:.6}; renormalised to 1"));
    }
    Some(1.0 / sum)
}

fn read_groups(r: &mut Reader, node: &Node, path: &str) -> Option<Vec<(usize, usize)>> {
    let Value::Array(items) = &node.value else {
        r.err(node.loc, path, format!("found {}, expected [[lo, hi], …]", node.describe()));
        return None;
    };
    if items.len() > AGES {
        r.err(node.loc, path, format!("found {} groups, expected at most {AGES} (single years 0 … 100)", items.len()));
        return None;
    }
    let mut groups = Vec::new();
    let mut next = 0usize;
    for (i, item) in items.iter().enumerate() {
        let p = format!("{path}[{i}]");
        let v = r.numbers(item, &p, Some(2), true)?;
        let (lo, hi) = (v[0], v[1]);
        if lo.fract() != 0.0 || hi.fract() != 0.0 || lo > hi || hi > OMEGA as f64 {
            r.err(item.loc, &p, format!("found [{lo}, {hi}], expected whole ages lo ≤ hi ≤ 100"));
            return None;
        }
        let (lo, hi) = (lo as usize, hi as usize);
        if lo != next {
            let msg = if lo > next {
                let missing =
                    if lo - 1 == next { format!("age {next} is") } else { format!("ages {next}…{} are", lo - 1) };
                if next == 0 {
                    format!("the first group starts at {lo}, expected 0: {missing} missing")
                } else {
                    format!(
                        "group starts at {lo} but the previous group ends at {}: {missing} missing (groups must be contiguous)",
                        next - 1,
                    )
                }
            } else {
                format!("group starts at {lo}, overlapping the previous group (which ends at {})", next - 1)
            };
            r.err(item.loc, &p, msg);
            return None;
        }
        groups.push((lo, hi));
        next = hi + 1;
    }
    if next != AGES {
        r.err(
            node.loc,
            path,
            format!(
                "groups end at {}, expected them to cover 0 … 100 (the last group ending at 100, meaning 100+)",
                next as i64 - 1
            ),
        );
        return None;
    }
    Some(groups)
}

/// A single-year CSV with header `age,female,male`, ages 0 … 100 once each.
fn read_age_csv(r: &mut Reader, path: &std::path::Path, loc: Loc, field: &str) -> Option<(Vec<f64>, Vec<f64>)> {
    let text = match read_text_limited(path, MAX_TABLE_BYTES) {
        Ok(t) => t,
        Err(e) => {
            r.err(loc, field, e);
            return None;
        }
    };
    let file = path.display().to_string();
    let mut rdr = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(text.as_bytes());
    let header: Vec<String> = match rdr.headers() {
        Ok(h) => h.iter().map(str::to_string).collect(),
        Err(e) => {
            r.err(loc, field, format!("{file}: {e}"));
            return None;
        }
    };
    if header != ["age", "female", "male"] {
        r.err(loc, field, format!("{file}:1: found header `{}`, expected `age,female,male`", header.join(",")));
        return None;
    }
    let mut female = vec![f64::NAN; AGES];
    let mut male = vec![f64::NAN; AGES];
    for (i, rec) in rdr.records().enumerate() {
        let line = i + 2;
        let rec = match rec {
            Ok(rec) => rec,
            Err(e) => {
                r.err(loc, field, format!("{file}:{line}: {e}"));
                return None;
            }
        };
        if i >= AGES {
            r.err(loc, field, format!("{file}:{line}: more than {AGES} rows; expected ages 0 … 100 once each"));
            return None;
        }
        let parse = |s: &str| s.parse::<f64>().ok().filter(|v| v.is_finite() && (0.0..=MAX_MAGNITUDE).contains(v));
        let age = rec.get(0).and_then(|s| s.parse::<usize>().ok()).filter(|a| *a <= OMEGA);
        let (Some(age), Some(f), Some(m)) = (age, rec.get(1).and_then(parse), rec.get(2).and_then(parse)) else {
            r.err(
                loc,
                field,
                format!(
                    "{file}:{line}: found `{}`, expected an age 0 … 100 and two counts in [0, 1e12]",
                    rec.iter().collect::<Vec<_>>().join(",")
                ),
            );
            return None;
        };
        if !female[age].is_nan() {
            r.err(loc, field, format!("{file}:{line}: age {age} appears twice"));
            return None;
        }
        female[age] = f;
        male[age] = m;
    }
    if let Some(missing) = female.iter().position(|v| v.is_nan()) {
        r.err(loc, field, format!("{file}: age {missing} is missing; expected every age 0 … 100"));
        return None;
    }
    Some((female, male))
}

// ---------------------------------------------------------------------------------------------
// Demography: the city-wide block and what towns inherit from it (MODEL §8.4).

#[derive(Default)]
struct CityDefaults {
    mortality: Option<Mortality>,
    c: Param,
    fert: HashMap<&'static str, Param>,
    fert_schedule: Option<FertilitySchedule>,
    mig: HashMap<&'static str, Sched>,
    profile: Option<MigrantProfile>,
    /// City-wide keys that were written but had errors: towns inheriting them are not told
    /// they are missing (the error where they are written is the one to fix).
    invalid: HashSet<&'static str>,
}

const FERT_KEYS: &[&str] = &["tfr0", "tfr_star", "phi", "sigma_f", "srb", "schedule"];
const MIG_TOWN_KEYS: &[&str] = &["k", "rho", "sigma_m", "n_fix", "profile", "female_share"];

fn fert_domain(key: &str) -> Domain {
    match key {
        "tfr0" | "tfr_star" => TFR,
        "phi" => UNIT,
        "sigma_f" => NONNEG,
        _ => SRB,
    }
}

fn mig_domain(key: &str) -> Domain {
    match key {
        "k" | "sigma_m" => NONNEG,
        "rho" | "female_share" => UNIT,
        _ => ANY,
    }
}

impl Default for Param {
    fn default() -> Self {
        Param::fixed("", 0.0)
    }
}

fn read_city(r: &mut Reader, node: Option<&Node>, loc: Loc) -> Option<CityDefaults> {
    let mut city = CityDefaults { c: Param::fixed("demography.migration.c", 0.0), ..Default::default() };
    let Some(node) = node else {
        r.err(
            loc,
            "demography",
            "missing; expected [demography.mortality], [demography.fertility] and [demography.migration]",
        );
        return None;
    };
    let t = r.table(node, "demography")?;
    r.keys(t, "demography", &["mortality", "fertility", "migration"]);
    r.within(t, "demography", |r| {
        match t.get("mortality") {
            Some(m) => {
                if let Some(mt) = r.table(m, "demography.mortality") {
                    r.keys(mt, "demography.mortality", &["delta", "sigma_k", "female", "male", "file"]);
                    city.mortality = r.within(mt, "demography.mortality", |r| {
                        let delta = r.req_param(mt, m.loc, "demography.mortality", "delta", DELTA);
                        let sigma_k = r
                            .opt_param(mt, "demography.mortality", "sigma_k", NONNEG)
                            .map(|p| p.unwrap_or_else(|| Param::fixed("demography.mortality.sigma_k", 0.0)));
                        let base = read_mortality_schedule(r, mt, "demography.mortality", m.loc);
                        Some(Mortality { delta: delta?, sigma_k: sigma_k?, base: base? })
                    });
                }
            }
            None => {
                r.err(node.loc, "demography.mortality", "missing; expected delta and the base schedule (female, male)")
            }
        }
        if let Some(f) = t.get("fertility")
            && let Some(ft) = r.table(f, "demography.fertility")
        {
            r.keys(ft, "demography.fertility", FERT_KEYS);
            r.within(ft, "demography.fertility", |r| {
                for key in FERT_KEYS.iter().filter(|k| **k != "schedule") {
                    match r.opt_param(ft, "demography.fertility", key, fert_domain(key)) {
                        Some(Some(p)) => {
                            city.fert.insert(key, p);
                        }
                        Some(None) => {}
                        None => {
                            city.invalid.insert(key);
                        }
                    }
                }
                if let Some(s) = ft.get("schedule") {
                    city.fert_schedule = read_fert_schedule(r, s, "demography.fertility.schedule");
                    if city.fert_schedule.is_none() {
                        city.invalid.insert("schedule");
                    }
                }
            });
        }
        if let Some(mg) = t.get("migration")
            && let Some(mt) = r.table(mg, "demography.migration")
        {
            let mut keys = MIG_TOWN_KEYS.to_vec();
            keys.push("c");
            r.keys(mt, "demography.migration", &keys);
            r.within(mt, "demography.migration", |r| {
                if let Some(Some(c)) = r.opt_param(mt, "demography.migration", "c", UNIT) {
                    city.c = c;
                }
                for key in MIG_TOWN_KEYS {
                    let Some(n) = mt.get(key) else { continue };
                    let p = join("demography.migration", key);
                    let ok = if *key == "profile" {
                        city.profile = read_profile(r, n, &p);
                        city.profile.is_some()
                    } else if matches!(*key, "k" | "rho" | "n_fix") {
                        r.sched(n, &p, mig_domain(key), r.base_year + 1).map(|s| city.mig.insert(key, s)).is_some()
                    } else {
                        r.param(n, &p, mig_domain(key)).map(|pp| city.mig.insert(key, Sched::Const(pp))).is_some()
                    };
                    if !ok {
                        city.invalid.insert(key);
                    }
                }
            });
        }
    });
    Some(city)
}

fn read_mortality_schedule(r: &mut Reader, t: &Table, path: &str, loc: Loc) -> Option<MortalitySchedule> {
    if let Some(f) = t.get("file") {
        let fp = join(path, "file");
        for k in ["female", "male"] {
            if let Some(n) = t.get(k) {
                r.err(n.loc, &join(path, k), "cannot be combined with `file`");
            }
        }
        let rel = r.string(f, &fp)?;
        let file_path = r.files.dir_of(f.loc).join(&rel);
        let (female, male) = read_age_csv(r, &file_path, f.loc, &fp)?;
        if !check_open_hazard(r, female[OMEGA], f.loc, &fp) || !check_open_hazard(r, male[OMEGA], f.loc, &fp) {
            return None;
        }
        let prov = r.prov();
        r.record(&fp, format!("hazards by single age from {rel}"), &prov);
        return Some(MortalitySchedule {
            female: SexMortality::Table { rates: female, source: prov.source.clone() },
            male: SexMortality::Table { rates: male, source: prov.source },
        });
    }
    let sex = |r: &mut Reader, key: &str| -> Option<SexMortality> {
        let p = join(path, key);
        let Some(n) = t.get(key) else {
            r.err(
                loc,
                &p,
                "missing; expected { a, b or e0, c, infant_prob or infant_rate } or { table = [101 hazards] }",
            );
            return None;
        };
        let st = r.table(n, &p)?;
        r.keys(st, &p, &["a", "b", "c", "e0", "infant_rate", "infant_prob", "table"]);
        r.within(st, &p, |r| read_sex_mortality(r, st, &p, n.loc))
    };
    let female = sex(r, "female");
    let male = sex(r, "male");
    Some(MortalitySchedule { female: female?, male: male? })
}

fn read_sex_mortality(r: &mut Reader, t: &Table, path: &str, loc: Loc) -> Option<SexMortality> {
    if let Some(tn) = t.get("table") {
        for k in ["a", "b", "c", "e0"] {
            if let Some(n) = t.get(k) {
                r.err(n.loc, &join(path, k), "cannot be combined with `table`");
            }
        }
        let tp = join(path, "table");
        let mut rates = r.numbers(tn, &tp, Some(AGES), true)?;
        if !check_open_hazard(r, rates[OMEGA], tn.loc, &tp) {
            return None;
        }
        if let (Some(_), Some(n)) = (t.get("infant_prob"), t.get("infant_rate")) {
            r.err(n.loc, &join(path, "infant_rate"), "give infant_prob or infant_rate, not both");
            return None;
        }
        // A table is one fixed schedule: a distribution for its infant value would silently be
        // its central value, so it is refused.
        let infant = match (t.get("infant_prob"), t.get("infant_rate")) {
            (Some(n), _) => Some((r.param(n, &join(path, "infant_prob"), INFANT_PROB)?, true)),
            (None, Some(n)) => Some((r.param(n, &join(path, "infant_rate"), NONNEG)?, false)),
            (None, None) => None,
        };
        if let Some((p, is_prob)) = infant {
            if p.is_random() {
                r.err(p.loc, &p.path, "with a mortality table the infant value must be a fixed number (put mortality uncertainty in delta and sigma_k)");
                return None;
            }
            rates[0] = if is_prob { schedule::infant_rate_from_probability(p.central()) } else { p.central() };
        }
        let prov = r.prov();
        r.record(&join(path, "table"), "hazards for ages 0 … 100+".into(), &prov);
        return Some(SexMortality::Table { rates, source: prov.source });
    }
    let a = r.req_param(t, loc, path, "a", NONNEG);
    let c = r.req_param(t, loc, path, "c", POSITIVE);
    let infant = match (t.get("infant_prob"), t.get("infant_rate")) {
        (Some(_), Some(n)) => {
            r.err(n.loc, &join(path, "infant_rate"), "give infant_prob or infant_rate, not both");
            None
        }
        (Some(n), None) => r.param(n, &join(path, "infant_prob"), INFANT_PROB).map(|p| (p, true)),
        (None, Some(n)) => r.param(n, &join(path, "infant_rate"), NONNEG).map(|p| (p, false)),
        (None, None) => {
            r.err(loc, &join(path, "infant_prob"), "missing; expected infant_prob (q0) or infant_rate (m0)");
            None
        }
    };
    let (a, c, (infant, infant_is_probability)) = (a?, c?, infant?);
    match (t.get("b"), t.get("e0")) {
        (Some(_), Some(n)) => {
            r.err(n.loc, &join(path, "e0"), "give b or e0 (b is then solved from it), not both");
            None
        }
        (Some(n), None) => {
            let b = r.param(n, &join(path, "b"), POSITIVE)?;
            Some(SexMortality::GompertzMakeham { a, b, c, infant, infant_is_probability, e0_target: None })
        }
        (None, Some(n)) => {
            let ep = join(path, "e0");
            let e0 = r.param(
                n,
                &ep,
                Domain { lo: 20.0, hi: 110.0, lo_open: false, what: "a life expectancy in [20, 110] years" },
            )?;
            if e0.is_random() || a.is_random() || c.is_random() || infant.is_random() {
                r.err(n.loc, &ep, "calibrating B to e0 needs fixed a, c, infant and e0 (put mortality uncertainty in delta and sigma_k)");
                return None;
            }
            let m0 = if infant_is_probability {
                schedule::infant_rate_from_probability(infant.central())
            } else {
                infant.central()
            };
            match schedule::calibrate_gompertz_b(a.central(), c.central(), m0, e0.central()) {
                Ok(b) => {
                    let source = Some(format!(
                        "calibrated so that e0 = {} ({})",
                        dist::fmt_g(e0.central()),
                        e0.source.clone().unwrap_or_else(|| "no source".into())
                    ));
                    let bp = Param {
                        path: join(path, "b"),
                        dist: Dist::Fixed(b),
                        clip: None,
                        key: None,
                        source,
                        confidence: e0.confidence.clone(),
                        loc: n.loc,
                    };
                    Some(SexMortality::GompertzMakeham {
                        a,
                        b: bp,
                        c,
                        infant,
                        infant_is_probability,
                        e0_target: Some(e0.central()),
                    })
                }
                Err(e) => {
                    r.err(n.loc, &ep, e.to_string());
                    None
                }
            }
        }
        (None, None) => {
            r.err(
                loc,
                &join(path, "b"),
                "missing; expected b (Gompertz level) or e0 (life expectancy to calibrate b to)",
            );
            None
        }
    }
}

fn read_fert_schedule(r: &mut Reader, node: &Node, path: &str) -> Option<FertilitySchedule> {
    let t = r.table(node, path)?;
    r.keys(t, path, &["mean_age", "sd_age", "table"]);
    r.within(t, path, |r| {
        if let Some(tn) = t.get("table") {
            let v = r.numbers(tn, &join(path, "table"), Some(FERTILE_AGES), true)?;
            let sum: f64 = v.iter().sum();
            if sum <= 0.0 {
                r.err(
                    tn.loc,
                    &join(path, "table"),
                    "found all zeros, expected the age pattern of fertility for ages 15 … 49",
                );
                return None;
            }
            let prov = r.prov();
            r.record(&join(path, "table"), "fertility shares for ages 15 … 49".into(), &prov);
            return Some(FertilitySchedule::Table { shares: v.iter().map(|x| x / sum).collect() });
        }
        let mean_age = r.req_param(t, node.loc, path, "mean_age", FERTILE_AGE);
        let sd_age = r.req_param(
            t,
            node.loc,
            path,
            "sd_age",
            Domain { lo: 0.5, hi: 20.0, lo_open: false, what: "a standard deviation in [0.5, 20] years" },
        );
        Some(FertilitySchedule::Gamma { mean_age: mean_age?, sd_age: sd_age? })
    })
}

fn read_profile(r: &mut Reader, node: &Node, path: &str) -> Option<MigrantProfile> {
    let t = r.table(node, path)?;
    let names = ["a1", "alpha1", "a2", "alpha2", "mu2", "lambda2", "c0"];
    let mut allowed = names.to_vec();
    allowed.push("table");
    r.keys(t, path, &allowed);
    r.within(t, path, |r| {
        if let Some(tn) = t.get("table") {
            let v = r.numbers(tn, &join(path, "table"), Some(AGES), true)?;
            let sum: f64 = v.iter().sum();
            if sum <= 0.0 {
                r.err(
                    tn.loc,
                    &join(path, "table"),
                    "found all zeros, expected the age pattern of migrants for ages 0 … 100",
                );
                return None;
            }
            let prov = r.prov();
            r.record(&join(path, "table"), "migrant shares for ages 0 … 100+".into(), &prov);
            return Some(MigrantProfile::Table { shares: v.iter().map(|x| x / sum).collect() });
        }
        let doms = [NONNEG, NONNEG, POSITIVE, NONNEG, AGE, NONNEG, NONNEG];
        let mut ps = Vec::new();
        for (name, dom) in names.iter().zip(doms) {
            ps.push(r.req_param(t, node.loc, path, name, dom));
        }
        let mut it = ps.into_iter();
        let mut next = || it.next().flatten();
        let (a1, alpha1, a2, alpha2, mu2, lambda2, c0) = (next(), next(), next(), next(), next(), next(), next());
        let profile = MigrantProfile::RogersCastro {
            a1: a1?,
            alpha1: alpha1?,
            a2: a2?,
            alpha2: alpha2?,
            mu2: mu2?,
            lambda2: lambda2?,
            c0: c0?,
        };
        // Checked here, where it is written, rather than once per town that inherits it.
        if central_h(&profile).is_none() {
            r.err(
                node.loc,
                path,
                "these Rogers–Castro parameters overflow or do not give a positive schedule at ages 0 … 100 \
                 (is alpha2 · mu2 very large?)",
            );
            return None;
        }
        Some(profile)
    })
}

// ---------------------------------------------------------------------------------------------
// Towns.

fn read_towns(
    r: &mut Reader,
    node: Option<&Node>,
    loc: Loc,
    structures: &HashMap<String, AgeSex>,
    city: &Option<CityDefaults>,
) -> Vec<Town> {
    let mut towns = Vec::new();
    let Some(node) = node else {
        r.err(loc, "towns", "missing; expected at least one [towns.<id>] table");
        return towns;
    };
    let Some(t) = r.table(node, "towns") else { return towns };
    r.within(t, "towns", |r| {
        let n_towns = t.keys().filter(|k| !PROV_KEYS.contains(k)).count();
        if n_towns == 0 {
            r.err(node.loc, "towns", "found no towns, expected at least one [towns.<id>] table");
        }
        if n_towns > MAX_TOWNS {
            r.err(node.loc, "towns", format!("found {n_towns} towns, expected at most {MAX_TOWNS}"));
            return;
        }
        for e in &t.entries {
            if PROV_KEYS.contains(&e.key.as_str()) {
                continue;
            }
            let path = join("towns", &e.key);
            if !r.check_id(&e.key, e.key_loc, &path) {
                continue;
            }
            let Some(tt) = r.table(&e.node, &path) else { continue };
            r.keys(tt, &path, &["name", "streets", "targets", "population", "mortality", "fertility", "migration"]);
            if let Some(town) = r.within(tt, &path, |r| read_town(r, &e.key, tt, &path, e.node.loc, structures, city)) {
                towns.push(town);
            }
        }
    });
    towns
}

fn read_town(
    r: &mut Reader,
    id: &str,
    t: &Table,
    path: &str,
    loc: Loc,
    structures: &HashMap<String, AgeSex>,
    city: &Option<CityDefaults>,
) -> Option<Town> {
    let name = r.names(t.get("name"), &join(path, "name"), loc);
    let streets = read_streets(r, t.get("streets"), &join(path, "streets"), loc);
    let targets = read_targets(r, t.get("targets"), &join(path, "targets"));
    let population = match t.get("population") {
        Some(n) => read_population(r, n, &join(path, "population"), structures),
        None => {
            r.err(loc, &join(path, "population"), "missing; expected the base population by age and sex");
            None
        }
    };
    let mortality = t.get("mortality").and_then(|n| {
        let mp = join(path, "mortality");
        let mt = r.table(n, &mp)?;
        // delta and sigma_k get their own message below, not "unknown key" as well.
        r.keys(mt, &mp, &["female", "male", "file", "delta", "sigma_k"]);
        for k in ["delta", "sigma_k"] {
            if let Some(x) = mt.get(k) {
                r.err(x.loc, &join(&mp, k), format!("{k} is city-wide (MODEL §8.4): set it in [demography.mortality]"));
            }
        }
        r.within(mt, &mp, |r| read_mortality_schedule(r, mt, &mp, n.loc))
    });
    let city = city.as_ref()?;
    let fertility = read_town_fertility(r, t.get("fertility"), &join(path, "fertility"), loc, city);
    let migration = read_town_migration(r, t.get("migration"), &join(path, "migration"), loc, city);
    Some(Town {
        id: id.to_string(),
        name: name?,
        streets: streets?,
        targets: targets?,
        population: population?,
        mortality,
        fertility: fertility?,
        migration: migration?,
        expanded: Expanded {
            population_female: vec![],
            population_male: vec![],
            m0_female: vec![],
            m0_male: vec![],
            fertility_g: vec![],
            migrants_female: vec![],
            migrants_male: vec![],
            e0_female: 0.0,
            e0_male: 0.0,
        },
    })
}

fn read_streets(r: &mut Reader, node: Option<&Node>, path: &str, loc: Loc) -> Option<Vec<(i32, u32)>> {
    let Some(node) = node else {
        r.err(loc, path, "missing; expected the number of streets/towns (街镇), e.g. streets = 12 or { from = { 2020 = 10, 2028 = 12 } }");
        return None;
    };
    let prov = r.prov();
    let (steps, prov) = match &node.value {
        Value::Int(_) => (vec![(r.base_year, r.int(node, path, 0, 10_000, "a number of streets/towns")? as u32)], prov),
        Value::Table(t) => {
            r.keys(t, path, &["from", "value"]);
            let prov = r.table_prov(t, path);
            if let Some(v) = t.get("value") {
                (
                    vec![(r.base_year, r.int(v, &join(path, "value"), 0, 10_000, "a number of streets/towns")? as u32)],
                    prov,
                )
            } else {
                let Some(f) = t.get("from") else {
                    r.err(node.loc, path, "expected { from = { YEAR = count, … } } or { value = count }");
                    return None;
                };
                let fp = join(path, "from");
                let ft = r.table(f, &fp)?;
                let mut steps: Vec<(i32, u32)> = Vec::new();
                for e in &ft.entries {
                    let sp = join(&fp, &e.key);
                    let Some(year) = e.key.parse::<i32>().ok().filter(|y| (r.base_year..=r.end_year).contains(y))
                    else {
                        r.err(
                            e.key_loc,
                            &sp,
                            format!("found `{}`, expected a year in [{}, {}]", e.key, r.base_year, r.end_year),
                        );
                        return None;
                    };
                    if steps.last().is_some_and(|(p, _)| year <= *p) {
                        r.err(e.key_loc, &sp, "step years must be written in increasing order");
                        return None;
                    }
                    steps.push((year, r.int(&e.node, &sp, 0, 10_000, "a number of streets/towns")? as u32));
                }
                if steps.first().is_none_or(|(y, _)| *y > r.base_year) {
                    r.err(f.loc, &fp, format!("the first step must be at or before the base year {}", r.base_year));
                    return None;
                }
                (steps, prov)
            }
        }
        _ => {
            r.err(node.loc, path, format!("found {}, expected a whole number of streets/towns", node.describe()));
            return None;
        }
    };
    let shown: Vec<String> = steps.iter().map(|(y, n)| format!("{n} from {y}")).collect();
    r.record(path, shown.join(", "), &prov);
    Some(steps)
}

fn read_targets(r: &mut Reader, node: Option<&Node>, path: &str) -> Option<Vec<Target>> {
    let Some(node) = node else { return Some(vec![]) };
    let t = r.table(node, path)?;
    r.within(t, path, |r| {
        let mut out = Vec::new();
        let mut ok = true;
        for e in &t.entries {
            if PROV_KEYS.contains(&e.key.as_str()) {
                continue;
            }
            let p = join(path, &e.key);
            let Some(year) = e.key.parse::<i32>().ok().filter(|y| (r.base_year..=r.end_year).contains(y)) else {
                r.err(
                    e.key_loc,
                    &p,
                    format!("found `{}`, expected a year in [{}, {}]", e.key, r.base_year, r.end_year),
                );
                ok = false;
                continue;
            };
            match r.param(&e.node, &p, NONNEG) {
                Some(pp) if pp.is_random() => {
                    r.err(e.node.loc, &p, "targets are fixed markers; put uncertainty in migration.k");
                    ok = false;
                }
                Some(pp) => out.push(Target { year, value: pp.central(), source: pp.source }),
                None => ok = false,
            }
        }
        ok.then_some(out)
    })
}

fn read_population(
    r: &mut Reader,
    node: &Node,
    path: &str,
    structures: &HashMap<String, AgeSex>,
) -> Option<BasePopulation> {
    let t = r.table(node, path)?;
    let mut keys = AGE_KEYS.to_vec();
    keys.extend(["total", "structure"]);
    r.keys(t, path, &keys);
    r.within(t, path, |r| {
        let total = r.opt_param(t, path, "total", NONNEG)?;
        let shape = if let Some(s) = t.get("structure") {
            let sp = join(path, "structure");
            let id = r.string(s, &sp)?;
            for k in AGE_KEYS {
                if let Some(n) = t.get(k) {
                    r.err(n.loc, &join(path, k), "cannot be combined with `structure`");
                }
            }
            match structures.get(&id) {
                Some(a) => {
                    let mut a = a.clone();
                    a.given_as = format!("structure {id}");
                    a
                }
                None if r.declared.structures.contains(&id) => return None, // its own errors are reported
                None => {
                    let help = did_you_mean(&id, structures.keys().map(String::as_str));
                    r.err_help(s.loc, &sp, format!("no age structure `{id}` in [age_structures]"), help);
                    return None;
                }
            }
        } else {
            read_age_sex(r, t, path, node.loc)?
        };
        let sum: f64 = shape.female.iter().chain(&shape.male).sum();
        if shape.shares && total.is_none() {
            r.err(node.loc, &join(path, "total"), "missing; shares need the total population (total = …)");
            return None;
        }
        if sum <= 0.0 {
            r.err(node.loc, path, "the base population is zero; expected people in some age group");
            return None;
        }
        let (female, male) = if total.is_some() {
            (shape.female.iter().map(|v| v / sum).collect(), shape.male.iter().map(|v| v / sum).collect())
        } else {
            (shape.female, shape.male)
        };
        Some(BasePopulation { given_as: shape.given_as, total, female, male, source: shape.source })
    })
}

fn read_town_fertility(
    r: &mut Reader,
    node: Option<&Node>,
    path: &str,
    loc: Loc,
    city: &CityDefaults,
) -> Option<Fertility> {
    let t = match node {
        Some(n) => Some(r.table(n, path)?),
        None => None,
    };
    let empty = Table::default();
    let tt = t.unwrap_or(&empty);
    r.keys(tt, path, FERT_KEYS);
    r.within(tt, path, |r| {
        let get = |r: &mut Reader, key: &'static str, default: Option<Param>| -> Option<Param> {
            if let Some(n) = tt.get(key) {
                return r.param(n, &join(path, key), fert_domain(key));
            }
            if let Some(p) = city.fert.get(key) {
                return Some(p.clone());
            }
            if default.is_none() && !city.invalid.contains(key) {
                r.err(loc, &join(path, key), format!("missing here and in [demography.fertility]; expected {}", fert_domain(key).what));
            }
            default
        };
        let tfr0 = get(r, "tfr0", None);
        let tfr_star = get(r, "tfr_star", tfr0.clone());
        let phi = get(r, "phi", Some(Param::fixed("demography.fertility.phi", 0.0)));
        let sigma_f = get(r, "sigma_f", Some(Param::fixed("demography.fertility.sigma_f", 0.0)));
        let srb = get(r, "srb", None);
        let schedule = match tt.get("schedule") {
            Some(n) => read_fert_schedule(r, n, &join(path, "schedule")),
            None => {
                if city.fert_schedule.is_none() && !city.invalid.contains("schedule") {
                    r.err(loc, &join(path, "schedule"), "missing here and in [demography.fertility]; expected { mean_age, sd_age } or { table = [35 shares] }");
                }
                city.fert_schedule.clone()
            }
        };
        Some(Fertility { tfr0: tfr0?, tfr_star: tfr_star?, phi: phi?, sigma_f: sigma_f?, srb: srb?, schedule: schedule? })
    })
}

fn read_town_migration(
    r: &mut Reader,
    node: Option<&Node>,
    path: &str,
    loc: Loc,
    city: &CityDefaults,
) -> Option<Migration> {
    let t = match node {
        Some(n) => Some(r.table(n, path)?),
        None => None,
    };
    let empty = Table::default();
    let tt = t.unwrap_or(&empty);
    let mut keys = MIG_TOWN_KEYS.to_vec();
    keys.push("c"); // reported below with the reason
    r.keys(tt, path, &keys);
    if let Some(c) = tt.get("c") {
        r.err(
            c.loc,
            &join(path, "c"),
            "c (the correlation of migration shocks between towns) is city-wide (MODEL §8.4): set it in [demography.migration]",
        );
    }
    r.within(tt, path, |r| {
        let get = |r: &mut Reader, key: &'static str, default: Option<f64>| -> Option<Sched> {
            if let Some(n) = tt.get(key) {
                let p = join(path, key);
                return if matches!(key, "k" | "rho" | "n_fix") {
                    r.sched(n, &p, mig_domain(key), r.base_year + 1)
                } else {
                    r.param(n, &p, mig_domain(key)).map(Sched::Const)
                };
            }
            if let Some(s) = city.mig.get(key) {
                return Some(s.clone());
            }
            match default {
                Some(v) => Some(Sched::Const(Param::fixed(join("demography.migration", key), v))),
                None if city.invalid.contains(key) => None,
                None => {
                    r.err(loc, &join(path, key), format!("missing here and in [demography.migration]; expected {}", mig_domain(key).what));
                    None
                }
            }
        };
        let k = get(r, "k", None);
        let rho = get(r, "rho", None);
        let sigma_m = get(r, "sigma_m", Some(0.0));
        let n_fix = get(r, "n_fix", Some(0.0));
        let female_share = get(r, "female_share", Some(0.5));
        let profile = match tt.get("profile") {
            Some(n) => read_profile(r, n, &join(path, "profile")),
            None => {
                if city.profile.is_none() && !city.invalid.contains("profile") {
                    r.err(loc, &join(path, "profile"), "missing here and in [demography.migration]; expected Rogers–Castro parameters or { table = [101 shares] }");
                }
                city.profile.clone()
            }
        };
        let as_param = |s: Option<Sched>| match s {
            Some(Sched::Const(p)) => Some(p),
            _ => None,
        };
        Some(Migration {
            k: k?,
            rho: rho?,
            sigma_m: as_param(sigma_m)?,
            n_fix: n_fix?,
            profile: profile?,
            female_share: as_param(female_share)?,
        })
    })
}

// ---------------------------------------------------------------------------------------------
// Resources.

const RESOURCE_KEYS: &[&str] = &[
    "name",
    "unit",
    "kind",
    "ages",
    "rate",
    "per",
    "per_1000",
    "round",
    "share",
    "value",
    "from_year",
    "of",
    "towns",
    "build",
];
const KINDS: &[&str] = &["per_capita", "admin_units", "coverage_share", "fixed_min", "derived"];

fn kind_keys(kind: &str) -> &'static [&'static str] {
    match kind {
        "per_capita" => &["ages", "rate", "per", "per_1000", "round"],
        "coverage_share" => &["share", "from_year"],
        "admin_units" => &["from_year"],
        "fixed_min" => &["value", "from_year"],
        "derived" => &["of", "per", "round"],
        _ => &[],
    }
}

fn read_resources(r: &mut Reader, node: Option<&Node>, loc: Loc, towns: &[String]) -> Vec<Resource> {
    let mut out = Vec::new();
    let Some(node) = node else {
        r.err(loc, "resources", "missing; expected at least one [resources.<id>] table");
        return out;
    };
    let Some(t) = r.table(node, "resources") else { return out };
    r.within(t, "resources", |r| {
        let n = t.keys().filter(|k| !PROV_KEYS.contains(k)).count();
        if n > MAX_RESOURCES {
            r.err(node.loc, "resources", format!("found {n} resources, expected at most {MAX_RESOURCES}"));
            return;
        }
        for e in &t.entries {
            if PROV_KEYS.contains(&e.key.as_str()) {
                continue;
            }
            let path = join("resources", &e.key);
            if !r.check_id(&e.key, e.key_loc, &path) {
                continue;
            }
            let Some(rt) = r.table(&e.node, &path) else { continue };
            r.keys(rt, &path, RESOURCE_KEYS);
            if let Some(res) = r.within(rt, &path, |r| read_resource(r, &e.key, rt, &path, e.node.loc, towns)) {
                out.push(res);
            }
        }
    });
    // References between resources, once all are known.
    let ids: Vec<String> = out.iter().map(|x| x.id.clone()).collect();
    let mut bad = HashSet::new();
    for res in &out {
        if let Rule::Derived { of, .. } = &res.rule {
            if !ids.contains(of) && r.declared.resources.contains(of) {
                // The source resource has errors of its own, reported where it is written.
                bad.insert(res.id.clone());
            } else if !ids.contains(of) {
                let help = did_you_mean(of, ids.iter().map(String::as_str));
                let n = t.get(&res.id).and_then(|n| n.as_table()).and_then(|x| x.get("of"));
                r.err_help(
                    n.map_or(Loc::NONE, |n| n.loc),
                    &format!("resources.{}.of", res.id),
                    format!("no resource `{of}`"),
                    help,
                );
                bad.insert(res.id.clone());
            } else if derived_cycle(&out, &res.id) {
                let n = t.get(&res.id).and_then(|n| n.as_table()).and_then(|x| x.get("of"));
                r.err(
                    n.map_or(Loc::NONE, |n| n.loc),
                    &format!("resources.{}.of", res.id),
                    "derived resources form a cycle",
                );
                bad.insert(res.id.clone());
            }
        }
    }
    out.retain(|x| !bad.contains(&x.id));
    out
}

fn derived_cycle(all: &[Resource], start: &str) -> bool {
    let mut cur = start.to_string();
    for _ in 0..=all.len() {
        match all.iter().find(|x| x.id == cur).map(|x| &x.rule) {
            Some(Rule::Derived { of, .. }) => {
                if of == start {
                    return true;
                }
                cur = of.clone();
            }
            _ => return false,
        }
    }
    true
}

fn read_resource(r: &mut Reader, id: &str, t: &Table, path: &str, loc: Loc, towns: &[String]) -> Option<Resource> {
    let name = r.names(t.get("name"), &join(path, "name"), loc);
    let unit = r.names(t.get("unit"), &join(path, "unit"), loc);
    let kind = match t.get("kind") {
        Some(n) => {
            let k = r.string(n, &join(path, "kind"))?;
            if !KINDS.contains(&k.as_str()) {
                let help = did_you_mean(&k, KINDS.iter().copied());
                r.err_help(
                    n.loc,
                    &join(path, "kind"),
                    format!("found \"{k}\", expected one of: {}", KINDS.join(", ")),
                    help,
                );
                return None;
            }
            k
        }
        None => {
            r.err(loc, &join(path, "kind"), format!("missing; expected one of: {}", KINDS.join(", ")));
            return None;
        }
    };
    let own = kind_keys(&kind);
    for e in &t.entries {
        let k = e.key.as_str();
        if RESOURCE_KEYS.contains(&k) && !["name", "unit", "kind", "towns", "build"].contains(&k) && !own.contains(&k) {
            r.err(
                e.key_loc,
                &join(path, k),
                format!(
                    "`{k}` is not used by kind \"{kind}\" (it uses: {})",
                    if own.is_empty() { "nothing else".into() } else { own.join(", ") }
                ),
            );
        }
    }
    let ceil = match t.get("round") {
        Some(n) => match r.string(n, &join(path, "round"))?.as_str() {
            "ceil" => true,
            "none" => false,
            other => {
                r.err(
                    n.loc,
                    &join(path, "round"),
                    format!("found \"{other}\", expected \"ceil\" (whole units) or \"none\""),
                );
                return None;
            }
        },
        None => false,
    };
    let rule = read_rule(r, &kind, t, path, loc, None)?;
    let mut town_rules = Vec::new();
    if let Some(tn) = t.get("towns") {
        let tp = join(path, "towns");
        let tt = r.table(tn, &tp)?;
        r.within(tt, &tp, |r| {
            for e in &tt.entries {
                if PROV_KEYS.contains(&e.key.as_str()) {
                    continue;
                }
                let p = join(&tp, &e.key);
                if !towns.contains(&e.key) && !r.declared.towns.contains(&e.key) {
                    let help = did_you_mean(&e.key, towns.iter().map(String::as_str));
                    r.err_help(e.key_loc, &p, format!("no town `{}`", e.key), help);
                    continue;
                }
                let Some(ot) = r.table(&e.node, &p) else { continue };
                let allowed: Vec<&str> = own.iter().copied().filter(|k| !["ages", "round", "of"].contains(k)).collect();
                r.keys(ot, &p, &allowed);
                if let Some(rule) = r.within(ot, &p, |r| read_rule(r, &kind, ot, &p, e.node.loc, Some(&rule))) {
                    town_rules.push((e.key.clone(), rule));
                }
            }
        });
    }
    let build = match t.get("build") {
        Some(n) => Some(read_build(r, n, &join(path, "build"))?),
        None => None,
    };
    let prov = r.prov();
    Some(Resource { id: id.to_string(), name: name?, unit: unit?, ceil, rule, town_rules, source: prov.source, build })
}

/// The `build` block of a resource (for `capsim plan`).
fn read_build(r: &mut Reader, node: &Node, path: &str) -> Option<Build> {
    let t = r.table(node, path)?;
    r.keys(t, path, &["name", "unit", "lead_time", "delay", "cost"]);
    r.within(t, path, |r| {
        let name = t.get("name").and_then(|n| r.names(Some(n), &join(path, "name"), n.loc));
        let unit = r.req_param(t, node.loc, path, "unit", POSITIVE);
        let lead_time = match t.get("lead_time") {
            Some(n) => {
                let lp = join(path, "lead_time");
                let v = r.int(n, &lp, 0, 50, "years from decision to planned opening").map(|v| v as i32);
                // A whole number carries no `source` of its own: the build table's applies (it
                // is listed by `validate --sources` like every other input).
                if let Some(v) = v {
                    let prov = r.prov();
                    r.record(&lp, format!("{v} years"), &prov);
                }
                v
            }
            None => Some(2),
        };
        let delay = match t.get("delay") {
            Some(n) => r.param(
                n,
                &join(path, "delay"),
                Domain { lo: -50.0, hi: 100.0, lo_open: false, what: "a delay in years" },
            ),
            None => Some(Param::fixed(join(path, "delay"), 0.0)),
        };
        let cost = r.opt_param(t, path, "cost", NONNEG);
        let (unit, lead_time, delay, cost) = (unit?, lead_time?, delay?, cost?);
        for p in [Some(&unit), cost.as_ref()].into_iter().flatten() {
            if p.is_random() {
                r.err(p.loc, &p.path, "a build unit's size and cost are fixed numbers (put uncertainty in `delay`)");
                return None;
            }
        }
        Some(Build { name, unit: unit.central(), lead_time, delay, cost: cost.map(|c| c.central()) })
    })
}

/// Reads a resource's rule; with `base`, a town override where missing keys inherit.
fn read_rule(r: &mut Reader, kind: &str, t: &Table, path: &str, loc: Loc, base: Option<&Rule>) -> Option<Rule> {
    let first = r.base_year;
    match kind {
        "per_capita" => {
            let (base_ages, base_rate, base_per) = match base {
                Some(Rule::PerCapita { ages, rate, per, per_1000 }) => (*ages, Some(rate), Some((per, *per_1000))),
                _ => (None, None, None),
            };
            let ages = if base.is_some() {
                base_ages
            } else {
                match t.get("ages") {
                    Some(n) => {
                        let ap = join(path, "ages");
                        let v = r.numbers(n, &ap, Some(2), true)?;
                        if v[0].fract() != 0.0 || v[1].fract() != 0.0 || v[0] > v[1] || v[1] > OMEGA as f64 {
                            r.err(
                                n.loc,
                                &ap,
                                format!(
                                    "found [{}, {}], expected [low, high] whole ages with low ≤ high ≤ 100",
                                    v[0], v[1]
                                ),
                            );
                            return None;
                        }
                        let prov = r.prov();
                        r.record(&ap, format!("ages {}–{}", v[0], v[1]), &prov);
                        Some((v[0] as usize, v[1] as usize))
                    }
                    None => None,
                }
            };
            let rate = match t.get("rate") {
                Some(n) => read_rate(r, n, &join(path, "rate"), base_rate)?,
                None => base_rate
                    .cloned()
                    .unwrap_or_else(|| vec![(String::new(), Sched::Const(Param::fixed(join(path, "rate"), 1.0)))]),
            };
            let per = match (t.get("per"), t.get("per_1000")) {
                (Some(_), Some(n)) => {
                    r.err(
                        n.loc,
                        &join(path, "per_1000"),
                        "give per (residents per unit) or per_1000 (units per 1,000 residents), not both",
                    );
                    return None;
                }
                (Some(n), None) => PerSpec::Per(r.sched(n, &join(path, "per"), POSITIVE, first)?),
                (None, Some(n)) => PerSpec::Per1000(r.sched(n, &join(path, "per_1000"), NONNEG, first)?),
                (None, None) => match base_per {
                    Some((p, true)) => PerSpec::Per1000(p.clone()),
                    Some((p, false)) => PerSpec::Per(p.clone()),
                    None => PerSpec::Per(Sched::Const(Param::fixed(join(path, "per"), 1.0))),
                },
            };
            let (per, per_1000) = match per {
                PerSpec::Per(s) => (s, false),
                PerSpec::Per1000(s) => (s, true),
            };
            Some(Rule::PerCapita { ages, rate, per, per_1000 })
        }
        "admin_units" => {
            let from_year = match (t.get("from_year"), base) {
                (Some(n), _) => r.year(n, &join(path, "from_year"))?,
                (None, Some(Rule::AdminUnits { from_year })) => *from_year,
                (None, _) => r.base_year,
            };
            Some(Rule::AdminUnits { from_year })
        }
        "coverage_share" => {
            let share = match (t.get("share"), base) {
                (Some(n), _) => r.param(n, &join(path, "share"), UNIT)?,
                (None, Some(Rule::CoverageShare { share, .. })) => share.clone(),
                (None, _) => r.req_param(t, loc, path, "share", UNIT)?,
            };
            let from_year = match (t.get("from_year"), base) {
                (Some(n), _) => r.year(n, &join(path, "from_year"))?,
                (None, Some(Rule::CoverageShare { from_year, .. })) => *from_year,
                (None, _) => r.base_year,
            };
            Some(Rule::CoverageShare { share, from_year })
        }
        "fixed_min" => {
            let value = match (t.get("value"), base) {
                (Some(n), _) => r.param(n, &join(path, "value"), NONNEG)?,
                (None, Some(Rule::FixedMin { value, .. })) => value.clone(),
                (None, _) => r.req_param(t, loc, path, "value", NONNEG)?,
            };
            let from_year = match (t.get("from_year"), base) {
                (Some(n), _) => r.year(n, &join(path, "from_year"))?,
                (None, Some(Rule::FixedMin { from_year, .. })) => *from_year,
                (None, _) => r.base_year,
            };
            Some(Rule::FixedMin { value, from_year })
        }
        "derived" => {
            let of = match (t.get("of"), base) {
                (Some(n), _) => r.string(n, &join(path, "of"))?,
                (None, Some(Rule::Derived { of, .. })) => of.clone(),
                (None, _) => {
                    r.err(loc, &join(path, "of"), "missing; expected the id of the resource this one derives from");
                    return None;
                }
            };
            let per = match (t.get("per"), base) {
                (Some(n), _) => r.sched(n, &join(path, "per"), POSITIVE, first)?,
                (None, Some(Rule::Derived { per, .. })) => per.clone(),
                (None, _) => {
                    r.err(
                        loc,
                        &join(path, "per"),
                        "missing; expected source units per unit (e.g. pupils per staff member)",
                    );
                    return None;
                }
            };
            Some(Rule::Derived { of, per })
        }
        _ => None,
    }
}

enum PerSpec {
    Per(Sched),
    Per1000(Sched),
}

/// A rate: a number, distribution or schedule, or `{ factors = { name = …, … } }` whose product
/// is the rate. A town override's factors replace the resource's factors of the same name.
fn read_rate(
    r: &mut Reader,
    node: &Node,
    path: &str,
    base: Option<&Vec<(String, Sched)>>,
) -> Option<Vec<(String, Sched)>> {
    let first = r.base_year;
    let Some(t) = node.as_table().filter(|t| t.get("factors").is_some()) else {
        return Some(vec![(String::new(), r.sched(node, path, UNIT, first)?)]);
    };
    r.keys(t, path, &["factors"]);
    r.within(t, path, |r| {
        let fp = join(path, "factors");
        let fnode = t.get("factors")?;
        let ft = r.table(fnode, &fp)?;
        let mut factors: Vec<(String, Sched)> = match base {
            Some(b) if b.iter().all(|(n, _)| !n.is_empty()) => b.clone(),
            _ => Vec::new(),
        };
        let mut ok = true;
        r.within(ft, &fp, |r| {
            for e in &ft.entries {
                if PROV_KEYS.contains(&e.key.as_str()) {
                    continue;
                }
                let p = join(&fp, &e.key);
                if !r.check_id(&e.key, e.key_loc, &p) {
                    ok = false;
                    continue;
                }
                match r.sched(&e.node, &p, UNIT, first) {
                    Some(s) => match factors.iter_mut().find(|(n, _)| *n == e.key) {
                        Some(f) => f.1 = s,
                        None => factors.push((e.key.clone(), s)),
                    },
                    None => ok = false,
                }
            }
        });
        if factors.is_empty() {
            r.err(fnode.loc, &fp, "found no factors, expected { name = rate, … }");
            return None;
        }
        ok.then_some(factors)
    })
}

// ---------------------------------------------------------------------------------------------
// Capacity.

fn read_capacity(r: &mut Reader, node: Option<&Node>, towns: &[Town], resources: &[Resource]) -> Option<Vec<Capacity>> {
    let mut cap: Vec<Option<Capacity>> = vec![None; towns.len() * resources.len()];
    let town_ids: Vec<&str> = towns.iter().map(|t| t.id.as_str()).collect();
    let res_ids: Vec<&str> = resources.iter().map(|x| x.id.as_str()).collect();
    let mut total_projects = 0usize;
    if let Some(node) = node
        && let Some(t) = r.table(node, "capacity")
    {
        r.within(t, "capacity", |r| {
            for te in &t.entries {
                if PROV_KEYS.contains(&te.key.as_str()) {
                    continue;
                }
                let tp = join("capacity", &te.key);
                // Capacity of a town that is unknown, or has errors of its own, is still
                // checked (its mistakes are independent) but not kept.
                let ti = town_ids.iter().position(|x| *x == te.key);
                if ti.is_none() && !r.declared.towns.contains(&te.key) {
                    let help = did_you_mean(&te.key, town_ids.iter().copied());
                    r.err_help(te.key_loc, &tp, format!("no town `{}`", te.key), help);
                }
                let Some(tt) = r.table(&te.node, &tp) else { continue };
                r.within(tt, &tp, |r| {
                    for re in &tt.entries {
                        if PROV_KEYS.contains(&re.key.as_str()) {
                            continue;
                        }
                        let rp = join(&tp, &re.key);
                        let ri = res_ids.iter().position(|x| *x == re.key);
                        if ri.is_none() && !r.declared.resources.contains(&re.key) {
                            let help = did_you_mean(&re.key, res_ids.iter().copied());
                            r.err_help(re.key_loc, &rp, format!("no resource `{}`", re.key), help);
                        }
                        let Some(ct) = r.table(&re.node, &rp) else { continue };
                        r.keys(ct, &rp, &["base", "projects", "closures"]);
                        let c = r.within(ct, &rp, |r| {
                            read_one_capacity(r, ct, &rp, re.node.loc, &te.key, &re.key, &mut total_projects)
                        });
                        if let (Some(ti), Some(ri)) = (ti, ri) {
                            cap[ti * resources.len() + ri] = c;
                        }
                    }
                });
            }
        });
    }
    if total_projects > MAX_PROJECTS {
        r.err(
            node.map_or(Loc::NONE, |n| n.loc),
            "capacity",
            format!("found {total_projects} projects, expected at most {MAX_PROJECTS}"),
        );
        return None;
    }
    let mut out = Vec::with_capacity(cap.len());
    for (ri, res) in resources.iter().enumerate() {
        let missing: Vec<&str> =
            (0..towns.len()).filter(|ti| cap[ti * resources.len() + ri].is_none()).map(|ti| town_ids[ti]).collect();
        if !missing.is_empty() && missing.len() < towns.len() {
            r.warn(
                node.map_or(Loc::NONE, |n| n.loc),
                &format!("capacity.*.{}", res.id),
                format!("no capacity given for {}: taken as 0", missing.join(", ")),
            );
        } else if !missing.is_empty() {
            r.warn(
                node.map_or(Loc::NONE, |n| n.loc),
                &format!("capacity.*.{}", res.id),
                "no capacity given for any town: taken as 0",
            );
        }
    }
    for (i, c) in cap.into_iter().enumerate() {
        let (ti, ri) = (i / resources.len().max(1), i % resources.len().max(1));
        out.push(c.unwrap_or_else(|| Capacity {
            town: town_ids[ti].to_string(),
            resource: res_ids[ri].to_string(),
            base: Param {
                source: Some("not given: taken as 0".into()),
                ..Param::fixed(format!("capacity.{}.{}.base", town_ids[ti], res_ids[ri]), 0.0)
            },
            projects: vec![],
        }));
    }
    Some(out)
}

fn read_one_capacity(
    r: &mut Reader,
    t: &Table,
    path: &str,
    loc: Loc,
    town: &str,
    res: &str,
    total: &mut usize,
) -> Option<Capacity> {
    let base = match t.get("base") {
        Some(n) => r.param(n, &join(path, "base"), NONNEG),
        None => Some(Param::fixed(join(path, "base"), 0.0)),
    };
    let mut projects = Vec::new();
    let mut ok = true;
    for (key, closure) in [("projects", false), ("closures", true)] {
        let Some(pn) = t.get(key) else { continue };
        let pp = join(path, key);
        let Some(pt) = r.table(pn, &pp) else {
            ok = false;
            continue;
        };
        r.within(pt, &pp, |r| {
            for e in &pt.entries {
                if PROV_KEYS.contains(&e.key.as_str()) {
                    continue;
                }
                let p = join(&pp, &e.key);
                if !r.check_id(&e.key, e.key_loc, &p) {
                    ok = false;
                    continue;
                }
                *total += 1;
                let Some(et) = r.table(&e.node, &p) else {
                    ok = false;
                    continue;
                };
                r.keys(et, &p, &["name", "amount", "year", "delay"]);
                let proj = r.within(et, &p, |r| {
                    let name = et.get("name").and_then(|n| r.names(Some(n), &join(&p, "name"), n.loc));
                    let amount = r.req_param(et, e.node.loc, &p, "amount", NONNEG);
                    let year = match et.get("year") {
                        Some(n) => r.year(n, &join(&p, "year")),
                        None => {
                            r.err(e.node.loc, &join(&p, "year"), "missing; expected the planned opening year");
                            None
                        }
                    };
                    let delay = match et.get("delay") {
                        Some(n) => r.param(
                            n,
                            &join(&p, "delay"),
                            Domain { lo: -50.0, hi: 100.0, lo_open: false, what: "a delay in years" },
                        ),
                        None => Some(Param::fixed(join(&p, "delay"), 0.0)),
                    };
                    Some(Project { id: e.key.clone(), name, amount: amount?, year: year?, delay: delay?, closure })
                });
                match proj {
                    Some(x) => projects.push(x),
                    None => ok = false,
                }
            }
        });
    }
    let _ = loc;
    if !ok {
        return None;
    }
    Some(Capacity { town: town.into(), resource: res.into(), base: base?, projects })
}

// ---------------------------------------------------------------------------------------------
// Expanded vectors at central values, and checks that need them.

/// Base hazards m⁰ of one sex at the central values.
pub(crate) fn central_m0(s: &SexMortality) -> [f64; AGES] {
    match s {
        SexMortality::GompertzMakeham { a, b, c, infant, infant_is_probability, .. } => {
            let m0 = if *infant_is_probability {
                schedule::infant_rate_from_probability(infant.central())
            } else {
                infant.central()
            };
            schedule::gompertz_makeham(a.central(), b.central(), c.central(), m0)
        }
        SexMortality::Table { rates, .. } => {
            let mut m = [0.0; AGES];
            m.copy_from_slice(rates);
            m
        }
    }
}

/// Fertility schedule g at the central values.
pub(crate) fn central_g(s: &FertilitySchedule) -> [f64; FERTILE_AGES] {
    match s {
        FertilitySchedule::Gamma { mean_age, sd_age } => {
            schedule::gamma_fertility(mean_age.central(), sd_age.central())
        }
        FertilitySchedule::Table { shares } => {
            let mut g = [0.0; FERTILE_AGES];
            g.copy_from_slice(shares);
            g
        }
    }
}

/// Migrant profile (both sexes, before the female share) at the central values.
pub(crate) fn central_h(p: &MigrantProfile) -> Option<[f64; AGES]> {
    match p {
        MigrantProfile::RogersCastro { a1, alpha1, a2, alpha2, mu2, lambda2, c0 } => {
            schedule::rogers_castro(&RogersCastro {
                a1: a1.central(),
                alpha1: alpha1.central(),
                a2: a2.central(),
                alpha2: alpha2.central(),
                mu2: mu2.central(),
                lambda2: lambda2.central(),
                c0: c0.central(),
            })
        }
        MigrantProfile::Table { shares } => {
            let mut h = [0.0; AGES];
            h.copy_from_slice(shares);
            Some(h)
        }
    }
}

fn expand_towns(r: &mut Reader, s: &mut Scenario) -> Option<()> {
    let mut ok = true;
    for i in 0..s.towns.len() {
        let town = &s.towns[i];
        let mort = town.mortality.as_ref().unwrap_or(&s.mortality.base);
        let m0f = central_m0(&mort.female);
        let m0m = central_m0(&mort.male);
        let g = central_g(&town.fertility.schedule);
        let Some(h) = central_h(&town.migration.profile) else {
            r.err(
                Loc::NONE,
                &format!("towns.{}.migration.profile", town.id),
                "the migrant profile does not sum to a positive number",
            );
            ok = false;
            continue;
        };
        let fs = town.migration.female_share.central();
        let scale = town.population.total.as_ref().map_or(1.0, Param::central);
        let e = Expanded {
            population_female: town.population.female.iter().map(|v| v * scale).collect(),
            population_male: town.population.male.iter().map(|v| v * scale).collect(),
            m0_female: m0f.to_vec(),
            m0_male: m0m.to_vec(),
            fertility_g: g.to_vec(),
            migrants_female: h.iter().map(|v| v * fs).collect(),
            migrants_male: h.iter().map(|v| v * (1.0 - fs)).collect(),
            e0_female: schedule::life_expectancy(&m0f),
            e0_male: schedule::life_expectancy(&m0m),
        };
        s.towns[i].expanded = e;
    }
    ok.then_some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One town, one resource: the smallest scenario the reader accepts. Tests edit it.
    const MINI: &str = r#"
name = { en = "Mini" }
[settings]
base_year = 2020
end_year = 2025
[demography.mortality]
delta = 0.01
female = { a = 0.0001, b = 1.5e-5, c = 0.1, infant_rate = 0.002 }
male = { a = 0.0002, b = 2.5e-5, c = 0.1, infant_rate = 0.0025 }
[demography.fertility]
tfr0 = 1.0
srb = 107
schedule = { mean_age = 30, sd_age = 5 }
[demography.migration]
rho = 0.1
profile = { a1 = 0.02, alpha1 = 0.1, a2 = 0.06, alpha2 = 0.1, mu2 = 26, lambda2 = 0.4, c0 = 0.001 }
[towns.t]
name = { en = "T" }
streets = 2
[towns.t.migration]
k = 1000
[towns.t.population]
POPULATION
[resources.r]
name = { en = "R" }
unit = { en = "u" }
kind = "per_capita"
RESOURCE
"#;

    fn read(population: &str, resource: &str) -> Result<Scenario, ScenarioError> {
        let text = MINI.replace("POPULATION", population).replace("RESOURCE", resource);
        from_text("mini.toml", &text)
    }

    fn ok(population: &str, resource: &str) -> Scenario {
        read(population, resource).unwrap_or_else(|e| panic!("{e}"))
    }

    fn errors(population: &str, resource: &str) -> String {
        match read(population, resource) {
            Ok(_) => panic!("expected errors"),
            Err(e) => e.to_string(),
        }
    }

    fn notes(s: &Scenario) -> Vec<&Diagnostic> {
        s.notes.iter().filter(|n| n.severity == Severity::Note).collect()
    }

    const TWO_GROUPS: &str = "age_groups = [[0, 49], [50, 100]]\n";

    #[test]
    fn shares_and_a_sex_ratio_split_by_hand() {
        // total 20500; group 0–49 has 0.6 of it: 12300, of which 100/205 female = 6000 and
        // 105/205 male = 6300, spread over 50 ages: 120 and 126 per age. Group 50–100 has
        // 8200: 4000 female and 4200 male over 51 ages.
        let s = ok(&format!("{TWO_GROUPS}share = [0.6, 0.4]\nsex_ratio = 105\ntotal = 20500"), "");
        let e = &s.towns[0].expanded;
        for x in 0..50 {
            assert!((e.population_female[x] - 120.0).abs() < 1e-9, "{x}");
            assert!((e.population_male[x] - 126.0).abs() < 1e-9, "{x}");
        }
        for x in 50..=100 {
            assert!((e.population_female[x] - 4000.0 / 51.0).abs() < 1e-9, "{x}");
            assert!((e.population_male[x] - 4200.0 / 51.0).abs() < 1e-9, "{x}");
        }
        // The shape is kept as shares of the whole population, scaled by the total per draw.
        let p = &s.towns[0].population;
        assert_eq!(p.total.as_ref().map(Param::central), Some(20500.0));
        assert!((p.female.iter().chain(&p.male).sum::<f64>() - 1.0).abs() < 1e-12);
        assert!(notes(&s).is_empty(), "shares summing to exactly 1 are not noted: {:?}", s.notes);
    }

    #[test]
    fn shares_by_sex_inside_the_band_are_renormalised_with_a_note() {
        // Female 0.3 + 0.2, male 0.3 + 0.195: 0.995 in all, scaled by 1/0.995.
        let pop = format!("{TWO_GROUPS}female_share = [0.3, 0.2]\nmale_share = [0.3, 0.195]\ntotal = 1000");
        let s = ok(&pop, "");
        let e = &s.towns[0].expanded;
        assert!((e.population_female[0] - 1000.0 * 0.3 / 0.995 / 50.0).abs() < 1e-9);
        assert!((e.population_male[100] - 1000.0 * 0.195 / 0.995 / 51.0).abs() < 1e-9);
        let total: f64 = e.population_female.iter().chain(&e.population_male).sum();
        assert!((total - 1000.0).abs() < 1e-9);
        let notes = notes(&s);
        assert_eq!(notes.len(), 1, "{:?}", s.notes);
        let n = notes[0];
        assert_eq!(n.path, "towns.t.population.female_share");
        assert!(n.message.contains("shares summed to 0.995000; renormalised to 1"), "{}", n.message);
        let text = MINI.replace("POPULATION", &pop);
        let line = text[..text.find("female_share =").unwrap()].matches('\n').count() + 1;
        assert_eq!((n.line, n.column), (Some(line), Some(16)), "at the female shares' value");
    }

    #[test]
    fn the_share_band_is_0_99_to_1_01() {
        let with = |f: &str, m: &str| format!("{TWO_GROUPS}female_share = {f}\nmale_share = {m}\ntotal = 1000");
        assert!(read(&with("[0.3, 0.2]", "[0.3, 0.19]"), "").is_ok(), "0.99 is inside");
        assert!(read(&with("[0.3, 0.2]", "[0.3, 0.21]"), "").is_ok(), "1.01 is inside");
        let e = errors(&with("[0.3, 0.2]", "[0.3, 0.189]"), "");
        assert!(e.contains("towns.t.population.female_share: shares sum to 0.9890"), "{e}");
        let e = errors(&with("[0.3, 0.2]", "[0.3, 0.211]"), "");
        assert!(e.contains("shares sum to 1.0110"), "{e}");
    }

    #[test]
    fn counts_are_kept_or_scaled_to_a_total() {
        let counts = format!("{TWO_GROUPS}female = [5000, 2550]\nmale = [5000, 1020]");
        let s = ok(&counts, "");
        let e = &s.towns[0].expanded;
        assert_eq!(e.population_female[0], 100.0);
        assert_eq!(e.population_female[100], 50.0);
        assert_eq!(e.population_male[100], 20.0);
        assert!(s.towns[0].population.total.is_none());
        // With a total, counts give the shape only: 13570 people scaled to 27140 doubles each age.
        let s = ok(&format!("{counts}\ntotal = 27140"), "");
        assert!((s.towns[0].expanded.population_female[0] - 200.0).abs() < 1e-9);
        assert!((s.towns[0].expanded.population_male[100] - 40.0).abs() < 1e-9);
    }

    #[test]
    fn shares_need_a_total_and_counts_both_sexes() {
        let e = errors(&format!("{TWO_GROUPS}share = [0.6, 0.4]\nsex_ratio = 105"), "");
        assert!(e.contains("towns.t.population.total: missing"), "{e}");
        let e = errors(&format!("{TWO_GROUPS}female = [1, 2]"), "");
        assert!(e.contains("counts need both `female` and `male`"), "{e}");
        let e = errors(&format!("{TWO_GROUPS}female = [0, 0]\nmale = [0, 0]"), "");
        assert!(e.contains("the base population is zero"), "{e}");
    }

    #[test]
    fn infant_probability_and_rate_enter_m0() {
        let s = ok(&format!("{TWO_GROUPS}female = [1, 1]\nmale = [1, 1]"), "");
        // Rates are taken as they are: m0 = 0.002 (female) and 0.0025 (male).
        assert_eq!(s.towns[0].expanded.m0_female[0], 0.002);
        assert_eq!(s.towns[0].expanded.m0_male[0], 0.0025);
        let text = MINI
            .replace("POPULATION", &format!("{TWO_GROUPS}female = [1, 1]\nmale = [1, 1]"))
            .replace("RESOURCE", "")
            .replace("infant_rate = 0.002 }", "infant_prob = 0.002 }");
        let s = from_text("mini.toml", &text).unwrap();
        assert!((s.towns[0].expanded.m0_female[0] - 0.002002002670673079).abs() < 1e-18);
    }

    #[test]
    fn distributions_reaching_outside_a_closed_domain_are_clipped_with_a_note() {
        // rho ~ normal(0.1, 0.1) in [0, 1]: Φ(−1) = 0.158655 of draws fall below 0.
        let text = MINI
            .replace("POPULATION", &format!("{TWO_GROUPS}female = [1, 1]\nmale = [1, 1]"))
            .replace("RESOURCE", "")
            .replace("rho = 0.1", "rho = { normal = { mean = 0.1, sd = 0.1 } }");
        let s = from_text("mini.toml", &text).unwrap();
        let Sched::Const(rho) = &s.towns[0].migration.rho else { panic!("constant rho") };
        assert_eq!(rho.clip, Some([0.0, 1.0]));
        let n = s.notes.iter().find(|n| n.path == "demography.migration.rho").expect("noted");
        assert!(n.message.contains("(15.87% of draws fall outside)"), "{}", n.message);
        // k ≥ 0 has no upper bound: the clip stays open above.
        let s =
            ok(&format!("{TWO_GROUPS}female = [1, 1]\nmale = [1, 1]"), "rate = { normal = { mean = 0.5, sd = 0.01 } }");
        let PerCapita { rate, .. } = &s.resources[0].rule else { panic!() };
        assert_eq!(rate[0].1.params()[0].clip, Some([0.0, 1.0]));
        assert!(notes(&s).is_empty(), "clipping that never bites (50 sd away) is not noted: {:?}", s.notes);
    }

    use Rule::PerCapita;

    #[test]
    fn a_lognormal_is_positive_so_it_may_be_a_per() {
        // Regression: a log-normal's support starts at 0 but never reaches it; `per` > 0 must
        // accept it.
        let s = ok(
            &format!("{TWO_GROUPS}female = [1, 1]\nmale = [1, 1]"),
            "per = { lognormal = { mu = 9.5, sigma = 0.1 } }",
        );
        let PerCapita { per, .. } = &s.resources[0].rule else { panic!() };
        assert_eq!(per.params()[0].clip, None);
        assert!((per.params()[0].sample(0.975) - 16252.408602297875).abs() < 1e-9);
        // A uniform from 0 does reach 0, and is refused.
        let e = errors(&format!("{TWO_GROUPS}female = [1, 1]\nmale = [1, 1]"), "per = { uniform = [0, 10] }");
        assert!(e.contains("resources.r.per: uniform(0, 10) can take values outside a number > 0"), "{e}");
    }

    #[test]
    fn a_one_sided_clip_is_open_on_the_other_side() {
        let text = MINI
            .replace("POPULATION", &format!("{TWO_GROUPS}female = [1, 1]\nmale = [1, 1]"))
            .replace("RESOURCE", "")
            .replace("k = 1000", "k = { normal = { mean = 1000, sd = 600 } }");
        let s = from_text("mini.toml", &text).unwrap();
        let Sched::Const(k) = &s.towns[0].migration.k else { panic!() };
        assert_eq!(k.clip, Some([0.0, f64::INFINITY]));
        assert_eq!(k.sample(1.0 - 1e-12), Dist::Normal { mean: 1000.0, sd: 600.0 }.quantile(1.0 - 1e-12));
        let row = s.inputs.iter().find(|i| i.path == "towns.t.migration.k").unwrap();
        assert_eq!(row.value, "normal(mean 1000, sd 600) clipped to ≥ 0");
    }

    #[test]
    fn mortality_tables_need_a_hazard_for_100_plus_and_a_fixed_infant_value() {
        let table = |last: &str, infant: &str| {
            let mut rates = vec!["0.01"; AGES - 1];
            rates.push(last);
            MINI.replace("POPULATION", &format!("{TWO_GROUPS}female = [1, 1]\nmale = [1, 1]"))
                .replace("RESOURCE", "")
                .replace(
                    "female = { a = 0.0001, b = 1.5e-5, c = 0.1, infant_rate = 0.002 }",
                    &format!("female = {{ table = [{}]{infant} }}", rates.join(", ")),
                )
        };
        let s = from_text("mini.toml", &table("0.5", ", infant_prob = 0.002")).unwrap();
        let m0 = &s.towns[0].expanded.m0_female;
        assert!((m0[0] - 0.002002002670673079).abs() < 1e-18, "q0 → −ln(1 − q0)");
        assert_eq!((m0[1], m0[100]), (0.01, 0.5));
        let e = from_text("mini.toml", &table("0", "")).unwrap_err().to_string();
        assert!(e.contains("demography.mortality.female.table: found 0 for ages 100+"), "{e}");
        let e = from_text("mini.toml", &table("0.5", ", infant_prob = { uniform = [0.001, 0.003] }")).unwrap_err();
        assert!(e.to_string().contains("infant value must be a fixed number"), "{e}");
        let e = from_text("mini.toml", &table("0.5", ", infant_prob = 0.002, infant_rate = 0.002")).unwrap_err();
        assert!(e.to_string().contains("not both"), "{e}");
    }

    #[test]
    fn step_schedules_keep_their_years_and_paths() {
        let s = ok(
            &format!("{TWO_GROUPS}female = [1, 1]\nmale = [1, 1]"),
            "per_1000 = { from = { 2020 = 40, 2023 = { uniform = [44, 46] } } }",
        );
        let PerCapita { per, per_1000, .. } = &s.resources[0].rule else { panic!() };
        assert!(*per_1000);
        assert_eq!(per.at(2022).central(), 40.0);
        assert_eq!(per.at(2023).central(), 45.0);
        assert_eq!(per.at(2025).path, "resources.r.per_1000.from.2023");
    }
}
