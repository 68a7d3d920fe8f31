//! Reader for the household registry's fixed-width Big5 extract (see `FORMAT.md`).
//!
//! The reader never panics and never gives up on the whole file: every problem is an
//! [`ExtractError`] with its line and field, a household with any problem is quarantined as a
//! whole, and problems that cannot be pinned on one household mark the extract incomplete so
//! that a miss is not reported as "not found".

use std::collections::{HashMap, HashSet};
use std::fmt;

use tongdao_core::ids::{IdError, NationalId};

use crate::service::LookupError;

/// Every record is exactly this many bytes before its CRLF (the LRECL).
pub const RECORD_LEN: usize = 200;

/// A field of the layout: its name in FORMAT.md, byte offset and byte width.
#[derive(Debug, Clone, Copy)]
struct Field {
    name: &'static str,
    offset: usize,
    width: usize,
}

const fn field(name: &'static str, offset: usize, width: usize) -> Field {
    Field {
        name,
        offset,
        width,
    }
}

/// Record layouts, in FORMAT.md order; `*_FILLER` is where the filler starts.
mod layout {
    use super::{Field, field};

    pub(super) const RECORD_TYPE: Field = field("record type", 0, 1);
    pub(super) const HOUSEHOLD_NUMBER: Field = field("household number", 1, 8);

    pub(super) const H_TYPE: Field = field("household type", 9, 1);
    pub(super) const H_COUNTY: Field = field("county", 10, 10);
    pub(super) const H_DISTRICT: Field = field("district", 20, 10);
    pub(super) const H_VILLAGE: Field = field("village", 30, 12);
    pub(super) const H_NEIGHBOURHOOD: Field = field("neighbourhood", 42, 3);
    pub(super) const H_STREET: Field = field("street", 45, 60);
    pub(super) const H_HEAD: Field = field("head name", 105, 16);
    pub(super) const H_OFFICE: Field = field("issuing office", 121, 30);
    pub(super) const H_DATE: Field = field("extract date", 151, 7);
    pub(super) const H_MEMBERS: Field = field("member count", 158, 2);
    pub(super) const H_EVENTS: Field = field("event count", 160, 3);
    pub(super) const H_FILLER: usize = 163;

    pub(super) const M_SEQ: Field = field("member seq", 9, 2);
    pub(super) const M_RELATIONSHIP: Field = field("relationship", 11, 10);
    pub(super) const M_NAME: Field = field("name", 21, 16);
    pub(super) const M_ID: Field = field("national ID", 37, 10);
    pub(super) const M_SEX: Field = field("sex", 47, 1);
    pub(super) const M_BIRTH: Field = field("birth date", 48, 7);
    pub(super) const M_FATHER: Field = field("father name", 55, 16);
    pub(super) const M_MOTHER: Field = field("mother name", 71, 16);
    pub(super) const M_SPOUSE: Field = field("spouse name", 87, 16);
    pub(super) const M_BIRTHPLACE: Field = field("birthplace", 103, 10);
    pub(super) const M_ORDER: Field = field("birth order", 113, 6);
    pub(super) const M_MILITARY: Field = field("military service", 119, 2);
    pub(super) const M_INDIGENOUS: Field = field("indigenous flag", 121, 1);
    pub(super) const M_TRIBE: Field = field("tribe", 122, 12);
    pub(super) const M_REMOVED: Field = field("removed flag", 134, 1);
    pub(super) const M_FILLER: usize = 135;

    pub(super) const E_SEQ: Field = field("member seq", 9, 2);
    pub(super) const E_DATE: Field = field("event date", 11, 7);
    pub(super) const E_CODE: Field = field("event code", 18, 2);
    pub(super) const E_REMARK: Field = field("remark", 20, 100);
    pub(super) const E_FILLER: usize = 120;

    pub(super) const T_HOUSEHOLDS: Field = field("household records", 1, 9);
    pub(super) const T_MEMBERS: Field = field("member records", 10, 9);
    pub(super) const T_EVENTS: Field = field("event records", 19, 9);
    pub(super) const T_TOTAL: Field = field("total records", 28, 9);
    pub(super) const T_DATE: Field = field("extract date", 37, 7);
    pub(super) const T_FILLER: usize = 44;

