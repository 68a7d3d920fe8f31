//! `tongdao my-data`: a citizen's own view of the bus, acting with their citizen certificate.

use std::{path::PathBuf, process::ExitCode, time::Duration};

use bytes::Bytes;
use prost::Message as _;
use tongdao_audit::{Hash, SignedCheckpoint, VerifierKey, leaf_hash, verify_inclusion};
use tongdao_schemas::v1::{ListExchangesRequest, ListExchangesResponse};

use crate::{
    EXIT_CALL_FAILED, EXIT_CONFIG,
    client::{self, ClientFiles},
};

/// The transparency method.
pub const LIST_EXCHANGES: &str = "tongdao.v1.MyData/ListExchanges";

/// Subcommands of `tongdao my-data`.
#[derive(Debug, clap::Subcommand)]
pub enum MyDataCommand {
    /// List every exchange about you, verifying each entry's inclusion proof.
    Log(LogArgs),
    /// Download your own records from the five agencies, one JSON file per kind of record.
    Download(crate::download::DownloadArgs),
}

/// Connection flags shared by the `my-data` subcommands (as for `tongdao call`).
#[derive(Debug, Clone, clap::Args)]
pub struct CitizenConnection {
    /// Server address, host:port.
    #[arg(long, env = "TONGDAO_ADDR", default_value = "127.0.0.1:8443")]
    pub addr: String,
    /// Name to verify the server certificate against (default: the host of --addr).
    #[arg(long)]
    pub server_name: Option<String>,
    /// Citizen certificate chain (PEM).
    #[arg(long, env = "TONGDAO_CERT")]
    pub cert: PathBuf,
    /// Citizen private key (PEM).
    #[arg(long, env = "TONGDAO_KEY")]
    pub key: PathBuf,
    /// Trust anchor for the server certificate (PEM), e.g. the GRCA root.
    #[arg(long, env = "TONGDAO_CA")]
    pub ca: PathBuf,
    /// Your full national ID (the certificate carries only its last 4 characters).
    #[arg(long)]
    pub national_id: String,
}

/// Arguments of `tongdao my-data log`.
#[derive(Debug, clap::Args)]
pub struct LogArgs {
    #[command(flatten)]
    pub connection: CitizenConnection,
    /// The broker's published checkpoint key (signed-note verifier key file); when given, the
    /// checkpoint's signature is verified too.
    #[arg(long)]
    pub log_key: Option<PathBuf>,
}

/// Runs a `tongdao my-data` subcommand.
pub async fn run(command: MyDataCommand) -> ExitCode {
    match command {
        MyDataCommand::Log(args) => log(args).await,
        MyDataCommand::Download(args) => crate::download::run(args).await,
    }
}

/// Checks a listing offline: the checkpoint (and its signature when `key` is given), then
/// every record's inclusion proof against it, and that each record is about the exchange it
/// is listed under. Returns the number of records proven.
pub fn verify_listing(
    listing: &ListExchangesResponse,
    key: Option<&VerifierKey>,
) -> Result<usize, String> {
    let checkpoint = match key {
        Some(key) => SignedCheckpoint::open(listing.checkpoint.as_bytes(), key)
            .map_err(|e| format!("the checkpoint's signature does not verify: {e}"))?,
        None => SignedCheckpoint::parse_unverified(listing.checkpoint.as_bytes())
            .map_err(|e| format!("the checkpoint does not parse: {e}"))?,
    };
    let tree = checkpoint.checkpoint();
    if tree.size != listing.tree_size {
        return Err(format!(
            "the listing claims tree size {} but its checkpoint has {}",
            listing.tree_size, tree.size
        ));
    }
    let mut proven = 0;
    for entry in &listing.entries {
        if entry.records.is_empty() {
            return Err(format!("exchange {}: no log record", entry.exchange_id));
        }
        for record in &entry.records {
            let decoded = tongdao_audit::AuditRecord::decode(record.record_json.as_bytes())
                .map_err(|e| format!("record {}: not an audit record: {e}", record.index))?;
            if decoded.exchange().map(|x| x.exchange_id.as_str()) != Some(&entry.exchange_id) {
                return Err(format!(
                    "record {} is not about exchange {}",
                    record.index, entry.exchange_id
                ));
            }
            let mut proof = Vec::with_capacity(record.hashes.len());
            for hash in &record.hashes {
                let bytes: [u8; 32] = hash.as_slice().try_into().map_err(|_| {
                    format!("record {}: a proof hash is not 32 bytes", record.index)
                })?;
                proof.push(Hash(bytes));
            }
            let leaf = leaf_hash(record.record_json.as_bytes());
            verify_inclusion(&proof, record.index, tree.size, &leaf, &tree.root).map_err(|e| {
                format!(
                    "record {} of exchange {} is not proven in the log: {e}",
                    record.index, entry.exchange_id
                )
            })?;
            proven += 1;
        }
    }
    Ok(proven)
}

