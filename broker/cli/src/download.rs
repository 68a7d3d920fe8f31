//! `tongdao my-data download`: a citizen fetches their own records through the broker, under the
//! self-access rules (`policies/rules/self_access.toml`), one JSON file per kind of record.
//!
//! Every call names the citizen's full national ID and declares the self-access purpose; the
//! broker answers only if the ID ends in the 4 characters the certificate carries
//! (`IDENTITY_MISMATCH`) and passes the checksum (`SUBJECT_INVALID`), and releases only the
//! fields the rule lists. A kind that fails is reported and the others still download.

use std::{
    path::{Path, PathBuf},
    process::ExitCode,
    time::Duration,
};

use tongdao_core::{Reason, Rejection, ids::NationalId};

use crate::{
    EXIT_CALL_FAILED, EXIT_CONFIG,
    client::{self, ClientFiles},
    mydata_cmd::CitizenConnection,
};

/// Arguments of `tongdao my-data download`.
#[derive(Debug, clap::Args)]
pub struct DownloadArgs {
    #[command(flatten)]
    pub connection: CitizenConnection,
    /// Directory to write the records to (created if missing); existing files of the same
    /// names are replaced.
    #[arg(long)]
    pub out: PathBuf,
    /// ROC year of income and property to download, repeatable (default: the two most recent
    /// completed years).
    #[arg(long = "year")]
    pub years: Vec<u32>,
}

/// Runs `tongdao my-data download`: exit 0 when every kind downloaded (or none was held),
/// 64 when nothing could be tried (bad ID, output directory, certificate files), and 1 when
/// some kind failed (the others are still written).
pub async fn run(args: DownloadArgs) -> ExitCode {
    let connection = args.connection;
    let request = DownloadRequest {
        files: ClientFiles {
            certificate: connection.cert,
            private_key: connection.key,
            trust_anchors: vec![connection.ca],
        },
        addr: connection.addr,
        server_name: connection.server_name,
        national_id: connection.national_id,
        out: args.out,
        years: if args.years.is_empty() {
            default_years()
        } else {
            args.years
        },
    };
    match download(&request).await {
        Ok(report) => {
            print!("{}", report.summary());
            if report.succeeded() {
                ExitCode::SUCCESS
            } else {
                eprintln!("tongdao my-data download: some records could not be downloaded");
                ExitCode::from(EXIT_CALL_FAILED)
            }
        }
        Err(error) => {
            eprintln!("tongdao my-data download: {error}");
            ExitCode::from(EXIT_CONFIG)
        }
    }
}

/// The purpose a citizen declares to read their own records (marked `self_access` in
/// `policies/purposes.toml`).
pub const SELF_ACCESS_PURPOSE: &str = "073";

/// Deadline of each call.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// One kind of record: the file it goes to, the method, and the repeated field whose entries
/// the summary counts.
#[derive(Debug, Clone, Copy)]
struct Kind {
    file: &'static str,
    method: &'static str,
    /// Requests are made per year (income, property); else once.
    per_year: Option<&'static str>,
    /// JSON name of the repeated field counted in the summary.
    counted: &'static str,
}

const KINDS: [Kind; 7] = [
    Kind {
        file: "household-transcript",
        method: "tongdao.household.v1.HouseholdRegistry/GetTranscript",
        per_year: None,
        counted: "members",
    },
    Kind {
        file: "land-holdings",
        method: "tongdao.land.v1.LandRegistry/ListHoldings",
        per_year: None,
        counted: "holdings",
    },
    Kind {
        file: "tax-income",
        method: "tongdao.tax.v1.TaxRegistry/ListIncome",
        per_year: Some("incomeYearRoc"),
        counted: "items",
    },
    Kind {
        file: "tax-property",
        method: "tongdao.tax.v1.TaxRegistry/ListProperty",
        per_year: Some("yearRoc"),
        counted: "items",
    },
    Kind {
        file: "health-visits",
        method: "tongdao.health.v1.HealthInsurance/ListVisits",
        per_year: None,
        counted: "visits",
    },
    Kind {
        file: "health-lab-results",
        method: "tongdao.health.v1.HealthInsurance/ListLabResults",
        per_year: None,
        counted: "results",
    },
    Kind {
        file: "directorships",
        method: "tongdao.commerce.v1.CompanyRegistry/ListDirectorships",
        per_year: None,
        counted: "directorships",
    },
];