    /// Each layout as (fields in order, filler start), for the contiguity test.
    #[cfg(test)]
    pub(super) fn all() -> [(&'static [Field], usize); 4] {
        const H: &[Field] = &[
            RECORD_TYPE,
            HOUSEHOLD_NUMBER,
            H_TYPE,
            H_COUNTY,
            H_DISTRICT,
            H_VILLAGE,
            H_NEIGHBOURHOOD,
            H_STREET,
            H_HEAD,
            H_OFFICE,
            H_DATE,
            H_MEMBERS,
            H_EVENTS,
        ];
        const M: &[Field] = &[
            RECORD_TYPE,
            HOUSEHOLD_NUMBER,
            M_SEQ,
            M_RELATIONSHIP,
            M_NAME,
            M_ID,
            M_SEX,
            M_BIRTH,
            M_FATHER,
            M_MOTHER,
            M_SPOUSE,
            M_BIRTHPLACE,
            M_ORDER,
            M_MILITARY,
            M_INDIGENOUS,
            M_TRIBE,
            M_REMOVED,
        ];
        const E: &[Field] = &[
            RECORD_TYPE,
            HOUSEHOLD_NUMBER,
            E_SEQ,
            E_DATE,
            E_CODE,
            E_REMARK,
        ];
        const T: &[Field] = &[
            RECORD_TYPE,
            T_HOUSEHOLDS,
            T_MEMBERS,
            T_EVENTS,
            T_TOTAL,
            T_DATE,
        ];
        [(H, H_FILLER), (M, M_FILLER), (E, E_FILLER), (T, T_FILLER)]
    }
}

/// One problem in the extract: always a line number (1-based) and, where it applies, the
/// field name from FORMAT.md. Messages never include field contents, which are personal data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExtractError {
    /// The record is not [`RECORD_LEN`] bytes long.
    #[error("line {line}: record is {found} bytes, expected {expected}")]
    LineLength {
        /// Line number.
        line: usize,
        /// Required length.
        expected: usize,
        /// Actual length.
        found: usize,
    },
    /// The record is not terminated by CR LF (a bare LF, or no terminator at end of file).
    #[error("line {line}: record is not terminated by CR LF")]
    BadLineEnding {
        /// Line number.
        line: usize,
    },
    /// The first byte is not `H`, `M`, `E` or `T`.
    #[error("line {line}: unknown record type")]
    UnknownRecordType {
        /// Line number.
        line: usize,
    },
    /// The household number is not 8 characters `[0-9A-Z]`.
    #[error("line {line}, field household number: not 8 characters 0-9/A-Z")]
    BadHouseholdNumber {
        /// Line number.
        line: usize,
    },
    /// A double-byte Big5 character is cut in half by the end of the field.
    #[error("line {line}, field {field}: a double-byte character is cut by the field boundary")]
    SplitCharacter {
        /// Line number.
        line: usize,
        /// Field name.
        field: &'static str,
    },
    /// The field is not valid Big5 text (or holds a control character).
    #[error("line {line}, field {field}: invalid Big5 text")]
    InvalidBig5 {
        /// Line number.
        line: usize,
        /// Field name.
        field: &'static str,
    },
    /// The field is not a 7-digit ROC date of a real calendar day.
    #[error("line {line}, field {field}: not a valid ROC date YYYMMDD")]
    BadDate {
        /// Line number.
        line: usize,
        /// Field name.
        field: &'static str,
    },
    /// A numeric field holds something other than ASCII digits.
    #[error("line {line}, field {field}: not numeric")]
    NotNumeric {
        /// Line number.
        line: usize,
        /// Field name.
        field: &'static str,
    },
    /// A code field holds a value that is not in its code table.
    #[error("line {line}, field {field}: code not in the code table")]
    UnknownCode {
        /// Line number.
        line: usize,
        /// Field name.
        field: &'static str,
    },
    /// The national ID does not parse (shape or checksum).
    #[error("line {line}, field {field}: {source}")]
    InvalidNationalId {
        /// Line number.
        line: usize,
        /// Field name.
        field: &'static str,
        /// Why the ID was refused (never echoes it).
        source: IdError,
    },
    /// A required text field is blank.
    #[error("line {line}, field {field}: required but blank")]
    Blank {
        /// Line number.
        line: usize,
        /// Field name.
        field: &'static str,
    },
    /// A field is well-formed on its own but not allowed here (range, or disagreement with
    /// another field).
    #[error("line {line}, field {field}: {reason}")]
    InvalidValue {
        /// Line number.
        line: usize,
        /// Field name.
        field: &'static str,
        /// What is wrong, without the value.
        reason: &'static str,
    },
    /// The filler after the last field is not all spaces (a field overflowed, or corruption).
    #[error("line {line}: filler is not blank")]
    FillerNotBlank {
        /// Line number.
        line: usize,
    },
    /// An `M` or `E` record for a household number with no preceding `H` record.
    #[error("line {line}: record for a household with no preceding H record")]
    UnknownHousehold {
        /// Line number.
        line: usize,
    },
    /// A second `H` record for the same household number.
    #[error("line {line}: second H record for the same household")]
    DuplicateHousehold {
        /// Line number.
        line: usize,
    },
    /// A second `M` record with the same member seq in one household.
    #[error("line {line}, field member seq: already used in this household")]
    DuplicateMember {
        /// Line number.
        line: usize,
    },
    /// An `E` record for a member seq the household does not have.
    #[error("line {line}, field member seq: no such member in this household")]
    UnknownMember {
        /// Line number.
        line: usize,
    },
    /// The national ID is a current member of another household too.
    #[error("line {line}, field national ID: also a current member of another household")]
    DuplicateNationalId {
        /// Line number.
        line: usize,
    },
    /// A household's member or event count disagrees with its records.
    #[error("line {line}, field {field}: H record declares {declared}, the extract has {found}")]
    HouseholdCountMismatch {
        /// Line of the `H` record.
        line: usize,
        /// `member count` or `event count`.
        field: &'static str,
        /// Count in the `H` record.
        declared: u64,
        /// Records found.
        found: u64,
    },
    /// A trailer control total (or its extract date) disagrees with the file.
    #[error("line {line}, field {field}: trailer declares {declared}, the extract has {found}")]
    TrailerMismatch {
        /// Line of the trailer.
        line: usize,
        /// Trailer field name.
        field: &'static str,
        /// Value in the trailer.
        declared: u64,
        /// Value found.
        found: u64,
    },
    /// The file has no `T` record (truncated).
    #[error("line {line}: no trailer record (file truncated?)")]
    MissingTrailer {
        /// One past the last line.
        line: usize,
    },
    /// A record after the trailer.
    #[error("line {line}: record after the trailer")]
    AfterTrailer {
        /// Line number.
        line: usize,
    },
}

impl ExtractError {
    /// The line the error is about.
    pub fn line(&self) -> usize {
        use ExtractError::*;
        match self {
            LineLength { line, .. }
            | BadLineEnding { line }
            | UnknownRecordType { line }
            | BadHouseholdNumber { line }
            | SplitCharacter { line, .. }
            | InvalidBig5 { line, .. }
            | BadDate { line, .. }
            | NotNumeric { line, .. }
            | UnknownCode { line, .. }
            | InvalidNationalId { line, .. }
            | Blank { line, .. }
            | InvalidValue { line, .. }
            | FillerNotBlank { line }
            | UnknownHousehold { line }
            | DuplicateHousehold { line }
            | DuplicateMember { line }
            | UnknownMember { line }
            | DuplicateNationalId { line }
            | HouseholdCountMismatch { line, .. }
            | TrailerMismatch { line, .. }
            | MissingTrailer { line }
            | AfterTrailer { line } => *line,
        }
    }
}

// ---- the parsed model ------------------------------------------------------------------------

/// A ROC calendar date as registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RocDate {
    /// ROC year (Gregorian − 1911), 1–999.
    pub year: u16,
    /// Month, 1–12.
    pub month: u8,
    /// Day, valid for the month.
    pub day: u8,
}

