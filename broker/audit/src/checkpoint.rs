//! Keys, C2SP checkpoints as signed notes, and receipts.
//!
//! Keys use the signed-note text formats (`PRIVATE+KEY+<name>+<id>+<base64>` and
//! `<name>+<id>+<base64>`), so a witness or any C2SP verifier can take the log's public key
//! as it is. Signing and note parsing come from the `signed_note` crate.

use std::{fmt, path::Path};

use base64::Engine as _;
use signed_note::{Note, Signer as _, StandardSigner, StandardVerifier, VerifierList};

use crate::{error::AuditError, merkle::Hash};

/// The log's Ed25519 signing key.
#[derive(Clone)]
pub struct LogSigner {
    signer: StandardSigner,
    verifier_key: String,
}

impl fmt::Debug for LogSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the private key.
        f.debug_struct("LogSigner")
            .field("verifier_key", &self.verifier_key)
            .finish_non_exhaustive()
    }
}

/// A freshly generated key pair, as the two text lines to store.
#[derive(Debug)]
pub struct KeyPair {
    /// `PRIVATE+KEY+<name>+<id>+<base64>`: keep secret (mode 0600).
    pub signing_key: String,
    /// `<name>+<id>+<base64>`: give to verifiers and witnesses.
    pub verifier_key: String,
}

impl LogSigner {
    /// Generates a key pair named `name` (by convention the log's origin).
    pub fn generate(name: &str) -> Result<KeyPair, AuditError> {
        if !signed_note::is_key_name_valid(name) {
            return Err(AuditError::Key(format!(
                "key name {name:?} must be non-empty, without spaces or '+'"
            )));
        }
        let (signing_key, verifier_key) = signed_note::generate_key(&mut rand_core::OsRng, name);
        Ok(KeyPair {
            signing_key,
            verifier_key,
        })
    }

    /// Parses a signing key in signed-note format.
    pub fn from_text(text: &str) -> Result<LogSigner, AuditError> {
        let text = text.trim();
        let signer = StandardSigner::new(text)
            .map_err(|error| AuditError::Key(format!("signing key: {error}")))?;
        // The note crate does not expose the public half; derive it from the seed, which
        // `StandardSigner::new` has just validated.
        let seed = text
            // PRIVATE+KEY+<name>+<id>+<base64>: base64 itself may contain '+'.
            .splitn(5, '+')
            .nth(4)
            .and_then(|b64| base64::engine::general_purpose::STANDARD.decode(b64).ok())
            .and_then(|key| <[u8; 32]>::try_from(key.get(1..)?).ok())
            .ok_or_else(|| AuditError::Key("signing key: malformed".into()))?;
        let public = ed25519_dalek::SigningKey::from_bytes(&seed).verifying_key();
        let verifier_key = signed_note::new_ed25519_verifier_key(signer.name(), &public);
        Ok(LogSigner {
            signer,
            verifier_key,
        })
    }

    /// Reads a signing key file.
    pub fn from_file(path: &Path) -> Result<LogSigner, AuditError> {
        let text = std::fs::read_to_string(path).map_err(AuditError::io("cannot read", path))?;
        LogSigner::from_text(&text)
    }

    /// The key's name, which signatures carry.
    pub fn name(&self) -> &str {
        self.signer.name()
    }

    /// The public half, in signed-note verifier-key format.
    pub fn verifier_key(&self) -> &str {
        &self.verifier_key
    }

    /// The public half, parsed.
    pub fn verifier(&self) -> Result<VerifierKey, AuditError> {
        VerifierKey::from_text(&self.verifier_key)
    }

    /// Signs a checkpoint.
    pub fn sign(&self, checkpoint: Checkpoint) -> Result<SignedCheckpoint, AuditError> {
        let body = checkpoint.body();
        let mut note = Note::new(body.as_bytes(), &[])
            .map_err(|error| AuditError::Key(format!("checkpoint note: {error}")))?;
        note.add_sigs(&[&self.signer])
            .map_err(|error| AuditError::Key(format!("cannot sign checkpoint: {error}")))?;
        Ok(SignedCheckpoint {
            checkpoint,
            note: note.to_bytes(),
        })
    }
}

/// A verifier key: the public half of a [`LogSigner`].
#[derive(Clone)]
pub struct VerifierKey {
    verifier: StandardVerifier,
    text: String,
}

impl fmt::Debug for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl VerifierKey {
    /// Parses `<name>+<id>+<base64>`.
    pub fn from_text(text: &str) -> Result<VerifierKey, AuditError> {
        let text = text.trim();
        let verifier = StandardVerifier::new(text)
            .map_err(|error| AuditError::Key(format!("verifier key: {error}")))?;
        Ok(VerifierKey {
            verifier,
            text: text.to_owned(),
        })
    }

    /// Reads a verifier key file.
    pub fn from_file(path: &Path) -> Result<VerifierKey, AuditError> {
        let text = std::fs::read_to_string(path).map_err(AuditError::io("cannot read", path))?;
        VerifierKey::from_text(&text)
    }

    /// The key in text form.
    pub fn as_text(&self) -> &str {
        &self.text
    }
}

