//! `tongdao audit`: the security team's tools over an audit log directory — verify, search,
//! proof, checkpoint — and the log's key generation. All of them only read the log, so they
//! are safe while a broker appends to it.

use std::{
    fs,
    io::{BufRead as _, IsTerminal as _, Write as _},
    path::{Path, PathBuf},
    process::ExitCode,
    time::{Duration, Instant},
};

use tongdao_audit::{
    AuditError, AuditRecord, Found, LogReader, LogSigner, Query, SignedCheckpoint,
    SubjectPseudonym, Timestamp, VerifierKey, leaf_hash, verify, verify_inclusion,
};

/// Exit status when the log failed a check or a lookup found nothing to prove.
const EXIT_FAILED: u8 = 1;
/// Exit status for bad arguments or key files (sysexits EX_USAGE, as elsewhere in the CLI).
const EXIT_USAGE: u8 = 64;

/// Audit log tools for the security team.
#[derive(Debug, clap::Args)]
pub(crate) struct AuditArgs {
    #[command(subcommand)]
    command: AuditCommand,
}

// Parsed once per process: boxing the larger variants would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, clap::Subcommand)]
enum AuditCommand {
    /// Recompute the whole log and check it against its signed checkpoints; exits 1 naming
    /// the first bad entry.
    Verify(VerifyArgs),
    /// Find records by exchange, trace, agency, service, purpose, subject, outcome or time.
    Search(SearchArgs),
    /// Print an entry's inclusion proof (checked before printing).
    Proof(ProofArgs),
    /// Print the log's latest signed checkpoint (C2SP signed note).
    Checkpoint(CheckpointArgs),
    /// Generate the log's Ed25519 signing key (OUT, mode 0600) and public key (OUT.pub).
    Keygen(KeygenArgs),
}

#[derive(Debug, clap::Args)]
struct VerifyArgs {
    /// The audit log directory.
    dir: PathBuf,
    /// The log's public key file (signed-note verifier key, as written by `keygen`).
    #[arg(long)]
    public_key: PathBuf,
}

