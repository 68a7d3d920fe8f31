//! The commerce adapter against the GCIS stand-in over real HTTP on loopback: records served
//! whole and equal to the register they were built from, the contract's refusals, and every
//! failure mode of the source.

use std::collections::HashMap;
use std::io::{Read as _, Write as _};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tongdao_adapter_commerce::standin::{self, Dataset, Fault};
use tongdao_adapter_commerce::{CommerceMapping, CommerceService, GcisClient};
use tongdao_core::ids::{BusinessNumber, NationalId};
use tongdao_core::{Reason, Rejection};
use tongdao_schemas::commerce::v1 as pb;
use tongdao_schemas::commerce::v1::company_registry_server::CompanyRegistry;
use tongdao_synth::RocDate;
use tongdao_synth::registers::{Company, CompanyRegister, CompanyStatus, Director};
use tonic::{Code, Request, Status};

// ---- a small register built by hand -----------------------------------------------------

/// The `n`-th valid business number at or after `from`.
fn business_number(from: u32) -> BusinessNumber {
    (from..100_000_000)
        .find_map(|n| format!("{n:08}").parse().ok())
        .expect("a valid business number exists")
}

fn person(serial: u32) -> NationalId {
    NationalId::with_checksum('A', 1 + (serial % 2) as u8, serial).expect("valid ID")
}

fn last_digit(id: &str) -> usize {
    id.bytes().last().map_or(0, |b| usize::from(b - b'0'))
}

fn date(y: u16, m: u8, d: u8) -> RocDate {
    RocDate::new(y, m, d).expect("valid date")
}

fn director(
    position: &'static str,
    serial: u32,
    name: &str,
    juristic: &str,
    shares: u64,
) -> Director {
    Director {
        position,
        national_id: person(serial),
        name: name.to_owned(),
        juristic_person_name: juristic.to_owned(),
        shareholding: shares,
    }
}

/// Shared director: serial 1000001 sits on the boards of the first two companies.
const SHARED: u32 = 1_000_001;

fn register() -> CompanyRegister {
    let statuses = [
        CompanyStatus::ApprovedIncorporation,
        CompanyStatus::ApprovedRegistration,
        CompanyStatus::Suspended,
        CompanyStatus::Dissolved,
        CompanyStatus::Annulled,
        CompanyStatus::ApprovedIncorporation,
        CompanyStatus::ApprovedIncorporation,
    ];
    let mut companies: Vec<Company> = statuses
        .iter()
        .enumerate()
        .map(|(i, &status)| {
            let i32_ = i as u32;
            let mut directors = vec![
                director(
                    "董事長",
                    2_000_000 + i32_,
                    &format!("陳{i}明"),
                    "",
                    1_234_567 * (i as u64 + 1),
                ),
                director(
                    "董事",
                    3_000_000 + i32_,
                    "林美惠",
                    "宏達投資股份有限公司",
                    0,
                ),
                director("監察人", 4_000_000 + i32_, "王大同", "", 15_000),
            ];
            if i < 2 {
                directors.push(director("董事", SHARED, "張志豪", "", 2_500_000 + i as u64));
            }
            Company {
                business_number: business_number(12_345_600 + 1000 * i32_),
                name: format!("測試{i}精密股份有限公司"),
                status,
                capital_stock_amount: 1_000_000_000 * (i as i64 + 1),
                paid_in_capital_amount: 750_000_000 * (i as i64 + 1),
                responsible_person_name: format!("陳{i}明"),
                location: format!("臺北市大安區仁愛路四段{}號{}樓", 10 + i, 1 + i),
                registering_organisation: if i % 2 == 0 {
                    "經濟部商業發展署"
                } else {
                    "臺北市政府"
                },
                setup_date: date(76 + i as u16, 2, 21),
                last_change_date: date(112, 12, 1 + i as u8),
                suspension: (status == CompanyStatus::Suspended)
                    .then(|| (date(113, 1, 1), date(113, 12, 31))),
                business_items: vec![
                    ("CC01080", "電子零組件製造業"),
                    ("F401010", "國際貿易業"),
                    ("ZZ99999", "除許可業務外，得經營法令非禁止或限制之業務"),
                ],
                directors,
            }
        })
        .collect();
    companies.sort_by(|a, b| a.business_number.cmp(&b.business_number));
    CompanyRegister { companies }
}

