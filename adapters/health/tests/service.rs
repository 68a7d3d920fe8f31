//! The health adapter end to end below gRPC: seeded exports (with every quirk) loaded and
//! served through the `HealthInsurance` trait methods.

mod common;

use std::path::Path;

use common::{captured, date, expected, id, pb_date, records, service};
use serde_json::Value;
use tongdao_adapter_health::seed::write_exports;
use tongdao_adapter_health::{HealthService, Lookup};
use tongdao_core::{Reason, Rejection};
use tongdao_schemas::health::v1 as pb;
use tongdao_schemas::health::v1::health_insurance_server::HealthInsurance;
use tonic::Request;

fn visits_request(
    who: &str,
    from: Option<pb::RocDate>,
    to: Option<pb::RocDate>,
) -> pb::ListVisitsRequest {
    pb::ListVisitsRequest {
        national_id: who.to_owned(),
        from_date: from,
        to_date: to,
    }
}

fn labs_request(
    who: &str,
    from: Option<pb::RocDate>,
    to: Option<pb::RocDate>,
) -> pb::ListLabResultsRequest {
    pb::ListLabResultsRequest {
        national_id: who.to_owned(),
        from_date: from,
        to_date: to,
    }
}

async fn list_visits(
    service: &HealthService,
    request: pb::ListVisitsRequest,
) -> Result<pb::ListVisitsResponse, tonic::Status> {
    service
        .list_visits(Request::new(request))
        .await
        .map(tonic::Response::into_inner)
}

async fn list_labs(
    service: &HealthService,
    request: pb::ListLabResultsRequest,
) -> Result<pb::ListLabResultsResponse, tonic::Status> {
    service
        .list_lab_results(Request::new(request))
        .await
        .map(tonic::Response::into_inner)
}

fn reason(result: Result<impl std::fmt::Debug, tonic::Status>) -> Reason {
    match result {
        Ok(answer) => panic!("expected a refusal, got {answer:?}"),
        Err(status) => Rejection::reason_of(&status).unwrap_or(Reason::Unspecified),
    }
}

/// Every person's answers equal the source records, after normalisation.
async fn assert_round_trip(
    service: &HealthService,
    records: &tongdao_synth::registers::HealthRecords,
) {
    let expected = expected(records);
    assert!(!expected.is_empty());
    for (who, (name, visits, labs)) in &expected {
        let answer = list_visits(service, visits_request(who.as_str(), None, None))
            .await
            .expect("visits served");
        assert_eq!(answer.national_id, who.as_str());
        assert_eq!(&answer.name, name);
        assert_eq!(answer.visits.len(), visits.len(), "visit count of {who:?}");
        for (got, want) in answer.visits.iter().zip(visits) {
            assert_eq!(got, want, "visit of {who:?}");
        }
        let answer = list_labs(service, labs_request(who.as_str(), None, None))
            .await
            .expect("lab results served");
        assert_eq!(&answer.name, name);
        assert_eq!(&answer.results, labs, "lab results of {who:?}");
    }
}

#[tokio::test]
async fn seeded_exports_with_every_quirk_round_trip() {
    let records = records();
    let dir = tempfile::tempdir().expect("temp dir");
    let seeded = write_exports(&records, dir.path()).expect("seeded");
    assert_eq!(seeded.files.len(), 8);
    assert!(seeded.bom_files > 0, "{seeded:?}");
    assert!(seeded.full_width_files > 0, "{seeded:?}");
    assert!(seeded.placeholder_rows > 0, "{seeded:?}");
    assert!(seeded.duplicate_records > 0, "{seeded:?}");
    // File names carry no ID.
    for (who, path) in &seeded.files {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        assert!(!name.contains(who.as_str()), "{name}");
    }

    let service = service(dir.path());
    let summary = service.exports().summary();
    assert!(summary.problems.is_empty(), "{:?}", summary.problems);
    assert_eq!(summary.files, 8);
    assert_eq!(summary.people, 8);
    assert_eq!(summary.bom_files, seeded.bom_files);
    assert_eq!(summary.placeholder_rows, seeded.placeholder_rows);
    assert_eq!(summary.duplicate_records, seeded.duplicate_records);
    assert_eq!(summary.visits, seeded.visits);
    assert_eq!(summary.lab_results, seeded.lab_results);
    assert!(service.exports().is_complete());
    assert_round_trip(&service, &records).await;
}

