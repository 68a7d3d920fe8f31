//! The on-disk layout of a dev PKI directory, and loading it back.
//!
//! ```text
//! pki.toml              state: serial counter, CA revocations, which file is what
//! profile.toml          the profile this PKI issues by
//! grca.crt grca.key grca.crl        root (trust anchor), its key, its (empty) CRL of CAs
//! gca.crt  gca.key  gca.crl         agency/server CA
//! moica.crt moica.key moica.crl     citizen CA
//! broker.crt broker.key             broker server cert; .crt = leaf + GCA
//! agencies/<name>.crt|.key          agency/unit client certs; .crt = leaf + GCA
//! citizens/<name>.crt|.key          citizen client certs; .crt = leaf + MOICA
//! adapters/<name>.crt|.key          adapter server certs; .crt = leaf + GCA
//! other/<name>.crt|.key             hand-built test certs (RawRequest)
//! ```
//!
//! Keys are mode 0600. Every file is written to a temporary name, synced and renamed, so an
//! interrupted run leaves either the old or the new file, never half of one; `pki.toml` is
//! written last so it never names a file that is not there yet.

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Component, Path, PathBuf};

use rcgen::KeyPair;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;

use crate::crl::{RevocationReason, RevocationStatus, normalize_serial, serial_hex};
use crate::issue::{
    CertificateAuthority, DevPki, GCA, GRCA, IssuedCert, MOICA, PkiError, Revocation, first_cert,
    pem,
};
use crate::profile::{PrincipalKind, Profile};

