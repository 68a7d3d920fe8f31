//! The Redis store beyond the shared conformance cases: what it keeps in Redis, failing
//! closed when Redis is away, and many brokers racing for one single-use consent.

mod common;

use std::{sync::Arc, time::Duration};

use common::*;
use tongdao_consent::{
    CheckError, ConsentStore, RedisOptions, RedisStore, Refusal, StoreError, Timestamp,
};

#[tokio::test]
async fn no_national_id_in_clear_in_redis() {
    let prefix = unique_prefix();
    let Some(store) = redis_store(&prefix).await else {
        return;
    };
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

    let client = redis::Client::open(redis_url()).expect("url");
    let mut connection = client
        .get_multiplexed_async_connection()
        .await
        .expect("connects");
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut connection)
        .await
        .expect("keys");
    assert_eq!(keys.len(), 2, "one hash and one subject set: {keys:?}");
    let pseudonym = subject_key().pseudonym(&citizen()).to_hex();
    assert!(keys.contains(&format!("{prefix}s:{pseudonym}")));
    let hash: Vec<String> = redis::cmd("HGETALL")
        .arg(format!("{prefix}c:{}", consent.id()))
        .query_async(&mut connection)
        .await
        .expect("hash");
    let everything = format!("{keys:?}{hash:?}");
    assert!(!everything.contains(&citizen().as_str()[1..]));
    assert!(everything.contains(&pseudonym));
    let ttl: i64 = redis::cmd("PTTL")
        .arg(format!("{prefix}c:{}", consent.id()))
        .query_async(&mut connection)
        .await
        .expect("ttl");
    assert!(
        ttl > 3_600_000 && ttl <= 7_200_000,
        "expires an hour (the tests' retention) after not_after: {ttl} ms"
    );
}

#[tokio::test]
async fn an_unreachable_redis_is_a_store_error() {
    let options = RedisOptions {
        connection_timeout: Duration::from_millis(200),
        response_timeout: Duration::from_millis(200),
        ..redis_options(&unique_prefix())
    };
    // Port 1 on loopback: nothing listens.
    let started = std::time::Instant::now();
    match RedisStore::connect("redis://127.0.0.1:1/", subject_key(), options).await {
        Err(StoreError::Redis(_)) => {}
        other => panic!("expected a Redis error, got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(matches!(
        RedisStore::connect("not a url", subject_key(), RedisOptions::default()).await,
        Err(StoreError::Redis(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_brokers_race_for_one_single_use_consent() {
    let prefix = unique_prefix();
    let mut brokers = Vec::new();
    for _ in 0..4 {
        let Some(store) = redis_store(&prefix).await else {
            return;
        };
        brokers.push(Arc::new(store));
    }
    for round in 0..20 {
        let consent = grant_for(citizen(), single_use(600));
        brokers[round % 4].grant(&consent).await.expect("granted");
        let mut tasks = Vec::new();
        for task in 0..32 {
            let store = brokers[task % 4].clone();
            let id = *consent.id();
            tasks.push(tokio::spawn(async move {
                let (grantee, subject, fields) = (welfare(), citizen(), fields());
                store
                    .check(&id, &usage(&grantee, &subject, &fields, Timestamp::now()))
                    .await
            }));
        }
        let mut permits = 0;
        for task in tasks {
            match task.await.expect("task") {
                Ok(_) => permits += 1,
                Err(CheckError::Refused(Refusal::AlreadyUsed { .. })) => {}
                Err(other) => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(permits, 1, "round {round}");
    }
}

#[tokio::test]
async fn foreign_data_under_the_prefix_is_reported() {
    let prefix = unique_prefix();
    let Some(store) = redis_store(&prefix).await else {
        return;
    };
    let consent = grant_for(citizen(), until(60));
    let client = redis::Client::open(redis_url()).expect("url");
    let mut connection = client
        .get_multiplexed_async_connection()
        .await
        .expect("connects");
    let key = format!("{prefix}c:{}", consent.id());
    let () = redis::cmd("SET")
        .arg(&key)
        .arg("not a hash")
        .arg("EX")
        .arg(60)
        .query_async(&mut connection)
        .await
        .expect("set");
    let (grantee, subject, fields) = (welfare(), citizen(), fields());
    assert!(matches!(
        store
            .check(
                consent.id(),
                &usage(&grantee, &subject, &fields, Timestamp::now())
            )
            .await,
        Err(CheckError::Store(StoreError::Redis(_)))
    ));
    assert!(matches!(
        store.grant(&consent).await,
        Err(StoreError::Redis(_))
    ));
}

/// A private `redis-server` on a free loopback port, killed on drop.
struct PrivateRedis {
    child: std::process::Child,
    port: u16,
}

impl PrivateRedis {
    fn start(port: u16) -> Option<PrivateRedis> {
        let spawned = std::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn();
        match spawned {
            Ok(child) => Some(PrivateRedis { child, port }),
            Err(error) if std::env::var_os("CI").is_none() => {
                eprintln!(
                    "SKIPPED: cannot run redis-server ({error}); with CI set this test fails"
                );
                None
            }
            Err(error) => panic!("cannot run redis-server ({error}) and CI is set"),
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    async fn wait_ready(&self) {
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("redis-server did not start on port {}", self.port);
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checks_fail_closed_during_an_outage_and_recover() {
    let port = free_port();
    let Some(server) = PrivateRedis::start(port) else {
        return;
    };
    server.wait_ready().await;
    let store = RedisStore::connect(&server.url(), subject_key(), redis_options("outage:"))
        .await
        .expect("connects");
    let consent = grant_for(citizen(), until(600));
    store.grant(&consent).await.expect("granted");
    let (grantee, subject, fields) = (welfare(), citizen(), fields());
    let check = || async {
        let started = std::time::Instant::now();
        let result = store
            .check(
                consent.id(),
                &usage(&grantee, &subject, &fields, Timestamp::now()),
            )
            .await;
        (result, started.elapsed())
    };
    assert!(check().await.0.is_ok());

    drop(server);
    for attempt in 0..3 {
        let (result, took) = check().await;
        assert!(
            matches!(result, Err(CheckError::Store(_))),
            "attempt {attempt}: {result:?}"
        );
        assert!(
            took < Duration::from_millis(2500),
            "attempt {attempt}: failing closed took {took:?}"
        );
    }

    // Redis comes back (empty: it kept nothing); the same store reconnects by itself.
    let server = PrivateRedis::start(port).expect("restarts");
    server.wait_ready().await;
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        match store.grant(&consent).await {
            Ok(()) => break,
            Err(error) if std::time::Instant::now() < deadline => {
                let _ = error;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(error) => panic!("no reconnection: {error}"),
        }
    }
    assert!(check().await.0.is_ok(), "usable again after reconnecting");
    drop(server);
}
