//! The registers' generator: companies, land, tax and health records for a population.
//!
//! One function per register, run in dependency order: companies first (land owners, salary
//! payers and mortgage banks come from them), then land (its shares become tax property
//! items), then tax, then health. Each register draws from its own [`StdRng`] seeded from the
//! population's seed mixed with a per-register constant, so the output depends on the
//! population only; nothing reads a clock and no hash map is iterated into the output (hash
//! sets are used for uniqueness checks only).
//!
//! What the generated registers guarantee (the tests in `tests/registers.rs` check it):
//!
//! - **Who**: only current (not removed) *adults* own land, earn income, hold property or
//!   direct companies. An adult is 20 or older on the extract date (the age of majority
//!   before 2023, which covers every record back to ROC 112); health records cover every
//!   current person, children included.
//! - **Land**: about 40% of adults own one or more shares; co-owners' shares of a parcel sum
//!   to exactly 1; some parcels belong to companies of the register or to public owners;
//!   mortgages are held by banks of the register (names ending in 商業銀行股份有限公司).
//!   Ownership registrations are dated no later than ROC 113-12-31.
//! - **Tax**: income and property items for ROC 112 and 113, payments for tax year 113.
//!   Every personal land share is a [`PropertyKind::Land`] item of its owner in 113 (and in
//!   112 when registered by then) with the same parcel number, share and area, acquired on
//!   the ownership's registration date, located at county + district + section name, and has
//!   one [`TaxKind::LandValueTax`] payment. Land of a household's home carries a building
//!   (a [`PropertyKind::Building`] item per owner and a house tax payment); vehicles come with
//!   a licence tax payment. Salaries (code 50) and other company income are paid by companies
//!   of the register, under their business numbers; a director holding shares in their own
//!   name has a [`PropertyKind::Investment`] item with the company's business number and
//!   `share_count` equal to the shareholding.
//! - **Health**: most people have several visits over 112–113; inpatient stays have an end
//!   date; every lab result was ordered in a visit of the same person, provider and date.
//! - **Companies**: valid, unique business numbers; directors are current adults of the
//!   population (about 3% of adults); statuses mostly 01, some 06 with a suspension, some
//!   05 and 03; the 董事長 is the responsible person.
//! - **Order**: parcels by key, companies by business number, tax lists by (national ID,
//!   year), health lists by (national ID, date).
//! - **Showcase**: [`showcase_person`] (the head of the first household, or else the first
//!   current adult) owns at least one land share, has salary income in 113, at least one
//!   visit with lab results (glucose 09005C and creatinine 09015C), and chairs a company.

mod catalog;

use std::collections::{HashMap, HashSet};
use std::ops::Range;

use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};
use tongdao_core::ids::BusinessNumber;

use super::{
    Company, CompanyRegister, CompanyStatus, Director, Encumbrance, EncumbranceKind, HealthRecords,
    IncomeRecord, LabRecord, LandRegister, Owner, Ownership, Parcel, ParcelKey, PaymentRecord,
    PropertyKind, PropertyRecord, Registers, TaxKind, TaxRecords, VisitRecord, VisitType,
};
use crate::population::{Address, Household, Person, Population};
use crate::roc::RocDate;
use crate::tables as places;
use catalog::ProviderKind;

// Per-register seed mixers: distinct registers must not replay the same random stream.
const COMMERCE_SALT: u64 = 0x636f_6d6d_6572_6365;
const LAND_SALT: u64 = 0x6c61_6e64_5f72_6567;
const TAX_SALT: u64 = 0x7461_785f_7265_636f;
const HEALTH_SALT: u64 = 0x6865_616c_7468_5f31;

/// Age (on the extract date) from which a person owns, earns and directs.
const ADULT_AGE: u16 = 20;
/// The two years of income, property and visits.
const FIRST_YEAR: u16 = 112;
const LAST_YEAR: u16 = 113;

/// Share of households owning the land of their home (with its building); with the
/// further parcels below, about 40% of adults own land.
const HOME_OWNERSHIP: f64 = 0.58;
/// Chance that an adult owns a further parcel (farmland, inherited land).
const EXTRA_PARCEL: f64 = 0.07;
/// Regular companies per thousand adults (banks come on top).
const COMPANIES_PER_MILLE: usize = 12;

/// Generates the four registers for `population` (see the module docs for the guarantees).
pub(super) fn registers(population: &Population) -> Registers {
    let people = People::new(population);
    let commerce = commerce(population, &people);
    let land = land(population, &people, &commerce);
    let tax = tax(population, &people, &commerce, &land);
    let health = health(population, &people);
    Registers {
        land: land.register,
        commerce: commerce.register,
        tax,
        health,
    }
}

/// The person whose records the demo and the integration tests show: the head of the first
/// household if current and adult, else the first current adult. The generator guarantees
/// this person a land share, salary income in ROC 113, a visit with lab results and the chair
/// of a company. `None` only for a population without current adults.
pub fn showcase_person(population: &Population) -> Option<&Person> {
    let cutoff = adult_cutoff(population.extract_date());
    population
        .households()
        .first()
        .and_then(Household::head)
        .filter(|p| is_current_adult(p, cutoff))
        .or_else(|| {
            population
                .people()
                .map(|(_, p)| p)
                .find(|p| is_current_adult(p, cutoff))
        })
}

// ---- shared helpers -----------------------------------------------------------------------

/// Latest birth date of an adult on `extract`.
fn adult_cutoff(extract: RocDate) -> RocDate {
    let year = extract.year().saturating_sub(ADULT_AGE).max(1);
    RocDate::new(year, extract.month(), extract.day())
        .unwrap_or_else(|| ymd(year, extract.month(), 28))
}

fn is_current_adult(person: &Person, cutoff: RocDate) -> bool {
    person.removed.is_none() && person.birth_date <= cutoff
}

/// A date known to exist.
fn ymd(year: u16, month: u8, day: u8) -> RocDate {
    RocDate::new(year, month, day).expect("a calendar date with day ≤ 28 or checked")
}

/// A day number produced from real dates plus bounded offsets.
fn from_days(days: i32) -> RocDate {
    RocDate::from_days(days).expect("generated dates stay between ROC 14 and ROC 150")
}

fn add_days(date: RocDate, days: i32) -> RocDate {
    from_days(date.to_days() + days)
}

/// The same day `years` later (28 February for a 29 February).
fn add_years(date: RocDate, years: u16) -> RocDate {
    let year = date.year() + years;
    RocDate::new(year, date.month(), date.day()).unwrap_or_else(|| ymd(year, date.month(), 28))
}

fn year_end(year: u16) -> RocDate {
    ymd(year, 12, 31)
}

/// An address as one line, e.g. 臺北市大安區龍安里12鄰中山路45號4樓.
fn address_line(a: &Address) -> String {
    format!(
        "{}{}{}{}鄰{}",
        a.county, a.district, a.village, a.neighbourhood, a.street
    )
}

/// Index of a county (and of a district in it) in the place tables; the first when unknown.
fn place_index(county: &str, district: &str) -> (usize, usize) {
    let c = places::COUNTIES
        .iter()
        .position(|x| x.name == county)
        .unwrap_or(0);
    let d = places::COUNTIES[c]
        .districts
        .iter()
        .position(|x| x.name == district)
        .unwrap_or(0);
    (c, d)
}

/// Fixed-width ASCII fields (together at most 16 bytes) packed into one integer that orders
/// like the tuple of the fields.
fn packed(fields: &[&str]) -> u128 {
    let mut bytes = [0u8; 16];
    let mut at = 0;
    for field in fields {
        for &b in field.as_bytes() {
            if at < bytes.len() {
                bytes[at] = b;
                at += 1;
            }
        }
    }
    u128::from_be_bytes(bytes)
}

/// `value × numerator / denominator` without overflow, at least 1 when `value` is positive.
fn share_of(value: i64, numerator: u64, denominator: u64) -> i64 {
    let exact = i128::from(value) * i128::from(numerator) / i128::from(denominator.max(1));
    let exact = i64::try_from(exact).unwrap_or(i64::MAX);
    if value > 0 { exact.max(1) } else { exact }
}

/// A random stream for one register.
struct Draw(StdRng);

impl Draw {
    fn new(population: &Population, salt: u64) -> Draw {
        Draw(StdRng::seed_from_u64(population.seed() ^ salt))
    }

    /// Uniform in `0..n`; 0 when `n` is 0 (callers check emptiness before indexing).
    fn below(&mut self, n: usize) -> usize {
        if n == 0 { 0 } else { self.0.random_range(0..n) }
    }

