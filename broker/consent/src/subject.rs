//! The keyed pseudonym under which stores file a citizen's consents.

use std::{fmt, path::Path};

use hmac::{Hmac, Mac as _};
use sha2::Sha256;
use tongdao_core::ids::NationalId;

use crate::error::KeyError;

/// The deployment's pseudonym key: `HMAC-SHA256(key, national ID)` names a citizen in the
/// stores, so neither the consent log nor Redis holds a national ID in clear.
///
/// It is computed exactly as `tongdao_audit::SubjectPseudonym::derive` computes it; with the
/// same key file (`audit.pseudonym_key_file`), a consent's subject and the audit log's
/// subject of its exchanges are the same 64 hex digits.
#[derive(Clone)]
pub struct SubjectKey {
    /// Keyed once: each pseudonym clones the prepared state (two SHA-256 blocks, not four).
    mac: Hmac<Sha256>,
}

impl SubjectKey {
    /// A key from its 32 bytes.
    pub fn new(key: &[u8; 32]) -> SubjectKey {
        SubjectKey {
            mac: <Hmac<Sha256>>::new_from_slice(key).expect("HMAC takes keys of any length"),
        }
    }

    /// Reads a key file: 64 hex digits (whitespace around them ignored) or 32 raw bytes, the
    /// format of the audit log's pseudonym key.
    pub fn from_file(path: &Path) -> Result<SubjectKey, KeyError> {
        let bytes = std::fs::read(path).map_err(|source| KeyError::Io {
            path: path.to_owned(),
            source,
        })?;
        if let Ok(raw) = <[u8; 32]>::try_from(bytes.as_slice()) {
            return Ok(SubjectKey::new(&raw));
        }
        std::str::from_utf8(&bytes)
            .ok()
            .and_then(|text| unhex32(text.trim()))
            .map(|key| SubjectKey::new(&key))
            .ok_or_else(|| {
                KeyError::Malformed(format!(
                    "{}: a pseudonym key is 64 hex digits or 32 raw bytes",
                    path.display()
                ))
            })
    }

    /// The pseudonym of `subject`.
    pub fn pseudonym(&self, subject: &NationalId) -> Pseudonym {
        let mut mac = self.mac.clone();
        mac.update(subject.as_str().as_bytes());
        Pseudonym(mac.finalize().into_bytes().into())
    }
}

impl fmt::Debug for SubjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SubjectKey(..)")
    }
}

/// A citizen's keyed pseudonym, written as 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pseudonym([u8; 32]);

impl Pseudonym {
    /// The 64 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut out = String::with_capacity(64);
        for byte in self.0 {
            out.push(char::from(DIGITS[usize::from(byte >> 4)]));
            out.push(char::from(DIGITS[usize::from(byte & 0xf)]));
        }
        out
    }

    /// Parses 64 lowercase hex digits.
    pub fn from_hex(text: &str) -> Option<Pseudonym> {
        if text.bytes().any(|b| b.is_ascii_uppercase()) {
            return None;
        }
        unhex32(text).map(Pseudonym)
    }

    /// The 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for Pseudonym {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pseudonym({})", self.to_hex())
    }
}

impl fmt::Display for Pseudonym {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl serde::Serialize for Pseudonym {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

impl<'de> serde::Deserialize<'de> for Pseudonym {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Pseudonym::from_hex(&text)
            .ok_or_else(|| serde::de::Error::custom("a pseudonym is 64 lowercase hex digits"))
    }
}

fn unhex32(text: &str) -> Option<[u8; 32]> {
    let text = text.as_bytes();
    if text.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (slot, pair) in out.iter_mut().zip(text.chunks_exact(2)) {
        let digit = |c: u8| char::from(c).to_digit(16);
        *slot = (digit(pair[0])? << 4 | digit(pair[1])?) as u8;
    }
    Some(out)
}
