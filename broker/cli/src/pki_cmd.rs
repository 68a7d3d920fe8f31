//! `tongdao pki`: create and operate the development PKI (crate tongdao-pki) in a directory.
//!
//! Every command loads the directory, changes it, and writes it back (atomically, file by
//! file); the layout is documented in certs/README.md.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use tongdao_pki::{
    AgencyRequest, CitizenRequest, DevPki, IssuedCert, Oid, Profile, RevocationReason, STATE_FILE,
    ServerRequest, Validity,
};

/// Arguments of `tongdao pki`.
#[derive(Debug, Args)]
pub(crate) struct PkiArgs {
    /// The PKI directory.
    #[arg(long, env = "TONGDAO_PKI_DIR", default_value = "pki")]
    pub(crate) dir: PathBuf,
    /// What to do.
    #[command(subcommand)]
    pub(crate) command: PkiCommand,
}

/// `tongdao pki` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum PkiCommand {
    /// Create a PKI: GRCA, GCA, MOICA and the demo identities.
    Init {
        /// Profile TOML to issue by (default: the embedded certs/profile.toml).
        #[arg(long)]
        profile: Option<PathBuf>,
        /// Create only the three CAs, no demo certificates.
        #[arg(long)]
        empty: bool,
        /// Replace a PKI already in the directory.
        #[arg(long)]
        force: bool,
    },
    /// Issue a leaf certificate.
    #[command(subcommand)]
    Issue(IssueKind),
    /// Revoke a certificate permanently.
    Revoke {
        /// Path (citizens/valid), unique name, or serial.
        cert: String,
        /// RFC 5280 reason, kebab-case (key-compromise, superseded, ...).
        #[arg(long, default_value = "unspecified")]
        reason: RevocationReason,
    },
    /// Suspend (停用) a certificate: certificateHold in its CA's CRL.
    Suspend {
        /// Path, unique name, or serial.
        cert: String,
    },
    /// Resume (復用) a suspended certificate.
    Resume {
        /// Path, unique name, or serial.
        cert: String,
    },
    /// Re-sign every CRL (each claims to be current for 7 days).
    Crl,
    /// List the certificates, or show the identity read from one.
    Show {
        /// Path, unique name, serial, or a PEM certificate file.
        cert: Option<String>,
    },
}

/// `tongdao pki issue` kinds.
#[derive(Debug, Subcommand)]
pub(crate) enum IssueKind {
    /// An agency (機關) or unit (單位) client certificate, from GCA.
    Agency {
        /// File name under agencies/ ([a-z0-9-]).
        name: String,
        /// Agency name (subject O and CN).
        #[arg(long)]
        agency_name: String,
        /// Government OID (e.g. 2.16.886.101.20003.20004.99001).
        #[arg(long)]
        oid: Oid,
        /// Unit name: makes it a unit certificate.
        #[arg(long)]
        unit: Option<String>,
        /// Validity in days.
        #[arg(long, default_value_t = 365)]
        days: i64,
    },
    /// A citizen (自然人) client certificate, from MOICA.
    Citizen {
        /// File name under citizens/ ([a-z0-9-]).
        name: String,
        /// The person's name (subject CN).
        #[arg(long)]
        person: String,
        /// Last four digits of the national ID.
        #[arg(long)]
        last4: String,
        /// Validity in days.
        #[arg(long, default_value_t = 365)]
        days: i64,
    },
    /// An adapter (server) certificate, from GCA.
    Server {
        /// File name under adapters/ ([a-z0-9-]).
        name: String,
        /// DNS name SAN (repeatable).
        #[arg(long = "dns")]
        dns: Vec<String>,
        /// IP address SAN (repeatable).
        #[arg(long = "ip")]
        ip: Vec<IpAddr>,
        /// The operator's government OID.
        #[arg(long)]
        oid: Option<Oid>,
        /// Validity in days.
        #[arg(long, default_value_t = 365)]
        days: i64,
    },
}

