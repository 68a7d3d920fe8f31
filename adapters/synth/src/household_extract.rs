//! Writes a [`Population`] as the household registry's legacy extract: fixed-width,
//! Big5-encoded, CRLF-terminated records as a mainframe would export them.
//!
//! The layout is specified in `adapters/household/FORMAT.md`; this writer and the adapter's
//! parser are written independently against that document, so the round-trip test checks the
//! specification, not shared code.

use std::collections::HashMap;
use std::io::{self, BufWriter, Write};

use crate::population::{
    Event, EventKind, HouseholdType, IndigenousStatus, MilitaryService, Person, Population,
    Removal, Sex,
};

/// Every record is exactly this many bytes before its CRLF (the LRECL).
pub const RECORD_LEN: usize = 200;

/// Why an extract could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ExtractWriteError {
    /// The sink failed.
    #[error("writing the extract failed: {0}")]
    Io(#[from] io::Error),
    /// A text field holds a character Big5 cannot encode.
    #[error("field {field}: a character cannot be encoded in Big5")]
    Unencodable {
        /// Field name as in FORMAT.md.
        field: &'static str,
    },
    /// A field does not fit its byte width.
    #[error("field {field}: {needed} bytes do not fit in {width}")]
    TooWide {
        /// Field name as in FORMAT.md.
        field: &'static str,
        /// Bytes the value needs.
        needed: usize,
        /// Bytes the layout gives it.
        width: usize,
    },
}

/// Big5 bytes of one character; `None` if Big5 has no code for it.
type Big5Char = Option<([u8; 2], usize)>;

/// Assembles records into a reusable buffer. Fields are appended in layout order and each
/// record is padded with spaces to [`RECORD_LEN`].
///
/// Characters are encoded one at a time through a cache: encoding_rs (without its optional
/// lookup tables) searches its Big5 index for every Chinese character, and an extract repeats
/// the same few thousand characters millions of times.
struct Records<W: Write> {
    out: W,
    bytes: Vec<u8>,
    cache: HashMap<char, Big5Char>,
}

impl<W: Write> Records<W> {
    fn new(out: W) -> Self {
        Records {
            out,
            bytes: Vec::with_capacity(RECORD_LEN + 2),
            cache: HashMap::new(),
        }
    }

    fn begin(&mut self, record_type: u8) {
        self.bytes.clear();
        self.bytes.push(record_type);
    }

    fn encode_char(&mut self, c: char) -> Big5Char {
        *self.cache.entry(c).or_insert_with(|| {
            let mut utf8 = [0u8; 4];
            let (encoded, _, unmappable) = encoding_rs::BIG5.encode(c.encode_utf8(&mut utf8));
            match (unmappable, encoded.as_ref()) {
                (false, [a]) => Some(([*a, 0], 1)),
                (false, [a, b]) => Some(([*a, *b], 2)),
                _ => None,
            }
        })
    }

    /// Big5 text, left-aligned, padded with ASCII spaces to `width` bytes.
    fn text(
        &mut self,
        field: &'static str,
        value: &str,
        width: usize,
    ) -> Result<(), ExtractWriteError> {
        let start = self.bytes.len();
        for c in value.chars() {
            if c.is_ascii() {
                self.bytes.push(c as u8);
            } else {
                let (code, len) = self
                    .encode_char(c)
                    .ok_or(ExtractWriteError::Unencodable { field })?;
                self.bytes.extend_from_slice(&code[..len]);
            }
        }
        let needed = self.bytes.len() - start;
        if needed > width {
            return Err(ExtractWriteError::TooWide {
                field,
                needed,
                width,
            });
        }
        self.bytes.resize(start + width, b' ');
        Ok(())
    }

    /// An unsigned number, right-aligned and zero-padded to `width` digits.
    fn number(
        &mut self,
        field: &'static str,
        value: u64,
        width: usize,
    ) -> Result<(), ExtractWriteError> {
        let digits = format!("{value:0width$}");
        if digits.len() > width {
            return Err(ExtractWriteError::TooWide {
                field,
                needed: digits.len(),
                width,
            });
        }
        self.bytes.extend_from_slice(digits.as_bytes());
        Ok(())
    }

