//! The GCIS HTTP/JSON client: builds the documented queries (`FORMAT.md`), pages through
//! results, and sorts every answer into rows or a [`SourceError`] that says what kind of
//! failure it was.
//!
//! One hyper client per adapter: HTTP/1.1, keep-alive connections pooled and reused, every
//! request (connect, send, whole body) bounded by `gcis_timeout_ms`.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, LengthLimitError, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use serde_json::{Map, Value};
use tongdao_core::ids::{BusinessNumber, NationalId};

/// Path of the open-data API; the dataset UUID follows.
pub const OPEN_DATA_PATH: &str = "/od/data/api/";
/// `公司登記基本資料-應用三`: basic data with status code and business items.
pub const COMPANY_DATASET: &str = "236EE382-4942-41A9-BD03-CA0709025E7C";
/// `公司登記董監事資料集`.
pub const DIRECTORS_DATASET: &str = "4E5F7653-1B91-4DDC-99D5-468530FAE396";
/// The registry-internal endpoint listing a person's directorships.
pub const DIRECTORSHIPS_PATH: &str = "/od/internal/api/directorships";

/// The service's page size limit (`$top` at most 1000).
const PAGE_SIZE: usize = 1000;
/// More pages than this for one subject is not a registry answer but a loop.
const MAX_PAGES: usize = 20;
/// A larger body than this is refused (a company with all its items is a few KiB).
const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// How a GCIS request failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    /// The service could not be reached, did not answer in time, answered 5xx/429, or answered
    /// with an error page or an error sentence instead of data. Retrying later can work.
    #[error("GCIS unavailable: {detail}")]
    Unavailable {
        /// For operators: what happened (no national IDs).
        detail: String,
    },
    /// The service refused the query itself ("…參數有誤", "此API不存在", HTTP 4xx): the
    /// adapter's configuration or the service's interface is wrong; retrying will not help.
    #[error("GCIS refused the adapter's query: {detail}")]
    Rejected {
        /// For operators: what the service said (no national IDs).
        detail: String,
    },
    /// The service answered JSON, but not JSON of the documented shape.
    #[error("GCIS answer malformed ({reason}): {detail}")]
    Malformed {
        /// snake_case reason, the metric's `reason` label.
        reason: &'static str,
        /// For operators.
        detail: String,
    },
}

impl SourceError {
    /// The same error, its detail prefixed with where it happened.
    fn at(self, location: &str) -> SourceError {
        match self {
            SourceError::Unavailable { detail } => SourceError::Unavailable {
                detail: format!("{location}: {detail}"),
            },
            SourceError::Rejected { detail } => SourceError::Rejected {
                detail: format!("{location}: {detail}"),
            },
            SourceError::Malformed { reason, detail } => SourceError::Malformed {
                reason,
                detail: format!("{location}: {detail}"),
            },
        }
    }
}

/// How a log line names a query: a national ID by its last 4 characters only.
pub fn describe_query(path: &str, field: &str, value: &str) -> String {
    if field == "Person_ID" {
        let last4: String = value
            .chars()
            .skip(value.chars().count().saturating_sub(4))
            .collect();
        format!("{path} ({field} eq ******{last4})")
    } else {
        format!("{path} ({field} eq {value})")
    }
}

/// Why the client cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("gcis_url {url:?}: {problem}")]
pub struct ClientConfigError {
    /// The URL as configured.
    pub url: String,
    /// What is wrong with it.
    pub problem: &'static str,
}

/// A client for one GCIS service.
#[derive(Debug, Clone)]
pub struct GcisClient {
    /// `http://host:port` plus an optional path prefix, without a trailing slash.
    base: String,
    http: Client<HttpConnector, Empty<Bytes>>,
    timeout: Duration,
}

