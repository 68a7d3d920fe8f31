//! The land adapter's service against real databases — SQLite and PostgreSQL — seeded from a
//! synthetic register: answers agree with the register exactly; absent, invalid, malformed and
//! unavailable cases are refused with their reasons.

mod common;

use std::collections::HashSet;

use common::{Backend, Fixture};
use tongdao_adapter_land::LandService;
use tongdao_adapter_land::store::AnyStore;
use tongdao_core::{Reason, Rejection};
use tongdao_schemas::land::v1 as pb;
use tongdao_schemas::land::v1::land_registry_server::LandRegistry;
use tongdao_synth::registers::{LandRegister, Owner};
use tonic::{Code, Request, Status};

async fn get_parcel(
    service: &LandService<AnyStore>,
    key: pb::ParcelKey,
) -> Result<pb::Parcel, Status> {
    service
        .get_parcel(Request::new(pb::GetParcelRequest { key: Some(key) }))
        .await
        .map(tonic::Response::into_inner)
}

async fn list_holdings(
    service: &LandService<AnyStore>,
    national_id: &str,
) -> Result<Vec<pb::Holding>, Status> {
    service
        .list_holdings(Request::new(pb::ListHoldingsRequest {
            national_id: national_id.to_owned(),
        }))
        .await
        .map(|r| r.into_inner().holdings)
}

fn assert_refused<T: std::fmt::Debug>(result: Result<T, Status>, reason: Reason, code: Code) {
    let status = result.expect_err("refused");
    assert_eq!(status.code(), code, "{status:?}");
    assert_eq!(Rejection::reason_of(&status), Some(reason), "{status:?}");
}

macro_rules! both_backends {
    ($name:ident) => {
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                super::$name(super::Backend::Sqlite).await;
            }
            #[tokio::test]
            async fn postgres() {
                super::$name(super::Backend::Postgres).await;
            }
        }
    };
}

/// A person of the population who owns a share of `parcel_index`'s parcel.
fn person_owner(register: &LandRegister) -> (usize, String) {
    register
        .parcels
        .iter()
        .enumerate()
        .find_map(|(i, p)| {
            p.owners.iter().find_map(|o| match &o.owner {
                Owner::Person { national_id, .. } => Some((i, national_id.to_string())),
                _ => None,
            })
        })
        .expect("a parcel owned by a person")
}

// ---- answers agree with the register -------------------------------------------------------

async fn answers_agree_with_the_register(backend: Backend) {
    common::observe();
    let (population, register) = common::generated(20_261_127, 400);
    let Some(fixture) = Fixture::new(backend, &register).await else {
        return;
    };
    let kinds: HashSet<i32> = register
        .parcels
        .iter()
        .flat_map(|p| p.owners.iter())
        .map(|o| match o.owner {
            Owner::Person { .. } => 1,
            Owner::Company { .. } => 2,
            Owner::Public { .. } => 3,
        })
        .collect();
    assert_eq!(kinds.len(), 3, "the register has every kind of owner");
    assert!(
        register.parcels.iter().any(|p| !p.encumbrances.is_empty()),
        "the register has encumbrances"
    );
    let scan = fixture.service.rescan_owner_ids().await.expect("scan");
    assert_eq!(scan.unattributable, 0, "{scan:?}");
    assert_eq!(
        scan.rows,
        register
            .parcels
            .iter()
            .map(|p| p.owners.len() as u64)
            .sum::<u64>()
    );
    for parcel in &register.parcels {
        let got = get_parcel(&fixture.service, common::key(parcel))
            .await
            .unwrap_or_else(|s| panic!("{:?}: {s:?}", parcel.key));
        assert_eq!(got, common::expected_parcel(parcel), "{:?}", parcel.key);
    }
    let expected = common::expected_holdings(&register);
    let mut without_land = 0;
    for (_, person) in population.people() {
        let id = person.national_id.to_string();
        let got = list_holdings(&fixture.service, &id)
            .await
            .unwrap_or_else(|s| panic!("holdings: {s:?}"));
        match expected.get(&id) {
            Some(holdings) => assert_eq!(&got, holdings),
            None => {
                assert!(got.is_empty(), "a person without land has no holdings");
                without_land += 1;
            }
        }
    }
    assert!(without_land > 0, "some people own no land");
    assert!(!expected.is_empty(), "some people own land");
}
both_backends!(answers_agree_with_the_register);