/// What to download and where to.
#[derive(Debug, Clone)]
pub struct DownloadRequest {
    /// The citizen's certificate, key and the broker's trust anchor.
    pub files: ClientFiles,
    /// Broker address, host:port.
    pub addr: String,
    /// Name to verify the broker's certificate against.
    pub server_name: Option<String>,
    /// The citizen's full national ID.
    pub national_id: String,
    /// Directory the files are written to (created if missing).
    pub out: PathBuf,
    /// ROC years of income and property.
    pub years: Vec<u32>,
}

/// How one kind of record went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KindOutcome {
    /// The file name without `.json`, e.g. `health-visits`.
    pub kind: &'static str,
    /// The method called.
    pub method: &'static str,
    /// The file written; `None` when nothing was found or the kind failed.
    pub file: Option<PathBuf>,
    /// Entries in the records (members, holdings, income items, visits …).
    pub records: usize,
    /// Years (income, property) the agency holds nothing for.
    pub empty_years: Vec<u32>,
    /// Why the kind failed (reason and message), if it did.
    pub error: Option<String>,
    /// The Tongdao reason of the failure, if the broker or adapter gave one.
    pub reason: Option<Reason>,
}

/// The outcome of a download, one entry per kind in a fixed order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadReport {
    /// Per kind.
    pub kinds: Vec<KindOutcome>,
}

impl DownloadReport {
    /// Whether every kind downloaded (or had nothing to download).
    pub fn succeeded(&self) -> bool {
        self.kinds.iter().all(|kind| kind.error.is_none())
    }

    /// The summary printed by the command, one line per kind.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        for kind in &self.kinds {
            let line = match (&kind.error, &kind.file) {
                (Some(error), _) => format!("{:<20} FAILED  {error}", kind.kind),
                (None, Some(file)) => {
                    let mut line = format!(
                        "{:<20} {:>5} records  {}",
                        kind.kind,
                        kind.records,
                        file.display()
                    );
                    if !kind.empty_years.is_empty() {
                        let years: Vec<String> =
                            kind.empty_years.iter().map(u32::to_string).collect();
                        line.push_str(&format!("  (nothing for ROC {})", years.join(", ")));
                    }
                    line
                }
                (None, None) => format!("{:<20}     - none held", kind.kind),
            };
            out.push_str(&line);
            out.push('\n');
        }
        out
    }
}

/// The two income years most recently completed, in the ROC calendar (Taiwan time).
pub fn default_years() -> Vec<u32> {
    let now = time::OffsetDateTime::now_utc() + time::Duration::hours(8);
    let roc = u32::try_from(now.year() - 1911).unwrap_or(1);
    vec![roc.saturating_sub(2), roc.saturating_sub(1)]
}