    /// Uniform in `lo..hi`, or `lo` when the range is empty.
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            lo
        } else {
            self.0.random_range(lo..hi)
        }
    }

    fn chance(&mut self, p: f64) -> bool {
        self.0.random_bool(p.clamp(0.0, 1.0))
    }

    /// One item of a static, non-empty table.
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.0.random_range(0..items.len())]
    }

    /// A reference to one item of a static, non-empty table.
    fn pick_ref<'t, T>(&mut self, items: &'t [T]) -> &'t T {
        &items[self.0.random_range(0..items.len())]
    }

    /// One item of a static, non-empty weighted table.
    fn weighted<T: Copy>(&mut self, items: &[(T, u32)]) -> T {
        let total: u32 = items.iter().map(|i| i.1).sum();
        let mut roll = self.0.random_range(0..total.max(1));
        for &(item, weight) in items {
            if roll < weight {
                return item;
            }
            roll -= weight;
        }
        items[items.len() - 1].0
    }

    /// A day in `lo..=hi`, or `lo` when `hi` is earlier.
    fn day(&mut self, lo: RocDate, hi: RocDate) -> RocDate {
        let (a, b) = (lo.to_days(), hi.to_days());
        from_days(a + self.range(0, i64::from(b - a) + 1) as i32)
    }

    /// A street line like the household addresses', e.g. 中山路二段45號4樓.
    fn street(&mut self) -> String {
        let mut street = self.pick(places::STREETS).to_owned();
        if self.chance(0.3) {
            street.push_str(self.pick(places::SECTION_NUMERALS));
            street.push('段');
        }
        street.push_str(&format!("{}號", self.range(1, 350)));
        if self.chance(0.5) {
            street.push_str(&format!("{}樓", self.range(2, 16)));
        }
        street
    }
}

/// The population flattened for the generators.
struct People<'a> {
    /// Every person with their household, in population order; "person index" below means
    /// an index into this list.
    all: Vec<(&'a Household, &'a Person)>,
    /// Current adults, in population order (so each household's are contiguous).
    adults: Vec<usize>,
    /// Whether each person is a current adult.
    is_adult: Vec<bool>,
    /// For each household, its current adults as a range of `adults`.
    household_adults: Vec<Range<usize>>,
    /// Household index of each person.
    household_of: Vec<usize>,
    /// Current people sorted by national ID: the order of every per-person list.
    by_id: Vec<usize>,
    /// Person index of [`showcase_person`].
    showcase: Option<usize>,
}

impl<'a> People<'a> {
    fn new(population: &'a Population) -> People<'a> {
        let cutoff = adult_cutoff(population.extract_date());
        let mut all = Vec::with_capacity(population.person_count());
        let mut adults = Vec::new();
        let mut is_adult = Vec::with_capacity(population.person_count());
        let mut household_adults = Vec::with_capacity(population.households().len());
        let mut household_of = Vec::with_capacity(population.person_count());
        for (h, household) in population.households().iter().enumerate() {
            let first = adults.len();
            for person in &household.members {
                let adult = is_current_adult(person, cutoff);
                if adult {
                    adults.push(all.len());
                }
                is_adult.push(adult);
                household_of.push(h);
                all.push((household, person));
            }
            household_adults.push(first..adults.len());
        }
        let mut by_id: Vec<usize> = (0..all.len())
            .filter(|&i| all[i].1.removed.is_none())
            .collect();
        // Sorting on packed keys keeps the comparisons in cache (the IDs live on the heap).
        by_id.sort_by_cached_key(|&i| packed(&[all[i].1.national_id.as_str()]));
        let showcase = showcase_person(population)
            .and_then(|s| all.iter().position(|(_, p)| std::ptr::eq(*p, s)));
        People {
            all,
            adults,
            is_adult,
            household_adults,
            household_of,
            by_id,
            showcase,
        }
    }

    fn person(&self, index: usize) -> &'a Person {
        self.all[index].1
    }

    fn household(&self, index: usize) -> &'a Household {
        self.all[index].0
    }

    /// Current adults of `person`'s household (the person included).
    fn co_adults(&self, person: usize) -> &[usize] {
        &self.adults[self.household_adults[self.household_of[person]].clone()]
    }

    fn random_adult(&self, draw: &mut Draw) -> Option<usize> {
        (!self.adults.is_empty()).then(|| self.adults[draw.below(self.adults.len())])
    }
}

// ---- commerce (商工) ----------------------------------------------------------------------

/// What the other generators need besides a company's record (parallel to the register).
struct CompanySide {
    county: usize,
    district: usize,
    bank: bool,
    /// Person index of each director, parallel to [`Company::directors`].
    director_people: Vec<usize>,
}

#[derive(Default)]
struct Commerce {
    register: CompanyRegister,
    side: Vec<CompanySide>,
    /// Banks (indexes into the register): mortgage holders and interest payers.
    banks: Vec<usize>,
    /// Companies in business (01): salary and fee payers.
    employers: Vec<usize>,
    /// The company the showcase person chairs.
    showcase_company: Option<usize>,
}

/// Generates about 1.2 companies per hundred adults plus a few banks. The first company is
/// chaired by the showcase person; directors are drawn among current adults, often from
/// the chair's own household (family businesses).
fn commerce(population: &Population, people: &People<'_>) -> Commerce {
    let mut draw = Draw::new(population, COMMERCE_SALT);
    let Some(first_chair) = people.showcase.or_else(|| people.adults.first().copied()) else {
        return Commerce::default();
    };
    let extract = population.extract_date();
    let regular = (people.adults.len() * COMPANIES_PER_MILLE / 1000).max(1);
    let banks = (3 + people.adults.len() / 100_000).min(catalog::BANK_NAMES.len());
    let mut numbers = HashSet::new();
    let mut names = HashSet::new();
    let mut drafts: Vec<(Company, CompanySide)> = Vec::with_capacity(regular + banks);
    for i in 0..regular + banks {
        let chair = if i == 0 {
            first_chair
        } else {
            people.random_adult(&mut draw).unwrap_or(first_chair)
        };
        let bank = (i >= regular).then(|| catalog::BANK_NAMES[i - regular]);
        let draft = company(
            &mut draw,
            people,
            chair,
            bank,
            i == 0,
            &drafts,
            extract,
            (&mut numbers, &mut names),
        );
        drafts.push(draft);
    }
    let showcase_number = drafts[0].0.business_number.clone();
    drafts.sort_by(|a, b| a.0.business_number.cmp(&b.0.business_number));
    let (companies, side): (Vec<_>, Vec<_>) = drafts.into_iter().unzip();
    let banks = (0..companies.len()).filter(|&i| side[i].bank).collect();
    let employers = (0..companies.len())
        .filter(|&i| companies[i].status == CompanyStatus::ApprovedIncorporation)
        .collect();
    let showcase_company = people.showcase.and_then(|_| {
        companies
            .iter()
            .position(|c| c.business_number == showcase_number)
    });
    Commerce {
        register: CompanyRegister { companies },
        side,
        banks,
        employers,
        showcase_company,
    }
}

/// A fresh unified business number: 7 random digits and a last digit that makes the weighted
/// digit sum divisible by 5 (the last weight is 1, so one of two digits always works).
fn business_number(draw: &mut Draw, used: &mut HashSet<u32>) -> BusinessNumber {
    const WEIGHTS: [u32; 7] = [1, 2, 1, 2, 1, 2, 4];
    loop {
        let first7 = draw.range(0, 10_000_000) as u32;
        let mut rest = first7;
        let mut digits = [0u32; 7];
        for slot in digits.iter_mut().rev() {
            *slot = rest % 10;
            rest /= 10;
        }
        let sum: u32 = digits
            .iter()
            .zip(WEIGHTS)
            .map(|(d, w)| d * w)
            .map(|p| p / 10 + p % 10)
            .sum();
        let last = (5 - sum % 5) % 5 + 5 * draw.below(2) as u32;
        let number = first7 * 10 + last;
        if used.insert(number)
            && let Ok(parsed) = format!("{number:08}").parse::<BusinessNumber>()
        {
            return parsed;
        }
    }
}

/// A unique company name: two trade-name characters, the industry word, the legal form.
/// After a few collisions the county's short name is prefixed, as real names often are.
fn company_name(
    draw: &mut Draw,
    industry: &catalog::Industry,
    county: &str,
    used: &mut HashSet<String>,
) -> String {
    let form = if draw.chance(0.7) {
        "股份有限公司"
    } else {
        "有限公司"
    };
    let mut name = String::new();
    for attempt in 0..24 {
        let a = draw.pick(catalog::NAME_CHARS);
        let b = draw.pick(catalog::NAME_CHARS);
        if a == b {
            continue;
        }
        let prefix: String = if attempt >= 12 {
            county.chars().take(2).collect()
        } else {
            String::new()
        };
        name = format!("{prefix}{a}{b}{}{form}", industry.word);
        if used.insert(name.clone()) {
            return name;
        }
    }
    name
}

/// Which organisation registers a company: the big ones centrally, the others in the six
/// special municipalities with the city government.
fn registering_organisation(county: &str, capital: i64) -> &'static str {
    if capital >= 500_000_000 {
        return "經濟部商業發展署";
    }
    match county {
        "臺北市" => "臺北市政府",
        "新北市" => "新北市政府",
        "桃園市" => "桃園市政府",
        "臺中市" => "臺中市政府",
        "臺南市" => "臺南市政府",
        "高雄市" => "高雄市政府",
        _ => "經濟部商業發展署",
    }
}

