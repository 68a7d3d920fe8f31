//! `tongdao demo`: a narrated run on loopback with a throw-away PKI and synthetic data, needing
//! nothing but this binary.

use std::{process::ExitCode, time::Duration};

use bytes::Bytes;
use prost::Message as _;
use tongdao_schemas::household::v1::{GetTranscriptRequest, Transcript};

use crate::{
    adapter_cmd::AdapterKind,
    client::{self, ClientFiles},
    sandbox::{InProcessStack, Sandbox},
    shutdown_signal,
};

const GET_TRANSCRIPT: &str = "tongdao.household.v1.HouseholdRegistry/GetTranscript";

/// Arguments of `tongdao demo`.
#[derive(Debug, clap::Args)]
pub(crate) struct DemoArgs {
    /// Leave the broker and adapter running afterwards and print how to call them.
    #[arg(long)]
    keep_running: bool,
    /// Households in the synthetic extract.
    #[arg(long, default_value_t = 50)]
    households: usize,
}

pub(crate) async fn run(args: DemoArgs) -> ExitCode {
    match demo(&args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("tongdao demo: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn demo(args: &DemoArgs) -> Result<(), String> {
    println!("Tongdao demo: a broker and the five agencies' adapters on loopback.");
    let mut sandbox = Sandbox::create(args.households)?;
    println!(
        "  sandbox   {} (throw-away PKI, synthetic data, tongdao.toml)",
        sandbox.root().display()
    );
    let stack = InProcessStack::start(&mut sandbox).await?;
    println!(
        "  broker    {} (TLS 1.3, client certificate required, CRLs checked)",
        sandbox.broker_addr()
    );
    for (kind, source) in [
        (
            AdapterKind::Household,
            "household registry (戶政) over a fixed-width Big5 extract",
        ),
        (
            AdapterKind::Land,
            "land register (地政) over a SQL database (SQLite)",
        ),
        (
            AdapterKind::Tax,
            "tax registry (財稅) over the Ministry of Finance's delimited files",
        ),
        (
            AdapterKind::Health,
            "health insurance (健保) over My Health Bank JSON exports",
        ),
        (
            AdapterKind::Commerce,
            "company registry (商工) over the GCIS HTTP/JSON service (stand-in)",
        ),
    ] {
        println!("  adapter   {} {source}", sandbox.adapter_addr_of(kind));
    }
    println!(
        "            all seeded from one synthetic population of {} households",
        args.households
    );
    println!();

    let subject = sandbox
        .subject_ids()
        .first()
        .cloned()
        .ok_or("no subjects")?;
    // The citizen certificate's holder is `subject`; this person is not.
    let someone_else = sandbox
        .subject_ids()
        .iter()
        .find(|id| id.get(6..) != subject.get(6..))
        .cloned()
        .unwrap_or_else(|| subject.clone());
    let request = |national_id: &str| {
        Bytes::from(
            GetTranscriptRequest {
                national_id: national_id.to_owned(),
                kind: 0,
            }
            .encode_to_vec(),
        )
    };
    let tax_office = sandbox.agency_files("taipei-tax");
    step(
        1,
        "財政部臺北國稅局 (Taipei National Tax Administration) fetches a household transcript, purpose 095 財稅行政",
    );
    match call(
        &sandbox,
        &tax_office,
        GET_TRANSCRIPT,
        request(&subject),
        Some("095"),
    )
    .await
    {
        Ok((body, metadata)) => {
            let transcript = Transcript::decode(body).map_err(|e| format!("transcript: {e}"))?;
            let id = metadata
                .get("tongdao-exchange-id")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-");
            println!("   OK  exchange {id}");
            let address = transcript.address.unwrap_or_default();
            println!(
                "       household {} at {}{}{}",
                transcript.household_number, address.county, address.district, address.village
            );
            for member in &transcript.members {
                println!(
                    "       - {} {} ({})",
                    member.relationship,
                    member.name,
                    mask(&member.national_id)
                );
            }
            let masked = transcript
                .members
                .iter()
                .all(|m| m.birthplace.is_empty() && m.events.is_empty())
                && transcript.issuing_office.is_empty();
            println!(
                "       rule household-transcript-tax-095 releases members' names, IDs and birth dates; {}",
                if masked {
                    "birthplaces, parents, events and the issuing office were masked"
                } else {
                    "NOT MASKED"
                }
            );
        }
        Err(status) => println!("   FAILED: {}", client::describe_status(&status)),
    }

    let mut wrong_check_digit = subject.clone();
    let last = wrong_check_digit
        .pop()
        .and_then(|c| c.to_digit(10))
        .unwrap_or(0);
    wrong_check_digit.push(char::from_digit((last + 1) % 10, 10).unwrap_or('0'));
    let scenarios = [
        (
            "The same office may not use it for another purpose (057 社會行政)",
            "agencies/taipei-tax",
            GET_TRANSCRIPT,
            subject.as_str(),
            Some("057"),
        ),
        (
            "A call without a declared purpose",
            "agencies/taipei-tax",
            GET_TRANSCRIPT,
            subject.as_str(),
            None,
        ),
        (
            "衛生福利部's certificate is valid, but no rule lets it read transcripts (default deny)",
            "agencies/mohw",
            GET_TRANSCRIPT,
            subject.as_str(),
            Some("015"),
        ),
        (
            "A certificate from an unknown CA (same DN shape and agency OID, different root)",
            "stranger/impostor",
            GET_TRANSCRIPT,
            subject.as_str(),
            Some("095"),
        ),
        (
            "A suspended (停用) citizen certificate: on hold in the MOICA CRL",
            "citizens/suspended",
            GET_TRANSCRIPT,
            subject.as_str(),
            Some("095"),
        ),
        (
            "A citizen asks for someone else's transcript: the certificate's last 4 characters \
             do not match",
            "citizens/valid",
            GET_TRANSCRIPT,
            someone_else.as_str(),
            Some("073"),
        ),
        (
            "A valid citizen certificate calling an agency service (tax payment certificates \
             are for land offices)",
            "citizens/valid",
            "tongdao.tax.v1.TaxRegistry/GetTaxPaymentCertificate",
            subject.as_str(),
            Some("073"),
        ),
        (
            "An agency whose government OID is not in the registry",
            "agencies/unregistered",
            GET_TRANSCRIPT,
            subject.as_str(),
            Some("095"),
        ),
        (
            "An unknown method",
            "agencies/taipei-tax",
            "tongdao.household.v1.HouseholdRegistry/GetPassport",
            subject.as_str(),
            Some("095"),
        ),
        (
            "A national ID with a wrong check digit, refused before it reaches the registry",
            "agencies/taipei-tax",
            GET_TRANSCRIPT,
            wrong_check_digit.as_str(),
            Some("095"),
        ),
    ];
    step(
        2,
        "The same person at the other four agencies, each call under its own rule and purpose",
    );
    for exchange in other_agencies(sandbox.showcase_id()) {
        let outcome = call(
            &sandbox,
            &sandbox.identity(exchange.identity),
            exchange.method,
            exchange.request.clone(),
            Some(exchange.purpose),
        )
        .await;
        match outcome
            .map_err(|status| client::describe_status(&status))
            .and_then(|(body, _)| (exchange.summarize)(body))
        {
            Ok(summary) => println!("   OK  {}: {summary}", exchange.title),
            Err(error) => println!("   FAILED {}: {error}", exchange.title),
        }
    }

    let consent_step = 3 + u32::try_from(scenarios.len()).unwrap_or(0);
    for (n, (title, identity, method, national_id, purpose)) in (3..).zip(scenarios) {
        step(n, title);
        let outcome = call(
            &sandbox,
            &sandbox.identity(identity),
            method,
            request(national_id),
            purpose,
        )
        .await;
        report(outcome, &stack);
    }
    step(
        consent_step,
        "MyData: 臺北市政府社會局 (welfare office) reads the citizen's income (財稅, purpose 057) only with their consent",
    );
    crate::consent_cmd::demo(&sandbox).await?;
    step(
        consent_step + 1,
        "One stop: the welfare office runs the welfare-eligibility recipe — household, each \
         member's land, the applicant's income and property (with consent) — as child exchanges \
         of one parent, each checked and audited like a direct call",
    );
    crate::recipes::demo(&sandbox).await?;

    println!();
    if args.keep_running {
        let pki = sandbox.pki();
        println!("The broker and adapter keep running; press Ctrl-C to stop. Try:");
        println!();
        println!(
            "  tongdao call --addr {} --server-name {} \\\n    --cert {} --key {} --ca {} \\\n    -H tongdao-purpose=095 -v {GET_TRANSCRIPT} '{{\"nationalId\":\"{subject}\"}}'",
            sandbox.broker_addr(),
            sandbox.broker_server_name(),
            pki.join("agencies/taipei-tax.crt").display(),
            pki.join("agencies/taipei-tax.key").display(),
            pki.join("grca.crt").display(),
        );
        println!();
        println!(
            "  tongdao call --addr {} --server-name {} \\\n    --cert {} --key {} --ca {} \\\n    --recipe moving-house --input applicant={} --input property_year=113",
            sandbox.broker_addr(),
            sandbox.broker_server_name(),
            pki.join("agencies/household-dept.crt").display(),
            pki.join("agencies/household-dept.key").display(),
            pki.join("grca.crt").display(),
            sandbox.citizen_id(),
        );
        println!("    (without the citizen's consent its consent legs are refused: exit 2)");
        println!();
        println!("  Configuration: {}", sandbox.config_path().display());
        shutdown_signal().await;
    }
    stack.stop().await;
    report_audit(&sandbox)?;
    println!("Done. Run every test with: cargo test --workspace");
    Ok(())
}

/// One demonstration call to one of the four agencies beside the household registry.
struct Exchange {
    title: &'static str,
    identity: &'static str,
    method: &'static str,
    purpose: &'static str,
    request: Bytes,
    summarize: fn(Bytes) -> Result<String, String>,
}

/// A call to each of the land, tax, health and company registries about `subject`, by an
/// agency a shipped rule allows, with that rule's purpose.
fn other_agencies(subject: &str) -> Vec<Exchange> {
    use tongdao_schemas::{commerce, health, land, tax};
    vec![
        Exchange {
            title: "財政部臺北國稅局 lists land holdings (地政, purpose 095)",
            identity: "agencies/taipei-tax",
            method: "tongdao.land.v1.LandRegistry/ListHoldings",
            purpose: "095",
            request: land::v1::ListHoldingsRequest {
                national_id: subject.to_owned(),
            }
            .encode_to_vec()
            .into(),
            summarize: |body| {
                let reply =
                    land::v1::ListHoldingsResponse::decode(body).map_err(|e| decode_error(&e))?;
                let first = reply.holdings.first().map(|h| {
                    format!(
                        "; e.g. {}{}{} {} share {}/{}",
                        h.county,
                        h.district,
                        h.section_name,
                        h.key.as_ref().map_or("", |k| k.parcel_number.as_str()),
                        h.share_numerator,
                        h.share_denominator
                    )
                });
                Ok(format!(
                    "{} parcel(s){}",
                    reply.holdings.len(),
                    first.unwrap_or_default()
                ))
            },
        },
        Exchange {
            title: "內政部地政司 checks land value tax is paid (財稅, purpose 004)",
            identity: "agencies/land-dept",
            method: "tongdao.tax.v1.TaxRegistry/GetTaxPaymentCertificate",
            purpose: "004",
            request: tax::v1::GetTaxPaymentCertificateRequest {
                national_id: subject.to_owned(),
                kind: tax::v1::TaxKind::LandValueTax as i32,
                tax_year_roc: 113,
            }
            .encode_to_vec()
            .into(),
            summarize: |body| {
                let reply =
                    tax::v1::TaxPaymentCertificate::decode(body).map_err(|e| decode_error(&e))?;
                Ok(format!(
                    "certificate {}: {} bill(s), NT${} paid for {}",
                    reply.certificate_number,
                    reply.payments.len(),
                    reply.total_paid,
                    reply.tax_year_roc
                ))
            },
        },
        Exchange {
            title: "衛生福利部 traces visits (健保, purpose 012)",
            identity: "agencies/mohw",
            method: "tongdao.health.v1.HealthInsurance/ListVisits",
            purpose: "012",
            request: health::v1::ListVisitsRequest {
                national_id: subject.to_owned(),
                from_date: Some(health::v1::RocDate {
                    year: 112,
                    month: 1,
                    day: 1,
                }),
                to_date: Some(health::v1::RocDate {
                    year: 113,
                    month: 12,
                    day: 31,
                }),
            }
            .encode_to_vec()
            .into(),
            summarize: |body| {
                let reply =
                    health::v1::ListVisitsResponse::decode(body).map_err(|e| decode_error(&e))?;
                let claims_masked = reply
                    .visits
                    .iter()
                    .all(|v| v.claimed_points == 0 && v.orders.is_empty());
                Ok(format!(
                    "{} visit(s) in 112–113; {}",
                    reply.visits.len(),
                    if claims_masked {
                        "orders and claimed points masked by the rule"
                    } else {
                        "NOT MASKED"
                    }
                ))
            },
        },
        Exchange {
            title: "財政部臺北國稅局 lists directorships (商工, purpose 095)",
            identity: "agencies/taipei-tax",
            method: "tongdao.commerce.v1.CompanyRegistry/ListDirectorships",
            purpose: "095",
            request: commerce::v1::ListDirectorshipsRequest {
                national_id: subject.to_owned(),
            }
            .encode_to_vec()
            .into(),
            summarize: |body| {
                let reply = commerce::v1::ListDirectorshipsResponse::decode(body)
                    .map_err(|e| decode_error(&e))?;
                let first = reply.directorships.first().map(|d| {
                    format!(
                        "; e.g. {} of {} ({})",
                        d.position, d.company_name, d.business_number
                    )
                });
                Ok(format!(
                    "{} position(s){}",
                    reply.directorships.len(),
                    first.unwrap_or_default()
                ))
            },
        },
    ]
}

fn decode_error(error: &prost::DecodeError) -> String {
    format!("reply: {error}")
}

fn step(n: u32, title: &str) {
    println!();
    println!("{n}. {title}");
}

async fn call(
    sandbox: &Sandbox,
    files: &ClientFiles,
    method: &str,
    body: Bytes,
    purpose: Option<&str>,
) -> Result<(Bytes, tonic::metadata::MetadataMap), tonic::Status> {
    let channel = client::channel(
        files,
        &sandbox.broker_addr().to_string(),
        Some(sandbox.broker_server_name()),
    )
    .map_err(tonic::Status::internal)?;
    let metadata: Vec<(String, String)> = purpose
        .map(|p| ("tongdao-purpose".to_owned(), p.to_owned()))
        .into_iter()
        .collect();
    client::unary(
        channel,
        method,
        body,
        &metadata,
        Some(Duration::from_secs(5)),
    )
    .await
}

/// Prints how a call that should be refused was refused: with a reason, or in the handshake.
fn report(
    outcome: Result<(Bytes, tonic::metadata::MetadataMap), tonic::Status>,
    stack: &InProcessStack,
) {
    let Err(status) = outcome else {
        println!("   unexpectedly allowed");
        return;
    };
    match tongdao_core::Rejection::reason_of(&status) {
        Some(reason) => {
            println!("   refused: {:?} {}", status.code(), reason.as_str_name());
            println!("       \"{}\"", status.message());
        }
        None => {
            let cause =
                client::transport_cause(&status).unwrap_or_else(|| status.message().to_owned());
            println!("   refused in the TLS handshake ({cause})");
            println!(
                "       broker's handshake refusals so far: unknown issuer {}, revoked or suspended {}",
                stack
                    .broker_counts
                    .refused(tongdao_tls::HandshakeRefusal::UnknownIssuer),
                stack
                    .broker_counts
                    .refused(tongdao_tls::HandshakeRefusal::Revoked)
            );
        }
    }
}

/// Shows only the first and last characters of a national ID, as transcripts of class 2 do.
fn mask(national_id: &str) -> String {
    if national_id.len() < 10 {
        return "*".repeat(national_id.len());
    }
    format!("{}******{}", &national_id[..2], &national_id[8..])
}

/// Verifies the audit log the run wrote and says what is in it.
fn report_audit(sandbox: &Sandbox) -> Result<(), String> {
    println!();
    println!("Audit: every exchange above, allowed or refused, is in a tamper-evident log.");
    let key = tongdao_audit::VerifierKey::from_file(&sandbox.audit_public_key())
        .map_err(|e| e.to_string())?;
    let report = tongdao_audit::verify(&sandbox.audit_dir(), &key, |_, _| {})
        .map_err(|e| format!("audit log verification failed: {e}"))?;
    let mut kinds = std::collections::BTreeMap::<&str, usize>::new();
    let search = tongdao_audit::search(&sandbox.audit_dir(), &tongdao_audit::Query::default())
        .map_err(|e| e.to_string())?;
    for found in search {
        *kinds
            .entry(found.map_err(|e| e.to_string())?.record.kind())
            .or_default() += 1;
    }
    let summary: Vec<String> = kinds
        .iter()
        .map(|(kind, n)| format!("{n} {kind}"))
        .collect();
    println!(
        "   audit log verified: {} records ({}) match checkpoint {} signed by {}",
        report.entries,
        summary.join(", "),
        report.latest.size,
        report.latest.origin
    );
    println!(
        "   (records hold pseudonyms and digests, never a national ID; `tongdao audit search` finds them)"
    );
    Ok(())
}
