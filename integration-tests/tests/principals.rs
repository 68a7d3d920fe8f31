//! Verified certificates that identify nobody allowed on domain services get specific reasons.

use tongdao_core::Reason;
use tongdao_integration_tests::{GET_TRANSCRIPT, System, assert_refused, transcript_request};
use tongdao_schemas::v1::who_am_i_response::Principal;
use tonic::Code;

#[tokio::test]
async fn citizen_certificate_cannot_call_agency_services() {
    // Citizens may call only what self-access rules name (integration-tests/tests/self_access.rs);
    // a parcel's register is for agencies.
    let system = System::start().await;
    let files = system.sandbox.identity("citizens/valid");
    let request = tongdao_schemas::land::v1::GetParcelRequest {
        key: Some(tongdao_schemas::land::v1::ParcelKey {
            land_office_code: "AA".to_owned(),
            section_code: "0001".to_owned(),
            parcel_number: "0001-0000".to_owned(),
        }),
    };
    let outcome = system
        .call(
            &files,
            "tongdao.land.v1.LandRegistry/GetParcel",
            bytes::Bytes::from(prost::Message::encode_to_vec(&request)),
            &[("tongdao-purpose", "073")],
        )
        .await;
    assert_refused(outcome, Code::PermissionDenied, Reason::AgencyRequired);
    system.stack.stop().await;
}

#[tokio::test]
async fn agency_missing_from_the_registry_is_not_admitted() {
    let system = System::start().await;
    let files = system.sandbox.agency_files("unregistered");
    let outcome = system
        .call(
            &files,
            GET_TRANSCRIPT,
            transcript_request(&system.someone()),
            &[("tongdao-purpose", "095")],
        )
        .await;
    let status = assert_refused(outcome, Code::PermissionDenied, Reason::AgencyUnknown);
    assert!(
        status.message().contains("2.16.886.101.20003.20004.29999"),
        "names the OID: {}",
        status.message()
    );
    system.stack.stop().await;
}

#[tokio::test]
async fn who_am_i_reports_the_agency_from_the_registry() {
    let system = System::start().await;
    let files = system.sandbox.agency_files("taipei-tax");
    let who = system.who_am_i(&files).await;
    match who.principal {
        Some(Principal::Agency(agency)) => {
            assert_eq!(agency.agency_code, "307010000D");
            assert_eq!(agency.name, "財政部臺北國稅局");
        }
        other => panic!("expected an agency, got {other:?}"),
    }
    assert!(!who.certificate_serial.is_empty());
    system.stack.stop().await;
}

#[tokio::test]
async fn who_am_i_reports_a_citizen_by_last_four_only() {
    let system = System::start().await;
    let files = system.sandbox.identity("citizens/valid");
    let who = system.who_am_i(&files).await;
    match who.principal {
        Some(Principal::Citizen(citizen)) => {
            let id = system.sandbox.citizen_id();
            assert_eq!(citizen.national_id_last4, &id[id.len() - 4..]);
        }
        other => panic!("expected a citizen, got {other:?}"),
    }
    system.stack.stop().await;
}