#[tokio::test]
async fn generated_registers_round_trip() {
    let population = tongdao_synth::Population::generate(20_261_127, 60);
    let registers = tongdao_synth::Registers::generate(&population);
    let records = registers.health;
    if records.visits.is_empty() {
        // The generator is still being written: the hand-built records above cover the path.
        eprintln!("Registers::generate has no health records yet; skipped");
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let seeded = write_exports(&records, dir.path()).expect("seeded");
    let service = service(dir.path());
    let summary = service.exports().summary();
    assert!(summary.problems.is_empty(), "{:?}", summary.problems);
    assert_eq!(summary.duplicate_records, seeded.duplicate_records);
    assert!(seeded.duplicate_records > 0 && seeded.bom_files > 0 && seeded.placeholder_rows > 0);
    assert_round_trip(&service, &records).await;
}

#[tokio::test]
async fn date_range_is_inclusive_and_either_end_may_be_open() {
    let records = records();
    let dir = tempfile::tempdir().expect("temp dir");
    write_exports(&records, dir.path()).expect("seeded");
    let service = service(dir.path());
    let who = id(0);
    let all = list_visits(&service, visits_request(who.as_str(), None, None))
        .await
        .expect("served")
        .visits;
    let dates: Vec<(u32, u32, u32)> = all
        .iter()
        .filter_map(|v| v.visit_date.map(|d| (d.year, d.month, d.day)))
        .collect();
    assert!(
        dates.windows(2).all(|w| w[0] <= w[1]),
        "oldest first: {dates:?}"
    );

    // Exactly the stay's day: both visits of 112/06/10, bounds inclusive.
    let day = Some(pb_date(date(112, 6, 10)));
    let answer = list_visits(&service, visits_request(who.as_str(), day, day))
        .await
        .expect("served");
    assert_eq!(answer.visits.len(), 2);
    assert!(answer.visits.iter().all(|v| v.visit_date == day));

    // From only, to only, and both.
    let from = pb_date(date(112, 6, 10));
    let to = pb_date(date(113, 12, 31));
    let count = |pred: &dyn Fn(&(u32, u32, u32)) -> bool| dates.iter().filter(|d| pred(d)).count();
    let from_only = list_visits(&service, visits_request(who.as_str(), Some(from), None))
        .await
        .expect("served");
    assert_eq!(from_only.visits.len(), count(&|d| *d >= (112, 6, 10)));
    let to_only = list_visits(&service, visits_request(who.as_str(), None, Some(from)))
        .await
        .expect("served");
    assert_eq!(to_only.visits.len(), count(&|d| *d <= (112, 6, 10)));
    let both = list_visits(&service, visits_request(who.as_str(), Some(from), Some(to)))
        .await
        .expect("served");
    assert_eq!(
        both.visits.len(),
        count(&|d| *d >= (112, 6, 10) && *d <= (113, 12, 31))
    );
    assert!(from_only.visits.len() < all.len() && to_only.visits.len() < all.len());

    // Lab results filter on their visit date.
    let labs = list_labs(
        &service,
        labs_request(who.as_str(), Some(pb_date(date(113, 2, 29))), None),
    )
    .await
    .expect("served");
    assert_eq!(labs.results.len(), 1);
    assert_eq!(labs.results[0].value, "陰性");

    // A range with nothing in it is an empty answer.
    let empty = list_visits(
        &service,
        visits_request(
            who.as_str(),
            Some(pb_date(date(90, 1, 1))),
            Some(pb_date(date(90, 12, 31))),
        ),
    )
    .await
    .expect("served");
    assert!(empty.visits.is_empty());

    // from > to, or an impossible date: the request is malformed.
    assert_eq!(
        reason(list_visits(&service, visits_request(who.as_str(), Some(to), Some(from))).await),
        Reason::MalformedRequest
    );
    let bad = pb::RocDate {
        year: 112,
        month: 2,
        day: 30,
    };
    assert_eq!(
        reason(list_labs(&service, labs_request(who.as_str(), Some(bad), None)).await),
        Reason::MalformedRequest
    );
    assert_eq!(
        reason(
            list_visits(
                &service,
                visits_request(who.as_str(), None, Some(pb::RocDate::default()))
            )
            .await
        ),
        Reason::MalformedRequest
    );
}

#[tokio::test]
async fn person_without_records_gets_an_empty_answer() {
    let records = records();
    let dir = tempfile::tempdir().expect("temp dir");
    write_exports(&records, dir.path()).expect("seeded");
    // A person whose export holds placeholder rows only.
    let placeholder_only = id(100);
    std::fs::write(
        dir.path().join("MHB900000001.json"),
        format!(
            r#"{{"myhealthbank": {{"bdata": {{"b1.1": "{who}", "b1.2": "周杰"}},
                "r1": [{{"r1.1": "{who}", "r1.2": "無資料", "r1.3": "無資料"}}],
                "r7": [{{"r7.1": "{who}", "r7.2": "無資料"}}]}}}}"#,
            who = placeholder_only.as_str()
        ),
    )
    .expect("written");
    let service = service(dir.path());
    assert!(service.exports().summary().problems.is_empty());

    for who in [id(101), placeholder_only.clone()] {
        let visits = list_visits(&service, visits_request(who.as_str(), None, None))
            .await
            .expect("OK for a valid subject with nothing in the source");
        assert!(visits.visits.is_empty());
        assert_eq!(visits.national_id, who.as_str());
        let labs = list_labs(&service, labs_request(who.as_str(), None, None))
            .await
            .expect("OK");
        assert!(labs.results.is_empty());
    }
    // People with visits only / lab results only.
    let labs = list_labs(&service, labs_request(id(2).as_str(), None, None))
        .await
        .expect("OK");
    assert!(labs.results.is_empty());
    let visits = list_visits(&service, visits_request(id(5).as_str(), None, None))
        .await
        .expect("OK");
    assert!(visits.visits.is_empty());
    assert_eq!(visits.name, "黃淑芬");
}