#[derive(Debug, clap::Args)]
struct SearchArgs {
    /// The audit log directory.
    dir: PathBuf,
    /// Exchange id.
    #[arg(long)]
    exchange_id: Option<String>,
    /// W3C trace id.
    #[arg(long)]
    trace_id: Option<String>,
    /// Calling agency's code.
    #[arg(long)]
    agency: Option<String>,
    /// Method, e.g. `HouseholdRegistry/GetTranscript` or the full path.
    #[arg(long)]
    service: Option<String>,
    /// Purpose code, e.g. `015`.
    #[arg(long)]
    purpose: Option<String>,
    /// The subject's national ID, hashed with --pseudonym-key-file before lookup; `-`
    /// reads it from standard input (keeps it out of shell history).
    #[arg(long, requires = "pseudonym_key_file")]
    national_id: Option<String>,
    /// The deployment's pseudonym key (64 hex digits or 32 raw bytes).
    #[arg(long)]
    pseudonym_key_file: Option<PathBuf>,
    /// Outcome: code name (`OK`, `PERMISSION_DENIED`), number, or reason (`CONSENT_REQUIRED`).
    #[arg(long)]
    outcome: Option<String>,
    /// Records at or after this RFC 3339 time.
    #[arg(long)]
    since: Option<String>,
    /// Records before this RFC 3339 time.
    #[arg(long)]
    until: Option<String>,
    /// One JSON object per line (`{"index":N,"record":{…}}`) instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
struct ProofArgs {
    /// The audit log directory.
    dir: PathBuf,
    /// The entry's index.
    #[arg(long)]
    index: u64,
    /// Tree size to prove against (default: the latest checkpoint's).
    #[arg(long)]
    size: Option<u64>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
struct CheckpointArgs {
    /// The audit log directory.
    dir: PathBuf,
    /// Check the checkpoint's signature with this public key file.
    #[arg(long)]
    public_key: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
struct KeygenArgs {
    /// Where to write the signing key; the public key goes to OUT.pub.
    out: PathBuf,
    /// Key name: the log's origin (e.g. `audit.tongdao.example/log1`).
    #[arg(long)]
    name: String,
}

/// Runs `tongdao audit …` and returns the exit status.
pub(crate) fn run(args: AuditArgs) -> ExitCode {
    let result = match args.command {
        AuditCommand::Verify(args) => run_verify(&args),
        AuditCommand::Search(args) => run_search(&args),
        AuditCommand::Proof(args) => run_proof(&args),
        AuditCommand::Checkpoint(args) => run_checkpoint(&args),
        AuditCommand::Keygen(args) => run_keygen(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure { code, message }) => {
            eprintln!("tongdao audit: {message}");
            ExitCode::from(code)
        }
    }
}

/// An error to report, with its exit status.
struct Failure {
    code: u8,
    message: String,
}

fn usage(message: impl std::fmt::Display) -> Failure {
    Failure {
        code: EXIT_USAGE,
        message: message.to_string(),
    }
}

fn failed(message: impl std::fmt::Display) -> Failure {
    Failure {
        code: EXIT_FAILED,
        message: message.to_string(),
    }
}

fn key_failure(error: AuditError) -> Failure {
    match error {
        AuditError::Key(_) | AuditError::Io { .. } => usage(error),
        other => failed(other),
    }
}

fn run_verify(args: &VerifyArgs) -> Result<(), Failure> {
    let key = VerifierKey::from_file(&args.public_key).map_err(key_failure)?;
    let mut progress = Progress::new();
    let result = verify(&args.dir, &key, |done, total| progress.update(done, total));
    progress.finish();
    match result {
        Ok(report) => {
            let head = &report.latest;
            println!(
                "{}: OK — {} entries recomputed; they match {} signed checkpoint(s), the newest of size {} (origin {}, root {})",
                args.dir.display(),
                report.entries,
                report.checkpoints,
                head.size,
                head.origin,
                head.root
            );
            println!(
                "  {} level-0 tiles checked against the entries, {} missing",
                report.tiles_checked, report.tiles_missing
            );
            if report.unsigned_entries > 0 {
                println!(
                    "  {} entries after the newest checkpoint are intact but not yet signed",
                    report.unsigned_entries
                );
            }
            if let Some(offset) = report.torn_tail_at {
                println!(
                    "  the last segment ends in an incomplete frame at byte {offset} (a write in progress, or a crash's unacknowledged tail)"
                );
            }
            Ok(())
        }
        Err(error) => Err(failed(format!(
            "{}: VERIFICATION FAILED: {error}",
            args.dir.display()
        ))),
    }
}

/// Plain-text progress on stderr, only for a terminal and only once a run takes a while.
struct Progress {
    started: Instant,
    last: Option<Instant>,
    terminal: bool,
}

impl Progress {
    fn new() -> Progress {
        Progress {
            started: Instant::now(),
            last: None,
            terminal: std::io::stderr().is_terminal(),
        }
    }

    fn update(&mut self, done: u64, total: u64) {
        let now = Instant::now();
        if !self.terminal || now - self.started < Duration::from_millis(500) {
            return;
        }
        if self
            .last
            .is_some_and(|last| now - last < Duration::from_millis(200))
        {
            return;
        }
        self.last = Some(now);
        let percent = if total == 0 {
            100.0
        } else {
            done as f64 * 100.0 / total as f64
        };
        let width = 30;
        let filled = ((percent / 100.0) * f64::from(width)) as usize;
        eprint!(
            "\rverifying [{}{}] {percent:5.1}% of {} MiB",
            "#".repeat(filled.min(width as usize)),
            " ".repeat(width as usize - filled.min(width as usize)),
            total >> 20
        );
        let _ = std::io::stderr().flush();
    }