impl RocDate {
    /// The date if it exists (leap years follow the Gregorian year).
    pub fn new(year: u16, month: u8, day: u8) -> Option<RocDate> {
        let gregorian = u32::from(year) + 1911;
        let leap = gregorian % 4 == 0 && (gregorian % 100 != 0 || gregorian % 400 == 0);
        let days_in_month = match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => return None,
        };
        ((1..=999).contains(&year) && (1..=days_in_month).contains(&day)).then_some(RocDate {
            year,
            month,
            day,
        })
    }

    /// Gregorian year.
    pub fn gregorian_year(self) -> u32 {
        u32::from(self.year) + 1911
    }

    /// `YYYMMDD` as a number, for control-total comparisons.
    fn as_number(self) -> u64 {
        u64::from(self.year) * 10_000 + u64::from(self.month) * 100 + u64::from(self.day)
    }
}

impl fmt::Display for RocDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:03}{:02}{:02}", self.year, self.month, self.day)
    }
}

/// Household type (戶別).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HouseholdType {
    /// 共同生活戶 (code 1).
    CommonLiving,
    /// 共同事業戶 (code 2).
    CommonBusiness,
    /// 單獨生活戶 (code 3).
    SingleLiving,
}

impl HouseholdType {
    /// The registered label.
    pub fn label(self) -> &'static str {
        match self {
            HouseholdType::CommonLiving => "共同生活戶",
            HouseholdType::CommonBusiness => "共同事業戶",
            HouseholdType::SingleLiving => "單獨生活戶",
        }
    }
}

/// Sex as registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sex {
    /// 男 (code 1).
    Male,
    /// 女 (code 2).
    Female,
}

impl Sex {
    /// 男 or 女.
    pub fn label(self) -> &'static str {
        match self {
            Sex::Male => "男",
            Sex::Female => "女",
        }
    }
}

/// Military service status (役別).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MilitaryService {
    /// Code 00: none; printed blank.
    None,
    /// 常備役 (01).
    Regular,
    /// 替代役 (02).
    Alternative,
    /// 補充兵役 (03).
    Supplementary,
    /// 國民兵役 (04).
    National,
    /// 免役 (05).
    Exempt,
    /// 禁役 (06).
    Barred,
    /// 待役 (07).
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
    /// 平地原住民 (flag 1).
    Plains,
    /// 山地原住民 (flag 2).
    Mountain,
}

impl IndigenousStatus {
    /// The registered label.
    pub fn label(self) -> &'static str {
        match self {
            IndigenousStatus::Plains => "平地原住民",
            IndigenousStatus::Mountain => "山地原住民",
        }
    }
}

/// Why a member was removed (除戶).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Removal {
    /// Died (flag 1).
    Death,
    /// Moved out (flag 2).
    MovedOut,
}

/// Kind of a registration event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// 出生登記 (01).
    Birth,
    /// 結婚登記 (02).
    Marriage,
    /// 離婚登記 (03).
    Divorce,
    /// 收養登記 (04).
    Adoption,
    /// 更名登記 (05).
    NameChange,
    /// 死亡登記 (06).
    Death,
    /// 遷入登記 (07).
    MoveIn,
    /// 遷出登記 (08).
    MoveOut,
    /// 分戶登記 (09).
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

/// A registration event (記事).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Line of the `E` record.
    pub line: usize,
    /// Registration date.
    pub date: RocDate,
    /// What was registered.
    pub kind: EventKind,
    /// Remark as printed.
    pub remark: String,
}

/// A household member as registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Line of the `M` record.
    pub line: usize,
    /// Member seq, 1–99.
    pub seq: u8,
    /// Relationship to the head (稱謂).
    pub relationship: String,
    /// Name.
    pub name: String,
    /// National ID.
    pub national_id: NationalId,
    /// Sex (agrees with the ID's gender digit).
    pub sex: Sex,
    /// Birth date.
    pub birth_date: RocDate,
    /// Father's name; may be empty.
    pub father_name: String,
    /// Mother's name; may be empty.
    pub mother_name: String,
    /// Spouse's name; empty if unmarried.
    pub spouse_name: String,
    /// Birthplace.
    pub birthplace: String,
    /// Birth order (出生別).
    pub birth_order: String,
    /// Military service status.
    pub military: MilitaryService,
    /// Indigenous status, if any.
    pub indigenous: Option<IndigenousStatus>,
    /// Tribe; empty iff `indigenous` is `None`.
    pub tribe: String,
    /// Set if the member was removed (除戶).
    pub removed: Option<Removal>,
    /// The member's events in file order.
    pub events: Vec<Event>,
}

/// A household that loaded without any error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Household {
    /// Line of the `H` record.
    pub line: usize,
    /// Household number (戶號).
    pub number: String,
    /// Household type.
    pub kind: HouseholdType,
    /// County or city.
    pub county: String,
    /// District or township.
    pub district: String,
    /// Village.
    pub village: String,
    /// Neighbourhood (鄰) number.
    pub neighbourhood: u16,
    /// Street, lane, number, floor.
    pub street: String,
    /// Head of household's name.
    pub head_name: String,
    /// Issuing household registration office.
    pub issuing_office: String,
    /// Date of the extract.
    pub extract_date: RocDate,
    /// Members in file order, removed ones included.
    pub members: Vec<Member>,
    /// Household events (member seq 00) in file order.
    pub events: Vec<Event>,
}

/// What a load found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadSummary {
    /// Households loaded without error.
    pub households: usize,
    /// Members of those households.
    pub members: usize,
    /// Households quarantined as malformed.
    pub quarantined_households: usize,
    /// Distinct lines with at least one error.
    pub malformed_lines: usize,
    /// Every error, in the order found.
    pub errors: Vec<ExtractError>,
    /// False if some error could not be pinned on a household: a miss then cannot be reported
    /// as "not found".
    pub complete: bool,
}

/// The loaded extract with its indexes.
#[derive(Debug)]
pub struct Registry {
    entries: Vec<Entry>,
    by_number: HashMap<String, usize>,
    /// National ID → household where the person is a current member.
    current: HashMap<NationalId, usize>,
    /// National ID → household where the person is a removed member (last one wins).
    removed: HashMap<NationalId, usize>,
    summary: LoadSummary,
}

