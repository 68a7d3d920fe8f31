//! The people model (households and their members) and its deterministic generator.
//!
//! Everything is synthetic: names are drawn from common surnames and given-name characters,
//! national IDs are random serials with a valid check digit. A generated name or ID may
//! coincide with a real one by chance, as any common name does; nothing is derived from real
//! people.
//!
//! The same seed gives the same population for a given `rand` version (Cargo.lock pins it):
//! [`StdRng`] is seeded with [`SeedableRng::seed_from_u64`] and nothing reads a clock or
//! iterates a hash map into the output.
//!
//! Later record kinds (land, tax, health, companies) hang off [`Person::national_id`].

use std::collections::HashSet;

use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};
use tongdao_core::ids::NationalId;

use crate::roc::RocDate;
use crate::tables::{self, County, Region};

/// Sex as registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sex {
    /// 男
    Male,
    /// 女
    Female,
}

impl Sex {
    /// The registered label, 男 or 女.
    pub fn label(self) -> &'static str {
        match self {
            Sex::Male => "男",
            Sex::Female => "女",
        }
    }

    fn other(self) -> Sex {
        match self {
            Sex::Male => Sex::Female,
            Sex::Female => Sex::Male,
        }
    }
}

/// Household type (戶別).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HouseholdType {
    /// 共同生活戶: a family living together.
    CommonLiving,
    /// 共同事業戶: people registered together at a workplace.
    CommonBusiness,
    /// 單獨生活戶: one person living alone.
    SingleLiving,
}

impl HouseholdType {
    /// The registered label, e.g. 共同生活戶.
    pub fn label(self) -> &'static str {
        match self {
            HouseholdType::CommonLiving => "共同生活戶",
            HouseholdType::CommonBusiness => "共同事業戶",
            HouseholdType::SingleLiving => "單獨生活戶",
        }
    }
}

/// Military service status (役別). Only men have one; `None` prints as blank.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MilitaryService {
    /// Not applicable (women, boys under 18, residents).
    None,
    /// 常備役: served regular service.
    Regular,
    /// 替代役: alternative service.
    Alternative,
    /// 補充兵役: short military training.
    Supplementary,
    /// 國民兵役: reserve.
    National,
    /// 免役: exempt.
    Exempt,
    /// 禁役: barred.
    Barred,
    /// 待役: awaiting service.
    Awaiting,
}

impl MilitaryService {
    /// The registered label; empty for [`MilitaryService::None`].
    pub fn label(self) -> &'static str {
        match self {
            MilitaryService::None => "",
            MilitaryService::Regular => "常備役",
            MilitaryService::Alternative => "替代役",
            MilitaryService::Supplementary => "補充兵役",
            MilitaryService::National => "國民兵役",
            MilitaryService::Exempt => "免役",
            MilitaryService::Barred => "禁役",
            MilitaryService::Awaiting => "待役",
        }
    }
}

/// Indigenous status (原住民身分).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IndigenousStatus {
    /// 平地原住民
    Plains,
    /// 山地原住民
    Mountain,
}

impl IndigenousStatus {
    /// The registered label, e.g. 山地原住民.
    pub fn label(self) -> &'static str {
        match self {
            IndigenousStatus::Plains => "平地原住民",
            IndigenousStatus::Mountain => "山地原住民",
        }
    }
}

/// Indigenous status with the tribe (族別), e.g. 阿美族.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Indigenous {
    /// Plains or mountain status.
    pub status: IndigenousStatus,
    /// Tribe, e.g. 泰雅族.
    pub tribe: &'static str,
}

/// Kind of a registration event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// 出生登記
    Birth,
    /// 結婚登記
    Marriage,
    /// 離婚登記
    Divorce,
    /// 收養登記
    Adoption,
    /// 更名登記
    NameChange,
    /// 死亡登記
    Death,
    /// 遷入登記
    MoveIn,
    /// 遷出登記
    MoveOut,
    /// 分戶登記
    HouseholdSplit,
}

impl EventKind {
    /// The registered label, e.g. 出生登記.
    pub fn label(self) -> &'static str {
        match self {
            EventKind::Birth => "出生登記",
            EventKind::Marriage => "結婚登記",
            EventKind::Divorce => "離婚登記",
            EventKind::Adoption => "收養登記",
            EventKind::NameChange => "更名登記",
            EventKind::Death => "死亡登記",
            EventKind::MoveIn => "遷入登記",
            EventKind::MoveOut => "遷出登記",
            EventKind::HouseholdSplit => "分戶登記",
        }
    }
}

/// A registration event with its date (the registration date) and the remark (記事) text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Date the event was registered.
    pub date: RocDate,
    /// What was registered.
    pub kind: EventKind,
    /// Remark as printed on a transcript.
    pub remark: String,
}