    fn finish(&self) {
        if self.last.is_some() {
            eprintln!();
        }
    }
}

fn run_search(args: &SearchArgs) -> Result<(), Failure> {
    let time = |text: &Option<String>, flag: &str| -> Result<Option<Timestamp>, Failure> {
        text.as_deref()
            .map(|t| {
                Timestamp::parse_rfc3339(t).ok_or_else(|| {
                    usage(format!(
                        "{flag} {t:?} is not an RFC 3339 time (e.g. 2026-01-31T08:00:00+08:00)"
                    ))
                })
            })
            .transpose()
    };
    let subject = match (&args.national_id, &args.pseudonym_key_file) {
        (Some(id), Some(key_file)) => {
            let key = tongdao_audit::read_pseudonym_key(key_file).map_err(key_failure)?;
            let id = if id == "-" {
                let mut line = String::new();
                std::io::stdin()
                    .lock()
                    .read_line(&mut line)
                    .map_err(|error| usage(format!("cannot read the national ID: {error}")))?;
                line
            } else {
                id.clone()
            };
            Some(SubjectPseudonym::derive(&key, &id))
        }
        _ => None,
    };
    let query = Query {
        exchange_id: args.exchange_id.clone(),
        trace_id: args.trace_id.clone(),
        agency: args.agency.clone(),
        service: args.service.clone(),
        purpose: args.purpose.clone(),
        subject,
        outcome: args.outcome.clone(),
        since: time(&args.since, "--since")?,
        until: time(&args.until, "--until")?,
    };
    let found = tongdao_audit::search(&args.dir, &query).map_err(failed)?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    if !args.json {
        let _ = writeln!(
            out,
            "{:>9}  {:<27}  {:<10}  {:<36}  {:<12}  {:<44}  {:<7}  OUTCOME",
            "INDEX", "TIME", "KIND", "EXCHANGE", "CLIENT", "SERVICE", "PURPOSE"
        );
    }
    let mut count = 0u64;
    for item in found {
        let Found { index, record } = item.map_err(failed)?;
        count += 1;
        let written = if args.json {
            let json = serde_json::to_string(&record).map_err(failed)?;
            writeln!(out, "{{\"index\":{index},\"record\":{json}}}")
        } else {
            writeln!(out, "{}", table_row(index, &record))
        };
        if written.is_err() {
            // The reader went away (e.g. `| head`): stop quietly.
            return Ok(());
        }
    }
    let _ = out.flush();
    if !args.json {
        eprintln!("{count} record(s)");
    }
    Ok(())
}

fn table_row(index: u64, record: &AuditRecord) -> String {
    let kind = match record {
        AuditRecord::ExchangeIntent(_) => "intent",
        AuditRecord::ExchangeCompletion(_) => "completion",
        AuditRecord::Denial(_) => "denial",
        AuditRecord::ConsentChange(_) => "consent",
        AuditRecord::PolicyChange(_) => "policy",
        AuditRecord::RecipeRun(_) => "recipe",
    };
    let (exchange, client, service, purpose) = match record.exchange() {
        Some(exchange) => (
            exchange.exchange_id.as_str(),
            match &exchange.client {
                tongdao_audit::Client::Agency { agency, .. } => agency.as_str(),
                tongdao_audit::Client::Citizen { .. } => "citizen",
                tongdao_audit::Client::Unrecognised { .. } => "unrecognised",
            },
            exchange.service.as_str(),
            exchange.purpose.as_deref().unwrap_or("-"),
        ),
        None => ("-", "-", "-", "-"),
    };
    let outcome = match record.outcome() {
        Some(outcome) => match &outcome.reason {
            Some(reason) => format!("{} {reason}", outcome.code_name()),
            None => outcome.code_name().to_owned(),
        },
        None => "-".to_owned(),
    };
    format!(
        "{index:>9}  {:<27}  {kind:<10}  {exchange:<36}  {client:<12}  {service:<44}  {purpose:<7}  {outcome}",
        record.at().to_string()
    )
}

fn run_proof(args: &ProofArgs) -> Result<(), Failure> {
    let reader = LogReader::open(&args.dir).map_err(failed)?;
    let head = reader.checkpoint().map(|c| c.checkpoint().clone());
    let size = match (args.size, &head) {
        (Some(size), _) => size,
        (None, Some(head)) if head.size > args.index => head.size,
        (None, _) => reader.size(),
    };
    let proof = reader.inclusion_proof(args.index, size).map_err(|error| {
        failed(format!(
            "no proof for entry {} at size {size}: {error}",
            args.index
        ))
    })?;
    let entry = reader.entry(args.index).map_err(failed)?;
    let leaf = leaf_hash(&entry);
    let root = reader.root(size).map_err(failed)?;
    verify_inclusion(&proof, args.index, size, &leaf, &root)
        .map_err(|error| failed(format!("the computed proof does not check: {error}")))?;
    let signed = head
        .as_ref()
        .is_some_and(|h| h.size == size && h.root == root);
    let record = String::from_utf8_lossy(&entry);
    if args.json {
        let hashes: Vec<String> = proof.iter().map(|h| h.to_base64()).collect();
        let json = serde_json::json!({
            "index": args.index,
            "tree_size": size,
            "leaf_hash": leaf.to_base64(),
            "root": root.to_base64(),
            "matches_signed_checkpoint": signed,
            "inclusion_proof": hashes,
        });
        println!("{json}");
        return Ok(());
    }
    println!("entry {} in the tree of {size} entries", args.index);
    println!("leaf hash  {leaf}");
    println!(
        "root       {root}{}",
        if signed {
            "  (the latest signed checkpoint's)"
        } else {
            "  (not the latest signed checkpoint: check it against one of this size)"
        }
    );
    println!("inclusion proof ({} hashes, RFC 6962):", proof.len());
    for hash in &proof {
        println!("  {hash}");
    }
    println!("record     {record}");
    Ok(())
}

fn run_checkpoint(args: &CheckpointArgs) -> Result<(), Failure> {
    let path = args.dir.join("checkpoint");
    let bytes = fs::read(&path)
        .map_err(|error| failed(format!("cannot read {}: {error}", path.display())))?;
    match &args.public_key {
        Some(key_file) => {
            let key = VerifierKey::from_file(key_file).map_err(key_failure)?;
            SignedCheckpoint::open(&bytes, &key)
                .map_err(|error| failed(format!("{}: {error}", path.display())))?;
            eprintln!("signature by {} checks", key.as_text());
        }
        None => {
            SignedCheckpoint::parse_unverified(&bytes)
                .map_err(|error| failed(format!("{}: {error}", path.display())))?;
        }
    }
    print!("{}", String::from_utf8_lossy(&bytes));
    Ok(())
}

fn run_keygen(args: &KeygenArgs) -> Result<(), Failure> {
    let pair = LogSigner::generate(&args.name).map_err(usage)?;
    let mut public = args.out.as_os_str().to_owned();
    public.push(".pub");
    let public = PathBuf::from(public);
    write_new(&args.out, &pair.signing_key, true)?;
    write_new(&public, &pair.verifier_key, false)?;
    println!("signing key  {} (keep secret)", args.out.display());
    println!("public key   {}: {}", public.display(), pair.verifier_key);
    Ok(())
}

/// Writes a new file, refusing to replace one (a lost signing key cannot be recovered).
fn write_new(path: &Path, text: &str, secret: bool) -> Result<(), Failure> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = secret;
    let mut file = options
        .open(path)
        .map_err(|error| usage(format!("cannot create {}: {error}", path.display())))?;
    writeln!(file, "{text}")
        .and_then(|()| file.sync_all())
        .map_err(|error| failed(format!("cannot write {}: {error}", path.display())))
}
