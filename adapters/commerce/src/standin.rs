//! A stand-in for the GCIS company data service (`FORMAT.md`): an HTTP/1.1 server answering
//! the documented open-data endpoints and the registry's internal directorships endpoint from a
//! [`Dataset`] built from a synthetic [`CompanyRegister`].
//!
//! It reproduces the real service's quirks deterministically, so that every run exercises the
//! client's handling of them: values padded with spaces, blanks as `""` or seven spaces, keys
//! missing from some objects, numbers as strings with thousands separators, an empty result as
//! `[]` or as an empty body, and every error answered as HTTP 200 with a plain-text body. Tests
//! can add [`Fault`]s that make it answer one subject with an error page, a wrong JSON shape, or
//! not at all.
//!
//! The JSON written here is built with `serde_json` values directly; it shares no helper with
//! the client that reads it.

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tongdao_synth::registers::{Company, CompanyRegister, Director};

/// `公司登記基本資料-應用一`: basic data, without status code or business items.
pub const COMPANY_BASIC_UUID: &str = "5F64D864-61CB-4D0D-8AD9-492047CC1EA6";
/// `公司登記基本資料-應用三`: basic data with the status code and business items (`Cmp_Business`).
pub const COMPANY_WITH_ITEMS_UUID: &str = "236EE382-4942-41A9-BD03-CA0709025E7C";
/// `公司登記董監事資料集`: a company's directors and supervisors.
pub const DIRECTORS_UUID: &str = "4E5F7653-1B91-4DDC-99D5-468530FAE396";
/// Path of the open-data API; the dataset UUID follows.
pub const OPEN_DATA_PATH: &str = "/od/data/api/";
/// Path of the registry-internal directorships endpoint (by national ID).
pub const DIRECTORSHIPS_PATH: &str = "/od/internal/api/directorships";

/// The `format` value of a dataset file.
pub const DATASET_FORMAT: &str = "tongdao-gcis-standin/1";

/// The real service's answer to a missing or unreadable `$filter` (HTTP 200, plain text).
pub const FILTER_ERROR_TEXT: &str = "$filter參數有誤，請查明後繼續。";
/// The real service's answer for an unknown dataset UUID (HTTP 200, plain text).
pub const NO_SUCH_API_TEXT: &str = "此API不存在，請查明後繼續。";
/// What the service answers when it is overloaded (HTTP 200, plain text).
pub const BUSY_TEXT: &str = "系統忙碌中，請稍後再試。";

/// How the stand-in misbehaves for one subject (business number or national ID), whichever
/// endpoint is asked about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fault {
    /// HTTP 200 with the plain-text body [`BUSY_TEXT`].
    PlainTextError,
    /// HTTP 200 with the plain-text body [`FILTER_ERROR_TEXT`], as if the query were wrong.
    FilterError,
    /// HTTP 200 with an HTML maintenance page.
    HtmlPage,
    /// HTTP 503 with an HTML page, as a reverse proxy answers when the service is down.
    ServiceUnavailable,
    /// HTTP 200 with a JSON object instead of an array.
    WrongShape,
    /// HTTP 200 with JSON cut off in the middle.
    TruncatedJson,
    /// Never answers (the connection stays open until the stand-in shuts down).
    Hang,
}

/// One company as the service stores it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredCompany {
    /// The `應用三` object (basic data, `Company_Status`, `Cmp_Business`), quirks included.
    pub record: Map<String, Value>,
    /// Directors and supervisors.
    pub directors: Vec<StoredDirector>,
}

/// One director as the service stores it. `Debug` shows the national ID's last 4 characters
/// only.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredDirector {
    /// The person's national ID: known to the registry, never in the open data.
    pub person_id: String,
    /// The `董監事資料集` object, quirks included.
    pub record: Map<String, Value>,
}

impl std::fmt::Debug for StoredDirector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let count = self.person_id.chars().count();
        let last4: String = self
            .person_id
            .chars()
            .skip(count.saturating_sub(4))
            .collect();
        f.debug_struct("StoredDirector")
            .field("person_id", &format_args!("******{last4}"))
            .field("record", &self.record)
            .finish()
    }
}

