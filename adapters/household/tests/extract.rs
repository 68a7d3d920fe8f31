//! Round trip (tongdao-synth writes, this crate reads), one test per provokable
//! `ExtractError`, quarantine behaviour, and a never-panic fuzz loop.

use std::io::Write as _;
use std::time::Instant;

use tongdao_adapter_household::{
    ExtractError, HouseholdService, LookupError, RECORD_LEN, Registry, load,
};
use tongdao_core::Rejection;
use tongdao_core::ids::NationalId;
use tongdao_schemas::household::v1::household_registry_server::HouseholdRegistry as _;
use tongdao_schemas::household::v1::{GetTranscriptRequest, TranscriptKind};
use tongdao_synth::{Population, write_household_extract};

/// Bytes per line including CR LF.
const LINE: usize = RECORD_LEN + 2;

fn extract(population: &Population) -> Vec<u8> {
    let mut bytes = Vec::new();
    write_household_extract(population, &mut bytes).expect("synthetic data fits the layout");
    bytes
}

fn small() -> (Population, Vec<u8>) {
    let population = Population::generate(99, 60);
    let bytes = extract(&population);
    (population, bytes)
}

/// 1-based line numbers of records with this type and household number.
fn lines_of(bytes: &[u8], record_type: u8, household: &str) -> Vec<usize> {
    bytes
        .chunks(LINE)
        .enumerate()
        .filter(|(_, l)| l[0] == record_type && l.get(1..9) == Some(household.as_bytes()))
        .map(|(i, _)| i + 1)
        .collect()
}

/// Overwrites bytes at `offset` within 1-based `line`.
fn poke(bytes: &mut [u8], line: usize, offset: usize, with: &[u8]) {
    let start = (line - 1) * LINE + offset;
    bytes[start..start + with.len()].copy_from_slice(with);
}

fn peek(bytes: &[u8], line: usize, offset: usize, len: usize) -> Vec<u8> {
    let start = (line - 1) * LINE + offset;
    bytes[start..start + len].to_vec()
}

/// A household with at least `n` members, and its number.
fn household_with(population: &Population, n: usize) -> &tongdao_synth::Household {
    population
        .households()
        .iter()
        .find(|h| h.members.len() >= n)
        .expect("a big enough household")
}

fn has(registry: &Registry, pred: impl Fn(&ExtractError) -> bool) -> bool {
    registry.summary().errors.iter().any(pred)
}

/// The household is quarantined (its members answer SourceMalformed) and another household
/// still answers.
fn assert_quarantined(registry: &Registry, population: &Population, number: &str) {
    let target = population
        .households()
        .iter()
        .find(|h| h.number == number)
        .expect("household");
    for member in &target.members {
        let answer = registry.household_of(&member.national_id);
        assert!(
            matches!(answer, Err(LookupError::SourceMalformed { .. })),
            "member of quarantined household answered {answer:?}"
        );
    }
    assert!(matches!(
        registry.household(number),
        Err(LookupError::SourceMalformed { .. })
    ));
    let other = population
        .households()
        .iter()
        .rev()
        .find(|h| h.number != number)
        .expect("other");
    let found = registry
        .household_of(&other.members[0].national_id)
        .expect("other household loads");
    assert_eq!(found.number, other.number);
}

// ---- round trip ------------------------------------------------------------------------------