#[tokio::test]
async fn invalid_subject_is_refused_before_the_source_is_read() {
    let dir = tempfile::tempdir().expect("temp dir");
    // An unreadable export makes every unknown person unconfirmable; an invalid subject must
    // still be SUBJECT_INVALID, because it is checked first.
    std::fs::write(dir.path().join("MHB000000001.json"), b"{ not json").expect("written");
    let service = service(dir.path());
    assert!(!service.exports().is_complete());
    let mut bad_checksum = id(0).as_str().to_owned();
    let last = bad_checksum.pop().and_then(|c| c.to_digit(10)).unwrap_or(0);
    bad_checksum.push(char::from_digit((last + 1) % 10, 10).unwrap_or('0'));
    for subject in [
        bad_checksum.as_str(),
        "",
        "a123456789",
        "A1234567890",
        "Ａ１２３４５６７８９",
    ] {
        let status = list_visits(&service, visits_request(subject, None, None))
            .await
            .expect_err("refused");
        assert_eq!(
            Rejection::reason_of(&status),
            Some(Reason::SubjectInvalid),
            "{subject}"
        );
        assert!(subject.is_empty() || !status.message().contains(subject));
        assert_eq!(
            reason(list_labs(&service, labs_request(subject, None, None)).await),
            Reason::SubjectInvalid
        );
    }
    // Subject first, then the range.
    let from = Some(pb_date(date(113, 1, 1)));
    let to = Some(pb_date(date(112, 1, 1)));
    assert_eq!(
        reason(list_visits(&service, visits_request(&bad_checksum, from, to)).await),
        Reason::SubjectInvalid
    );
    // The valid but unknown person cannot be confirmed absent.
    assert_eq!(
        reason(list_visits(&service, visits_request(id(0).as_str(), None, None)).await),
        Reason::SourceRecordMalformed
    );
}

