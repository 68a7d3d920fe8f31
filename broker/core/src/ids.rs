//! Identifiers: national IDs, unified business numbers, agency codes.
//!
//! Parse, don't validate: each identifier is a newtype that can only be built from a string
//! that passed its shape and checksum rules (taiwan.md §2), so code holding a [`NationalId`]
//! never re-checks it.
//!
//! Input is taken exactly as given. Lower-case letters, full-width characters (`Ａ１２…`) and
//! surrounding whitespace are **rejected, not normalised**: an identifier is a lookup key and an
//! audit subject, and silently rewriting it would let two different request strings stand for
//! the same person in logs and policy decisions. Callers that accept human input (forms, CSV
//! imports) normalise before parsing, where they can tell the user what they changed.
//!
//! Error messages name the identifier kind and the position at fault, never the input itself:
//! a rejected national ID is still personal data.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[cfg(test)]
mod tests;

/// Which identifier an [`IdError`] is about, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdKind {
    /// 身分證統一編號 (including resident IDs).
    NationalId,
    /// 統一編號 of a business.
    BusinessNumber,
    /// 機關代碼.
    AgencyCode,
}

impl fmt::Display for IdKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IdKind::NationalId => "national ID",
            IdKind::BusinessNumber => "unified business number",
            IdKind::AgencyCode => "agency code",
        })
    }
}

/// Why a string is not a valid identifier. Positions are 1-based character positions; no
/// variant carries the rejected input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// Wrong number of characters (counted as characters, so full-width input reports a
    /// sensible length).
    #[error("{kind}: expected {expected} characters, found {found}")]
    WrongLength {
        /// The identifier being parsed.
        kind: IdKind,
        /// Required length.
        expected: usize,
        /// Length of the input.
        found: usize,
    },
    /// A position that must hold an upper-case ASCII letter `A`–`Z` does not.
    #[error("{kind}: character {position} must be an upper-case letter A-Z")]
    BadLetter {
        /// The identifier being parsed.
        kind: IdKind,
        /// 1-based position.
        position: usize,
    },
    /// The second character of a national ID is not 1, 2 (citizens) or 8, 9 (residents).
    #[error("national ID: character 2 must be 1, 2, 8 or 9")]
    BadGenderDigit,
    /// A position that must hold an ASCII digit does not.
    #[error("{kind}: character {position} must be a digit 0-9")]
    NotDigit {
        /// The identifier being parsed.
        kind: IdKind,
        /// 1-based position.
        position: usize,
    },
    /// A position that must hold an ASCII digit or upper-case letter does not.
    #[error("{kind}: character {position} must be a digit or an upper-case letter")]
    NotAlphanumeric {
        /// The identifier being parsed.
        kind: IdKind,
        /// 1-based position.
        position: usize,
    },
    /// Shape is right but the check digit does not match.
    #[error("{kind}: check digit does not match")]
    Checksum {
        /// The identifier being parsed.
        kind: IdKind,
    },
}

/// Checks the length in characters before any indexing, so later byte indexing is ASCII-safe
/// only after every character has been checked to be ASCII.
fn check_length(kind: IdKind, s: &str, expected: usize) -> Result<(), IdError> {
    let found = s.chars().count();
    if found == expected {
        Ok(())
    } else {
        Err(IdError::WrongLength {
            kind,
            expected,
            found,
        })
    }
}

/// The two-digit value of a national ID's area letter (taiwan.md §2). Not alphabetical: the
/// letters I, O, W, X, Y, Z were added later and got higher numbers.
fn letter_value(letter: u8) -> Option<u32> {
    Some(match letter {
        b'A' => 10,
        b'B' => 11,
        b'C' => 12,
        b'D' => 13,
        b'E' => 14,
        b'F' => 15,
        b'G' => 16,
        b'H' => 17,
        b'I' => 34,
        b'J' => 18,
        b'K' => 19,
        b'L' => 20,
        b'M' => 21,
        b'N' => 22,
        b'O' => 35,
        b'P' => 23,
        b'Q' => 24,
        b'R' => 25,
        b'S' => 26,
        b'T' => 27,
        b'U' => 28,
        b'V' => 29,
        b'W' => 32,
        b'X' => 30,
        b'Y' => 31,
        b'Z' => 33,
        _ => return None,
    })
}

