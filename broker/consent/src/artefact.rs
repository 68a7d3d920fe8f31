//! The consent artefact: a signed, self-contained string a citizen hands to an agency, which
//! anyone can verify offline with the broker's published key.
//!
//! ```text
//! tdc1.<base64url(payload)>.<base64url(Ed25519 signature)>
//! payload = {"key":"<key name>+<key id>","consent":{…canonical consent…}}
//! ```
//!
//! The signature covers the ASCII bytes `tdc1.<base64url(payload)>` (prefix included, so the
//! version cannot be swapped). Base64url is unpadded and decoded strictly (no padding, no
//! stray trailing bits), and the payload must be the canonical encoding of what it holds, so
//! each consent has exactly one artefact per key and changing any byte of it fails
//! verification. Keys use the C2SP signed-note text formats, like the audit log's:
//! `PRIVATE+KEY+<name>+<id>+<base64>` to sign, `<name>+<id>+<base64>` to verify.

use std::{fmt, path::Path};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::{
    error::{ArtefactError, KeyError},
    model::{Consent, ConsentId, ConsentIdError},
};

/// What every artefact starts with; the `1` is the format version.
pub const ARTEFACT_PREFIX: &str = "tdc1.";

/// The longest artefact accepted (a consent at the default [`crate::Limits`] is under 6 KB).
pub const MAX_ARTEFACT_LEN: usize = 16 * 1024;

/// The signed-note algorithm byte for Ed25519.
const ALG_ED25519: u8 = 0x01;

/// The broker's consent-signing key.
#[derive(Clone)]
pub struct ConsentSigner {
    key: SigningKey,
    verifier: VerifierKey,
}

impl fmt::Debug for ConsentSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the private key.
        f.debug_struct("ConsentSigner")
            .field("verifier", &self.verifier)
            .finish_non_exhaustive()
    }
}

/// A freshly generated key pair, as the two text lines to store.
#[derive(Debug)]
pub struct KeyPair {
    /// `PRIVATE+KEY+<name>+<id>+<base64>`: keep secret (mode 0600).
    pub signing_key: String,
    /// `<name>+<id>+<base64>`: publish it; verifiers need nothing else.
    pub verifier_key: String,
}

impl ConsentSigner {
    /// Generates a key pair named `name` (e.g. `consent.tongdao.example`).
    pub fn generate(name: &str) -> Result<KeyPair, KeyError> {
        check_name(name)?;
        let mut seed = [0u8; 32];
        rand_core::RngCore::try_fill_bytes(&mut rand_core::OsRng, &mut seed)
            .map_err(|error| KeyError::Malformed(format!("no randomness for a key: {error}")))?;
        let key = SigningKey::from_bytes(&seed);
        let verifier = VerifierKey::new(name, key.verifying_key());
        let mut private = vec![ALG_ED25519];
        private.extend_from_slice(&key.to_bytes());
        Ok(KeyPair {
            signing_key: format!(
                "PRIVATE+KEY+{name}+{:08x}+{}",
                verifier.id,
                STANDARD.encode(private)
            ),
            verifier_key: verifier.text,
        })
    }

    /// Parses a signing key in signed-note format.
    pub fn from_text(text: &str) -> Result<ConsentSigner, KeyError> {
        let malformed =
            || KeyError::Malformed("signing key: expected PRIVATE+KEY+<name>+<id>+<base64>".into());
        let rest = text
            .trim()
            .strip_prefix("PRIVATE+KEY+")
            .ok_or_else(malformed)?;
        let (name, id, key) = split_key(rest).ok_or_else(malformed)?;
        check_name(name)?;
        let seed = key
            .strip_prefix(&[ALG_ED25519])
            .and_then(|seed| <[u8; 32]>::try_from(seed).ok())
            .ok_or_else(|| KeyError::Malformed("signing key: not an Ed25519 key".into()))?;
        let key = SigningKey::from_bytes(&seed);
        let verifier = VerifierKey::new(name, key.verifying_key());
        if verifier.id != id {
            return Err(KeyError::Malformed(
                "signing key: the key id does not match the key".into(),
            ));
        }
        Ok(ConsentSigner { key, verifier })
    }

