//! The path grammar: every number in a scenario has a dotted path (`towns.songjiang.migration.k`,
//! `resources.hospital_beds.per`, `capacity.qingpu.hospital_beds.projects.zhongshan.delay`).
//! A path to a distribution addresses the whole variable; a path ending in one of its parameters
//! (`.mean`, `.sd`, `.low`, `.high`, `.mode`, `.mu`, `.sigma`) addresses that parameter.
//!
//! Paths are used by validation messages, `--sources`, sweeps and sensitivity. Setting a path
//! edits the document tree and re-validates, so a swept value is checked exactly as if a
//! planner had written it.

use std::collections::HashSet;

use super::diag::nearest;
use super::tree::{Document, Node, Table, Value};
use super::*;

/// Every parameter of the scenario, each path once, in a fixed order (the engine's inputs).
pub fn collect_params(s: &Scenario) -> Vec<&Param> {
    let mut out: Vec<&Param> = Vec::new();
    let mut seen = HashSet::new();
    let mut list: Vec<&Param> = Vec::new();
    list.push(&s.mortality.delta);
    list.push(&s.mortality.sigma_k);
    mortality_params(&s.mortality.base, &mut list);
    list.push(&s.migration_correlation);
    for t in &s.towns {
        if let Some(p) = &t.population.total {
            list.push(p);
        }
        if let Some(m) = &t.mortality {
            mortality_params(m, &mut list);
        }
        let f = &t.fertility;
        list.extend([&f.tfr0, &f.tfr_star, &f.phi, &f.sigma_f, &f.srb]);
        if let FertilitySchedule::Gamma { mean_age, sd_age } = &f.schedule {
            list.extend([mean_age, sd_age]);
        }
        let m = &t.migration;
        list.extend(m.k.params());
        list.extend(m.rho.params());
        list.push(&m.sigma_m);
        list.extend(m.n_fix.params());
        if let MigrantProfile::RogersCastro { a1, alpha1, a2, alpha2, mu2, lambda2, c0 } = &m.profile {
            list.extend([a1, alpha1, a2, alpha2, mu2, lambda2, c0]);
        }
        list.push(&m.female_share);
    }
    for r in &s.resources {
        rule_params(&r.rule, &mut list);
        for (_, rule) in &r.town_rules {
            rule_params(rule, &mut list);
        }
    }
    for c in &s.capacity {
        list.push(&c.base);
        for p in &c.projects {
            list.push(&p.amount);
            list.push(&p.delay);
        }
    }
    for p in list {
        if seen.insert(p.path.clone()) {
            out.push(p);
        }
    }
    out
}

fn mortality_params<'a>(m: &'a MortalitySchedule, list: &mut Vec<&'a Param>) {
    for s in [&m.female, &m.male] {
        if let SexMortality::GompertzMakeham { a, b, c, infant, .. } = s {
            list.extend([a, b, c, infant]);
        }
    }
}

fn rule_params<'a>(rule: &'a Rule, list: &mut Vec<&'a Param>) {
    match rule {
        Rule::PerCapita { rate, per, .. } => {
            for (_, f) in rate {
                list.extend(f.params());
            }
            list.extend(per.params());
        }
        Rule::AdminUnits { .. } => {}
        Rule::CoverageShare { share, .. } => list.push(share),
        Rule::FixedMin { value, .. } => list.push(value),
        Rule::Derived { per, .. } => list.extend(per.params()),
    }
}

/// What a settable path names.
#[derive(Clone, Debug, PartialEq)]
pub enum Target {
    /// A whole variable (set to a fixed number).
    Variable,
    /// One parameter of a variable's distribution.
    Parameter(&'static str),
    /// A whole-number field (years, draws, seed): values are rounded half up.
    Integer,
    /// A plain number field (`settings.risk`).
    Number,
}

/// One path a sweep may set.
#[derive(Clone, Debug, PartialEq)]
pub struct Address {
    /// The path.
    pub path: String,
    /// What it names.
    pub target: Target,
}

impl Address {
    /// Whether values at this path are whole numbers (rounded half up when swept).
    pub fn is_integer(&self) -> bool {
        self.target == Target::Integer || self.path.ends_with(".delay") || self.path.contains(".delay.")
    }
}

/// Every path that can be set: each variable, each of its parameters, the settings, and the
/// whole-number fields (project years, `from_year`).
pub fn addresses(s: &Scenario) -> Vec<Address> {
    let mut out = Vec::new();
    for k in ["base_year", "end_year", "draws", "seed", "decision_year"] {
        out.push(Address { path: format!("settings.{k}"), target: Target::Integer });
    }
    out.push(Address { path: "settings.risk".into(), target: Target::Number });
    for p in collect_params(s) {
        out.push(Address { path: p.path.clone(), target: Target::Variable });
        if p.dist.is_random() || !matches!(p.dist, Dist::Fixed(_)) {
            for name in p.dist.parameter_names() {
                out.push(Address { path: format!("{}.{name}", p.path), target: Target::Parameter(name) });
            }
        }
    }
    for c in &s.capacity {
        for p in &c.projects {
            let kind = if p.closure { "closures" } else { "projects" };
            out.push(Address {
                path: format!("capacity.{}.{}.{kind}.{}.year", c.town, c.resource, p.id),
                target: Target::Integer,
            });
        }
    }
    for r in &s.resources {
        if let Rule::FixedMin { .. } | Rule::AdminUnits { .. } | Rule::CoverageShare { .. } = r.rule {
            out.push(Address { path: format!("resources.{}.from_year", r.id), target: Target::Integer });
        }
    }
    out
}

/// Why a path could not be set.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PathError {
    /// No such path; the nearest valid ones are listed.
    #[error("unknown path `{path}`; nearest valid paths: {}", .nearest.join(", "))]
    Unknown {
        /// The path given.
        path: String,
        /// Valid paths close to it.
        nearest: Vec<String>,
    },
    /// The path exists but cannot take this value.
    #[error("cannot set `{path}`: {reason}")]
    Invalid {
        /// The path.
        path: String,
        /// Why.
        reason: String,
    },
}

