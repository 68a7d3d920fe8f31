//! MyData consent through the real broker: a citizen grants, lists and revokes consents with
//! their citizen certificate (`tongdao.v1.Consent`); the welfare office reads the citizen's
//! income under `tax-income-welfare-consent` only while a matching consent holds. Revoked,
//! expired, used-up and out-of-scope consents are refused with their reasons; a citizen acts
//! only for themselves; the artefact verifies offline (`tongdao consent verify`) and a
//! tampered one does not; two brokers sharing a Redis store see a revocation within a second.

use std::time::{Duration, Instant};

use bytes::Bytes;
use prost::Message as _;
use tongdao_audit::{AuditRecord, Query};
use tongdao_cli::client::{self, ClientFiles};
use tongdao_core::Reason;
use tongdao_integration_tests::{System, assert_refused, sandbox::InProcessStack};
use tongdao_schemas::{
    tax::v1::{ListIncomeRequest, ListIncomeResponse},
    v1::{
        ConsentEntry, GrantConsentRequest, ListConsentsRequest, ListServicesRequest,
        RevokeConsentRequest, consent_client::ConsentClient, directory_client::DirectoryClient,
    },
};
use tonic::Code;

const CITIZEN: &str = "citizens/valid";
const WELFARE: &str = "agencies/taipei-welfare";
/// 臺北市政府社會局, role social_welfare (policies/agencies.toml).
const WELFARE_CODE: &str = "379010000A";
const LIST_INCOME: &str = "/tongdao.tax.v1.TaxRegistry/ListIncome";
/// The fields of rule tax-income-welfare-consent.
const INCOME_FIELDS: [&str; 3] = ["income_year_roc", "earner_name", "items"];

fn channel(files: &ClientFiles, addr: &str) -> tonic::transport::Channel {
    client::channel(files, addr, Some("broker.tongdao.test")).expect("channel")
}

fn consent_client(system: &System) -> ConsentClient<tonic::transport::Channel> {
    ConsentClient::new(channel(
        &system.sandbox.identity(CITIZEN),
        &system.sandbox.broker_addr().to_string(),
    ))
}

/// A grant by the sandbox's citizen for themselves, to the welfare office, for ListIncome
/// under 057, valid for `seconds`.
fn grant_request(system: &System, single_use: bool, seconds: i64) -> GrantConsentRequest {
    GrantConsentRequest {
        national_id: system.sandbox.citizen_id().to_owned(),
        grantee: WELFARE_CODE.to_owned(),
        services: vec![LIST_INCOME.to_owned()],
        fields: INCOME_FIELDS.iter().map(|f| (*f).to_owned()).collect(),
        purpose: "057".to_owned(),
        single_use,
        not_after_unix: unix_now() + seconds,
    }
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64
}

async fn grant(system: &System, request: GrantConsentRequest) -> ConsentEntry {
    consent_client(system)
        .grant(request)
        .await
        .expect("granted")
        .into_inner()
        .consent
        .expect("the consent")
}

/// The welfare office reads the citizen's income for 113 through the broker at `addr`,
/// presenting `consent` (an id or an artefact) under `purpose`.
async fn income_at(
    system: &System,
    addr: &str,
    agency: &str,
    purpose: &str,
    consent: Option<&str>,
) -> Result<ListIncomeResponse, tonic::Status> {
    let body = Bytes::from(
        ListIncomeRequest {
            national_id: system.sandbox.citizen_id().to_owned(),
            income_year_roc: 113,
        }
        .encode_to_vec(),
    );
    let mut metadata = vec![("tongdao-purpose".to_owned(), purpose.to_owned())];
    if let Some(consent) = consent {
        metadata.push(("tongdao-consent".to_owned(), consent.to_owned()));
    }
    let files = system.sandbox.identity(agency);
    let (body, _) = client::unary(
        channel(&files, addr),
        LIST_INCOME,
        body,
        &metadata,
        Some(Duration::from_secs(10)),
    )
    .await?;
    Ok(ListIncomeResponse::decode(body).expect("decodes"))
}

async fn income(
    system: &System,
    consent: Option<&str>,
) -> Result<ListIncomeResponse, tonic::Status> {
    let addr = system.sandbox.broker_addr().to_string();
    income_at(system, &addr, WELFARE, "057", consent).await
}