impl GcisClient {
    /// A client for the service at `base_url` (`http://host:port`, optionally with a path
    /// prefix); each query (all its pages) must complete within `timeout`.
    pub fn new(base_url: &str, timeout: Duration) -> Result<GcisClient, ClientConfigError> {
        let fail = |problem| ClientConfigError {
            url: base_url.to_owned(),
            problem,
        };
        let uri: http::Uri = base_url.parse().map_err(|_| fail("not a valid URL"))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some("https") => return Err(fail("https is not supported; use http")),
            _ => return Err(fail("must start with http://")),
        }
        if uri.host().is_none_or(str::is_empty) {
            return Err(fail("has no host"));
        }
        if uri.query().is_some() {
            return Err(fail("must not have a query"));
        }
        if timeout.is_zero() {
            return Err(fail("gcis_timeout_ms must be more than 0"));
        }
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(timeout));
        connector.enforce_http(true);
        let http = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(64)
            .build(connector);
        Ok(GcisClient {
            base: base_url.trim_end_matches('/').to_owned(),
            http,
            timeout,
        })
    }

    /// The company's `應用三` object, or `None` if the service has no such company.
    pub async fn company(
        &self,
        business_number: &BusinessNumber,
    ) -> Result<Option<Map<String, Value>>, SourceError> {
        let path = format!("{OPEN_DATA_PATH}{COMPANY_DATASET}");
        let mut rows = self
            .query(
                &path,
                "Business_Accounting_NO",
                business_number.as_str(),
                50,
            )
            .await?;
        if rows.len() > 1 {
            return Err(SourceError::Malformed {
                reason: "duplicate_record",
                detail: format!(
                    "{}: {} company objects for one business number",
                    describe_query(&path, "Business_Accounting_NO", business_number.as_str()),
                    rows.len()
                ),
            });
        }
        Ok(rows.pop())
    }

    /// The company's director objects (possibly none).
    pub async fn directors(
        &self,
        business_number: &BusinessNumber,
    ) -> Result<Vec<Map<String, Value>>, SourceError> {
        let path = format!("{OPEN_DATA_PATH}{DIRECTORS_DATASET}");
        self.query(
            &path,
            "Business_Accounting_NO",
            business_number.as_str(),
            PAGE_SIZE,
        )
        .await
    }

    /// The person's directorship objects (possibly none), from the internal endpoint.
    pub async fn directorships(
        &self,
        national_id: &NationalId,
    ) -> Result<Vec<Map<String, Value>>, SourceError> {
        self.query(
            DIRECTORSHIPS_PATH,
            "Person_ID",
            national_id.as_str(),
            PAGE_SIZE,
        )
        .await
    }

    /// All rows matching `field eq value`, page by page.
    async fn query(
        &self,
        path: &str,
        field: &str,
        value: &str,
        top: usize,
    ) -> Result<Vec<Map<String, Value>>, SourceError> {
        let location = describe_query(path, field, value);
        let pages = async {
            let mut rows = Vec::new();
            for page in 0..MAX_PAGES {
                let skip = page * top;
                let uri = format!(
                    "{}{path}?$format=json&$filter={}&$skip={skip}&$top={top}",
                    self.base,
                    encode_query_value(&format!("{field} eq {value}")),
                );
                let page_rows = rows_of(&self.get(&uri).await?)?;
                let full = page_rows.len() >= top;
                rows.extend(page_rows);
                if !full {
                    return Ok(rows);
                }
            }
            Err(SourceError::Malformed {
                reason: "too_many_rows",
                detail: format!("more than {} rows", MAX_PAGES * top),
            })
        };
        // One time limit for the whole query, however many pages it takes.
        tokio::time::timeout(self.timeout, pages)
            .await
            .unwrap_or_else(|_| {
                Err(SourceError::Unavailable {
                    detail: format!("no answer within {} ms", self.timeout.as_millis()),
                })
            })
            .map_err(|e| e.at(&location))
    }

    /// GET `uri`; the body of a 200 answer.
    async fn get(&self, uri: &str) -> Result<Bytes, SourceError> {
        let uri: http::Uri = uri.parse().map_err(|_| SourceError::Rejected {
            detail: "the query URL could not be formed".into(),
        })?;
        let request = http::Request::get(uri)
            .header(http::header::ACCEPT, "application/json")
            .body(Empty::<Bytes>::new())
            .map_err(|_| SourceError::Rejected {
                detail: "the request could not be formed".into(),
            })?;
        let response =
            self.http
                .request(request)
                .await
                .map_err(|error| SourceError::Unavailable {
                    detail: format!("request failed: {}", error_chain(&error)),
                })?;
        let status = response.status();
        let body = Limited::new(response.into_body(), MAX_BODY_BYTES)
            .collect()
            .await
            .map_err(|error| {
                if error.downcast_ref::<LengthLimitError>().is_some() {
                    SourceError::Malformed {
                        reason: "too_large",
                        detail: format!("an answer over {MAX_BODY_BYTES} bytes"),
                    }
                } else {
                    SourceError::Unavailable {
                        detail: format!("reading the answer failed: {error}"),
                    }
                }
            })?
            .to_bytes();
        if status.is_success() {
            Ok(body)
        } else if status.is_server_error()
            || status == http::StatusCode::TOO_MANY_REQUESTS
            || status == http::StatusCode::REQUEST_TIMEOUT
        {
            Err(SourceError::Unavailable {
                detail: format!("HTTP {status}"),
            })
        } else {
            Err(SourceError::Rejected {
                detail: format!("HTTP {status}"),
            })
        }
    }
}