// Nearly every entry is `Loaded`, so boxing it would add an allocation per household and
// save nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
enum Entry {
    Loaded(Household),
    /// Quarantined: `line` is the first line with an error.
    Malformed {
        line: usize,
    },
}

impl Registry {
    /// Parses an extract. Never fails and never panics: problems end up in
    /// [`Registry::summary`], affected households are quarantined.
    pub fn parse(bytes: &[u8]) -> Registry {
        let mut parser = Parser::default();
        parser.run(bytes);
        parser.finish()
    }

    /// What the load found.
    pub fn summary(&self) -> &LoadSummary {
        &self.summary
    }

    /// The household `subject` is a member of: where they are current, else where they were
    /// removed.
    pub fn household_of(&self, subject: &NationalId) -> Result<&Household, LookupError> {
        let index = self
            .current
            .get(subject)
            .or_else(|| self.removed.get(subject))
            .copied();
        self.resolve(index)
    }

    /// The household in which `subject` is a current member.
    pub fn current_household_of(&self, subject: &NationalId) -> Result<&Household, LookupError> {
        self.resolve(self.current.get(subject).copied())
    }

    /// A household by its number.
    pub fn household(&self, number: &str) -> Result<&Household, LookupError> {
        self.resolve(self.by_number.get(number).copied())
    }

    /// Households that loaded without error, in file order.
    pub fn households(&self) -> impl Iterator<Item = &Household> {
        self.entries.iter().filter_map(|e| match e {
            Entry::Loaded(h) => Some(h),
            Entry::Malformed { .. } => None,
        })
    }

    fn resolve(&self, index: Option<usize>) -> Result<&Household, LookupError> {
        match index.and_then(|i| self.entries.get(i)) {
            Some(Entry::Loaded(h)) => Ok(h),
            Some(Entry::Malformed { line }) => Err(LookupError::SourceMalformed { line: *line }),
            None if self.summary.complete => Err(LookupError::NotFound),
            None => Err(LookupError::SourceIncomplete),
        }
    }
}

// ---- parsing ---------------------------------------------------------------------------------

/// A record of exactly [`RECORD_LEN`] bytes and its line number.
#[derive(Debug, Clone, Copy)]
struct Line<'a> {
    no: usize,
    bytes: &'a [u8],
}

impl<'a> Line<'a> {
    /// The field's bytes; empty if the record is shorter (cannot happen for records that passed
    /// the length check, but slicing stays total).
    fn raw(&self, f: Field) -> &'a [u8] {
        self.bytes.get(f.offset..f.offset + f.width).unwrap_or(&[])
    }

    /// Big5 text with the trailing space padding removed.
    fn text(&self, f: Field) -> Result<String, ExtractError> {
        let raw = self.raw(f);
        let (line, field) = (self.no, f.name);
        // Walk the bytes first: a lead byte in the last position means the character was cut
        // by the field boundary, which the decoder alone would report as plain invalid input.
        let mut i = 0;
        while let Some(&b) = raw.get(i) {
            match b {
                0x20..=0x7E => i += 1,
                0x81..=0xFE if i + 1 < raw.len() => i += 2,
                0x81..=0xFE => return Err(ExtractError::SplitCharacter { line, field }),
                _ => return Err(ExtractError::InvalidBig5 { line, field }),
            }
        }
        if raw.is_ascii() {
            // Fast path for IDs, digits and padding; the walk above excluded control bytes.
            let text =
                std::str::from_utf8(raw).map_err(|_| ExtractError::InvalidBig5 { line, field })?;
            return Ok(text.trim_end_matches(' ').to_owned());
        }
        let decoded = encoding_rs::BIG5
            .decode_without_bom_handling_and_without_replacement(raw)
            .ok_or(ExtractError::InvalidBig5 { line, field })?;
        if decoded.chars().any(char::is_control) {
            return Err(ExtractError::InvalidBig5 { line, field });
        }
        Ok(decoded.trim_end_matches(' ').to_owned())
    }

    /// Text that must not be blank.
    fn required_text(&self, f: Field) -> Result<String, ExtractError> {
        let text = self.text(f)?;
        if text.is_empty() {
            return Err(ExtractError::Blank {
                line: self.no,
                field: f.name,
            });
        }
        Ok(text)
    }

    /// An unsigned zero-padded number (widths up to 9 digits fit a u32).
    fn number(&self, f: Field) -> Result<u32, ExtractError> {
        let raw = self.raw(f);
        if raw.is_empty() || !raw.iter().all(u8::is_ascii_digit) {
            return Err(ExtractError::NotNumeric {
                line: self.no,
                field: f.name,
            });
        }
        Ok(raw.iter().fold(0u32, |n, d| {
            n.saturating_mul(10).saturating_add(u32::from(d - b'0'))
        }))
    }

    fn date(&self, f: Field) -> Result<RocDate, ExtractError> {
        let raw = self.raw(f);
        let bad = ExtractError::BadDate {
            line: self.no,
            field: f.name,
        };
        if raw.len() != 7 || !raw.iter().all(u8::is_ascii_digit) {
            return Err(bad);
        }
        let n = |r: &[u8]| r.iter().fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));
        let (year, month, day) = (n(&raw[0..3]), n(&raw[3..5]), n(&raw[5..7]));
        RocDate::new(year, month as u8, day as u8).ok_or(bad)
    }

    /// The raw code bytes, looked up by the caller; `UnknownCode` if absent from the table.
    fn code<T>(&self, f: Field, table: impl Fn(&[u8]) -> Option<T>) -> Result<T, ExtractError> {
        table(self.raw(f)).ok_or(ExtractError::UnknownCode {
            line: self.no,
            field: f.name,
        })
    }

    fn household_number(&self) -> Result<String, ExtractError> {
        household_key(self.bytes)
            .map(str::to_owned)
            .ok_or(ExtractError::BadHouseholdNumber { line: self.no })
    }

    fn filler(&self, from: usize) -> Result<(), ExtractError> {
        let rest = self.bytes.get(from..).unwrap_or(&[]);
        if rest.iter().all(|b| *b == b' ') {
            Ok(())
        } else {
            Err(ExtractError::FillerNotBlank { line: self.no })
        }
    }
}