fn consent_records(system: &System) -> Vec<AuditRecord> {
    tongdao_audit::search(&system.sandbox.audit_dir(), &Query::default())
        .expect("search")
        .map(|found| found.expect("readable").record)
        .filter(|record| matches!(record, AuditRecord::ConsentChange(_)))
        .collect()
}

#[tokio::test]
async fn grant_allows_the_exchange_and_revocation_stops_it() {
    let system = System::start().await;
    // No consent: the rule says so.
    assert_refused(
        income(&system, None).await,
        Code::FailedPrecondition,
        Reason::ConsentRequired,
    );
    assert_refused(
        income(&system, Some("not-a-consent")).await,
        Code::FailedPrecondition,
        Reason::ConsentInvalid,
    );

    let granted = grant(&system, grant_request(&system, false, 3600)).await;
    assert_eq!(granted.status, "ACTIVE");
    assert!(granted.artefact.starts_with("tdc1."));

    // By id and by artefact; masked to the rule's fields.
    let answer = income(&system, Some(&granted.consent_id))
        .await
        .expect("allowed with the consent id");
    assert_eq!(answer.income_year_roc, 113);
    assert!(!answer.items.is_empty(), "the citizen has income in 113");
    income(&system, Some(&granted.artefact))
        .await
        .expect("allowed with the artefact");

    // The listing shows it, with the same artefact and the broker's key.
    let listed = consent_client(&system)
        .list(ListConsentsRequest {
            national_id: system.sandbox.citizen_id().to_owned(),
        })
        .await
        .expect("listed")
        .into_inner();
    assert_eq!(listed.consents.len(), 1);
    assert_eq!(listed.consents[0].artefact, granted.artefact);
    let published = std::fs::read_to_string(system.sandbox.consent_public_key()).expect("key");
    assert_eq!(listed.verifier_key, published.trim());

    let revoked = consent_client(&system)
        .revoke(RevokeConsentRequest {
            national_id: system.sandbox.citizen_id().to_owned(),
            consent_id: granted.consent_id.clone(),
        })
        .await
        .expect("revoked")
        .into_inner();
    assert!(!revoked.already_revoked);
    assert_refused(
        income(&system, Some(&granted.consent_id)).await,
        Code::FailedPrecondition,
        Reason::ConsentRevoked,
    );
    // Revoking again changes nothing and says so.
    let again = consent_client(&system)
        .revoke(RevokeConsentRequest {
            national_id: system.sandbox.citizen_id().to_owned(),
            consent_id: granted.consent_id.clone(),
        })
        .await
        .expect("answered")
        .into_inner();
    assert!(again.already_revoked);

    // Grant and revocation are audit records with the artefact's digest, pseudonym only;
    // the exchanges name the consent id, never the artefact (which holds the ID).
    let changes = consent_records(&system);
    let kinds: Vec<&str> = changes
        .iter()
        .map(|record| match record {
            AuditRecord::ConsentChange(change) => {
                assert_eq!(change.consent_id, granted.consent_id);
                assert_eq!(
                    change.document_digest,
                    tongdao_audit::Sha256Digest::of(granted.artefact.as_bytes())
                );
                change.change.as_str()
            }
            _ => unreachable!(),
        })
        .collect();
    assert_eq!(kinds, ["grant", "revoke"]);
    let log = std::fs::read_dir(system.sandbox.audit_dir())
        .expect("audit dir")
        .flatten()
        .filter(|entry| entry.path().is_file())
        .map(|entry| std::fs::read(entry.path()).unwrap_or_default())
        .chain(
            tongdao_audit::search(&system.sandbox.audit_dir(), &Query::default())
                .expect("search")
                .map(|found| found.expect("readable").record.encode().expect("encodes")),
        )
        .collect::<Vec<_>>()
        .concat();
    let text = String::from_utf8_lossy(&log);
    assert!(
        !text.contains(system.sandbox.citizen_id()),
        "no national ID in the log"
    );
    assert!(!text.contains("tdc1."), "no artefact in the log");
    system.stack.stop().await;
}