// ---- absent and invalid --------------------------------------------------------------------

async fn unknown_parcel_is_not_found_and_bad_subjects_are_invalid(backend: Backend) {
    common::observe();
    let (_, register) = common::generated(7, 60);
    let Some(fixture) = Fixture::new(backend, &register).await else {
        return;
    };
    let mut absent = common::key(&register.parcels[0]);
    absent.parcel_number = "9999-9999".into();
    assert_refused(
        get_parcel(&fixture.service, absent).await,
        Reason::RecordNotFound,
        Code::NotFound,
    );
    let good = common::key(&register.parcels[0]);
    let invalid = [
        pb::ParcelKey {
            land_office_code: "aa".into(),
            ..good.clone()
        },
        pb::ParcelKey {
            land_office_code: "A1".into(),
            ..good.clone()
        },
        pb::ParcelKey {
            section_code: "200".into(),
            ..good.clone()
        },
        pb::ParcelKey {
            parcel_number: "00010001".into(),
            ..good.clone()
        },
        pb::ParcelKey {
            parcel_number: "0001-001".into(),
            ..good.clone()
        },
        pb::ParcelKey {
            parcel_number: "０００１-０００１".into(),
            ..good.clone()
        },
    ];
    for key in invalid {
        assert_refused(
            get_parcel(&fixture.service, key.clone()).await,
            Reason::SubjectInvalid,
            Code::InvalidArgument,
        );
    }
    let missing_key = fixture
        .service
        .get_parcel(Request::new(pb::GetParcelRequest { key: None }))
        .await;
    assert_refused(missing_key, Reason::SubjectInvalid, Code::InvalidArgument);

    let (_, owner) = person_owner(&register);
    let mut broken = owner.clone().into_bytes();
    broken[9] = if broken[9] == b'0' { b'1' } else { b'0' };
    let broken = String::from_utf8(broken).expect("ascii");
    for id in [broken.as_str(), "", "A12345678", "a123456789"] {
        let status = list_holdings(&fixture.service, id)
            .await
            .expect_err("refused");
        assert_eq!(Rejection::reason_of(&status), Some(Reason::SubjectInvalid));
        assert!(
            !status.message().contains(&broken),
            "the message never echoes the ID"
        );
    }
}
both_backends!(unknown_parcel_is_not_found_and_bad_subjects_are_invalid);

// ---- malformed rows ------------------------------------------------------------------------

/// One way to break the source and the reason label it must be counted under.
struct Breakage {
    reason: &'static str,
    /// SQL run against the seeded tables; `{k}` is replaced by the parcel's WHERE clause.
    sql: &'static str,
    /// Whether ListHoldings of the parcel's person owner must fail too.
    holdings_fail: bool,
}

const BREAKAGES: &[Breakage] = &[
    Breakage {
        reason: "bad_date",
        sql: "UPDATE RALID SET REG_DATE = '1120231' WHERE {k}",
        holdings_fail: false,
    },
    Breakage {
        reason: "bad_date",
        sql: "UPDATE RBLOW SET REG_DATE = '11202xx' WHERE {k}",
        holdings_fail: true,
    },
    Breakage {
        reason: "bad_share",
        sql: "UPDATE RBLOW SET RIGHT_SCOPE = '3/0' WHERE {k}",
        holdings_fail: true,
    },
    Breakage {
        reason: "not_decimal",
        sql: "UPDATE RALID SET AREA = 'abc' WHERE {k}",
        holdings_fail: true,
    },
    Breakage {
        reason: "not_integer",
        sql: "UPDATE RALID SET CUR_VALUE = '12,5' WHERE {k}",
        holdings_fail: true,
    },
    Breakage {
        reason: "missing",
        sql: "UPDATE RALID SET COUNTY = '  ' WHERE {k}",
        holdings_fail: true,
    },
    Breakage {
        reason: "missing_description",
        sql: "DELETE FROM RALID WHERE {k}",
        holdings_fail: true,
    },
    Breakage {
        reason: "share_total",
        sql: "UPDATE RBLOW SET RIGHT_SCOPE = '1/7' WHERE {k}",
        holdings_fail: false,
    },
];