/// ~100k people: generate, write to a file, load, and compare every field of every person.
#[test]
fn round_trip_100k_people_field_by_field() {
    let start = Instant::now();
    let population = Population::generate(2024, 37_000);
    let generated = start.elapsed();
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    write_household_extract(&population, file.as_file_mut()).expect("write");
    file.flush().expect("flush");
    let written = start.elapsed();
    let registry = load(file.path()).expect("load");
    let loaded = start.elapsed();
    eprintln!(
        "{} people / {} households: generated {generated:?}, written {:?}, parsed {:?}",
        population.person_count(),
        population.households().len(),
        written - generated,
        loaded - written
    );
    assert!(
        population.person_count() >= 100_000,
        "{}",
        population.person_count()
    );

    let summary = registry.summary();
    assert_eq!(summary.errors, vec![], "clean extract");
    assert!(summary.complete);
    assert_eq!(summary.households, population.households().len());
    assert_eq!(summary.members, population.person_count());
    assert_eq!(summary.quarantined_households, 0);
    assert_eq!(summary.malformed_lines, 0);

    for (h, p) in population.people() {
        let parsed = registry
            .household_of(&p.national_id)
            .expect("every person is found");
        assert_eq!(parsed.number, h.number);
        assert_eq!(parsed.kind.label(), h.kind.label());
        assert_eq!(parsed.county, h.address.county);
        assert_eq!(parsed.district, h.address.district);
        assert_eq!(parsed.village, h.address.village);
        assert_eq!(parsed.neighbourhood, h.address.neighbourhood);
        assert_eq!(parsed.street, h.address.street);
        assert_eq!(parsed.head_name, h.head().expect("head").name);
        assert_eq!(parsed.issuing_office, h.issuing_office);
        assert_eq!(
            parsed.extract_date.to_string(),
            population.extract_date().to_yyymmdd()
        );
        assert_eq!(parsed.members.len(), h.members.len());
        assert_eq!(parsed.events.len(), h.events.len());
        for (pe, se) in parsed.events.iter().zip(&h.events) {
            assert_eq!(pe.date.to_string(), se.date.to_yyymmdd());
            assert_eq!(pe.kind.label(), se.kind.label());
            assert_eq!(pe.remark, se.remark);
        }

        let m = parsed
            .members
            .iter()
            .find(|m| m.national_id == p.national_id)
            .expect("member");
        assert_eq!(m.seq, p.seq);
        assert_eq!(m.relationship, p.relationship);
        assert_eq!(m.name, p.name);
        assert_eq!(m.sex.label(), p.sex.label());
        assert_eq!(m.birth_date.to_string(), p.birth_date.to_yyymmdd());
        assert_eq!(m.father_name, p.father_name);
        assert_eq!(m.mother_name, p.mother_name);
        assert_eq!(m.spouse_name, p.spouse_name);
        assert_eq!(m.birthplace, p.birthplace);
        assert_eq!(m.birth_order, p.birth_order);
        assert_eq!(m.military.label(), p.military.label());
        assert_eq!(
            m.indigenous.map(|s| s.label()),
            p.indigenous.map(|i| i.status.label())
        );
        assert_eq!(m.tribe, p.indigenous.map_or("", |i| i.tribe));
        assert_eq!(
            m.removed.map(|r| format!("{r:?}")),
            p.removed.map(|r| format!("{r:?}"))
        );
        assert_eq!(m.events.len(), p.events.len());
        for (pe, se) in m.events.iter().zip(&p.events) {
            assert_eq!(pe.date.to_string(), se.date.to_yyymmdd());
            assert_eq!(pe.kind.label(), se.kind.label());
            assert_eq!(pe.remark, se.remark);
        }
    }
}

#[test]
fn transcript_kinds_select_members() {
    let population = Population::generate(5, 3_000);
    let registry = Registry::parse(&extract(&population));
    let (h, removed) = population
        .people()
        .find(|(_, p)| p.removed.is_some())
        .expect("some removed member");
    let current = h.members.iter().filter(|m| m.removed.is_none()).count();
    let head = h.head().expect("head");

    let whole = registry
        .transcript(&head.national_id, TranscriptKind::CurrentWhole)
        .expect("whole");
    assert_eq!(whole.members.len(), current);
    assert!(whole.members.iter().all(|m| !m.removed));
    assert_eq!(whole.household_number, h.number);
    assert_eq!(whole.head_name, head.name);
    assert_eq!(whole.kind, TranscriptKind::CurrentWhole as i32);
    assert_eq!(
        whole.transcript_number,
        format!("1140331戶謄字第{}號", h.number)
    );
    assert_eq!(whole.printed_at, "2025-03-31T00:00:00+08:00");
    let address = whole.address.as_ref().expect("address");
    assert_eq!(address.county, h.address.county);
    assert_eq!(whole.household_events.len(), h.events.len());

    let default = registry
        .transcript(&head.national_id, TranscriptKind::Unspecified)
        .expect("default");
    assert_eq!(default.members, whole.members);
    assert_eq!(default.kind, TranscriptKind::CurrentWhole as i32);

    let partial = registry
        .transcript(&head.national_id, TranscriptKind::CurrentPartial)
        .expect("partial");
    assert_eq!(partial.members.len(), 1);
    assert_eq!(partial.members[0].national_id, head.national_id.as_str());
    assert_eq!(partial.members[0].sex, head.sex.label());
    let birth = partial.members[0].birth_date.expect("birth date");
    assert_eq!(
        (birth.year, birth.month, birth.day),
        (
            u32::from(head.birth_date.year()),
            u32::from(head.birth_date.month()),
            u32::from(head.birth_date.day())
        )
    );

    let all = registry
        .transcript(&head.national_id, TranscriptKind::RemovedWhole)
        .expect("removed whole");
    assert_eq!(all.members.len(), h.members.len());
    assert!(all.members.iter().any(|m| m.removed));

    // A removed member has no current record, but a removed-kind transcript.
    assert_eq!(
        registry.transcript(&removed.national_id, TranscriptKind::CurrentWhole),
        Err(LookupError::NotFound)
    );
    assert_eq!(
        registry.transcript(&removed.national_id, TranscriptKind::CurrentPartial),
        Err(LookupError::NotFound)
    );
    let own = registry
        .transcript(&removed.national_id, TranscriptKind::RemovedPartial)
        .expect("own");
    assert_eq!(own.members.len(), 1);
    assert!(own.members[0].removed);
    assert!(
        own.members[0]
            .events
            .iter()
            .any(|e| e.kind == "死亡登記" || e.kind == "遷出登記")
    );

    // Same extract, same transcript: nothing depends on a clock.
    assert_eq!(
        registry.transcript(&head.national_id, TranscriptKind::CurrentWhole),
        Ok(whole)
    );
}

