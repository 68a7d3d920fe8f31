//! The four registers generated from a population: determinism, valid identifiers, the
//! cross-register invariants `registers/mod.rs` documents, sortedness, the showcase person,
//! and tiny populations.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use tongdao_core::ids::{BusinessNumber, NationalId};
use tongdao_synth::registers::{Owner, PropertyKind, Registers, TaxKind, showcase_person};
use tongdao_synth::{Person, Population, RocDate};

const SEED: u64 = 20_261_127;

fn generate(seed: u64, households: usize) -> (Population, Registers) {
    let population = Population::generate(seed, households);
    let registers = Registers::generate(&population);
    (population, registers)
}

/// 20 or older on the extract date, as the generator defines an adult.
fn is_adult(population: &Population, person: &Person) -> bool {
    let extract = population.extract_date();
    let cutoff = RocDate::new(extract.year() - 20, extract.month(), extract.day())
        .expect("the extract date exists 20 years earlier");
    person.removed.is_none() && person.birth_date <= cutoff
}

/// Current adults by national ID.
fn adults(population: &Population) -> HashMap<String, &Person> {
    population
        .people()
        .map(|(_, p)| p)
        .filter(|p| is_adult(population, p))
        .map(|p| (p.national_id.to_string(), p))
        .collect()
}

fn gcd(a: u128, b: u128) -> u128 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// Sum of fractions, reduced.
fn sum_fractions(parts: impl Iterator<Item = (u64, u64)>) -> (u128, u128) {
    let (mut num, mut den) = (0u128, 1u128);
    for (n, d) in parts {
        let (n, d) = (u128::from(n), u128::from(d));
        num = num * d + n * den;
        den *= d;
        let g = gcd(num, den).max(1);
        num /= g;
        den /= g;
    }
    (num, den)
}

#[test]
fn same_population_gives_identical_registers() {
    let (population, first) = generate(SEED, 300);
    let second = Registers::generate(&population);
    assert_eq!(first, second);
    let (_, other) = generate(SEED + 1, 300);
    assert_ne!(first, other, "another seed gives other registers");
}

#[test]
fn identifiers_are_valid_and_business_numbers_unique() {
    let (population, registers) = generate(SEED, 600);
    let mut numbers = HashSet::new();
    for company in &registers.commerce.companies {
        let number = company.business_number.as_str();
        assert!(number.parse::<BusinessNumber>().is_ok(), "{number}");
        assert!(numbers.insert(number.to_owned()), "duplicate {number}");
        assert!(company.paid_in_capital_amount <= company.capital_stock_amount);
        assert!(company.last_change_date >= company.setup_date);
        assert_eq!(company.directors[0].position, "董事長");
        assert_eq!(company.responsible_person_name, company.directors[0].name);
        assert_eq!(
            company.suspension.is_some(),
            company.status.code() == "06",
            "{}",
            company.name
        );
    }
    let known: HashSet<String> = population
        .people()
        .map(|(_, p)| p.national_id.to_string())
        .collect();
    let ids = registers
        .tax
        .income
        .iter()
        .map(|r| &r.earner_national_id)
        .chain(registers.tax.property.iter().map(|r| &r.owner_national_id))
        .chain(
            registers
                .tax
                .payments
                .iter()
                .map(|r| &r.taxpayer_national_id),
        )
        .chain(registers.health.visits.iter().map(|r| &r.national_id))
        .chain(registers.health.lab_results.iter().map(|r| &r.national_id));
    for id in ids {
        assert!(id.as_str().parse::<NationalId>().is_ok());
        assert!(known.contains(id.as_str()), "a person of the population");
    }
    for visit in &registers.health.visits {
        assert_eq!(visit.provider_code.len(), 10);
        assert!(visit.provider_code.bytes().all(|b| b.is_ascii_digit()));
        assert!((1..=6).contains(&visit.nhi_branch));
        assert!((1..=5).contains(&visit.diagnoses.len()));
    }
}