    /// Pads the record to its length and writes it with CRLF.
    fn finish(&mut self) -> Result<(), ExtractWriteError> {
        debug_assert!(
            self.bytes.len() <= RECORD_LEN,
            "layout wider than the LRECL"
        );
        self.bytes.resize(RECORD_LEN, b' ');
        self.bytes.extend_from_slice(b"\r\n");
        self.out.write_all(&self.bytes)?;
        Ok(())
    }
}

/// Household type code (FORMAT.md, table "household type").
fn household_type_code(kind: HouseholdType) -> u64 {
    match kind {
        HouseholdType::CommonLiving => 1,
        HouseholdType::CommonBusiness => 2,
        HouseholdType::SingleLiving => 3,
    }
}

/// Sex code: the same digit a citizen's national ID carries.
fn sex_code(sex: Sex) -> u64 {
    match sex {
        Sex::Male => 1,
        Sex::Female => 2,
    }
}

/// Military service code.
fn military_code(military: MilitaryService) -> u64 {
    match military {
        MilitaryService::None => 0,
        MilitaryService::Regular => 1,
        MilitaryService::Alternative => 2,
        MilitaryService::Supplementary => 3,
        MilitaryService::National => 4,
        MilitaryService::Exempt => 5,
        MilitaryService::Barred => 6,
        MilitaryService::Awaiting => 7,
    }
}

/// Event code.
fn event_code(kind: EventKind) -> u64 {
    match kind {
        EventKind::Birth => 1,
        EventKind::Marriage => 2,
        EventKind::Divorce => 3,
        EventKind::Adoption => 4,
        EventKind::NameChange => 5,
        EventKind::Death => 6,
        EventKind::MoveIn => 7,
        EventKind::MoveOut => 8,
        EventKind::HouseholdSplit => 9,
    }
}

/// Removed flag.
fn removed_code(removed: Option<Removal>) -> u64 {
    match removed {
        None => 0,
        Some(Removal::Death) => 1,
        Some(Removal::MovedOut) => 2,
    }
}

/// Writes `population` as an extract to `out`: per household an `H` record, its `M` records,
/// then its `E` records (household events first, member seq `00`), and one `T` trailer with
/// the control totals. Output is buffered here; `out` is flushed at the end.
pub fn write_household_extract(
    population: &Population,
    out: impl Write,
) -> Result<(), ExtractWriteError> {
    let mut r = Records::new(BufWriter::with_capacity(1 << 16, out));
    let extract_date = population.extract_date().to_yyymmdd();
    let (mut h_count, mut m_count, mut e_count) = (0u64, 0u64, 0u64);

    for household in population.households() {
        let event_total = household.events.len()
            + household
                .members
                .iter()
                .map(|m| m.events.len())
                .sum::<usize>();
        let head_name = household.head().map_or("", |p| p.name.as_str());
        let address = &household.address;

        r.begin(b'H');
        r.text("household number", &household.number, 8)?;
        r.number("household type", household_type_code(household.kind), 1)?;
        r.text("county", address.county, 10)?;
        r.text("district", address.district, 10)?;
        r.text("village", address.village, 12)?;
        r.number("neighbourhood", u64::from(address.neighbourhood), 3)?;
        r.text("street", &address.street, 60)?;
        r.text("head name", head_name, 16)?;
        r.text("issuing office", &household.issuing_office, 30)?;
        r.text("extract date", &extract_date, 7)?;
        r.number("member count", household.members.len() as u64, 2)?;
        r.number("event count", event_total as u64, 3)?;
        r.finish()?;
        h_count += 1;

        for member in &household.members {
            write_member(&mut r, &household.number, member)?;
            m_count += 1;
        }
        for event in &household.events {
            write_event(&mut r, &household.number, 0, event)?;
            e_count += 1;
        }
        for member in &household.members {
            for event in &member.events {
                write_event(&mut r, &household.number, member.seq, event)?;
                e_count += 1;
            }
        }
    }

    r.begin(b'T');
    r.number("household records", h_count, 9)?;
    r.number("member records", m_count, 9)?;
    r.number("event records", e_count, 9)?;
    r.number("total records", h_count + m_count + e_count + 1, 9)?;
    r.text("extract date", &extract_date, 7)?;
    r.finish()?;
    r.out.flush()?;
    Ok(())
}

