use super::*;

const GOOD: &str = r#"
[broker]
listen_addr = "127.0.0.1:8443"
policy_dir = "policies"
[broker.audit]
dir = "audit"
signing_key = "audit.key"
pseudonym_key = "pseudonym.key"
origin = "tongdao.test/audit"
[broker.authorities]
GCA = ["gca.crt"]
MOICA = ["moica.crt"]
[broker.tls]
certificate = "broker.crt"
private_key = "broker.key"
trust_anchors = ["grca.crt"]
crls = ["gca.crl"]
[[broker.routes]]
package = "tongdao.household.v1"
endpoints = ["127.0.0.1:9101"]
server_name = "household.adapter.tongdao.test"
"#;

fn no_env() -> Vec<(String, String)> {
    Vec::new()
}

#[test]
fn parses_with_defaults() {
    let config = Config::parse(GOOD, no_env()).expect("valid");
    let broker = config.broker.expect("broker section");
    assert_eq!(broker.listen_addr.port(), 8443);
    assert_eq!(broker.handshake_timeout(), Duration::from_secs(5));
    assert_eq!(broker.routes[0].timeout(), Duration::from_secs(10));
    assert_eq!(config.telemetry.log_format, LogFormat::Json);
}

#[test]
fn unknown_key_is_an_error_with_its_line() {
    let text = GOOD.replace("listen_addr", "listen_adr");
    let problems = Config::parse(&text, no_env()).expect_err("unknown key");
    assert!(problems[0].contains("listen_adr"), "{problems:?}");
    assert!(problems[0].contains("line 3"), "{problems:?}");
}

#[test]
fn environment_overrides_win() {
    let env = vec![
        (
            "TONGDAO__BROKER__LISTEN_ADDR".to_owned(),
            "127.0.0.1:9999".to_owned(),
        ),
        (
            "TONGDAO__BROKER__MAX_DEADLINE_MS".to_owned(),
            "1234".to_owned(),
        ),
        ("UNRELATED".to_owned(), "x".to_owned()),
    ];
    let broker = Config::parse(GOOD, env)
        .expect("valid")
        .broker
        .expect("broker");
    assert_eq!(broker.listen_addr.port(), 9999);
    assert_eq!(broker.max_deadline_ms, 1234);
}

#[test]
fn bad_override_value_is_reported() {
    let env = vec![(
        "TONGDAO__BROKER__LISTEN_ADDR".to_owned(),
        "not-an-address".to_owned(),
    )];
    let problems = Config::parse(GOOD, env).expect_err("bad address");
    assert!(
        problems[0].contains("after environment overrides"),
        "{problems:?}"
    );
}

#[test]
fn load_reports_every_problem_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = format!(
        "{GOOD}\n[[broker.routes]]\npackage = \"tongdao.household.v1\"\nendpoints = []\nserver_name = \"\"\n\
         [[broker.routes]]\npackage = \"household\"\nendpoints = [\"nowhere\"]\nserver_name = \"x\"\n"
    );
    let path = dir.path().join("tongdao.toml");
    std::fs::write(&path, text).expect("write");
    let errors = Config::load(&path, no_env()).expect_err("many problems");
    let all = errors.problems.join("\n");
    for expected in [
        "broker.tls.certificate: file",
        "broker.tls.private_key: file",
        "broker.tls.trust_anchors: file",
        "broker.tls.crls: file",
        "broker.policy_dir: directory",
        "broker.authorities.MOICA: file",
        "routed twice",
        "at least one adapter endpoint",
        "server_name: must not be empty",
        "is not a domain package",
        "is not host:port",
    ] {
        assert!(all.contains(expected), "missing {expected:?} in:\n{all}");
    }
    // Relative paths resolve against the file's directory.
    assert!(
        all.contains(&dir.path().join("broker.crt").display().to_string()),
        "{all}"
    );
}

#[test]
fn domain_packages() {
    assert!(is_domain_package("tongdao.household.v1"));
    assert!(is_domain_package("tongdao.land.v2"));
    assert!(!is_domain_package("tongdao.v1"));
    assert!(!is_domain_package("grpc.health.v1"));
    assert!(!is_domain_package("tongdao.Land.v1"));
}

#[test]
fn consent_section_is_optional_and_checked() {
    let config = Config::parse(GOOD, no_env()).expect("valid");
    assert!(config.broker.expect("broker").consent.is_none());

    let with_file =
        format!("{GOOD}\n[broker.consent]\ndir = \"consent\"\nsigning_key = \"consent.key\"\n");
    let broker = Config::parse(&with_file, no_env())
        .expect("valid")
        .broker
        .expect("broker");
    let consent = broker.consent.as_ref().expect("consent");
    assert_eq!(consent.store, ConsentStoreKind::File);
    assert_eq!(consent.key_prefix, "tongdao:consent:");
    assert_eq!(broker.consent_redis_timeout(), Some(Duration::from_secs(1)));

    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("tongdao.toml");
    for (section, expected) in [
        (
            "store = \"redis\"\nsigning_key = \"consent.key\"",
            "broker.consent.redis_url: required",
        ),
        (
            "store = \"redis\"\nredis_url = \"http://x\"\nsigning_key = \"consent.key\"",
            "broker.consent.redis_url: must be",
        ),
        (
            "store = \"file\"\nsigning_key = \"consent.key\"",
            "broker.consent.dir: required",
        ),
        (
            "dir = \"c\"\nsigning_key = \"consent.key\"\nredis_timeout_ms = 0",
            "broker.consent.redis_timeout_ms",
        ),
        (
            "dir = \"c\"\nsigning_key = \"consent.key\"",
            "broker.consent.signing_key: file",
        ),
    ] {
        std::fs::write(&path, format!("{GOOD}\n[broker.consent]\n{section}\n")).expect("write");
        let all = Config::load(&path, no_env())
            .expect_err("problems")
            .problems
            .join("\n");
        assert!(all.contains(expected), "missing {expected:?} in:\n{all}");
    }
    let unknown = format!("{GOOD}\n[broker.consent]\nsigning_key = \"k\"\nstore = \"disk\"\n");
    assert!(
        Config::parse(&unknown, no_env()).is_err(),
        "unknown store kind"
    );
}