/// Weighted sum of a national ID's first 10 characters (letter expanded to two digits, weights
/// 1,9,8,…,2,1), without the check digit. Callers have checked the shape.
fn national_id_partial_sum(letter: u32, digits: &[u32; 8]) -> u32 {
    const WEIGHTS: [u32; 8] = [8, 7, 6, 5, 4, 3, 2, 1];
    let letter_part = (letter / 10) + (letter % 10) * 9;
    letter_part + digits.iter().zip(WEIGHTS).map(|(d, w)| d * w).sum::<u32>()
}

/// A Taiwanese national ID (身分證統一編號), or a resident ID in the 2021 format (second
/// character 8 or 9), with a valid check digit.
///
/// `Debug` masks all but the last 4 characters so an ID in a `{:?}` log line does not leak;
/// `Display` and [`as_str`](Self::as_str) give the full ID for the wire.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NationalId(String);

impl NationalId {
    /// Builds the ID for `letter`, `gender_digit` and the 7 serial digits `seven_digits`
    /// (0 ..= 9_999_999, left-padded with zeros), computing the check digit. Used by the
    /// synthetic generator; errors (rather than panicking) on an argument out of range.
    pub fn with_checksum(
        letter: char,
        gender_digit: u8,
        seven_digits: u32,
    ) -> Result<NationalId, IdError> {
        let kind = IdKind::NationalId;
        let letter_code = u8::try_from(letter)
            .ok()
            .and_then(|b| letter_value(b).map(|v| (b, v)))
            .ok_or(IdError::BadLetter { kind, position: 1 })?;
        if !matches!(gender_digit, 1 | 2 | 8 | 9) {
            return Err(IdError::BadGenderDigit);
        }
        if seven_digits > 9_999_999 {
            return Err(IdError::WrongLength {
                kind,
                expected: 10,
                // letter + gender digit + serial + check digit
                found: 3 + seven_digits.to_string().len(),
            });
        }
        let mut digits = [0u32; 8];
        digits[0] = u32::from(gender_digit);
        let mut rest = seven_digits;
        for slot in digits[1..].iter_mut().rev() {
            *slot = rest % 10;
            rest /= 10;
        }
        let sum = national_id_partial_sum(letter_code.1, &digits);
        let check = (10 - sum % 10) % 10;
        Ok(NationalId(format!(
            "{}{}{:07}{}",
            char::from(letter_code.0),
            gender_digit,
            seven_digits,
            check
        )))
    }

    /// The ID as a 10-character ASCII string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The last 4 characters: what a MOICA citizen certificate carries (taiwan.md §1).
    pub fn last4(&self) -> &str {
        // Always 10 ASCII characters, so byte index 6 is a character boundary.
        &self.0[6..]
    }

    /// Whether this is a resident (non-citizen) ID: second character 8 or 9.
    pub fn is_resident(&self) -> bool {
        matches!(self.0.as_bytes()[1], b'8' | b'9')
    }

    /// The gender digit: 1 or 8 for male, 2 or 9 for female.
    pub fn gender_digit(&self) -> u8 {
        self.0.as_bytes()[1] - b'0'
    }

    /// Whether the gender digit says male (1 or 8).
    pub fn is_male(&self) -> bool {
        matches!(self.gender_digit(), 1 | 8)
    }
}

impl FromStr for NationalId {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let kind = IdKind::NationalId;
        check_length(kind, s, 10)?;
        let chars: Vec<char> = s.chars().collect();
        let letter = chars[0];
        let letter_code = u8::try_from(letter)
            .ok()
            .and_then(letter_value)
            .ok_or(IdError::BadLetter { kind, position: 1 })?;
        if !matches!(chars[1], '1' | '2' | '8' | '9') {
            return Err(IdError::BadGenderDigit);
        }
        let mut digits = [0u32; 8];
        for (i, c) in chars[1..9].iter().enumerate() {
            // `to_digit(10)` accepts ASCII 0-9 only, so full-width digits land here too.
            digits[i] = c.to_digit(10).ok_or(IdError::NotDigit {
                kind,
                position: i + 2,
            })?;
        }
        let check = chars[9]
            .to_digit(10)
            .ok_or(IdError::NotDigit { kind, position: 10 })?;
        if !(national_id_partial_sum(letter_code, &digits) + check).is_multiple_of(10) {
            return Err(IdError::Checksum { kind });
        }
        Ok(NationalId(s.to_owned()))
    }
}

impl fmt::Display for NationalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for NationalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NationalId(******{})", self.last4())
    }
}

/// A unified business number (統一編號): 8 digits, kept as a string because leading zeros are
/// significant, with a valid checksum.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BusinessNumber(String);

