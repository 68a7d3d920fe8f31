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
    Timestamp, Use,
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
async fn a_recipe_runs_use_survives_reopening() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(dir.path());
    let consent = grant_for(citizen(), single_use(3600));
    store.grant(&consent).await.expect("granted");
    let (grantee, subject, fields) = (welfare(), citizen(), fields());
    let leg = Use {
        run: Some("0190b8a4-0000-7000-8000-00000000000c"),
        ..usage(&grantee, &subject, &fields, Timestamp::now())
    };
    assert!(
        store
            .check(consent.id(), &leg)
            .await
            .expect("used")
            .consumed
    );
    store.close();
    drop(store);

    // The log says which run used it: that run's remaining legs still pass, nothing else.
    let store = open(dir.path());
    let again = store.check(consent.id(), &leg).await.expect("same run");
    assert!(!again.consumed);
    let direct = Use { run: None, ..leg };
    assert!(matches!(
        store.check(consent.id(), &direct).await,
        Err(CheckError::Refused(Refusal::AlreadyUsed { .. }))
    ));
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

/// Run by `a_full_disk_refuses_changes_and_recovers` in a child process whose file size
/// limit (`RLIMIT_FSIZE`, with `SIGXFSZ` ignored) makes log writes fail as on a full disk.
#[tokio::test]
#[ignore = "the child half of a_full_disk_refuses_changes_and_recovers"]
async fn write_failure_child() {
    let dir = std::env::var("TONGDAO_CONSENT_FULL_DIR").expect("run by the disk-full test");
    let store = open(Path::new(&dir));
    let reusable = grant_for(citizen(), until(3600));
    let single = grant_for(citizen(), single_use(3600));
    store.grant(&reusable).await.expect("granted");
    store.grant(&single).await.expect("granted");
    let (grantee, subject, fields) = (welfare(), citizen(), fields());
    let usage = usage(&grantee, &subject, &fields, Timestamp::now());

    // Fill the "disk".
    let mut granted = 2;
    let refused = loop {
        let consent = grant_for(citizen(), until(3600));
        match store.grant(&consent).await {
            Ok(()) => granted += 1,
            Err(StoreError::Unavailable(_)) => break consent,
            Err(other) => panic!("expected Unavailable, got {other}"),
        }
        assert!(granted < 10_000, "the file size limit never bit");
    };
    // Refused changes: nothing half done, nothing consumed; reads go on.
    store
        .check(reusable.id(), &usage)
        .await
        .expect("reusable checks need no disk");
    for _ in 0..2 {
        assert!(matches!(
            store.check(single.id(), &usage).await,
            Err(CheckError::Store(StoreError::Unavailable(_)))
        ));
    }
    assert!(matches!(
        store
            .revoke(reusable.id(), &subject, Timestamp::now())
            .await,
        Err(StoreError::Unavailable(_))
    ));
    store
        .check(reusable.id(), &usage)
        .await
        .expect("a failed revocation is undone");
    let listed = store.list(&subject).await.expect("lists");
    assert_eq!(listed.len(), granted);
    assert!(listed.iter().all(|(c, _)| c.id() != refused.id()));
    assert!(listed.iter().all(|(_, s)| s.used_at.is_none()));

    // On a line of its own: the harness has printed "test … " without a newline.
    println!("\nCHILD full");
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).expect("stdin");
    assert_eq!(line.trim(), "go");

    // Space is back: the same store writes again.
    assert!(
        store
            .check(single.id(), &usage)
            .await
            .expect("usable")
            .consumed
    );
    let at = Timestamp::now();
    assert_eq!(
        store
            .revoke(reusable.id(), &subject, at)
            .await
            .expect("revokes"),
        Revocation::Revoked { at }
    );
    store.grant(&refused).await.expect("granted now");
    store.close();
    println!(
        "\nCHILD done {} {} {} {}",
        reusable.id(),
        single.id(),
        refused.id(),
        granted + 1
    );
}

#[tokio::test]
async fn a_full_disk_refuses_changes_and_recovers() {
    let dir = tempfile::tempdir().expect("temp dir");
    let exe = std::env::current_exe().expect("test binary");
    // `trap '' XFSZ` survives exec: writes past the limit fail with EFBIG instead of killing
    // the child. Soft limit 20 kB, hard unlimited, so it can be raised from outside.
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(
            "trap '' XFSZ; exec prlimit --fsize=20000:unlimited -- \"$0\" --exact \
             write_failure_child --ignored --nocapture --test-threads=1",
        )
        .arg(&exe)
        .env("TONGDAO_CONSENT_FULL_DIR", dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("child starts");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    // Never hang the suite: a child stuck for a minute is killed (and the test fails).
    let pid = child.id().to_string();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(60));
        let _ = Command::new("kill").args(["-9", &pid]).status();
    });
    let mut done = None;
    for line in lines.by_ref() {
        let line = line.expect("child output");
        if line == "CHILD full" {
            let raised = Command::new("prlimit")
                .args([
                    "--pid",
                    &child.id().to_string(),
                    "--fsize=unlimited:unlimited",
                ])
                .status()
                .expect("prlimit runs");
            assert!(raised.success());
            writeln!(stdin, "go").expect("tell the child");
        } else if let Some(rest) = line.strip_prefix("CHILD done ") {
            done = Some(rest.to_owned());
        }
    }
    let status = child.wait().expect("child ends");
    assert!(status.success(), "the child's assertions failed: {status}");
    let done = done.expect("the child reported its consents");
    let parts: Vec<&str> = done.split(' ').collect();
    let id = |n: usize| parts[n].parse::<ConsentId>().expect("id");
    let count: usize = parts[3].parse().expect("count");

    let store = open(dir.path());
    let listed = store.list(&citizen()).await.expect("lists");
    assert_eq!(
        listed.len(),
        count,
        "every acknowledged grant, nothing else"
    );
    let state = |wanted: ConsentId| {
        listed
            .iter()
            .find(|(c, _)| *c.id() == wanted)
            .map(|(_, s)| *s)
            .expect("listed")
    };
    assert!(state(id(0)).revoked_at.is_some());
    assert!(state(id(1)).used_at.is_some());
    state(id(2));
}