// ---- what the adapter must answer -------------------------------------------------------

fn roc(d: RocDate) -> pb::RocDate {
    pb::RocDate {
        year: u32::from(d.year()),
        month: u32::from(d.month()),
        day: u32::from(d.day()),
    }
}

fn status(s: CompanyStatus) -> pb::CompanyStatus {
    match s {
        CompanyStatus::ApprovedIncorporation => pb::CompanyStatus::ApprovedIncorporation,
        CompanyStatus::ApprovedRegistration => pb::CompanyStatus::ApprovedRegistration,
        CompanyStatus::Annulled => pb::CompanyStatus::Annulled,
        CompanyStatus::Dissolved => pb::CompanyStatus::Dissolved,
        CompanyStatus::Suspended => pb::CompanyStatus::Suspended,
    }
}

fn expected(c: &Company) -> pb::Company {
    pb::Company {
        business_number: c.business_number.as_str().to_owned(),
        name: c.name.clone(),
        status: status(c.status) as i32,
        status_description: c.status.label().to_owned(),
        capital_stock_amount: c.capital_stock_amount,
        paid_in_capital_amount: c.paid_in_capital_amount,
        responsible_person_name: c.responsible_person_name.clone(),
        location: c.location.clone(),
        registering_organisation: c.registering_organisation.to_owned(),
        setup_date: Some(roc(c.setup_date)),
        last_change_date: Some(roc(c.last_change_date)),
        suspension_start: c.suspension.map(|(s, _)| roc(s)),
        suspension_end: c.suspension.map(|(_, e)| roc(e)),
        business_items: c
            .business_items
            .iter()
            .map(|(code, description)| pb::BusinessItem {
                code: (*code).to_owned(),
                description: (*description).to_owned(),
            })
            .collect(),
        directors: c
            .directors
            .iter()
            .map(|d| pb::Director {
                position: d.position.to_owned(),
                name: d.name.clone(),
                juristic_person_name: d.juristic_person_name.clone(),
                shareholding: d.shareholding,
            })
            .collect(),
    }
}

fn expected_directorships(register: &CompanyRegister, id: &NationalId) -> Vec<pb::Directorship> {
    let mut list: Vec<pb::Directorship> = register
        .companies
        .iter()
        .flat_map(|c| {
            c.directors
                .iter()
                .filter(|d| &d.national_id == id)
                .map(|d| pb::Directorship {
                    business_number: c.business_number.as_str().to_owned(),
                    company_name: c.name.clone(),
                    position: d.position.to_owned(),
                    company_status: status(c.status) as i32,
                    juristic_person_name: d.juristic_person_name.clone(),
                    shareholding: d.shareholding,
                })
        })
        .collect();
    list.sort_by(|a, b| (&a.business_number, &a.position).cmp(&(&b.business_number, &b.position)));
    list
}

// ---- harness ----------------------------------------------------------------------------

struct StandIn {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl StandIn {
    async fn start(dataset: Dataset) -> StandIn {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(standin::serve(listener, Arc::new(dataset), async {
            let _ = stopped.await;
        }));
        StandIn {
            addr,
            stop: Some(stop),
            task,
        }
    }