/// Logs the load and counts malformed lines. Errors carry line and field only, so they are
/// safe to log; only the first few are logged one by one to keep a garbage file from flooding
/// the log.
fn report(summary: &LoadSummary) {
    const LOGGED_ERRORS: usize = 20;
    metrics::counter!("tongdao_adapter_source_malformed_total", "adapter" => "household")
        .increment(summary.malformed_lines as u64);
    for error in summary.errors.iter().take(LOGGED_ERRORS) {
        tracing::warn!(%error, "household extract: malformed record");
    }
    tracing::info!(
        households = summary.households,
        members = summary.members,
        quarantined = summary.quarantined_households,
        malformed_lines = summary.malformed_lines,
        errors = summary.errors.len(),
        complete = summary.complete,
        "household extract loaded"
    );
}

/// The household number of any record that has one readable at bytes 1–8.
fn household_key(bytes: &[u8]) -> Option<&str> {
    let raw = bytes.get(layout::HOUSEHOLD_NUMBER.offset..layout::HOUSEHOLD_NUMBER.offset + 8)?;
    if !raw
        .iter()
        .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
    {
        return None;
    }
    std::str::from_utf8(raw).ok()
}

/// The national ID and removed flag of a line that looks like a member record, even if other
/// fields are broken, so that a quarantined member still answers "malformed".
fn salvage_member(bytes: &[u8]) -> Option<(NationalId, bool)> {
    let id = bytes.get(layout::M_ID.offset..layout::M_ID.offset + layout::M_ID.width)?;
    let id: NationalId = std::str::from_utf8(id).ok()?.parse().ok()?;
    let removed = matches!(bytes.get(layout::M_REMOVED.offset), Some(b'1' | b'2'));
    Some((id, removed))
}

fn household_type(code: &[u8]) -> Option<HouseholdType> {
    Some(match code {
        b"1" => HouseholdType::CommonLiving,
        b"2" => HouseholdType::CommonBusiness,
        b"3" => HouseholdType::SingleLiving,
        _ => return None,
    })
}

fn sex(code: &[u8]) -> Option<Sex> {
    Some(match code {
        b"1" => Sex::Male,
        b"2" => Sex::Female,
        _ => return None,
    })
}

fn military(code: &[u8]) -> Option<MilitaryService> {
    Some(match code {
        b"00" => MilitaryService::None,
        b"01" => MilitaryService::Regular,
        b"02" => MilitaryService::Alternative,
        b"03" => MilitaryService::Supplementary,
        b"04" => MilitaryService::National,
        b"05" => MilitaryService::Exempt,
        b"06" => MilitaryService::Barred,
        b"07" => MilitaryService::Awaiting,
        _ => return None,
    })
}

fn indigenous(code: &[u8]) -> Option<Option<IndigenousStatus>> {
    Some(match code {
        b"0" => None,
        b"1" => Some(IndigenousStatus::Plains),
        b"2" => Some(IndigenousStatus::Mountain),
        _ => return None,
    })
}

fn removed(code: &[u8]) -> Option<Option<Removal>> {
    Some(match code {
        b"0" => None,
        b"1" => Some(Removal::Death),
        b"2" => Some(Removal::MovedOut),
        _ => return None,
    })
}

fn event_kind(code: &[u8]) -> Option<EventKind> {
    Some(match code {
        b"01" => EventKind::Birth,
        b"02" => EventKind::Marriage,
        b"03" => EventKind::Divorce,
        b"04" => EventKind::Adoption,
        b"05" => EventKind::NameChange,
        b"06" => EventKind::Death,
        b"07" => EventKind::MoveIn,
        b"08" => EventKind::MoveOut,
        b"09" => EventKind::HouseholdSplit,
        _ => return None,
    })
}

/// An `H` record's content.
#[derive(Debug)]
struct Header {
    household: Household,
    declared_members: u32,
    declared_events: u32,
}

fn parse_header(line: &Line<'_>, number: String) -> Result<Header, ExtractError> {
    use layout::*;
    let kind = line.code(H_TYPE, household_type)?;
    let county = line.required_text(H_COUNTY)?;
    let district = line.required_text(H_DISTRICT)?;
    let village = line.text(H_VILLAGE)?;
    let neighbourhood = line.number(H_NEIGHBOURHOOD)?;
    let street = line.required_text(H_STREET)?;
    let head_name = line.required_text(H_HEAD)?;
    let issuing_office = line.required_text(H_OFFICE)?;
    let extract_date = line.date(H_DATE)?;
    let declared_members = line.number(H_MEMBERS)?;
    let declared_events = line.number(H_EVENTS)?;
    line.filler(H_FILLER)?;
    if neighbourhood == 0 {
        return Err(ExtractError::InvalidValue {
            line: line.no,
            field: H_NEIGHBOURHOOD.name,
            reason: "must be 001-999",
        });
    }
    Ok(Header {
        household: Household {
            line: line.no,
            number,
            kind,
            county,
            district,
            village,
            neighbourhood: neighbourhood as u16,
            street,
            head_name,
            issuing_office,
            extract_date,
            members: Vec::new(),
            events: Vec::new(),
        },
        declared_members,
        declared_events,
    })
}