    /// Reads a signing key file.
    pub fn from_file(path: &Path) -> Result<ConsentSigner, KeyError> {
        ConsentSigner::from_text(&read_key_file(path)?)
    }

    /// The public half, to publish.
    pub fn verifier(&self) -> &VerifierKey {
        &self.verifier
    }

    /// The artefact of `consent`. Deterministic (Ed25519 signatures are), so signing a
    /// consent again, e.g. for a listing, gives the same text.
    pub fn sign(&self, consent: &Consent) -> String {
        let payload = encode_payload(&self.verifier.key_name, consent);
        let mut text =
            String::with_capacity(ARTEFACT_PREFIX.len() + payload.len() * 4 / 3 + 4 + 1 + 86);
        text.push_str(ARTEFACT_PREFIX);
        URL_SAFE_NO_PAD.encode_string(&payload, &mut text);
        let signature = self.key.sign(text.as_bytes());
        text.push('.');
        URL_SAFE_NO_PAD.encode_string(signature.to_bytes(), &mut text);
        text
    }
}

/// A verifier key: the public half of a [`ConsentSigner`].
#[derive(Clone)]
pub struct VerifierKey {
    key: VerifyingKey,
    id: u32,
    /// `<name>+<id>`, as artefacts name their key.
    key_name: String,
    /// `<name>+<id>+<base64>`.
    text: String,
}

impl fmt::Debug for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl PartialEq for VerifierKey {
    fn eq(&self, other: &VerifierKey) -> bool {
        self.text == other.text
    }
}

impl Eq for VerifierKey {}

impl VerifierKey {
    fn new(name: &str, key: VerifyingKey) -> VerifierKey {
        let mut encoded = vec![ALG_ED25519];
        encoded.extend_from_slice(key.as_bytes());
        let digest = Sha256::new()
            .chain_update(name.as_bytes())
            .chain_update(b"\n")
            .chain_update(&encoded)
            .finalize();
        let id = u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]);
        VerifierKey {
            key,
            id,
            key_name: format!("{name}+{id:08x}"),
            text: format!("{name}+{id:08x}+{}", STANDARD.encode(encoded)),
        }
    }

    /// Parses `<name>+<id>+<base64>`.
    pub fn from_text(text: &str) -> Result<VerifierKey, KeyError> {
        let (name, id, key) = split_key(text.trim()).ok_or_else(|| {
            KeyError::Malformed("verifier key: expected <name>+<id>+<base64>".into())
        })?;
        check_name(name)?;
        let key = key
            .strip_prefix(&[ALG_ED25519])
            .and_then(|key| <[u8; 32]>::try_from(key).ok())
            .and_then(|key| VerifyingKey::from_bytes(&key).ok())
            .ok_or_else(|| KeyError::Malformed("verifier key: not an Ed25519 key".into()))?;
        let verifier = VerifierKey::new(name, key);
        if verifier.id != id {
            return Err(KeyError::Malformed(
                "verifier key: the key id does not match the key".into(),
            ));
        }
        Ok(verifier)
    }

    /// Reads a verifier key file.
    pub fn from_file(path: &Path) -> Result<VerifierKey, KeyError> {
        VerifierKey::from_text(&read_key_file(path)?)
    }

    /// The key in text form, to publish.
    pub fn as_text(&self) -> &str {
        &self.text
    }

    /// `<name>+<id>`: how artefacts signed with this key name it.
    pub fn key_name(&self) -> &str {
        &self.key_name
    }
}