/// Everything the stand-in serves: one JSON file (written by `tongdao seed`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dataset {
    /// [`DATASET_FORMAT`].
    pub format: String,
    /// Companies by business number.
    pub companies: BTreeMap<String, StoredCompany>,
    /// Misbehaviour by subject (business number or national ID); for tests.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub faults: BTreeMap<String, Fault>,
}

/// Why a dataset file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    /// The file could not be read.
    #[error("reading the GCIS stand-in dataset failed: {0}")]
    Io(#[from] io::Error),
    /// The file is not a dataset.
    #[error("the GCIS stand-in dataset is not valid JSON of the expected shape: {0}")]
    Json(#[from] serde_json::Error),
    /// The file is a dataset of another format version.
    #[error("the GCIS stand-in dataset has format {found:?}, expected {DATASET_FORMAT:?}")]
    Format {
        /// The format found.
        found: String,
    },
}

impl Dataset {
    /// Lays `register` out the way the GCIS service publishes it, quirks included.
    pub fn from_register(register: &CompanyRegister) -> Dataset {
        let companies = register
            .companies
            .iter()
            .enumerate()
            .map(|(i, company)| {
                (
                    company.business_number.as_str().to_owned(),
                    stored_company(i, company),
                )
            })
            .collect();
        Dataset {
            format: DATASET_FORMAT.to_owned(),
            companies,
            faults: BTreeMap::new(),
        }
    }

    /// Writes the dataset as one JSON file.
    pub fn write(&self, path: &Path) -> io::Result<()> {
        let bytes = serde_json::to_vec(self).map_err(io::Error::other)?;
        std::fs::write(path, bytes)
    }

    /// Reads a dataset written by [`Dataset::write`].
    pub fn load(path: impl AsRef<Path>) -> Result<Dataset, DatasetError> {
        let bytes = std::fs::read(path)?;
        let dataset: Dataset = serde_json::from_slice(&bytes)?;
        if dataset.format != DATASET_FORMAT {
            return Err(DatasetError::Format {
                found: dataset.format,
            });
        }
        Ok(dataset)
    }

    /// Makes the stand-in misbehave for `subject` (a business number or national ID).
    pub fn inject(&mut self, subject: &str, fault: Fault) {
        self.faults.insert(subject.to_owned(), fault);
    }
}

fn text(value: &str) -> Value {
    Value::String(value.to_owned())
}

/// `1234567` → `"1,234,567"`.
fn with_commas(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// An amount as a JSON number, or (as some records carry it) a string with separators.
fn amount(value: i64, as_string: bool) -> Value {
    if as_string && value >= 0 {
        Value::String(with_commas(value.unsigned_abs()))
    } else {
        Value::from(value)
    }
}

fn stored_company(i: usize, company: &Company) -> StoredCompany {
    let mut r = Map::new();
    r.insert(
        "Business_Accounting_NO".into(),
        text(company.business_number.as_str()),
    );
    r.insert("Company_Status".into(), text(company.status.code()));
    r.insert("Company_Status_Desc".into(), text(company.status.label()));
    // Names: some padded with ASCII spaces, some with a full-width space.
    let name = match i % 5 {
        1 => format!("{}   ", company.name),
        3 => format!("{}\u{3000}", company.name),
        _ => company.name.clone(),
    };
    r.insert("Company_Name".into(), Value::String(name));
    r.insert(
        "Capital_Stock_Amount".into(),
        amount(company.capital_stock_amount, i % 4 == 3),
    );
    r.insert(
        "Paid_In_Capital_Amount".into(),
        amount(company.paid_in_capital_amount, i % 4 == 1),
    );
    r.insert(
        "Responsible_Name".into(),
        text(&company.responsible_person_name),
    );
    let location = if i.is_multiple_of(3) {
        format!(" {}  ", company.location)
    } else {
        company.location.clone()
    };
    r.insert("Company_Location".into(), Value::String(location));
    r.insert(
        "Register_Organization_Desc".into(),
        text(company.registering_organisation),
    );
    r.insert(
        "Company_Setup_Date".into(),
        text(&company.setup_date.to_yyymmdd()),
    );
    r.insert(
        "Change_Of_Approval_Data".into(),
        text(&company.last_change_date.to_yyymmdd()),
    );
    // Blanks: "" in some records, seven spaces in others.
    let blank = if i.is_multiple_of(2) { "" } else { "       " };
    r.insert("Revoke_App_Date".into(), text(blank));
    // Keys missing from some objects.
    if !i.is_multiple_of(3) {
        r.insert("Case_Status".into(), text(""));
        r.insert("Case_Status_Desc".into(), text(""));
    }
    match company.suspension {
        Some((start, end)) => {
            r.insert("Sus_App_Date".into(), text(&start.to_yyymmdd()));
            r.insert("Sus_Beg_Date".into(), text(&start.to_yyymmdd()));
            r.insert("Sus_End_Date".into(), text(&end.to_yyymmdd()));
        }
        None => {
            r.insert("Sus_App_Date".into(), text(blank));
            if i % 4 != 2 {
                r.insert("Sus_Beg_Date".into(), text(blank));
                r.insert("Sus_End_Date".into(), text(""));
            }
        }
    }
    let items = company
        .business_items
        .iter()
        .enumerate()
        .map(|(n, (code, description))| {
            let mut item = Map::new();
            item.insert("Business_Seq_NO".into(), text(&format!("{:04}", n + 1)));
            item.insert("Business_Item".into(), text(code));
            let description = if (i + n) % 3 == 2 {
                format!("{description}  ")
            } else {
                (*description).to_owned()
            };
            item.insert("Business_Item_Desc".into(), Value::String(description));
            Value::Object(item)
        })
        .collect();
    r.insert("Cmp_Business".into(), Value::Array(items));
    let directors = company
        .directors
        .iter()
        .enumerate()
        .map(|(j, director)| stored_director(i + j, director))
        .collect();
    StoredCompany {
        record: r,
        directors,
    }
}

fn stored_director(k: usize, director: &Director) -> StoredDirector {
    let mut r = Map::new();
    r.insert("Person_Position_Name".into(), text(director.position));
    let name = if k % 2 == 1 {
        format!("{} ", director.name)
    } else {
        director.name.clone()
    };
    r.insert("Person_Name".into(), Value::String(name));
    // An empty juristic person: "" in some objects, no key in others.
    if !director.juristic_person_name.is_empty() || k.is_multiple_of(2) {
        r.insert(
            "Juristic_Person_Name".into(),
            text(&director.juristic_person_name),
        );
    }
    let shares = if k % 3 == 2 {
        Value::String(with_commas(director.shareholding))
    } else {
        Value::from(director.shareholding)
    };
    r.insert("Person_Shareholding".into(), shares);
    StoredDirector {
        person_id: director.national_id.as_str().to_owned(),
        record: r,
    }
}

/// The dataset and the index the internal endpoint needs.
struct State {
    dataset: Arc<Dataset>,
    /// National ID → (business number, director index).
    by_person: HashMap<String, Vec<(String, usize)>>,
}

impl State {
    fn new(dataset: Arc<Dataset>) -> State {
        let mut by_person: HashMap<String, Vec<(String, usize)>> = HashMap::new();
        for (number, company) in &dataset.companies {
            for (index, director) in company.directors.iter().enumerate() {
                by_person
                    .entry(director.person_id.clone())
                    .or_default()
                    .push((number.clone(), index));
            }
        }
        State { dataset, by_person }
    }
}

/// Serves the dataset on `listener` until `shutdown` completes; then closes every connection
/// (a request left hanging by [`Fault::Hang`] included).
pub async fn serve(
    listener: TcpListener,
    dataset: Arc<Dataset>,
    shutdown: impl Future<Output = ()>,
) {
    let state = Arc::new(State::new(dataset));
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    tracing::debug!(%peer, "gcis stand-in: connection accepted");
                    let _ = stream.set_nodelay(true);
                    let state = state.clone();
                    connections.spawn(async move {
                        let service = service_fn(move |request| {
                            let state = state.clone();
                            async move { Ok::<_, Infallible>(handle(&state, &request).await) }
                        });
                        if let Err(error) = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service)
                            .await
                        {
                            tracing::debug!(%error, "gcis stand-in: connection ended with an error");
                        }
                    });
                }
                Err(error) => {
                    tracing::warn!(%error, "gcis stand-in: accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    connections.shutdown().await;
}

type Reply = Response<Full<Bytes>>;

fn reply(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Reply {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(content_type),
    );
    response
}

/// The service's way of saying anything went wrong: 200 and a sentence.
fn plain_error(text: &'static str) -> Reply {
    reply(StatusCode::OK, "text/plain;charset=UTF-8", text)
}

fn json(body: Vec<u8>) -> Reply {
    reply(StatusCode::OK, "application/json;charset=UTF-8", body)
}

const MAINTENANCE_PAGE: &str = "<!DOCTYPE html><html><head><meta charset=\"UTF-8\"><title>系統維護中</title></head><body><h1>系統維護中，請稍後再試。</h1></body></html>";

/// Which collection an endpoint serves and the one `$filter` field it accepts.
#[derive(Clone, Copy)]
enum Endpoint {
    CompanyBasic,
    CompanyWithItems,
    Directors,
    Directorships,
}

impl Endpoint {
    fn filter_field(self) -> &'static str {
        match self {
            Endpoint::Directorships => "Person_ID",
            _ => "Business_Accounting_NO",
        }
    }
}

async fn handle(state: &State, request: &Request<Incoming>) -> Reply {
    if request.method() != Method::GET {
        return reply(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain;charset=UTF-8",
            "Method Not Allowed",
        );
    }
    let path = request.uri().path();
    let endpoint = if let Some(uuid) = path.strip_prefix(OPEN_DATA_PATH) {
        if uuid.eq_ignore_ascii_case(COMPANY_BASIC_UUID) {
            Endpoint::CompanyBasic
        } else if uuid.eq_ignore_ascii_case(COMPANY_WITH_ITEMS_UUID) {
            Endpoint::CompanyWithItems
        } else if uuid.eq_ignore_ascii_case(DIRECTORS_UUID) {
            Endpoint::Directors
        } else {
            return plain_error(NO_SUCH_API_TEXT);
        }
    } else if path == DIRECTORSHIPS_PATH {
        Endpoint::Directorships
    } else {
        return reply(
            StatusCode::NOT_FOUND,
            "text/html;charset=UTF-8",
            "<html><body>404 Not Found</body></html>",
        );
    };

    let params = query_params(request.uri().query().unwrap_or(""));
    if params.get("$format").map(String::as_str) != Some("json") {
        return plain_error("$format參數有誤，請查明後繼續。");
    }
    let Some((field, value)) = params.get("$filter").and_then(|f| parse_filter(f)) else {
        return plain_error(FILTER_ERROR_TEXT);
    };
    let skip = match params.get("$skip").map(|s| s.parse::<usize>()) {
        None => 0,
        Some(Ok(n)) if n <= 500_000 => n,
        Some(_) => return plain_error("$skip參數有誤，請查明後繼續。"),
    };
    let top = match params.get("$top").map(|s| s.parse::<usize>()) {
        None => 50,
        Some(Ok(n)) if (1..=1000).contains(&n) => n,
        Some(_) => return plain_error("$top參數有誤，請查明後繼續。"),
    };

    if let Some(fault) = state.dataset.faults.get(&value) {
        return misbehave(*fault).await;
    }
    // A field this dataset cannot be filtered by: the real service answers with nothing.
    if field != endpoint.filter_field() {
        return json(Vec::new());
    }

    let rows = rows(state, endpoint, &value);
    let page: Vec<Value> = rows.into_iter().skip(skip).take(top).collect();
    if page.is_empty() {
        // The real service answers "nothing" both ways; which one depends on the subject.
        let even = value
            .chars()
            .last()
            .and_then(|c| c.to_digit(10))
            .is_some_and(|d| d % 2 == 0);
        return json(if even { Vec::new() } else { b"[]".to_vec() });
    }
    match serde_json::to_vec(&page) {
        Ok(body) => json(body),
        Err(_) => reply(
            StatusCode::INTERNAL_SERVER_ERROR,
            "text/plain;charset=UTF-8",
            "Internal Server Error",
        ),
    }
}

async fn misbehave(fault: Fault) -> Reply {
    match fault {
        Fault::PlainTextError => plain_error(BUSY_TEXT),
        Fault::FilterError => plain_error(FILTER_ERROR_TEXT),
        Fault::HtmlPage => reply(StatusCode::OK, "text/html;charset=UTF-8", MAINTENANCE_PAGE),
        Fault::ServiceUnavailable => reply(
            StatusCode::SERVICE_UNAVAILABLE,
            "text/html;charset=UTF-8",
            MAINTENANCE_PAGE,
        ),
        Fault::WrongShape => json(br#"{"status":"OK","data":null}"#.to_vec()),
        Fault::TruncatedJson => json(br#"[{"Business_Accounting_NO":"1234"#.to_vec()),
        Fault::Hang => {
            std::future::pending::<()>().await;
            plain_error(BUSY_TEXT)
        }
    }
}

fn rows(state: &State, endpoint: Endpoint, value: &str) -> Vec<Value> {
    let companies = &state.dataset.companies;
    match endpoint {
        Endpoint::CompanyWithItems => companies
            .get(value)
            .map(|c| Value::Object(c.record.clone()))
            .into_iter()
            .collect(),
        Endpoint::CompanyBasic => companies
            .get(value)
            .map(|c| {
                let mut record = c.record.clone();
                record.remove("Company_Status");
                record.remove("Cmp_Business");
                Value::Object(record)
            })
            .into_iter()
            .collect(),
        Endpoint::Directors => companies
            .get(value)
            .map(|c| {
                c.directors
                    .iter()
                    .map(|d| Value::Object(d.record.clone()))
                    .collect()
            })
            .unwrap_or_default(),
        Endpoint::Directorships => state
            .by_person
            .get(value)
            .map(|held| {
                held.iter()
                    .filter_map(|(number, index)| {
                        let company = companies.get(number)?;
                        let director = company.directors.get(*index)?;
                        Some(directorship(company, director))
                    })
                    .collect()
            })
            .unwrap_or_default(),
    }
}

/// One row of the internal endpoint: the company's identity and status with the person's
/// position in it.
fn directorship(company: &StoredCompany, director: &StoredDirector) -> Value {
    let mut r = Map::new();
    for key in [
        "Business_Accounting_NO",
        "Company_Name",
        "Company_Status",
        "Company_Status_Desc",
    ] {
        if let Some(value) = company.record.get(key) {
            r.insert(key.to_owned(), value.clone());
        }
    }
    r.insert("Person_ID".into(), text(&director.person_id));
    for (key, value) in &director.record {
        r.insert(key.clone(), value.clone());
    }
    Value::Object(r)
}

/// `a=1&b=x%20y` → {a: 1, b: "x y"}; `+` is a space.
fn query_params(query: &str) -> HashMap<String, String> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(key), percent_decode(value))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `Field eq value` or `Field eq 'value'`.
fn parse_filter(filter: &str) -> Option<(String, String)> {
    let mut words = filter.split_whitespace();
    let field = words.next()?;
    if words.next()? != "eq" {
        return None;
    }
    let value = words.next()?;
    if words.next().is_some() {
        return None;
    }
    let value = value
        .strip_prefix('\'')
        .and_then(|v| v.strip_suffix('\''))
        .unwrap_or(value);
    if value.is_empty() {
        return None;
    }
    Some((field.to_owned(), value.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_masks_national_ids() {
        let director = StoredDirector {
            person_id: "A123456789".into(),
            record: Map::new(),
        };
        let shown = format!("{director:?}");
        assert!(
            shown.contains("******6789") && !shown.contains("A123456789"),
            "{shown}"
        );
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(with_commas(0), "0");
        assert_eq!(with_commas(999), "999");
        assert_eq!(with_commas(1000), "1,000");
        assert_eq!(with_commas(280_500_000_000), "280,500,000,000");
    }

    #[test]
    fn filters_and_queries() {
        assert_eq!(
            parse_filter("Business_Accounting_NO eq '22099131'"),
            Some(("Business_Accounting_NO".into(), "22099131".into()))
        );
        assert_eq!(parse_filter("Business_Accounting_NO 22099131"), None);
        assert_eq!(parse_filter("Business_Accounting_NO eq"), None);
        let params = query_params("$format=json&$filter=Person_ID%20eq%20A1+2&$top=5&x");
        assert_eq!(params["$filter"], "Person_ID eq A1 2");
        assert_eq!(params["$top"], "5");
        assert_eq!(params["x"], "");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%4"), "%4");
        assert_eq!(percent_decode("%zz"), "%zz");
    }
}
