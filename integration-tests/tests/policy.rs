//! Purpose-bound access through the real broker: allowed exchanges are minimised to the
//! rule's fields, every denial has its reason, and policy reloads swap atomically — a good
//! policy takes effect without dropping calls, a bad one is refused while the old one serves.

use bytes::Bytes;
use prost::Message as _;
use tongdao_core::Reason;
use tongdao_integration_tests::{GET_TRANSCRIPT, System, assert_refused, transcript_request};
use tongdao_schemas::v1::ListServicesResponse;
use tonic::Code;

#[tokio::test]
async fn allowed_exchange_is_masked_to_the_rules_fields() {
    let system = System::start().await;
    let subject = system.someone();
    // household-transcript-tax-095: members with names and IDs; no birthplace, no events, no
    // transcript number or issuing office.
    let transcript = system
        .transcript("taipei-tax", &subject)
        .await
        .expect("allowed");
    assert!(!transcript.household_number.is_empty());
    assert!(transcript.members.iter().any(|m| m.national_id == subject));
    for member in &transcript.members {
        assert!(!member.name.is_empty(), "released");
        assert!(member.birthplace.is_empty(), "masked: birthplace");
        assert!(member.father_name.is_empty(), "masked: father");
        assert!(member.events.is_empty(), "masked: events");
    }
    assert!(
        transcript.issuing_office.is_empty(),
        "masked: issuing office"
    );
    assert!(
        transcript.transcript_number.is_empty(),
        "masked: transcript number"
    );
    assert!(
        transcript.household_events.is_empty(),
        "masked: household events"
    );

    // The welfare rule releases members but not the head's name.
    let welfare = system
        .transcript_for("taipei-welfare", "057", &subject)
        .await
        .expect("allowed");
    assert!(
        welfare.head_name.is_empty(),
        "the welfare rule does not release head_name"
    );
    assert!(!welfare.members.is_empty());
    system.stack.stop().await;
}

async fn call_with(
    system: &System,
    agency: &str,
    method: &str,
    body: Bytes,
    purpose: Option<&str>,
) -> Result<(Bytes, tonic::metadata::MetadataMap), tonic::Status> {
    let headers: Vec<(&str, &str)> = purpose
        .map(|p| ("tongdao-purpose", p))
        .into_iter()
        .collect();
    system
        .call(&system.sandbox.agency_files(agency), method, body, &headers)
        .await
}

#[tokio::test]
async fn every_policy_denial_has_its_reason() {
    let system = System::start().await;
    let body = transcript_request(&system.someone());
    let denied = |purpose| call_with(&system, "taipei-tax", GET_TRANSCRIPT, body.clone(), purpose);
    assert_refused(
        denied(None).await,
        Code::InvalidArgument,
        Reason::PurposeRequired,
    );
    assert_refused(
        denied(Some("999")).await,
        Code::InvalidArgument,
        Reason::PurposeUnknown,
    );
    assert_refused(
        denied(Some("057")).await,
        Code::PermissionDenied,
        Reason::PurposeNotAllowed,
    );
    // An agency no rule names for this service (default deny).
    let outcome = call_with(&system, "mohw", GET_TRANSCRIPT, body.clone(), Some("015")).await;
    assert_refused(outcome, Code::PermissionDenied, Reason::NoMatchingRule);
    // A rule that needs the citizen's consent (welfare office reading health visits).
    let visits = tongdao_schemas::health::v1::ListVisitsRequest {
        national_id: system.someone(),
        ..Default::default()
    };
    let outcome = call_with(
        &system,
        "taipei-welfare",
        "tongdao.health.v1.HealthInsurance/ListVisits",
        Bytes::from(visits.encode_to_vec()),
        Some("057"),
    )
    .await;
    assert_refused(outcome, Code::FailedPrecondition, Reason::ConsentRequired);
    system.stack.stop().await;
}

/// The shipped household rule file with the tax office's rule narrowed to names and a quota
/// of `quota` calls a day. The other rules stay: the shipped recipes run under them, and a
/// policy whose recipes lose their rules does not compile.
fn quota_rules(shipped: &str, quota: u32) -> String {
    const TAX_RULE: &str = "id = \"household-transcript-tax-095\"";
    let rule_start = shipped.find(TAX_RULE).expect("the shipped tax rule");
    let start = shipped[..rule_start]
        .rfind("[[rule]]")
        .expect("its table header");
    let end = shipped[rule_start..]
        .find("[[rule]]")
        .map_or(shipped.len(), |next| rule_start + next);
    format!(
        "{}{}\n{}",
        &shipped[..start],
        narrowed_tax_rule(quota),
        &shipped[end..]
    )
}

fn narrowed_tax_rule(quota: u32) -> String {
    format!(
        r#"[[rule]]
id = "household-transcript-tax-095"
clients = ["307010000D"]
services = ["/tongdao.household.v1.HouseholdRegistry/GetTranscript"]
purposes = ["095"]
fields = ["household_number", "members.name"]
legal_basis = "duty"
consent_required = false
quota = {{ requests = {quota}, per_seconds = 86400 }}
"#
    )
}