#[tokio::test]
async fn service_answers_and_refuses_through_rejection() {
    let (population, mut bytes) = small();
    let target = household_with(&population, 2);
    let line = lines_of(&bytes, b'M', &target.number)[0];
    poke(&mut bytes, line, 199, b"X");
    let service = HouseholdService::new(std::sync::Arc::new(Registry::parse(&bytes)));
    let ok_person = &population
        .households()
        .iter()
        .find(|h| h.number != target.number)
        .expect("other")
        .members[0];

    let request = |id: &str, kind: TranscriptKind| {
        tonic::Request::new(GetTranscriptRequest {
            national_id: id.to_owned(),
            kind: kind as i32,
        })
    };
    let answer = service
        .get_transcript(request(
            ok_person.national_id.as_str(),
            TranscriptKind::CurrentWhole,
        ))
        .await
        .expect("answers");
    assert_eq!(answer.get_ref().members[0].name, ok_person.name);

    let status = service
        .get_transcript(request(
            target.members[0].national_id.as_str(),
            TranscriptKind::CurrentWhole,
        ))
        .await
        .expect_err("quarantined");
    assert_eq!(status.code(), tonic::Code::DataLoss);
    assert_eq!(
        Rejection::reason_of(&status),
        Some(tongdao_core::Reason::SourceRecordMalformed)
    );
    assert!(
        !status
            .message()
            .contains(target.members[0].national_id.as_str())
    );

    let status = service
        .get_transcript(request("A123456788", TranscriptKind::CurrentWhole))
        .await
        .expect_err("bad");
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert_eq!(
        Rejection::reason_of(&status),
        Some(tongdao_core::Reason::SubjectInvalid)
    );
    assert!(!status.message().contains("A123456788"));

    // Valid but absent: A123456789 is not generated by seed 99 (checked below).
    assert!(
        population
            .people()
            .all(|(_, p)| p.national_id.as_str() != "A123456789")
    );
    let status = service
        .get_transcript(request("A123456789", TranscriptKind::CurrentWhole))
        .await
        .expect_err("absent");
    assert_eq!(status.code(), tonic::Code::NotFound);
    assert_eq!(
        Rejection::reason_of(&status),
        Some(tongdao_core::Reason::RecordNotFound)
    );
    assert!(!status.message().contains("A123456789"));

    let unknown_kind = tonic::Request::new(GetTranscriptRequest {
        national_id: "A123456789".to_owned(),
        kind: 42,
    });
    let status = service
        .get_transcript(unknown_kind)
        .await
        .expect_err("unknown kind");
    assert_eq!(
        Rejection::reason_of(&status),
        Some(tongdao_core::Reason::MalformedRequest)
    );
}

// ---- one test per ExtractError variant -----------------------------------------------------------