/// Downloads every kind. Fails as a whole only when nothing can be tried: a national ID that
/// is not valid, an output directory that cannot be made, a connection that cannot be set up.
pub async fn download(request: &DownloadRequest) -> Result<DownloadReport, String> {
    let national_id: NationalId = request.national_id.trim().parse().map_err(|_| {
        "--national-id is not a valid national ID (format or check digit is wrong)".to_owned()
    })?;
    if request.years.is_empty() {
        return Err("no years to download income and property for".to_owned());
    }
    std::fs::create_dir_all(&request.out)
        .map_err(|e| format!("{}: cannot create: {e}", request.out.display()))?;
    let channel = client::channel(
        &request.files,
        &request.addr,
        request.server_name.as_deref(),
    )?;
    let headers = [("tongdao-purpose".to_owned(), SELF_ACCESS_PURPOSE.to_owned())];
    let mut kinds = Vec::with_capacity(KINDS.len());
    for kind in KINDS {
        let mut outcome = KindOutcome {
            kind: kind.file,
            method: kind.method,
            file: None,
            records: 0,
            empty_years: Vec::new(),
            error: None,
            reason: None,
        };
        let requests: Vec<(Option<u32>, String)> = match kind.per_year {
            None => vec![(None, format!(r#"{{"nationalId":"{national_id}"}}"#))],
            Some(field) => request
                .years
                .iter()
                .map(|&year| {
                    (
                        Some(year),
                        format!(r#"{{"nationalId":"{national_id}","{field}":{year}}}"#),
                    )
                })
                .collect(),
        };
        let mut found = Vec::new();
        for (year, json) in requests {
            match fetch(&channel, kind, &json, &headers).await {
                Ok(Some(value)) => {
                    outcome.records += value
                        .get(kind.counted)
                        .and_then(serde_json::Value::as_array)
                        .map_or(0, Vec::len);
                    found.push(value);
                }
                Ok(None) => outcome.empty_years.extend(year),
                Err((reason, error)) => {
                    outcome.reason = reason;
                    outcome.error = Some(match year {
                        Some(year) => format!("ROC {year}: {error}"),
                        None => error,
                    });
                    break;
                }
            }
        }
        if outcome.error.is_none() && !found.is_empty() {
            let document = match kind.per_year {
                None => found.swap_remove(0),
                Some(_) => serde_json::Value::Array(found),
            };
            let path = request.out.join(format!("{}.json", kind.file));
            match write_json(&path, &document) {
                Ok(()) => outcome.file = Some(path),
                Err(error) => outcome.error = Some(error),
            }
        }
        kinds.push(outcome);
    }
    Ok(DownloadReport { kinds })
}

/// One call: the response as JSON, `None` when the agency holds no such record, or the
/// reason and a one-line description of the failure.
async fn fetch(
    channel: &tonic::transport::Channel,
    kind: Kind,
    json: &str,
    headers: &[(String, String)],
) -> Result<Option<serde_json::Value>, (Option<Reason>, String)> {
    let method = client::method(kind.method).map_err(|e| (None, e))?;
    let body = client::encode_json(&method, json).map_err(|e| (None, e))?;
    match client::unary(
        channel.clone(),
        kind.method,
        body,
        headers,
        Some(CALL_TIMEOUT),
    )
    .await
    {
        Ok((body, _)) => client::decode_json(&method, body)
            .map(Some)
            .map_err(|e| (None, e)),
        Err(status) => match Rejection::reason_of(&status) {
            Some(Reason::RecordNotFound) => Ok(None),
            reason => Err((reason, client::describe_status(&status))),
        },
    }
}

/// Writes `value` pretty-printed, through a temporary file renamed into place, so a file
/// present is always complete.
fn write_json(path: &Path, value: &serde_json::Value) -> Result<(), String> {
    let mut text =
        serde_json::to_string_pretty(value).map_err(|e| format!("{}: {e}", path.display()))?;
    text.push('\n');
    let partial = path.with_extension("json.partial");
    std::fs::write(&partial, text).map_err(|e| format!("{}: {e}", partial.display()))?;
    std::fs::rename(&partial, path).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_years_are_the_two_before_this_one() {
        let years = default_years();
        assert_eq!(years.len(), 2);
        assert_eq!(years[0] + 1, years[1]);
        assert!(years[1] >= 114, "{years:?}");
    }

    #[test]
    fn summary_lists_each_kind() {
        let report = DownloadReport {
            kinds: vec![
                KindOutcome {
                    kind: "tax-income",
                    method: KINDS[2].method,
                    file: Some(PathBuf::from("out/tax-income.json")),
                    records: 3,
                    empty_years: vec![114],
                    error: None,
                    reason: None,
                },
                KindOutcome {
                    kind: "directorships",
                    method: KINDS[6].method,
                    file: None,
                    records: 0,
                    empty_years: Vec::new(),
                    error: Some("PermissionDenied IDENTITY_MISMATCH: …".to_owned()),
                    reason: Some(Reason::IdentityMismatch),
                },
            ],
        };
        let summary = report.summary();
        assert!(summary.contains("tax-income"), "{summary}");
        assert!(summary.contains("(nothing for ROC 114)"), "{summary}");
        assert!(summary.contains("directorships        FAILED"), "{summary}");
        assert!(!report.succeeded());
    }

    #[tokio::test]
    async fn an_invalid_national_id_is_refused_before_any_call() {
        let out = tempfile::tempdir().expect("tempdir");
        let request = DownloadRequest {
            files: ClientFiles {
                certificate: PathBuf::from("missing.pem"),
                private_key: PathBuf::from("missing.key"),
                trust_anchors: vec![],
            },
            addr: "127.0.0.1:1".to_owned(),
            server_name: None,
            national_id: "A123456788".to_owned(),
            out: out.path().join("records"),
            years: vec![113],
        };
        let error = download(&request).await.expect_err("refused");
        assert!(error.contains("not a valid national ID"), "{error}");
        assert!(!out.path().join("records").exists());
    }
}