/// A tree head: the log's origin, a tree size and the root hash at that size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's identity (first line of the checkpoint).
    pub origin: String,
    /// Number of entries.
    pub size: u64,
    /// RFC 6962 root hash of those entries.
    pub root: Hash,
}

impl Checkpoint {
    /// The C2SP tlog-checkpoint note text: origin, size and base64 root, one per line.
    pub fn body(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            self.root.to_base64()
        )
    }

    fn parse_body(text: &[u8]) -> Result<Checkpoint, String> {
        let text = std::str::from_utf8(text).map_err(|_| "not UTF-8".to_owned())?;
        let mut lines = text.split('\n');
        let origin = lines
            .next()
            .filter(|l| !l.is_empty())
            .ok_or("no origin line")?;
        let size = lines.next().ok_or("no size line")?;
        if size.len() > 1 && size.starts_with('0') {
            return Err("tree size has leading zeroes".into());
        }
        let size: u64 = size
            .parse()
            .map_err(|_| format!("bad tree size {size:?}"))?;
        let root = lines
            .next()
            .and_then(Hash::from_base64)
            .ok_or("bad root hash line")?;
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
        })
    }
}

/// A checkpoint with its signed-note encoding (text, blank line, signature lines).
#[derive(Clone, PartialEq, Eq)]
pub struct SignedCheckpoint {
    checkpoint: Checkpoint,
    note: Vec<u8>,
}

impl fmt::Debug for SignedCheckpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.note))
    }
}

impl SignedCheckpoint {
    /// Parses a signed note and checks that `key` signed it.
    pub fn open(bytes: &[u8], key: &VerifierKey) -> Result<SignedCheckpoint, String> {
        let note = Note::from_bytes(bytes).map_err(|error| format!("malformed note: {error}"))?;
        let known = VerifierList::new(vec![Box::new(key.verifier.clone())]);
        note.verify(&known).map_err(|error| match error {
            signed_note::NoteError::UnverifiedNote => {
                format!("not signed by {}", key.as_text())
            }
            other => format!("signature check failed: {other}"),
        })?;
        Ok(SignedCheckpoint {
            checkpoint: Checkpoint::parse_body(note.text())?,
            note: bytes.to_vec(),
        })
    }

    /// Parses a signed note without checking its signature (for display and search only).
    pub fn parse_unverified(bytes: &[u8]) -> Result<SignedCheckpoint, String> {
        let note = Note::from_bytes(bytes).map_err(|error| format!("malformed note: {error}"))?;
        Ok(SignedCheckpoint {
            checkpoint: Checkpoint::parse_body(note.text())?,
            note: bytes.to_vec(),
        })
    }

    /// The tree head.
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }

    /// The signed note bytes, as stored in `checkpoint` and served to witnesses.
    pub fn as_bytes(&self) -> &[u8] {
        &self.note
    }
}

/// Proof of recording handed to a caller: the record's index and leaf hash, with a signed
/// checkpoint whose tree contains it. An inclusion proof for (`index`, checkpoint size),
/// fetched later, completes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The record's index in the log.
    pub index: u64,
    /// The record's RFC 6962 leaf hash.
    pub leaf_hash: Hash,
    /// A signed checkpoint of a tree containing the record (its size exceeds `index`).
    pub checkpoint: SignedCheckpoint,
}

impl Receipt {
    /// Compact ASCII form for a response trailer:
    /// `v1.<index>.<base64 leaf hash>.<base64 signed checkpoint>`.
    pub fn encode(&self) -> String {
        format!(
            "v1.{}.{}.{}",
            self.index,
            self.leaf_hash.to_base64(),
            base64::engine::general_purpose::STANDARD.encode(&self.checkpoint.note)
        )
    }

    /// Parses [`Receipt::encode`]'s form and checks the checkpoint's signature.
    pub fn decode(text: &str, key: &VerifierKey) -> Result<Receipt, String> {
        let mut parts = text.trim().split('.');
        if parts.next() != Some("v1") {
            return Err("not a v1 receipt".into());
        }
        let index = parts
            .next()
            .and_then(|i| i.parse().ok())
            .ok_or("bad receipt index")?;
        let leaf_hash = parts
            .next()
            .and_then(Hash::from_base64)
            .ok_or("bad receipt leaf hash")?;
        let note = parts
            .next()
            .and_then(|b64| base64::engine::general_purpose::STANDARD.decode(b64).ok())
            .ok_or("bad receipt checkpoint")?;
        if parts.next().is_some() {
            return Err("trailing data in receipt".into());
        }
        let checkpoint = SignedCheckpoint::open(&note, key)?;
        if checkpoint.checkpoint.size <= index {
            return Err("receipt checkpoint does not cover its index".into());
        }
        Ok(Receipt {
            index,
            leaf_hash,
            checkpoint,
        })
    }

    /// Checks an inclusion proof of this record against the receipt's checkpoint.
    pub fn verify_inclusion(&self, proof: &[Hash]) -> Result<(), crate::ProofError> {
        let head = &self.checkpoint.checkpoint;
        crate::verify_inclusion(proof, self.index, head.size, &self.leaf_hash, &head.root)
    }
}
