//! Citizens act for themselves: with their MOICA certificate (name + last 4 characters of the
//! national ID) a citizen reads their own records from all five agencies under the self-access
//! rules (`policies/rules/self_access.toml`, purpose 073), masked like any other exchange, and
//! `tongdao my-data download` writes them to files. Another person's ID is refused with
//! IDENTITY_MISMATCH and audited as a denial; an ID ending in the right 4 characters but failing
//! the checksum is SUBJECT_INVALID; agencies cannot use the self-access rules.

use std::collections::BTreeSet;

use tongdao_audit::{AuditRecord, Query};
use tongdao_cli::download::{DownloadRequest, default_years, download};
use tongdao_core::{Reason, ids::NationalId};
use tongdao_integration_tests::{GET_TRANSCRIPT, System, assert_refused, transcript_request};
use tongdao_schemas::{commerce, health, household, land, tax};
use tongdao_synth::registers::Owner;
use tonic::Code;

const CITIZEN: &str = "citizens/valid";
const SELF: &str = "073";

fn exchange_id(status: &tonic::Status) -> String {
    status
        .metadata()
        .get("tongdao-exchange-id")
        .and_then(|v| v.to_str().ok())
        .expect("every answer names its exchange")
        .to_owned()
}

fn records_of(dir: &std::path::Path, exchange_id: &str) -> Vec<AuditRecord> {
    let query = Query {
        exchange_id: Some(exchange_id.to_owned()),
        ..Query::default()
    };
    tongdao_audit::search(dir, &query)
        .expect("search")
        .map(|found| found.expect("readable").record)
        .collect()
}

