//! The embedded store on disk: reopening, torn tails, damage, the directory lock, a real
//! `kill -9` of a process mid-write, and no national ID in clear in its files.

mod common;

use std::{
    fs::OpenOptions,
    io::{BufRead as _, BufReader, Write as _},
    path::Path,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use common::*;
use tongdao_consent::{
    CheckError, ConsentId, ConsentStore, FileStore, LOG_FILE, Refusal, Revocation, StoreError,
    Timestamp,
};

/// Opens the store, waiting out a lock held for an instant by a child process being spawned
/// by another test of this binary (a forked child holds the parent's files until it execs).
fn open(dir: &Path) -> FileStore {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match FileStore::open(dir, subject_key()) {
            Err(StoreError::Locked(_)) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10));
            }
            result => return result.expect("opens"),
        }
    }
}

fn log_len(dir: &Path) -> u64 {
    std::fs::metadata(dir.join(LOG_FILE)).expect("log").len()
}

#[tokio::test]
async fn everything_survives_reopening() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(dir.path());
    let kept = grant_for(citizen(), until(3600));
    let revoked = grant_for(citizen(), until(3600));
    let used = grant_for(citizen(), single_use(3600));
    let unused = grant_for(citizen(), single_use(3600));
    let theirs = grant_for(neighbour(), until(3600));
    for consent in [&kept, &revoked, &used, &unused, &theirs] {
        store.grant(consent).await.expect("granted");
    }
    let (grantee, subject, fields) = (welfare(), citizen(), fields());
    let at = Timestamp::now();
    store
        .revoke(revoked.id(), &subject, at)
        .await
        .expect("revoked");
    let usage = usage(&grantee, &subject, &fields, at);
    assert!(store.check(used.id(), &usage).await.expect("used").consumed);
    let before = store.list(&subject).await.expect("lists");
    store.close();
    drop(store);

    let store = open(dir.path());
    assert_eq!(store.len(), 5);
    assert_eq!(store.list(&subject).await.expect("lists"), before);
    store.check(kept.id(), &usage).await.expect("still granted");
    store
        .check(unused.id(), &usage)
        .await
        .expect("still unused");
    assert!(matches!(
        store.check(revoked.id(), &usage).await,
        Err(CheckError::Refused(Refusal::Revoked { at: when })) if when == at
    ));
    assert!(matches!(
        store.check(used.id(), &usage).await,
        Err(CheckError::Refused(Refusal::AlreadyUsed { at: when })) if when == at
    ));
    assert_eq!(
        store
            .revoke(revoked.id(), &subject, Timestamp::now())
            .await
            .expect("answers"),
        Revocation::AlreadyRevoked { at }
    );
    assert_eq!(store.list(&neighbour()).await.expect("lists")[0].0, theirs);
}

#[tokio::test]
async fn a_torn_tail_is_cut() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(dir.path());
    let kept = grant_for(citizen(), until(3600));
    store.grant(&kept).await.expect("granted");
    let acknowledged = log_len(dir.path());
    let torn = grant_for(citizen(), single_use(3600));
    store.grant(&torn).await.expect("granted");
    let full = log_len(dir.path());
    store.close();
    drop(store);

    // The second grant's line cut in half, as a crash during its write leaves it (it was
    // never acknowledged then). Reopen, check, write on.
    let log = dir.path().join(LOG_FILE);
    let middle = acknowledged + (full - acknowledged) / 2;
    OpenOptions::new()
        .write(true)
        .open(&log)
        .and_then(|f| f.set_len(middle))
        .expect("cut");
    let store = open(dir.path());
    assert_eq!(log_len(dir.path()), acknowledged, "the torn line is gone");
    assert_eq!(store.len(), 1);
    let (grantee, subject, fields) = (welfare(), citizen(), fields());
    let usage = usage(&grantee, &subject, &fields, Timestamp::now());
    store.check(kept.id(), &usage).await.expect("kept");
    assert!(matches!(
        store.check(torn.id(), &usage).await,
        Err(CheckError::Refused(Refusal::Unknown))
    ));
    // Appending continues on a clean line boundary.
    store.grant(&torn).await.expect("granted again");
    store.close();
    drop(store);

    // Garbage after the last line (zeros, half a line) is cut too.
    OpenOptions::new()
        .append(true)
        .open(&log)
        .and_then(|mut f| f.write_all(b"\0\0\0\0{\"event\":\"revoke\",\"id\":\"01"))
        .expect("append garbage");
    let store = open(dir.path());
    assert_eq!(store.len(), 2);
    store.check(torn.id(), &usage).await.expect("usable");
}

