//! `tongdao call`: a grpcurl-like client for people and scripts.

use std::{io::Read as _, path::PathBuf, process::ExitCode, time::Duration};

use crate::{
    EXIT_CALL_FAILED, EXIT_CONFIG,
    client::{self, ClientFiles},
};

/// Arguments of `tongdao call`.
#[derive(Debug, clap::Args)]
pub(crate) struct CallArgs {
    /// Server address, host:port.
    #[arg(long, env = "TONGDAO_ADDR", default_value = "127.0.0.1:8443")]
    addr: String,
    /// Name to verify the server certificate against (default: the host of --addr).
    #[arg(long)]
    server_name: Option<String>,
    /// Client certificate chain (PEM).
    #[arg(long, env = "TONGDAO_CERT")]
    cert: PathBuf,
    /// Client private key (PEM).
    #[arg(long, env = "TONGDAO_KEY")]
    key: PathBuf,
    /// Trust anchor for the server certificate (PEM), e.g. the GRCA root.
    #[arg(long, env = "TONGDAO_CA")]
    ca: PathBuf,
    /// Request metadata, `key=value`, repeatable, e.g. `-H tongdao-purpose=015`.
    #[arg(short = 'H', long = "header", value_parser = parse_header)]
    headers: Vec<(String, String)>,
    /// Deadline for the call, in milliseconds.
    #[arg(long, default_value_t = 10_000)]
    timeout_ms: u64,
    /// Print response metadata (exchange id …) to stderr.
    #[arg(short, long)]
    verbose: bool,
    /// Run a one-stop recipe (`tongdao.v1.OneStop/RunRecipe`) instead of calling a method:
    /// its legs' results are printed as JSON and summarised on stderr; the exit status is 0
    /// when every leg answered and 2 when some did not (partial results).
    #[arg(long, conflicts_with_all = ["method", "request"])]
    recipe: Option<String>,
    /// A recipe input, `name=value`, repeatable, e.g. `--input applicant=A123456789`.
    #[arg(long = "input", value_parser = parse_header, requires = "recipe")]
    inputs: Vec<(String, String)>,
    /// Method: `package.Service/Method`, e.g. `tongdao.household.v1.HouseholdRegistry/GetTranscript`.
    #[arg(required_unless_present = "recipe")]
    method: Option<String>,
    /// Request as JSON (proto3 JSON mapping); `-` reads standard input. Default `{}`.
    request: Option<String>,
}

/// Exit status of `tongdao call --recipe` when some legs did not answer.
const EXIT_PARTIAL: u8 = 2;

/// The method and JSON request of a recipe run.
fn recipe_request(recipe: &str, inputs: &[(String, String)]) -> (String, String) {
    // Input names are case-sensitive; parse_header lower-cases keys, which suits recipe files
    // (input names are lower case by rule).
    let input: serde_json::Map<String, serde_json::Value> = inputs
        .iter()
        .map(|(name, value)| (name.clone(), serde_json::Value::String(value.clone())))
        .collect();
    let request = serde_json::json!({ "recipe": recipe, "input": input });
    (crate::recipes::RUN_RECIPE.to_owned(), request.to_string())
}

/// One line per leg call on stderr: which leg, how it ended, how long it took.
fn summarise_recipe(json: &serde_json::Value) -> bool {
    let mut all_answered = true;
    let legs = json["legs"].as_array().cloned().unwrap_or_default();
    for leg in &legs {
        let name = leg["leg"].as_str().unwrap_or("?");
        let calls = leg["calls"].as_array().cloned().unwrap_or_default();
        if calls.is_empty() {
            eprintln!("  {name:<20} no calls (nothing to ask for)");
        }
        for call in &calls {
            let ms = call["latencyUs"]
                .as_str()
                .and_then(|us| us.parse::<f64>().ok())
                .or_else(|| call["latencyUs"].as_f64())
                .unwrap_or(0.0)
                / 1000.0;
            match call.get("error") {
                Some(error) => {
                    all_answered = false;
                    eprintln!(
                        "  {name:<20} {:<22} {ms:>8.1} ms  {}",
                        error["reason"].as_str().unwrap_or("ERROR"),
                        error["message"].as_str().unwrap_or("")
                    );
                }
                None => eprintln!("  {name:<20} {:<22} {ms:>8.1} ms", "OK"),
            }
        }
    }
    all_answered
}

fn parse_header(text: &str) -> Result<(String, String), String> {
    let (key, value) = text.split_once('=').ok_or("expected key=value")?;
    Ok((key.trim().to_ascii_lowercase(), value.trim().to_owned()))
}

pub(crate) async fn run(args: CallArgs) -> ExitCode {
    let (method_path, recipe_json) = match &args.recipe {
        Some(recipe) => {
            let (method, json) = recipe_request(recipe, &args.inputs);
            (method, Some(json))
        }
        None => (args.method.clone().unwrap_or_default(), None),
    };
    let method = match client::method(&method_path) {
        Ok(method) => method,
        Err(error) => {
            eprintln!("tongdao call: {error}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let json = match args.request.as_deref() {
        None if recipe_json.is_some() => recipe_json.unwrap_or_default(),
        None => "{}".to_owned(),
        Some("-") => {
            let mut text = String::new();
            if let Err(error) = std::io::stdin().read_to_string(&mut text) {
                eprintln!("tongdao call: reading standard input: {error}");
                return ExitCode::from(EXIT_CONFIG);
            }
            text
        }
        Some(text) => text.to_owned(),
    };
    let body = match client::encode_json(&method, &json) {
        Ok(body) => body,
        Err(error) => {
            eprintln!("tongdao call: {error}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let files = ClientFiles {
        certificate: args.cert,
        private_key: args.key,
        trust_anchors: vec![args.ca],
    };
    let channel = match client::channel(&files, &args.addr, args.server_name.as_deref()) {
        Ok(channel) => channel,
        Err(error) => {
            eprintln!("tongdao call: {error}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let path = format!("{}/{}", method.parent_service().full_name(), method.name());
    let timeout = Some(Duration::from_millis(args.timeout_ms));
    match client::unary(channel, &path, body, &args.headers, timeout).await {
        Ok((body, metadata)) => {
            if args.verbose {
                for (key, value) in metadata.into_headers().iter() {
                    eprintln!("< {key}: {}", value.to_str().unwrap_or("<binary>"));
                }
            }
            match client::decode_json(&method, body) {
                Ok(json) => {
                    println!(
                        "{}",
                        serde_json::to_string_pretty(&json).unwrap_or_default()
                    );
                    if args.recipe.is_some() && !summarise_recipe(&json) {
                        return ExitCode::from(EXIT_PARTIAL);
                    }
                    ExitCode::SUCCESS
                }
                Err(error) => {
                    eprintln!("tongdao call: {error}");
                    ExitCode::from(EXIT_CALL_FAILED)
                }
            }
        }
        Err(status) => {
            eprintln!("ERROR");
            eprintln!("  code:    {:?}", status.code());
            if let Some(reason) = tongdao_core::Rejection::reason_of(&status) {
                eprintln!("  reason:  {}", reason.as_str_name());
            }
            eprintln!("  message: {}", status.message());
            if tongdao_core::Rejection::reason_of(&status).is_none()
                && let Some(cause) = client::transport_cause(&status)
            {
                eprintln!("  cause:   {cause}");
            }
            if let Some(id) = status
                .metadata()
                .get("tongdao-exchange-id")
                .and_then(|v| v.to_str().ok())
            {
                eprintln!("  exchange id: {id}");
            }
            ExitCode::from(EXIT_CALL_FAILED)
        }
    }
}
