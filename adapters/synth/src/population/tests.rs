use std::collections::{HashMap, HashSet};

use super::*;

fn population() -> Population {
    Population::generate(20_240_521, 5_000)
}

fn age_days(p: &Person, at: RocDate) -> i32 {
    at.to_days() - p.birth_date.to_days()
}

#[test]
fn same_seed_same_population_other_seed_differs() {
    let a = Population::generate(42, 300);
    let b = Population::generate(42, 300);
    let c = Population::generate(43, 300);
    assert_eq!(a, b);
    assert_ne!(a.households(), c.households());
    assert_eq!(a.seed(), 42);
}

#[test]
fn ids_are_valid_unique_and_match_sex() {
    let pop = population();
    let mut seen = HashSet::new();
    let mut residents = 0;
    for (_, p) in pop.people() {
        assert!(
            seen.insert(p.national_id.as_str().to_owned()),
            "duplicate ID"
        );
        let reparsed: NationalId = p.national_id.as_str().parse().expect("valid");
        assert_eq!(reparsed, p.national_id);
        assert_eq!(p.national_id.is_male(), p.sex == Sex::Male);
        if p.national_id.is_resident() {
            residents += 1;
            assert!(tables::FOREIGN_BIRTHPLACES.contains(&p.birthplace));
            assert_eq!(p.military, MilitaryService::None);
        }
    }
    assert!(residents > 0, "a few resident IDs expected");
}