    fn service(&self, timeout_ms: u64) -> CommerceService {
        service_at(self.addr, timeout_ms)
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }
}

fn service_at(addr: SocketAddr, timeout_ms: u64) -> CommerceService {
    let client = GcisClient::new(&format!("http://{addr}"), Duration::from_millis(timeout_ms))
        .expect("client");
    CommerceService::new(client, CommerceMapping::shipped().expect("shipped mapping"))
}

async fn get_company(service: &CommerceService, number: &str) -> Result<pb::Company, Status> {
    let request = Request::new(pb::GetCompanyRequest {
        business_number: number.to_owned(),
    });
    CompanyRegistry::get_company(service, request)
        .await
        .map(tonic::Response::into_inner)
}

async fn list_directorships(
    service: &CommerceService,
    id: &str,
) -> Result<Vec<pb::Directorship>, Status> {
    let request = Request::new(pb::ListDirectorshipsRequest {
        national_id: id.to_owned(),
    });
    CompanyRegistry::list_directorships(service, request)
        .await
        .map(|r| r.into_inner().directorships)
}

#[track_caller]
fn assert_refused<T: std::fmt::Debug>(result: Result<T, Status>, code: Code, reason: Reason) {
    match result {
        Ok(value) => panic!("expected {reason:?}, got {value:?}"),
        Err(status) => {
            assert_eq!(status.code(), code, "{status:?}");
            assert_eq!(Rejection::reason_of(&status), Some(reason), "{status:?}");
        }
    }
}

// ---- a metrics recorder and a log capture, for the observability tests ------------------

#[derive(Default)]
struct Counters(Mutex<HashMap<String, Arc<AtomicU64>>>);

fn counter_key(name: &str, labels: &mut [(String, String)]) -> String {
    labels.sort();
    let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{name}{{{}}}", labels.join(","))
}

impl metrics::Recorder for &'static Counters {
    fn describe_counter(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }
    fn describe_gauge(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }
    fn describe_histogram(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }
    fn register_counter(&self, key: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Counter {
        let mut labels: Vec<(String, String)> = key
            .labels()
            .map(|l| (l.key().to_owned(), l.value().to_owned()))
            .collect();
        let key = counter_key(key.name(), &mut labels);
        let mut map = self.0.lock().expect("counters");
        metrics::Counter::from_arc(map.entry(key).or_default().clone())
    }
    fn register_gauge(&self, _: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Gauge {
        metrics::Gauge::noop()
    }
    fn register_histogram(
        &self,
        _: &metrics::Key,
        _: &metrics::Metadata<'_>,
    ) -> metrics::Histogram {
        metrics::Histogram::noop()
    }
}

fn counters() -> &'static Counters {
    static COUNTERS: OnceLock<&'static Counters> = OnceLock::new();
    COUNTERS.get_or_init(|| {
        let counters: &'static Counters = Box::leak(Box::default());
        metrics::set_global_recorder(counters).expect("one recorder per test binary");
        counters
    })
}

fn malformed_count(reason: &str) -> u64 {
    let key = counter_key(
        "tongdao_adapter_source_malformed_total",
        &mut [
            ("adapter".into(), "commerce".into()),
            ("reason".into(), reason.into()),
        ],
    );
    counters()
        .0
        .lock()
        .expect("counters")
        .get(&key)
        .map_or(0, |c| c.load(Ordering::Relaxed))
}

#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl LogBuffer {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("log")).into_owned()
    }
}

/// Captures this thread's log (the tests run on a current-thread runtime) at `level` and up.
fn capture_log(level: tracing::Level) -> (LogBuffer, tracing::subscriber::DefaultGuard) {
    let buffer = LogBuffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    (buffer, tracing::subscriber::set_default(subscriber))
}

// ---- the tests --------------------------------------------------------------------------

#[tokio::test]
async fn get_company_equals_the_register() {
    let register = register();
    let standin = StandIn::start(Dataset::from_register(&register)).await;
    let service = standin.service(2000);
    for company in &register.companies {
        let got = get_company(&service, company.business_number.as_str())
            .await
            .expect("company served");
        assert_eq!(got, expected(company), "{}", company.business_number);
    }
    standin.stop().await;
}

#[tokio::test]
async fn list_directorships_lists_the_persons_companies() {
    let register = register();
    let standin = StandIn::start(Dataset::from_register(&register)).await;
    let service = standin.service(2000);

    let shared = person(SHARED);
    let mut got = list_directorships(&service, shared.as_str())
        .await
        .expect("listed");
    got.sort_by(|a, b| (&a.business_number, &a.position).cmp(&(&b.business_number, &b.position)));
    assert_eq!(got.len(), 2);
    assert_eq!(got, expected_directorships(&register, &shared));

    for company in &register.companies {
        for d in &company.directors {
            let mut got = list_directorships(&service, d.national_id.as_str())
                .await
                .expect("listed");
            got.sort_by(|a, b| {
                (&a.business_number, &a.position).cmp(&(&b.business_number, &b.position))
            });
            assert_eq!(got, expected_directorships(&register, &d.national_id));
        }
    }

    // Not a director: OK and empty, whether the service answers `[]` or an empty body.
    let mut parities = [false; 2];
    for serial in 7_777_770..7_777_776 {
        let nobody = person(serial);
        parities[last_digit(nobody.as_str()) % 2] = true;
        let got = list_directorships(&service, nobody.as_str())
            .await
            .expect("ok");
        assert!(got.is_empty(), "{got:?}");
    }
    assert_eq!(parities, [true, true], "both empty forms exercised");
    standin.stop().await;
}