#[tokio::test]
async fn quota_is_enforced_per_rule_and_client() {
    let system = System::start().await;
    let rules = system.sandbox.policy_dir().join("rules/household.toml");
    let shipped = std::fs::read_to_string(&rules).expect("read");
    std::fs::write(&rules, quota_rules(&shipped, 2)).expect("write rules");
    system.stack.broker_policy.reload().expect("a valid policy");
    let subject = system.someone();
    system
        .transcript("taipei-tax", &subject)
        .await
        .expect("first");
    system
        .transcript("taipei-tax", &subject)
        .await
        .expect("second");
    let third = system.transcript("taipei-tax", &subject).await;
    assert_refused(third, Code::ResourceExhausted, Reason::QuotaExceeded);
    system.stack.stop().await;
}

async fn policy_version(system: &System) -> ListServicesResponse {
    let (body, _) = system
        .call(
            &system.sandbox.agency_files("taipei-tax"),
            "tongdao.v1.Directory/ListServices",
            Bytes::new(),
            &[],
        )
        .await
        .expect("directory answers");
    ListServicesResponse::decode(body).expect("decodes")
}

#[tokio::test]
async fn reload_swaps_policy_without_dropping_calls_and_refuses_a_bad_one() {
    let system = System::start().await;
    let subject = system.someone();
    let before = policy_version(&system).await.policy_version;

    // Calls keep flowing while the policy is reloaded under them.
    let rules = system.sandbox.policy_dir().join("rules/household.toml");
    let original = std::fs::read_to_string(&rules).expect("read");
    let load = async {
        let mut answered = 0;
        for _ in 0..40 {
            system
                .transcript("taipei-tax", &subject)
                .await
                .expect("never dropped by a reload");
            answered += 1;
        }
        answered
    };
    let reloads = async {
        for round in 0..10 {
            let text = if round % 2 == 0 {
                quota_rules(&original, 1_000_000)
            } else {
                original.clone()
            };
            std::fs::write(&rules, text).expect("write");
            system.stack.broker_policy.reload().expect("valid policy");
            tokio::task::yield_now().await;
        }
    };
    let (answered, ()) = tokio::join!(load, reloads);
    assert_eq!(answered, 40);

    // A good policy takes effect: the narrowed rule releases only names.
    std::fs::write(&rules, quota_rules(&original, 1_000_000)).expect("write");
    let version = system.stack.broker_policy.reload().expect("valid policy");
    assert_ne!(version, before);
    assert_eq!(policy_version(&system).await.policy_version, version);
    let narrowed = system
        .transcript("taipei-tax", &subject)
        .await
        .expect("allowed");
    assert!(
        narrowed.members.iter().all(|m| m.national_id.is_empty()),
        "IDs no longer released"
    );

    // The roll-out is in the audit log.
    let mut recorded = false;
    for _ in 0..50 {
        let changes = tongdao_audit::search(
            &system.sandbox.audit_dir(),
            &tongdao_audit::Query::default(),
        )
        .expect("search")
        .filter_map(|found| match found.expect("readable").record {
            tongdao_audit::AuditRecord::PolicyChange(change) => Some(change.policy_version),
            _ => None,
        })
        .any(|logged| logged == version);
        if changes {
            recorded = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(
        recorded,
        "policy version {version} recorded as a policy change"
    );

    // A bad policy is refused with file and line, and the old one keeps serving.
    std::fs::write(
        &rules,
        "[[rule]]\nid = \"x\"\nclients = [\"NOPE\"]\nbogus = 1\n",
    )
    .expect("write");
    let problems = system
        .stack
        .broker_policy
        .reload()
        .expect_err("invalid policy");
    assert!(
        problems.iter().any(|p| p.contains("household.toml:")),
        "{problems:?}"
    );
    assert_eq!(system.stack.broker_policy.version(), version);
    system
        .transcript("taipei-tax", &subject)
        .await
        .expect("the previous policy still serves");
    system.stack.stop().await;
}

#[tokio::test]
async fn directory_shows_what_the_caller_may_call() {
    let system = System::start().await;
    let listing = policy_version(&system).await;
    let household = listing
        .services
        .iter()
        .find(|s| s.name == "tongdao.household.v1.HouseholdRegistry")
        .expect("listed");
    let grants = &household.methods[0].grants;
    let grant = grants
        .iter()
        .find(|g| g.rule_id == "household-transcript-tax-095")
        .expect("the tax office's rule is listed for it");
    assert_eq!(grant.purposes, ["095"]);
    assert!(grant.fields.iter().any(|f| f == "members.national_id"));
    assert!(!listing.policy_version.is_empty());
    system.stack.stop().await;
}
