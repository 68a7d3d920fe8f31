//! The converters' text rules, as pure functions from a source value's text to plain values:
//! what `integer`, `area_m2_to_cm2`, `roc_date`, `gregorian_date`, the share converters, `enum`
//! and `bool` accept (`adapters/MAPPING.md` is the reference). The caller has already checked
//! that the text is not blank.

use std::borrow::Cow;

use super::RowProblem;

/// At most this many characters of an offending value are quoted in an error.
const QUOTE_MAX_CHARS: usize = 40;

/// The offending text as quoted in a [`RowProblem`]: at most [`QUOTE_MAX_CHARS`] characters.
pub(super) fn quote(text: &str) -> String {
    match text.char_indices().nth(QUOTE_MAX_CHARS) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

/// A space as the `text` converter trims it: ASCII whitespace or the full-width space U+3000.
fn is_space(c: char) -> bool {
    c.is_ascii_whitespace() || c == '\u{3000}'
}

/// Whether a value is blank: empty once ASCII and full-width spaces are trimmed.
pub(super) fn is_blank(text: &str) -> bool {
    text.chars().all(is_space)
}

/// The `text_trim` rule: trims ASCII and full-width spaces, keeps everything else as it is.
pub(super) fn trim(text: &str) -> &str {
    text.trim_matches(is_space)
}

/// The `text` rule: trims ASCII and full-width spaces and turns full-width ASCII (U+FF01–U+FF5E)
/// and the full-width space into their half-width forms. Borrows when nothing changes.
pub(super) fn normalize(text: &str) -> Cow<'_, str> {
    let trimmed = text.trim_matches(is_space);
    if trimmed.is_ascii() {
        return Cow::Borrowed(trimmed);
    }
    if !trimmed
        .chars()
        .any(|c| ('\u{FF01}'..='\u{FF5E}').contains(&c) || c == '\u{3000}')
    {
        return Cow::Borrowed(trimmed);
    }
    Cow::Owned(
        trimmed
            .chars()
            .map(|c| match c {
                '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFF01 + 0x21).unwrap_or(c),
                '\u{3000}' => ' ',
                other => other,
            })
            .collect(),
    )
}

/// Digits with optional thousands separators: `1234`, `1,234`, `12,345,678` (every group after
/// the first exactly 3 digits). Returns the digits alone, or `None` if the text is not that.
fn grouped_digits(text: &str) -> Option<Cow<'_, str>> {
    if text.is_empty() {
        return None;
    }
    if !text.contains(',') {
        return text
            .bytes()
            .all(|b| b.is_ascii_digit())
            .then_some(Cow::Borrowed(text));
    }
    let mut groups = text.split(',');
    let first = groups.next()?;
    if first.is_empty() || first.len() > 3 || !first.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut digits = String::with_capacity(text.len());
    digits.push_str(first);
    for group in groups {
        if group.len() != 3 || !group.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.push_str(group);
    }
    Some(Cow::Owned(digits))
}

/// The `integer` rule: an optional sign and decimal digits, with optional thousands separators;
/// full-width digits, signs and commas are accepted (the text is normalised first).
pub(super) fn integer(text: &str) -> Result<i128, RowProblem> {
    let norm = normalize(text);
    let (negative, body) = match norm.as_bytes().first() {
        Some(b'-') => (true, &norm[1..]),
        Some(b'+') => (false, &norm[1..]),
        _ => (false, &norm[..]),
    };
    let digits = grouped_digits(body).ok_or_else(|| RowProblem::NotInteger(quote(text)))?;
    let magnitude: i128 = digits
        .parse()
        .map_err(|_| RowProblem::OutOfRange(format!("{} has too many digits", quote(text))))?;
    Ok(if negative { -magnitude } else { magnitude })
}