/// One company with its directors. `earlier` are the companies drafted so far (a director
/// may represent one of them as a juristic person).
#[allow(clippy::too_many_arguments)]
fn company(
    draw: &mut Draw,
    people: &People<'_>,
    chair: usize,
    bank: Option<&'static str>,
    showcase: bool,
    earlier: &[(Company, CompanySide)],
    extract: RocDate,
    used: (&mut HashSet<u32>, &mut HashSet<String>),
) -> (Company, CompanySide) {
    let (used_numbers, used_names) = used;
    let home = &people.household(chair).address;
    let (county, district) = if bank.is_some() {
        (place_index("臺北市", "").0, draw.below(3))
    } else if draw.chance(0.8) {
        place_index(home.county, home.district)
    } else {
        let c = draw.below(places::COUNTIES.len());
        (c, draw.below(places::COUNTIES[c].districts.len()))
    };
    let place = &places::COUNTIES[county];
    let district = district.min(place.districts.len().saturating_sub(1));
    let business_number = business_number(draw, used_numbers);

    let (name, business_items, capital) = match bank {
        Some(stem) => (
            format!("{stem}商業銀行股份有限公司"),
            catalog::BANK_ITEMS.to_vec(),
            draw.range(100, 600) * 100_000_000,
        ),
        None => {
            let industry = draw.pick_ref(catalog::INDUSTRIES);
            let name = company_name(draw, industry, place.name, used_names);
            let mut items = industry.items[..1 + draw.below(industry.items.len())].to_vec();
            if draw.chance(0.7) {
                items.push(catalog::ITEM_GENERAL);
            }
            let capital = draw.weighted(&[
                (1_000_000, 15),
                (3_000_000, 20),
                (5_000_000, 20),
                (10_000_000, 20),
                (20_000_000, 10),
                (50_000_000, 8),
                (100_000_000, 5),
                (800_000_000, 2),
            ]);
            (name, items, capital)
        }
    };
    let paid_in = if draw.chance(0.7) {
        capital
    } else {
        capital / 10 * draw.range(3, 10)
    };

    let status = if bank.is_some() || showcase {
        CompanyStatus::ApprovedIncorporation
    } else {
        draw.weighted(&[
            (CompanyStatus::ApprovedIncorporation, 88),
            (CompanyStatus::Suspended, 4),
            (CompanyStatus::Dissolved, 5),
            (CompanyStatus::Annulled, 3),
        ])
    };
    // Set up no later than mid-113, so that every shareholding is in the 113 property list.
    let setup_date = draw.day(ymd(60, 1, 1), ymd(113, 6, 30));
    let mut suspension = None;
    let last_change_date = match status {
        CompanyStatus::Suspended => {
            // A suspension lasts up to a year at a time; this one is still running.
            let start = draw.day(setup_date.max(ymd(113, 4, 1)), extract);
            suspension = Some((start, add_days(add_years(start, 1), -1)));
            start
        }
        CompanyStatus::Dissolved | CompanyStatus::Annulled => {
            draw.day(setup_date.max(ymd(108, 1, 1)), extract)
        }
        _ => draw.day(setup_date, extract),
    };

    // Directors: the chair, up to three directors (half from the chair's household), maybe a
    // supervisor; nobody twice.
    let mut members = vec![chair];
    let extra = if bank.is_some() {
        4
    } else {
        draw.weighted(&[(0, 30), (1, 25), (2, 25), (3, 20)])
    };
    for _ in 0..extra {
        let family = people.co_adults(chair);
        let candidate = if bank.is_none() && draw.chance(0.5) && family.len() > 1 {
            Some(family[draw.below(family.len())])
        } else {
            people.random_adult(draw)
        };
        if let Some(c) = candidate.filter(|c| !members.contains(c)) {
            members.push(c);
        }
    }
    let directors_end = members.len();
    if draw.chance(0.6)
        && let Some(c) = people.random_adult(draw).filter(|c| !members.contains(c))
    {
        members.push(c);
    }

    let total_shares = (paid_in / 10).max(1) as u64;
    let percent = |draw: &mut Draw, lo: i64, hi: i64| -> u64 {
        (total_shares as u128 * draw.range(lo, hi) as u128 / 1000) as u64
    };
    let directors = members
        .iter()
        .enumerate()
        .map(|(i, &p)| {
            let (position, shareholding) = match (i, bank.is_some()) {
                (0, false) => ("董事長", percent(draw, 200, 610)),
                (0, true) => ("董事長", percent(draw, 1, 20)),
                (_, _) if i >= directors_end => (
                    "監察人",
                    if draw.chance(0.6) {
                        0
                    } else {
                        percent(draw, 1, 50)
                    },
                ),
                (_, false) => ("董事", percent(draw, 10, 200)),
                (_, true) => ("董事", percent(draw, 1, 10)),
            };
            // Some directors sit for a juristic-person shareholder: the shares are its own.
            let juristic_person_name = if i > 0 && !earlier.is_empty() && draw.chance(0.06) {
                earlier[draw.below(earlier.len())].0.name.clone()
            } else {
                String::new()
            };
            Director {
                position,
                national_id: people.person(p).national_id.clone(),
                name: people.person(p).name.clone(),
                juristic_person_name,
                shareholding,
            }
        })
        .collect();

    let company = Company {
        business_number,
        name,
        status,
        capital_stock_amount: capital,
        paid_in_capital_amount: paid_in,
        responsible_person_name: people.person(chair).name.clone(),
        location: format!(
            "{}{}{}",
            place.name,
            place.districts[district].name,
            draw.street()
        ),
        registering_organisation: registering_organisation(place.name, capital),
        setup_date,
        last_change_date,
        suspension,
        business_items,
        directors,
    };
    let side = CompanySide {
        county,
        district,
        bank: bank.is_some(),
        director_people: members,
    };
    (company, side)
}

// ---- land (地政) ---------------------------------------------------------------------------

/// Sections per district and parcels per section (parent numbers 1–9999, children 0–9).
const SECTIONS: usize = 36;
const PARCEL_SLOTS: u32 = 99_990;

/// What the tax generator needs besides a parcel's record (parallel to the register).
struct ParcelSide {
    /// Person index of each ownership entry's owner, `None` for companies and public owners.
    owners: Vec<Option<usize>>,
    /// The building on a household's home parcel, owned in the same shares as the land.
    home: Option<Home>,
}

struct Home {
    building_number: String,
    floor_area_cm2: i64,
    /// Assessed value of the whole building (評定現值), NT$.
    value: i64,
    address: String,
    tax_number: String,
}

struct Land {
    register: LandRegister,
    side: Vec<ParcelSide>,
}

/// What a parcel is used for; decides zone, size, value and buildings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LandUse {
    Home,
    Farm,
    Business,
    Public,
}

/// One owner before register sequences are assigned.
struct Owned {
    owner: Owner,
    person: Option<usize>,
    share: (u64, u64),
    registered_on: RocDate,
    reason: &'static str,
}

struct LandGen<'a> {
    draw: Draw,
    people: &'a People<'a>,
    commerce: &'a Commerce,
    /// Next parcel slot per (county, district, section): lookups only, never iterated.
    next_slot: HashMap<(usize, usize, usize), u32>,
    parcels: Vec<(Parcel, ParcelSide)>,
}