#[tokio::test]
async fn unknown_business_number_is_not_found() {
    let register = register();
    let standin = StandIn::start(Dataset::from_register(&register)).await;
    let service = standin.service(2000);
    // Several numbers: the stand-in answers "nothing" as `[]` for some, an empty body for others.
    let mut from = 87_000_000;
    let mut parities = [false; 2];
    for _ in 0..6 {
        let number = business_number(from);
        from = number.as_str().parse::<u32>().expect("digits") + 1;
        parities[last_digit(number.as_str()) % 2] = true;
        assert_refused(
            get_company(&service, number.as_str()).await,
            Code::NotFound,
            Reason::RecordNotFound,
        );
    }
    assert_eq!(parities, [true, true], "both empty forms exercised");
    standin.stop().await;
}

#[tokio::test]
async fn invalid_subjects_are_refused_before_the_source() {
    // Nothing listens here: an adapter that touched the source would answer UNAVAILABLE.
    let dead = dead_address().await;
    let service = service_at(dead, 500);
    for bad in [
        "",
        "1234567",
        "123456789",
        "2209913A",
        "22099132",
        "２２０９９１３１",
    ] {
        assert_refused(
            get_company(&service, bad).await,
            Code::InvalidArgument,
            Reason::SubjectInvalid,
        );
    }
    for bad in ["", "A12345678", "A123456788", "a123456789", "A323456789"] {
        assert_refused(
            list_directorships(&service, bad).await,
            Code::InvalidArgument,
            Reason::SubjectInvalid,
        );
    }
    // The message names no ID.
    let status = get_company(&service, "22099132")
        .await
        .expect_err("refused");
    assert!(
        !status.message().contains("22099132"),
        "{}",
        status.message()
    );
}

async fn dead_address() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    addr
}

#[tokio::test]
async fn source_down_is_unavailable() {
    let register = register();
    let number = register.companies[0].business_number.as_str().to_owned();
    let service = service_at(dead_address().await, 1000);
    assert_refused(
        get_company(&service, &number).await,
        Code::Unavailable,
        Reason::AdapterUnavailable,
    );
    assert_refused(
        list_directorships(&service, person(SHARED).as_str()).await,
        Code::Unavailable,
        Reason::AdapterUnavailable,
    );

    // A stand-in that served and then stopped: pooled connections are gone too.
    let standin = StandIn::start(Dataset::from_register(&register)).await;
    let service = standin.service(1000);
    get_company(&service, &number)
        .await
        .expect("served while up");
    standin.stop().await;
    assert_refused(
        get_company(&service, &number).await,
        Code::Unavailable,
        Reason::AdapterUnavailable,
    );
}