/// The `area_m2_to_cm2` rule: a non-negative decimal number of square metres with at most 2
/// decimals (further decimals only if they are zeros), as exact square centimetres.
pub(super) fn area_m2_to_cm2(text: &str) -> Result<i128, RowProblem> {
    let norm = normalize(text);
    let body = norm.strip_prefix('+').unwrap_or(&norm);
    if body.starts_with('-') {
        return Err(RowProblem::OutOfRange(format!(
            "{} is a negative area",
            quote(text)
        )));
    }
    let (whole, fraction) = match body.split_once('.') {
        Some((whole, fraction)) => (whole, fraction),
        None => (body, ""),
    };
    let not_decimal = || RowProblem::NotDecimal(quote(text));
    let whole = grouped_digits(whole).ok_or_else(not_decimal)?;
    if body.contains('.') && fraction.is_empty() {
        return Err(not_decimal());
    }
    if !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return Err(not_decimal());
    }
    if fraction.len() > 2 && fraction.bytes().skip(2).any(|b| b != b'0') {
        return Err(RowProblem::NotDecimal(format!(
            "{} (more than 2 decimals)",
            quote(text)
        )));
    }
    let mut hundredths: i128 = 0;
    for (i, b) in fraction.bytes().take(2).enumerate() {
        let weight = if i == 0 { 10 } else { 1 };
        hundredths += i128::from(b - b'0') * weight;
    }
    let too_big = || RowProblem::OutOfRange(format!("{} is too large an area", quote(text)));
    let whole: i128 = whole.parse().map_err(|_| too_big())?;
    whole
        .checked_mul(10_000)
        .and_then(|cm2| cm2.checked_add(hundredths * 100))
        .ok_or_else(too_big)
}

/// A calendar date checked against the Gregorian calendar: (year, month, day).
fn checked_date(gregorian_year: i64, month: u32, day: u32, text: &str) -> Result<(), RowProblem> {
    let leap = (gregorian_year % 4 == 0 && gregorian_year % 100 != 0) || gregorian_year % 400 == 0;
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return Err(RowProblem::BadDate(quote(text))),
    };
    if day == 0 || day > days {
        return Err(RowProblem::BadDate(quote(text)));
    }
    Ok(())
}

/// Splits a date into its three numeric parts: `<y><sep><m><sep><d>` with one separator out of
/// `seps` used twice, or the compact form whose year has one of `compact_year_lengths` digits
/// followed by 2-digit month and day.
fn date_parts<'t>(
    norm: &'t str,
    seps: &[char],
    compact_year_lengths: &[usize],
) -> Option<(&'t str, &'t str, &'t str)> {
    if norm.bytes().all(|b| b.is_ascii_digit()) {
        let year_len = norm.len().checked_sub(4)?;
        if !compact_year_lengths.contains(&year_len) {
            return None;
        }
        return Some((
            &norm[..year_len],
            &norm[year_len..year_len + 2],
            &norm[year_len + 2..],
        ));
    }
    let sep = norm.chars().find(|c| seps.contains(c))?;
    let mut parts = norm.split(sep);
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    Some((y, m, d))
}

/// A 1–`max_len` digit unsigned number.
fn number(part: &str, max_len: usize) -> Option<u32> {
    if part.is_empty() || part.len() > max_len || !part.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    part.parse().ok()
}

/// The `roc_date` rule: `YYYMMDD` (or `YYMMDD` for years before 100), `YYY/MM/DD`,
/// `YYY-MM-DD`, `YYY.MM.DD` or `YYY年MM月DD日` (optionally prefixed `民國`), as (ROC year,
/// month, day) of a real calendar date with ROC year ≥ 1.
pub(super) fn roc_date(text: &str) -> Result<(u32, u32, u32), RowProblem> {
    let bad = || RowProblem::BadDate(quote(text));
    let norm = normalize(text);
    let norm = norm.strip_prefix("民國").unwrap_or(&norm).trim();
    let (y, m, d) = if let Some(rest) = norm.strip_suffix('日') {
        let (y, rest) = rest.split_once('年').ok_or_else(bad)?;
        let (m, d) = rest.split_once('月').ok_or_else(bad)?;
        (y.trim(), m.trim(), d.trim())
    } else {
        date_parts(norm, &['/', '-', '.'], &[2, 3]).ok_or_else(bad)?
    };
    let (year, month, day) = (
        number(y, 3).ok_or_else(bad)?,
        number(m, 2).ok_or_else(bad)?,
        number(d, 2).ok_or_else(bad)?,
    );
    if year == 0 {
        return Err(bad());
    }
    checked_date(i64::from(year) + 1911, month, day, text)?;
    Ok((year, month, day))
}