/// Runs a `tongdao pki` command.
pub(crate) fn run(args: PkiArgs) -> Result<(), Box<dyn std::error::Error>> {
    let dir = args.dir.as_path();
    match args.command {
        PkiCommand::Init {
            profile,
            empty,
            force,
        } => {
            if dir.join(STATE_FILE).exists() && !force {
                return Err(format!(
                    "{} already holds a PKI; use --force to replace it",
                    dir.display()
                )
                .into());
            }
            let profile = match profile {
                Some(path) => Profile::load(&path)?,
                None => Profile::embedded(),
            };
            let pki = if empty {
                DevPki::new(profile)?
            } else {
                DevPki::demo(profile)?
            };
            pki.write_to(dir)?;
            println!("created PKI in {}", dir.display());
            list(&pki);
        }
        PkiCommand::Issue(kind) => {
            let mut pki = DevPki::load_from(dir)?;
            let leaf = match kind {
                IssueKind::Agency {
                    name,
                    agency_name,
                    oid,
                    unit,
                    days,
                } => {
                    let mut request =
                        AgencyRequest::new(agency_name, oid).validity(Validity::days(days));
                    if let Some(unit) = unit {
                        request = request.unit(unit);
                    }
                    pki.issue(&name, request)?.clone()
                }
                IssueKind::Citizen {
                    name,
                    person,
                    last4,
                    days,
                } => pki
                    .issue(
                        &name,
                        CitizenRequest::new(person, last4).validity(Validity::days(days)),
                    )?
                    .clone(),
                IssueKind::Server {
                    name,
                    dns,
                    ip,
                    oid,
                    days,
                } => {
                    let mut request = ServerRequest::new(dns).validity(Validity::days(days));
                    request.ip_addresses = ip;
                    request.government_oid = oid;
                    pki.issue(&name, request)?.clone()
                }
            };
            pki.write_to(dir)?;
            println!(
                "issued {}.crt/.key (serial {}, {})",
                leaf.path, leaf.serial_hex, leaf.authority
            );
        }
        PkiCommand::Revoke { cert, reason } => {
            change(dir, &cert, |pki| pki.revoke(&cert, reason), "revoked")?;
        }
        PkiCommand::Suspend { cert } => {
            change(dir, &cert, |pki| pki.suspend(&cert), "suspended")?;
        }
        PkiCommand::Resume { cert } => {
            change(dir, &cert, |pki| pki.resume(&cert), "resumed")?;
        }
        PkiCommand::Crl => {
            let pki = DevPki::load_from(dir)?;
            pki.write_to(dir)?;
            println!("CRLs re-signed in {}", dir.display());
        }
        PkiCommand::Show { cert: None } => list(&DevPki::load_from(dir)?),
        PkiCommand::Show { cert: Some(query) } => show(dir, &query)?,
    }
    Ok(())
}

/// Loads, applies one revocation change, writes back (CRLs included).
fn change(
    dir: &Path,
    cert: &str,
    apply: impl FnOnce(&mut DevPki) -> Result<(), tongdao_pki::PkiError>,
    done: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut pki = DevPki::load_from(dir)?;
    apply(&mut pki)?;
    pki.write_to(dir)?;
    println!("{done} {cert}; CRLs rewritten");
    Ok(())
}

fn status(pki: &DevPki, leaf: &IssuedCert) -> String {
    match pki.status(&leaf.serial_hex) {
        Some(status) => status.to_string(),
        None if leaf.not_after < time::OffsetDateTime::now_utc() => "expired".into(),
        None => "valid".into(),
    }
}

/// Prints one line per certificate. Written through a locked stdout so that piping into
/// `head` ends the listing instead of panicking on a broken pipe.
fn list(pki: &DevPki) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    for ca in pki.cas() {
        let file = format!("{}.crt", ca.authority().to_lowercase());
        if writeln!(out, "{file:<28} CA      serial {}", ca.serial_hex()).is_err() {
            return;
        }
    }
    for leaf in pki.leaves() {
        let kind = leaf.kind.map_or("raw".to_owned(), |k| k.to_string());
        let line = writeln!(
            out,
            "{:<28} {:<7} serial {:<6} {:<6} until {}  {}  {}",
            format!("{}.crt", leaf.path),
            kind,
            leaf.serial_hex,
            leaf.authority,
            leaf.not_after.date(),
            status(pki, leaf),
            leaf.subject_cn,
        );
        if line.is_err() {
            return;
        }
    }
}

/// Shows the identity tongdao-pki reads from a PKI certificate or a PEM file.
fn show(dir: &Path, query: &str) -> Result<(), Box<dyn std::error::Error>> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;

    let pki = DevPki::load_from(dir)?;
    let chain: Vec<CertificateDer<'static>> = match pki.find(query) {
        Some(leaf) => vec![leaf.cert_der.clone()],
        None => CertificateDer::pem_file_iter(query)
            .map_err(|e| {
                format!("{query} is neither a certificate of this PKI nor a PEM file: {e}")
            })?
            .collect::<Result<_, _>>()?,
    };
    let (leaf, intermediates) = chain.split_first().ok_or("no certificate found")?;
    let identity = pki.trust_store()?.identify_presented(leaf, intermediates)?;
    println!("{identity:#?}");
    if let Some(status) = pki
        .find(&identity.serial_hex)
        .and_then(|l| pki.status(&l.serial_hex))
    {
        println!("status: {status}");
    }
    Ok(())
}