/// Breakages only the adapter's own checks catch (the mapping cannot see them).
const ADAPTER_BREAKAGES: &[Breakage] = &[
    Breakage {
        reason: "bad_date",
        sql: "UPDATE RBLOW SET PREV_YM = '11213' WHERE {k}",
        holdings_fail: false,
    },
    Breakage {
        reason: "id_shape",
        sql: "UPDATE RBLOW SET OWNER_ID = 'A3' WHERE {k}",
        holdings_fail: false,
    },
    Breakage {
        reason: "bad_register_sequence",
        sql: "UPDATE RBLOW SET RSEQ = '1' WHERE {k}",
        holdings_fail: true,
    },
    Breakage {
        reason: "bad_parcel_key",
        sql: "UPDATE RBLOW SET PARCEL_NO = '0001-01' WHERE {k}; \
              UPDATE RALID SET PARCEL_NO = '0001-01' WHERE {k}",
        holdings_fail: true,
    },
];

async fn adapter_checks_catch_what_the_mapping_cannot(backend: Backend) {
    common::observe();
    let (_, register) = common::generated(15, 80);
    let (index, owner) = person_owner(&register);
    let parcel = &register.parcels[index];
    let where_clause = format!(
        "UNIT = '{}' AND SEC = '{}' AND PARCEL_NO = '{}'",
        parcel.key.land_office_code,
        parcel.key.section_code,
        parcel.key.parcel_number.replace('-', "")
    );
    for breakage in ADAPTER_BREAKAGES {
        let Some(fixture) = Fixture::new(backend, &register).await else {
            return;
        };
        fixture
            .execute(&breakage.sql.replace("{k}", &where_clause))
            .await;
        let before = common::malformed_count(breakage.reason);
        if breakage.reason != "bad_parcel_key" {
            assert_refused(
                get_parcel(&fixture.service, common::key(parcel)).await,
                Reason::SourceRecordMalformed,
                Code::DataLoss,
            );
        }
        let holdings = list_holdings(&fixture.service, &owner).await;
        if breakage.holdings_fail {
            assert_refused(holdings, Reason::SourceRecordMalformed, Code::DataLoss);
        } else {
            assert!(holdings.is_ok(), "{}: {holdings:?}", breakage.sql);
        }
        assert!(
            common::malformed_count(breakage.reason) > before,
            "{} counted under {}",
            breakage.sql,
            breakage.reason
        );
    }

    // An encumbrance naming an ownership entry the parcel lacks.
    let Some(encumbered) = register.parcels.iter().find(|p| !p.encumbrances.is_empty()) else {
        panic!("no encumbered parcel");
    };
    let Some(fixture) = Fixture::new(backend, &register).await else {
        return;
    };
    fixture
        .execute(&format!(
            "UPDATE RCLOR SET TARGET_RSEQ = '0099' WHERE UNIT = '{}' AND SEC = '{}' AND \
             PARCEL_NO = '{}'",
            encumbered.key.land_office_code,
            encumbered.key.section_code,
            encumbered.key.parcel_number.replace('-', "")
        ))
        .await;
    let before = common::malformed_count("dangling_target");
    assert_refused(
        get_parcel(&fixture.service, common::key(encumbered)).await,
        Reason::SourceRecordMalformed,
        Code::DataLoss,
    );
    assert!(common::malformed_count("dangling_target") > before);
}
both_backends!(adapter_checks_catch_what_the_mapping_cannot);