#[test]
fn households_are_well_formed() {
    let pop = population();
    let mut numbers = HashSet::new();
    for h in pop.households() {
        assert!(
            numbers.insert(h.number.clone()),
            "duplicate household number"
        );
        assert_eq!(h.number.len(), 8);
        assert!(h.number.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert!(
            (1..=6).contains(&h.members.len()),
            "{} members",
            h.members.len()
        );
        let heads: Vec<_> = h
            .members
            .iter()
            .filter(|m| m.relationship == "戶長")
            .collect();
        assert_eq!(heads.len(), 1);
        assert_eq!(heads[0].seq, 1);
        assert!(heads[0].removed.is_none(), "the head is current");
        for (i, m) in h.members.iter().enumerate() {
            assert_eq!(usize::from(m.seq), i + 1);
        }
        if h.kind == HouseholdType::SingleLiving {
            assert_eq!(h.members.len(), 1);
        }
        assert!(h.issuing_office.ends_with("戶政事務所"));
        assert!(h.issuing_office.starts_with(h.address.county));
        assert!((1..=30).contains(&h.address.neighbourhood));
        assert!(!h.events.is_empty());
    }
}

/// Relationship labels agree with sex, ages and names within each household.
#[test]
fn families_are_consistent() {
    let pop = population();
    let today = pop.extract_date();
    for h in pop.households() {
        let head = h.head().expect("head");
        let spouse = h.members.iter().find(|m| m.relationship == "配偶");
        let names: HashMap<&str, &Person> =
            h.members.iter().map(|m| (m.name.as_str(), m)).collect();
        assert_eq!(
            names.len(),
            h.members.len(),
            "names unique within a household"
        );

        if let Some(s) = spouse {
            assert_ne!(s.sex, head.sex);
            assert_eq!(s.spouse_name, head.name);
            assert_eq!(head.spouse_name, s.name);
            assert!(age_days(s, today) >= years(20));
        }
        for m in &h.members {
            let age = age_days(m, today);
            assert!(age > 0 && age < years(101), "age {age}");
            match m.relationship {
                "長子" | "次子" | "三子" | "四子" | "五子" | "六子" | "孫子" | "父" =>
                {
                    assert_eq!(m.sex, Sex::Male);
                }
                "長女" | "次女" | "三女" | "四女" | "五女" | "六女" | "孫女" | "母" | "媳婦" =>
                {
                    assert_eq!(m.sex, Sex::Female);
                }
                _ => {}
            }
            // The head's children: parent names point at the head (and spouse if present),
            // parents are at least 18 years older.
            if m.relationship.ends_with('子') && m.relationship != "孫子"
                || m.relationship.ends_with('女') && m.relationship != "孫女"
            {
                assert_eq!(m.relationship, m.birth_order);
                let parent_name = match head.sex {
                    Sex::Male => &m.father_name,
                    Sex::Female => &m.mother_name,
                };
                assert_eq!(parent_name, &head.name);
                if let Some(s) = spouse {
                    let other = match s.sex {
                        Sex::Male => &m.father_name,
                        Sex::Female => &m.mother_name,
                    };
                    assert_eq!(other, &s.name);
                    assert!(age_days(s, today) - age >= years(18));
                }
                assert!(age_days(head, today) - age >= years(18));
            }
            if m.relationship == "父" {
                assert_eq!(head.father_name, m.name);
                assert_eq!(m.spouse_name, head.mother_name);
                assert!(age_days(m, today) - age_days(head, today) >= years(18));
            }
            if m.relationship == "母" {
                assert_eq!(head.mother_name, m.name);
                assert_eq!(m.spouse_name, head.father_name);
                assert!(age_days(m, today) - age_days(head, today) >= years(18));
            }
            if m.relationship == "媳婦" {
                let husband = names
                    .get(m.spouse_name.as_str())
                    .expect("husband in household");
                assert_eq!(husband.sex, Sex::Male);
                assert_eq!(husband.spouse_name, m.name);
            }
            if m.relationship == "孫子" || m.relationship == "孫女" {
                let father = names
                    .get(m.father_name.as_str())
                    .expect("father in household");
                let mother = names
                    .get(m.mother_name.as_str())
                    .expect("mother in household");
                assert_eq!(mother.relationship, "媳婦");
                assert_eq!(father.spouse_name, mother.name);
                assert!(age_days(father, today) - age >= years(18));
                assert!(
                    m.name
                        .starts_with(father.name.chars().next().expect("surname"))
                );
            }
        }
    }
}

#[test]
fn military_events_and_removals_are_consistent() {
    let pop = population();
    let today = pop.extract_date();
    let (mut removed, mut indigenous, mut served) = (0, 0, 0);
    for (h, m) in pop.people() {
        if m.sex == Sex::Female || age_days(m, today) < years(18) {
            assert_eq!(m.military, MilitaryService::None);
        } else if m.military != MilitaryService::None {
            served += 1;
        }
        if let Some(i) = m.indigenous {
            indigenous += 1;
            assert!(i.tribe.ends_with('族'));
        }
        let births = m
            .events
            .iter()
            .filter(|e| e.kind == EventKind::Birth)
            .count();
        assert_eq!(births, usize::from(!m.national_id.is_resident()));
        for pair in m.events.windows(2) {
            assert!(pair[0].date <= pair[1].date, "events oldest first");
        }
        for e in &m.events {
            assert!(e.date >= m.birth_date && e.date <= today);
            assert!(e.remark.starts_with("民國"));
        }
        match m.removed {
            Some(Removal::Death) => {
                removed += 1;
                assert!(m.events.iter().any(|e| e.kind == EventKind::Death));
            }
            Some(Removal::MovedOut) => {
                removed += 1;
                assert!(m.events.iter().any(|e| e.kind == EventKind::MoveOut));
            }
            None => assert!(
                m.events
                    .iter()
                    .all(|e| e.kind != EventKind::Death && e.kind != EventKind::MoveOut),
            ),
        }
        if !m.spouse_name.is_empty() {
            assert!(
                m.events.iter().any(|e| e.kind == EventKind::Marriage),
                "{}",
                h.number
            );
        }
    }
    assert!(
        removed > 0 && indigenous > 0 && served > 0,
        "{removed} {indigenous} {served}"
    );
}

/// Every character that can reach an extract is in Big5 proper: it encodes without loss and
/// its lead byte is outside the HKSCS extension area (0x81–0xA0) that older Big5 systems lack.
#[test]
fn every_character_is_big5() {
    fn check(s: &str) {
        for c in s.chars() {
            let mut buf = [0u8; 4];
            let one = c.encode_utf8(&mut buf);
            let (bytes, _, unmappable) = encoding_rs::BIG5.encode(one);
            assert!(!unmappable, "{c} is not in Big5");
            if bytes.len() == 2 {
                assert!(
                    (0xA1..=0xF9).contains(&bytes[0]),
                    "{c} lies outside standard Big5"
                );
            }
            let (back, _, bad) = encoding_rs::BIG5.decode(&bytes);
            assert!(!bad && back == *one, "{c} does not round-trip");
        }
    }
    let mut tables_text: Vec<&str> = Vec::new();
    for county in tables::COUNTIES {
        tables_text.push(county.name);
        for district in county.districts {
            tables_text.push(district.name);
            tables_text.extend(district.villages.iter().copied());
        }
    }
    tables_text.extend(tables::SURNAMES.iter().map(|s| s.0));
    tables_text.extend(tables::GIVEN_MALE.iter().copied());
    tables_text.extend(tables::GIVEN_FEMALE.iter().copied());
    tables_text.extend(tables::FOREIGN_SURNAMES.iter().copied());
    tables_text.extend(tables::FOREIGN_BIRTHPLACES.iter().copied());
    tables_text.extend(tables::STREETS.iter().copied());
    tables_text.extend(tables::SECTION_NUMERALS.iter().copied());
    tables_text.extend(tables::SON_ORDER.iter().copied());
    tables_text.extend(tables::DAUGHTER_ORDER.iter().copied());
    tables_text.extend(tables::TRIBES.iter().map(|t| t.0));
    tables_text.extend([tables::FOREIGN_FEMALE_MIDDLE, tables::FOREIGN_MALE_MIDDLE]);
    for s in tables_text {
        check(s);
    }
    let pop = population();
    for h in pop.households() {
        check(&h.address.street);
        check(&h.issuing_office);
        h.events.iter().for_each(|e| check(&e.remark));
        for m in &h.members {
            for s in [
                m.relationship,
                &m.name,
                &m.father_name,
                &m.mother_name,
                &m.spouse_name,
                m.birth_order,
            ] {
                check(s);
            }
            m.events.iter().for_each(|e| check(&e.remark));
        }
    }
}

#[test]
fn generation_is_linear_enough_for_a_million_people() {
    // 37k households ≈ 100k people; the full million runs in the ignored test below.
    let start = std::time::Instant::now();
    let pop = Population::generate(1, 37_000);
    assert!(pop.person_count() > 90_000, "{}", pop.person_count());
    eprintln!(
        "generated {} people in {:?}",
        pop.person_count(),
        start.elapsed()
    );
}

#[test]
#[ignore = "a million people: run with --ignored --release"]
fn a_million_people() {
    let start = std::time::Instant::now();
    let pop = Population::generate(1, 370_000);
    assert!(pop.person_count() >= 1_000_000, "{}", pop.person_count());
    let unique: HashSet<&str> = pop.people().map(|(_, p)| p.national_id.as_str()).collect();
    assert_eq!(unique.len(), pop.person_count());
    eprintln!(
        "generated {} people in {:?}",
        pop.person_count(),
        start.elapsed()
    );
}
