//! `tongdao consent`: a citizen grants, revokes and lists their consents with their citizen
//! certificate; anyone verifies a consent artefact offline with the broker's published key.

use std::{path::PathBuf, process::ExitCode};

use tongdao_consent::{Timestamp, VerifierKey, verify_artefact};
use tongdao_schemas::v1::{
    ConsentEntry, GrantConsentRequest, ListConsentsRequest, RevokeConsentRequest,
    consent_client::ConsentClient,
};

use crate::{
    EXIT_CALL_FAILED, EXIT_CONFIG,
    client::{self, ClientFiles},
};

/// Subcommands of `tongdao consent`.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum ConsentCommand {
    /// Grant an agency a consent; prints the consent with its signed artefact.
    Grant(GrantArgs),
    /// Revoke one of your consents (in force at once on every broker sharing the store).
    Revoke(RevokeArgs),
    /// List your consents with their status and artefacts.
    List(ListArgs),
    /// Verify a consent artefact offline with the broker's published consent key.
    Verify(VerifyArgs),
}

/// How to reach the broker as a citizen (the flags of `tongdao call`).
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct Citizen {
    /// Server address, host:port.
    #[arg(long, env = "TONGDAO_ADDR", default_value = "127.0.0.1:8443")]
    addr: String,
    /// Name to verify the server certificate against (default: the host of --addr).
    #[arg(long)]
    server_name: Option<String>,
    /// Citizen certificate chain (PEM).
    #[arg(long, env = "TONGDAO_CERT")]
    cert: PathBuf,
    /// Citizen private key (PEM).
    #[arg(long, env = "TONGDAO_KEY")]
    key: PathBuf,
    /// Trust anchor for the server certificate (PEM), e.g. the GRCA root.
    #[arg(long, env = "TONGDAO_CA")]
    ca: PathBuf,
    /// Your full national ID (the certificate carries only its last 4 characters).
    #[arg(long)]
    national_id: String,
}

/// Arguments of `tongdao consent grant`.
#[derive(Debug, clap::Args)]
pub(crate) struct GrantArgs {
    #[command(flatten)]
    citizen: Citizen,
    /// Agency code of the agency allowed to use the consent, e.g. 379010000A.
    #[arg(long)]
    grantee: String,
    /// Method path covered, repeatable, e.g. /tongdao.tax.v1.TaxRegistry/ListIncome.
    #[arg(long = "service", required = true)]
    services: Vec<String>,
    /// Response field covered, repeatable (`items` covers every `items.…`).
    #[arg(long = "field", required = true)]
    fields: Vec<String>,
    /// PDPA purpose code, e.g. 057.
    #[arg(long)]
    purpose: String,
    /// Good for one exchange only.
    #[arg(long)]
    single_use: bool,
    /// End of validity (exclusive), `YYYY-MM-DDTHH:MM:SSZ`.
    #[arg(long, conflicts_with = "valid_for_days")]
    not_after: Option<String>,
    /// Validity from now, in days (default 30).
    #[arg(long)]
    valid_for_days: Option<u32>,
}

/// Arguments of `tongdao consent revoke`.
#[derive(Debug, clap::Args)]
pub(crate) struct RevokeArgs {
    #[command(flatten)]
    citizen: Citizen,
    /// The consent id.
    consent_id: String,
}

/// Arguments of `tongdao consent list`.
#[derive(Debug, clap::Args)]
pub(crate) struct ListArgs {
    #[command(flatten)]
    citizen: Citizen,
}

/// Arguments of `tongdao consent verify`.
#[derive(Debug, clap::Args)]
pub(crate) struct VerifyArgs {
    /// The artefact (`tdc1.…`), `@FILE` to read it from a file, or `-` for standard input.
    artefact: String,
    /// The broker's consent verifier key file (`<name>+<id>+<base64>`), as the directory
    /// publishes it.
    #[arg(long)]
    key: PathBuf,
}

/// Runs a `tongdao consent` subcommand.
pub(crate) async fn run(command: ConsentCommand) -> ExitCode {
    let result = match command {
        ConsentCommand::Grant(args) => grant(args).await,
        ConsentCommand::Revoke(args) => revoke(args).await,
        ConsentCommand::List(args) => list(args).await,
        ConsentCommand::Verify(args) => return verify(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(message)) => {
            eprintln!("tongdao consent: {message}");
            ExitCode::from(EXIT_CONFIG)
        }
        Err(Failure::Call(status)) => {
            eprintln!(
                "tongdao consent: refused: {}",
                client::describe_status(&status)
            );
            ExitCode::from(EXIT_CALL_FAILED)
        }
    }
}

enum Failure {
    Usage(String),
    Call(tonic::Status),
}

