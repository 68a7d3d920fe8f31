//! One citizen's records fetched from all five agencies through the broker, each under its own
//! rule and purpose: the records agree with each other (same person, same IDs, the land shares
//! the tax office bills are the parcels the land office registers) and with the synthetic
//! registers the five legacy sources were written from.

use std::collections::BTreeSet;

use tongdao_integration_tests::System;
use tongdao_schemas::{commerce, health, household, land, tax};
use tongdao_synth::registers::{TaxKind, VisitRecord};

#[tokio::test]
async fn one_citizen_at_five_agencies_agrees_with_itself_and_the_sources() {
    let system = System::start().await;
    let subject = system.sandbox.showcase_id().to_owned();
    let registers = system.sandbox.registers();

    // 戶政: the household transcript names the person.
    let transcript: household::v1::Transcript = system
        .ask(
            "agencies/taipei-tax",
            "tongdao.household.v1.HouseholdRegistry/GetTranscript",
            "095",
            &household::v1::GetTranscriptRequest {
                national_id: subject.clone(),
                kind: 0,
            },
        )
        .await
        .expect("household transcript");
    let member = transcript
        .members
        .iter()
        .find(|m| m.national_id == subject)
        .expect("the subject is a member of the household on the transcript");
    let name = member.name.clone();
    assert!(!name.is_empty());

    // 地政: every parcel the land register gives the person a share in.
    let holdings: land::v1::ListHoldingsResponse = system
        .ask(
            "agencies/taipei-tax",
            "tongdao.land.v1.LandRegistry/ListHoldings",
            "095",
            &land::v1::ListHoldingsRequest {
                national_id: subject.clone(),
            },
        )
        .await
        .expect("land holdings");
    let answered: BTreeSet<(String, u64, u64)> = holdings
        .holdings
        .iter()
        .map(|h| {
            let key = h.key.clone().expect("a holding names its parcel");
            (key.parcel_number, h.share_numerator, h.share_denominator)
        })
        .collect();
    let owner = subject.as_str();
    let expected: BTreeSet<(String, u64, u64)> = registers
        .land
        .parcels
        .iter()
        .flat_map(|parcel| {
            parcel
                .owners
                .iter()
                .filter_map(move |ownership| match &ownership.owner {
                    tongdao_synth::registers::Owner::Person { national_id, .. }
                        if national_id.as_str() == owner =>
                    {
                        Some((
                            parcel.key.parcel_number.clone(),
                            ownership.share_numerator,
                            ownership.share_denominator,
                        ))
                    }
                    _ => None,
                })
        })
        .collect();
    assert!(!expected.is_empty(), "the showcase person owns land");
    assert_eq!(answered, expected, "holdings = the land register's shares");

    // 地政 again: the register of one of those parcels names the person among its owners.
    let key = holdings.holdings[0]
        .key
        .clone()
        .expect("a holding names its parcel");
    let parcel: land::v1::Parcel = system
        .ask(
            "agencies/taipei-tax",
            "tongdao.land.v1.LandRegistry/GetParcel",
            "095",
            &land::v1::GetParcelRequest {
                key: Some(key.clone()),
            },
        )
        .await
        .expect("parcel register");
    assert_eq!(parcel.key.as_ref(), Some(&key));
    assert!(
        parcel
            .owners
            .iter()
            .any(|o| o.owner_id == subject && o.owner_name == name),
        "the parcel's ownership entries name the person"
    );

    // 財稅: the land value tax certificate bills the same person for the same parcels.
    let certificate: tax::v1::TaxPaymentCertificate = system
        .ask(
            "agencies/land-dept",
            "tongdao.tax.v1.TaxRegistry/GetTaxPaymentCertificate",
            "004",
            &tax::v1::GetTaxPaymentCertificateRequest {
                national_id: subject.clone(),
                kind: tax::v1::TaxKind::LandValueTax as i32,
                tax_year_roc: 113,
            },
        )
        .await
        .expect("land value tax certificate");
    assert_eq!(
        certificate.taxpayer_name, name,
        "same name at tax and household"
    );
    assert!(
        certificate.taxpayer_national_id.is_empty(),
        "the rule for land offices does not release the taxpayer's ID"
    );
    let payments: Vec<_> = registers
        .tax
        .payments
        .iter()
        .filter(|p| {
            p.taxpayer_national_id.as_str() == subject
                && p.kind == TaxKind::LandValueTax
                && p.tax_year_roc == 113
        })
        .collect();
    assert_eq!(certificate.payments.len(), payments.len());
    assert_eq!(
        certificate.total_paid,
        payments.iter().map(|p| p.amount_paid).sum::<i64>()
    );
    for (parcel_number, _, _) in &expected {
        assert!(
            certificate
                .payments
                .iter()
                .any(|p| p.property_location.contains(parcel_number.as_str())),
            "parcel {parcel_number} held at the land office is billed by the tax office"
        );
    }

    // 健保: the insurer knows the same person by the same ID and name.
    let visits: health::v1::ListVisitsResponse = system
        .ask(
            "agencies/mohw",
            "tongdao.health.v1.HealthInsurance/ListVisits",
            "012",
            &health::v1::ListVisitsRequest {
                national_id: subject.clone(),
                from_date: None,
                to_date: None,
            },
        )
        .await
        .expect("visits");
    assert_eq!(visits.national_id, subject);
    assert_eq!(visits.name, name, "same name at the insurer and household");
    let source_visits: Vec<&VisitRecord> = registers
        .health
        .visits
        .iter()
        .filter(|v| v.national_id.as_str() == subject)
        .collect();
    assert!(!source_visits.is_empty(), "the showcase person has visits");
    assert_eq!(visits.visits.len(), source_visits.len());
    for (answered, source) in visits.visits.iter().zip(&source_visits) {
        assert_eq!(answered.provider_code, source.provider_code);
        let primary = answered.diagnoses.first().expect("a visit has a diagnosis");
        assert_eq!(primary.icd10cm_code, source.diagnoses[0].0);
        assert_eq!(answered.claimed_points, 0, "the rule withholds claims");
    }

    // 商工: the registry lists the person's directorships, and each company names them.
    let directorships: commerce::v1::ListDirectorshipsResponse = system
        .ask(
            "agencies/taipei-tax",
            "tongdao.commerce.v1.CompanyRegistry/ListDirectorships",
            "095",
            &commerce::v1::ListDirectorshipsRequest {
                national_id: subject.clone(),
            },
        )
        .await
        .expect("directorships");
    let expected_companies: BTreeSet<String> = registers
        .commerce
        .companies
        .iter()
        .filter(|c| {
            c.directors
                .iter()
                .any(|d| d.national_id.as_str() == subject)
        })
        .map(|c| c.business_number.to_string())
        .collect();
    assert!(
        !expected_companies.is_empty(),
        "the showcase person directs a company"
    );
    let answered_companies: BTreeSet<String> = directorships
        .directorships
        .iter()
        .map(|d| d.business_number.clone())
        .collect();
    assert_eq!(answered_companies, expected_companies);
    for directorship in &directorships.directorships {
        let company: commerce::v1::Company = system
            .ask(
                "agencies/taipei-tax",
                "tongdao.commerce.v1.CompanyRegistry/GetCompany",
                "095",
                &commerce::v1::GetCompanyRequest {
                    business_number: directorship.business_number.clone(),
                },
            )
            .await
            .expect("company");
        assert_eq!(company.business_number, directorship.business_number);
        assert!(
            company
                .directors
                .iter()
                .any(|d| d.name == name && d.position == directorship.position),
            "company {} lists {name} as {}",
            company.business_number,
            directorship.position
        );
    }
}

#[tokio::test]
async fn a_malformed_parcel_key_is_refused_before_the_land_office() {
    let system = System::start().await;
    for key in [
        land::v1::ParcelKey {
            land_office_code: "aa".into(),
            section_code: "0200".into(),
            parcel_number: "0001-0000".into(),
        },
        land::v1::ParcelKey {
            land_office_code: "AA".into(),
            section_code: "02".into(),
            parcel_number: "0001-0000".into(),
        },
        land::v1::ParcelKey {
            land_office_code: "AA".into(),
            section_code: "0200".into(),
            parcel_number: "1".into(),
        },
    ] {
        let refused = system
            .ask::<land::v1::Parcel>(
                "agencies/taipei-tax",
                "tongdao.land.v1.LandRegistry/GetParcel",
                "095",
                &land::v1::GetParcelRequest { key: Some(key) },
            )
            .await;
        tongdao_integration_tests::assert_refused(
            refused,
            tonic::Code::InvalidArgument,
            tongdao_core::Reason::SubjectInvalid,
        );
    }
}