#[tokio::test]
async fn a_single_use_consent_serves_one_of_two_concurrent_exchanges() {
    let system = System::start().await;
    let granted = grant(&system, grant_request(&system, true, 3600)).await;
    let (a, b) = tokio::join!(
        income(&system, Some(&granted.consent_id)),
        income(&system, Some(&granted.consent_id)),
    );
    let (ok, refused): (Vec<_>, Vec<_>) = [a, b].into_iter().partition(Result::is_ok);
    assert_eq!(ok.len(), 1, "exactly one exchange uses the consent");
    let status = refused
        .into_iter()
        .next()
        .expect("one refused")
        .expect_err("refused");
    assert_eq!(
        tongdao_core::Rejection::reason_of(&status),
        Some(Reason::ConsentUsed)
    );
    let listed = consent_client(&system)
        .list(ListConsentsRequest {
            national_id: system.sandbox.citizen_id().to_owned(),
        })
        .await
        .expect("listed")
        .into_inner();
    assert_eq!(listed.consents[0].status, "USED");
    system.stack.stop().await;
}

#[tokio::test]
async fn an_expired_consent_is_refused() {
    let system = System::start().await;
    let granted = grant(&system, grant_request(&system, false, 1)).await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_refused(
        income(&system, Some(&granted.consent_id)).await,
        Code::FailedPrecondition,
        Reason::ConsentExpired,
    );
    system.stack.stop().await;
}

#[tokio::test]
async fn a_consent_covers_only_its_grantee_purpose_and_fields() {
    let system = System::start().await;
    let addr = system.sandbox.broker_addr().to_string();
    // Granted to another agency (the tax office, which has no rule for ListIncome under 057
    // anyway): the welfare office cannot use it.
    let mut other = grant_request(&system, false, 3600);
    other.grantee = "307010000D".to_owned();
    let other = grant(&system, other).await;
    assert_refused(
        income(&system, Some(&other.consent_id)).await,
        Code::PermissionDenied,
        Reason::ConsentScope,
    );
    // Granted for 074: used under 057.
    let mut purpose = grant_request(&system, false, 3600);
    purpose.purpose = "074".to_owned();
    let purpose = grant(&system, purpose).await;
    assert_refused(
        income(&system, Some(&purpose.consent_id)).await,
        Code::PermissionDenied,
        Reason::ConsentScope,
    );
    // …and under 074 it holds.
    income_at(&system, &addr, WELFARE, "074", Some(&purpose.consent_id))
        .await
        .expect("allowed under the granted purpose");
    // Fewer fields than the rule releases.
    let mut fields = grant_request(&system, false, 3600);
    fields.fields = vec!["income_year_roc".to_owned()];
    let fields = grant(&system, fields).await;
    let status = assert_refused(
        income(&system, Some(&fields.consent_id)).await,
        Code::PermissionDenied,
        Reason::ConsentScope,
    );
    assert!(status.message().contains("field"), "{status:?}");
    system.stack.stop().await;
}

#[tokio::test]
async fn citizens_grant_only_for_themselves_and_agencies_not_at_all() {
    let system = System::start().await;
    let someone_else = system
        .sandbox
        .subject_ids()
        .iter()
        .find(|id| !id.ends_with(&system.sandbox.citizen_id()[6..]))
        .expect("another person")
        .clone();
    let mut request = grant_request(&system, false, 3600);
    request.national_id = someone_else.clone();
    assert_refused(
        consent_client(&system).grant(request).await,
        Code::PermissionDenied,
        Reason::IdentityMismatch,
    );
    assert_refused(
        consent_client(&system)
            .list(ListConsentsRequest {
                national_id: someone_else,
            })
            .await,
        Code::PermissionDenied,
        Reason::IdentityMismatch,
    );
    let mut bad = grant_request(&system, false, 3600);
    bad.national_id = "A123456788".to_owned();
    assert_refused(
        consent_client(&system).grant(bad).await,
        Code::InvalidArgument,
        Reason::SubjectInvalid,
    );
    // An agency cannot grant.
    let mut agency = ConsentClient::new(channel(
        &system.sandbox.identity(WELFARE),
        &system.sandbox.broker_addr().to_string(),
    ));
    assert_refused(
        agency.grant(grant_request(&system, false, 3600)).await,
        Code::PermissionDenied,
        Reason::CitizenRequired,
    );
    // Terms the registries do not know.
    for (change, reason) in [
        (
            (|r: &mut GrantConsentRequest| r.grantee = "999999999Z".into())
                as fn(&mut GrantConsentRequest),
            Reason::MalformedRequest,
        ),
        (
            |r: &mut GrantConsentRequest| {
                r.services = vec!["/tongdao.tax.v1.TaxRegistry/Nope".into()];
            },
            Reason::MalformedRequest,
        ),
        (
            |r: &mut GrantConsentRequest| r.fields = vec!["no_such_field".into()],
            Reason::MalformedRequest,
        ),
        (
            |r: &mut GrantConsentRequest| r.purpose = "998".into(),
            Reason::PurposeUnknown,
        ),
        (
            |r: &mut GrantConsentRequest| r.not_after_unix = unix_now() - 10,
            Reason::MalformedRequest,
        ),
    ] {
        let mut request = grant_request(&system, false, 3600);
        change(&mut request);
        let status = consent_client(&system)
            .grant(request)
            .await
            .expect_err("refused");
        assert_eq!(tongdao_core::Rejection::reason_of(&status), Some(reason));
    }
    assert!(consent_records(&system).is_empty(), "nothing was granted");
    // Refusals are audited as denials of the consent API.
    let denials = tongdao_audit::search(&system.sandbox.audit_dir(), &Query::default())
        .expect("search")
        .map(|found| found.expect("readable").record)
        .filter(|record| {
            matches!(record, AuditRecord::Denial(d) if d.exchange.service == "/tongdao.v1.Consent/Grant")
        })
        .count();
    assert!(denials >= 8, "{denials} consent API denials recorded");
    system.stack.stop().await;
}

