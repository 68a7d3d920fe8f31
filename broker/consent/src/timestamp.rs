//! Whole-second UTC instants, written as RFC 3339 (`2026-11-28T00:30:00Z`).

use std::{fmt, time::SystemTime};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

const FORMAT: &[time::format_description::BorrowedFormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");

/// 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z: every instant in this range has exactly one
/// four-digit-year spelling, so formatting never fails and encoded times sort as text.
const MIN: i64 = -62_135_596_800;
const MAX: i64 = 253_402_300_799;

/// A UTC instant with one-second precision.
///
/// Consents are granted and expire on a human scale; whole seconds keep the artefact short and
/// its times readable, and give every instant one encoding. Encoded as
/// `YYYY-MM-DDTHH:MM:SSZ`; decoding accepts that form only (no other offset, no fraction), so
/// a signed document has one spelling.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    /// Now, from the system clock (truncated to the second).
    pub fn now() -> Timestamp {
        Timestamp::from(SystemTime::now())
    }

    /// Seconds since the Unix epoch, if within years 1–9999.
    pub fn from_unix_seconds(seconds: i64) -> Option<Timestamp> {
        (MIN..=MAX).contains(&seconds).then_some(Timestamp(seconds))
    }

    /// Seconds since the Unix epoch.
    pub fn unix_seconds(self) -> i64 {
        self.0
    }

    /// This instant plus `seconds` (negative goes back), if still within years 1–9999.
    pub fn plus_seconds(self, seconds: i64) -> Option<Timestamp> {
        self.0
            .checked_add(seconds)
            .and_then(Timestamp::from_unix_seconds)
    }

    /// Parses the canonical form `YYYY-MM-DDTHH:MM:SSZ`.
    pub fn parse(text: &str) -> Option<Timestamp> {
        let at = time::PrimitiveDateTime::parse(text, FORMAT)
            .ok()?
            .assume_utc();
        Timestamp::from_unix_seconds(at.unix_timestamp())
    }
}

impl From<SystemTime> for Timestamp {
    /// Clamps to the representable range (a clock before year 1 or after 9999 is broken).
    fn from(at: SystemTime) -> Timestamp {
        let seconds = match at.duration_since(SystemTime::UNIX_EPOCH) {
            Ok(after) => i64::try_from(after.as_secs()).unwrap_or(MAX),
            Err(before) => {
                let back = before.duration();
                // -1.5 s is in second -2: round towards the past.
                let whole = i64::try_from(back.as_secs()).unwrap_or(i64::MAX);
                let partial = i64::from(back.subsec_nanos() > 0);
                whole.saturating_add(partial).saturating_neg()
            }
        };
        Timestamp(seconds.clamp(MIN, MAX))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match time::OffsetDateTime::from_unix_timestamp(self.0)
            .ok()
            .and_then(|at| at.format(FORMAT).ok())
        {
            Some(text) => f.write_str(&text),
            // Unreachable: the range is checked on construction.
            None => write!(f, "@{}", self.0),
        }
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({self})")
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Timestamp::parse(&text).ok_or_else(|| {
            serde::de::Error::custom("a time must be written YYYY-MM-DDTHH:MM:SSZ (UTC)")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_other_spellings() {
        let at = Timestamp::parse("2026-11-28T00:30:00Z").expect("parses");
        assert_eq!(at.unix_seconds(), 1_795_825_800);
        assert_eq!(at.to_string(), "2026-11-28T00:30:00Z");
        for other in [
            "2026-11-28T00:30:00+00:00",
            "2026-11-28T00:30:00.000Z",
            "2026-11-28 00:30:00Z",
            "2026-11-28T00:30:00z",
            "2026-11-28T00:30:00",
            "2026-13-28T00:30:00Z",
        ] {
            assert_eq!(Timestamp::parse(other), None, "{other}");
        }
        assert_eq!(Timestamp::from_unix_seconds(MAX + 1), None);
        assert_eq!(
            Timestamp::from_unix_seconds(MAX)
                .expect("max")
                .plus_seconds(1),
            None
        );
        assert_eq!(
            Timestamp::from_unix_seconds(MIN).expect("min").to_string(),
            "0001-01-01T00:00:00Z"
        );
    }

    #[test]
    fn system_time_truncates_towards_the_past() {
        use std::time::Duration;
        let before = SystemTime::UNIX_EPOCH - Duration::from_millis(1500);
        assert_eq!(Timestamp::from(before).unix_seconds(), -2);
        let after = SystemTime::UNIX_EPOCH + Duration::from_millis(1500);
        assert_eq!(Timestamp::from(after).unix_seconds(), 1);
    }
}