fn parse_member(line: &Line<'_>) -> Result<Member, ExtractError> {
    use layout::*;
    let no = line.no;
    let seq = line.number(M_SEQ)?;
    if seq == 0 {
        return Err(ExtractError::InvalidValue {
            line: no,
            field: M_SEQ.name,
            reason: "must be 01-99",
        });
    }
    let relationship = line.required_text(M_RELATIONSHIP)?;
    let name = line.required_text(M_NAME)?;
    // Bytes read one-to-one as characters (Latin-1): the ID parser then names the exact
    // position of a non-ASCII byte, where UTF-8 decoding would fail as a whole.
    let id_text: String = line.raw(M_ID).iter().map(|&b| char::from(b)).collect();
    let national_id: NationalId =
        id_text
            .parse()
            .map_err(|source| ExtractError::InvalidNationalId {
                line: no,
                field: M_ID.name,
                source,
            })?;
    let sex = line.code(M_SEX, sex)?;
    if national_id.is_male() != (sex == Sex::Male) {
        return Err(ExtractError::InvalidValue {
            line: no,
            field: M_SEX.name,
            reason: "disagrees with the national ID's gender digit",
        });
    }
    let birth_date = line.date(M_BIRTH)?;
    let father_name = line.text(M_FATHER)?;
    let mother_name = line.text(M_MOTHER)?;
    let spouse_name = line.text(M_SPOUSE)?;
    let birthplace = line.text(M_BIRTHPLACE)?;
    let birth_order = line.text(M_ORDER)?;
    let military = line.code(M_MILITARY, military)?;
    let indigenous = line.code(M_INDIGENOUS, indigenous)?;
    let tribe = line.text(M_TRIBE)?;
    if indigenous.is_some() == tribe.is_empty() {
        return Err(ExtractError::InvalidValue {
            line: no,
            field: M_TRIBE.name,
            reason: "must be given exactly when the indigenous flag is set",
        });
    }
    let removed = line.code(M_REMOVED, removed)?;
    line.filler(M_FILLER)?;
    Ok(Member {
        line: no,
        seq: seq as u8,
        relationship,
        name,
        national_id,
        sex,
        birth_date,
        father_name,
        mother_name,
        spouse_name,
        birthplace,
        birth_order,
        military,
        indigenous,
        tribe,
        removed,
        events: Vec::new(),
    })
}

fn parse_event(line: &Line<'_>) -> Result<(u8, Event), ExtractError> {
    use layout::*;
    let seq = line.number(E_SEQ)?;
    let date = line.date(E_DATE)?;
    let kind = line.code(E_CODE, event_kind)?;
    let remark = line.text(E_REMARK)?;
    line.filler(E_FILLER)?;
    Ok((
        seq as u8,
        Event {
            line: line.no,
            date,
            kind,
            remark,
        },
    ))
}

/// Trailer control totals.
#[derive(Debug)]
struct Trailer {
    line: usize,
    households: u32,
    members: u32,
    events: u32,
    total: u32,
    extract_date: RocDate,
}

fn parse_trailer(line: &Line<'_>) -> Result<Trailer, ExtractError> {
    use layout::*;
    Ok(Trailer {
        line: line.no,
        households: line.number(T_HOUSEHOLDS)?,
        members: line.number(T_MEMBERS)?,
        events: line.number(T_EVENTS)?,
        total: line.number(T_TOTAL)?,
        extract_date: line.date(T_DATE)?,
    })
}

/// A household number seen in the file and everything attributed to it.
#[derive(Debug)]
struct Slot {
    h_line: usize,
    header: Option<Header>,
    members: Vec<Member>,
    /// Events with their member seq, attached to members at the end.
    events: Vec<(u8, Event)>,
    /// IDs read from member lines that failed to parse.
    salvaged: Vec<(NationalId, bool)>,
    member_lines: u64,
    event_lines: u64,
    /// First line with an error; `Some` = quarantined.
    first_error: Option<usize>,
}

#[derive(Debug, Default)]
struct Parser {
    slots: Vec<Slot>,
    by_number: HashMap<String, usize>,
    errors: Vec<ExtractError>,
    incomplete: bool,
    trailer: Option<Trailer>,
    /// Lines whose first byte says H, M, E; and all lines up to the trailer.
    counted: [u64; 3],
    lines_before_trailer: u64,
    trailer_seen: bool,
    last_line: usize,
}

impl Parser {
    fn run(&mut self, bytes: &[u8]) {
        let mut rest = bytes;
        let mut no = 0;
        while !rest.is_empty() {
            no += 1;
            let (record, terminated) = match rest.iter().position(|b| *b == b'\n') {
                Some(lf) => {
                    let record = &rest[..lf];
                    rest = &rest[lf + 1..];
                    match record.strip_suffix(b"\r") {
                        Some(r) => (r, true),
                        None => (record, false),
                    }
                }
                None => {
                    let record = rest;
                    rest = &[];
                    (record, false)
                }
            };
            self.line(no, record, terminated);
        }
        self.last_line = no;
    }

    fn line(&mut self, no: usize, bytes: &[u8], terminated: bool) {
        if self.trailer_seen {
            self.incomplete = true;
            self.errors.push(ExtractError::AfterTrailer { line: no });
            return;
        }
        let record_type = bytes.get(layout::RECORD_TYPE.offset).copied();
        match record_type {
            Some(b'H') => self.counted[0] += 1,
            Some(b'M') => self.counted[1] += 1,
            Some(b'E') => self.counted[2] += 1,
            _ => {}
        }
        if record_type != Some(b'T') {
            self.lines_before_trailer += 1;
        }
        if !terminated {
            return self.fail(no, bytes, ExtractError::BadLineEnding { line: no });
        }
        if bytes.len() != RECORD_LEN {
            let error = ExtractError::LineLength {
                line: no,
                expected: RECORD_LEN,
                found: bytes.len(),
            };
            return self.fail(no, bytes, error);
        }
        let line = Line { no, bytes };
        match record_type {
            Some(b'H') => self.header(line),
            Some(b'M') => self.member(line),
            Some(b'E') => self.event(line),
            Some(b'T') => self.trailer(line),
            _ => self.fail(no, bytes, ExtractError::UnknownRecordType { line: no }),
        }
    }