#[test]
fn line_length() {
    let (population, mut bytes) = small();
    let target = household_with(&population, 2);
    let line = lines_of(&bytes, b'M', &target.number)[1];
    let at = (line - 1) * LINE + 150; // inside the filler: the ID stays readable
    bytes.remove(at);
    let registry = Registry::parse(&bytes);
    assert!(has(
        &registry,
        |e| matches!(e, ExtractError::LineLength { line: l, expected: 200, found: 199 } if *l == line)
    ));
    assert!(registry.summary().complete, "the member's ID was salvaged");
    assert_quarantined(&registry, &population, &target.number);
}

#[test]
fn a_broken_header_still_quarantines_its_household() {
    let (population, mut bytes) = small();
    let target = household_with(&population, 2);
    let line = lines_of(&bytes, b'H', &target.number)[0];
    bytes.remove((line - 1) * LINE + 170); // H filler: wrong length, number still readable
    let registry = Registry::parse(&bytes);
    assert!(has(
        &registry,
        |e| matches!(e, ExtractError::LineLength { line: l, .. } if *l == line)
    ));
    assert!(
        registry.summary().complete,
        "every line is attributed to its household"
    );
    assert_quarantined(&registry, &population, &target.number);
}

#[test]
fn bad_line_ending() {
    let (population, mut bytes) = small();
    let target = household_with(&population, 2);
    let line = lines_of(&bytes, b'M', &target.number)[1];
    poke(&mut bytes, line, RECORD_LEN, b" "); // CR → space: record ends in a bare LF
    let registry = Registry::parse(&bytes);
    assert!(has(&registry, |e| *e == ExtractError::BadLineEnding { line }));
    assert_quarantined(&registry, &population, &target.number);
}

#[test]
fn missing_final_crlf_is_a_bad_line_ending() {
    let (_, mut bytes) = small();
    bytes.truncate(bytes.len() - 2);
    let registry = Registry::parse(&bytes);
    let last = bytes.len() / LINE + 1;
    assert!(has(&registry, |e| *e
        == ExtractError::BadLineEnding { line: last }));
    assert!(has(&registry, |e| matches!(
        e,
        ExtractError::MissingTrailer { .. }
    )));
}

#[test]
fn unknown_record_type() {
    let (population, mut bytes) = small();
    let target = household_with(&population, 2);
    let line = lines_of(&bytes, b'M', &target.number)[1];
    poke(&mut bytes, line, 0, b"X");
    let registry = Registry::parse(&bytes);
    assert!(has(&registry, |e| *e
        == ExtractError::UnknownRecordType { line }));
    // The trailer's member count no longer matches either.
    assert!(has(&registry, |e| matches!(
        e,
        ExtractError::TrailerMismatch {
            field: "member records",
            ..
        }
    )));
    assert_quarantined(&registry, &population, &target.number);
}

#[test]
fn bad_household_number() {
    let (population, mut bytes) = small();
    let target = household_with(&population, 2);
    let line = lines_of(&bytes, b'E', &target.number)[0];
    poke(&mut bytes, line, 3, b"*");
    let registry = Registry::parse(&bytes);
    assert!(has(&registry, |e| *e
        == ExtractError::BadHouseholdNumber { line }));
    assert!(
        !registry.summary().complete,
        "an unattributable line makes the extract incomplete"
    );
    // The household lost an event record: its control total catches it.
    assert!(has(&registry, |e| matches!(
        e,
        ExtractError::HouseholdCountMismatch {
            field: "event count",
            ..
        }
    )));
    assert_quarantined(&registry, &population, &target.number);
    // Misses can no longer be reported as "not found".
    let absent: NationalId = "A123456789".parse().expect("valid");
    assert_eq!(
        registry.household_of(&absent),
        Err(LookupError::SourceIncomplete)
    );
}

#[test]
fn split_character() {
    let (population, mut bytes) = small();
    let target = household_with(&population, 2);
    let line = lines_of(&bytes, b'M', &target.number)[0];
    poke(&mut bytes, line, 21 + 15, &[0xA4]); // last byte of the name: a lone lead byte
    let registry = Registry::parse(&bytes);
    assert!(has(&registry, |e| *e
        == ExtractError::SplitCharacter {
            line,
            field: "name"
        }));
    assert_quarantined(&registry, &population, &target.number);
}

#[test]
fn invalid_big5() {
    let (population, mut bytes) = small();
    let target = household_with(&population, 2);
    let line = lines_of(&bytes, b'H', &target.number)[0];
    poke(&mut bytes, line, 45, &[0xFF]); // first byte of the street
    let registry = Registry::parse(&bytes);
    assert!(has(&registry, |e| *e
        == ExtractError::InvalidBig5 {
            line,
            field: "street"
        }));
    assert_quarantined(&registry, &population, &target.number);
}