#[tokio::test]
async fn a_citizen_reads_their_own_records_at_five_agencies() {
    let system = System::start().await;
    let subject = system.sandbox.citizen_id().to_owned();
    assert_eq!(
        subject,
        system.sandbox.showcase_id(),
        "the sandbox's citizen is the person with records at all five agencies"
    );
    let registers = system.sandbox.registers();

    // 戶政: the citizen's household transcript; other members' IDs are withheld.
    let transcript: household::v1::Transcript = system
        .ask(
            CITIZEN,
            GET_TRANSCRIPT,
            SELF,
            &household::v1::GetTranscriptRequest {
                national_id: subject.clone(),
                kind: 0,
            },
        )
        .await
        .expect("own transcript");
    assert!(!transcript.members.is_empty());
    assert!(!transcript.household_number.is_empty());
    assert!(
        transcript.members.iter().all(|m| m.national_id.is_empty()),
        "the self-access rule withholds members' national IDs"
    );
    let person = system
        .sandbox
        .population()
        .people()
        .map(|(_, person)| person)
        .find(|person| person.national_id.as_str() == subject)
        .expect("the citizen is in the population");
    let name = person.name.to_string();
    assert!(
        transcript.members.iter().any(|m| m.name == name),
        "the transcript lists the citizen"
    );

    // 地政: every parcel the land register gives them a share in.
    let holdings: land::v1::ListHoldingsResponse = system
        .ask(
            CITIZEN,
            "tongdao.land.v1.LandRegistry/ListHoldings",
            SELF,
            &land::v1::ListHoldingsRequest {
                national_id: subject.clone(),
            },
        )
        .await
        .expect("own holdings");
    let answered: BTreeSet<(String, u64, u64)> = holdings
        .holdings
        .iter()
        .map(|h| {
            let key = h.key.clone().expect("a holding names its parcel");
            (key.parcel_number, h.share_numerator, h.share_denominator)
        })
        .collect();
    let expected: BTreeSet<(String, u64, u64)> = registers
        .land
        .parcels
        .iter()
        .flat_map(|parcel| {
            parcel
                .owners
                .iter()
                .filter_map(|ownership| match &ownership.owner {
                    Owner::Person { national_id, .. } if national_id.as_str() == subject => Some((
                        parcel.key.parcel_number.clone(),
                        ownership.share_numerator,
                        ownership.share_denominator,
                    )),
                    _ => None,
                })
        })
        .collect();
    assert!(!expected.is_empty(), "the citizen owns land");
    assert_eq!(answered, expected);

    // 財稅: income of both years, payers included; property.
    for year in [112u32, 113] {
        let income: tax::v1::ListIncomeResponse = system
            .ask(
                CITIZEN,
                "tongdao.tax.v1.TaxRegistry/ListIncome",
                SELF,
                &tax::v1::ListIncomeRequest {
                    national_id: subject.clone(),
                    income_year_roc: year,
                },
            )
            .await
            .expect("own income");
        let source: Vec<_> = registers
            .tax
            .income
            .iter()
            .filter(|r| {
                r.earner_national_id.as_str() == subject && u32::from(r.income_year_roc) == year
            })
            .collect();
        assert!(!source.is_empty(), "the citizen has income in {year}");
        assert_eq!(income.earner_national_id, subject);
        assert_eq!(income.items.len(), source.len());
        let answered: BTreeSet<(String, i64, i64)> = income
            .items
            .iter()
            .map(|i| (i.payer_name.clone(), i.gross_amount, i.tax_withheld))
            .collect();
        let expected: BTreeSet<(String, i64, i64)> = source
            .iter()
            .map(|r| (r.payer_name.clone(), r.gross_amount, r.tax_withheld))
            .collect();
        assert_eq!(
            answered, expected,
            "income items of {year}, payers included"
        );

        let property: Result<tax::v1::ListPropertyResponse, _> = system
            .ask(
                CITIZEN,
                "tongdao.tax.v1.TaxRegistry/ListProperty",
                SELF,
                &tax::v1::ListPropertyRequest {
                    national_id: subject.clone(),
                    year_roc: year,
                },
            )
            .await;
        let source = registers
            .tax
            .property
            .iter()
            .filter(|r| r.owner_national_id.as_str() == subject && u32::from(r.year_roc) == year)
            .count();
        match property {
            Ok(property) => assert_eq!(property.items.len(), source),
            Err(status) => {
                assert_eq!(source, 0, "{status:?}");
                assert_eq!(
                    tongdao_core::Rejection::reason_of(&status),
                    Some(Reason::RecordNotFound)
                );
            }
        }
    }

    // 健保: every visit, with diagnoses, without the NHI's claimed points; lab results whole.
    let visits: health::v1::ListVisitsResponse = system
        .ask(
            CITIZEN,
            "tongdao.health.v1.HealthInsurance/ListVisits",
            SELF,
            &health::v1::ListVisitsRequest {
                national_id: subject.clone(),
                from_date: None,
                to_date: None,
            },
        )
        .await
        .expect("own visits");
    let source_visits: Vec<_> = registers
        .health
        .visits
        .iter()
        .filter(|v| v.national_id.as_str() == subject)
        .collect();
    assert!(!source_visits.is_empty(), "the citizen has visits");
    assert_eq!(visits.visits.len(), source_visits.len());
    for (answered, source) in visits.visits.iter().zip(&source_visits) {
        assert_eq!(answered.provider_code, source.provider_code);
        assert_eq!(answered.diagnoses[0].icd10cm_code, source.diagnoses[0].0);
        assert_eq!(answered.claimed_points, 0, "claimed points are withheld");
    }
    let source_labs = registers
        .health
        .lab_results
        .iter()
        .filter(|r| r.national_id.as_str() == subject)
        .count();
    let labs: Result<health::v1::ListLabResultsResponse, _> = system
        .ask(
            CITIZEN,
            "tongdao.health.v1.HealthInsurance/ListLabResults",
            SELF,
            &health::v1::ListLabResultsRequest {
                national_id: subject.clone(),
                from_date: None,
                to_date: None,
            },
        )
        .await;
    match labs {
        Ok(labs) => assert_eq!(labs.results.len(), source_labs),
        Err(status) => {
            assert_eq!(source_labs, 0, "{status:?}");
            assert_eq!(
                tongdao_core::Rejection::reason_of(&status),
                Some(Reason::RecordNotFound)
            );
        }
    }

    // 商工: the companies they direct.
    let directorships: commerce::v1::ListDirectorshipsResponse = system
        .ask(
            CITIZEN,
            "tongdao.commerce.v1.CompanyRegistry/ListDirectorships",
            SELF,
            &commerce::v1::ListDirectorshipsRequest {
                national_id: subject.clone(),
            },
        )
        .await
        .expect("own directorships");
    let expected: BTreeSet<String> = registers
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
    assert!(!expected.is_empty(), "the citizen directs a company");
    let answered: BTreeSet<String> = directorships
        .directorships
        .iter()
        .map(|d| d.business_number.clone())
        .collect();
    assert_eq!(answered, expected);

    system.stack.stop().await;
}