#[test]
fn land_shares_sum_to_one_and_mortgages_are_held_by_banks() {
    let (_, registers) = generate(SEED, 600);
    let banks: HashMap<&str, &str> = registers
        .commerce
        .companies
        .iter()
        .filter(|c| c.name.ends_with("商業銀行股份有限公司"))
        .map(|c| (c.business_number.as_str(), c.name.as_str()))
        .collect();
    assert!(!banks.is_empty());
    let mut kinds = HashSet::new();
    for parcel in &registers.land.parcels {
        assert!(!parcel.owners.is_empty());
        let sum = sum_fractions(
            parcel
                .owners
                .iter()
                .map(|o| (o.share_numerator, o.share_denominator)),
        );
        assert_eq!(sum, (1, 1), "{:?}", parcel.key);
        let sequences: HashSet<_> = parcel.owners.iter().map(|o| &o.register_sequence).collect();
        assert_eq!(sequences.len(), parcel.owners.len());
        for o in &parcel.owners {
            assert!(o.share_numerator >= 1 && o.share_numerator <= o.share_denominator);
            assert!(o.reason_date <= o.registered_on);
            kinds.insert(std::mem::discriminant(&o.owner));
        }
        for e in &parcel.encumbrances {
            assert_eq!(
                banks.get(e.holder_business_number.as_str()),
                Some(&e.holder_name.as_str())
            );
            assert!(e.encumbered_sequences.iter().all(|s| sequences.contains(s)));
            assert!(e.due_on > e.registered_on);
        }
    }
    assert_eq!(
        kinds.len(),
        3,
        "people, companies and public owners own land"
    );
}

#[test]
fn personal_land_shares_and_tax_land_items_match_both_ways() {
    let (population, registers) = generate(SEED, 600);
    let adults = adults(&population);
    let latest = 113;
    // (owner, location, parcel number) → (share, area, acquired on) from the land register.
    let mut shares = HashMap::new();
    for parcel in &registers.land.parcels {
        let location = format!(
            "{}{}{}",
            parcel.county, parcel.district, parcel.section_name
        );
        for o in &parcel.owners {
            if let Owner::Person { national_id, .. } = &o.owner {
                assert!(
                    adults.contains_key(national_id.as_str()),
                    "owner is a current adult"
                );
                let key = (
                    national_id.to_string(),
                    location.clone(),
                    parcel.key.parcel_number.clone(),
                );
                let value = (
                    o.share_numerator,
                    o.share_denominator,
                    parcel.area_cm2,
                    o.registered_on,
                );
                assert!(
                    shares.insert(key, value).is_none(),
                    "one share per owner and parcel"
                );
            }
        }
    }
    let mut items = HashMap::new();
    for r in registers
        .tax
        .property
        .iter()
        .filter(|r| r.kind == PropertyKind::Land)
    {
        let key = (
            r.owner_national_id.to_string(),
            r.location.clone(),
            r.parcel_or_building_number.clone(),
        );
        let value = (
            r.share_numerator,
            r.share_denominator,
            r.area_cm2,
            r.acquired_on,
        );
        assert_eq!(
            shares.get(&key),
            Some(&value),
            "a tax land item is a land share"
        );
        if r.year_roc == latest {
            items.insert(key, value);
        }
    }
    assert_eq!(
        items.len(),
        shares.len(),
        "every land share is a 113 land item"
    );

    // One land value tax payment per share, at the parcel.
    let payments = registers
        .tax
        .payments
        .iter()
        .filter(|p| p.kind == TaxKind::LandValueTax)
        .map(|p| {
            (
                p.taxpayer_national_id.to_string(),
                p.property_location.clone(),
            )
        })
        .collect::<HashSet<_>>();
    for (id, location, number) in shares.keys() {
        let at = format!("{location}{number}");
        assert!(
            payments.contains(&(id.clone(), at)),
            "land value tax for the share"
        );
    }
    assert_eq!(
        registers
            .tax
            .payments
            .iter()
            .filter(|p| p.kind == TaxKind::LandValueTax)
            .count(),
        shares.len()
    );
    for p in &registers.tax.payments {
        assert_eq!(p.tax_year_roc, 113);
        assert!(p.amount_paid > 0);
    }

    // Buildings pay house tax at their address, vehicles licence tax under their plate.
    let billed: HashSet<(String, TaxKind, String)> = registers
        .tax
        .payments
        .iter()
        .map(|p| {
            let at = p.property_location.clone();
            (p.taxpayer_national_id.to_string(), p.kind, at)
        })
        .collect();
    let mut buildings = 0;
    for r in registers
        .tax
        .property
        .iter()
        .filter(|r| r.year_roc == latest)
    {
        let (kind, at) = match r.kind {
            PropertyKind::Building => (TaxKind::HouseTax, r.location.clone()),
            PropertyKind::Vehicle => (TaxKind::LicenceTax, r.plate_number.clone()),
            _ => continue,
        };
        buildings += usize::from(kind == TaxKind::HouseTax);
        assert!(billed.contains(&(r.owner_national_id.to_string(), kind, at)));
    }
    assert!(buildings > 0);
}