/// Generates home parcels for about half the households (owned by the head, often with the
/// spouse, sometimes with every adult), further parcels for some adults, parcels of companies
/// and of public owners.
fn land(population: &Population, people: &People<'_>, commerce: &Commerce) -> Land {
    let mut lg = LandGen {
        draw: Draw::new(population, LAND_SALT),
        people,
        commerce,
        next_slot: HashMap::new(),
        parcels: Vec::new(),
    };
    let earliest = ymd(60, 1, 1);
    let latest = year_end(LAST_YEAR);

    for (h, household) in population.households().iter().enumerate() {
        let adults = &people.adults[people.household_adults[h].clone()];
        let Some(&first) = adults.first() else {
            continue;
        };
        let showcase = people.showcase.filter(|s| adults.contains(s));
        if showcase.is_some() || lg.draw.chance(HOME_OWNERSHIP) {
            let primary = showcase.unwrap_or(first);
            let mut owners = vec![primary];
            let roll = lg.draw.below(100);
            if roll >= 45 {
                let spouse_name = &people.person(primary).spouse_name;
                if let Some(&s) = adults.iter().find(|&&a| {
                    a != primary && !spouse_name.is_empty() && &people.person(a).name == spouse_name
                }) {
                    owners.push(s);
                }
            }
            if roll >= 85 {
                for &a in adults {
                    if owners.len() < 4 && !owners.contains(&a) {
                        owners.push(a);
                    }
                }
            }
            let reason = lg
                .draw
                .weighted(&[("買賣", 80), ("繼承", 10), ("贈與", 8), ("拍賣", 2)]);
            let registered_on = lg
                .draw
                .day(adult_since(people, &owners).max(earliest), latest);
            let (county, district) =
                place_index(household.address.county, household.address.district);
            let shares = split_shares(&mut lg.draw, owners.len());
            let owned = owners
                .iter()
                .zip(shares)
                .map(|(&p, share)| lg.person_owner(p, share, registered_on, reason))
                .collect();
            let mortgage = reason == "買賣" && lg.draw.chance(0.5);
            let home = lg.home(household, county);
            lg.parcel(LandUse::Home, county, district, owned, mortgage, Some(home));
        }
        for &a in adults {
            if lg.draw.chance(EXTRA_PARCEL) {
                lg.extra_parcel(a, adults);
            }
        }
    }

    // Companies in business own their premises now and then; every bank owns its head office.
    for (i, company) in commerce.register.companies.iter().enumerate() {
        let side = &commerce.side[i];
        let active = company.status == CompanyStatus::ApprovedIncorporation;
        if side.bank || (active && lg.draw.chance(0.25)) {
            let registered_on = lg.draw.day(company.setup_date.max(earliest), latest);
            let owned = vec![Owned {
                owner: company_owner(company),
                person: None,
                share: (1, 1),
                registered_on,
                reason: "買賣",
            }];
            let mortgage = !side.bank && lg.draw.chance(0.4);
            lg.parcel(
                LandUse::Business,
                side.county,
                side.district,
                owned,
                mortgage,
                None,
            );
        }
    }

    // Roads, parks and schools: the state's or the county's.
    for _ in 0..population.households().len().div_ceil(40) {
        let county = lg.draw.below(places::COUNTIES.len());
        let district = lg.draw.below(places::COUNTIES[county].districts.len());
        let name = if lg.draw.chance(0.5) {
            "中華民國"
        } else {
            places::COUNTIES[county].name
        };
        let owned = vec![Owned {
            owner: Owner::Public { name },
            person: None,
            share: (1, 1),
            registered_on: lg.draw.day(ymd(40, 1, 1), latest),
            reason: "第一次登記",
        }];
        lg.parcel(LandUse::Public, county, district, owned, false, None);
    }

    let mut parcels = lg.parcels;
    parcels.sort_by_cached_key(|(p, _)| {
        packed(&[
            &p.key.land_office_code,
            &p.key.section_code,
            &p.key.parcel_number,
        ])
    });
    let (parcels, side) = parcels.into_iter().unzip();
    Land {
        register: LandRegister { parcels },
        side,
    }
}

/// The latest 18th birthday among `owners`: nobody registers land before coming of age here.
fn adult_since(people: &People<'_>, owners: &[usize]) -> RocDate {
    owners
        .iter()
        .map(|&p| add_years(people.person(p).birth_date, 18))
        .max()
        .unwrap_or_else(|| ymd(60, 1, 1))
}

/// Shares of `n` co-owners summing to exactly 1: equal parts, or a random split of a common
/// denominator, each reduced.
fn split_shares(draw: &mut Draw, n: usize) -> Vec<(u64, u64)> {
    let n64 = n.max(1) as u64;
    if n <= 1 {
        return vec![(1, 1)];
    }
    if draw.chance(0.6) {
        return vec![(1, n64); n];
    }
    let denominator = draw.pick(&[4u64, 6, 10, 12, 100, 1000, 10_000]).max(n64);
    let mut numerators = vec![1u64; n];
    let mut left = denominator - n64;
    for slot in numerators.iter_mut().take(n - 1) {
        let give = draw.range(0, left as i64 / 2 + 1) as u64;
        *slot += give;
        left -= give;
    }
    numerators[n - 1] += left;
    numerators
        .into_iter()
        .map(|num| {
            let g = gcd(num, denominator);
            (num / g, denominator / g)
        })
        .collect()
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a.max(1) } else { gcd(b, a % b) }
}

fn company_owner(company: &Company) -> Owner {
    Owner::Company {
        business_number: company.business_number.clone(),
        name: company.name.clone(),
        address: company.location.clone(),
    }
}

/// Announced current land value range (NT$/m²) of urban land in a county.
fn urban_value_range(county: &str) -> (i64, i64) {
    match county {
        "臺北市" => (180_000, 600_000),
        "新北市" => (60_000, 220_000),
        "桃園市" | "臺中市" | "新竹縣" | "新竹市" => (40_000, 150_000),
        "臺南市" | "高雄市" | "基隆市" => (30_000, 110_000),
        _ => (8_000, 50_000),
    }
}