#[test]
fn bad_date() {
    let (population, mut bytes) = small();
    let target = household_with(&population, 2);
    let line = lines_of(&bytes, b'M', &target.number)[1];
    poke(&mut bytes, line, 48 + 3, b"13"); // birth month 13
    let registry = Registry::parse(&bytes);
    assert!(has(&registry, |e| *e
        == ExtractError::BadDate {
            line,
            field: "birth date"
        }));
    assert_quarantined(&registry, &population, &target.number);
}

#[test]
fn not_numeric() {
    let (population, mut bytes) = small();
    let target = household_with(&population, 2);
    let line = lines_of(&bytes, b'H', &target.number)[0];
    poke(&mut bytes, line, 43, b"A");
    let registry = Registry::parse(&bytes);
    assert!(has(&registry, |e| *e
        == ExtractError::NotNumeric {
            line,
            field: "neighbourhood"
        }));
    assert_quarantined(&registry, &population, &target.number);
}

#[test]
fn unknown_code() {
    let (population, mut bytes) = small();
    let target = household_with(&population, 2);
    let line = lines_of(&bytes, b'M', &target.number)[0];
    poke(&mut bytes, line, 119, b"09");
    let registry = Registry::parse(&bytes);
    assert!(has(&registry, |e| *e
        == ExtractError::UnknownCode {
            line,
            field: "military service"
        }));
    assert_quarantined(&registry, &population, &target.number);
}

#[test]
fn invalid_national_id() {
    let (population, mut bytes) = small();
    let target = household_with(&population, 2);
    let line = lines_of(&bytes, b'M', &target.number)[1];
    let last = peek(&bytes, line, 46, 1)[0];
    poke(
        &mut bytes,
        line,
        46,
        &[if last == b'9' { b'0' } else { last + 1 }],
    );
    let registry = Registry::parse(&bytes);
    assert!(has(&registry, |e| matches!(
        e,
        ExtractError::InvalidNationalId { line: l, field: "national ID", source: tongdao_core::ids::IdError::Checksum { .. } } if *l == line
    )));
    // The ID is unreadable, so that member cannot be indexed: the extract is incomplete.
    assert!(!registry.summary().complete);
    let other = target
        .members
        .iter()
        .find(|m| m.seq != target.members[1].seq)
        .expect("other member");
    assert!(matches!(
        registry.household_of(&other.national_id),
        Err(LookupError::SourceMalformed { .. })
    ));
    assert_eq!(
        registry.household_of(&target.members[1].national_id),
        Err(LookupError::SourceIncomplete)
    );
}

#[test]
fn blank() {
    let (population, mut bytes) = small();
    let target = household_with(&population, 2);
    let line = lines_of(&bytes, b'M', &target.number)[1];
    poke(&mut bytes, line, 21, &[b' '; 16]);
    let registry = Registry::parse(&bytes);
    assert!(has(&registry, |e| *e
        == ExtractError::Blank {
            line,
            field: "name"
        }));
    assert_quarantined(&registry, &population, &target.number);
}

#[test]
fn invalid_value() {
    let (population, mut bytes) = small();
    let target = household_with(&population, 2);
    let line = lines_of(&bytes, b'M', &target.number)[0];
    let sex = peek(&bytes, line, 47, 1)[0];
    poke(&mut bytes, line, 47, if sex == b'1' { b"2" } else { b"1" });
    let registry = Registry::parse(&bytes);
    assert!(has(
        &registry,
        |e| matches!(e, ExtractError::InvalidValue { line: l, field: "sex", .. } if *l == line)
    ));
    assert_quarantined(&registry, &population, &target.number);
}

#[test]
fn filler_not_blank() {
    let (population, mut bytes) = small();
    let target = household_with(&population, 2);
    let line = lines_of(&bytes, b'E', &target.number)[0];
    poke(&mut bytes, line, 199, b"X");
    let registry = Registry::parse(&bytes);
    assert!(has(&registry, |e| *e == ExtractError::FillerNotBlank { line }));
    assert_quarantined(&registry, &population, &target.number);
}

