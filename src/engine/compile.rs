//! Scenario → [`Model`]: every parameter becomes a slot (one per path: a city-wide value
//! inherited by every town is one slot, one random variable — MODEL §8.4), schedules by year
//! become per-row slot arrays, and fixed per-age vectors are computed once.

use std::collections::HashMap;

use super::*;
use crate::scenario::schedule::OMEGA;
use crate::scenario::{
    FertilitySchedule, MigrantProfile, MortalitySchedule, Param, Rule, Scenario, Sched, SexMortality,
};

struct Slots {
    by_path: HashMap<String, Slot>,
}

impl Slots {
    fn of(&self, p: &Param) -> Slot {
        self.by_path[&p.path]
    }

    /// The slot in force in each row (`at(year)` of the schedule).
    fn by_row(&self, s: &Sched, t0: i32, rows: usize) -> Vec<Slot> {
        (0..rows).map(|r| self.of(s.at(t0 + r as i32))).collect()
    }
}

/// Compiles a validated scenario.
pub fn compile(s: &Scenario) -> Model {
    let params = s.params();
    let t0 = s.settings.base_year;
    let rows = s.settings.years();
    let mut central = Vec::with_capacity(params.len());
    let mut slot_paths = Vec::with_capacity(params.len());
    let mut by_path = HashMap::new();
    let mut inputs = Vec::new();
    let mut keys: Vec<String> = Vec::new();
    for (i, p) in params.iter().enumerate() {
        by_path.insert(p.path.clone(), i as Slot);
        central.push(p.central());
        slot_paths.push(p.path.clone());
        if p.is_random() {
            let key = p.key.as_ref().map(|k| match keys.iter().position(|x| x == k) {
                Some(i) => i,
                None => {
                    keys.push(k.clone());
                    keys.len() - 1
                }
            });
            let stream = match &p.key {
                Some(k) => crate::rng::stream_id(&format!("key:{k}")),
                None => crate::rng::stream_id(&p.path),
            };
            inputs.push(RandomInput {
                path: p.path.clone(),
                slot: i as Slot,
                dist: p.dist.clone(),
                clip: p.clip,
                key,
                stream,
            });
        }
    }
    let slots = Slots { by_path };
    let random: std::collections::HashSet<Slot> = inputs.iter().map(|i| i.slot).collect();
    let any_random = |ps: &[Slot]| ps.iter().any(|s| random.contains(s));

    // Mortality schedules: the city's first, then each town override.
    let mut mortality = vec![compile_mortality(&s.mortality.base, &slots, &any_random)];
    let mut towns = Vec::new();
    for t in &s.towns {
        let mort_index = match &t.mortality {
            Some(m) => {
                mortality.push(compile_mortality(m, &slots, &any_random));
                mortality.len() - 1
            }
            None => 0,
        };
        let mut base = [[0.0; AGES]; 2];
        base[FEMALE].copy_from_slice(&t.population.female);
        base[MALE].copy_from_slice(&t.population.male);
        let f = &t.fertility;
        let fertility = match &f.schedule {
            FertilitySchedule::Gamma { mean_age, sd_age } => {
                FertilityModel::Gamma { mean_age: slots.of(mean_age), sd_age: slots.of(sd_age) }
            }
            FertilitySchedule::Table { shares } => {
                let mut g = [0.0; FERTILE_AGES];
                g.copy_from_slice(shares);
                FertilityModel::Table(Box::new(g))
            }
        };
        let m = &t.migration;
        let profile = match &m.profile {
            MigrantProfile::RogersCastro { a1, alpha1, a2, alpha2, mu2, lambda2, c0 } => {
                ProfileModel::RogersCastro([a1, alpha1, a2, alpha2, mu2, lambda2, c0].map(|p| slots.of(p)))
            }
            MigrantProfile::Table { shares } => {
                let mut h = [0.0; AGES];
                h.copy_from_slice(shares);
                ProfileModel::Table(Box::new(h))
            }
        };
        let fertility_random = match &fertility {
            FertilityModel::Gamma { mean_age, sd_age } => any_random(&[*mean_age, *sd_age]),
            FertilityModel::Table(_) => false,
        };
        let female_share = slots.of(&m.female_share);
        let profile_random = any_random(&[female_share])
            || match &profile {
                ProfileModel::RogersCastro(p) => any_random(p),
                ProfileModel::Table(_) => false,
            };
        let fertility_same_as = towns.iter().position(|o: &TownModel| o.fertility == fertility);
        let profile_same_as =
            towns.iter().position(|o: &TownModel| o.profile == profile && o.female_share == female_share);
        towns.push(TownModel {
            id: t.id.clone(),
            base,
            total: t.population.total.as_ref().map(|p| slots.of(p)),
            mortality: mort_index,
            tfr0: slots.of(&f.tfr0),
            tfr_star: slots.of(&f.tfr_star),
            phi: slots.of(&f.phi),
            sigma_f: slots.of(&f.sigma_f),
            srb: slots.of(&f.srb),
            fertility,
            fertility_random,
            fertility_same_as,
            k: slots.by_row(&m.k, t0, rows),
            rho: slots.by_row(&m.rho, t0, rows),
            n_fix: slots.by_row(&m.n_fix, t0, rows),
            sigma_m: slots.of(&m.sigma_m),
            profile,
            female_share,
            profile_random,
            profile_same_as,
            streets: (0..rows).map(|r| t.streets_in(t0 + r as i32) as f64).collect(),
        });
    }

    // Demand bands: all ages first, then each distinct band in order of appearance.
    let mut bands: Vec<(usize, usize)> = vec![(0, OMEGA)];
    let mut band_of = |ages: Option<(usize, usize)>| -> usize {
        let b = ages.unwrap_or((0, OMEGA));
        match bands.iter().position(|x| *x == b) {
            Some(i) => i,
            None => {
                bands.push(b);
                bands.len() - 1
            }
        }
    };
    let mut resources = Vec::new();
    for r in &s.resources {
        let rules = s
            .towns
            .iter()
            .map(|t| match r.rule_for(&t.id) {
                Rule::PerCapita { ages, rate, per, per_1000 } => {
                    let mut rate_slots = Vec::with_capacity(rate.len() * rows);
                    for (_, f) in rate {
                        rate_slots.extend(slots.by_row(f, t0, rows));
                    }
                    let per = slots.by_row(per, t0, rows);
                    // Rows whose rate or per slots differ from the row before (the coefficient
                    // is recomputed there only).
                    let changes = (0..rows)
                        .map(|row| {
                            row == 0
                                || per[row] != per[row - 1]
                                || (0..rate.len()).any(|f| rate_slots[f * rows + row] != rate_slots[f * rows + row - 1])
                        })
                        .collect();
                    RuleModel::PerCapita {
                        band: band_of(*ages),
                        rate: rate_slots,
                        factors: rate.len(),
                        per,
                        per_1000: *per_1000,
                        changes,
                    }
                }
                Rule::AdminUnits { from_year } => RuleModel::AdminUnits { from_row: (from_year - t0).max(0) as usize },
                Rule::CoverageShare { share, from_year } => {
                    RuleModel::CoverageShare { share: slots.of(share), from_row: (from_year - t0).max(0) as usize }
                }
                Rule::FixedMin { value, from_year } => {
                    RuleModel::FixedMin { value: slots.of(value), from_row: (from_year - t0).max(0) as usize }
                }
                Rule::Derived { of, per } => RuleModel::Derived {
                    of: s.resource_index(of).expect("validated reference"),
                    per: slots.by_row(per, t0, rows),
                },
            })
            .collect();
        let capacity_integral = (0..s.towns.len()).all(|ti| {
            let c = s.capacity_of(ti, resources.len());
            let whole = |p: &Param| !p.is_random() && p.central().fract() == 0.0;
            whole(&c.base) && c.projects.iter().all(|p| whole(&p.amount))
        });
        resources.push(ResourceModel {
            id: r.id.clone(),
            ceil: r.ceil,
            integral: r.is_integral(),
            capacity_integral,
            rules,
        });
    }
    // Derived resources inherit integrality only when rounded; the flag above covers that.
    let resource_order = topological_order(&resources);

    let capacity = s
        .capacity
        .iter()
        .map(|c| CapacityModel {
            random: any_random(&[slots.of(&c.base)])
                || c.projects.iter().any(|p| any_random(&[slots.of(&p.amount), slots.of(&p.delay)])),
            base: slots.of(&c.base),
            projects: c
                .projects
                .iter()
                .map(|p| ProjectModel {
                    amount: slots.of(&p.amount),
                    row: (p.year - t0) as i64,
                    delay: slots.of(&p.delay),
                    sign: if p.closure { -1.0 } else { 1.0 },
                })
                .collect(),
        })
        .collect();

    let mut groups: Vec<AgeGroup> =
        (0..20).map(|i| AgeGroup { label: format!("{}-{}", 5 * i, 5 * i + 4), lo: 5 * i, hi: 5 * i + 4 }).collect();
    groups.push(AgeGroup { label: "100+".into(), lo: 100, hi: 100 });
    let mut band_group = vec![usize::MAX];
    for &(lo, hi) in bands.iter().skip(1) {
        match groups.iter().position(|g| g.lo == lo && g.hi == hi) {
            Some(gi) => band_group.push(gi),
            None => {
                let label = if hi == OMEGA { format!("{lo}+") } else { format!("{lo}-{hi}") };
                groups.push(AgeGroup { label, lo, hi });
                band_group.push(groups.len() - 1);
            }
        }
    }

    let mut shock_names = vec!["shock.mortality".to_string(), "shock.fertility".into(), "shock.migration.city".into()];
    shock_names.extend(s.towns.iter().map(|t| format!("shock.migration.town.{}", t.id)));
    let shock_streams = shock_names.iter().map(|n| crate::rng::stream_id(n)).collect();

    Model {
        t0,
        rows,
        towns,
        resources,
        resource_order,
        capacity,
        mortality,
        groups,
        bands,
        band_group,
        central,
        slot_paths,
        inputs,
        keys,
        shock_names,
        shock_streams,
        delta: slots.of(&s.mortality.delta),
        sigma_k: slots.of(&s.mortality.sigma_k),
        correlation: slots.of(&s.migration_correlation),
    }
}