/// The state file's name inside a PKI directory.
pub const STATE_FILE: &str = "pki.toml";
/// The profile copy's name inside a PKI directory.
pub const PROFILE_FILE: &str = "profile.toml";
/// Format version of `pki.toml`.
const STATE_VERSION: u32 = 1;
/// Mode of private keys.
const KEY_MODE: u32 = 0o600;
/// Mode of certificates, CRLs and state.
const PUBLIC_MODE: u32 = 0o644;
/// The status word `pki.toml` uses for a suspension.
const HOLD: &str = "certificate-hold";

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StateFile {
    version: u32,
    cn_prefix: String,
    next_serial: u64,
    profile: String,
    #[serde(rename = "ca")]
    cas: Vec<CaEntry>,
    #[serde(rename = "cert", default)]
    certs: Vec<CertEntry>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaEntry {
    authority: String,
    serial: String,
    cert: String,
    key: String,
    crl: String,
    crl_number: u64,
    #[serde(rename = "revoked", default, skip_serializing_if = "Vec::is_empty")]
    revocations: Vec<RevocationEntry>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RevocationEntry {
    serial: String,
    /// A [`RevocationReason`] name, or `certificate-hold` for a suspension.
    reason: String,
    at: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CertEntry {
    path: String,
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kind: Option<PrincipalKind>,
    authority: String,
    serial: String,
    subject_cn: String,
    not_before: String,
    not_after: String,
    cert: String,
    key: String,
}

impl DevPki {
    /// Writes the whole PKI to `dir` (created if needed) in the layout above; CRLs are
    /// re-signed, so this also serves `tongdao pki crl`.
    pub fn write_to(&self, dir: &Path) -> Result<(), PkiError> {
        let mut dirs = vec![dir.to_owned()];
        create_dir(dir)?;
        let mut cas = Vec::new();
        for ca in self.cas() {
            let stem = ca.authority().to_lowercase();
            let entry = CaEntry {
                authority: ca.authority().to_owned(),
                serial: ca.serial_hex().to_owned(),
                cert: format!("{stem}.crt"),
                key: format!("{stem}.key"),
                crl: format!("{stem}.crl"),
                crl_number: ca.crl_number(),
                revocations: ca
                    .revocations()
                    .iter()
                    .map(|(serial, r)| RevocationEntry {
                        serial: serial.clone(),
                        reason: match r.status {
                            RevocationStatus::Suspended => HOLD.to_owned(),
                            RevocationStatus::Revoked(reason) => reason.as_str().to_owned(),
                        },
                        at: format_time(r.at),
                    })
                    .collect(),
            };
            write_atomic(
                &dir.join(&entry.cert),
                ca.cert_pem().as_bytes(),
                PUBLIC_MODE,
            )?;
            write_atomic(&dir.join(&entry.key), ca.key_pem().as_bytes(), KEY_MODE)?;
            write_atomic(&dir.join(&entry.crl), ca.crl_pem()?.as_bytes(), PUBLIC_MODE)?;
            cas.push(entry);
        }
        let mut certs = Vec::new();
        for leaf in self.leaves() {
            let entry = CertEntry {
                path: leaf.path.clone(),
                name: leaf.name.clone(),
                kind: leaf.kind,
                authority: leaf.authority.clone(),
                serial: leaf.serial_hex.clone(),
                subject_cn: leaf.subject_cn.clone(),
                not_before: format_time(leaf.not_before),
                not_after: format_time(leaf.not_after),
                cert: format!("{}.crt", leaf.path),
                key: format!("{}.key", leaf.path),
            };
            let cert_path = dir.join(&entry.cert);
            if let Some(parent) = cert_path.parent()
                && !dirs.iter().any(|d| d == parent)
            {
                create_dir(parent)?;
                dirs.push(parent.to_owned());
            }
            write_atomic(&cert_path, leaf.chain_pem.as_bytes(), PUBLIC_MODE)?;
            write_atomic(&dir.join(&entry.key), leaf.key_pem().as_bytes(), KEY_MODE)?;
            certs.push(entry);
        }
        let profile = format!(
            "# The profile this dev PKI was issued with (see certs/profile.toml for comments).\n{}",
            self.profile.to_toml_string()
        );
        write_atomic(&dir.join(PROFILE_FILE), profile.as_bytes(), PUBLIC_MODE)?;
        let state = StateFile {
            version: STATE_VERSION,
            cn_prefix: self.cn_prefix.clone(),
            next_serial: self.next_serial,
            profile: PROFILE_FILE.to_owned(),
            cas,
            certs,
        };
        let text = toml::to_string(&state)
            .map_err(|e| PkiError::State(format!("cannot serialise state: {e}")))?;
        let text = format!(
            "# Tongdao dev PKI state, written by tongdao-pki. Change it with `tongdao pki`.\n{text}"
        );
        write_atomic(&dir.join(STATE_FILE), text.as_bytes(), PUBLIC_MODE)?;
        // Make the renames themselves durable.
        for d in dirs {
            let _ = fs::File::open(&d).and_then(|f| f.sync_all());
        }
        Ok(())
    }

    /// Loads a PKI written by [`DevPki::write_to`], checking that keys match certificates
    /// and serials match the state file.
    pub fn load_from(dir: &Path) -> Result<DevPki, PkiError> {
        let state: StateFile = toml::from_str(&read(&dir.join(STATE_FILE))?)
            .map_err(|e| PkiError::State(format!("{STATE_FILE}: {e}")))?;
        if state.version != STATE_VERSION {
            return Err(PkiError::State(format!(
                "{STATE_FILE} version {} is not {STATE_VERSION}",
                state.version
            )));
        }
        let profile = Profile::load(&inside(dir, &state.profile)?)?;
        let load_ca = |name: &str| -> Result<CertificateAuthority, PkiError> {
            let entry = state
                .cas
                .iter()
                .find(|c| c.authority == name)
                .ok_or_else(|| PkiError::State(format!("{STATE_FILE} has no CA {name}")))?;
            let cert = first_cert(&read(&inside(dir, &entry.cert)?)?)
                .ok_or_else(|| PkiError::State(format!("{} holds no certificate", entry.cert)))?;
            let key = KeyPair::from_pem(&read(&inside(dir, &entry.key)?)?)?;
            let mut ca = CertificateAuthority::from_parts(name, cert, key)?;
            if Some(ca.serial_hex().to_owned()) != normalize_serial(&entry.serial) {
                return Err(PkiError::State(format!(
                    "{} serial differs from state",
                    entry.cert
                )));
            }
            let mut revocations = BTreeMap::new();
            for r in &entry.revocations {
                let serial = normalize_serial(&r.serial)
                    .ok_or_else(|| PkiError::State(format!("bad serial {:?}", r.serial)))?;
                let status = if r.reason == HOLD {
                    RevocationStatus::Suspended
                } else {
                    RevocationStatus::Revoked(
                        r.reason
                            .parse::<RevocationReason>()
                            .map_err(|e| PkiError::State(e.to_string()))?,
                    )
                };
                revocations.insert(
                    serial,
                    Revocation {
                        status,
                        at: parse_time(&r.at)?,
                    },
                );
            }
            ca.restore([], revocations, entry.crl_number);
            Ok(ca)
        };
        let mut grca = load_ca(GRCA)?;
        let mut gca = load_ca(GCA)?;
        let mut moica = load_ca(MOICA)?;
        grca.restore(
            [gca.serial_hex().to_owned(), moica.serial_hex().to_owned()],
            grca.revocations().clone(),
            grca.crl_number(),
        );

        let mut leaves = Vec::new();
        let mut highest = 0u64;
        for entry in &state.certs {
            let chain_pem = read(&inside(dir, &entry.cert)?)?;
            let key_pem = read(&inside(dir, &entry.key)?)?;
            let cert_der = first_cert(&chain_pem)
                .ok_or_else(|| PkiError::State(format!("{} holds no certificate", entry.cert)))?;
            let (_, parsed) = X509Certificate::from_der(&cert_der)
                .map_err(|e| PkiError::State(format!("{}: {e}", entry.cert)))?;
            let serial = serial_hex(parsed.raw_serial());
            if Some(&serial) != normalize_serial(&entry.serial).as_ref() {
                return Err(PkiError::State(format!(
                    "{} serial differs from state",
                    entry.cert
                )));
            }
            highest = highest.max(u64::from_str_radix(&serial, 16).unwrap_or(u64::MAX));
            let ca = match entry.authority.as_str() {
                GCA => &mut gca,
                MOICA => &mut moica,
                GRCA => &mut grca,
                other => return Err(PkiError::State(format!("unknown authority {other}"))),
            };
            ca.restore([serial.clone()], ca.revocations().clone(), ca.crl_number());
            leaves.push(IssuedCert {
                name: entry.name.clone(),
                path: entry.path.clone(),
                kind: entry.kind,
                authority: entry.authority.clone(),
                serial_hex: serial,
                subject_cn: entry.subject_cn.clone(),
                not_before: parse_time(&entry.not_before)?,
                not_after: parse_time(&entry.not_after)?,
                cert_pem: pem("CERTIFICATE", &cert_der),
                cert_der,
                chain_pem,
                key_pem,
            });
        }
        if highest >= state.next_serial {
            return Err(PkiError::State(format!(
                "next_serial {:x} is not above issued serial {highest:x}",
                state.next_serial
            )));
        }
        Ok(DevPki {
            profile,
            cn_prefix: state.cn_prefix,
            next_serial: state.next_serial,
            grca,
            gca,
            moica,
            leaves,
        })
    }
}

/// Joins a state-file path to the PKI directory, refusing anything that could leave it
/// (`pki.toml` is editable by hand).
fn inside(dir: &Path, relative: &str) -> Result<PathBuf, PkiError> {
    let path = Path::new(relative);
    if relative.is_empty() || !path.components().all(|c| matches!(c, Component::Normal(_))) {
        return Err(PkiError::State(format!(
            "path {relative:?} leaves the PKI directory"
        )));
    }
    Ok(dir.join(path))
}

fn read(path: &Path) -> Result<String, PkiError> {
    fs::read_to_string(path).map_err(|source| PkiError::Io {
        path: path.to_owned(),
        source,
    })
}

fn create_dir(dir: &Path) -> Result<(), PkiError> {
    fs::create_dir_all(dir).map_err(|source| PkiError::Io {
        path: dir.to_owned(),
        source,
    })
}

/// Writes `data` to `path` atomically: a new temporary file in the same directory, created
/// with `mode` (so a key is never readable by others, not even briefly), synced, renamed.
pub(crate) fn write_atomic(path: &Path, data: &[u8], mode: u32) -> Result<(), PkiError> {
    let io = |source| PkiError::Io {
        path: path.to_owned(),
        source,
    };
    let parent = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = parent.join(format!(".{name}.{}.tmp", std::process::id()));
    // A stale temporary from a crashed run with the same pid: create_new below must not
    // follow whatever it is.
    let _ = fs::remove_file(&tmp);
    let result = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)
        .and_then(|mut file| {
            file.write_all(data)?;
            file.sync_all()
        })
        .and_then(|()| fs::rename(&tmp, path));
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(io)
}

fn format_time(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

fn parse_time(text: &str) -> Result<OffsetDateTime, PkiError> {
    OffsetDateTime::parse(text, &Rfc3339)
        .map_err(|e| PkiError::State(format!("bad time {text:?}: {e}")))
}