impl LandGen<'_> {
    fn person_owner(
        &self,
        person: usize,
        share: (u64, u64),
        registered_on: RocDate,
        reason: &'static str,
    ) -> Owned {
        let (household, p) = self.people.all[person];
        Owned {
            owner: Owner::Person {
                national_id: p.national_id.clone(),
                name: p.name.clone(),
                address: address_line(&household.address),
            },
            person: Some(person),
            share,
            registered_on,
            reason,
        }
    }

    /// The household's house on its home parcel.
    fn home(&mut self, household: &Household, county: usize) -> Home {
        let floor_m2 = self.draw.range(40, 250);
        Home {
            building_number: format!("{:05}-000", self.draw.range(1, 100_000)),
            floor_area_cm2: floor_m2 * 10_000 + self.draw.range(0, 100) * 100,
            value: floor_m2 * self.draw.range(4_000, 16_000),
            address: address_line(&household.address),
            tax_number: format!(
                "{:02}{:010}",
                county + 1,
                self.draw.range(0, 10_000_000_000)
            ),
        }
    }

    /// A further parcel of adult `person`: alone, with household members, with someone
    /// elsewhere (siblings who inherited together), or shared with a public owner or company.
    fn extra_parcel(&mut self, person: usize, household_adults: &[usize]) {
        let mut owners = vec![person];
        let roll = self.draw.below(100);
        let mut other: Option<Owner> = None;
        if (55..75).contains(&roll) {
            for &a in household_adults {
                if a != person && owners.len() < 3 {
                    owners.push(a);
                }
            }
        } else if (75..90).contains(&roll) {
            if let Some(a) = self
                .people
                .random_adult(&mut self.draw)
                .filter(|a| *a != person)
            {
                owners.push(a);
            }
        } else if roll >= 90 {
            let employers = &self.commerce.employers;
            other = if !employers.is_empty() && self.draw.chance(0.3) {
                let c = employers[self.draw.below(employers.len())];
                Some(company_owner(&self.commerce.register.companies[c]))
            } else {
                let county = self.draw.pick_ref(places::COUNTIES);
                Some(Owner::Public {
                    name: if self.draw.chance(0.5) {
                        "中華民國"
                    } else {
                        county.name
                    },
                })
            };
        }
        let reason = self
            .draw
            .weighted(&[("繼承", 40), ("買賣", 45), ("贈與", 12), ("拍賣", 3)]);
        let latest = year_end(LAST_YEAR);
        let registered_on = self
            .draw
            .day(adult_since(self.people, &owners).max(ymd(60, 1, 1)), latest);
        let shares = split_shares(&mut self.draw, owners.len() + usize::from(other.is_some()));
        let mut owned: Vec<Owned> = owners
            .iter()
            .zip(&shares)
            .map(|(&p, &share)| self.person_owner(p, share, registered_on, reason))
            .collect();
        let sole_kind = other.is_none();
        if let (Some(owner), Some(&share)) = (other, shares.last()) {
            let reason = match owner {
                Owner::Public { .. } => "第一次登記",
                _ => "買賣",
            };
            owned.push(Owned {
                owner,
                person: None,
                share,
                registered_on: self.draw.day(ymd(50, 1, 1), registered_on),
                reason,
            });
        }
        let (county, district) = if self.draw.chance(0.5) {
            let a = &self.people.household(person).address;
            place_index(a.county, a.district)
        } else {
            let c = self.draw.below(places::COUNTIES.len());
            (c, self.draw.below(places::COUNTIES[c].districts.len()))
        };
        let land_use = if self.draw.chance(0.8) {
            LandUse::Farm
        } else {
            LandUse::Home
        };
        let mortgage = sole_kind && self.draw.chance(0.1);
        self.parcel(land_use, county, district, owned, mortgage, None);
    }

    /// A free parcel key in the district: a random section, the next number in it. Sections
    /// fill up only far beyond the population's size limit; then the parcel is skipped.
    fn key(&mut self, county: usize, district: usize) -> Option<(ParcelKey, String)> {
        let place = &places::COUNTIES[county];
        let start = self.draw.below(SECTIONS);
        for k in 0..SECTIONS {
            let section = (start + k) % SECTIONS;
            let slot = self
                .next_slot
                .entry((county, district, section))
                .or_insert(0);
            if *slot >= PARCEL_SLOTS {
                continue;
            }
            let taken = *slot;
            // Mostly a new parent number; now and then a subdivision (child) of the last one.
            let step = if self.draw.chance(0.15) {
                1
            } else {
                10 - taken % 10
            };
            *slot = taken + step;
            let stem = catalog::SECTION_STEMS[section % catalog::SECTION_STEMS.len()];
            let sub = section / catalog::SECTION_STEMS.len();
            let section_name = match sub {
                0 => format!("{stem}段"),
                n => format!("{stem}段{}小段", catalog::SECTION_NUMERALS[(n - 1) % 8]),
            };
            let key = ParcelKey {
                land_office_code: format!("{}{}", place.letter, char::from(b'A' + district as u8)),
                section_code: format!("{:04}", (section + 1) * 100),
                parcel_number: format!("{:04}-{:04}", taken / 10 + 1, taken % 10),
            };
            return Some((key, section_name));
        }
        None
    }

    /// Adds a parcel with its owners (shares summing to 1) and maybe a bank's mortgage.
    fn parcel(
        &mut self,
        land_use: LandUse,
        county: usize,
        district: usize,
        owned: Vec<Owned>,
        mortgage: bool,
        home: Option<Home>,
    ) {
        let place = &places::COUNTIES[county];
        let district = district.min(place.districts.len().saturating_sub(1));
        let Some((key, section_name)) = self.key(county, district) else {
            return;
        };
        let bank = owned
            .iter()
            .any(|o| matches!(&o.owner, Owner::Company { name, .. } if name.ends_with("商業銀行股份有限公司")));
        let d = &mut self.draw;
        let (lo, hi) = urban_value_range(place.name);
        let (zone, class, area_m2, value, buildings) = match land_use {
            LandUse::Home => (
                d.pick(catalog::HOME_ZONES),
                "",
                d.range(60, 400),
                d.range(lo, hi),
                d.range(1, 4) as u32,
            ),
            LandUse::Farm => {
                let (zone, class) = d.pick(catalog::FARM_ZONES);
                (zone, class, d.range(300, 9_000), d.range(800, 12_000), 0)
            }
            LandUse::Business => (
                if bank || d.chance(0.3) {
                    "商業區"
                } else {
                    "工業區"
                },
                "",
                d.range(300, 5_000),
                d.range(lo / 2, hi / 2),
                d.range(1, 4) as u32,
            ),
            LandUse::Public => (
                d.pick(catalog::PUBLIC_ZONES),
                "",
                d.range(200, 20_000),
                d.range(lo / 2, hi / 2),
                d.range(0, 2) as u32,
            ),
        };
        let value = value / 10 * 10;
        let area_cm2 = area_m2 * 10_000 + d.range(0, 100) * 100;
        let land_price = value * d.range(15, 31) / 100 / 10 * 10;
        let first_owned = owned
            .iter()
            .map(|o| o.registered_on)
            .min()
            .unwrap_or_else(|| year_end(LAST_YEAR));
        // The description was last registered (re-surveyed, subdivided…) up to 15 years
        // before the earliest ownership entry.
        let registered_on = d.day(
            from_days(first_owned.to_days() - 15 * 365).max(ymd(40, 1, 1)),
            first_owned,
        );

        let mut owners = Vec::with_capacity(owned.len());
        let mut people = Vec::with_capacity(owned.len());
        for (i, o) in owned.into_iter().enumerate() {
            let lag = match o.reason {
                "繼承" => d.range(20, 180),
                "拍賣" => d.range(10, 60),
                "買賣" => d.range(5, 45),
                _ => d.range(0, 30),
            };
            // The previous transfer value lags today's by about 3% a year of holding.
            let held = i64::from(LAST_YEAR.saturating_sub(o.registered_on.year()));
            let declared = if d.chance(0.7) {
                land_price * 80 / 100
            } else {
                land_price * d.range(80, 121) / 100
            };
            owners.push(Ownership {
                register_sequence: format!("{:04}", i + 1),
                registered_on: o.registered_on,
                registration_reason: o.reason,
                reason_date: add_days(o.registered_on, -(lag as i32)),
                owner: o.owner,
                share_numerator: o.share.0,
                share_denominator: o.share.1,
                declared_land_price_per_m2: declared.max(1),
                previous_transfer_value_per_m2: (value * 100 / (100 + 3 * held)).max(1),
                previous_transfer_on: ymd(o.registered_on.year(), o.registered_on.month(), 1),
            });
            people.push(o.person);
        }

        let mut encumbrances = Vec::new();
        let banks = &self.commerce.banks;
        if mortgage && !banks.is_empty() {
            let bank = &self.commerce.register.companies[banks[d.below(banks.len())]];
            let since = owners
                .iter()
                .map(|o| o.registered_on)
                .max()
                .unwrap_or(first_owned);
            let whole_value = share_of(value, area_cm2 as u64, 10_000);
            let secured = (whole_value * d.range(60, 150) / 100 / 10_000 * 10_000).max(300_000);
            let kind = if d.chance(0.75) {
                EncumbranceKind::MaximumAmountMortgage
            } else {
                EncumbranceKind::Mortgage
            };
            encumbrances.push(Encumbrance {
                register_sequence: "0001-000".to_owned(),
                kind,
                registered_on: since,
                registration_reason: "設定",
                holder_name: bank.name.clone(),
                holder_business_number: bank.business_number.clone(),
                secured_amount: secured,
                due_on: add_years(since, if d.chance(0.5) { 20 } else { 30 }),
                share_numerator: 1,
                share_denominator: 1,
                encumbered_sequences: owners.iter().map(|o| o.register_sequence.clone()).collect(),
            });
        }

        let reason = d.weighted(catalog::DESCRIPTION_REASONS);
        let (zone, class) = if land_use == LandUse::Farm {
            (zone, class)
        } else {
            (zone, "")
        };
        self.parcels.push((
            Parcel {
                key,
                county: place.name,
                district: place.districts[district].name,
                section_name,
                registered_on,
                registration_reason: reason,
                area_cm2,
                land_use_zone: zone,
                land_use_class: class,
                announced_current_value_per_m2: value.max(10),
                announced_land_price_per_m2: land_price.max(10),
                building_count: buildings,
                owners,
                encumbrances,
            },
            ParcelSide {
                owners: people,
                home,
            },
        ));
    }
}

// ---- tax (財稅) -----------------------------------------------------------------------------

/// A vehicle of a person, with its licence tax.
struct Vehicle {
    plate: String,
    value: i64,
    acquired_on: RocDate,
    licence_tax: i64,
}

/// Generates every current adult's income (salary for most of working age, interest,
/// dividends of their companies, some fees and rent), property (their land shares and
/// buildings from the land register, vehicles, shareholdings from the company register) and
/// the tax paid on it, person by person in national-ID order so that the lists come out
/// sorted.
fn tax(
    population: &Population,
    people: &People<'_>,
    commerce: &Commerce,
    land: &Land,
) -> TaxRecords {
    let mut draw = Draw::new(population, TAX_SALT);
    let mut rank = vec![usize::MAX; people.all.len()];
    for (r, &p) in people.by_id.iter().enumerate() {
        rank[p] = r;
    }
    // (owner's rank, parcel, ownership entry) and (director's rank, company, director entry),
    // sorted so each person's items are one run.
    let mut shares: Vec<(usize, usize, usize)> = Vec::new();
    for (parcel, side) in land.side.iter().enumerate() {
        for (entry, owner) in side.owners.iter().enumerate() {
            if let Some(p) = *owner {
                shares.push((rank[p], parcel, entry));
            }
        }
    }
    shares.sort_unstable();
    let mut seats: Vec<(usize, usize, usize)> = Vec::new();
    for (company, side) in commerce.side.iter().enumerate() {
        for (entry, &p) in side.director_people.iter().enumerate() {
            seats.push((rank[p], company, entry));
        }
    }
    seats.sort_unstable();

    // Sized once (a guess on the generous side) so the big lists never move while growing.
    let adults = people.adults.len();
    let mut out = TaxRecords {
        income: Vec::with_capacity(adults * 4),
        property: Vec::with_capacity(adults * 4),
        payments: Vec::with_capacity(adults * 2),
    };
    let mut plates = HashSet::new();
    let (mut next_share, mut next_seat) = (0, 0);
    for (r, &p) in people.by_id.iter().enumerate() {
        let my_shares = run(&shares, &mut next_share, r);
        let my_seats = run(&seats, &mut next_seat, r);
        if !people.is_adult[p] {
            continue;
        }
        let person = people.person(p);
        let mut ctx = TaxPerson {
            draw: &mut draw,
            people,
            commerce,
            land,
            person,
            shares: my_shares,
            seats: my_seats,
            showcase: people.showcase == Some(p),
        };
        ctx.income(&mut out.income);
        let vehicles = ctx.vehicles(&mut plates);
        ctx.property(&vehicles, &mut out.property);
        ctx.payments(&vehicles, &mut out.payments);
    }
    out
}

/// The items of `sorted` (sorted by their first field) whose first field is `key`, advancing
/// `next` past them; keys are visited in increasing order.
fn run<'s>(
    sorted: &'s [(usize, usize, usize)],
    next: &mut usize,
    key: usize,
) -> &'s [(usize, usize, usize)] {
    while *next < sorted.len() && sorted[*next].0 < key {
        *next += 1;
    }
    let start = *next;
    while *next < sorted.len() && sorted[*next].0 == key {
        *next += 1;
    }
    &sorted[start..*next]
}

