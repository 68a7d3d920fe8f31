//! PDPA codes as people write them: purpose codes (`095`) and data class codes (`C001`).
//!
//! The official lists print codes with Chinese numerals (`○九五`, `Ｃ○○一`), and forms copied
//! from them arrive that way, so both the ASCII and the official forms are accepted on input
//! (domain/taiwan.md §3). Output always uses the ASCII form.

use std::fmt;

use tongdao_schemas::v1::DataClass;

/// A PDPA specific-purpose code (特定目的代號), `001`–`999`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Purpose(u16);

impl Purpose {
    /// Reads a three-digit code in ASCII (`095`), full-width (`０９５`) or Chinese-numeral
    /// (`○九五`) form, ignoring surrounding whitespace. `000` and other lengths are not codes.
    pub fn parse_code(text: &str) -> Option<Self> {
        let text = text.trim();
        // Fast path for the header value every exchange carries.
        if let [a, b, c] = text.as_bytes()
            && a.is_ascii_digit()
            && b.is_ascii_digit()
            && c.is_ascii_digit()
        {
            let n = u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0');
            return (n > 0).then_some(Self(n));
        }
        let n = parse_digits(text, 3)?;
        (n > 0).then_some(Self(n))
    }

    /// The code as a number, e.g. 95.
    pub fn number(self) -> u16 {
        self.0
    }
}

impl Purpose {
    /// Appends the three digits without the formatting machinery (denial messages are built
    /// on the request path).
    pub(crate) fn push_to(self, out: &mut String) {
        let n = self.0;
        for digit in [n / 100, n / 10 % 10, n % 10] {
            out.push(char::from(b'0' + digit as u8));
        }
    }
}

impl fmt::Display for Purpose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:03}", self.0)
    }
}

/// Reads a data class code, `C001` or the official `Ｃ○○一`, into the schema's enum.
pub fn parse_data_class(text: &str) -> Option<DataClass> {
    let text = text.trim();
    let mut chars = text.chars();
    let first = chars.next()?;
    if !matches!(first, 'C' | 'Ｃ') {
        return None;
    }
    let n = parse_digits(chars.as_str(), 3)?;
    match DataClass::try_from(i32::from(n)) {
        Ok(DataClass::Unspecified) | Err(_) => None,
        Ok(class) => Some(class),
    }
}

/// Exactly `len` decimal digits, each in ASCII, full-width or Chinese-numeral form.
fn parse_digits(text: &str, len: usize) -> Option<u16> {
    let mut n: u16 = 0;
    let mut count = 0;
    for c in text.chars() {
        let digit = digit_value(c)?;
        count += 1;
        if count > len {
            return None;
        }
        n = n * 10 + digit;
    }
    (count == len).then_some(n)
}

fn digit_value(c: char) -> Option<u16> {
    Some(match c {
        '0'..='9' => c as u16 - '0' as u16,
        '０'..='９' => c as u16 - '０' as u16,
        // Both circles appear for zero in official texts: U+25CB WHITE CIRCLE and U+3007
        // IDEOGRAPHIC NUMBER ZERO.
        '○' | '〇' | '零' => 0,
        '一' => 1,
        '二' => 2,
        '三' => 3,
        '四' => 4,
        '五' => 5,
        '六' => 6,
        '七' => 7,
        '八' => 8,
        '九' => 9,
        _ => return None,
    })
}

#[cfg(test)]
mod tests;