#[test]
fn unknown_household() {
    let (population, mut bytes) = small();
    let target = household_with(&population, 2);
    let line = lines_of(&bytes, b'E', &target.number)[0];
    poke(&mut bytes, line, 1, b"Z9999999");
    let registry = Registry::parse(&bytes);
    assert!(has(&registry, |e| *e == ExtractError::UnknownHousehold { line }));
    assert!(!registry.summary().complete);
    assert_quarantined(&registry, &population, &target.number);
}

#[test]
fn duplicate_household() {
    let (population, mut bytes) = small();
    let first = &population.households()[1];
    let second = &population.households()[2];
    let line = lines_of(&bytes, b'H', &second.number)[0];
    poke(&mut bytes, line, 1, first.number.as_bytes());
    let registry = Registry::parse(&bytes);
    assert!(has(&registry, |e| *e
        == ExtractError::DuplicateHousehold { line }));
    assert_quarantined(&registry, &population, &first.number);
}

#[test]
fn duplicate_member() {
    let (population, mut bytes) = small();
    let target = household_with(&population, 3);
    let line = lines_of(&bytes, b'M', &target.number)[1];
    poke(&mut bytes, line, 9, b"01");
    let registry = Registry::parse(&bytes);
    assert!(has(&registry, |e| *e == ExtractError::DuplicateMember { line }));
    assert!(
        registry.summary().complete,
        "the duplicate's ID is still indexed"
    );
    assert_quarantined(&registry, &population, &target.number);
}

#[test]
fn unknown_member() {
    let (population, mut bytes) = small();
    let target = household_with(&population, 2);
    let line = lines_of(&bytes, b'E', &target.number)
        .pop()
        .expect("an event");
    poke(&mut bytes, line, 9, b"09");
    let registry = Registry::parse(&bytes);
    assert!(has(&registry, |e| *e == ExtractError::UnknownMember { line }));
    assert_quarantined(&registry, &population, &target.number);
}

#[test]
fn duplicate_national_id() {
    let (population, mut bytes) = small();
    let a = &population.households()[3];
    let b = population.households()[4..]
        .iter()
        .find(|h| h.members[0].sex == a.members[0].sex)
        .expect("a head of the same sex");
    let from = lines_of(&bytes, b'M', &a.number)[0];
    let to = lines_of(&bytes, b'M', &b.number)[0];
    let id = peek(&bytes, from, 37, 10);
    poke(&mut bytes, to, 37, &id);
    let registry = Registry::parse(&bytes);
    assert!(has(&registry, |e| *e
        == ExtractError::DuplicateNationalId { line: to }));
    assert!(matches!(
        registry.household(&a.number),
        Err(LookupError::SourceMalformed { .. })
    ));
    assert!(matches!(
        registry.household(&b.number),
        Err(LookupError::SourceMalformed { .. })
    ));
    assert!(matches!(
        registry.household_of(&a.members[0].national_id),
        Err(LookupError::SourceMalformed { .. })
    ));
}

#[test]
fn household_count_mismatch() {
    let (population, mut bytes) = small();
    let target = household_with(&population, 2);
    let line = lines_of(&bytes, b'H', &target.number)[0];
    poke(&mut bytes, line, 158, b"07");
    let registry = Registry::parse(&bytes);
    assert!(has(&registry, |e| matches!(
        e,
        ExtractError::HouseholdCountMismatch { line: l, field: "member count", declared: 7, .. } if *l == line
    )));
    assert_quarantined(&registry, &population, &target.number);
}

#[test]
fn trailer_mismatch() {
    let (population, mut bytes) = small();
    let trailer = bytes.len() / LINE;
    poke(&mut bytes, trailer, 1, b"000000001");
    let registry = Registry::parse(&bytes);
    assert!(has(&registry, |e| matches!(
        e,
        ExtractError::TrailerMismatch { line, field: "household records", declared: 1, found: 60 } if *line == trailer
    )));
    assert!(!registry.summary().complete);
    // Every household still loads.
    assert_eq!(registry.summary().households, population.households().len());
}

#[test]
fn missing_trailer_after_truncation() {
    let (population, mut bytes) = small();
    let keep_lines = bytes.len() / LINE / 2;
    bytes.truncate(keep_lines * LINE);
    let registry = Registry::parse(&bytes);
    assert!(has(&registry, |e| *e
        == ExtractError::MissingTrailer {
            line: keep_lines + 1
        }));
    assert!(!registry.summary().complete);
    // The first household is intact and answers; one from the lost half cannot be ruled out.
    let first = &population.households()[0];
    assert!(registry.household_of(&first.members[0].national_id).is_ok());
    let last = population.households().last().expect("households");
    assert_eq!(
        registry.household_of(&last.members[0].national_id),
        Err(LookupError::SourceIncomplete)
    );
}