/// Why a member was removed from the household (除戶).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Removal {
    /// Died.
    Death,
    /// Moved out.
    MovedOut,
}

/// A registered address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    /// County or city, e.g. 臺北市.
    pub county: &'static str,
    /// District or township, e.g. 大安區.
    pub district: &'static str,
    /// Village (村里), e.g. 龍安里.
    pub village: &'static str,
    /// Neighbourhood (鄰) number.
    pub neighbourhood: u16,
    /// Street, lane, alley, number and floor, e.g. 中山路二段45巷3弄12號4樓.
    pub street: String,
}

/// One member of a household.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// Position in the household (1 = head), unique within it.
    pub seq: u8,
    /// Relationship to the head (稱謂), e.g. 戶長, 配偶, 長子, 媳婦, 孫女.
    pub relationship: &'static str,
    /// Full name.
    pub name: String,
    /// National ID; gender digit consistent with [`Person::sex`]. Residents (8/9) are rare.
    pub national_id: NationalId,
    /// Registered sex.
    pub sex: Sex,
    /// Birth date.
    pub birth_date: RocDate,
    /// Father's name (the member's father in the household if he is one).
    pub father_name: String,
    /// Mother's name.
    pub mother_name: String,
    /// Spouse's name; empty if unmarried.
    pub spouse_name: String,
    /// Birthplace: a county, or a country for members born abroad.
    pub birthplace: &'static str,
    /// Birth order among the parents' children (出生別), e.g. 長女.
    pub birth_order: &'static str,
    /// Military service status; [`MilitaryService::None`] for women.
    pub military: MilitaryService,
    /// Indigenous status and tribe, if any.
    pub indigenous: Option<Indigenous>,
    /// Set when the member was removed (除戶); the removing event is in [`Person::events`].
    pub removed: Option<Removal>,
    /// The member's events, oldest first.
    pub events: Vec<Event>,
}

/// A household (戶) with its members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Household {
    /// Household number (戶號): the county's ID letter and 7 digits, unique.
    pub number: String,
    /// Household type.
    pub kind: HouseholdType,
    /// Registered address.
    pub address: Address,
    /// Household registration office responsible for the address.
    pub issuing_office: String,
    /// Members, head first; includes removed members.
    pub members: Vec<Person>,
    /// Household-level events (e.g. 遷入), oldest first.
    pub events: Vec<Event>,
}

impl Household {
    /// The head of household (戶長).
    pub fn head(&self) -> Option<&Person> {
        self.members.iter().find(|p| p.relationship == REL_HEAD)
    }
}

/// A generated population and the date of the registry extract it stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Population {
    seed: u64,
    extract_date: RocDate,
    households: Vec<Household>,
}

/// 稱謂 of the head of household.
const REL_HEAD: &str = "戶長";

impl Population {
    /// The registry extract date every generated population is "as of" (ROC 114-03-31): fixed
    /// so that ages, and therefore the whole output, depend on the seed only.
    pub const EXTRACT_DATE: (u16, u8, u8) = (114, 3, 31);

    /// Upper bound on `households` (≈ 15 M people): keeps household numbers, 7 digits per
    /// county letter, unique by construction.
    pub const MAX_HOUSEHOLDS: usize = 5_000_000;

    /// Generates `households` households (clamped to [`Self::MAX_HOUSEHOLDS`]) from `seed`;
    /// about 2.7 people per household. Linear in the output size: ID uniqueness is kept with
    /// a hash set, household numbers by per-county counters.
    pub fn generate(seed: u64, households: usize) -> Population {
        let households = households.min(Self::MAX_HOUSEHOLDS);
        let mut generator = Generator::new(seed, households);
        let list = (0..households).map(|_| generator.household()).collect();
        Population {
            seed,
            extract_date: generator.extract_date,
            households: list,
        }
    }

    /// The seed this population was generated from.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Date of the extract (all ages and events are on or before it).
    pub fn extract_date(&self) -> RocDate {
        self.extract_date
    }

    /// All households in generation order.
    pub fn households(&self) -> &[Household] {
        &self.households
    }

    /// Every person (current and removed) with their household.
    pub fn people(&self) -> impl Iterator<Item = (&Household, &Person)> {
        self.households
            .iter()
            .flat_map(|h| h.members.iter().map(move |p| (h, p)))
    }

    /// Number of people, current and removed.
    pub fn person_count(&self) -> usize {
        self.households.iter().map(|h| h.members.len()).sum()
    }
}

/// Approximate length of `n` years in days (365.24 days a year).
fn years(n: i32) -> i32 {
    n * 36_524 / 100
}