#[test]
fn income_property_and_directors_belong_to_current_adults() {
    let (population, registers) = generate(SEED, 600);
    let adults = adults(&population);
    let companies: HashMap<&str, &str> = registers
        .commerce
        .companies
        .iter()
        .map(|c| (c.business_number.as_str(), c.name.as_str()))
        .collect();
    for r in &registers.tax.income {
        assert!(adults.contains_key(r.earner_national_id.as_str()));
        assert!(r.income_year_roc == 112 || r.income_year_roc == 113);
        assert_eq!(r.net_amount, r.gross_amount - r.tax_withheld);
        match &r.payer_business_number {
            Some(number) => assert_eq!(
                companies.get(number.as_str()),
                Some(&r.payer_name.as_str()),
                "payer is a company of the register"
            ),
            None => assert_eq!(r.income_format_code, "51", "only rent comes from a person"),
        }
    }
    for r in &registers.tax.property {
        assert!(adults.contains_key(r.owner_national_id.as_str()));
        assert!(r.year_roc == 112 || r.year_roc == 113);
        assert!(r.acquired_on <= RocDate::new(r.year_roc, 12, 31).expect("valid"));
    }
    for r in &registers.tax.payments {
        assert!(adults.contains_key(r.taxpayer_national_id.as_str()));
    }
    // Directors are current adults; shareholdings in one's own name are investment items.
    let investments: HashSet<(String, String, u64)> = registers
        .tax
        .property
        .iter()
        .filter(|r| r.kind == PropertyKind::Investment && r.year_roc == 113)
        .map(|r| {
            let number = r
                .investee_business_number
                .as_ref()
                .expect("investments name the investee");
            (
                r.owner_national_id.to_string(),
                number.to_string(),
                r.share_count,
            )
        })
        .collect();
    let mut holdings = 0;
    let mut directors = HashSet::new();
    for company in &registers.commerce.companies {
        for d in &company.directors {
            let person = adults
                .get(d.national_id.as_str())
                .expect("director is a current adult");
            assert_eq!(person.name, d.name);
            directors.insert(d.national_id.to_string());
            if d.juristic_person_name.is_empty() && d.shareholding > 0 {
                holdings += 1;
                let key = (
                    d.national_id.to_string(),
                    company.business_number.to_string(),
                    d.shareholding,
                );
                assert!(investments.contains(&key), "{} in {}", d.name, company.name);
            }
        }
    }
    assert_eq!(investments.len(), holdings, "no investment without a seat");
    let share = directors.len() as f64 / adults.len() as f64;
    assert!(
        (0.015..0.06).contains(&share),
        "{share:.3} of adults direct a company"
    );
}

#[test]
fn labs_belong_to_visits_and_stays_end() {
    let (_, registers) = generate(SEED, 400);
    let visits: HashSet<(String, String, RocDate)> = registers
        .health
        .visits
        .iter()
        .map(|v| {
            (
                v.national_id.to_string(),
                v.provider_code.clone(),
                v.visit_date,
            )
        })
        .collect();
    for lab in &registers.health.lab_results {
        let key = (
            lab.national_id.to_string(),
            lab.provider_code.clone(),
            lab.visit_date,
        );
        assert!(visits.contains(&key), "lab ordered in a visit");
        assert!(lab.report_date >= lab.visit_date);
    }
    for v in &registers.health.visits {
        assert_eq!(v.end_date.is_some(), v.visit_type.label() == "住院");
        if let Some(end) = v.end_date {
            assert!(end > v.visit_date);
        }
        assert!((112..=113).contains(&v.visit_date.year()));
    }
    assert!(!registers.health.lab_results.is_empty());
}

#[test]
fn lists_are_sorted() {
    let (_, registers) = generate(SEED, 400);
    assert!(
        registers
            .land
            .parcels
            .windows(2)
            .all(|w| w[0].key < w[1].key)
    );
    assert!(
        registers
            .commerce
            .companies
            .windows(2)
            .all(|w| w[0].business_number < w[1].business_number)
    );
    let tax = &registers.tax;
    assert!(tax.income.windows(2).all(|w| {
        (&w[0].earner_national_id, w[0].income_year_roc)
            <= (&w[1].earner_national_id, w[1].income_year_roc)
    }));
    assert!(tax.property.windows(2).all(|w| {
        (&w[0].owner_national_id, w[0].year_roc) <= (&w[1].owner_national_id, w[1].year_roc)
    }));
    assert!(tax.payments.windows(2).all(|w| {
        (&w[0].taxpayer_national_id, w[0].tax_year_roc)
            <= (&w[1].taxpayer_national_id, w[1].tax_year_roc)
    }));
    let health = &registers.health;
    assert!(
        health.visits.windows(2).all(|w| {
            (&w[0].national_id, w[0].visit_date) <= (&w[1].national_id, w[1].visit_date)
        })
    );
    assert!(
        health.lab_results.windows(2).all(|w| {
            (&w[0].national_id, w[0].visit_date) <= (&w[1].national_id, w[1].visit_date)
        })
    );
}