/// One adult's tax records in the making.
struct TaxPerson<'a, 'p> {
    draw: &'a mut Draw,
    people: &'a People<'p>,
    commerce: &'a Commerce,
    land: &'a Land,
    person: &'p Person,
    /// (rank, parcel, ownership entry) of the person's land shares.
    shares: &'a [(usize, usize, usize)],
    /// (rank, company, director entry) of the person's seats on company boards.
    seats: &'a [(usize, usize, usize)],
    showcase: bool,
}

impl TaxPerson<'_, '_> {
    fn company(&self, index: usize) -> &Company {
        &self.commerce.register.companies[index]
    }

    /// A random company in business, if any.
    fn employer(&mut self) -> Option<usize> {
        let employers = &self.commerce.employers;
        (!employers.is_empty()).then(|| employers[self.draw.below(employers.len())])
    }

    /// The person's own shareholdings: (company, shares), in business-number order.
    fn holdings(&self) -> Vec<(usize, u64)> {
        self.seats
            .iter()
            .map(|&(_, c, d)| (c, &self.company(c).directors[d]))
            .filter(|(_, d)| d.juristic_person_name.is_empty() && d.shareholding > 0)
            .map(|(c, d)| (c, d.shareholding))
            .collect()
    }

    #[allow(clippy::too_many_arguments)]
    fn income_record(
        &self,
        year: u16,
        code: &'static str,
        name: &'static str,
        payer: (String, Option<BusinessNumber>),
        gross: i64,
        withheld: i64,
    ) -> IncomeRecord {
        IncomeRecord {
            income_year_roc: year,
            earner_national_id: self.person.national_id.clone(),
            earner_name: self.person.name.clone(),
            income_format_code: code,
            income_format_name: name,
            payer_name: payer.0,
            payer_business_number: payer.1,
            gross_amount: gross,
            tax_withheld: withheld,
            net_amount: gross - withheld,
        }
    }

    fn payer(&self, company: usize) -> (String, Option<BusinessNumber>) {
        let c = self.company(company);
        (c.name.clone(), Some(c.business_number.clone()))
    }

    fn income(&mut self, out: &mut Vec<IncomeRecord>) {
        let age = i64::from(LAST_YEAR.saturating_sub(self.person.birth_date.year()));
        let works = self.showcase || self.draw.chance(if age < 65 { 0.72 } else { 0.08 });
        // Directors often draw their salary from their own company.
        let own_company = self
            .seats
            .iter()
            .map(|s| s.1)
            .find(|&c| self.company(c).status == CompanyStatus::ApprovedIncorporation);
        let mut employer = if self.showcase {
            self.commerce.showcase_company.or(own_company)
        } else if own_company.is_some() && self.draw.chance(0.5) {
            own_company
        } else {
            self.employer()
        };
        if self.showcase && employer.is_none() {
            employer = self.employer();
        }
        let mut salary = self.draw.range(300_000, 900_000);
        if self.draw.chance(0.25) {
            salary += self.draw.range(0, 1_500_000);
        }
        let withholds = self.draw.chance(0.6);
        let rents = !self.shares.is_empty() && self.draw.chance(0.12);
        let holdings = self.holdings();
        for year in [FIRST_YEAR, LAST_YEAR] {
            if year == LAST_YEAR {
                salary = salary * self.draw.range(100, 107) / 100;
                if !self.showcase && self.draw.chance(0.1) {
                    employer = self.employer();
                }
            }
            if works && let Some(e) = employer {
                let withheld = if withholds { salary * 5 / 100 } else { 0 };
                out.push(self.income_record(year, "50", "薪資", self.payer(e), salary, withheld));
            }
            if self.draw.chance(0.55) && !self.commerce.banks.is_empty() {
                let bank = self.commerce.banks[self.draw.below(self.commerce.banks.len())];
                let gross = self.draw.range(100, 60_000);
                let withheld = if gross > 20_000 { gross / 10 } else { 0 };
                out.push(self.income_record(
                    year,
                    "5A",
                    "金融業利息",
                    self.payer(bank),
                    gross,
                    withheld,
                ));
            }
            for &(c, shares) in &holdings {
                let company = self.company(c);
                if company.status == CompanyStatus::ApprovedIncorporation
                    && company.setup_date.year() < year
                    && self.draw.chance(0.5)
                {
                    let gross = share_of(shares as i64, self.draw.range(20, 300) as u64, 100);
                    out.push(self.income_record(year, "54", "股利", self.payer(c), gross, 0));
                }
            }
            for (code, name, p, lo, hi) in [
                ("9A", "執行業務報酬", 0.03, 20_000, 500_000),
                ("9B", "稿費", 0.03, 2_000, 80_000),
                ("92", "其他所得", 0.02, 1_000, 50_000),
            ] {
                if self.draw.chance(p)
                    && let Some(c) = self.employer()
                {
                    let gross = self.draw.range(lo, hi);
                    let withheld = if code != "92" && gross > 20_000 {
                        gross / 10
                    } else {
                        0
                    };
                    out.push(self.income_record(year, code, name, self.payer(c), gross, withheld));
                }
            }
            if rents && let Some(tenant) = self.people.random_adult(self.draw) {
                let tenant = self.people.person(tenant).name.clone();
                let gross = self.draw.range(120_000, 600_000);
                out.push(self.income_record(year, "51", "租賃", (tenant, None), gross, 0));
            }
        }
    }

    /// Cars of about 45% of adults under 75 (a second car now and then), with unique plates.
    fn vehicles(&mut self, plates: &mut HashSet<String>) -> Vec<Vehicle> {
        let age = LAST_YEAR.saturating_sub(self.person.birth_date.year());
        let count = if age < 75 && self.draw.chance(0.45) {
            1 + usize::from(self.draw.chance(0.1))
        } else {
            0
        };
        let letters = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
        (0..count)
            .map(|_| {
                let plate = loop {
                    let mut plate = String::with_capacity(8);
                    for _ in 0..3 {
                        plate.push(char::from(letters[self.draw.below(letters.len())]));
                    }
                    plate.push_str(&format!("-{:04}", self.draw.range(1, 10_000)));
                    if plates.insert(plate.clone()) {
                        break plate;
                    }
                };
                let (licence_tax, value) = self.draw.weighted(&[
                    ((4_320, (250_000, 500_000)), 15),
                    ((7_120, (400_000, 900_000)), 45),
                    ((11_230, (600_000, 1_400_000)), 30),
                    ((15_210, (900_000, 2_500_000)), 10),
                ]);
                let earliest = add_years(self.person.birth_date, 18).max(ymd(100, 1, 1));
                Vehicle {
                    plate,
                    value: self.draw.range(value.0, value.1) / 1000 * 1000,
                    acquired_on: self.draw.day(earliest, year_end(LAST_YEAR)),
                    licence_tax,
                }
            })
            .collect()
    }

    fn property_record(&self, year: u16, kind: PropertyKind) -> PropertyRecord {
        PropertyRecord {
            year_roc: year,
            owner_national_id: self.person.national_id.clone(),
            owner_name: self.person.name.clone(),
            kind,
            location: String::new(),
            parcel_or_building_number: String::new(),
            plate_number: String::new(),
            area_cm2: 0,
            share_numerator: 1,
            share_denominator: 1,
            assessed_value: 0,
            acquired_on: ymd(year, 1, 1),
            investee_name: String::new(),
            investee_business_number: None,
            share_count: 0,
        }
    }

