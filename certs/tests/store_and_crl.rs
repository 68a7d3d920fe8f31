//! The PKI directory layout, state round trips, revocation, CRLs, and that webpki (the
//! verifier under the broker's rustls) accepts the chains and honours the CRLs.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer, UnixTime};
use tongdao_pki::demo::{DEMO_ADAPTERS, DEMO_AGENCIES, DEMO_CITIZENS};
use tongdao_pki::{
    CitizenRequest, CrlIndex, DevPki, IssuerRef, LeafSpec, PkiError, Profile, RevocationReason,
    RevocationStatus, STATE_FILE, TrustStore,
};

fn read(dir: &Path, file: &str) -> String {
    fs::read_to_string(dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}

fn certs(pem: &str) -> Vec<CertificateDer<'static>> {
    CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<_, _>>()
        .expect("pem")
}

#[test]
fn demo_directory_layout_and_round_trip() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("pki");
    let pki = DevPki::init_demo(&dir, Profile::embedded()).expect("demo");

    let mut expected = vec![
        "pki.toml".to_owned(),
        "profile.toml".into(),
        "broker.crt".into(),
        "broker.key".into(),
    ];
    for ca in ["grca", "gca", "moica"] {
        for ext in ["crt", "key", "crl"] {
            expected.push(format!("{ca}.{ext}"));
        }
    }
    for a in DEMO_ADAPTERS {
        expected.push(format!("adapters/{}.crt", a.name));
    }
    for a in DEMO_AGENCIES {
        expected.push(format!("agencies/{}.key", a.name));
    }
    for c in DEMO_CITIZENS {
        expected.push(format!("citizens/{}.crt", c.name));
    }
    for file in &expected {
        assert!(dir.join(file).is_file(), "{file} missing");
        let mode = fs::metadata(dir.join(file))
            .expect("meta")
            .permissions()
            .mode()
            & 0o777;
        if file.ends_with(".key") {
            assert_eq!(mode, 0o600, "{file} mode {mode:o}");
        }
    }
    // No temporaries left behind.
    for sub in ["", "agencies", "citizens", "adapters"] {
        for entry in fs::read_dir(dir.join(sub)).expect("read_dir") {
            let name = entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned();
            assert!(!name.ends_with(".tmp"), "{name} left over");
        }
    }
    // Chain files are leaf + issuing CA; CA files are one certificate.
    let broker = certs(&read(&dir, "broker.crt"));
    assert_eq!(broker.len(), 2);
    assert_eq!(&broker[1], pki.gca().cert_der());
    assert_eq!(
        certs(&read(&dir, "citizens/valid.crt"))[1],
        *pki.moica().cert_der()
    );
    assert_eq!(certs(&read(&dir, "grca.crt")).len(), 1);

    let loaded = DevPki::load_from(&dir).expect("load");
    assert_eq!(loaded.profile(), pki.profile());
    for (a, b) in loaded.cas().iter().zip(pki.cas()) {
        assert_eq!(a.cert_der(), b.cert_der());
        assert_eq!(a.key_id(), b.key_id());
        assert_eq!(a.revocations(), b.revocations());
        assert_eq!(a.crl_number(), b.crl_number());
    }
    assert_eq!(loaded.leaves().len(), pki.leaves().len());
    for (a, b) in loaded.leaves().iter().zip(pki.leaves()) {
        assert_eq!(
            (&a.path, &a.serial_hex, &a.cert_der),
            (&b.path, &b.serial_hex, &b.cert_der)
        );
        assert_eq!(
            (a.not_before, a.not_after, a.kind),
            (b.not_before, b.not_after, b.kind)
        );
        assert_eq!(a.key_pem(), b.key_pem());
        assert_eq!(a.chain_pem, b.chain_pem);
    }
    assert_eq!(
        loaded.status("citizens/suspended"),
        Some(RevocationStatus::Suspended)
    );
    assert_eq!(
        loaded.status("citizens/revoked"),
        Some(RevocationStatus::Revoked(RevocationReason::KeyCompromise))
    );
    assert_eq!(loaded.status("citizens/valid"), None);

    // Issue after loading: serials keep counting, and the loaded CA signs verifiable leaves.
    let mut loaded = loaded;
    let max = pki
        .leaves()
        .iter()
        .map(|l| u64::from_str_radix(&l.serial_hex, 16).expect("hex"))
        .max()
        .expect("leaves");
    let new = loaded
        .issue(
            "new",
            LeafSpec::Citizen(CitizenRequest::new("陳新人", "4321")),
        )
        .expect("issue")
        .clone();
    assert!(u64::from_str_radix(&new.serial_hex, 16).expect("hex") > max);
    loaded.write_to(&dir).expect("rewrite");
    let again = DevPki::load_from(&dir).expect("reload");
    assert!(again.find("citizens/new").is_some());
    let id = again
        .trust_store()
        .expect("store")
        .identify(&new.cert_der, IssuerRef::LeafAuthorityKeyId)
        .expect("identify new");
    assert_eq!(id.authority, "MOICA");
    verify(&dir, "citizens/new", Usage::Client).expect("new leaf verifies");
}