    /// Records `error` for a line that could not be parsed: quarantines the household it names
    /// (if known) and keeps what can be salvaged of a member; otherwise the extract is
    /// incomplete.
    fn fail(&mut self, no: usize, bytes: &[u8], error: ExtractError) {
        self.errors.push(error);
        let record_type = bytes.first().copied();
        // A trailer's bytes 1-8 are digits of a count, not a household number.
        let key = match record_type {
            Some(b'T') => None,
            _ => household_key(bytes),
        };
        let slot = match (key, record_type) {
            // A broken H record with a readable number still opens its household, quarantined,
            // so that its members answer "malformed" rather than going unattributed.
            (Some(k), Some(b'H')) if !self.by_number.contains_key(k) => {
                Some(self.open_slot(k.to_owned(), no))
            }
            (Some(k), _) => self.by_number.get(k).copied(),
            (None, _) => None,
        };
        let maybe_member = !matches!(record_type, Some(b'H' | b'E' | b'T'));
        let Some(i) = slot else {
            self.incomplete = true;
            return;
        };
        self.quarantine(i, no);
        match record_type {
            Some(b'M') => self.slots[i].member_lines += 1,
            Some(b'E') => self.slots[i].event_lines += 1,
            _ => {}
        }
        if maybe_member {
            match salvage_member(bytes) {
                Some(found) => self.slots[i].salvaged.push(found),
                None => self.incomplete = true,
            }
        }
    }

    fn quarantine(&mut self, slot: usize, line: usize) {
        let first = &mut self.slots[slot].first_error;
        *first = Some(first.map_or(line, |l| l.min(line)));
    }

    fn error_in(&mut self, slot: usize, error: ExtractError) {
        self.quarantine(slot, error.line());
        self.errors.push(error);
    }

    fn header(&mut self, line: Line<'_>) {
        let number = match line.household_number() {
            Ok(n) => n,
            Err(e) => return self.fail(line.no, line.bytes, e),
        };
        if let Some(&i) = self.by_number.get(&number) {
            return self.error_in(i, ExtractError::DuplicateHousehold { line: line.no });
        }
        let i = self.open_slot(number.clone(), line.no);
        match parse_header(&line, number) {
            Ok(header) => self.slots[i].header = Some(header),
            Err(e) => self.error_in(i, e),
        }
    }

    /// Registers a household number first seen on line `h_line`.
    fn open_slot(&mut self, number: String, h_line: usize) -> usize {
        let i = self.slots.len();
        self.by_number.insert(number, i);
        self.slots.push(Slot {
            h_line,
            header: None,
            members: Vec::new(),
            events: Vec::new(),
            salvaged: Vec::new(),
            member_lines: 0,
            event_lines: 0,
            first_error: None,
        });
        i
    }

    /// The slot an `M`/`E` record belongs to, or `None` after recording why not.
    fn owner(&mut self, line: &Line<'_>) -> Option<usize> {
        let number = match line.household_number() {
            Ok(n) => n,
            Err(e) => {
                self.fail(line.no, line.bytes, e);
                return None;
            }
        };
        match self.by_number.get(&number) {
            Some(&i) => Some(i),
            None => {
                self.incomplete = true;
                self.errors
                    .push(ExtractError::UnknownHousehold { line: line.no });
                None
            }
        }
    }

    fn member(&mut self, line: Line<'_>) {
        let Some(i) = self.owner(&line) else { return };
        match parse_member(&line) {
            Ok(member) => {
                let slot = &mut self.slots[i];
                slot.member_lines += 1;
                if slot.members.iter().any(|m| m.seq == member.seq) {
                    slot.salvaged
                        .push((member.national_id, member.removed.is_some()));
                    self.error_in(i, ExtractError::DuplicateMember { line: line.no });
                } else {
                    slot.members.push(member);
                }
            }
            Err(e) => self.fail(line.no, line.bytes, e),
        }
    }

    fn event(&mut self, line: Line<'_>) {
        let Some(i) = self.owner(&line) else { return };
        match parse_event(&line) {
            Ok(event) => {
                self.slots[i].event_lines += 1;
                self.slots[i].events.push(event);
            }
            Err(e) => self.fail(line.no, line.bytes, e),
        }
    }

    fn trailer(&mut self, line: Line<'_>) {
        self.trailer_seen = true;
        match parse_trailer(&line).and_then(|t| line.filler(layout::T_FILLER).map(|()| t)) {
            Ok(trailer) => self.trailer = Some(trailer),
            Err(e) => {
                self.incomplete = true;
                self.errors.push(e);
            }
        }
    }

    /// File-level and household-level checks, the indexes and the summary.
    fn finish(mut self) -> Registry {
        self.check_trailer();
        for i in 0..self.slots.len() {
            self.check_household(i);
        }
        let (current, removed) = self.index();

        let mut summary = LoadSummary {
            complete: !self.incomplete,
            ..LoadSummary::default()
        };
        let mut entries = Vec::with_capacity(self.slots.len());
        for slot in self.slots {
            match (slot.first_error, slot.header) {
                (None, Some(header)) => {
                    let mut household = header.household;
                    household.members = slot.members;
                    summary.households += 1;
                    summary.members += household.members.len();
                    for (seq, event) in slot.events {
                        // check_household made sure every seq is 0 or a member.
                        if seq == 0 {
                            household.events.push(event);
                        } else if let Some(m) = household.members.iter_mut().find(|m| m.seq == seq)
                        {
                            m.events.push(event);
                        }
                    }
                    entries.push(Entry::Loaded(household));
                }
                (first_error, _) => {
                    summary.quarantined_households += 1;
                    entries.push(Entry::Malformed {
                        line: first_error.unwrap_or(slot.h_line),
                    });
                }
            }
        }
        summary.malformed_lines = self
            .errors
            .iter()
            .map(ExtractError::line)
            .collect::<HashSet<_>>()
            .len();
        summary.errors = self.errors;
        report(&summary);
        Registry {
            entries,
            by_number: self.by_number,
            current,
            removed,
            summary,
        }
    }

    fn check_trailer(&mut self) {
        let Some(trailer) = self.trailer.take() else {
            // A trailer that failed to parse already made the extract incomplete.
            if !self.trailer_seen {
                self.incomplete = true;
                self.errors.push(ExtractError::MissingTrailer {
                    line: self.last_line + 1,
                });
            }
            return;
        };
        let checks = [
            (
                "household records",
                u64::from(trailer.households),
                self.counted[0],
            ),
            (
                "member records",
                u64::from(trailer.members),
                self.counted[1],
            ),
            ("event records", u64::from(trailer.events), self.counted[2]),
            (
                "total records",
                u64::from(trailer.total),
                self.lines_before_trailer + 1,
            ),
        ];
        for (field, declared, found) in checks {
            if declared != found {
                self.incomplete = true;
                self.errors.push(ExtractError::TrailerMismatch {
                    line: trailer.line,
                    field,
                    declared,
                    found,
                });
            }
        }
        for i in 0..self.slots.len() {
            let Some(date) = self.slots[i]
                .header
                .as_ref()
                .map(|h| h.household.extract_date)
            else {
                continue;
            };
            if date != trailer.extract_date {
                let error = ExtractError::TrailerMismatch {
                    line: self.slots[i].h_line,
                    field: "extract date",
                    declared: trailer.extract_date.as_number(),
                    found: date.as_number(),
                };
                self.error_in(i, error);
            }
        }
    }