#[tokio::test]
async fn values_that_are_not_text_are_malformed() {
    common::observe();
    let (_, register) = common::generated(16, 40);
    let parcel = &register.parcels[0];
    let where_clause = format!(
        "UNIT = '{}' AND SEC = '{}' AND PARCEL_NO = '{}'",
        parcel.key.land_office_code,
        parcel.key.section_code,
        parcel.key.parcel_number.replace('-', "")
    );
    for sql in [
        "UPDATE RALID SET ZONE = x'00ff' WHERE {k}",
        "UPDATE RALID SET SEC_NAME = CAST(x'e4b8ff' AS TEXT) WHERE {k}",
    ] {
        let fixture = Fixture::new(Backend::Sqlite, &register)
            .await
            .expect("sqlite");
        fixture.execute(&sql.replace("{k}", &where_clause)).await;
        let before = common::malformed_count("not_text");
        assert_refused(
            get_parcel(&fixture.service, common::key(parcel)).await,
            Reason::SourceRecordMalformed,
            Code::DataLoss,
        );
        assert!(common::malformed_count("not_text") > before, "{sql}");
    }
}

async fn malformed_rows_are_refused_logged_and_counted(backend: Backend) {
    common::observe();
    let (_, register) = common::generated(11, 80);
    let (index, owner) = person_owner(&register);
    let parcel = &register.parcels[index];
    let where_clause = format!(
        "UNIT = '{}' AND SEC = '{}' AND PARCEL_NO = '{}'",
        parcel.key.land_office_code,
        parcel.key.section_code,
        parcel.key.parcel_number.replace('-', "")
    );
    for breakage in BREAKAGES {
        let Some(fixture) = Fixture::new(backend, &register).await else {
            return;
        };
        fixture
            .execute(&breakage.sql.replace("{k}", &where_clause))
            .await;
        let before = common::malformed_count(breakage.reason);
        let result = get_parcel(&fixture.service, common::key(parcel)).await;
        let status = result.expect_err(breakage.sql);
        assert_eq!(
            status.code(),
            Code::DataLoss,
            "{}: {status:?}",
            breakage.sql
        );
        assert_eq!(
            Rejection::reason_of(&status),
            Some(Reason::SourceRecordMalformed),
            "{}",
            breakage.sql
        );
        assert!(!status.message().contains(&owner));
        assert!(
            common::malformed_count(breakage.reason) > before,
            "{} counted under {}",
            breakage.sql,
            breakage.reason
        );
        let holdings = list_holdings(&fixture.service, &owner).await;
        if breakage.holdings_fail {
            assert_refused(holdings, Reason::SourceRecordMalformed, Code::DataLoss);
        } else {
            assert!(holdings.is_ok(), "{}: {holdings:?}", breakage.sql);
        }
        // Other parcels are still served.
        let other = register
            .parcels
            .iter()
            .find(|p| p.key != parcel.key)
            .expect("another parcel");
        get_parcel(&fixture.service, common::key(other))
            .await
            .expect("other parcels unaffected");
    }
    let log = common::log_text();
    let logged_key = format!(
        "{}/{}/{}",
        parcel.key.land_office_code,
        parcel.key.section_code,
        parcel.key.parcel_number.replace('-', "")
    );
    assert!(log.contains(&logged_key), "the log names the row's key");
    assert!(
        log.contains("RBLOW") && log.contains("RALID"),
        "and its table"
    );
    assert!(!log.contains(&owner), "never a national ID");
}
both_backends!(malformed_rows_are_refused_logged_and_counted);

