//! Decision latency at 10, 1 000 and 100 000 synthetic rules, allowed and denied, and the cost
//! of masking a household transcript. std timing only: `cargo bench -p tongdao-policy`.
//!
//! Synthetic rules: rule i grants agency i/10 one of the ten real services for three purposes,
//! so every (service, agency) pair holds one rule and the index grows only in its hash maps —
//! which is what "flat with rule count" has to survive.

use std::hint::black_box;
use std::time::{Duration, Instant};

use prost::Message as _;
use prost_reflect::DynamicMessage;
use tongdao_policy::{Decision, DecisionRequest, FieldMask, Policy, PolicySources};
use tongdao_schemas::household::v1 as household;

const NOW: i64 = 1_751_331_600;
const PURPOSES: [&str; 6] = ["004", "012", "057", "095", "114", "157"];

fn services() -> Vec<(String, Vec<&'static str>)> {
    // A field per service that exists in its response, so every rule compiles.
    vec![
        (
            "/tongdao.household.v1.HouseholdRegistry/GetTranscript".into(),
            vec!["members.name", "address"],
        ),
        (
            "/tongdao.land.v1.LandRegistry/GetParcel".into(),
            vec!["owners.owner_name", "key"],
        ),
        (
            "/tongdao.land.v1.LandRegistry/ListHoldings".into(),
            vec!["holdings"],
        ),
        (
            "/tongdao.tax.v1.TaxRegistry/ListIncome".into(),
            vec!["items.gross_amount"],
        ),
        (
            "/tongdao.tax.v1.TaxRegistry/ListProperty".into(),
            vec!["items.kind"],
        ),
        (
            "/tongdao.tax.v1.TaxRegistry/GetTaxPaymentCertificate".into(),
            vec!["total_paid"],
        ),
        (
            "/tongdao.health.v1.HealthInsurance/ListVisits".into(),
            vec!["visits.visit_date"],
        ),
        (
            "/tongdao.health.v1.HealthInsurance/ListLabResults".into(),
            vec!["results.value"],
        ),
        (
            "/tongdao.commerce.v1.CompanyRegistry/GetCompany".into(),
            vec!["name"],
        ),
        (
            "/tongdao.commerce.v1.CompanyRegistry/ListDirectorships".into(),
            vec!["directorships"],
        ),
    ]
}

fn agency(n: usize) -> String {
    format!("S{n:08}A")
}

fn synthetic_policy(rules: usize) -> PolicySources {
    let services = services();
    let agencies = rules.div_ceil(services.len()) + 1;
    let mut agencies_toml = String::new();
    for n in 0..agencies {
        agencies_toml.push_str(&format!(
            "[[agency]]\ncode = \"{}\"\nname = \"synthetic {n}\"\ngovernment_oid = \"2.16.886.101.99999.{n}\"\n\n",
            agency(n)
        ));
    }
    // The real providers, so services.toml stays valid.
    for (code, oid) in [
        ("301000100A", "2.16.886.101.20003.20001.20010"),
        ("301000200A", "2.16.886.101.20003.20001.20020"),
        ("307000000D", "2.16.886.101.20003.20004"),
        ("A21030000I", "2.16.886.101.20003.20065.20022"),
        ("350050000A", "2.16.886.101.20003.20007.20050"),
    ] {
        agencies_toml.push_str(&format!(
            "[[agency]]\ncode = \"{code}\"\nname = \"provider\"\ngovernment_oid = \"{oid}\"\n\n"
        ));
    }
    let mut rules_toml = String::with_capacity(rules * 260);
    for i in 0..rules {
        let (method, fields) = &services[i % services.len()];
        let purposes = [PURPOSES[i % 3], PURPOSES[3 + i % 3], "001"];
        rules_toml.push_str(&format!(
            "[[rule]]\nid = \"r{i}\"\nclients = [\"{}\"]\nservices = [\"{method}\"]\n\
             purposes = {purposes:?}\nfields = {fields:?}\nlegal_basis = \"duty\"\n\
             special_basis = \"law\"\nconsent_required = false\n\n",
            agency(i / services.len())
        ));
    }
    let mut sources = PolicySources::new();
    sources.insert("agencies.toml", agencies_toml);
    sources.insert(
        "services.toml",
        include_str!("../../../policies/services.toml"),
    );
    sources.insert(
        "purposes.toml",
        include_str!("../../../policies/purposes.toml"),
    );
    sources.insert("rules/synthetic.toml", rules_toml);
    sources
}