/// Reads a seeded file as JSON (skipping a BOM), applies `edit`, writes it back.
fn edit(path: &Path, edit: impl FnOnce(&mut Value)) {
    let bytes = std::fs::read(path).expect("read");
    let body = bytes
        .strip_prefix(b"\xEF\xBB\xBF".as_slice())
        .unwrap_or(&bytes);
    let mut value: Value = serde_json::from_slice(body).expect("seeded JSON");
    edit(&mut value);
    std::fs::write(path, serde_json::to_vec_pretty(&value).expect("JSON")).expect("write");
}

fn set(value: &mut Value, pointer: &str, to: &str) {
    match value.pointer_mut(pointer) {
        Some(slot) => *slot = Value::String(to.to_owned()),
        None => panic!("no {pointer} in the seeded file"),
    }
}

#[tokio::test]
async fn malformed_exports_quarantine_their_person_only() {
    let records = records();
    let dir = tempfile::tempdir().expect("temp dir");
    let seeded = write_exports(&records, dir.path()).expect("seeded");
    let file = |serial: u32| seeded.files.get(&id(serial)).expect("seeded file").clone();

    // 0: broken JSON (cut in the middle).
    let broken = file(0);
    let bytes = std::fs::read(&broken).expect("read");
    std::fs::write(&broken, &bytes[..bytes.len() / 2]).expect("write");
    // 1: a visit date that is not a date.
    edit(&file(1), |v| set(v, "/myhealthbank/r1/2/r1.6", "112/13/45"));
    // 3: a visit type the mapping does not know.
    edit(&file(3), |v| {
        set(v, "/myhealthbank/r1/0/r1.2", "太空醫學門診");
    });
    // 4: the file's ID fails its checksum (the records still name the person).
    let mut bad = id(4).as_str().to_owned();
    let last = bad.pop().and_then(|c| c.to_digit(10)).unwrap_or(0);
    bad.push(char::from_digit((last + 1) % 10, 10).unwrap_or('0'));
    edit(&file(4), |v| set(v, "/myhealthbank/bdata/b1.1", &bad));
    // 6: a lab result's report date is blank (required).
    edit(&file(6), |v| set(v, "/myhealthbank/r7/1/r7.5", " "));

    let (service, metrics, log) = captured(|| service(dir.path()));
    let summary = service.exports().summary();
    assert_eq!(summary.problems.len(), 5, "{:?}", summary.problems);
    assert_eq!(summary.quarantined_people, 5);
    assert!(
        service.exports().is_complete(),
        "every broken file names its person"
    );
    for (label, count) in [
        ("invalid_json", 1),
        ("bad_date", 1),
        ("unknown_code", 1),
        ("subject_invalid", 1),
        ("missing", 1),
    ] {
        assert_eq!(
            metrics.get(&format!(
                "tongdao_adapter_source_malformed_total{{adapter=health,reason={label}}}"
            )),
            count,
            "{label}: {:?}",
            metrics.all()
        );
    }
    // The log names each file and the record's place, never an ID or a value.
    for serial in [0, 1, 3, 4, 6] {
        let name = file(serial).display().to_string();
        assert!(log.contains(&name), "{name} not logged:\n{log}");
    }
    assert!(log.contains("/myhealthbank/r1/2/r1.6"), "{log}");
    assert!(log.contains("line "), "JSON error position: {log}");
    for serial in 0..8 {
        assert!(!log.contains(id(serial).as_str()), "ID in the log:\n{log}");
    }
    assert!(
        !log.contains("112/13/45") && !log.contains("太空醫學門診"),
        "{log}"
    );
    assert!(!log.contains(&bad), "{log}");

    for serial in [0, 1, 3, 4, 6] {
        let who = id(serial);
        assert!(matches!(
            service.exports().lookup(&who),
            Lookup::Quarantined(_)
        ));
        let status = list_visits(&service, visits_request(who.as_str(), None, None))
            .await
            .expect_err("quarantined");
        assert_eq!(
            Rejection::reason_of(&status),
            Some(Reason::SourceRecordMalformed)
        );
        assert!(!status.message().contains(who.as_str()));
        assert!(
            !status.message().contains("MHB"),
            "no file names to callers"
        );
        assert_eq!(
            reason(list_labs(&service, labs_request(who.as_str(), None, None)).await),
            Reason::SourceRecordMalformed
        );
    }
    // Everyone else is served whole, and absence is still confirmed.
    let want = expected(&records);
    for serial in [2, 5, 7] {
        let who = id(serial);
        let (_, visits, labs) = want.get(&who).expect("expected");
        let answer = list_visits(&service, visits_request(who.as_str(), None, None))
            .await
            .expect("served");
        assert_eq!(&answer.visits, visits);
        let answer = list_labs(&service, labs_request(who.as_str(), None, None))
            .await
            .expect("served");
        assert_eq!(&answer.results, labs);
    }
    let nobody = list_visits(&service, visits_request(id(200).as_str(), None, None))
        .await
        .expect("absent person, complete exports");
    assert!(nobody.visits.is_empty());
}