/// The source of a hyper error, e.g. "client error (Connect): tcp connect error: Connection
/// refused".
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Percent-encodes a query value: unreserved characters stay, everything else is `%XX`.
fn encode_query_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 3);
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Sorts a 200 body: rows, nothing, or the kind of failure it is.
///
/// - empty (or only whitespace): no rows — the service's way of saying "nothing";
/// - a JSON array of objects: the rows (`[]`: none);
/// - other JSON, or broken JSON: [`SourceError::Malformed`];
/// - HTML: an error or maintenance page: [`SourceError::Unavailable`];
/// - other text: an error sentence — "…參數有誤…" / "…API不存在…" are the service refusing the
///   query ([`SourceError::Rejected`]); anything else [`SourceError::Unavailable`].
pub fn rows_of(body: &[u8]) -> Result<Vec<Map<String, Value>>, SourceError> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let trimmed = body.trim_ascii();
    match trimmed.first() {
        None => Ok(Vec::new()),
        Some(b'[' | b'{') => {
            let value: Value =
                serde_json::from_slice(trimmed).map_err(|error| SourceError::Malformed {
                    reason: "invalid_json",
                    detail: format!("the answer is not valid JSON: {error}"),
                })?;
            let Value::Array(items) = value else {
                return Err(SourceError::Malformed {
                    reason: "wrong_shape",
                    detail: "the answer is a JSON object, not an array".into(),
                });
            };
            items
                .into_iter()
                .enumerate()
                .map(|(i, item)| match item {
                    Value::Object(object) => Ok(object),
                    other => Err(SourceError::Malformed {
                        reason: "wrong_shape",
                        detail: format!("element {i} is a JSON {}", kind(&other)),
                    }),
                })
                .collect()
        }
        Some(b'<') => Err(SourceError::Unavailable {
            detail: format!("an HTML page instead of data: {}", snippet(trimmed)),
        }),
        Some(_) => {
            let text = String::from_utf8_lossy(trimmed);
            if text.contains("參數有誤") || text.contains("API不存在") {
                Err(SourceError::Rejected {
                    detail: snippet(trimmed),
                })
            } else {
                Err(SourceError::Unavailable {
                    detail: format!("an error message instead of data: {}", snippet(trimmed)),
                })
            }
        }
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// The first 80 characters of a text answer for the log, with anything shaped like a national
/// ID masked (the service should never echo one, but the log must not carry it if it does).
fn snippet(body: &[u8]) -> String {
    let text: String = String::from_utf8_lossy(body).chars().take(80).collect();
    mask_national_ids(&text)
}

/// Replaces `[A-Z][0-9]{9}` runs with `**********`.
pub(crate) fn mask_national_ids(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let is_id = i + 10 <= chars.len()
            && chars[i].is_ascii_uppercase()
            && chars[i + 1..i + 10].iter().all(char::is_ascii_digit);
        if is_id {
            out.push_str("**********");
            i += 10;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_sorted() {
        assert_eq!(rows_of(b""), Ok(vec![]));
        assert_eq!(rows_of(b" \r\n"), Ok(vec![]));
        assert_eq!(rows_of(b"[]"), Ok(vec![]));
        assert_eq!(
            rows_of(b"\xEF\xBB\xBF[{\"a\":\"1\"}]").map(|r| r.len()),
            Ok(1)
        );
        assert!(matches!(
            rows_of(b"{\"a\":1}"),
            Err(SourceError::Malformed {
                reason: "wrong_shape",
                ..
            })
        ));
        assert!(matches!(
            rows_of(b"[1]"),
            Err(SourceError::Malformed {
                reason: "wrong_shape",
                ..
            })
        ));
        assert!(matches!(
            rows_of(b"[{\"a\":"),
            Err(SourceError::Malformed {
                reason: "invalid_json",
                ..
            })
        ));
        assert!(matches!(
            rows_of("$filter參數有誤，請查明後繼續。".as_bytes()),
            Err(SourceError::Rejected { .. })
        ));
        assert!(matches!(
            rows_of("系統忙碌中".as_bytes()),
            Err(SourceError::Unavailable { .. })
        ));
        assert!(matches!(
            rows_of(b"<html></html>"),
            Err(SourceError::Unavailable { .. })
        ));
    }

    #[test]
    fn queries_are_encoded_and_ids_masked() {
        assert_eq!(
            encode_query_value("Person_ID eq A123456789"),
            "Person_ID%20eq%20A123456789"
        );
        assert_eq!(
            mask_national_ids("no A123456789 here, B12"),
            "no ********** here, B12"
        );
    }

    #[test]
    fn base_urls_are_checked() {
        let t = Duration::from_millis(100);
        assert!(GcisClient::new("http://127.0.0.1:8090/", t).is_ok());
        assert!(GcisClient::new("https://example.org", t).is_err());
        assert!(GcisClient::new("127.0.0.1:8090", t).is_err());
        assert!(GcisClient::new("http://127.0.0.1:8090?x=1", t).is_err());
        assert!(GcisClient::new("http://127.0.0.1:8090", Duration::ZERO).is_err());
    }
}