/// The showcase person has records in all four registers.
fn check_showcase(population: &Population, registers: &Registers) {
    let person = showcase_person(population).expect("a population has a current adult");
    assert!(is_adult(population, person));
    let id = &person.national_id;
    assert!(registers.land.parcels.iter().any(|p| {
        p.owners
            .iter()
            .any(|o| matches!(&o.owner, Owner::Person { national_id, .. } if national_id == id))
    }));
    assert!(
        registers
            .tax
            .income
            .iter()
            .any(|r| &r.earner_national_id == id
                && r.income_year_roc == 113
                && r.income_format_code == "50")
    );
    assert!(registers.health.visits.iter().any(|v| &v.national_id == id));
    let labs: Vec<_> = registers
        .health
        .lab_results
        .iter()
        .filter(|l| &l.national_id == id)
        .map(|l| l.order_code)
        .collect();
    assert!(labs.contains(&"09005C") && labs.contains(&"09015C"));
    assert!(
        registers
            .commerce
            .companies
            .iter()
            .any(|c| &c.directors[0].national_id == id)
    );
}

#[test]
fn showcase_person_has_records_everywhere() {
    let (population, registers) = generate(SEED, 300);
    let head = population.households()[0].head().expect("a head");
    let showcase = showcase_person(&population).expect("showcase");
    if is_adult(&population, head) {
        assert_eq!(showcase.national_id, head.national_id);
    }
    check_showcase(&population, &registers);
}

#[test]
fn tiny_populations_do_not_panic() {
    for seed in 0..40 {
        for households in [1, 2, 3] {
            let (population, registers) = generate(seed, households);
            check_showcase(&population, &registers);
            assert!(!registers.commerce.companies.is_empty());
        }
    }
    let empty = Population::generate(SEED, 0);
    let registers = Registers::generate(&empty);
    assert!(registers.land.parcels.is_empty() && registers.tax.income.is_empty());
    assert!(showcase_person(&empty).is_none());
}

#[test]
fn proportions_look_like_a_population() {
    let (population, registers) = generate(SEED, 3_000);
    let adults = adults(&population);
    let owners: HashSet<&str> = registers
        .land
        .parcels
        .iter()
        .flat_map(|p| &p.owners)
        .filter_map(|o| match &o.owner {
            Owner::Person { national_id, .. } => Some(national_id.as_str()),
            _ => None,
        })
        .collect();
    let owning = owners.len() as f64 / adults.len() as f64;
    assert!(
        (0.3..0.5).contains(&owning),
        "{owning:.3} of adults own land"
    );
    let patients: HashSet<&str> = registers
        .health
        .visits
        .iter()
        .map(|v| v.national_id.as_str())
        .collect();
    let current = population
        .people()
        .filter(|(_, p)| p.removed.is_none())
        .count();
    let seen = patients.len() as f64 / current as f64;
    assert!(seen > 0.85, "{seen:.3} of people saw a doctor");
    let statuses: HashSet<&str> = registers
        .commerce
        .companies
        .iter()
        .map(|c| c.status.code())
        .collect();
    for code in ["01", "03", "05", "06"] {
        assert!(statuses.contains(code), "status {code}");
    }
}

/// About a million people: `cargo test -p tongdao-synth --release -- --ignored million`.
#[test]
#[ignore = "slow in debug builds; run in release for the timing"]
fn million_people_timing() {
    let started = Instant::now();
    let population = Population::generate(SEED, 370_000);
    let people = started.elapsed();
    let started = Instant::now();
    let registers = Registers::generate(&population);
    let elapsed = started.elapsed();
    println!(
        "{} people in {people:.2?}; registers in {elapsed:.2?}: {} parcels, {} companies, \
         {} income, {} property, {} payments, {} visits, {} lab results",
        population.person_count(),
        registers.land.parcels.len(),
        registers.commerce.companies.len(),
        registers.tax.income.len(),
        registers.tax.property.len(),
        registers.tax.payments.len(),
        registers.health.visits.len(),
        registers.health.lab_results.len(),
    );
    check_showcase(&population, &registers);
}