async fn log(args: LogArgs) -> ExitCode {
    let key = match &args.log_key {
        Some(path) => match VerifierKey::from_file(path) {
            Ok(key) => Some(key),
            Err(error) => {
                eprintln!("tongdao my-data log: --log-key {}: {error}", path.display());
                return ExitCode::from(EXIT_CONFIG);
            }
        },
        None => None,
    };
    let connection = args.connection;
    let files = ClientFiles {
        certificate: connection.cert,
        private_key: connection.key,
        trust_anchors: vec![connection.ca],
    };
    let channel = match client::channel(&files, &connection.addr, connection.server_name.as_deref())
    {
        Ok(channel) => channel,
        Err(error) => {
            eprintln!("tongdao my-data log: {error}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let request = ListExchangesRequest {
        national_id: connection.national_id,
    };
    let body = Bytes::from(request.encode_to_vec());
    let listing = match client::unary(
        channel,
        LIST_EXCHANGES,
        body,
        &[],
        Some(Duration::from_secs(30)),
    )
    .await
    {
        Ok((body, _)) => match ListExchangesResponse::decode(body) {
            Ok(listing) => listing,
            Err(error) => {
                eprintln!("tongdao my-data log: the broker's answer does not decode: {error}");
                return ExitCode::from(EXIT_CALL_FAILED);
            }
        },
        Err(status) => {
            eprintln!("tongdao my-data log: {}", client::describe_status(&status));
            if let Some(cause) = client::transport_cause(&status) {
                eprintln!("  cause: {cause}");
            }
            return ExitCode::from(EXIT_CALL_FAILED);
        }
    };
    print!("{}", render(&listing));
    match verify_listing(&listing, key.as_ref()) {
        Ok(proven) => {
            let signature = if key.is_some() {
                "signature verified"
            } else {
                "signature not checked (give --log-key)"
            };
            println!(
                "verified: {proven} record(s) proven against checkpoint of size {} ({signature})",
                listing.tree_size
            );
            ExitCode::SUCCESS
        }
        Err(problem) => {
            eprintln!("tongdao my-data log: VERIFICATION FAILED: {problem}");
            ExitCode::from(EXIT_CALL_FAILED)
        }
    }
}

/// The listing as text, one block per exchange.
pub fn render(listing: &ListExchangesResponse) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(out, "{} exchange(s) about you", listing.entries.len());
    for entry in &listing.entries {
        let outcome = if entry.allowed {
            "allowed".to_owned()
        } else {
            format!("denied ({})", entry.reason)
        };
        let agency = if entry.agency_code.is_empty() {
            "-".to_owned()
        } else {
            format!("{} {}", entry.agency_code, entry.agency_name)
        };
        let _ = writeln!(out, "\n{}  {}  {outcome}", entry.at, entry.exchange_id);
        let _ = writeln!(out, "  agency:  {agency}");
        let _ = writeln!(out, "  service: {}", entry.method);
        let _ = writeln!(
            out,
            "  purpose: {} {}",
            entry.purpose_code, entry.purpose_name
        );
        if !entry.recipe.is_empty() {
            let step = if entry.recipe_leg.is_empty() {
                "the one-stop run".to_owned()
            } else {
                format!(
                    "step {} of run {}",
                    entry.recipe_leg, entry.parent_exchange_id
                )
            };
            let _ = writeln!(out, "  one-stop: {} ({step})", entry.recipe);
        }
        if !entry.rule_id.is_empty() {
            let _ = writeln!(
                out,
                "  rule:    {} (legal basis {}; {})",
                entry.rule_id, entry.legal_basis, entry.citation
            );
        }
        if !entry.data_classes.is_empty() {
            let _ = writeln!(out, "  data:    {}", entry.data_classes.join(", "));
        }
        let indexes: Vec<String> = entry.records.iter().map(|r| r.index.to_string()).collect();
        let _ = writeln!(out, "  log:     entries {}", indexes.join(", "));
    }
    if listing.withheld > 0 {
        let _ = writeln!(
            out,
            "\n{} entries withheld until {} (deferred disclosure)",
            listing.withheld, listing.withheld_until
        );
    }
    out
}
