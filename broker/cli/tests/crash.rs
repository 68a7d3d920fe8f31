//! Crash test: `kill -9` the broker while a load generator runs. After a restart, every
//! exchange the load generator saw answered is in the audit log, and `tongdao audit verify`
//! passes.

use std::{
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::Duration,
};

use bytes::Bytes;
use prost::Message as _;
use tongdao_cli::{
    client,
    sandbox::{Sandbox, wait_healthy},
};
use tongdao_schemas::household::v1::GetTranscriptRequest;

const TONGDAO: &str = env!("CARGO_BIN_EXE_tongdao");

/// Starts a server with every log line (debug level, JSON) appended to `log`.
fn spawn(args: &[&str], sandbox: &Sandbox, log: &std::path::Path) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("log file");
    Command::new(TONGDAO)
        .args(args)
        .arg("--config")
        .arg(sandbox.config_path())
        .env("TONGDAO__TELEMETRY__LOG_FILTER", "debug")
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log file"))
        .stderr(log)
        .spawn()
        .expect("starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answered_exchanges_survive_kill_9() {
    tongdao_tls::install_crypto_provider();
    let mut sandbox = Sandbox::create(20).expect("sandbox");
    drop(sandbox.take_listeners());
    let log = sandbox.root().join("servers.log");
    let mut adapter = spawn(&["adapter", "household"], &sandbox, &log);
    let mut broker = spawn(&["broker"], &sandbox, &log);
    let agency = sandbox.agency_files("taipei-tax");
    let addr = sandbox.broker_addr().to_string();
    wait_healthy(&agency, sandbox.broker_addr(), sandbox.broker_server_name())
        .await
        .expect("broker up");

    // Load: 16 callers until the broker dies; keep the exchange ids of every answer.
    let answered = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut callers = Vec::new();
    for worker in 0..16 {
        let channel =
            client::channel(&agency, &addr, Some(sandbox.broker_server_name())).expect("channel");
        let subjects = sandbox.subject_ids().to_vec();
        let answered = answered.clone();
        callers.push(tokio::spawn(async move {
            let metadata = [("tongdao-purpose".to_owned(), "095".to_owned())];
            for i in worker.. {
                let id = &subjects[i % subjects.len()];
                let body = Bytes::from(
                    GetTranscriptRequest {
                        national_id: id.clone(),
                        kind: 0,
                    }
                    .encode_to_vec(),
                );
                match client::unary(
                    channel.clone(),
                    "tongdao.household.v1.HouseholdRegistry/GetTranscript",
                    body,
                    &metadata,
                    Some(Duration::from_secs(2)),
                )
                .await
                {
                    Ok((_, metadata)) => {
                        let id = metadata
                            .get("tongdao-exchange-id")
                            .and_then(|v| v.to_str().ok())
                            .expect("id");
                        answered.lock().expect("lock").push(id.to_owned());
                    }
                    Err(_) => return,
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    broker.kill().expect("kill -9");
    broker.wait().expect("reaped");
    for caller in callers {
        caller.await.expect("caller");
    }
    let answered = answered.lock().expect("lock").clone();
    assert!(
        answered.len() > 10,
        "the load generator got answers before the crash: {}",
        answered.len()
    );

    // Restart on the same log: recovery must accept it.
    let mut broker = spawn(&["broker"], &sandbox, &log);
    wait_healthy(&agency, sandbox.broker_addr(), sandbox.broker_server_name())
        .await
        .expect("broker restarts on the crashed log");
    broker.kill().expect("stop");
    broker.wait().expect("reaped");
    adapter.kill().expect("stop");
    adapter.wait().expect("reaped");

    let verify = Command::new(TONGDAO)
        .args(["audit", "verify"])
        .arg(sandbox.audit_dir())
        .arg("--public-key")
        .arg(sandbox.audit_public_key())
        .output()
        .expect("runs");
    assert!(
        verify.status.success(),
        "audit verify: {}",
        String::from_utf8_lossy(&verify.stderr)
    );

    let mut completed = std::collections::HashSet::new();
    for found in tongdao_audit::search(&sandbox.audit_dir(), &tongdao_audit::Query::default())
        .expect("search")
    {
        let record = found.expect("readable").record;
        if let tongdao_audit::AuditRecord::ExchangeCompletion(completion) = record {
            completed.insert(completion.exchange.exchange_id);
        }
    }
    let missing: Vec<_> = answered
        .iter()
        .filter(|id| !completed.contains(*id))
        .collect();
    assert!(
        missing.is_empty(),
        "{} answered exchanges missing from the log, e.g. {:?}",
        missing.len(),
        missing.first()
    );

    // The servers' logs and the audit log hold no national ID in clear.
    let logs = std::fs::read_to_string(&log).expect("server logs");
    assert!(
        logs.contains("\"exchange\""),
        "the broker logged its exchanges"
    );
    let mut files = vec![log.clone()];
    let mut pending = vec![sandbox.audit_dir()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    for file in files {
        let bytes = std::fs::read(&file).expect("read");
        for id in sandbox.subject_ids() {
            let found = bytes.windows(id.len()).any(|w| w == id.as_bytes());
            assert!(!found, "a national ID in clear in {}", file.display());
        }
    }
}