#[test]
fn trust_store_from_files_identifies_presented_chains() {
    let tmp = tempfile::tempdir().expect("tempdir");
    DevPki::init_demo(tmp.path(), Profile::embedded()).expect("demo");
    let profile = Profile::load(&tmp.path().join("profile.toml")).expect("profile");
    let mut store = TrustStore::new(profile);
    for (authority, file) in [
        ("GRCA", "grca.crt"),
        ("GCA", "gca.crt"),
        ("MOICA", "moica.crt"),
    ] {
        assert_eq!(
            store
                .bind_pem_file(authority, &tmp.path().join(file))
                .expect("bind"),
            1
        );
    }
    let chain = certs(&read(tmp.path(), "agencies/household.crt"));
    let id = store
        .identify_presented(&chain[0], &chain[1..])
        .expect("identify");
    assert_eq!(id.authority, "GCA");
    assert!(matches!(
        id.kind,
        tongdao_pki::IdentityKind::Agency { unit: Some(ref u), .. } if u == "測試戶政司"
    ));
}

#[test]
fn revocation_state_machine_and_crl_reader() {
    let mut pki = DevPki::demo(Profile::embedded()).expect("demo");
    let valid = pki
        .find("citizens/valid")
        .expect("valid")
        .serial_hex
        .clone();
    let agency = pki
        .find("agencies/taipei-tax")
        .expect("agency")
        .serial_hex
        .clone();

    let moica = CrlIndex::from_pem(&pki.moica().crl_pem().expect("crl")).expect("index");
    assert_eq!(moica.issuer_key_id(), Some(pki.moica().key_id()));
    assert!(
        moica.issuer_dn().contains("內政部憑證管理中心"),
        "{}",
        moica.issuer_dn()
    );
    assert_eq!(moica.len(), 2);
    assert_eq!(
        moica.lookup(&pki.find("citizens/suspended").expect("s").serial_hex),
        Some(RevocationStatus::Suspended)
    );
    assert_eq!(
        moica.lookup(&pki.find("citizens/revoked").expect("r").serial_hex),
        Some(RevocationStatus::Revoked(RevocationReason::KeyCompromise))
    );
    assert_eq!(moica.lookup(&valid), None);
    assert!(moica.next_update().expect("next") > moica.this_update() + time::Duration::days(6));
    let gca_crl = CrlIndex::from_pem(&pki.gca().crl_pem().expect("crl")).expect("index");
    assert!(gca_crl.is_empty());

    // suspend -> resume -> suspend -> revoke; revoked is final.
    let crl_before = pki.moica().crl_number();
    pki.suspend(&valid).expect("suspend");
    pki.suspend(&valid).expect("suspend twice is harmless");
    assert_eq!(pki.status(&valid), Some(RevocationStatus::Suspended));
    pki.resume(&valid).expect("resume");
    assert_eq!(pki.status(&valid), None);
    assert!(matches!(pki.resume(&valid), Err(PkiError::NotSuspended(_))));
    pki.suspend("citizens/valid").expect("suspend by path");
    pki.revoke(&valid, RevocationReason::AffiliationChanged)
        .expect("revoke a held cert");
    assert!(matches!(
        pki.revoke(&valid, RevocationReason::Superseded),
        Err(PkiError::AlreadyRevoked(_))
    ));
    assert!(matches!(
        pki.suspend(&valid),
        Err(PkiError::AlreadyRevoked(_))
    ));
    assert!(matches!(pki.resume(&valid), Err(PkiError::NotSuspended(_))));
    assert!(pki.moica().crl_number() > crl_before);

    // Serials are checked against what the CA issued.
    assert!(matches!(
        pki.revoke("ffff", RevocationReason::Unspecified),
        Err(PkiError::UnknownCertificate(_))
    ));
    let moica = pki.ca_mut("MOICA").expect("moica");
    assert!(matches!(
        moica.revoke(&agency, RevocationReason::Unspecified),
        Err(PkiError::UnknownCertificate(_))
    ));
    pki.revoke(&agency, RevocationReason::Unspecified)
        .expect("GCA revokes its own");

    let moica = CrlIndex::from_der(&pki.moica().crl_der().expect("crl")).expect("index");
    assert_eq!(
        moica.lookup(&valid),
        Some(RevocationStatus::Revoked(
            RevocationReason::AffiliationChanged
        ))
    );
    // RFC 5280: "unspecified" is written without a reason code, and still reads as revoked.
    let gca = CrlIndex::from_der(&pki.gca().crl_der().expect("crl")).expect("index");
    assert_eq!(
        gca.lookup(&agency.to_uppercase()),
        Some(RevocationStatus::Revoked(RevocationReason::Unspecified))
    );
}