#[tokio::test]
async fn source_faults_map_to_documented_reasons() {
    let register = register();
    let companies = &register.companies;
    let cases = [
        (
            Fault::PlainTextError,
            Code::Unavailable,
            Reason::AdapterUnavailable,
        ),
        (
            Fault::HtmlPage,
            Code::Unavailable,
            Reason::AdapterUnavailable,
        ),
        (
            Fault::ServiceUnavailable,
            Code::Unavailable,
            Reason::AdapterUnavailable,
        ),
        (Fault::FilterError, Code::Internal, Reason::AdapterFailed),
        (
            Fault::WrongShape,
            Code::DataLoss,
            Reason::SourceRecordMalformed,
        ),
        (
            Fault::TruncatedJson,
            Code::DataLoss,
            Reason::SourceRecordMalformed,
        ),
    ];
    let mut dataset = Dataset::from_register(&register);
    for (i, (fault, ..)) in cases.iter().enumerate() {
        dataset.inject(companies[i].business_number.as_str(), *fault);
    }
    // The same faults by national ID, on the internal endpoint.
    for (i, (fault, ..)) in cases.iter().enumerate() {
        dataset.inject(person(5_000_000 + i as u32).as_str(), *fault);
    }
    let standin = StandIn::start(dataset).await;
    let service = standin.service(2000);
    for (i, (fault, code, reason)) in cases.iter().enumerate() {
        let result = get_company(&service, companies[i].business_number.as_str()).await;
        assert!(result.is_err(), "{fault:?}");
        assert_refused(result, *code, *reason);
        let result = list_directorships(&service, person(5_000_000 + i as u32).as_str()).await;
        assert_refused(result, *code, *reason);
    }
    // The untouched company is still served whole.
    let last = companies.last().expect("companies");
    assert_eq!(
        get_company(&service, last.business_number.as_str())
            .await
            .expect("served"),
        expected(last)
    );
    standin.stop().await;
}

#[tokio::test]
async fn a_source_slower_than_the_timeout_is_unavailable() {
    let register = register();
    let number = register.companies[0].business_number.as_str().to_owned();
    let mut dataset = Dataset::from_register(&register);
    dataset.inject(&number, Fault::Hang);
    dataset.inject(person(SHARED).as_str(), Fault::Hang);
    let standin = StandIn::start(dataset).await;
    let service = standin.service(200);
    let started = Instant::now();
    let result = tokio::time::timeout(Duration::from_secs(10), get_company(&service, &number))
        .await
        .expect("the adapter gives up on its own");
    assert_refused(result, Code::Unavailable, Reason::AdapterUnavailable);
    let result = tokio::time::timeout(
        Duration::from_secs(10),
        list_directorships(&service, person(SHARED).as_str()),
    )
    .await
    .expect("the adapter gives up on its own");
    assert_refused(result, Code::Unavailable, Reason::AdapterUnavailable);
    println!("two timed-out calls took {:?}", started.elapsed());
    // The other companies are unaffected.
    let other = &register.companies[1];
    assert_eq!(
        get_company(&service, other.business_number.as_str())
            .await
            .expect("served"),
        expected(other)
    );
    standin.stop().await;
}

#[tokio::test]
async fn malformed_company_is_refused_whole_counted_and_logged() {
    let register = register();
    let mut dataset = Dataset::from_register(&register);
    let bad_date = register.companies[0].business_number.as_str().to_owned();
    let bad_director = register.companies[1].business_number.as_str().to_owned();
    let bad_status = register.companies[2].business_number.as_str().to_owned();
    let wrong_number = register.companies[3].business_number.as_str().to_owned();
    let entry = dataset.companies.get_mut(&bad_date).expect("company");
    entry
        .record
        .insert("Company_Setup_Date".into(), "0761399".into());
    let entry = dataset.companies.get_mut(&bad_director).expect("company");
    entry.directors[1]
        .record
        .insert("Person_Shareholding".into(), "12.5".into());
    let entry = dataset.companies.get_mut(&bad_status).expect("company");
    entry.record.insert("Company_Status".into(), "77".into());
    let entry = dataset.companies.get_mut(&wrong_number).expect("company");
    entry
        .record
        .insert("Business_Accounting_NO".into(), "22099131".into());

    let standin = StandIn::start(dataset).await;
    let service = standin.service(2000);
    let (log, _guard) = capture_log(tracing::Level::DEBUG);
    let before: Vec<u64> = [
        "bad_date",
        "not_integer",
        "unknown_code",
        "subject_mismatch",
    ]
    .iter()
    .map(|r| malformed_count(r))
    .collect();

    for number in [&bad_date, &bad_director, &bad_status, &wrong_number] {
        assert_refused(
            get_company(&service, number).await,
            Code::DataLoss,
            Reason::SourceRecordMalformed,
        );
    }
    let after: Vec<u64> = [
        "bad_date",
        "not_integer",
        "unknown_code",
        "subject_mismatch",
    ]
    .iter()
    .map(|r| malformed_count(r))
    .collect();
    for (i, (b, a)) in before.iter().zip(&after).enumerate() {
        assert!(a > b, "metric {i} did not count: {before:?} → {after:?}");
    }
    let text = log.text();
    assert!(text.contains("malformed GCIS record"), "{text}");
    assert!(
        text.contains(&bad_date) && text.contains("Company_Setup_Date"),
        "{text}"
    );
    assert!(text.contains("directors[1].Person_Shareholding"), "{text}");
    // Where in the source: the query and the record's index in the answer.
    assert!(
        text.contains(&format!(
            "Business_Accounting_NO eq {bad_director}) record 1"
        )),
        "{text}"
    );
    standin.stop().await;
}