/// Maximum household size, removed members included.
const MAX_MEMBERS: usize = 6;

/// A member before IDs, sequence numbers and derived fields are assigned.
#[derive(Debug)]
struct Draft {
    relationship: &'static str,
    name: String,
    sex: Sex,
    birth: i32,
    father_name: String,
    mother_name: String,
    spouse_name: String,
    birthplace: &'static str,
    id_letter: char,
    birth_order: &'static str,
    indigenous: Option<Indigenous>,
    /// Born abroad, holds a resident ID (8/9) and no birth registration here.
    resident: bool,
    removal: Option<Removal>,
    events: Vec<Event>,
}

#[derive(Debug)]
struct Generator {
    rng: StdRng,
    extract_date: RocDate,
    today: i32,
    used_ids: HashSet<u64>,
    household_counters: [u32; 26],
    county_weight_total: u32,
    surname_weight_total: u32,
    tribe_weight_total: u32,
}

impl Generator {
    fn new(seed: u64, households: usize) -> Generator {
        let (y, m, d) = Population::EXTRACT_DATE;
        let extract_date = RocDate::new(y, m, d).expect("EXTRACT_DATE is a valid date");
        Generator {
            rng: StdRng::seed_from_u64(seed),
            extract_date,
            today: extract_date.to_days(),
            // About 2.7 people per household; sized once so the set never rehashes mid-run.
            used_ids: HashSet::with_capacity(households.saturating_mul(3)),
            household_counters: [0; 26],
            county_weight_total: tables::COUNTIES.iter().map(|c| c.weight).sum(),
            surname_weight_total: tables::SURNAMES.iter().map(|s| s.1).sum(),
            tribe_weight_total: tables::TRIBES.iter().map(|t| t.2).sum(),
        }
    }

    // ---- random helpers ---------------------------------------------------------------------

    /// Uniform in `lo..hi`, or `lo` when the range is empty.
    fn range(&mut self, lo: i32, hi: i32) -> i32 {
        if hi <= lo {
            lo
        } else {
            self.rng.random_range(lo..hi)
        }
    }

    fn chance(&mut self, p: f64) -> bool {
        self.rng.random_bool(p)
    }