#[test]
fn after_trailer() {
    let (_, mut bytes) = small();
    let copy = bytes[..LINE].to_vec();
    bytes.extend_from_slice(&copy);
    let registry = Registry::parse(&bytes);
    let line = bytes.len() / LINE;
    assert!(has(&registry, |e| *e == ExtractError::AfterTrailer { line }));
}

#[test]
fn malformed_lines_are_counted_once_per_line() {
    let (population, mut bytes) = small();
    let target = household_with(&population, 2);
    let line = lines_of(&bytes, b'M', &target.number)[0];
    poke(&mut bytes, line, 199, b"X");
    let registry = Registry::parse(&bytes);
    let summary = registry.summary();
    assert_eq!(summary.malformed_lines, 1);
    assert_eq!(summary.quarantined_households, 1);
    assert_eq!(summary.households, population.households().len() - 1);
    assert!(summary.complete);
    for error in &summary.errors {
        let text = error.to_string();
        assert!(text.starts_with("line "), "{text}");
        for member in &target.members {
            assert!(!text.contains(member.national_id.as_str()) && !text.contains(&member.name));
        }
    }
}

// ---- never panic -------------------------------------------------------------------------------

/// xorshift64*: a tiny seeded generator so the fuzz loop is reproducible without a dependency.
struct Xorshift(u64);

impl Xorshift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn random_bytes_truncations_and_mutations_never_panic() {
    let (population, valid) = small();
    let mut rng = Xorshift(0x5EED_1234_ABCD_0001);
    let person = &population.households()[0].members[0].national_id;
    for i in 0..2_000 {
        let bytes: Vec<u8> = match i % 4 {
            // Pure noise, sometimes with CR LF sprinkled in so lines have plausible lengths.
            0 => {
                let len = rng.below(3 * LINE);
                (0..len)
                    .map(|j| {
                        if j % LINE == LINE - 2 {
                            b'\r'
                        } else if j % LINE == LINE - 1 {
                            b'\n'
                        } else {
                            rng.next() as u8
                        }
                    })
                    .collect()
            }
            // A valid extract cut anywhere.
            1 => valid[..rng.below(valid.len() + 1)].to_vec(),
            // A valid extract with a few random bytes changed.
            2 => {
                let mut b = valid.clone();
                for _ in 0..1 + rng.below(8) {
                    let at = rng.below(b.len());
                    b[at] = rng.next() as u8;
                }
                b
            }
            // Records from a valid extract shuffled about, with bytes inserted or removed.
            _ => {
                let mut b = valid.clone();
                for _ in 0..1 + rng.below(4) {
                    let at = rng.below(b.len());
                    if rng.below(2) == 0 {
                        b.remove(at);
                    } else {
                        b.insert(at, rng.next() as u8);
                    }
                }
                let records = (b.len() / LINE).max(1);
                let a = rng.below(records) * LINE;
                let c = rng.below(records) * LINE;
                if a + LINE <= b.len() && c + LINE <= b.len() && a != c {
                    let (lo, hi) = (a.min(c), a.max(c));
                    let (left, right) = b.split_at_mut(hi);
                    left[lo..lo + LINE].swap_with_slice(&mut right[..LINE]);
                }
                b
            }
        };
        let registry = Registry::parse(&bytes);
        let summary = registry.summary();
        assert!(summary.malformed_lines <= summary.errors.len());
        assert!(summary.households + summary.quarantined_households <= bytes.len() / LINE + 1);
        // Lookups answer something sensible, never a panic.
        let _ = registry.household_of(person);
        let _ = registry.transcript(person, TranscriptKind::RemovedWhole);
    }
}

#[test]
fn empty_file_is_incomplete_not_a_panic() {
    let registry = Registry::parse(&[]);
    assert!(has(&registry, |e| *e
        == ExtractError::MissingTrailer { line: 1 }));
    assert!(!registry.summary().complete);
    let absent: NationalId = "A123456789".parse().expect("valid");
    assert_eq!(
        registry.household_of(&absent),
        Err(LookupError::SourceIncomplete)
    );
}