#[tokio::test]
async fn a_citizen_cannot_act_for_anyone_else() {
    let system = System::start().await;
    let files = system.sandbox.identity(CITIZEN);
    let own = system.sandbox.citizen_id().to_owned();
    let someone_else = system
        .sandbox
        .subject_ids()
        .iter()
        .find(|id| id[6..] != own[6..])
        .expect("someone with other last 4 characters")
        .clone();

    // Another person's ID: refused before any adapter, and audited as a denial.
    let refused = system
        .call(
            &files,
            GET_TRANSCRIPT,
            transcript_request(&someone_else),
            &[("tongdao-purpose", SELF)],
        )
        .await;
    let status = assert_refused(refused, Code::PermissionDenied, Reason::IdentityMismatch);
    assert!(
        !status.message().contains(&someone_else),
        "the message does not echo the ID: {}",
        status.message()
    );
    let mismatch_id = exchange_id(&status);

    // An ID ending in the certificate's 4 characters must still pass the checksum.
    let mut broken = own.clone().into_bytes();
    broken[1] = if broken[1] == b'1' { b'2' } else { b'1' };
    let broken = String::from_utf8(broken).expect("ascii");
    assert!(
        broken.parse::<NationalId>().is_err(),
        "{broken} fails the checksum"
    );
    let refused = system
        .call(
            &files,
            "tongdao.health.v1.HealthInsurance/ListVisits",
            bytes::Bytes::from(prost::Message::encode_to_vec(
                &health::v1::ListVisitsRequest {
                    national_id: broken,
                    from_date: None,
                    to_date: None,
                },
            )),
            &[("tongdao-purpose", SELF)],
        )
        .await;
    let status = assert_refused(refused, Code::InvalidArgument, Reason::SubjectInvalid);
    let invalid_id = exchange_id(&status);

    // A citizen's own ID for a purpose no self-access rule names.
    let refused = system
        .call(
            &files,
            GET_TRANSCRIPT,
            transcript_request(&own),
            &[("tongdao-purpose", "015")],
        )
        .await;
    assert_refused(refused, Code::PermissionDenied, Reason::PurposeNotAllowed);

    let System { sandbox, stack } = system;
    stack.stop().await;
    let dir = sandbox.audit_dir();
    for (id, reason) in [
        (&mismatch_id, "IDENTITY_MISMATCH"),
        (&invalid_id, "SUBJECT_INVALID"),
    ] {
        let records = records_of(&dir, id);
        assert_eq!(
            records.len(),
            1,
            "one denial record for {reason}: {records:?}"
        );
        let outcome = records[0].outcome().expect("outcome");
        assert_eq!(outcome.reason.as_deref(), Some(reason));
    }
}

#[tokio::test]
async fn agencies_cannot_use_the_self_access_rules() {
    let system = System::start().await;
    let subject = system.sandbox.citizen_id().to_owned();
    // The land department has no rule for visits; 073 does not make it a citizen.
    let refused = system
        .ask::<health::v1::ListVisitsResponse>(
            "agencies/land-dept",
            "tongdao.health.v1.HealthInsurance/ListVisits",
            SELF,
            &health::v1::ListVisitsRequest {
                national_id: subject.clone(),
                from_date: None,
                to_date: None,
            },
        )
        .await;
    assert_refused(refused, Code::PermissionDenied, Reason::NoMatchingRule);
    // The tax office reads transcripts for 095 only.
    let refused = system
        .ask::<household::v1::Transcript>(
            "agencies/taipei-tax",
            GET_TRANSCRIPT,
            SELF,
            &household::v1::GetTranscriptRequest {
                national_id: subject,
                kind: 0,
            },
        )
        .await;
    assert_refused(refused, Code::PermissionDenied, Reason::PurposeNotAllowed);
    system.stack.stop().await;
}