async fn bad_owner_ids_and_codes_are_refused(backend: Backend) {
    common::observe();
    let (_, register) = common::generated(12, 120);
    let Some(fixture) = Fixture::new(backend, &register).await else {
        return;
    };
    let (index, owner) = person_owner(&register);
    let parcel = &register.parcels[index];
    let number = parcel.key.parcel_number.replace('-', "");
    let mut broken = owner.clone().into_bytes();
    broken[9] = if broken[9] == b'0' { b'1' } else { b'0' };
    let broken = String::from_utf8(broken).expect("ascii");
    let before = common::malformed_count("id_checksum");
    fixture
        .execute(&format!(
            "UPDATE RBLOW SET OWNER_ID = '{broken}' WHERE UNIT = '{}' AND SEC = '{}' AND \
             PARCEL_NO = '{number}' AND OWNER_ID = '{owner}'",
            parcel.key.land_office_code, parcel.key.section_code
        ))
        .await;
    assert_refused(
        get_parcel(&fixture.service, common::key(parcel)).await,
        Reason::SourceRecordMalformed,
        Code::DataLoss,
    );
    assert!(common::malformed_count("id_checksum") > before);
    assert!(
        !common::log_text().contains(&broken),
        "the bad ID is not logged"
    );

    let Some(encumbered) = register.parcels.iter().find(|p| !p.encumbrances.is_empty()) else {
        panic!("no encumbered parcel");
    };
    let before = common::malformed_count("unknown_code");
    fixture
        .execute(&format!(
            "UPDATE RCLOR SET RIGHT_TYPE = '99' WHERE UNIT = '{}' AND SEC = '{}' AND \
             PARCEL_NO = '{}'",
            encumbered.key.land_office_code,
            encumbered.key.section_code,
            encumbered.key.parcel_number.replace('-', "")
        ))
        .await;
    assert_refused(
        get_parcel(&fixture.service, common::key(encumbered)).await,
        Reason::SourceRecordMalformed,
        Code::DataLoss,
    );
    assert!(common::malformed_count("unknown_code") > before);
}
both_backends!(bad_owner_ids_and_codes_are_refused);

async fn unattributable_owner_ids_prevent_claiming_absence(backend: Backend) {
    common::observe();
    let (population, register) = common::generated(17, 80);
    let Some(fixture) = Fixture::new(backend, &register).await else {
        return;
    };
    let expected = common::expected_holdings(&register);
    let landless = population
        .people()
        .map(|(_, p)| p.national_id.to_string())
        .find(|id| !expected.contains_key(id))
        .expect("someone without land");
    // A sole-parcel owner whose ID gets a padded copy: the exact lookup no longer finds it.
    let (owner, holdings) = expected
        .iter()
        .find(|(_, h)| h.len() == 1)
        .expect("someone with one parcel");
    let key = holdings[0].key.clone().expect("key");
    fixture
        .execute(&format!(
            "UPDATE RBLOW SET OWNER_ID = ' {owner}' WHERE UNIT = '{}' AND SEC = '{}' AND \
             PARCEL_NO = '{}' AND OWNER_ID = '{owner}'",
            key.land_office_code,
            key.section_code,
            key.parcel_number.replace('-', "")
        ))
        .await;
    // Not noticed until the next scan.
    assert!(
        list_holdings(&fixture.service, owner)
            .await
            .expect("ok")
            .is_empty()
    );
    let scan = fixture.service.rescan_owner_ids().await.expect("scan");
    assert_eq!(scan.unattributable, 1, "{scan:?}");
    let before = common::malformed_count("unattributable_owner_id");
    for id in [owner.as_str(), landless.as_str()] {
        assert_refused(
            list_holdings(&fixture.service, id).await,
            Reason::SourceRecordMalformed,
            Code::DataLoss,
        );
    }
    assert!(common::malformed_count("unattributable_owner_id") >= before + 2);
    // People with holdings are still answered.
    let (other, other_holdings) = expected
        .iter()
        .find(|(id, _)| *id != owner)
        .expect("another owner");
    assert_eq!(
        &list_holdings(&fixture.service, other).await.expect("ok"),
        other_holdings
    );
    // Corrected at the source and rescanned: absence is claimed again.
    fixture
        .execute(&format!(
            "UPDATE RBLOW SET OWNER_ID = '{owner}' WHERE OWNER_ID = ' {owner}'"
        ))
        .await;
    assert_eq!(
        fixture
            .service
            .rescan_owner_ids()
            .await
            .expect("scan")
            .unattributable,
        0
    );
    assert!(
        list_holdings(&fixture.service, &landless)
            .await
            .expect("ok")
            .is_empty()
    );
    assert_eq!(
        &list_holdings(&fixture.service, owner).await.expect("ok"),
        holdings
    );
    assert!(
        !common::log_text().contains(owner.as_str()),
        "never a national ID"
    );
}
both_backends!(unattributable_owner_ids_prevent_claiming_absence);