    /// Land, buildings, vehicles and investments held in each year: an item counts for a year
    /// when acquired by its end. 112 values are a little lower than 113's.
    fn property(&self, vehicles: &[Vehicle], out: &mut Vec<PropertyRecord>) {
        let holdings = self.holdings();
        for year in [FIRST_YEAR, LAST_YEAR] {
            let scale = if year == LAST_YEAR { 100 } else { 96 };
            for &(_, parcel_index, entry) in self.shares {
                let parcel = &self.land.register.parcels[parcel_index];
                let ownership = &parcel.owners[entry];
                if ownership.registered_on > year_end(year) {
                    continue;
                }
                let whole = share_of(
                    parcel.announced_current_value_per_m2,
                    parcel.area_cm2 as u64,
                    10_000,
                );
                out.push(PropertyRecord {
                    location: format!(
                        "{}{}{}",
                        parcel.county, parcel.district, parcel.section_name
                    ),
                    parcel_or_building_number: parcel.key.parcel_number.clone(),
                    area_cm2: parcel.area_cm2,
                    share_numerator: ownership.share_numerator,
                    share_denominator: ownership.share_denominator,
                    assessed_value: share_of(
                        whole * scale / 100,
                        ownership.share_numerator,
                        ownership.share_denominator,
                    ),
                    acquired_on: ownership.registered_on,
                    ..self.property_record(year, PropertyKind::Land)
                });
            }
            for &(_, parcel_index, entry) in self.shares {
                let parcel = &self.land.register.parcels[parcel_index];
                let ownership = &parcel.owners[entry];
                let Some(home) = &self.land.side[parcel_index].home else {
                    continue;
                };
                if ownership.registered_on > year_end(year) {
                    continue;
                }
                out.push(PropertyRecord {
                    location: home.address.clone(),
                    parcel_or_building_number: home.building_number.clone(),
                    area_cm2: home.floor_area_cm2,
                    share_numerator: ownership.share_numerator,
                    share_denominator: ownership.share_denominator,
                    assessed_value: share_of(
                        home.value * scale / 100,
                        ownership.share_numerator,
                        ownership.share_denominator,
                    ),
                    acquired_on: ownership.registered_on,
                    ..self.property_record(year, PropertyKind::Building)
                });
            }
            for v in vehicles.iter().filter(|v| v.acquired_on <= year_end(year)) {
                out.push(PropertyRecord {
                    plate_number: v.plate.clone(),
                    assessed_value: v.value * scale / 100,
                    acquired_on: v.acquired_on,
                    ..self.property_record(year, PropertyKind::Vehicle)
                });
            }
            for &(c, shares) in &holdings {
                let company = self.company(c);
                let acquired_on = company
                    .setup_date
                    .max(add_years(self.person.birth_date, 18));
                if acquired_on > year_end(year) {
                    continue;
                }
                out.push(PropertyRecord {
                    assessed_value: i64::try_from(shares).unwrap_or(i64::MAX / 10) * 10,
                    acquired_on,
                    investee_name: company.name.clone(),
                    investee_business_number: Some(company.business_number.clone()),
                    share_count: shares,
                    ..self.property_record(year, PropertyKind::Investment)
                });
            }
        }
    }

    fn payment_record(
        &self,
        kind: TaxKind,
        number: String,
        location: String,
        amount: i64,
        paid_on: RocDate,
    ) -> PaymentRecord {
        PaymentRecord {
            tax_year_roc: LAST_YEAR,
            taxpayer_national_id: self.person.national_id.clone(),
            taxpayer_name: self.person.name.clone(),
            kind,
            tax_registration_number: number,
            property_location: location,
            amount_paid: amount.max(1),
            paid_on,
        }
    }

    /// Tax year 113: land value tax per land share (November; 2‰ on a home, 10‰ otherwise,
    /// of the declared value), house tax per home share (May, 1.2%), licence tax per vehicle
    /// (April, or on registration for a car bought later).
    fn payments(&mut self, vehicles: &[Vehicle], out: &mut Vec<PaymentRecord>) {
        for &(_, parcel_index, entry) in self.shares {
            let parcel = &self.land.register.parcels[parcel_index];
            let ownership = &parcel.owners[entry];
            let home = self.land.side[parcel_index].home.is_some();
            let declared = share_of(
                ownership.declared_land_price_per_m2,
                parcel.area_cm2 as u64,
                10_000,
            );
            let mine = share_of(
                declared,
                ownership.share_numerator,
                ownership.share_denominator,
            );
            let amount = share_of(mine, if home { 2 } else { 10 }, 1000);
            let paid_on = self.draw.day(ymd(LAST_YEAR, 11, 1), ymd(LAST_YEAR, 11, 30));
            let key = &parcel.key;
            out.push(self.payment_record(
                TaxKind::LandValueTax,
                // As in the tax files: AA0200-00450001 and 臺北市大安區仁愛段三小段0450-0001.
                format!(
                    "{}{}-{}",
                    key.land_office_code,
                    key.section_code,
                    key.parcel_number.replace('-', "")
                ),
                format!(
                    "{}{}{}{}",
                    parcel.county, parcel.district, parcel.section_name, key.parcel_number
                ),
                amount,
                paid_on,
            ));
        }
        for &(_, parcel_index, entry) in self.shares {
            let ownership = &self.land.register.parcels[parcel_index].owners[entry];
            let Some(home) = &self.land.side[parcel_index].home else {
                continue;
            };
            let mine = share_of(
                home.value,
                ownership.share_numerator,
                ownership.share_denominator,
            );
            let paid_on = self.draw.day(ymd(LAST_YEAR, 5, 1), ymd(LAST_YEAR, 5, 31));
            out.push(self.payment_record(
                TaxKind::HouseTax,
                home.tax_number.clone(),
                home.address.clone(),
                share_of(mine, 12, 1000),
                paid_on,
            ));
        }
        for v in vehicles {
            let paid_on = if v.acquired_on < ymd(LAST_YEAR, 4, 1) {
                self.draw.day(ymd(LAST_YEAR, 4, 1), ymd(LAST_YEAR, 4, 30))
            } else {
                add_days(v.acquired_on, self.draw.range(0, 10) as i32)
            };
            out.push(self.payment_record(
                TaxKind::LicenceTax,
                v.plate.clone(),
                v.plate.clone(),
                v.licence_tax,
                paid_on,
            ));
        }
    }
}

// ---- health (健保) --------------------------------------------------------------------------

/// A provider of a county's roster.
struct Provider {
    code: String,
    name: String,
    branch: u8,
}

/// NHI branch (1 臺北 … 6 東區) serving a county.
fn nhi_branch(county: &str) -> u8 {
    match county {
        "臺北市" | "新北市" | "基隆市" | "宜蘭縣" | "金門縣" | "連江縣" => 1,
        "桃園市" | "新竹縣" | "新竹市" | "苗栗縣" => 2,
        "臺中市" | "彰化縣" | "南投縣" => 3,
        "雲林縣" | "嘉義縣" | "嘉義市" | "臺南市" => 4,
        "高雄市" | "屏東縣" | "澎湖縣" => 5,
        _ => 6,
    }
}

/// Every county's providers by kind (indexed by [`ProviderKind`]): two hospitals, six
/// clinics, two dentists, two Chinese-medicine clinics and two pharmacies, with 10-digit codes
/// (county, kind, serial). Fixed, not drawn.
fn provider_rosters() -> Vec<[Vec<Provider>; 5]> {
    places::COUNTIES
        .iter()
        .enumerate()
        .map(|(c, county)| {
            let short: String = county.name.chars().take(2).collect();
            let mut serial = 101;
            let mut roster = |digit: u32, names: Vec<String>| -> Vec<Provider> {
                names
                    .into_iter()
                    .map(|name| {
                        serial += 37;
                        Provider {
                            code: format!("{:02}{digit}{serial:07}", c + 1),
                            name,
                            branch: nhi_branch(county.name),
                        }
                    })
                    .collect()
            };
            let owned = |names: &[&str]| names.iter().map(|n| (*n).to_owned()).collect();
            let hospitals = catalog::HOSPITAL_STEMS[..2]
                .iter()
                .map(|stem| format!("{short}{stem}醫院"))
                .collect();
            // Same order as ProviderKind's variants.
            [
                roster(1, hospitals),
                roster(3, owned(catalog::CLINIC_NAMES)),
                roster(4, owned(catalog::DENTAL_NAMES)),
                roster(5, owned(catalog::TCM_NAMES)),
                roster(6, owned(catalog::PHARMACY_NAMES)),
            ]
        })
        .collect()
}