#[tokio::test]
async fn malformed_directorship_is_refused_and_logged_without_the_id() {
    let register = register();
    let mut dataset = Dataset::from_register(&register);
    // The shared director's row in the second company carries a bad shareholding.
    let second = register.companies[1].business_number.as_str().to_owned();
    let entry = dataset.companies.get_mut(&second).expect("company");
    let shared = person(SHARED);
    let row = entry
        .directors
        .iter_mut()
        .find(|d| d.person_id == shared.as_str())
        .expect("shared director");
    row.record.insert("Person_Shareholding".into(), "-5".into());
    let standin = StandIn::start(dataset).await;
    let service = standin.service(2000);
    let (log, _guard) = capture_log(tracing::Level::DEBUG);
    let before = malformed_count("out_of_range");
    assert_refused(
        list_directorships(&service, shared.as_str()).await,
        Code::DataLoss,
        Reason::SourceRecordMalformed,
    );
    assert!(malformed_count("out_of_range") > before);
    let text = log.text();
    assert!(
        text.contains("malformed GCIS record") && text.contains(&second),
        "{text}"
    );
    assert!(
        text.contains(&format!("Person_ID eq ******{}) record", shared.last4())),
        "{text}"
    );
    for company in &register.companies {
        for d in &company.directors {
            assert!(
                !text.contains(d.national_id.as_str()),
                "national ID in the log: {text}"
            );
        }
    }
    standin.stop().await;
}