// ---- the database goes away ----------------------------------------------------------------

#[tokio::test]
async fn sqlite_file_destroyed_is_unavailable() {
    common::observe();
    let (_, register) = common::generated(13, 40);
    let fixture = Fixture::new(Backend::Sqlite, &register)
        .await
        .expect("sqlite");
    let (_, owner) = person_owner(&register);
    list_holdings(&fixture.service, &owner)
        .await
        .expect("served first");
    let path = fixture.sqlite_path.clone().expect("path");
    std::fs::write(&path, vec![0x5a; 64 * 1024]).expect("overwrite");
    assert_refused(
        list_holdings(&fixture.service, &owner).await,
        Reason::AdapterUnavailable,
        Code::Unavailable,
    );
    assert_refused(
        get_parcel(&fixture.service, common::key(&register.parcels[0])).await,
        Reason::AdapterUnavailable,
        Code::Unavailable,
    );
    std::fs::remove_file(&path).expect("remove");
    assert_refused(
        list_holdings(&fixture.service, &owner).await,
        Reason::AdapterUnavailable,
        Code::Unavailable,
    );
    // Seeded again, the same service serves again (fresh connections).
    tongdao_adapter_land::seed::write_sqlite(&register, &path).expect("reseed");
    list_holdings(&fixture.service, &owner)
        .await
        .expect("served after the file is back");
}

/// A TCP relay to PostgreSQL the test can cut: closing it is the database going away.
struct Relay {
    port: u16,
    tasks: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
    acceptor: tokio::task::JoinHandle<()>,
}

impl Relay {
    async fn start(target: std::net::SocketAddr) -> Relay {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let tasks: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>> =
            std::sync::Arc::default();
        let spawned = tasks.clone();
        let acceptor = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let handle = tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                spawned
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push(handle);
            }
        });
        Relay {
            port,
            tasks,
            acceptor,
        }
    }

    fn cut(&self) {
        self.acceptor.abort();
        for task in self
            .tasks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .drain(..)
        {
            task.abort();
        }
    }
}

