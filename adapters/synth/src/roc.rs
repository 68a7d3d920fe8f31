//! ROC calendar dates (民國): Gregorian year − 1911, written `YYYMMDD` in registry extracts.

use std::fmt;

/// Offset between ROC and Gregorian years.
const ROC_EPOCH_YEAR: i32 = 1911;

/// A valid calendar date in the ROC era (year 1 = 1912 onwards).
///
/// Kept as year/month/day because that is how the registry stores and prints it; day
/// arithmetic goes through [`RocDate::to_days`] / [`RocDate::from_days`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RocDate {
    year: u16,
    month: u8,
    day: u8,
}

impl RocDate {
    /// The date, if `month`/`day` exist in ROC `year` (leap years follow the Gregorian year)
    /// and the year is 1..=999 (what 3 digits can carry).
    pub fn new(year: u16, month: u8, day: u8) -> Option<RocDate> {
        if !(1..=999).contains(&year) || !(1..=12).contains(&month) || day == 0 {
            return None;
        }
        let gregorian = i32::from(year) + ROC_EPOCH_YEAR;
        (day <= days_in_month(gregorian, month)).then_some(RocDate { year, month, day })
    }

    /// ROC year, e.g. 76 for 1987.
    pub fn year(self) -> u16 {
        self.year
    }

    /// Month, 1–12.
    pub fn month(self) -> u8 {
        self.month
    }

    /// Day of month, 1–31.
    pub fn day(self) -> u8 {
        self.day
    }

    /// Gregorian year.
    pub fn gregorian_year(self) -> i32 {
        i32::from(self.year) + ROC_EPOCH_YEAR
    }

    /// Days since 1970-01-01 (negative before), for date arithmetic.
    pub fn to_days(self) -> i32 {
        days_from_civil(
            self.gregorian_year(),
            u32::from(self.month),
            u32::from(self.day),
        )
    }

    /// The date `days` after 1970-01-01, if it falls in ROC years 1..=999.
    pub fn from_days(days: i32) -> Option<RocDate> {
        let (y, m, d) = civil_from_days(days);
        let year = u16::try_from(y - ROC_EPOCH_YEAR).ok()?;
        RocDate::new(year, u8::try_from(m).ok()?, u8::try_from(d).ok()?)
    }

    /// The 7-digit registry form `YYYMMDD`, e.g. `0760221`.
    pub fn to_yyymmdd(self) -> String {
        format!("{:03}{:02}{:02}", self.year, self.month, self.day)
    }

    /// The form printed in transcript remarks, e.g. `民國76年02月21日`.
    pub fn to_chinese(self) -> String {
        format!("民國{}年{:02}月{:02}日", self.year, self.month, self.day)
    }
}

impl fmt::Display for RocDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:03}{:02}{:02}", self.year, self.month, self.day)
    }
}

/// Days in `month` of Gregorian `year`.
fn days_in_month(year: i32, month: u8) -> u8 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        _ => 31,
    }
}

/// Howard Hinnant's `days_from_civil`: exact proleptic Gregorian arithmetic without tables.
fn days_from_civil(year: i32, month: u32, day: u32) -> i32 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = (y - era * 400) as u32;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe as i32 - 719_468
}

/// Inverse of [`days_from_civil`].
fn civil_from_days(days: i32) -> (i32, u32, u32) {
    let z = days + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = (z - era * 146_097) as u32;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe as i32 + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tsmc_setup_date() {
        let date = RocDate::new(76, 2, 21).expect("valid");
        assert_eq!(date.to_yyymmdd(), "0760221");
        assert_eq!(date.gregorian_year(), 1987);
        assert_eq!(date.to_chinese(), "民國76年02月21日");
    }

    #[test]
    fn invalid_dates_are_refused() {
        assert!(RocDate::new(0, 1, 1).is_none());
        assert!(RocDate::new(1000, 1, 1).is_none());
        assert!(RocDate::new(76, 13, 1).is_none());
        assert!(RocDate::new(76, 2, 29).is_none());
        assert!(RocDate::new(89, 2, 29).is_some(), "2000 is a leap year");
        assert!(RocDate::new(189, 2, 29).is_none(), "2100 is not");
        assert!(RocDate::new(76, 4, 31).is_none());
    }

    #[test]
    fn day_arithmetic_round_trips() {
        let epoch = RocDate::new(59, 1, 1).expect("1970-01-01");
        assert_eq!(epoch.to_days(), 0);
        let start = RocDate::new(1, 1, 1).expect("valid").to_days();
        for days in (start..start + 120_000).step_by(13) {
            let date = RocDate::from_days(days).expect("in range");
            assert_eq!(date.to_days(), days);
        }
        assert!(RocDate::from_days(start - 1).is_none());
    }
}
