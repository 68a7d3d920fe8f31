//! "Who used my data" through the real broker over mTLS: a citizen lists exactly the exchanges
//! about them (allowed and refused, none about anyone else), every record proven against the
//! signed checkpoint; an access under a deferred-disclosure rule is withheld and counted;
//! agencies and citizens asking for another person's ID are refused.

use bytes::Bytes;
use prost::Message as _;
use tongdao_audit::VerifierKey;
use tongdao_cli::{
    client::ClientFiles,
    mydata_cmd::{LIST_EXCHANGES, render, verify_listing},
};
use tongdao_core::{Reason, ids::NationalId};
use tongdao_integration_tests::{GET_TRANSCRIPT, System, assert_refused, transcript_request};
use tongdao_schemas::v1::{ListExchangesRequest, ListExchangesResponse};
use tonic::{Code, Status};

async fn list(
    system: &System,
    files: &ClientFiles,
    national_id: &str,
) -> Result<ListExchangesResponse, Status> {
    let request = ListExchangesRequest {
        national_id: national_id.to_owned(),
    };
    let (body, _) = system
        .call(
            files,
            LIST_EXCHANGES,
            Bytes::from(request.encode_to_vec()),
            &[],
        )
        .await?;
    Ok(ListExchangesResponse::decode(body).expect("a ListExchangesResponse"))
}

/// Asks for `national_id`'s transcript as `agency` for `purpose`; returns the exchange id and
/// whether it was answered.
async fn exchange(
    system: &System,
    agency: &str,
    purpose: &str,
    national_id: &str,
) -> (String, bool) {
    let files = system.sandbox.agency_files(agency);
    let result = system
        .call(
            &files,
            GET_TRANSCRIPT,
            transcript_request(national_id),
            &[("tongdao-purpose", purpose)],
        )
        .await;
    let metadata = match &result {
        Ok((_, metadata)) => metadata,
        Err(status) => status.metadata(),
    };
    let id = metadata
        .get("tongdao-exchange-id")
        .and_then(|v| v.to_str().ok())
        .expect("every answer names its exchange")
        .to_owned();
    (id, result.is_ok())
}

#[tokio::test]
async fn a_citizen_sees_exactly_the_exchanges_about_them_with_proofs() {
    let system = System::start().await;
    let me = system.sandbox.citizen_id().to_owned();
    let other = system
        .sandbox
        .subject_ids()
        .iter()
        .find(|id| **id != me)
        .expect("someone else")
        .clone();

    // About me: a welfare office reads my household (allowed), the tax office asks for a
    // purpose its rule does not allow (refused), and the tax office reads it under a rule
    // whose accesses the subject sees only 90 days later (withheld).
    let (welfare, welfare_ok) = exchange(&system, "taipei-welfare", "057", &me).await;
    let (refused, refused_ok) = exchange(&system, "taipei-tax", "057", &me).await;
    assert!(!refused_ok, "purpose 057 is not the tax office's");
    let (deferred, deferred_ok) = exchange(&system, "taipei-tax", "095", &me).await;
    assert!(deferred_ok, "the tax office may read it for 095");
    // About someone else: none of these may show up, nor be counted as withheld.
    exchange(&system, "taipei-welfare", "057", &other).await;
    exchange(&system, "taipei-tax", "057", &other).await;
    exchange(&system, "taipei-tax", "095", &other).await;

    let citizen = system.sandbox.identity("citizens/valid");
    let listing = list(&system, &citizen, &me.to_ascii_lowercase())
        .await
        .expect("a citizen lists their own exchanges");
    let ids: Vec<&str> = listing
        .entries
        .iter()
        .map(|e| e.exchange_id.as_str())
        .collect();
    assert_eq!(
        ids,
        [welfare.as_str(), refused.as_str()],
        "{}",
        render(&listing)
    );
    assert!(!ids.contains(&deferred.as_str()));
    assert_eq!(
        listing.withheld, 1,
        "the deferred access is counted, not shown"
    );
    assert!(
        listing.withheld_until.as_str() > listing.entries[0].at.as_str(),
        "released in the future: {}",
        listing.withheld_until
    );
    let text = render(&listing);
    assert!(
        text.contains(&format!(
            "1 entries withheld until {}",
            listing.withheld_until
        )),
        "{text}"
    );

    let allowed = &listing.entries[0];
    assert_eq!(allowed.allowed, welfare_ok);
    assert_eq!(allowed.agency_code, "379010000A");
    assert!(!allowed.agency_name.is_empty());
    assert_eq!(allowed.method, format!("/{GET_TRANSCRIPT}"));
    assert_eq!(allowed.purpose_code, "057");
    assert!(!allowed.purpose_name.is_empty());
    assert_eq!(allowed.rule_id, "household-transcript-welfare");
    assert_eq!(allowed.legal_basis, "duty");
    assert_eq!(allowed.citation, "社會救助法第5條");
    if welfare_ok {
        assert!(!allowed.data_classes.is_empty(), "released data classes");
    }
    assert_eq!(allowed.records.len(), 2, "intent and completion");

    let denial = &listing.entries[1];
    assert!(!denial.allowed);
    assert_eq!(denial.reason, "PURPOSE_NOT_ALLOWED");
    assert_eq!(denial.records.len(), 1);

    // Every record is proven against the checkpoint, whose signature verifies with the log's
    // published key; a tampered record is caught.
    let key = VerifierKey::from_file(&system.sandbox.audit_public_key()).expect("log key");
    assert_eq!(verify_listing(&listing, Some(&key)), Ok(3));
    let mut tampered = listing.clone();
    tampered.entries[1].records[0].record_json = tampered.entries[1].records[0]
        .record_json
        .replace("PURPOSE_NOT_ALLOWED", "OK");
    assert!(verify_listing(&tampered, Some(&key)).is_err());
    let mut resigned = listing.clone();
    resigned.checkpoint = resigned.checkpoint.replacen('\n', "x\n", 1);
    assert!(verify_listing(&resigned, Some(&key)).is_err());

    system.stack.stop().await;
}

#[tokio::test]
async fn only_citizens_and_only_for_their_own_id() {
    let system = System::start().await;
    let me = system.sandbox.citizen_id().to_owned();
    let citizen = system.sandbox.identity("citizens/valid");

    // An agency is refused, even naming a valid ID.
    let agency = system.sandbox.agency_files("taipei-tax");
    assert_refused(
        list(&system, &agency, &me).await,
        Code::PermissionDenied,
        Reason::CitizenRequired,
    );

    // Another person's (valid) ID.
    let other = system
        .sandbox
        .subject_ids()
        .iter()
        .find(|id| !id.ends_with(&me[me.len() - 4..]))
        .expect("someone whose ID ends otherwise")
        .clone();
    assert_refused(
        list(&system, &citizen, &other).await,
        Code::PermissionDenied,
        Reason::IdentityMismatch,
    );

    // A bad checksum, and nothing at all.
    let mine: NationalId = me.parse().expect("valid");
    let mut broken = mine.as_str().to_owned();
    let digit = broken.pop().and_then(|c| c.to_digit(10)).unwrap_or(0);
    broken.push(char::from_digit((digit + 1) % 10, 10).unwrap_or('0'));
    for bad in [broken.as_str(), ""] {
        assert_refused(
            list(&system, &citizen, bad).await,
            Code::InvalidArgument,
            Reason::SubjectInvalid,
        );
    }

    system.stack.stop().await;
}