fn write_member<W: Write>(
    r: &mut Records<W>,
    household: &str,
    member: &Person,
) -> Result<(), ExtractWriteError> {
    r.begin(b'M');
    r.text("household number", household, 8)?;
    r.number("member seq", u64::from(member.seq), 2)?;
    r.text("relationship", member.relationship, 10)?;
    r.text("name", &member.name, 16)?;
    r.text("national ID", member.national_id.as_str(), 10)?;
    r.number("sex", sex_code(member.sex), 1)?;
    r.text("birth date", &member.birth_date.to_yyymmdd(), 7)?;
    r.text("father name", &member.father_name, 16)?;
    r.text("mother name", &member.mother_name, 16)?;
    r.text("spouse name", &member.spouse_name, 16)?;
    r.text("birthplace", member.birthplace, 10)?;
    r.text("birth order", member.birth_order, 6)?;
    r.number("military service", military_code(member.military), 2)?;
    let (flag, tribe) = match member.indigenous {
        None => (0, ""),
        Some(i) => match i.status {
            IndigenousStatus::Plains => (1, i.tribe),
            IndigenousStatus::Mountain => (2, i.tribe),
        },
    };
    r.number("indigenous flag", flag, 1)?;
    r.text("tribe", tribe, 12)?;
    r.number("removed flag", removed_code(member.removed), 1)?;
    r.finish()
}

fn write_event<W: Write>(
    r: &mut Records<W>,
    household: &str,
    seq: u8,
    event: &Event,
) -> Result<(), ExtractWriteError> {
    r.begin(b'E');
    r.text("household number", household, 8)?;
    r.number("member seq", u64::from(seq), 2)?;
    r.text("event date", &event.date.to_yyymmdd(), 7)?;
    r.number("event code", event_code(event.kind), 2)?;
    r.text("remark", &event.remark, 100)?;
    r.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_has_the_record_length_and_crlf() {
        let population = Population::generate(7, 200);
        let mut bytes = Vec::new();
        write_household_extract(&population, &mut bytes).expect("writes");
        let lines: Vec<&[u8]> = bytes
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .collect();
        let expected_events: usize = population
            .households()
            .iter()
            .map(|h| h.events.len() + h.members.iter().map(|m| m.events.len()).sum::<usize>())
            .sum();
        assert_eq!(
            lines.len(),
            population.households().len() + population.person_count() + expected_events + 1
        );
        for line in &lines {
            assert_eq!(line.len(), RECORD_LEN + 1, "record plus CR");
            assert_eq!(line[RECORD_LEN], b'\r');
        }
        assert!(bytes.ends_with(b"\r\n"));
        assert_eq!(lines.last().map(|l| l[0]), Some(b'T'));
    }

    #[test]
    fn text_fields_pad_by_bytes_and_refuse_what_does_not_fit() {
        let mut r = Records::new(Vec::new());
        r.begin(b'X');
        r.text("name", "陳志明", 16).expect("fits");
        assert_eq!(r.bytes.len(), 1 + 16);
        assert_eq!(&r.bytes[1..7], &[0xB3, 0xAF, 0xA7, 0xD3, 0xA9, 0xFA]);
        assert_eq!(&r.bytes[7..], b"          ");
        r.begin(b'X');
        assert!(matches!(
            r.text("name", "陳志明陳志明陳志明", 16),
            Err(ExtractWriteError::TooWide { .. })
        ));
        // U+20000 (CJK Extension B) has no Big5 code.
        assert!(matches!(
            r.text("name", "陳\u{20000}", 16),
            Err(ExtractWriteError::Unencodable { .. })
        ));
        assert!(matches!(
            r.number("seq", 100, 2),
            Err(ExtractWriteError::TooWide { .. })
        ));
    }
}