/// The `roc_year_month` rule: `YYYMM` (or `YYMM` for years before 100), `YYY/MM`, `YYY-MM`,
/// `YYY.MM` or `YYY年MM月` (optionally prefixed `民國`), as (ROC year, month) with ROC year ≥ 1
/// and month 1–12.
pub(super) fn roc_year_month(text: &str) -> Result<(u32, u32), RowProblem> {
    let bad = || RowProblem::BadDate(quote(text));
    let norm = normalize(text);
    let norm = norm.strip_prefix("民國").unwrap_or(&norm).trim();
    let (y, m) = if let Some(rest) = norm.strip_suffix('月') {
        let (y, m) = rest.split_once('年').ok_or_else(bad)?;
        (y.trim(), m.trim())
    } else if norm.bytes().all(|b| b.is_ascii_digit()) {
        if !(4..=5).contains(&norm.len()) {
            return Err(bad());
        }
        norm.split_at(norm.len() - 2)
    } else {
        let sep = norm
            .chars()
            .find(|c| ['/', '-', '.'].contains(c))
            .ok_or_else(bad)?;
        norm.split_once(sep).ok_or_else(bad)?
    };
    let (year, month) = (number(y, 3).ok_or_else(bad)?, number(m, 2).ok_or_else(bad)?);
    if year == 0 || !(1..=12).contains(&month) {
        return Err(bad());
    }
    Ok((year, month))
}

/// The `gregorian_date` rule: `YYYY-MM-DD`, `YYYY/MM/DD` or `YYYYMMDD`, as (ROC year, month,
/// day) of a real calendar date from 1912-01-01 (ROC year 1) on.
pub(super) fn gregorian_date(text: &str) -> Result<(u32, u32, u32), RowProblem> {
    let bad = || RowProblem::BadDate(quote(text));
    let norm = normalize(text);
    let (y, m, d) = date_parts(&norm, &['-', '/'], &[4]).ok_or_else(bad)?;
    if y.len() != 4 {
        return Err(bad());
    }
    let (year, month, day) = (
        number(y, 4).ok_or_else(bad)?,
        number(m, 2).ok_or_else(bad)?,
        number(d, 2).ok_or_else(bad)?,
    );
    checked_date(i64::from(year), month, day, text)?;
    if year < 1912 {
        return Err(RowProblem::BadDate(format!(
            "{} is before ROC year 1 (1912)",
            quote(text)
        )));
    }
    Ok((year - 1911, month, day))
}

/// The share rule (`share_numerator` / `share_denominator`): `n/d` with 1 ≤ n ≤ d, `d分之n`
/// (as printed on transcripts), or `全部` (the whole) = 1/1.
pub(super) fn share(text: &str) -> Result<(u64, u64), RowProblem> {
    let bad = || RowProblem::BadShare(quote(text));
    let norm = normalize(text);
    if norm == "全部" {
        return Ok((1, 1));
    }
    let (n, d) = if let Some((n, d)) = norm.split_once('/') {
        (n, d)
    } else if let Some((d, n)) = norm.split_once("分之") {
        (n, d)
    } else {
        return Err(bad());
    };
    let part = |p: &str| -> Result<u64, RowProblem> {
        let p = p.trim();
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        p.parse().map_err(|_| {
            RowProblem::OutOfRange(format!("{} does not fit a 64-bit share", quote(text)))
        })
    };
    let (n, d) = (part(n)?, part(d)?);
    if n == 0 || n > d {
        return Err(bad());
    }
    Ok((n, d))
}

/// The `bool` rule: `true`/`false`, `t`/`f`, `yes`/`no`, `y`/`n` (any case), `1`/`0`, `是`/`否`.
pub(super) fn boolean(text: &str) -> Result<bool, RowProblem> {
    let norm = normalize(text);
    let yes = ["true", "t", "yes", "y", "1", "是"];
    let no = ["false", "f", "no", "n", "0", "否"];
    if yes.iter().any(|w| norm.eq_ignore_ascii_case(w)) {
        Ok(true)
    } else if no.iter().any(|w| norm.eq_ignore_ascii_case(w)) {
        Ok(false)
    } else {
        Err(RowProblem::BadEnum(quote(text)))
    }
}

#[cfg(test)]
mod tests;