/// Verifies an artefact offline and returns the consent it holds.
///
/// Checks the form, then the signature with `key`, then that the payload is the canonical
/// encoding of a well-formed consent. Says nothing about the consent's state (revoked, used,
/// expired): only the broker's store knows that.
pub fn verify_artefact(text: &str, key: &VerifierKey) -> Result<Consent, ArtefactError> {
    let (signed, payload, signature) = split_artefact(text)?;
    let signature = <[u8; 64]>::try_from(signature.as_slice())
        .map(|bytes| ed25519_dalek::Signature::from_bytes(&bytes))
        .map_err(|_| ArtefactError::Malformed)?;
    if key
        .key
        .verify_strict(signed.as_bytes(), &signature)
        .is_err()
    {
        // Only to explain the failure: an unverified payload decides nothing.
        return Err(match serde_json::from_slice::<KeyOnly>(&payload) {
            Ok(claimed) if claimed.key != key.key_name => ArtefactError::UnknownKey(claimed.key),
            _ => ArtefactError::BadSignature,
        });
    }
    let parsed: PayloadIn = serde_json::from_slice(&payload)
        .map_err(|error| ArtefactError::Payload(error.to_string()))?;
    if parsed.key != key.key_name {
        return Err(ArtefactError::Payload(
            "the payload names another key than the one that signed it".into(),
        ));
    }
    if encode_payload(&parsed.key, &parsed.consent) != payload {
        return Err(ArtefactError::Payload(
            "the payload is not in canonical form".into(),
        ));
    }
    Ok(parsed.consent)
}

/// The consent id a `tongdao-consent` header names: a bare consent id, or an artefact (whose
/// id is read without checking its signature — the store, not the document, decides whether
/// the consent holds, so a forged artefact gains nothing).
pub fn consent_id_of(token: &str) -> Result<ConsentId, ConsentIdError> {
    if !token.starts_with(ARTEFACT_PREFIX) {
        return token.parse();
    }
    let (_, payload, _) = split_artefact(token).map_err(|_| ConsentIdError::Malformed)?;
    serde_json::from_slice::<IdOnly>(&payload)
        .map(|only| only.consent.id)
        .map_err(|_| ConsentIdError::Malformed)
}

/// `(signed text, payload bytes, signature bytes)`.
fn split_artefact(text: &str) -> Result<(&str, Vec<u8>, Vec<u8>), ArtefactError> {
    if text.len() > MAX_ARTEFACT_LEN {
        return Err(ArtefactError::Malformed);
    }
    let rest = text
        .strip_prefix(ARTEFACT_PREFIX)
        .ok_or(ArtefactError::Malformed)?;
    let (payload, signature) = rest.split_once('.').ok_or(ArtefactError::Malformed)?;
    if payload.is_empty() || signature.contains('.') {
        return Err(ArtefactError::Malformed);
    }
    let decode = |part: &str| {
        URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|_| ArtefactError::Malformed)
    };
    let signed = &text[..ARTEFACT_PREFIX.len() + payload.len()];
    Ok((signed, decode(payload)?, decode(signature)?))
}

fn encode_payload(key_name: &str, consent: &Consent) -> Vec<u8> {
    #[derive(Serialize)]
    struct PayloadOut<'a> {
        key: &'a str,
        consent: &'a Consent,
    }
    // Strings and numbers only: serialising into a Vec cannot fail.
    serde_json::to_vec(&PayloadOut {
        key: key_name,
        consent,
    })
    .unwrap_or_default()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PayloadIn {
    key: String,
    consent: Consent,
}

#[derive(Deserialize)]
struct KeyOnly {
    key: String,
}

#[derive(Deserialize)]
struct IdOnly {
    consent: IdOnlyConsent,
}

#[derive(Deserialize)]
struct IdOnlyConsent {
    id: ConsentId,
}

/// `<name>+<8 hex id>+<base64>` → parts (the base64 may itself contain `+`).
fn split_key(text: &str) -> Option<(&str, u32, Vec<u8>)> {
    let mut parts = text.splitn(3, '+');
    let name = parts.next()?;
    let id = parts.next()?;
    let key = parts.next()?;
    if id.len() != 8 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let id = u32::from_str_radix(id, 16).ok()?;
    Some((name, id, STANDARD.decode(key).ok()?))
}

fn check_name(name: &str) -> Result<(), KeyError> {
    if name.is_empty() || name.chars().any(char::is_whitespace) || name.contains('+') {
        return Err(KeyError::Malformed(format!(
            "key name {name:?} must be non-empty, without spaces or '+'"
        )));
    }
    Ok(())
}

fn read_key_file(path: &Path) -> Result<String, KeyError> {
    std::fs::read_to_string(path).map_err(|source| KeyError::Io {
        path: path.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests;
