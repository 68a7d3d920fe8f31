//! Malformed and unroutable requests get a specific reason, never UNKNOWN.

use bytes::Bytes;
use tongdao_core::Reason;
use tongdao_integration_tests::{GET_TRANSCRIPT, System, assert_refused, transcript_request};
use tonic::Code;

const PURPOSE: [(&str, &str); 1] = [("tongdao-purpose", "095")];

#[tokio::test]
async fn unknown_service_and_method() {
    let system = System::start().await;
    let files = system.sandbox.agency_files("taipei-tax");
    let body = transcript_request(&system.someone());
    let outcome = system
        .call(
            &files,
            "tongdao.passport.v1.Passports/Get",
            body.clone(),
            &PURPOSE,
        )
        .await;
    assert_refused(outcome, Code::Unimplemented, Reason::ServiceUnknown);
    let outcome = system
        .call(
            &files,
            "tongdao.household.v1.HouseholdRegistry/GetPassport",
            body,
            &PURPOSE,
        )
        .await;
    assert_refused(outcome, Code::Unimplemented, Reason::MethodUnknown);
    system.stack.stop().await;
}

#[tokio::test]
async fn malformed_body_is_refused() {
    let system = System::start().await;
    let files = system.sandbox.agency_files("taipei-tax");
    // Field 1 declared as a 200-byte string, then the message ends.
    let body = Bytes::from_static(&[0x0a, 0xc8, 0x01, b'A']);
    let outcome = system.call(&files, GET_TRANSCRIPT, body, &PURPOSE).await;
    assert_refused(outcome, Code::InvalidArgument, Reason::MalformedRequest);
    system.stack.stop().await;
}

#[tokio::test]
async fn invalid_national_id_is_refused_before_the_adapter() {
    let system = System::start().await;
    let files = system.sandbox.agency_files("taipei-tax");
    for bad in ["", "A123456780", "a123456789", "12345"] {
        let outcome = system
            .call(&files, GET_TRANSCRIPT, transcript_request(bad), &PURPOSE)
            .await;
        let status = assert_refused(outcome, Code::InvalidArgument, Reason::SubjectInvalid);
        assert!(
            bad.is_empty() || !status.message().contains(bad),
            "never echoes the ID"
        );
    }
    system.stack.stop().await;
}

#[tokio::test]
async fn unknown_person_is_not_found() {
    let system = System::start().await;
    // A valid ID (checksum) that the synthetic extract does not hold.
    let outcome = system.transcript("taipei-tax", "A123456789").await;
    assert_refused(outcome, Code::NotFound, Reason::RecordNotFound);
    system.stack.stop().await;
}

#[tokio::test]
async fn malformed_exchange_ids_are_refused() {
    let system = System::start().await;
    let files = system.sandbox.agency_files("taipei-tax");
    let v4 = uuid::Uuid::new_v4().to_string();
    for bad in ["not-a-uuid", v4.as_str()] {
        let headers = [("tongdao-purpose", "095"), ("tongdao-exchange-id", bad)];
        let outcome = system
            .call(
                &files,
                GET_TRANSCRIPT,
                transcript_request(&system.someone()),
                &headers,
            )
            .await;
        let status = assert_refused(outcome, Code::InvalidArgument, Reason::ExchangeIdInvalid);
        assert!(
            status.metadata().get("tongdao-exchange-id").is_some(),
            "a broker-assigned id for the record"
        );
    }
    system.stack.stop().await;
}