#[tokio::test]
async fn a_broken_file_naming_nobody_makes_absence_unconfirmable() {
    let records = records();
    let dir = tempfile::tempdir().expect("temp dir");
    write_exports(&records, dir.path()).expect("seeded");
    std::fs::write(
        dir.path().join("MHB999999999.json"),
        b"\xEF\xBB\xBF{\"myhealthbank\": {\"bdata\": {\"b1.1\": \"A12",
    )
    .expect("written");
    let (service, metrics, _) = captured(|| service(dir.path()));
    assert!(!service.exports().is_complete());
    assert_eq!(service.exports().summary().unattributed_files, 1);
    assert_eq!(
        metrics.get("tongdao_adapter_source_malformed_total{adapter=health,reason=invalid_json}"),
        1
    );
    // Known people are served; an unknown one cannot be ruled out.
    let who = id(1);
    assert!(
        list_visits(&service, visits_request(who.as_str(), None, None))
            .await
            .is_ok()
    );
    assert_eq!(
        reason(list_visits(&service, visits_request(id(300).as_str(), None, None)).await),
        Reason::SourceRecordMalformed
    );
}

#[tokio::test]
async fn two_files_for_one_person_quarantine_them_and_records_of_others_are_refused() {
    let records = records();
    let dir = tempfile::tempdir().expect("temp dir");
    let seeded = write_exports(&records, dir.path()).expect("seeded");
    let original = seeded.files.get(&id(2)).expect("file").clone();
    std::fs::copy(&original, dir.path().join("MHB800000001.json")).expect("copied");
    // A record of person 7 inside person 5's file: both are quarantined.
    let who7 = id(7);
    edit(seeded.files.get(&id(5)).expect("file"), |v| {
        set(v, "/myhealthbank/r7/1/r7.1", who7.as_str());
    });
    let service = service(dir.path());
    let kinds: Vec<&str> = service
        .exports()
        .summary()
        .problems
        .iter()
        .map(|p| p.kind.label())
        .collect();
    assert_eq!(kinds, ["subject_mismatch", "duplicate_subject"]);
    for serial in [2, 5, 7] {
        assert_eq!(
            reason(list_visits(&service, visits_request(id(serial).as_str(), None, None)).await),
            Reason::SourceRecordMalformed,
            "person {serial}"
        );
    }
    assert!(
        list_visits(&service, visits_request(id(1).as_str(), None, None))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn records_breaking_a_rule_are_malformed() {
    let records = records();
    let dir = tempfile::tempdir().expect("temp dir");
    let seeded = write_exports(&records, dir.path()).expect("seeded");
    edit(seeded.files.get(&id(1)).expect("file"), |v| {
        set(v, "/myhealthbank/r1/0/r1.5", "火星業務組");
    });
    edit(seeded.files.get(&id(2)).expect("file"), |v| {
        set(v, "/myhealthbank/r1/1/r1.20", "12點");
    });
    edit(seeded.files.get(&id(3)).expect("file"), |v| {
        set(v, "/myhealthbank/r1/1/r1.9", "");
    });
    edit(seeded.files.get(&id(5)).expect("file"), |v| {
        let labs = v
            .pointer("/myhealthbank/r7")
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        set(
            v,
            &format!("/myhealthbank/r7/{}/r7.5", labs - 1),
            "100/01/01",
        );
    });
    edit(seeded.files.get(&id(6)).expect("file"), |v| {
        set(v, "/myhealthbank/r1/1/r1.7", "100/01/01");
    });
    edit(seeded.files.get(&id(7)).expect("file"), |v| {
        set(v, "/myhealthbank/r1/1/r1.3", "12345");
    });
    let service = service(dir.path());
    let mut kinds: Vec<&str> = service
        .exports()
        .summary()
        .problems
        .iter()
        .map(|p| p.kind.label())
        .collect();
    kinds.sort_unstable();
    assert_eq!(
        kinds,
        [
            "bad_provider_code",
            "diagnosis_without_code",
            "end_before_start",
            "not_integer",
            "report_before_visit",
            "unknown_code"
        ]
    );
    for serial in [1, 2, 3, 5, 6, 7] {
        assert_eq!(
            reason(list_labs(&service, labs_request(id(serial).as_str(), None, None)).await),
            Reason::SourceRecordMalformed
        );
    }
}

/// User and system CPU seconds of this process so far (Linux `/proc/self/stat`; zeros
/// elsewhere).
fn cpu_seconds() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = stat
        .rsplit_once(") ")
        .map(|(_, rest)| rest)
        .unwrap_or_default();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the whole line: 11 and 12 after the name.
    (ticks(11) / 100.0, ticks(12) / 100.0)
}

/// Peak resident memory of this process in MiB (Linux `VmHWM`; 0 elsewhere).
fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
}