impl From<tonic::Status> for Failure {
    fn from(status: tonic::Status) -> Self {
        Failure::Call(status)
    }
}

fn connect(citizen: &Citizen) -> Result<ConsentClient<tonic::transport::Channel>, Failure> {
    let files = ClientFiles {
        certificate: citizen.cert.clone(),
        private_key: citizen.key.clone(),
        trust_anchors: vec![citizen.ca.clone()],
    };
    client::channel(&files, &citizen.addr, citizen.server_name.as_deref())
        .map(ConsentClient::new)
        .map_err(Failure::Usage)
}

async fn grant(args: GrantArgs) -> Result<(), Failure> {
    let now = Timestamp::now();
    let not_after = match (&args.not_after, args.valid_for_days) {
        (Some(text), _) => Timestamp::parse(text).ok_or_else(|| {
            Failure::Usage("--not-after: expected YYYY-MM-DDTHH:MM:SSZ (UTC)".into())
        })?,
        (None, days) => now
            .plus_seconds(i64::from(days.unwrap_or(30)) * 86_400)
            .ok_or_else(|| Failure::Usage("--valid-for-days: too far ahead".into()))?,
    };
    let mut consent = connect(&args.citizen)?;
    let response = consent
        .grant(GrantConsentRequest {
            national_id: args.citizen.national_id.clone(),
            grantee: args.grantee,
            services: args.services,
            fields: args.fields,
            purpose: args.purpose,
            single_use: args.single_use,
            not_after_unix: not_after.unix_seconds(),
        })
        .await?
        .into_inner();
    if let Some(entry) = response.consent {
        println!("{}", to_json(&entry));
    }
    Ok(())
}

async fn revoke(args: RevokeArgs) -> Result<(), Failure> {
    let mut consent = connect(&args.citizen)?;
    let response = consent
        .revoke(RevokeConsentRequest {
            national_id: args.citizen.national_id.clone(),
            consent_id: args.consent_id.clone(),
        })
        .await?
        .into_inner();
    let at = time_text(response.revoked_at_unix);
    if response.already_revoked {
        println!("consent {} was already revoked at {at}", args.consent_id);
    } else {
        println!("consent {} revoked at {at}", args.consent_id);
    }
    Ok(())
}

async fn list(args: ListArgs) -> Result<(), Failure> {
    let mut consent = connect(&args.citizen)?;
    let response = consent
        .list(ListConsentsRequest {
            national_id: args.citizen.national_id.clone(),
        })
        .await?
        .into_inner();
    let entries: Vec<serde_json::Value> = response.consents.iter().map(to_value).collect();
    let out = serde_json::json!({
        "verifier_key": response.verifier_key,
        "consents": entries,
    });
    println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
    Ok(())
}