    /// A day from `lo` spreading over up to `span` days, but not after `latest`: drawing inside
    /// the window (instead of clamping afterwards) keeps recent dates from piling up on `latest`.
    fn day_within(&mut self, lo: i32, span: i32, latest: i32) -> i32 {
        (lo + self.range(0, span.min(latest - lo))).min(latest)
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.rng.random_range(0..items.len())]
    }

    fn pick_str(&mut self, items: &[&'static str]) -> &'static str {
        items[self.rng.random_range(0..items.len())]
    }

    /// Index drawn with the given weights (`total` = their sum).
    fn weighted_index(&mut self, weights: impl Iterator<Item = u32>, total: u32) -> usize {
        let mut roll = self.rng.random_range(0..total);
        let mut last = 0;
        for (i, w) in weights.enumerate() {
            last = i;
            if roll < w {
                return i;
            }
            roll -= w;
        }
        last
    }

    fn date(&self, days: i32) -> RocDate {
        RocDate::from_days(days).expect("generated dates lie between ROC 14 and the extract date")
    }

    // ---- tables -----------------------------------------------------------------------------

    fn county(&mut self) -> &'static County {
        let i = self.weighted_index(
            tables::COUNTIES.iter().map(|c| c.weight),
            self.county_weight_total,
        );
        &tables::COUNTIES[i]
    }

    fn county_named(name: &str) -> Option<&'static County> {
        tables::COUNTIES.iter().find(|c| c.name == name)
    }

    fn surname(&mut self) -> &'static str {
        let i = self.weighted_index(
            tables::SURNAMES.iter().map(|s| s.1),
            self.surname_weight_total,
        );
        tables::SURNAMES[i].0
    }

    fn name(&mut self, surname: &str, sex: Sex) -> String {
        let pool = match sex {
            Sex::Male => tables::GIVEN_MALE,
            Sex::Female => tables::GIVEN_FEMALE,
        };
        let mut name = String::with_capacity(9);
        name.push_str(surname);
        name.push_str(self.pick_str(pool));
        if self.chance(0.9) {
            name.push_str(self.pick_str(pool));
        }
        name
    }

    /// A name different from every name in `taken` (siblings do not share names).
    fn fresh_name(&mut self, surname: &str, sex: Sex, taken: &[Draft]) -> String {
        loop {
            let name = self.name(surname, sex);
            if taken.iter().all(|d| d.name != name) {
                return name;
            }
        }
    }

    fn foreign_name(&mut self, sex: Sex) -> String {
        let surname = self.pick(tables::FOREIGN_SURNAMES);
        let (middle, pool) = match sex {
            Sex::Male => (tables::FOREIGN_MALE_MIDDLE, tables::GIVEN_MALE),
            Sex::Female => (tables::FOREIGN_FEMALE_MIDDLE, tables::GIVEN_FEMALE),
        };
        format!("{surname}{middle}{}", self.pick(pool))
    }

    fn tribe(&mut self) -> Indigenous {
        let i = self.weighted_index(tables::TRIBES.iter().map(|t| t.2), self.tribe_weight_total);
        let (tribe, region, _) = tables::TRIBES[i];
        let status = match region {
            Region::Plains => IndigenousStatus::Plains,
            Region::Mountain => IndigenousStatus::Mountain,
        };
        Indigenous { status, tribe }
    }

    fn birth_order(&mut self, sex: Sex) -> &'static str {
        let rank = self.weighted_index([50, 30, 14, 6].into_iter(), 100);
        match sex {
            Sex::Male => tables::SON_ORDER[rank],
            Sex::Female => tables::DAUGHTER_ORDER[rank],
        }
    }

    /// A fresh national ID. The set holds (letter, gender digit, serial) packed in a u64, so
    /// a collision costs one more draw and the whole run stays linear.
    fn national_id(&mut self, letter: char, sex: Sex, resident: bool) -> NationalId {
        let gender: u8 = match (sex, resident) {
            (Sex::Male, false) => 1,
            (Sex::Female, false) => 2,
            (Sex::Male, true) => 8,
            (Sex::Female, true) => 9,
        };
        loop {
            let serial = self.rng.random_range(0..10_000_000u32);
            let key = (u64::from(u32::from(letter)) << 40)
                | (u64::from(gender) << 32)
                | u64::from(serial);
            if self.used_ids.insert(key) {
                return NationalId::with_checksum(letter, gender, serial)
                    .expect("table letters, gender digits and 7-digit serials are in range");
            }
        }
    }

    /// County letter + 7 digits from a per-letter counter: unique by construction, with small
    /// random gaps so numbers look allocated rather than dense.
    fn household_number(&mut self, letter: char) -> String {
        let slot = (u32::from(letter) - u32::from('A')) as usize;
        let step = self.rng.random_range(1..=2u32);
        self.household_counters[slot] += step;
        format!("{letter}{:07}", self.household_counters[slot])
    }

    fn street(&mut self) -> String {
        let mut street = self.pick_str(tables::STREETS).to_owned();
        if self.chance(0.3) {
            street.push_str(self.pick_str(tables::SECTION_NUMERALS));
            street.push('段');
        }
        if self.chance(0.4) {
            street.push_str(&format!("{}巷", self.range(1, 300)));
            if self.chance(0.3) {
                street.push_str(&format!("{}弄", self.range(1, 30)));
            }
        }
        street.push_str(&format!("{}號", self.range(1, 350)));
        if self.chance(0.6) {
            street.push_str(&format!("{}樓", self.range(2, 16)));
        }
        street
    }

    fn military(&mut self, sex: Sex, birth: i32, resident: bool) -> MilitaryService {
        if sex == Sex::Female || resident {
            return MilitaryService::None;
        }
        let age_days = self.today - birth;
        if age_days < years(18) {
            return MilitaryService::None;
        }
        if age_days < years(21) {
            return if self.chance(0.9) {
                MilitaryService::Awaiting
            } else {
                MilitaryService::Exempt
            };
        }
        let born = self.date(birth).gregorian_year();
        let roll = self.range(0, 100);
        // Rough shape of the service system over time: 補充兵役 for those born 1994 and later,
        // 替代役 from 2000 on, long regular service before that.
        if born >= 1994 {
            match roll {
                0..45 => MilitaryService::Supplementary,
                45..70 => MilitaryService::Regular,
                70..85 => MilitaryService::Alternative,
                _ => MilitaryService::Exempt,
            }
        } else if born >= 1980 {
            match roll {
                0..60 => MilitaryService::Regular,
                60..78 => MilitaryService::Alternative,
                78..90 => MilitaryService::National,
                _ => MilitaryService::Exempt,
            }
        } else {
            match roll {
                0..75 => MilitaryService::Regular,
                75..90 => MilitaryService::National,
                90..99 => MilitaryService::Exempt,
                _ => MilitaryService::Barred,
            }
        }
    }

    // ---- members ----------------------------------------------------------------------------

    /// A domestic-born member, born in `home` most of the time.
    #[allow(clippy::too_many_arguments)]
    fn draft(
        &mut self,
        relationship: &'static str,
        name: String,
        sex: Sex,
        birth: i32,
        father_name: String,
        mother_name: String,
        home: &'static County,
    ) -> Draft {
        let born_in = if self.chance(0.75) {
            home
        } else {
            self.county()
        };
        Draft {
            relationship,
            name,
            sex,
            birth,
            father_name,
            mother_name,
            spouse_name: String::new(),
            birthplace: born_in.name,
            id_letter: born_in.letter,
            birth_order: "",
            indigenous: None,
            resident: false,
            removal: None,
            events: Vec::new(),
        }
    }

    /// Someone from another family (spouse, in-law, co-resident): own surname and parents.
    fn outsider(
        &mut self,
        relationship: &'static str,
        sex: Sex,
        birth: i32,
        home: &'static County,
    ) -> Draft {
        let surname = self.surname();
        let name = self.name(surname, sex);
        let father = self.name(surname, Sex::Male);
        let mother_surname = self.surname();
        let mother = self.name(mother_surname, Sex::Female);
        let mut draft = self.draft(relationship, name, sex, birth, father, mother, home);
        draft.birth_order = self.birth_order(sex);
        draft
    }

    /// A spouse born abroad with a resident ID; registered by moving in, not by birth.
    fn foreign_spouse(&mut self, sex: Sex, birth: i32, home: &'static County) -> Draft {
        let name = self.foreign_name(sex);
        let father = self.foreign_name(Sex::Male);
        let mother = self.foreign_name(Sex::Female);
        let mut draft = self.draft("配偶", name, sex, birth, father, mother, home);
        draft.birthplace = self.pick_str(tables::FOREIGN_BIRTHPLACES);
        draft.id_letter = home.letter;
        draft.resident = true;
        draft.birth_order = self.birth_order(sex);
        draft
    }

    /// Marries members `a` and `b` on `date`: spouse names and an event on both records.
    fn marry(&self, members: &mut [Draft], a: usize, b: usize, date: i32) {
        let on = self.date(date).to_chinese();
        let (name_a, name_b) = (members[a].name.clone(), members[b].name.clone());
        for (i, other) in [(a, name_b), (b, name_a)] {
            members[i].spouse_name.clone_from(&other);
            members[i].events.push(Event {
                date: self.date(date),
                kind: EventKind::Marriage,
                remark: format!("{on}與{other}結婚登記"),
            });
        }
    }

    /// Children of the given parents, born from `first` on, at least a year apart, while the
    /// mother is under 44; relationship and birth order by rank among them.
    #[allow(clippy::too_many_arguments)]
    fn children(
        &mut self,
        members: &mut Vec<Draft>,
        want: usize,
        first: i32,
        mother_birth: i32,
        father_name: &str,
        mother_name: &str,
        surname: &str,
        grandchildren: bool,
        indigenous: Option<Indigenous>,
        home: &'static County,
    ) -> Vec<usize> {
        let mut born = Vec::new();
        let mut t = first;
        let (mut sons, mut daughters) = (0, 0);
        while born.len() < want
            && members.len() < MAX_MEMBERS
            && t <= self.today - 40
            && t <= mother_birth + years(44)
        {
            let sex = if self.chance(0.51) {
                Sex::Male
            } else {
                Sex::Female
            };
            let name = self.fresh_name(surname, sex, members);
            let order = match sex {
                Sex::Male => {
                    sons += 1;
                    tables::SON_ORDER[sons - 1]
                }
                Sex::Female => {
                    daughters += 1;
                    tables::DAUGHTER_ORDER[daughters - 1]
                }
            };
            let relationship = match (grandchildren, sex) {
                (false, _) => order,
                (true, Sex::Male) => "孫子",
                (true, Sex::Female) => "孫女",
            };
            let mut child = self.draft(
                relationship,
                name,
                sex,
                t,
                father_name.to_owned(),
                mother_name.to_owned(),
                home,
            );
            child.birth_order = order;
            child.indigenous = indigenous;
            members.push(child);
            born.push(members.len() - 1);
            t += self.range(years(1) + 30, years(5));
        }
        born
    }

    /// A 共同生活戶: head, maybe spouse and children, maybe the head's parents, maybe a
    /// married son's wife and their children. Returns the members and the move-in day.
    fn family(&mut self, home: &'static County, tribe: Option<Indigenous>) -> (Vec<Draft>, i32) {
        let today = self.today;
        let head_sex = if self.chance(0.62) {
            Sex::Male
        } else {
            Sex::Female
        };
        let head_birth = today - self.range(years(24), years(82));
        let head_surname = self.surname();
        let head_name = self.name(head_surname, head_sex);
        let head_father = self.name(head_surname, Sex::Male);
        let head_mother_surname = self.surname();
        let head_mother = self.name(head_mother_surname, Sex::Female);
        let mut head = self.draft(
            REL_HEAD,
            head_name,
            head_sex,
            head_birth,
            head_father,
            head_mother,
            home,
        );
        head.birth_order = self.birth_order(head_sex);
        head.indigenous = tribe;
        let mut members = vec![head];

        // Spouse: the husband is usually the older one.
        let mut marriage = None;
        if self.chance(0.72) {
            let sex = head_sex.other();
            let gap = self.range(-years(2), years(7));
            let birth = if head_sex == Sex::Male {
                head_birth + gap
            } else {
                head_birth - gap
            };
            if today - birth >= years(21) {
                let mut spouse = if self.chance(0.02) {
                    self.foreign_spouse(sex, birth, home)
                } else {
                    self.outsider("配偶", sex, birth, home)
                };
                if tribe.is_some() && !spouse.resident && self.chance(0.5) {
                    spouse.indigenous = tribe;
                }
                let younger = head_birth.max(birth);
                let wed = self.day_within(younger + years(21), years(12), today - 60);
                let resident = spouse.resident;
                members.push(spouse);
                self.marry(&mut members, 0, 1, wed);
                if resident {
                    let arrived = (wed + self.range(30, 200)).min(today - 1);
                    let on = self.date(arrived);
                    let from = members[1].birthplace;
                    members[1].events.push(Event {
                        date: on,
                        kind: EventKind::MoveIn,
                        remark: format!("{}自{from}遷入", on.to_chinese()),
                    });
                }
                marriage = Some(wed);
            }
        }

        // Children: the surname and names come from whichever parents exist.
        let spouse = (members.len() > 1).then_some(1);
        let (father_name, mother_name, mother_birth, child_surname) = match (head_sex, spouse) {
            (Sex::Male, Some(s)) => (
                members[0].name.clone(),
                members[s].name.clone(),
                members[s].birth,
                head_surname,
            ),
            (Sex::Female, Some(s)) => {
                let surname = surname_of(&members[s].name, members[s].resident, head_surname);
                (
                    members[s].name.clone(),
                    members[0].name.clone(),
                    head_birth,
                    surname,
                )
            }
            (Sex::Male, None) => {
                let surname = self.surname();
                let mother = self.name(surname, Sex::Female);
                (
                    members[0].name.clone(),
                    mother,
                    head_birth + self.range(0, years(5)),
                    head_surname,
                )
            }
            (Sex::Female, None) => {
                let surname = self.surname();
                let father = self.name(surname, Sex::Male);
                (father, members[0].name.clone(), head_birth, surname)
            }
        };
        let want = self.weighted_index([18, 30, 37, 15].into_iter(), 100);
        let first = match marriage {
            Some(wed) => wed + self.range(200, years(3)),
            None => mother_birth + years(22) + self.range(0, years(10)),
        };
        let child_tribe = tribe.or(spouse.and_then(|s| members[s].indigenous));
        let kids = self.children(
            &mut members,
            want,
            first,
            mother_birth,
            &father_name,
            &mother_name,
            child_surname,
            false,
            child_tribe,
            home,
        );

        // The head's parents, for younger heads.
        if today - head_birth < years(58) && members.len() <= 4 && self.chance(0.22) {
            self.add_parents(&mut members, head_surname, head_mother_surname, tribe, home);
        }

        // A married son living at home with his wife and children.
        let eldest_son = kids
            .iter()
            .copied()
            .find(|&k| members[k].sex == Sex::Male && today - members[k].birth >= years(26));
        if let Some(son) = eldest_son
            && members.len() < MAX_MEMBERS
            && self.chance(0.35)
        {
            self.add_daughter_in_law(&mut members, son, child_surname, home);
        }

        // Grown children who moved out (遷出) stay on the record as removed members.
        for &k in &kids {
            let adult_since = members[k].birth + years(20);
            if members[k].spouse_name.is_empty() && adult_since < today - 60 && self.chance(0.08) {
                let left = self.range(adult_since, today - 30);
                let to = self.county();
                let to_district = self.pick(to.districts).name;
                let on = self.date(left);
                members[k].removal = Some(Removal::MovedOut);
                members[k].events.push(Event {
                    date: on,
                    kind: EventKind::MoveOut,
                    remark: format!("{}遷出至{}{}", on.to_chinese(), to.name, to_district),
                });
            }
        }

        let settled = match marriage {
            Some(wed) => wed,
            None => self.day_within(head_birth + years(20), years(10), today - 1),
        };
        let move_in = self.day_within(settled, years(3), today - 1);
        (members, move_in)
    }

    /// Adds the head's father and/or mother (父/母) with the names already on the head's record.
    fn add_parents(
        &mut self,
        members: &mut Vec<Draft>,
        head_surname: &'static str,
        mother_surname: &'static str,
        tribe: Option<Indigenous>,
        home: &'static County,
    ) {
        let today = self.today;
        let head_birth = members[0].birth;
        let father_birth = head_birth - self.range(years(24), years(36));
        let mother_birth =
            (father_birth + self.range(-years(2), years(6))).min(head_birth - years(20));
        if today - father_birth.min(mother_birth) > years(99) {
            return;
        }
        let both = self.chance(0.6);
        let with_father = both || self.chance(0.4);
        let with_mother = both || !with_father;
        let (father_name, mother_name) = (
            members[0].father_name.clone(),
            members[0].mother_name.clone(),
        );

        let mut added = Vec::new();
        for (include, relationship, sex, birth, name, surname) in [
            (
                with_father,
                "父",
                Sex::Male,
                father_birth,
                father_name.clone(),
                head_surname,
            ),
            (
                with_mother,
                "母",
                Sex::Female,
                mother_birth,
                mother_name.clone(),
                mother_surname,
            ),
        ] {
            if !include || members.len() >= MAX_MEMBERS {
                continue;
            }
            let their_father = self.name(surname, Sex::Male);
            let grandmother_surname = self.surname();
            let their_mother = self.name(grandmother_surname, Sex::Female);
            let mut parent = self.draft(
                relationship,
                name,
                sex,
                birth,
                their_father,
                their_mother,
                home,
            );
            parent.birth_order = self.birth_order(sex);
            parent.indigenous = tribe;
            parent.spouse_name = match sex {
                Sex::Male => mother_name.clone(),
                Sex::Female => father_name.clone(),
            };
            members.push(parent);
            added.push(members.len() - 1);
        }

        // They married before the head was born, both adults by then.
        let wed = (head_birth - self.range(200, years(4)))
            .max(father_birth.max(mother_birth) + years(18));
        for &i in &added {
            let other = members[i].spouse_name.clone();
            let on = self.date(wed);
            members[i].events.push(Event {
                date: on,
                kind: EventKind::Marriage,
                remark: format!("{}與{other}結婚登記", on.to_chinese()),
            });
            // Some of the elderly have died since; they stay on the record as removed.
            let aged_75 = members[i].birth + years(75);
            if aged_75 < today - 60 && self.chance(0.3) {
                let died = self.range(aged_75.max(today - years(10)), today - 30);
                let registered = died + self.range(3, 20);
                members[i].removal = Some(Removal::Death);
                let (died_on, reg_on) = (self.date(died), self.date(registered));
                members[i].events.push(Event {
                    date: reg_on,
                    kind: EventKind::Death,
                    remark: format!("{}死亡，{}登記", died_on.to_chinese(), reg_on.to_chinese()),
                });
            }
        }
    }

    /// Adds a son's wife (媳婦), who moves in on marriage, and maybe their children (孫子/孫女).
    fn add_daughter_in_law(
        &mut self,
        members: &mut Vec<Draft>,
        son: usize,
        surname: &'static str,
        home: &'static County,
    ) {
        let today = self.today;
        let son_birth = members[son].birth;
        let birth = (son_birth + self.range(-years(2), years(5))).min(today - years(21));
        let mut wife = self.outsider("媳婦", Sex::Female, birth, home);
        if members[son].indigenous.is_some() && self.chance(0.3) {
            wife.indigenous = members[son].indigenous;
        }
        let wed = self.day_within(son_birth.max(birth) + years(23), years(8), today - 60);
        members.push(wife);
        let w = members.len() - 1;
        self.marry(members, son, w, wed);
        let moved = (wed + self.range(1, 30)).min(today - 1);
        let on = self.date(moved);
        let from = self.county();
        let from_district = self.pick(from.districts).name;
        members[w].events.push(Event {
            date: on,
            kind: EventKind::MoveIn,
            remark: format!("{}自{}{}遷入", on.to_chinese(), from.name, from_district),
        });
        let want = self.range(0, 3) as usize;
        let first = wed + self.range(200, years(3));
        let (father, mother) = (members[son].name.clone(), members[w].name.clone());
        let tribe = members[son].indigenous.or(members[w].indigenous);
        self.children(
            members, want, first, birth, &father, &mother, surname, true, tribe, home,
        );
    }

    /// A 共同事業戶: a head and one to three unrelated co-residents (同居人).
    fn business(&mut self, home: &'static County) -> (Vec<Draft>, i32) {
        let today = self.today;
        let head_sex = if self.chance(0.6) {
            Sex::Male
        } else {
            Sex::Female
        };
        let head_birth = today - self.range(years(30), years(70));
        let mut members = vec![self.outsider(REL_HEAD, head_sex, head_birth, home)];
        for _ in 0..self.range(1, 4) {
            let sex = if self.chance(0.5) {
                Sex::Male
            } else {
                Sex::Female
            };
            let birth = today - self.range(years(20), years(65));
            members.push(self.outsider("同居人", sex, birth, home));
        }
        let move_in = self.day_within(head_birth + years(25), years(10), today - 1);
        (members, move_in)
    }

    /// A 單獨生活戶: one adult.
    fn single(&mut self, home: &'static County, tribe: Option<Indigenous>) -> (Vec<Draft>, i32) {
        let today = self.today;
        let sex = if self.chance(0.5) {
            Sex::Male
        } else {
            Sex::Female
        };
        let birth = today - self.range(years(20), years(90));
        let mut head = self.outsider(REL_HEAD, sex, birth, home);
        head.indigenous = tribe;
        let move_in = self.day_within(birth + years(18), years(30), today - 1);
        (vec![head], move_in)
    }

    // ---- households -------------------------------------------------------------------------

    fn household(&mut self) -> Household {
        let roll = self.range(0, 100);
        let kind = match roll {
            0..15 => HouseholdType::SingleLiving,
            15..16 => HouseholdType::CommonBusiness,
            _ => HouseholdType::CommonLiving,
        };
        let tribe =
            (kind != HouseholdType::CommonBusiness && self.chance(0.025)).then(|| self.tribe());
        // Indigenous households live mostly in the east and the mountains.
        let home = match tribe {
            Some(_) if self.chance(0.7) => {
                let name = self.pick(tables::INDIGENOUS_COUNTY_NAMES);
                Self::county_named(name).unwrap_or(&tables::COUNTIES[0])
            }
            _ => self.county(),
        };
        let district = self.pick(home.districts);
        let address = Address {
            county: home.name,
            district: district.name,
            village: self.pick_str(district.villages),
            neighbourhood: self.range(1, 31) as u16,
            street: self.street(),
        };
        let issuing_office = format!("{}{}戶政事務所", home.name, district.name);
        let number = self.household_number(home.letter);

        let (drafts, move_in) = match kind {
            HouseholdType::CommonLiving => self.family(home, tribe),
            HouseholdType::CommonBusiness => self.business(home),
            HouseholdType::SingleLiving => self.single(home, tribe),
        };

        let from = self.county();
        let from_district = self.pick(from.districts).name;
        let on = self.date(move_in);
        let events = vec![Event {
            date: on,
            kind: EventKind::MoveIn,
            remark: format!("{}自{}{}遷入", on.to_chinese(), from.name, from_district),
        }];

        let members = drafts
            .into_iter()
            .enumerate()
            .map(|(i, d)| self.finish(i, d))
            .collect();
        Household {
            number,
            kind,
            address,
            issuing_office,
            members,
            events,
        }
    }

    /// Assigns the sequence number, ID, military status and birth event.
    fn finish(&mut self, index: usize, draft: Draft) -> Person {
        let national_id = self.national_id(draft.id_letter, draft.sex, draft.resident);
        let military = self.military(draft.sex, draft.birth, draft.resident);
        let mut events = draft.events;
        if !draft.resident {
            let registered = (draft.birth + self.range(3, 31)).min(self.today - 1);
            let (born_on, reg_on) = (self.date(draft.birth), self.date(registered));
            events.push(Event {
                date: reg_on,
                kind: EventKind::Birth,
                remark: format!(
                    "{}在{}出生，{}登記",
                    born_on.to_chinese(),
                    draft.birthplace,
                    reg_on.to_chinese()
                ),
            });
        }
        events.sort_by_key(|e| e.date);
        Person {
            seq: (index + 1) as u8,
            relationship: draft.relationship,
            name: draft.name,
            national_id,
            sex: draft.sex,
            birth_date: self.date(draft.birth),
            father_name: draft.father_name,
            mother_name: draft.mother_name,
            spouse_name: draft.spouse_name,
            birthplace: draft.birthplace,
            birth_order: draft.birth_order,
            military,
            indigenous: draft.indigenous,
            removed: draft.removal,
            events,
        }
    }
}

/// The surname children take from a father: the first character of his name (a foreign-born
/// father's children take the mother's surname, `fallback`).
fn surname_of(name: &str, foreign: bool, fallback: &'static str) -> &'static str {
    if foreign {
        return fallback;
    }
    let first: String = name.chars().take(1).collect();
    tables::SURNAMES
        .iter()
        .map(|s| s.0)
        .find(|s| *s == first)
        .unwrap_or(fallback)
}

#[cfg(test)]
mod tests;