/// Load time for a large seeded set: `HEALTH_LOAD_PEOPLE=100000 cargo test -p
/// tongdao-adapter-health --test service -- --ignored --nocapture load_figures`. With
/// `HEALTH_LOAD_DIR=<dir>` the set is seeded there once and reused by later runs.
#[test]
#[ignore = "slow: measures loading a large seeded set"]
fn load_figures() {
    let people: u32 = std::env::var("HEALTH_LOAD_PEOPLE")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000);
    let temp = tempfile::tempdir().expect("temp dir");
    let dir = std::env::var_os("HEALTH_LOAD_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| temp.path().to_owned());
    let reuse = std::fs::read_dir(&dir).is_ok_and(|mut d| d.next().is_some());
    if reuse {
        println!("reusing the exports in {}", dir.display());
    } else {
        let template = records();
        let mut records = tongdao_synth::registers::HealthRecords::default();
        for serial in 0..people {
            let who = id(1_000 + serial);
            let source = id(serial % 8);
            for v in template.visits.iter().filter(|v| v.national_id == source) {
                let mut v = v.clone();
                v.national_id = who.clone();
                records.visits.push(v);
            }
            for l in template
                .lab_results
                .iter()
                .filter(|l| l.national_id == source)
            {
                let mut l = l.clone();
                l.national_id = who.clone();
                records.lab_results.push(l);
            }
        }
        let started = std::time::Instant::now();
        write_exports(&records, &dir).expect("seeded");
        println!(
            "seeded {people} people in {:.2} s",
            started.elapsed().as_secs_f64()
        );
    }
    let bytes: u64 = std::fs::read_dir(&dir)
        .expect("listed")
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.len())
        .sum();
    let (user, system) = cpu_seconds();
    let started = std::time::Instant::now();
    let service = service(&dir);
    let loading = started.elapsed().as_secs_f64();
    let (user_after, system_after) = cpu_seconds();
    let summary = service.exports().summary();
    assert!(summary.problems.is_empty());
    let mib = bytes as f64 / (1024.0 * 1024.0);
    println!(
        "health exports: {} files, {mib:.1} MiB, {} people, {} visits, {} lab results",
        summary.files, summary.people, summary.visits, summary.lab_results
    );
    println!(
        "loaded in {loading:.2} s wall ({:.0} files/s, {:.1} MiB/s), CPU {:.2} s user + {:.2} s \
         system, {} threads",
        summary.files as f64 / loading,
        mib / loading,
        user_after - user,
        system_after - system,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!("peak resident memory {:.0} MiB", peak_rss_mib());
}