/// Generates visits over 112–113 for every current person (most have several; older people
/// and the chronically ill more), with diagnoses, orders and lab results, person by person in
/// national-ID order and each person's visits by date.
fn health(population: &Population, people: &People<'_>) -> HealthRecords {
    let mut draw = Draw::new(population, HEALTH_SALT);
    let rosters = provider_rosters();
    let mut out = HealthRecords {
        visits: Vec::with_capacity(people.by_id.len() * 5),
        lab_results: Vec::with_capacity(people.by_id.len() * 3),
    };
    let first = ymd(FIRST_YEAR, 1, 1);
    let last = year_end(LAST_YEAR);
    let (mut dates, mut orders, mut labs) = (Vec::new(), Vec::new(), Vec::new());
    for &p in &people.by_id {
        let (household, person) = people.all[p];
        let showcase = people.showcase == Some(p);
        let age = i64::from(LAST_YEAR.saturating_sub(person.birth_date.year()));
        let chronic = age >= 45 && draw.chance(0.35);
        let mut count = if draw.chance(0.07) {
            0
        } else {
            1 + draw.below(4) + (age / 30) as usize + if chronic { 4 } else { 0 }
        };
        if showcase {
            count = count.max(1);
        }
        let from = person.birth_date.max(first);
        if from > last {
            continue;
        }
        dates.clear();
        dates.extend((0..count).map(|_| draw.day(from, last)));
        dates.sort_unstable();
        let (home_county, _) = place_index(household.address.county, household.address.district);
        let mut card = draw.range(1, 60);
        for (i, &date) in dates.iter().enumerate() {
            let visit_type = if showcase && i == 0 {
                VisitType::WesternOutpatient
            } else {
                draw.weighted(&[
                    (VisitType::WesternOutpatient, 62),
                    (VisitType::PharmacyDispensing, 10),
                    (VisitType::DentalOutpatient, 10),
                    (VisitType::TcmOutpatient, 8),
                    (VisitType::Emergency, 7),
                    (VisitType::Inpatient, 3),
                ])
            };
            let county = if draw.chance(0.9) {
                home_county
            } else {
                draw.below(rosters.len())
            };
            let kind = match visit_type {
                VisitType::WesternOutpatient if draw.chance(0.8) => ProviderKind::Clinic,
                VisitType::WesternOutpatient | VisitType::Emergency | VisitType::Inpatient => {
                    ProviderKind::Hospital
                }
                VisitType::DentalOutpatient => ProviderKind::Dental,
                VisitType::TcmOutpatient => ProviderKind::Tcm,
                VisitType::PharmacyDispensing => ProviderKind::Pharmacy,
            };
            let candidates = &rosters[county][kind as usize];
            let provider = &candidates[draw.below(candidates.len())];
            let sequence = if draw.chance(0.01) {
                "IC06".to_owned()
            } else {
                card = card % 9_999 + 1;
                format!("{card:04}")
            };
            let visit = Visit {
                draw: &mut draw,
                visit_type,
                chronic,
                must_lab: showcase && i == 0,
            };
            let (diagnoses, points, end_date) = visit.contents(date, &mut orders, &mut labs);
            for &lab in &labs {
                orders.push((
                    catalog::LAB_ITEMS[lab].code,
                    catalog::LAB_ITEMS[lab].name,
                    "1".to_owned(),
                ));
            }
            let urine = matches!(
                visit_type,
                VisitType::WesternOutpatient | VisitType::Inpatient
            ) && !labs.is_empty()
                && draw.chance(0.3);
            if urine {
                orders.push((
                    catalog::URINE_PROTEIN.0,
                    catalog::URINE_PROTEIN.1,
                    "1".to_owned(),
                ));
            }
            let copay_code = if draw.chance(0.04) { "001" } else { "C10" };
            for &lab in &labs {
                let item = &catalog::LAB_ITEMS[lab];
                let value = item.low + (item.high - item.low) * draw.0.random::<f64>();
                out.lab_results.push(LabRecord {
                    national_id: person.national_id.clone(),
                    name: person.name.clone(),
                    provider_code: provider.code.clone(),
                    provider_name: provider.name.clone(),
                    visit_date: date,
                    report_date: add_days(date, draw.range(0, 4) as i32),
                    order_code: item.code,
                    item_name: item.name,
                    value: format!("{value:.prec$}", prec = item.decimals),
                    unit: item.unit,
                    reference_range: item.reference,
                });
            }
            if urine {
                out.lab_results.push(LabRecord {
                    national_id: person.national_id.clone(),
                    name: person.name.clone(),
                    provider_code: provider.code.clone(),
                    provider_name: provider.name.clone(),
                    visit_date: date,
                    report_date: add_days(date, draw.range(0, 2) as i32),
                    order_code: catalog::URINE_PROTEIN.0,
                    item_name: catalog::URINE_PROTEIN.1,
                    value: draw.pick(catalog::URINE_PROTEIN_VALUES).to_owned(),
                    unit: "",
                    reference_range: "陰性",
                });
            }
            out.visits.push(VisitRecord {
                national_id: person.national_id.clone(),
                name: person.name.clone(),
                visit_type,
                nhi_branch: provider.branch,
                provider_code: provider.code.clone(),
                provider_name: provider.name.clone(),
                visit_date: date,
                end_date,
                sequence,
                diagnoses,
                copay_code,
                claimed_points: points,
                // Millions of visits: keep only the orders' own room.
                orders: {
                    // An exact-size copy; the buffer keeps its room for the next visit.
                    let mut kept = Vec::with_capacity(orders.len());
                    kept.append(&mut orders);
                    kept
                },
            });
        }
    }
    out
}

/// One visit's clinical contents, by type.
struct Visit<'a> {
    draw: &'a mut Draw,
    visit_type: VisitType,
    chronic: bool,
    /// The showcase person's first visit: glucose and creatinine are always ordered.
    must_lab: bool,
}

/// A visit's order line: code, name, quantity.
type OrderLine = (&'static str, &'static str, String);

impl Visit<'_> {
    /// Diagnoses, points and the end date of an inpatient stay; the orders (without labs)
    /// and lab items (indexes into the catalogue) go into the caller's emptied buffers, which
    /// are reused from visit to visit (millions of visits: no allocation that is not kept).
    fn contents(
        self,
        date: RocDate,
        orders: &mut Vec<OrderLine>,
        labs: &mut Vec<usize>,
    ) -> (Vec<catalog::Diagnosis>, i64, Option<RocDate>) {
        let d = self.draw;
        let mut diagnoses = Vec::with_capacity(3);
        orders.clear();
        labs.clear();
        let mut end_date = None;
        // Chronic patients get their regular medication, others something for the complaint.
        let chronic = self.chronic;
        let drugs = |d: &mut Draw, orders: &mut Vec<OrderLine>| {
            for _ in 0..1 + d.below(3) {
                let table = if chronic && d.chance(0.7) {
                    catalog::CHRONIC_DRUGS
                } else {
                    catalog::DRUGS
                };
                let (code, name) = d.pick(table);
                if orders.iter().all(|o: &OrderLine| o.0 != code) {
                    orders.push((code, name, format!("{}", 7 * (1 + d.below(4)))));
                }
            }
        };
        let (lab_chance, mut points) = match self.visit_type {
            VisitType::WesternOutpatient => {
                diagnoses.push(if self.chronic && d.chance(0.6) {
                    d.pick(catalog::DX_CHRONIC)
                } else {
                    d.pick(catalog::DX_OUTPATIENT)
                });
                orders.push((
                    catalog::ORDER_OUTPATIENT_FEE.0,
                    catalog::ORDER_OUTPATIENT_FEE.1,
                    "1".to_owned(),
                ));
                drugs(d, orders);
                (if self.chronic { 0.5 } else { 0.12 }, d.range(200, 900))
            }
            VisitType::PharmacyDispensing => {
                diagnoses.push(if self.chronic {
                    d.pick(catalog::DX_CHRONIC)
                } else {
                    d.pick(catalog::DX_OUTPATIENT)
                });
                orders.push((
                    catalog::ORDER_PHARMACY_FEE.0,
                    catalog::ORDER_PHARMACY_FEE.1,
                    "1".to_owned(),
                ));
                drugs(d, orders);
                (0.0, d.range(100, 2_000))
            }
            VisitType::DentalOutpatient => {
                diagnoses.push(d.pick(catalog::DX_DENTAL));
                orders.push((
                    catalog::ORDER_DENTAL_FEE.0,
                    catalog::ORDER_DENTAL_FEE.1,
                    "1".to_owned(),
                ));
                let (code, name) = d.pick(catalog::DENTAL_PROCEDURES);
                orders.push((code, name, "1".to_owned()));
                (0.0, d.range(500, 1_600))
            }
            VisitType::TcmOutpatient => {
                diagnoses.push(d.pick(catalog::DX_TCM));
                orders.push((
                    catalog::ORDER_TCM_FEE.0,
                    catalog::ORDER_TCM_FEE.1,
                    "1".to_owned(),
                ));
                (0.0, d.range(300, 650))
            }
            VisitType::Emergency => {
                diagnoses.push(d.pick(catalog::DX_EMERGENCY));
                orders.push((
                    catalog::ORDER_EMERGENCY_FEE.0,
                    catalog::ORDER_EMERGENCY_FEE.1,
                    "1".to_owned(),
                ));
                drugs(d, orders);
                (0.6, d.range(1_500, 6_000))
            }
            VisitType::Inpatient => {
                diagnoses.push(d.pick(catalog::DX_INPATIENT));
                let days = d.range(2, 15);
                end_date = Some(add_days(date, days as i32));
                orders.push((
                    catalog::ORDER_INPATIENT_FEE.0,
                    catalog::ORDER_INPATIENT_FEE.1,
                    days.to_string(),
                ));
                orders.push((
                    catalog::ORDER_WARD_FEE.0,
                    catalog::ORDER_WARD_FEE.1,
                    days.to_string(),
                ));
                drugs(d, orders);
                (1.0, d.range(20_000, 150_000))
            }
        };
        // Secondary diagnoses: the chronic conditions a patient carries.
        if self.chronic && self.visit_type != VisitType::DentalOutpatient {
            for _ in 0..d.below(3) {
                let dx = d.pick(catalog::DX_CHRONIC);
                if !diagnoses.contains(&dx) {
                    diagnoses.push(dx);
                }
            }
        }
        if self.must_lab {
            labs.extend([catalog::LAB_GLUCOSE, catalog::LAB_CREATININE]);
        }
        if d.chance(lab_chance) {
            for _ in 0..1 + d.below(4) {
                let lab = d.below(catalog::LAB_ITEMS.len());
                if !labs.contains(&lab) {
                    labs.push(lab);
                }
            }
        }
        points += 60 * labs.len() as i64;
        (diagnoses, points, end_date)
    }
}