    /// Control totals, event references and the head of household.
    fn check_household(&mut self, i: usize) {
        let slot = &self.slots[i];
        // A quarantined household is already out; further findings would only be echoes of
        // the first error (e.g. events of a member whose line did not parse).
        if slot.first_error.is_some() {
            return;
        }
        let Some(header) = &slot.header else { return };
        let h_line = slot.h_line;
        let mut errors = Vec::new();
        for (field, declared, found) in [
            ("member count", header.declared_members, slot.member_lines),
            ("event count", header.declared_events, slot.event_lines),
        ] {
            if u64::from(declared) != found {
                errors.push(ExtractError::HouseholdCountMismatch {
                    line: h_line,
                    field,
                    declared: u64::from(declared),
                    found,
                });
            }
        }
        for (seq, event) in &slot.events {
            if *seq != 0 && !slot.members.iter().any(|m| m.seq == *seq) {
                errors.push(ExtractError::UnknownMember { line: event.line });
            }
        }
        let heads: Vec<&Member> = slot
            .members
            .iter()
            .filter(|m| m.relationship == "戶長")
            .collect();
        if heads.len() != 1
            || heads
                .first()
                .is_some_and(|h| h.name != header.household.head_name)
        {
            errors.push(ExtractError::InvalidValue {
                line: h_line,
                field: "head name",
                reason: "does not match exactly one member registered as 戶長",
            });
        }
        for error in errors {
            self.error_in(i, error);
        }
    }

    /// Builds the ID indexes. Clean households first, where an ID current in two households
    /// quarantines both; then quarantined households, whose IDs only fill gaps so that a
    /// broken record never takes a person away from a clean one.
    fn index(&mut self) -> (HashMap<NationalId, usize>, HashMap<NationalId, usize>) {
        let people = self
            .slots
            .iter()
            .map(|s| s.members.len() + s.salvaged.len())
            .sum();
        let mut current: HashMap<NationalId, usize> = HashMap::with_capacity(people);
        let mut removed: HashMap<NationalId, usize> = HashMap::new();
        let mut clashes = Vec::new();
        for (i, slot) in self.slots.iter().enumerate() {
            if slot.first_error.is_some() {
                continue;
            }
            for m in &slot.members {
                if m.removed.is_some() {
                    removed.insert(m.national_id.clone(), i);
                } else if let Some(&other) = current.get(&m.national_id) {
                    clashes.push((other, i, m.line));
                } else {
                    current.insert(m.national_id.clone(), i);
                }
            }
        }
        for (other, i, line) in clashes {
            self.error_in(i, ExtractError::DuplicateNationalId { line });
            self.quarantine(other, line);
        }
        for (i, slot) in self.slots.iter().enumerate() {
            if slot.first_error.is_none() {
                continue;
            }
            let parsed = slot
                .members
                .iter()
                .map(|m| (&m.national_id, m.removed.is_some()));
            let salvaged = slot.salvaged.iter().map(|(id, r)| (id, *r));
            for (id, is_removed) in parsed.chain(salvaged) {
                let map = if is_removed {
                    &mut removed
                } else {
                    &mut current
                };
                map.entry(id.clone()).or_insert(i);
            }
        }
        (current, removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_are_contiguous_and_fit_the_record() {
        for (fields, filler) in layout::all() {
            let mut at = 0;
            for f in fields {
                assert_eq!(
                    f.offset, at,
                    "{} starts where the previous field ends",
                    f.name
                );
                at += f.width;
            }
            assert_eq!(at, filler);
            assert!(filler <= RECORD_LEN);
        }
    }

    #[test]
    fn roc_dates() {
        assert!(RocDate::new(76, 2, 21).is_some());
        assert!(RocDate::new(89, 2, 29).is_some());
        assert!(RocDate::new(88, 2, 29).is_none());
        assert!(RocDate::new(0, 1, 1).is_none());
        assert!(RocDate::new(76, 13, 1).is_none());
        assert_eq!(
            RocDate::new(76, 2, 21).map(|d| d.to_string()),
            Some("0760221".to_owned())
        );
    }

    #[test]
    fn text_fields_detect_split_and_invalid_big5() {
        let mut bytes = vec![b' '; RECORD_LEN];
        let f = field("name", 0, 4);
        let line = |b: &[u8]| Line { no: 1, bytes: b }.text(f);
        bytes[..4].copy_from_slice(&[0xB3, 0xAF, b'A', b' ']); // 陳A
        assert_eq!(line(&bytes), Ok("陳A".to_owned()));
        bytes[..4].copy_from_slice(&[b'A', 0xB3, 0xAF, 0xB3]);
        assert_eq!(
            line(&bytes),
            Err(ExtractError::SplitCharacter {
                line: 1,
                field: "name"
            })
        );
        bytes[..4].copy_from_slice(&[0x80, b' ', b' ', b' ']);
        assert_eq!(
            line(&bytes),
            Err(ExtractError::InvalidBig5 {
                line: 1,
                field: "name"
            })
        );
        bytes[..4].copy_from_slice(&[0xB3, 0x20, b' ', b' ']);
        assert_eq!(
            line(&bytes),
            Err(ExtractError::InvalidBig5 {
                line: 1,
                field: "name"
            })
        );
        bytes[..4].copy_from_slice(&[0x01, b' ', b' ', b' ']);
        assert_eq!(
            line(&bytes),
            Err(ExtractError::InvalidBig5 {
                line: 1,
                field: "name"
            })
        );
    }
}