#[tokio::test]
async fn postgres_gone_is_unavailable() {
    common::observe();
    if !common::postgres_available().await {
        return;
    }
    let (_, register) = common::generated(14, 40);
    let Some(fixture) = Fixture::new(Backend::Postgres, &register).await else {
        return;
    };
    let config: tokio_postgres::Config = common::postgres_url().parse().expect("url");
    let host = match &config.get_hosts()[0] {
        tokio_postgres::config::Host::Tcp(host) => host.clone(),
        #[allow(unreachable_patterns)]
        _ => panic!("the test URL must be TCP"),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let target = tokio::net::lookup_host((host.as_str(), port))
        .await
        .expect("resolve")
        .next()
        .expect("an address");
    let relay = Relay::start(target).await;
    let schema = fixture.schema.clone().expect("schema");
    let url = common::url_with_schema(
        &format!(
            "postgres://{}@127.0.0.1:{}/{}",
            config.get_user().unwrap_or("postgres"),
            relay.port,
            config.get_dbname().unwrap_or("test")
        ),
        &schema,
    );
    let store = AnyStore::open(&url, 2)
        .await
        .expect("open through the relay");
    let service = LandService::new(std::sync::Arc::new(store), common::mapping());
    let (_, owner) = person_owner(&register);
    list_holdings(&service, &owner).await.expect("served first");
    relay.cut();
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    for _ in 0..3 {
        assert_refused(
            list_holdings(&service, &owner).await,
            Reason::AdapterUnavailable,
            Code::Unavailable,
        );
        assert_refused(
            get_parcel(&service, common::key(&register.parcels[0])).await,
            Reason::AdapterUnavailable,
            Code::Unavailable,
        );
    }
}

#[tokio::test]
async fn postgres_connections_killed_are_reopened() {
    common::observe();
    let (_, register) = common::generated(18, 40);
    let Some(fixture) = Fixture::new(Backend::Postgres, &register).await else {
        return;
    };
    let name = format!("land_reopen_{}", std::process::id());
    let url = format!("{}&application_name={name}", fixture.database);
    let store = AnyStore::open(&url, 2).await.expect("open");
    let service = LandService::new(std::sync::Arc::new(store), common::mapping());
    let (_, owner) = person_owner(&register);
    list_holdings(&service, &owner).await.expect("served first");

    let config: tokio_postgres::Config = common::postgres_url().parse().expect("url");
    let (admin, connection) = config
        .connect(tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);
    let killed = admin
        .query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
            &[&name],
        )
        .await
        .expect("terminate");
    assert_eq!(killed.len(), 2, "both pooled connections were found");
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    // A request may still meet a connection not yet seen closed: that one is UNAVAILABLE; the
    // pool reconnects and the next ones are served.
    let mut served = 0;
    for _ in 0..6 {
        match list_holdings(&service, &owner).await {
            Ok(holdings) => {
                assert!(!holdings.is_empty());
                served += 1;
            }
            Err(status) => {
                assert_eq!(
                    Rejection::reason_of(&status),
                    Some(Reason::AdapterUnavailable)
                );
            }
        }
    }
    assert!(served >= 4, "served {served} of 6 after the kill");
}

// ---- start-up checks ------------------------------------------------------------------------

#[tokio::test]
async fn opening_fails_clearly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("absent.sqlite");
    let error = AnyStore::open(&format!("sqlite:{}", missing.display()), 1)
        .await
        .expect_err("no file");
    assert!(error.to_string().contains("absent.sqlite"), "{error}");

    let partial = dir.path().join("partial.sqlite");
    let connection = rusqlite::Connection::open(&partial).expect("create");
    connection
        .execute_batch(&tongdao_adapter_land::schema::create_table(
            "RALID",
            tongdao_adapter_land::schema::DESCRIPTION_COLUMNS,
        ))
        .expect("one table");
    drop(connection);
    let error = AnyStore::open(&format!("sqlite:{}", partial.display()), 1)
        .await
        .expect_err("tables missing");
    assert!(error.to_string().contains("table RBLOW missing"), "{error}");

    let error = AnyStore::open("mysql://x", 1).await.expect_err("unknown");
    assert!(error.to_string().contains("sqlite:PATH"), "{error}");

    if common::postgres_available().await {
        let url = common::url_with_schema(&common::postgres_url(), "land_test_no_such_schema");
        let error = AnyStore::open(&url, 1).await.expect_err("no tables");
        assert!(error.to_string().contains("table RALID missing"), "{error}");
    }
    assert_eq!(
        tongdao_adapter_land::store::describe_database(
            "postgres://land:secret@db.example:6543/reg?options=-c%20search_path%3Dx"
        ),
        "postgres://land@db.example:6543/reg",
        "no password in messages"
    );
    let error = AnyStore::open("postgres://postgres@127.0.0.1:1/test", 1)
        .await
        .expect_err("refused");
    assert!(error.to_string().contains("postgres"), "{error}");
}