/// Nanoseconds per call of `f` over `rounds` rounds of `per_round` calls: (median, fastest
/// round). The fastest round shows the cost without interference from other processes on a
/// shared machine; the median is the figure to quote.
fn time_per_call(rounds: usize, per_round: usize, mut f: impl FnMut(usize)) -> (f64, f64) {
    for i in 0..per_round {
        f(i); // warm up
    }
    let mut samples: Vec<f64> = (0..rounds)
        .map(|_| {
            let start = Instant::now();
            for i in 0..per_round {
                f(i);
            }
            start.elapsed().as_nanos() as f64 / per_round as f64
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    (samples[samples.len() / 2], samples[0])
}

struct Row {
    rules: usize,
    compile: Duration,
    allow: (f64, f64),
    allow_repeated: (f64, f64),
    purpose_not_allowed: (f64, f64),
    no_matching_rule: (f64, f64),
}

fn bench_rules(rules: usize) -> Row {
    let sources = synthetic_policy(rules);
    let start = Instant::now();
    let policy = match Policy::compile(&sources) {
        Ok(policy) => policy,
        Err(errors) => panic!("synthetic policy: {errors}"),
    };
    let compile = start.elapsed();
    let services = services();
    // 4096 distinct requests spread over the whole rule set, so lookups miss the caches as
    // they would with real traffic.
    let picks: Vec<usize> = (0..4096).map(|k| (k * 7919) % rules).collect();
    let agencies: Vec<String> = picks.iter().map(|&i| agency(i / services.len())).collect();
    let allowed: Vec<DecisionRequest<'_>> = picks
        .iter()
        .zip(&agencies)
        .map(|(&i, agency)| DecisionRequest {
            agency_code: Some(agency),
            method: &services[i % services.len()].0,
            purpose: Some(PURPOSES[i % 3]),
            now_unix: NOW,
        })
        .collect();
    for request in &allowed {
        assert!(
            matches!(policy.decide(request), Decision::Allow(_)),
            "{request:?}"
        );
    }
    let wrong_purpose: Vec<DecisionRequest<'_>> = allowed
        .iter()
        .map(|r| DecisionRequest {
            purpose: Some("023"),
            ..*r
        })
        .collect();
    let unknown_agency: Vec<DecisionRequest<'_>> = allowed
        .iter()
        .map(|r| DecisionRequest {
            agency_code: Some("Q00000000Q"),
            ..*r
        })
        .collect();
    let n = allowed.len();
    let allow = time_per_call(31, n, |i| {
        black_box(policy.decide(black_box(&allowed[i % n])));
    });
    // One agency calling the same method again and again: the index is hot, so this is the
    // cost of the algorithm alone.
    let allow_repeated = time_per_call(31, n, |_| {
        black_box(policy.decide(black_box(&allowed[0])));
    });
    let purpose_not_allowed = time_per_call(31, n, |i| {
        black_box(policy.decide(black_box(&wrong_purpose[i % n])));
    });
    let no_matching_rule = time_per_call(31, n, |i| {
        black_box(policy.decide(black_box(&unknown_agency[i % n])));
    });
    Row {
        rules,
        compile,
        allow,
        allow_repeated,
        purpose_not_allowed,
        no_matching_rule,
    }
}

fn transcript(members: usize) -> household::Transcript {
    let date = Some(household::RocDate {
        year: 76,
        month: 5,
        day: 1,
    });
    let event = |kind: &str| household::Event {
        date,
        kind: kind.into(),
        remark: "民國七十六年五月一日在臺北市出生，父王大明母李美華".into(),
    };
    household::Transcript {
        transcript_number: "北市大安戶字第000123號".into(),
        printed_at: "2025-07-01T09:00:00+08:00".into(),
        kind: 1,
        household_number: "F1234567".into(),
        household_type: 1,
        address: Some(household::Address {
            county: "臺北市".into(),
            district: "大安區".into(),
            village: "仁愛里".into(),
            neighbourhood: 5,
            street: "仁愛路四段1號3樓".into(),
        }),
        head_name: "王大明".into(),
        members: (0..members)
            .map(|i| household::Member {
                relationship: if i == 0 { "戶長" } else { "長子" }.into(),
                name: format!("王{i}明"),
                national_id: format!("A12345678{i}"),
                birth_date: date,
                sex: "男".into(),
                father_name: "王父".into(),
                mother_name: "李母".into(),
                spouse_name: String::new(),
                birthplace: "臺北市".into(),
                birth_order: "長子".into(),
                military_service: "常備役".into(),
                indigenous_status: String::new(),
                indigenous_tribe: String::new(),
                removed: false,
                events: vec![event("出生登記"), event("遷入登記")],
            })
            .collect(),
        household_events: vec![event("遷入登記")],
        issuing_office: "臺北市大安區戶政事務所".into(),
    }
}

fn bench_mask() -> Vec<(&'static str, (f64, f64))> {
    let descriptor = tongdao_schemas::descriptors::pool()
        .get_message_by_name("tongdao.household.v1.Transcript")
        .expect("Transcript");
    let bytes = transcript(5).encode_to_vec();
    let message = DynamicMessage::decode(descriptor.clone(), bytes.as_slice()).expect("decodes");
    let masks = [
        (
            "tax rule (members partly released)",
            [
                "household_number",
                "address",
                "head_name",
                "members.relationship",
                "members.name",
                "members.national_id",
                "members.birth_date",
                "members.removed",
            ]
            .map(String::from)
            .to_vec(),
        ),
        (
            "whole transcript released",
            descriptor.fields().map(|f| f.name().to_owned()).collect(),
        ),
        ("nothing released", Vec::new()),
    ];
    let mut rows = vec![(
        "decode the transcript (for scale)",
        time_per_call(31, 1000, |_| {
            black_box(DynamicMessage::decode(descriptor.clone(), black_box(bytes.as_slice())).ok());
        }),
    )];
    for (name, paths) in masks {
        let mask = FieldMask::compile(&descriptor, &paths).expect("valid");
        // A fresh copy per call, made (and dropped) outside the timed section, as hot in the
        // cache as a reply the broker has just decoded.
        let mut samples = Vec::new();
        for _ in 0..31 {
            let mut total = Duration::ZERO;
            for _ in 0..200 {
                let mut copy = message.clone();
                let start = Instant::now();
                mask.apply(black_box(&mut copy));
                total += start.elapsed();
                black_box(copy);
            }
            samples.push(total.as_nanos() as f64 / 200.0);
        }
        samples.sort_by(f64::total_cmp);
        rows.push((name, (samples[samples.len() / 2], samples[0])));
    }
    rows
}

fn main() {
    println!(
        "tongdao-policy decide benchmark: ns per decision, median (fastest round) of 31 rounds"
    );
    println!("of 4096 distinct requests spread over the rule set");
    println!();
    println!(
        "{:>8} | {:>9} | {:>15} | {:>15} | {:>24} | {:>22}",
        "rules",
        "compile",
        "allow",
        "allow, repeated",
        "deny PURPOSE_NOT_ALLOWED",
        "deny NO_MATCHING_RULE"
    );
    println!(
        "{:-<8}-+-{:-<9}-+-{:-<15}-+-{:-<15}-+-{:-<24}-+-{:-<22}",
        "", "", "", "", "", ""
    );
    let cell = |(median, fastest): (f64, f64)| format!("{median:.0} ({fastest:.0})");
    for rules in [10, 1_000, 100_000] {
        let row = bench_rules(rules);
        println!(
            "{:>8} | {:>7.0}ms | {:>15} | {:>15} | {:>24} | {:>22}",
            row.rules,
            row.compile.as_secs_f64() * 1000.0,
            cell(row.allow),
            cell(row.allow_repeated),
            cell(row.purpose_not_allowed),
            cell(row.no_matching_rule)
        );
    }
    println!();
    println!("FieldMask::apply on a household Transcript with 5 members, ns per message");
    for (name, timing) in bench_mask() {
        println!("  {name:<40} {:>14}", cell(timing));
    }
}