fn verify(args: &VerifyArgs) -> ExitCode {
    let text = match read_artefact(&args.artefact) {
        Ok(text) => text,
        Err(message) => {
            eprintln!("tongdao consent verify: {message}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let key = match VerifierKey::from_file(&args.key) {
        Ok(key) => key,
        Err(error) => {
            eprintln!("tongdao consent verify: {error}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    match verify_offline(&text, &key) {
        Ok(out) => {
            println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
            eprintln!(
                "signature good: the broker recorded this grant (whether it is still unrevoked and unused only the broker knows)"
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("tongdao consent verify: NOT VALID: {error}");
            ExitCode::from(EXIT_CALL_FAILED)
        }
    }
}

/// What `tongdao consent verify` checks and prints: the artefact's signature against `key`,
/// no network. `Ok` holds the consent as JSON; `Err` why the artefact must not be relied on.
pub fn verify_offline(
    artefact: &str,
    key: &VerifierKey,
) -> Result<serde_json::Value, tongdao_consent::ArtefactError> {
    verify_artefact(artefact.trim(), key).map(|consent| {
        let validity = consent.validity();
        serde_json::json!({
            "verified": true,
            "key": key.key_name(),
            "consent_id": consent.id().to_string(),
            "subject": consent.subject().as_str(),
            "grantee": consent.grantee().as_str(),
            "services": consent.services(),
            "fields": consent.fields(),
            "purpose": consent.purpose().as_str(),
            "single_use": validity.is_single_use(),
            "not_after": validity.not_after().to_string(),
            "granted_at": consent.granted_at().to_string(),
        })
    })
}

fn read_artefact(arg: &str) -> Result<String, String> {
    if arg == "-" {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
            .map_err(|e| format!("reading standard input: {e}"))?;
        return Ok(text);
    }
    if let Some(path) = arg.strip_prefix('@') {
        return std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"));
    }
    Ok(arg.to_owned())
}

fn time_text(unix: i64) -> String {
    Timestamp::from_unix_seconds(unix).map_or_else(|| unix.to_string(), |t| t.to_string())
}

fn to_value(entry: &ConsentEntry) -> serde_json::Value {
    let optional = |unix: i64| (unix != 0).then(|| time_text(unix));
    serde_json::json!({
        "consent_id": entry.consent_id,
        "status": entry.status,
        "grantee": entry.grantee,
        "services": entry.services,
        "fields": entry.fields,
        "purpose": entry.purpose,
        "single_use": entry.single_use,
        "not_after": time_text(entry.not_after_unix),
        "granted_at": time_text(entry.granted_at_unix),
        "revoked_at": optional(entry.revoked_at_unix),
        "used_at": optional(entry.used_at_unix),
        "artefact": entry.artefact,
    })
}

fn to_json(entry: &ConsentEntry) -> String {
    serde_json::to_string_pretty(&to_value(entry)).unwrap_or_default()
}

/// The demo's consent step: the welfare office reads the sandbox citizen's income only with
/// their consent — refused without one, allowed once with a single-use consent the citizen
/// grants with their certificate, refused when it is used up; the artefact verified offline.
pub(crate) async fn demo(sandbox: &crate::sandbox::Sandbox) -> Result<(), String> {
    use bytes::Bytes;
    use prost::Message as _;
    use tongdao_schemas::tax::v1::{ListIncomeRequest, ListIncomeResponse};

    const LIST_INCOME: &str = "/tongdao.tax.v1.TaxRegistry/ListIncome";
    let addr = sandbox.broker_addr().to_string();
    let server_name = Some(sandbox.broker_server_name());
    let subject = sandbox.citizen_id().to_owned();
    let welfare = sandbox.identity("agencies/taipei-welfare");
    let body = Bytes::from(
        ListIncomeRequest {
            national_id: subject.clone(),
            income_year_roc: 113,
        }
        .encode_to_vec(),
    );
    let income = |consent: Option<String>| {
        let mut metadata = vec![("tongdao-purpose".to_owned(), "057".to_owned())];
        metadata.extend(consent.map(|c| ("tongdao-consent".to_owned(), c)));
        let channel = client::channel(&welfare, &addr, server_name);
        let body = body.clone();
        async move {
            let channel = channel.map_err(tonic::Status::internal)?;
            client::unary(
                channel,
                LIST_INCOME,
                body,
                &metadata,
                Some(std::time::Duration::from_secs(5)),
            )
            .await
        }
    };
    let refusal =
        |result: Result<(Bytes, tonic::metadata::MetadataMap), tonic::Status>| match result {
            Ok(_) => "unexpectedly allowed".to_owned(),
            Err(status) => format!("refused {}", client::describe_status(&status)),
        };
    println!("   without a consent: {}", refusal(income(None).await));

    let channel = client::channel(&sandbox.identity("citizens/valid"), &addr, server_name)?;
    let not_after = Timestamp::now()
        .plus_seconds(3600)
        .ok_or("clock out of range")?;
    let granted = ConsentClient::new(channel)
        .grant(GrantConsentRequest {
            national_id: subject,
            grantee: "379010000A".to_owned(),
            services: vec![LIST_INCOME.to_owned()],
            fields: vec![
                "income_year_roc".to_owned(),
                "earner_name".to_owned(),
                "items".to_owned(),
            ],
            purpose: "057".to_owned(),
            single_use: true,
            not_after_unix: not_after.unix_seconds(),
        })
        .await
        .map_err(|status| format!("grant: {}", client::describe_status(&status)))?
        .into_inner()
        .consent
        .ok_or("grant: no consent returned")?;
    println!(
        "   the citizen grants a single-use consent with their MOICA certificate: consent {} (artefact {} bytes, signed by the broker)",
        granted.consent_id,
        granted.artefact.len()
    );
    match income(Some(granted.consent_id.clone())).await {
        Ok((body, _)) => {
            let reply = ListIncomeResponse::decode(body).map_err(|e| format!("reply: {e}"))?;
            println!(
                "   OK  with the consent: {} income item(s) for 113, payers masked by rule tax-income-welfare-consent",
                reply.items.len()
            );
        }
        Err(status) => println!(
            "   FAILED with the consent: {}",
            client::describe_status(&status)
        ),
    }
    println!(
        "   the same consent again: {}",
        refusal(income(Some(granted.consent_id)).await)
    );
    let key = VerifierKey::from_file(&sandbox.consent_public_key()).map_err(|e| e.to_string())?;
    match verify_offline(&granted.artefact, &key) {
        Ok(_) => println!(
            "   artefact verified offline with the broker's published consent key ({})",
            key.key_name()
        ),
        Err(error) => println!("   artefact NOT VALID: {error}"),
    }
    Ok(())
}