#[test]
fn load_rejects_tampered_directories() {
    let tmp = tempfile::tempdir().expect("tempdir");
    DevPki::init_demo(tmp.path(), Profile::embedded()).expect("demo");
    let state = read(tmp.path(), STATE_FILE);

    // A key that does not belong to its certificate.
    fs::copy(tmp.path().join("moica.key"), tmp.path().join("gca.key")).expect("copy");
    assert!(matches!(
        DevPki::load_from(tmp.path()),
        Err(PkiError::State(_))
    ));

    let tmp = tempfile::tempdir().expect("tempdir");
    DevPki::init_demo(tmp.path(), Profile::embedded()).expect("demo");
    let escaped = state.replace("key = \"gca.key\"", "key = \"../../etc/passwd\"");
    assert_ne!(escaped, state);
    fs::write(tmp.path().join(STATE_FILE), escaped).expect("write");
    assert!(matches!(
        DevPki::load_from(tmp.path()),
        Err(PkiError::State(_))
    ));

    fs::write(
        tmp.path().join(STATE_FILE),
        format!("surprise = 1\n{state}"),
    )
    .expect("write");
    assert!(matches!(
        DevPki::load_from(tmp.path()),
        Err(PkiError::State(_))
    ));
    assert!(matches!(
        DevPki::load_from(&tmp.path().join("nowhere")),
        Err(PkiError::Io { .. })
    ));
}

#[derive(Clone, Copy)]
enum Usage {
    Client,
    Server,
}

/// Verifies `<path>.crt` (leaf + CA) up to grca.crt with all three CRLs, as the broker will.
fn verify(dir: &Path, path: &str, usage: Usage) -> Result<(), webpki::Error> {
    let root = certs(&read(dir, "grca.crt")).remove(0);
    let anchors = [webpki::anchor_from_trusted_cert(&root)
        .expect("anchor")
        .to_owned()];
    let chain = certs(&read(dir, &format!("{path}.crt")));
    let crls: Vec<webpki::CertRevocationList<'static>> = ["grca.crl", "gca.crl", "moica.crl"]
        .iter()
        .map(|f| {
            let der = CertificateRevocationListDer::from_pem_slice(read(dir, f).as_bytes())
                .expect("crl pem");
            webpki::OwnedCertRevocationList::from_der(&der)
                .expect("crl")
                .into()
        })
        .collect();
    let crl_refs: Vec<_> = crls.iter().collect();
    let revocation = webpki::RevocationOptionsBuilder::new(&crl_refs)
        .expect("crls")
        .build();
    let ee = webpki::EndEntityCert::try_from(&chain[0]).expect("ee");
    let usage = match usage {
        Usage::Client => webpki::KeyUsage::client_auth(),
        Usage::Server => webpki::KeyUsage::server_auth(),
    };
    ee.verify_for_usage(
        webpki::ALL_VERIFICATION_ALGS,
        &anchors,
        &chain[1..],
        UnixTime::now(),
        usage,
        Some(revocation),
        None,
    )
    .map(|_| ())
}

#[test]
fn webpki_accepts_the_chains_and_honours_the_crls() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    DevPki::init_demo(dir, Profile::embedded()).expect("demo");
    verify(dir, "broker", Usage::Server).expect("broker as server");
    verify(dir, "broker", Usage::Client).expect("broker as client");
    for a in DEMO_ADAPTERS {
        verify(dir, &format!("adapters/{}", a.name), Usage::Server).expect("adapter");
    }
    for path in [
        "agencies/taipei-tax",
        "agencies/household",
        "agencies/unregistered",
        "citizens/valid",
    ] {
        verify(dir, path, Usage::Client).unwrap_or_else(|e| panic!("{path}: {e:?}"));
    }
    assert!(matches!(
        verify(dir, "citizens/suspended", Usage::Client),
        Err(webpki::Error::CertRevoked)
    ));
    assert!(matches!(
        verify(dir, "citizens/revoked", Usage::Client),
        Err(webpki::Error::CertRevoked)
    ));
    assert!(matches!(
        verify(dir, "agencies/expired", Usage::Client),
        Err(webpki::Error::CertExpired { .. })
    ));
    // Client certificates are not server certificates.
    assert!(verify(dir, "agencies/taipei-tax", Usage::Server).is_err());

    // Resume the suspended citizen (復用) and the handshake would succeed again.
    let mut pki = DevPki::load_from(dir).expect("load");
    pki.resume("citizens/suspended").expect("resume");
    pki.write_to(dir).expect("write");
    verify(dir, "citizens/suspended", Usage::Client).expect("resumed");
}