#[tokio::test]
async fn the_artefact_verifies_offline_and_a_tampered_one_does_not() {
    let system = System::start().await;
    let granted = grant(&system, grant_request(&system, true, 3600)).await;
    // The directory publishes the key; it is the sandbox's key file.
    let mut directory = DirectoryClient::new(channel(
        &system.sandbox.identity(WELFARE),
        &system.sandbox.broker_addr().to_string(),
    ));
    let published = directory
        .list_services(ListServicesRequest {})
        .await
        .expect("directory")
        .into_inner()
        .consent_verifier_key;
    let key = tongdao_consent::VerifierKey::from_text(&published).expect("a verifier key");
    assert_eq!(
        key,
        tongdao_consent::VerifierKey::from_file(&system.sandbox.consent_public_key())
            .expect("key file")
    );
    system.stack.stop().await;

    // Offline: the broker is gone.
    let verified =
        tongdao_cli::consent_cmd::verify_offline(&granted.artefact, &key).expect("verifies");
    assert_eq!(verified["consent_id"], granted.consent_id.as_str());
    assert_eq!(verified["subject"], system.sandbox.citizen_id());
    assert_eq!(verified["grantee"], WELFARE_CODE);
    assert_eq!(verified["single_use"], true);
    // One character changed anywhere in the payload or the signature: refused.
    let bytes = granted.artefact.as_bytes();
    for position in [10, bytes.len() / 2, bytes.len() - 3] {
        let mut tampered = bytes.to_vec();
        tampered[position] = if tampered[position] == b'A' {
            b'B'
        } else {
            b'A'
        };
        let tampered = String::from_utf8(tampered).expect("ascii");
        assert!(
            tongdao_cli::consent_cmd::verify_offline(&tampered, &key).is_err(),
            "tampered at {position}"
        );
    }
}

/// Whether Redis answers at the test address; unreachable, the Redis test says SKIPPED
/// loudly, and fails when `CI` is set.
fn redis_url() -> Option<String> {
    let url = std::env::var("TONGDAO_TEST_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379/".to_owned());
    let addr = url
        .trim_start_matches("redis://")
        .trim_end_matches('/')
        .to_owned();
    match std::net::TcpStream::connect_timeout(&addr.parse().ok()?, Duration::from_millis(500)) {
        Ok(_) => Some(url),
        Err(error) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "Redis unreachable at {url}: {error}"
            );
            eprintln!("SKIPPED: Redis unreachable at {url}: {error}");
            None
        }
    }
}