fn config(
    directory: &Path,
    mapping: Option<std::path::PathBuf>,
) -> tongdao_config::HealthAdapterConfig {
    tongdao_config::HealthAdapterConfig {
        server: tongdao_config::AdapterServerConfig {
            listen_addr: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
            tls: tongdao_config::TlsFiles {
                certificate: directory.join("no-cert.pem"),
                private_key: directory.join("no-key.pem"),
                trust_anchors: Vec::new(),
                crls: Vec::new(),
            },
            broker_name: "broker.tongdao.test".to_owned(),
            handshake_timeout_ms: 1_000,
        },
        directory: directory.to_owned(),
        mapping,
    }
}

#[tokio::test]
async fn a_configured_mapping_replaces_the_shipped_one() {
    let records = records();
    let dir = tempfile::tempdir().expect("temp dir");
    let exports = dir.path().join("exports");
    write_exports(&records, &exports).expect("seeded");

    // The shipped mapping, with 西醫門診 read as dental: the answers follow the file.
    let custom = dir.path().join("mapping.toml");
    let text = tongdao_adapter_health::export::SHIPPED_MAPPING.replace(
        "\"西醫門診\" = \"WESTERN_OUTPATIENT\"",
        "\"西醫門診\" = \"DENTAL_OUTPATIENT\"",
    );
    std::fs::write(&custom, text).expect("written");
    let loaded = tongdao_adapter_health::load(&config(&exports, Some(custom))).expect("loaded");
    let service = HealthService::new(std::sync::Arc::new(loaded));
    let visits = list_visits(&service, visits_request(id(0).as_str(), None, None))
        .await
        .expect("served")
        .visits;
    assert!(
        visits
            .iter()
            .any(|v| v.visit_type == pb::VisitType::DentalOutpatient as i32)
    );
    assert!(
        !visits
            .iter()
            .any(|v| v.visit_type == pb::VisitType::WesternOutpatient as i32)
    );

    // A mapping without the order record, a missing mapping file, a missing directory: the
    // adapter does not start, and says why.
    let partial = dir.path().join("partial.toml");
    let text = tongdao_adapter_health::export::SHIPPED_MAPPING
        .replace("[records.order.fields]", "[records.order_line.fields]")
        .replace("[records.order]", "[records.order_line]");
    std::fs::write(&partial, text).expect("written");
    let Err(error) = tongdao_adapter_health::load(&config(&exports, Some(partial))) else {
        panic!("a mapping without `order` must be refused");
    };
    assert!(
        error.problems.iter().any(|p| p.contains("`order`")),
        "{:?}",
        error.problems
    );
    let Err(error) =
        tongdao_adapter_health::load(&config(&exports, Some(dir.path().join("absent.toml"))))
    else {
        panic!("a missing mapping file must be refused");
    };
    assert!(
        error.problems.iter().any(|p| p.contains("absent.toml")),
        "{:?}",
        error.problems
    );
    let Err(error) = tongdao_adapter_health::load(&config(&dir.path().join("nowhere"), None))
    else {
        panic!("a missing directory must be refused");
    };
    assert!(
        error.problems.iter().any(|p| p.contains("nowhere")),
        "{:?}",
        error.problems
    );
    // build() goes through the same load after the certificates: with none, it refuses.
    assert!(
        tongdao_adapter_health::build(&config(&exports, None))
            .await
            .is_err()
    );
}
