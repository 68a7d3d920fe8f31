//! `tongdao policy`: NDC's tools for the policy files — lint, test, explain, diff. The logic
//! lives in `tongdao_policy::tools`; this module reads files and prints.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use tongdao_policy::{DecisionRequest, PolicySources, tools};

/// Arguments of `tongdao policy`.
#[derive(Debug, clap::Args)]
pub(crate) struct PolicyArgs {
    #[command(subcommand)]
    command: PolicyCommand,
}

#[derive(Debug, clap::Subcommand)]
enum PolicyCommand {
    /// Compile the policy and list every problem as file:line: message (exit 1 if any).
    Lint {
        /// Policy directory (agencies.toml, services.toml, purposes.toml, roles.toml, rules/).
        #[arg(default_value = "policies")]
        dir: PathBuf,
    },
    /// Decide each fixture request and compare with the expected decision (exit 1 on mismatch).
    Test {
        /// Policy directory.
        #[arg(default_value = "policies")]
        dir: PathBuf,
        /// Fixture file, or a directory of them; default DIR/tests.
        fixtures: Option<PathBuf>,
    },
    /// Explain the decision for one request: the rule that matched or the nearest ones, and
    /// the fields released and withheld.
    Explain {
        /// Policy directory.
        #[arg(default_value = "policies")]
        dir: PathBuf,
        /// Calling agency code (機關代碼); omit for a citizen acting for themselves (citizen:self rules).
        #[arg(long)]
        agency: Option<String>,
        /// Full method path, e.g. /tongdao.land.v1.LandRegistry/GetParcel.
        #[arg(long)]
        method: String,
        /// Purpose as sent in tongdao-purpose, e.g. 095.
        #[arg(long)]
        purpose: Option<String>,
        /// Time of the request, RFC 3339 (default: now).
        #[arg(long)]
        at: Option<String>,
    },
    /// Explain a one-stop recipe: its inputs and, per client agency, the rule each leg runs
    /// under, its legal basis, whether it needs the consent, and the fields the leg receives.
    Recipe {
        /// The recipe's name, e.g. welfare-eligibility.
        name: String,
        /// Policy directory.
        #[arg(default_value = "policies")]
        dir: PathBuf,
        /// Only this client agency (機關代碼).
        #[arg(long)]
        agency: Option<String>,
        /// Time of the run, RFC 3339 (default: now).
        #[arg(long)]
        at: Option<String>,
    },
    /// Which agency/service/purpose combinations gain or lose access or fields.
    Diff {
        /// The policy directory in force.
        old: PathBuf,
        /// The proposed policy directory.
        new: PathBuf,
    },
}

/// Runs `tongdao policy …`.
pub(crate) fn run(args: PolicyArgs) -> ExitCode {
    let report = match args.command {
        PolicyCommand::Lint { dir } => read(&dir).map(|sources| tools::lint(&sources)),
        PolicyCommand::Test { dir, fixtures } => read(&dir).and_then(|sources| {
            let fixtures = fixtures.unwrap_or_else(|| dir.join("tests"));
            read_fixtures(&fixtures).map(|files| tools::test(&sources, &files))
        }),
        PolicyCommand::Explain {
            dir,
            agency,
            method,
            purpose,
            at,
        } => read(&dir).and_then(|sources| {
            let now_unix = match at {
                Some(at) => parse_time(&at)?,
                None => now_unix(),
            };
            let request = DecisionRequest {
                agency_code: agency.as_deref(),
                method: &method,
                purpose: purpose.as_deref(),
                now_unix,
            };
            Ok(tools::explain(&sources, &request))
        }),
        PolicyCommand::Recipe {
            name,
            dir,
            agency,
            at,
        } => read(&dir).and_then(|sources| {
            let now_unix = match at {
                Some(at) => parse_time(&at)?,
                None => now_unix(),
            };
            Ok(tools::explain_recipe(
                &sources,
                &name,
                agency.as_deref(),
                now_unix,
            ))
        }),
        PolicyCommand::Diff { old, new } => {
            read(&old).and_then(|old| read(&new).map(|new| tools::diff(&old, &new)))
        }
    };
    match report {
        Ok(report) => {
            print!("{}", report.text);
            if report.ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(message) => {
            eprintln!("tongdao policy: {message}");
            ExitCode::from(crate::EXIT_CONFIG)
        }
    }
}

fn read(dir: &Path) -> Result<PolicySources, String> {
    PolicySources::read_dir(dir).map_err(|e| format!("cannot read the policy: {e}"))
}

/// A fixture file, or every `*.toml` in a directory, as (name for messages, text).
fn read_fixtures(path: &Path) -> Result<Vec<(String, String)>, String> {
    let read_one = |path: &Path| {
        std::fs::read_to_string(path)
            .map(|text| (path.display().to_string(), text))
            .map_err(|e| format!("{}: {e}", path.display()))
    };
    if !path.is_dir() {
        return read_one(path).map(|file| vec![file]);
    }
    let mut paths: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|ext| ext == "toml"))
        .collect();
    paths.sort();
    if paths.is_empty() {
        return Err(format!("{}: no fixture files (*.toml)", path.display()));
    }
    paths.iter().map(|p| read_one(p)).collect()
}

fn parse_time(text: &str) -> Result<i64, String> {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map(time::OffsetDateTime::unix_timestamp)
        .map_err(|e| format!("--at {text:?} is not an RFC 3339 date-time: {e}"))
}

fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