#[tokio::test]
async fn damage_before_the_end_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(dir.path());
    for _ in 0..3 {
        store
            .grant(&grant_for(citizen(), until(3600)))
            .await
            .expect("granted");
    }
    store.close();
    drop(store);
    let log = dir.path().join(LOG_FILE);
    let text = std::fs::read_to_string(&log).expect("log");
    // Widen the second consent's purpose: the checksum no longer matches.
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "header and three grants");
    let altered = text.replacen(lines[2], &lines[2].replace("\"057\"", "\"074\""), 1);
    assert_ne!(altered, text);
    std::fs::write(&log, altered).expect("write");
    match FileStore::open(dir.path(), subject_key()) {
        Err(StoreError::Corrupt { line, .. }) => assert_eq!(line, 3),
        other => panic!("expected Corrupt at line 3, got {other:?}"),
    }
    assert_eq!(
        std::fs::read_to_string(&log).expect("log").len(),
        text.len(),
        "a damaged log is never cut"
    );
}

#[tokio::test]
async fn a_foreign_file_is_not_a_log() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = dir.path().join(LOG_FILE);
    std::fs::write(&log, "some other file\nwith lines\n").expect("write");
    assert!(matches!(
        FileStore::open(dir.path(), subject_key()),
        Err(StoreError::Corrupt { line: 1, .. })
    ));
    assert_eq!(
        std::fs::read(&log).expect("log"),
        b"some other file\nwith lines\n"
    );
    // Half a header (a crash while the log was being created) starts afresh.
    std::fs::write(&log, "{\"event\":\"hea").expect("write");
    let store = open(dir.path());
    assert!(store.is_empty());
    store
        .grant(&grant_for(citizen(), until(60)))
        .await
        .expect("granted");
}

#[tokio::test]
async fn one_process_per_directory() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(dir.path());
    assert!(matches!(
        FileStore::open(dir.path(), subject_key()),
        Err(StoreError::Locked(_))
    ));
    drop(store);
    open(dir.path());
}

#[tokio::test]
async fn no_national_id_in_clear_on_disk() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(dir.path());
    let consent = grant_for(citizen(), single_use(3600));
    store.grant(&consent).await.expect("granted");
    let (grantee, subject, fields) = (welfare(), citizen(), fields());
    store
        .check(
            consent.id(),
            &usage(&grantee, &subject, &fields, Timestamp::now()),
        )
        .await
        .expect("used");
    store
        .revoke(consent.id(), &subject, Timestamp::now())
        .await
        .expect("revoked");
    store.close();
    for file in std::fs::read_dir(dir.path()).expect("dir") {
        let bytes = std::fs::read(file.expect("entry").path()).expect("read");
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains(citizen().as_str()));
        assert!(
            !text.contains(&citizen().as_str()[1..]),
            "not even the digits"
        );
    }
    let pseudonym = subject_key().pseudonym(&citizen()).to_hex();
    let log = std::fs::read_to_string(dir.path().join(LOG_FILE)).expect("log");
    assert!(log.contains(&pseudonym), "filed under the pseudonym");
}