impl BusinessNumber {
    /// The number as an 8-digit string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for BusinessNumber {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let kind = IdKind::BusinessNumber;
        check_length(kind, s, 8)?;
        let mut digits = [0u32; 8];
        for (i, c) in s.chars().enumerate() {
            digits[i] = c.to_digit(10).ok_or(IdError::NotDigit {
                kind,
                position: i + 1,
            })?;
        }
        const WEIGHTS: [u32; 8] = [1, 2, 1, 2, 1, 2, 4, 1];
        // Each product contributes the sum of its digits (28 → 2+8 = 10, not reduced further).
        let sum: u32 = digits
            .iter()
            .zip(WEIGHTS)
            .map(|(d, w)| d * w)
            .map(|p| p / 10 + p % 10)
            .sum();
        // Mod 5 since 2023-04-01 (mod 10 numbers still pass). A 7th digit of 7 gives 4×7 = 28,
        // whose digit sum may be read as 1 or 0: hence the sum+1 alternative.
        let valid = sum.is_multiple_of(5) || (digits[6] == 7 && (sum + 1).is_multiple_of(5));
        if !valid {
            return Err(IdError::Checksum { kind });
        }
        Ok(BusinessNumber(s.to_owned()))
    }
}

impl fmt::Display for BusinessNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An agency code (機關代碼): 9 digits or upper-case letters and a final upper-case letter.
/// The check-letter algorithm is not public, so only the shape is checked.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AgencyCode(String);

impl AgencyCode {
    /// The code as a 10-character string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for AgencyCode {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let kind = IdKind::AgencyCode;
        check_length(kind, s, 10)?;
        for (i, c) in s.chars().enumerate() {
            if i == 9 {
                if !c.is_ascii_uppercase() {
                    return Err(IdError::BadLetter { kind, position: 10 });
                }
            } else if !(c.is_ascii_digit() || c.is_ascii_uppercase()) {
                return Err(IdError::NotAlphanumeric {
                    kind,
                    position: i + 1,
                });
            }
        }
        Ok(AgencyCode(s.to_owned()))
    }
}

impl fmt::Display for AgencyCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Serde as plain strings; deserialising runs the same parser, so a document can never smuggle
/// in an identifier that `FromStr` would refuse.
macro_rules! string_serde {
    ($ty:ty) => {
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let s = String::deserialize(deserializer)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

string_serde!(NationalId);
string_serde!(BusinessNumber);
string_serde!(AgencyCode);

/// The key of a land parcel (地號) in the register: land office code (2 uppercase letters),
/// section code (4 digits) and parcel number (`NNNN-NNNN`, parent and child number). The land
/// register has no check digit, so only the shape is checked.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ParcelKey {
    office: String,
    section: String,
    parent: String,
    child: String,
}

/// Which part of a parcel key has the wrong shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ParcelKeyError {
    /// The land office code is not 2 uppercase letters.
    #[error("land_office_code must be 2 uppercase letters")]
    Office,
    /// The section code is not 4 digits.
    #[error("section_code must be 4 digits")]
    Section,
    /// The parcel number is not `NNNN-NNNN`.
    #[error("parcel_number must be NNNN-NNNN")]
    Number,
}

impl ParcelKey {
    /// The key, if each part has the register's shape.
    pub fn new(office: &str, section: &str, number: &str) -> Result<ParcelKey, ParcelKeyError> {
        let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
        if !(office.len() == 2 && office.bytes().all(|b| b.is_ascii_uppercase())) {
            return Err(ParcelKeyError::Office);
        }
        if !digits(section, 4) {
            return Err(ParcelKeyError::Section);
        }
        let (parent, child) = number
            .split_once('-')
            .filter(|(parent, child)| digits(parent, 4) && digits(child, 4))
            .ok_or(ParcelKeyError::Number)?;
        Ok(ParcelKey {
            office: office.to_owned(),
            section: section.to_owned(),
            parent: parent.to_owned(),
            child: child.to_owned(),
        })
    }

    /// Land office code, e.g. `AA`.
    pub fn office(&self) -> &str {
        &self.office
    }

    /// Section code, e.g. `0200`.
    pub fn section(&self) -> &str {
        &self.section
    }

    /// The parcel number's parent and child numbers, e.g. (`0001`, `0000`).
    pub fn number(&self) -> (&str, &str) {
        (&self.parent, &self.child)
    }
}

impl fmt::Display for ParcelKey {
    /// `OFFICE/SECTION/PARENT-CHILD`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}/{}-{}",
            self.office, self.section, self.parent, self.child
        )
    }
}