/// Looks a path up among the scenario's addresses.
pub fn find(s: &Scenario, path: &str) -> Result<Address, PathError> {
    let all = addresses(s);
    if let Some(a) = all.iter().find(|a| a.path == path) {
        return Ok(a.clone());
    }
    let near = nearest(path, all.iter().map(|a| a.path.as_str()), 5);
    Err(PathError::Unknown { path: path.to_string(), nearest: near.into_iter().map(String::from).collect() })
}

/// Sets `path` to `value` in the document tree (the caller re-validates the document).
/// Whole-number paths take `value` rounded half up.
pub fn set(doc: &mut Document, s: &Scenario, path: &str, value: f64) -> Result<(), PathError> {
    let addr = find(s, path)?;
    if !value.is_finite() {
        return Err(PathError::Invalid { path: path.into(), reason: format!("{value} is not a finite number") });
    }
    let segs: Vec<&str> = path.split('.').collect();
    let number =
        |v: f64| -> Value { if addr.is_integer() { Value::Int(libm::floor(v + 0.5) as i64) } else { Value::Float(v) } };
    match addr.target {
        Target::Integer | Target::Number | Target::Variable => {
            // A calibrated Gompertz B replaces the e0 it was solved from.
            if segs.last() == Some(&"b")
                && let Some(Value::Table(t)) = node_at_mut(&mut doc.root, &segs[..segs.len() - 1]).map(|n| &mut n.value)
            {
                t.remove("e0");
            }
            put(&mut doc.root, &segs, Node::synthetic(number(value)));
            Ok(())
        }
        Target::Parameter(name) => {
            let var = &segs[..segs.len() - 1];
            let param = collect_params(s).into_iter().find(|p| p.path == var.join(".")).cloned();
            let Some(param) = param else {
                return Err(PathError::Invalid { path: path.into(), reason: "no such variable".into() });
            };
            let kind = param.dist.kind_name();
            let node = node_at_mut(&mut doc.root, var);
            match node {
                Some(Node { value: Value::Table(t), .. }) if t.get(kind).is_some() => {
                    let inner = t.get_mut(kind).expect("checked above");
                    match &mut inner.value {
                        Value::Table(dt) => dt.insert(name, Node::synthetic(number(value))),
                        Value::Array(items) => {
                            let i = param.dist.parameter_names().iter().position(|n| *n == name).unwrap_or(0);
                            if let Some(slot) = items.get_mut(i) {
                                *slot = Node::synthetic(number(value));
                            }
                        }
                        v => *v = number(value),
                    }
                    Ok(())
                }
                _ if name == "value" => {
                    put(&mut doc.root, var, Node::synthetic(number(value)));
                    Ok(())
                }
                _ => Err(PathError::Invalid {
                    path: path.into(),
                    reason: "the variable is not written as a distribution in the scenario".into(),
                }),
            }
        }
    }
}

fn node_at_mut<'a>(root: &'a mut Table, segs: &[&str]) -> Option<&'a mut Node> {
    let (first, rest) = segs.split_first()?;
    let node = root.get_mut(first)?;
    if rest.is_empty() {
        return Some(node);
    }
    match &mut node.value {
        Value::Table(t) => node_at_mut(t, rest),
        _ => None,
    }
}

/// Puts `node` at `segs`, creating tables on the way. A number written as `{ value = …,
/// source = … }` keeps its provenance keys.
fn put(root: &mut Table, segs: &[&str], node: Node) {
    let Some((first, rest)) = segs.split_first() else { return };
    if rest.is_empty() {
        if let Some(existing) = root.get_mut(first)
            && let Value::Table(t) = &mut existing.value
            && t.get("value").is_some()
        {
            t.insert("value", node);
            return;
        }
        root.insert(first, node);
        return;
    }
    if !matches!(root.get(first).map(|n| &n.value), Some(Value::Table(_))) {
        root.insert(first, Node::synthetic(Value::Table(Table::default())));
    }
    if let Some(Node { value: Value::Table(t), .. }) = root.get_mut(first) {
        put(t, rest, node);
    }
}