#[test]
fn pseudonyms_match_the_audit_logs() {
    let key = [42u8; 32];
    let ours = tongdao_consent::SubjectKey::new(&key).pseudonym(&citizen());
    let audit = tongdao_audit::SubjectPseudonym::derive(&key, citizen().as_str());
    assert_eq!(ours.to_hex(), audit.to_hex());
}

/// Run by `acknowledged_changes_survive_kill_9` in a child process: grants, uses and
/// revokes as fast as it can, printing each change once acknowledged, until killed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "the child half of acknowledged_changes_survive_kill_9"]
async fn crash_child() {
    let dir = std::env::var("TONGDAO_CONSENT_CRASH_DIR").expect("run by the crash test");
    let store = open(Path::new(&dir));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    for _ in 0..8 {
        let store = store.clone();
        let tx = tx.clone();
        tokio::spawn(async move {
            let (grantee, subject, fields) = (welfare(), citizen(), fields());
            loop {
                let consent = grant_for(citizen(), single_use(3600));
                store.grant(&consent).await.expect("granted");
                tx.send(format!("grant {}", consent.id())).expect("send");
                let now = Timestamp::now();
                store
                    .check(consent.id(), &usage(&grantee, &subject, &fields, now))
                    .await
                    .expect("used");
                tx.send(format!("use {}", consent.id())).expect("send");
                let other = grant_for(citizen(), until(3600));
                store.grant(&other).await.expect("granted");
                tx.send(format!("grant {}", other.id())).expect("send");
                store
                    .revoke(other.id(), &subject, now)
                    .await
                    .expect("revoked");
                tx.send(format!("revoke {}", other.id())).expect("send");
            }
        });
    }
    let mut out = std::io::stdout().lock();
    while let Some(line) = rx.recv().await {
        writeln!(out, "{line}").expect("stdout");
        out.flush().expect("flush");
    }
}

#[tokio::test]
async fn acknowledged_changes_survive_kill_9() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut child = Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "crash_child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("TONGDAO_CONSENT_CRASH_DIR", dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("child starts");
    let stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut acknowledged = Vec::new();
        let started = Instant::now();
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some((kind, id)) = line.split_once(' ')
                && let Ok(id) = id.parse::<ConsentId>()
            {
                acknowledged.push((kind.to_owned(), id));
            }
            if started.elapsed() > Duration::from_secs(30) {
                break;
            }
        }
        acknowledged
    });
    // Let it write for a while, then kill it without warning (SIGKILL).
    tokio::time::sleep(Duration::from_millis(300)).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while log_len_or_zero(dir.path()) < 200_000 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().expect("kill -9");
    child.wait().expect("reaped");
    let acknowledged = reader.join().expect("reader");
    assert!(
        acknowledged.len() > 200,
        "only {} changes acknowledged",
        acknowledged.len()
    );

    let store = open(dir.path());
    let (grantee, subject, fields) = (welfare(), citizen(), fields());
    let usage = usage(&grantee, &subject, &fields, Timestamp::now());
    let listed = store.list(&subject).await.expect("lists");
    let state = |id: &ConsentId| {
        listed
            .iter()
            .find(|(consent, _)| consent.id() == id)
            .map(|(_, state)| *state)
    };
    for (kind, id) in &acknowledged {
        let state = state(id).unwrap_or_else(|| panic!("acknowledged grant {id} lost"));
        match kind.as_str() {
            "grant" => {}
            "use" => {
                assert!(state.used_at.is_some(), "acknowledged use of {id} lost");
                assert!(matches!(
                    store.check(id, &usage).await,
                    Err(CheckError::Refused(Refusal::AlreadyUsed { .. }))
                ));
            }
            "revoke" => {
                assert!(
                    state.revoked_at.is_some(),
                    "acknowledged revocation of {id} lost"
                );
            }
            other => panic!("unexpected line {other}"),
        }
    }
}

fn log_len_or_zero(dir: &Path) -> u64 {
    std::fs::metadata(dir.join(LOG_FILE))
        .map(|m| m.len())
        .unwrap_or(0)
}