#[tokio::test]
async fn my_data_download_writes_one_file_per_kind() {
    let system = System::start().await;
    let subject = system.sandbox.citizen_id().to_owned();
    // Inside the sandbox's temporary directory, removed with it.
    let out = system.sandbox.root().join("downloads");
    let mut request = DownloadRequest {
        files: system.sandbox.identity(CITIZEN),
        addr: system.sandbox.broker_addr().to_string(),
        server_name: Some(system.sandbox.broker_server_name().to_owned()),
        national_id: subject.clone(),
        out: out.join("records"),
        years: vec![112, 113],
    };
    let report = download(&request).await.expect("download runs");
    assert!(report.succeeded(), "{}", report.summary());
    let written: Vec<&str> = report
        .kinds
        .iter()
        .filter(|k| k.file.is_some())
        .map(|k| k.kind)
        .collect();
    for kind in [
        "household-transcript",
        "land-holdings",
        "tax-income",
        "health-visits",
        "directorships",
    ] {
        assert!(
            written.contains(&kind),
            "{kind} written: {}",
            report.summary()
        );
    }
    let read = |name: &str| -> serde_json::Value {
        let text = std::fs::read_to_string(out.join("records").join(name)).expect(name);
        serde_json::from_str(&text).expect("JSON")
    };
    let income = read("tax-income.json");
    let years: Vec<u64> = income
        .as_array()
        .expect("one entry per year")
        .iter()
        .filter_map(|year| year["incomeYearRoc"].as_u64())
        .collect();
    assert_eq!(years, vec![112, 113]);
    let visits = read("health-visits.json");
    let source_visits = system
        .sandbox
        .registers()
        .health
        .visits
        .iter()
        .filter(|v| v.national_id.as_str() == subject)
        .count();
    let listed = visits["visits"].as_array().expect("visits");
    assert_eq!(listed.len(), source_visits);
    assert!(
        listed.iter().all(|v| v.get("claimedPoints").is_none()),
        "claimed points are withheld"
    );
    let transcript = read("household-transcript.json");
    assert!(
        transcript["members"]
            .as_array()
            .expect("members")
            .iter()
            .all(|m| m.get("nationalId").is_none()),
        "members' IDs are withheld"
    );
    let visits_kind = report
        .kinds
        .iter()
        .find(|k| k.kind == "health-visits")
        .expect("visits");
    assert_eq!(visits_kind.records, source_visits);

    // Someone else's ID: every kind fails with IDENTITY_MISMATCH, and nothing is written.
    let other = system
        .sandbox
        .subject_ids()
        .iter()
        .find(|id| id[6..] != subject[6..])
        .expect("someone else")
        .clone();
    request.national_id = other;
    request.out = out.join("other");
    let report = download(&request).await.expect("download runs");
    assert!(!report.succeeded());
    assert!(
        report
            .kinds
            .iter()
            .all(|k| k.reason == Some(Reason::IdentityMismatch) && k.file.is_none()),
        "{}",
        report.summary()
    );

    // Years the tax office holds nothing for are reported, the rest still downloads.
    request.national_id = subject;
    request.out = out.join("recent");
    request.years = default_years();
    let report = download(&request).await.expect("download runs");
    assert!(report.succeeded(), "{}", report.summary());
    system.stack.stop().await;
}

#[tokio::test]
async fn the_directory_shows_a_citizen_what_they_may_download() {
    let system = System::start().await;
    let files = system.sandbox.identity(CITIZEN);
    let (body, _) = system
        .call(
            &files,
            "tongdao.v1.Directory/ListServices",
            bytes::Bytes::new(),
            &[],
        )
        .await
        .expect("answered");
    let listing = <tongdao_schemas::v1::ListServicesResponse as prost::Message>::decode(body)
        .expect("decodes");
    let granted: BTreeSet<&str> = listing
        .services
        .iter()
        .flat_map(|s| &s.methods)
        .filter(|m| !m.grants.is_empty())
        .map(|m| m.path.as_str())
        .collect();
    assert_eq!(
        granted,
        BTreeSet::from([
            "/tongdao.commerce.v1.CompanyRegistry/ListDirectorships",
            "/tongdao.health.v1.HealthInsurance/ListLabResults",
            "/tongdao.health.v1.HealthInsurance/ListVisits",
            "/tongdao.household.v1.HouseholdRegistry/GetTranscript",
            "/tongdao.land.v1.LandRegistry/ListHoldings",
            "/tongdao.tax.v1.TaxRegistry/ListIncome",
            "/tongdao.tax.v1.TaxRegistry/ListProperty",
        ])
    );
    for method in listing.services.iter().flat_map(|s| &s.methods) {
        for grant in &method.grants {
            assert_eq!(grant.purposes, vec![SELF.to_owned()], "{}", method.path);
            assert!(!grant.consent_required);
        }
    }
    system.stack.stop().await;
}