#[tokio::test]
async fn two_brokers_sharing_redis_see_a_revocation_within_a_second() {
    let Some(url) = redis_url() else {
        return;
    };
    tongdao_tls::install_crypto_provider();
    let mut sandbox = tongdao_cli::sandbox::Sandbox::create(20).expect("sandbox");
    let prefix = format!("tongdao-test:{}:", uuid::Uuid::new_v4().simple());
    let config_path = sandbox.config_path();
    let text = std::fs::read_to_string(&config_path).expect("config");
    let shared = text.replace(
        "store = \"file\"\ndir = \"consent\"",
        &format!("store = \"redis\"\nredis_url = \"{url}\"\nkey_prefix = \"{prefix}\""),
    );
    assert_ne!(shared, text, "the sandbox configures a consent store");
    std::fs::write(&config_path, shared).expect("config written");
    let stack = InProcessStack::start(&mut sandbox).await.expect("broker 1");

    // Broker 2: the same configuration with its own audit log, on its own port.
    let mut config = tongdao_config::Config::load(&config_path, std::iter::empty())
        .expect("config")
        .broker
        .expect("broker section");
    config.audit.dir = sandbox.root().join("audit-2");
    let second = tongdao_broker::Broker::from_config(&config).expect("broker 2");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let second_addr = listener.local_addr().expect("addr").to_string();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let second = tokio::spawn(second.serve(listener, async move {
        let _ = stopped.await;
    }));
    let system = System { sandbox, stack };
    let first_addr = system.sandbox.broker_addr().to_string();

    // Granted through broker 1, used through broker 2.
    let granted = grant(&system, grant_request(&system, false, 3600)).await;
    income_at(
        &system,
        &second_addr,
        WELFARE,
        "057",
        Some(&granted.consent_id),
    )
    .await
    .expect("broker 2 sees the grant");
    // A single-use consent is consumed once across both brokers.
    let once = grant(&system, grant_request(&system, true, 3600)).await;
    let (a, b) = tokio::join!(
        income_at(&system, &first_addr, WELFARE, "057", Some(&once.consent_id)),
        income_at(
            &system,
            &second_addr,
            WELFARE,
            "057",
            Some(&once.consent_id)
        ),
    );
    assert_eq!(
        [a.is_ok(), b.is_ok()].iter().filter(|ok| **ok).count(),
        1,
        "one broker serves it"
    );

    // Revoked through broker 1: refused on broker 2 within a second.
    consent_client(&system)
        .revoke(RevokeConsentRequest {
            national_id: system.sandbox.citizen_id().to_owned(),
            consent_id: granted.consent_id.clone(),
        })
        .await
        .expect("revoked");
    let revoked_at = Instant::now();
    loop {
        match income_at(
            &system,
            &second_addr,
            WELFARE,
            "057",
            Some(&granted.consent_id),
        )
        .await
        {
            Err(status)
                if tongdao_core::Rejection::reason_of(&status) == Some(Reason::ConsentRevoked) =>
            {
                break;
            }
            other => {
                assert!(
                    revoked_at.elapsed() < Duration::from_secs(1),
                    "still not refused after a second: {other:?}"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    assert!(revoked_at.elapsed() < Duration::from_secs(1));
    let _ = stop.send(());
    let _ = second.await;
    system.stack.stop().await;
}

#[tokio::test]
async fn an_unreachable_store_fails_closed() {
    tongdao_tls::install_crypto_provider();
    let mut sandbox = tongdao_cli::sandbox::Sandbox::create(20).expect("sandbox");
    let config_path = sandbox.config_path();
    let text = std::fs::read_to_string(&config_path).expect("config");
    // Nothing listens on port 1: every consent operation fails, quickly.
    let broken = text.replace(
        "store = \"file\"\ndir = \"consent\"",
        "store = \"redis\"\nredis_url = \"redis://127.0.0.1:1/\"\nredis_timeout_ms = 300",
    );
    std::fs::write(&config_path, broken).expect("config written");
    let stack = InProcessStack::start(&mut sandbox)
        .await
        .expect("the broker starts without its store");
    let system = System { sandbox, stack };
    let started = Instant::now();
    assert_refused(
        consent_client(&system)
            .grant(grant_request(&system, false, 3600))
            .await,
        Code::Unavailable,
        Reason::ConsentUnavailable,
    );
    // A well-formed consent id cannot be checked: the exchange is refused, not waved through.
    assert_refused(
        income(&system, Some("01936b2e-8d4a-7c3f-9a1b-2c3d4e5f6a7b")).await,
        Code::Unavailable,
        Reason::ConsentUnavailable,
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "failing closed took {:?}",
        started.elapsed()
    );
    // Exchanges under rules without consent are unaffected.
    system
        .transcript_for("taipei-welfare", "057", &system.someone())
        .await
        .expect("no consent needed, no store asked");
    system.stack.stop().await;
}