fn compile_mortality(m: &MortalitySchedule, slots: &Slots, any_random: &dyn Fn(&[Slot]) -> bool) -> MortalityModel {
    let sex = |x: &SexMortality| match x {
        SexMortality::GompertzMakeham { a, b, c, infant, infant_is_probability, .. } => SexMortalityModel::Gm {
            a: slots.of(a),
            b: slots.of(b),
            c: slots.of(c),
            infant: slots.of(infant),
            infant_is_probability: *infant_is_probability,
        },
        SexMortality::Table { rates, .. } => {
            let mut t = [0.0; AGES];
            t.copy_from_slice(rates);
            SexMortalityModel::Table(Box::new(t))
        }
    };
    let sexes = [sex(&m.female), sex(&m.male)];
    let random = sexes.iter().any(|x| match x {
        SexMortalityModel::Gm { a, b, c, infant, .. } => any_random(&[*a, *b, *c, *infant]),
        SexMortalityModel::Table(_) => false,
    });
    MortalityModel { sexes, random }
}

/// Sources before the resources derived from them (validation has ruled out cycles).
fn topological_order(resources: &[ResourceModel]) -> Vec<usize> {
    let n = resources.len();
    let mut done = vec![false; n];
    let mut order = Vec::with_capacity(n);
    fn visit(i: usize, resources: &[ResourceModel], done: &mut [bool], order: &mut Vec<usize>, depth: usize) {
        if done[i] || depth > resources.len() {
            return;
        }
        for rule in &resources[i].rules {
            if let RuleModel::Derived { of, .. } = rule {
                visit(*of, resources, done, order, depth + 1);
            }
        }
        if !done[i] {
            done[i] = true;
            order.push(i);
        }
    }
    for i in 0..n {
        visit(i, resources, &mut done, &mut order, 0);
    }
    order
}
