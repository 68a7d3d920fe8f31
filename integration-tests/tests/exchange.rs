//! The happy path: an agency fetches a household transcript through the broker over mTLS.

use tongdao_integration_tests::{GET_TRANSCRIPT, System, transcript_request};

#[tokio::test]
async fn agency_fetches_a_transcript_through_the_broker() {
    let system = System::start().await;
    let subject = system.someone();
    let transcript = system
        .transcript("taipei-tax", &subject)
        .await
        .expect("allowed");
    assert_eq!(transcript.household_number.len(), 8);
    assert!(
        transcript.members.iter().any(|m| m.national_id == subject),
        "the subject is a member of the household the registry returned"
    );
    assert!(
        transcript.members.iter().all(|m| !m.name.is_empty()),
        "names decoded from Big5"
    );
    system.stack.stop().await;
}

#[tokio::test]
async fn response_carries_the_exchange_id() {
    let system = System::start().await;
    let files = system.sandbox.agency_files("taipei-tax");
    let (_, metadata) = system
        .call(
            &files,
            GET_TRANSCRIPT,
            transcript_request(&system.someone()),
            &[("tongdao-purpose", "095")],
        )
        .await
        .expect("allowed");
    // tonic merges trailers into the metadata of a unary response; the trailer copy is
    // checked at the HTTP level by the ingress unit tests.
    let id = metadata
        .get("tongdao-exchange-id")
        .and_then(|v| v.to_str().ok())
        .expect("exchange id in the response metadata");
    uuid::Uuid::parse_str(id).expect("a UUID");
    system.stack.stop().await;
}

#[tokio::test]
async fn client_chosen_exchange_id_is_kept_and_a_replay_is_refused() {
    let system = System::start().await;
    let files = system.sandbox.agency_files("taipei-tax");
    let id = uuid::Uuid::now_v7().to_string();
    let headers = [
        ("tongdao-purpose", "095"),
        ("tongdao-exchange-id", id.as_str()),
    ];
    let (_, metadata) = system
        .call(
            &files,
            GET_TRANSCRIPT,
            transcript_request(&system.someone()),
            &headers,
        )
        .await
        .expect("first use allowed");
    assert_eq!(
        metadata
            .get("tongdao-exchange-id")
            .and_then(|v| v.to_str().ok()),
        Some(id.as_str())
    );
    let replay = system
        .call(
            &files,
            GET_TRANSCRIPT,
            transcript_request(&system.someone()),
            &headers,
        )
        .await;
    tongdao_integration_tests::assert_refused(
        replay,
        tonic::Code::AlreadyExists,
        tongdao_core::Reason::ReplayedExchange,
    );
    system.stack.stop().await;
}