/// Sends one raw HTTP/1.1 request to the stand-in: its answer, status line and body.
fn raw_get(addr: SocketAddr, target: &str) -> (String, String) {
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    write!(
        stream,
        "GET {target} HTTP/1.1\r\nHost: gcis\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).expect("read");
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    (
        head.lines().next().unwrap_or("").to_owned(),
        body.to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standin_speaks_the_documented_api_and_its_quirks() {
    let register = register();
    let standin = StandIn::start(Dataset::from_register(&register)).await;
    let addr = standin.addr;
    let number = register.companies[1].business_number.as_str().to_owned();
    let answers = tokio::task::spawn_blocking(move || {
        let api = |uuid: &str, query: &str| raw_get(addr, &format!("/od/data/api/{uuid}?{query}"));
        vec![
            api(
                standin::COMPANY_BASIC_UUID,
                &format!(
                    "$format=json&$filter=Business_Accounting_NO%20eq%20{number}&$skip=0&$top=50"
                ),
            ),
            api(
                standin::COMPANY_WITH_ITEMS_UUID,
                &format!("$format=json&$filter=Business_Accounting_NO%20eq%20'{number}'"),
            ),
            api(standin::COMPANY_WITH_ITEMS_UUID, "$format=json"),
            api(
                "00000000-0000-0000-0000-000000000000",
                &format!("$format=json&$filter=Business_Accounting_NO%20eq%20{number}"),
            ),
            api(
                standin::COMPANY_WITH_ITEMS_UUID,
                &format!("$format=json&$filter=Company_Name%20eq%20{number}"),
            ),
            api(
                standin::DIRECTORS_UUID,
                &format!(
                    "$format=json&$filter=Business_Accounting_NO%20eq%20{number}&$top=2&$skip=1"
                ),
            ),
            api(
                standin::DIRECTORS_UUID,
                &format!("$format=json&$filter=Business_Accounting_NO%20eq%20{number}&$top=1001"),
            ),
        ]
    })
    .await
    .expect("raw requests");
    let basic: serde_json::Value = serde_json::from_str(&answers[0].1).expect("json");
    assert_eq!(answers[0].0, "HTTP/1.1 200 OK");
    assert!(basic[0].get("Company_Status").is_none() && basic[0].get("Cmp_Business").is_none());
    assert_eq!(
        basic[0]["Company_Name"], "測試1精密股份有限公司   ",
        "index 1 is space-padded"
    );
    assert_eq!(
        basic[0]["Paid_In_Capital_Amount"], "1,500,000,000",
        "index 1: string with commas"
    );
    assert_eq!(
        basic[0]["Revoke_App_Date"], "       ",
        "index 1: blank as seven spaces"
    );
    let items: serde_json::Value = serde_json::from_str(&answers[1].1).expect("json");
    assert_eq!(items[0]["Company_Status"], "02");
    assert_eq!(items[0]["Cmp_Business"][0]["Business_Item"], "CC01080");
    assert_eq!(
        answers[2],
        ("HTTP/1.1 200 OK".into(), standin::FILTER_ERROR_TEXT.into())
    );
    assert_eq!(
        answers[3],
        ("HTTP/1.1 200 OK".into(), standin::NO_SUCH_API_TEXT.into())
    );
    assert_eq!(
        answers[4],
        ("HTTP/1.1 200 OK".into(), String::new()),
        "wrong field: empty body"
    );
    let page: serde_json::Value = serde_json::from_str(&answers[5].1).expect("json");
    assert_eq!(page.as_array().map(Vec::len), Some(2));
    assert_eq!(page[0]["Person_Position_Name"], "董事");
    assert_eq!(answers[6].1, "$top參數有誤，請查明後繼續。");
    // No national ID in the open data.
    for (_, body) in &answers {
        for c in &register.companies {
            for d in &c.directors {
                assert!(!body.contains(d.national_id.as_str()));
            }
        }
    }
    standin.stop().await;
}

#[test]
fn dataset_round_trips_through_its_file() {
    let register = register();
    let mut dataset = Dataset::from_register(&register);
    dataset.inject(register.companies[0].business_number.as_str(), Fault::Hang);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("gcis.json");
    dataset.write(&path).expect("write");
    assert_eq!(Dataset::load(&path).expect("load"), dataset);

    std::fs::write(&path, b"{\"format\":\"something-else/9\",\"companies\":{}}").expect("write");
    assert!(matches!(
        Dataset::load(&path),
        Err(standin::DatasetError::Format { .. })
    ));
    std::fs::write(&path, b"[1,2").expect("write");
    assert!(matches!(
        Dataset::load(&path),
        Err(standin::DatasetError::Json(_))
    ));
    assert!(matches!(
        Dataset::load(dir.path().join("absent.json")),
        Err(standin::DatasetError::Io(_))
    ));
}

#[tokio::test]
async fn generated_register_is_served_whole() {
    let population = tongdao_synth::Population::generate(7, 300);
    let register = tongdao_synth::Registers::generate(&population).commerce;
    assert!(
        !register.companies.is_empty(),
        "the synthetic generator produced no companies"
    );
    let standin = StandIn::start(Dataset::from_register(&register)).await;
    let service = standin.service(2000);
    for company in &register.companies {
        let got = get_company(&service, company.business_number.as_str())
            .await
            .expect("company served");
        assert_eq!(got, expected(company));
        for d in &company.directors {
            let mut got = list_directorships(&service, d.national_id.as_str())
                .await
                .expect("listed");
            got.sort_by(|a, b| {
                (&a.business_number, &a.position).cmp(&(&b.business_number, &b.position))
            });
            assert_eq!(got, expected_directorships(&register, &d.national_id));
        }
    }
    standin.stop().await;
}

/// Latency of GetCompany through the client and the stand-in (two GCIS requests per call, in
/// parallel, over pooled keep-alive connections). `cargo test -p tongdao-adapter-commerce
/// --test gcis -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "prints figures"]
async fn latency_of_get_company() {
    let register = register();
    let standin = StandIn::start(Dataset::from_register(&register)).await;
    let service = standin.service(2000);
    let numbers: Vec<String> = register
        .companies
        .iter()
        .map(|c| c.business_number.as_str().to_owned())
        .collect();
    for n in &numbers {
        get_company(&service, n).await.expect("warm-up");
    }
    let calls = 5000;
    let mut samples = Vec::with_capacity(calls);
    let started = Instant::now();
    for i in 0..calls {
        let t = Instant::now();
        get_company(&service, &numbers[i % numbers.len()])
            .await
            .expect("served");
        samples.push(t.elapsed());
    }
    let total = started.elapsed();
    samples.sort();
    let pct = |p: f64| samples[((samples.len() as f64 * p) as usize).min(samples.len() - 1)];
    println!(
        "GetCompany, 1 in flight, {calls} calls: p50 {:?} p90 {:?} p99 {:?} max {:?}; {:.0} calls/s",
        pct(0.50),
        pct(0.90),
        pct(0.99),
        samples[samples.len() - 1],
        calls as f64 / total.as_secs_f64()
    );

    let concurrent = 32;
    let per_task = 300;
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for t in 0..concurrent {
        let service = service.clone();
        let numbers = numbers.clone();
        tasks.spawn(async move {
            for i in 0..per_task {
                get_company(&service, &numbers[(t + i) % numbers.len()])
                    .await
                    .expect("served");
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("task");
    }
    println!(
        "GetCompany, {concurrent} in flight: {:.0} calls/s",
        (concurrent * per_task) as f64 / started.elapsed().as_secs_f64()
    );
    standin.stop().await;
}

#[tokio::test]
async fn build_reports_every_problem_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mapping = dir.path().join("mapping.toml");
    std::fs::write(
        &mapping,
        tongdao_adapter_commerce::records::SHIPPED_MAPPING
            .replace("[records.directorship]", "[records.directorships]")
            .replace(
                "[records.directorship.fields]",
                "[records.directorships.fields]",
            ),
    )
    .expect("write");
    let config = tongdao_config::CommerceAdapterConfig {
        server: tongdao_config::AdapterServerConfig {
            listen_addr: "127.0.0.1:0".parse().expect("addr"),
            tls: tongdao_config::TlsFiles {
                certificate: dir.path().join("absent.pem"),
                private_key: dir.path().join("absent.key"),
                trust_anchors: vec![dir.path().join("absent-ca.pem")],
                crls: vec![],
            },
            broker_name: "broker.tongdao.test".into(),
            handshake_timeout_ms: 1000,
        },
        gcis_url: "https://data.gcis.nat.gov.tw".into(),
        gcis_timeout_ms: 1000,
        mapping: Some(mapping),
    };
    let error = tongdao_adapter_commerce::build(&config)
        .await
        .expect_err("refused");
    assert_eq!(error.name, "commerce");
    let all = error.problems.join("\n");
    assert!(all.contains("tls"), "{all}");
    assert!(all.contains("https is not supported"), "{all}");
    assert!(all.contains("[records.directorship]"), "{all}");
}

#[tokio::test]
async fn connections_are_reused() {
    let register = register();
    let standin = StandIn::start(Dataset::from_register(&register)).await;
    let service = standin.service(2000);
    let (log, _guard) = capture_log(tracing::Level::DEBUG);
    let calls = 40;
    for i in 0..calls {
        let company = &register.companies[i % register.companies.len()];
        get_company(&service, company.business_number.as_str())
            .await
            .expect("served");
    }
    let accepted = log
        .text()
        .matches("gcis stand-in: connection accepted")
        .count();
    // Each call sends two requests in parallel: two connections, kept alive and reused.
    assert!(
        (1..=4).contains(&accepted),
        "{accepted} connections for {calls} calls"
    );
    standin.stop().await;
}

#[tokio::test]
async fn more_directors_than_a_page_are_all_served() {
    let mut register = register();
    let company = &mut register.companies[0];
    company.directors = (0..2_345u32)
        .map(|n| director("董事", 6_000_000 + n, &format!("董事{n}"), "", u64::from(n)))
        .collect();
    let standin = StandIn::start(Dataset::from_register(&register)).await;
    let service = standin.service(5000);
    let company = &register.companies[0];
    let got = get_company(&service, company.business_number.as_str())
        .await
        .expect("served");
    assert_eq!(got.directors.len(), 2_345, "three pages of at most 1000");
    assert_eq!(got, expected(company));
    standin.stop().await;
}
