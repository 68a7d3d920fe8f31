//! Interop with OpenSSL: certificates whose Subject Directory Attributes were encoded by
//! `openssl x509 -req` (generic `ASN1:SEQUENCE` syntax) and signed with the dev CAs' keys must
//! identify like our own; OpenSSL must verify our chains and honour our CRLs.
//!
//! Skipped, with a note, when the `openssl` binary is absent.

use std::path::Path;
use std::process::Command;

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use tongdao_pki::{
    CertIdentity, DevPki, IdentityError, IdentityKind, IssuerRef, PrincipalKind, Profile,
};

fn openssl_present() -> bool {
    let ok = Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        println!("note: openssl not found; skipping OpenSSL interop test");
    }
    ok
}

fn run(dir: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// One SDA attribute in openssl's generic syntax: `(attribute OID, "OID:..." | "PRINTABLESTRING:...")`.
type Attr<'a> = (&'a str, &'a str);

/// Makes a key and CSR with `subject`, signs it with `<ca>.crt`/`<ca>.key` adding `attrs` as
/// Subject Directory Attributes (none: no extension), returns the leaf DER.
fn mint(dir: &Path, ca: &str, name: &str, subject: &str, attrs: Option<&[Attr<'_>]>) -> Vec<u8> {
    let key = format!("{name}.key");
    let csr = format!("{name}.csr");
    let crt = format!("{name}.crt");
    let (ok, out) = run(
        dir,
        &[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &key,
            "-subj",
            subject,
            "-utf8",
            "-out",
            &csr,
        ],
    );
    assert!(ok, "req: {out}");

    let mut ext = String::from(
        "[v3]\nbasicConstraints = critical,CA:FALSE\nkeyUsage = critical,digitalSignature\n\
         extendedKeyUsage = clientAuth\nsubjectKeyIdentifier = hash\n\
         authorityKeyIdentifier = keyid\ncertificatePolicies = 2.16.886.101.0.3.3\n",
    );
    if let Some(attrs) = attrs {
        ext.push_str("2.5.29.9 = ASN1:SEQUENCE:sda\n[sda]\n");
        for i in 0..attrs.len() {
            ext.push_str(&format!("attr{i} = SEQUENCE:attr{i}\n"));
        }
        for (i, (oid, value)) in attrs.iter().enumerate() {
            ext.push_str(&format!(
                "[attr{i}]\ntype = OID:{oid}\nvalues = SET:values{i}\n[values{i}]\nvalue = {value}\n"
            ));
        }
    }
    let extfile = format!("{name}.cnf");
    std::fs::write(dir.join(&extfile), ext).expect("extfile");
    let ca_crt = format!("{ca}.crt");
    let ca_key = format!("{ca}.key");
    let (ok, out) = run(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &ca_crt,
            "-CAkey",
            &ca_key,
            "-set_serial",
            "0x7a01",
            "-days",
            "30",
            "-extfile",
            &extfile,
            "-extensions",
            "v3",
            "-out",
            &crt,
        ],
    );
    assert!(ok, "x509 -req: {out}");
    let pem = std::fs::read(dir.join(&crt)).expect("crt");
    CertificateDer::from_pem_slice(&pem).expect("pem").to_vec()
}

const CLASS: &str = "2.16.886.1.100.2.1";
const LAST4: &str = "2.16.886.1.100.2.51";
const GOV: &str = "2.16.886.1.100.2.102";
const AGENCY: &str = "OID:2.16.886.1.100.3.2.1.1";
const CITIZEN: &str = "OID:2.16.886.1.100.3.1.1";

#[test]
fn openssl_minted_certificates_identify() {
    if !openssl_present() {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let pki = DevPki::new(Profile::embedded()).expect("pki");
    pki.write_to(dir).expect("write");
    let store = pki.trust_store().expect("store");
    let identify = |der: &[u8]| -> Result<CertIdentity, IdentityError> {
        store.identify(der, IssuerRef::LeafAuthorityKeyId)
    };

    // Agency, government OID as an OBJECT IDENTIFIER.
    let gov_oid = "2.16.886.101.20003.20004.99002";
    let gov_value = format!("OID:{gov_oid}");
    let agency = mint(
        dir,
        "gca",
        "agency",
        "/C=TW/O=財政部通道測試局/CN=財政部通道測試局",
        Some(&[(CLASS, AGENCY), (GOV, &gov_value)]),
    );
    let id = identify(&agency).expect("agency");
    assert_eq!(
        id.kind,
        IdentityKind::Agency {
            government_oid: gov_oid.into(),
            unit: None
        }
    );
    assert_eq!(id.authority, "GCA");
    assert_eq!(id.serial_hex, "7a01");
    assert_eq!(id.subject_cn.as_deref(), Some("財政部通道測試局"));
    let by_cert = store
        .identify(&agency, IssuerRef::Certificate(pki.gca().cert_der()))
        .expect("by issuer cert");
    assert_eq!(by_cert, id);
    // OpenSSL verifies its own leaf under our root, with our CRLs.
    let (ok, out) = run(
        dir,
        &[
            "verify",
            "-CAfile",
            "grca.crt",
            "-untrusted",
            "gca.crt",
            "-crl_check_all",
            "-CRLfile",
            "grca.crl",
            "-CRLfile",
            "gca.crl",
            "agency.crt",
        ],
    );
    assert!(ok, "openssl verify: {out}");

    // Government OID as a PrintableString works too.
    let printable = format!("PRINTABLESTRING:{gov_oid}");
    let agency2 = mint(
        dir,
        "gca",
        "agency2",
        "/C=TW/CN=x",
        Some(&[(CLASS, AGENCY), (GOV, &printable)]),
    );
    assert!(matches!(
        identify(&agency2).expect("agency2").kind,
        IdentityKind::Agency { .. }
    ));

    // Citizen with last-4.
    let citizen = mint(
        dir,
        "moica",
        "citizen",
        "/C=TW/CN=王小明",
        Some(&[(CLASS, CITIZEN), (LAST4, "PRINTABLESTRING:6789")]),
    );
    assert_eq!(
        identify(&citizen).expect("citizen").kind,
        IdentityKind::Citizen {
            name: "王小明".into(),
            national_id_last4: "6789".into()
        }
    );
    let utf8 = mint(
        dir,
        "moica",
        "citizen2",
        "/C=TW/CN=李小華",
        Some(&[(CLASS, CITIZEN), (LAST4, "UTF8String:0244")]),
    );
    assert!(matches!(
        identify(&utf8).expect("utf8 last4").kind,
        IdentityKind::Citizen { .. }
    ));

    // Error cases.
    let bad_last4 = mint(
        dir,
        "moica",
        "bad4",
        "/C=TW/CN=甲",
        Some(&[(CLASS, CITIZEN), (LAST4, "PRINTABLESTRING:67A9")]),
    );
    assert_eq!(
        identify(&bad_last4),
        Err(IdentityError::MalformedNationalIdLast4)
    );
    let no_last4 = mint(
        dir,
        "moica",
        "no4",
        "/C=TW/CN=乙",
        Some(&[(CLASS, CITIZEN)]),
    );
    assert_eq!(
        identify(&no_last4),
        Err(IdentityError::MissingAttribute {
            kind: PrincipalKind::Citizen,
            attribute: "national_id_last4"
        })
    );
    let wrong_ca = mint(
        dir,
        "moica",
        "wrongca",
        "/C=TW/CN=丙",
        Some(&[(CLASS, AGENCY), (GOV, &gov_value)]),
    );
    assert_eq!(
        identify(&wrong_ca),
        Err(IdentityError::ClassNotIssuable {
            authority: "MOICA".into(),
            kind: PrincipalKind::Agency
        })
    );
    let no_sda = mint(dir, "gca", "nosda", "/C=TW/CN=丁", None);
    assert_eq!(
        identify(&no_sda),
        Err(IdentityError::NoSubjectDirectoryAttributes)
    );
    let company = mint(
        dir,
        "gca",
        "company",
        "/C=TW/CN=戊",
        Some(&[(CLASS, "OID:2.16.886.1.100.3.2.2.1.1")]),
    );
    assert_eq!(
        identify(&company),
        Err(IdentityError::UnknownSubjectClass {
            value: "2.16.886.1.100.3.2.2.1.1".into()
        })
    );
    let no_gov = mint(dir, "gca", "nogov", "/C=TW/CN=己", Some(&[(CLASS, AGENCY)]));
    assert_eq!(
        identify(&no_gov),
        Err(IdentityError::MissingAttribute {
            kind: PrincipalKind::Agency,
            attribute: "government_oid"
        })
    );
    let bad_gov = mint(
        dir,
        "gca",
        "badgov",
        "/C=TW/CN=庚",
        Some(&[(CLASS, AGENCY), (GOV, "UTF8String:財政部")]),
    );
    assert_eq!(
        identify(&bad_gov),
        Err(IdentityError::MalformedGovernmentOid)
    );
    let class_as_int = mint(
        dir,
        "gca",
        "intclass",
        "/C=TW/CN=辛",
        Some(&[(CLASS, "INTEGER:5")]),
    );
    assert!(matches!(
        identify(&class_as_int),
        Err(IdentityError::MalformedSubjectDirectoryAttributes(_))
    ));
}

#[test]
fn openssl_verifies_our_chains_and_honours_our_crls() {
    if !openssl_present() {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    DevPki::init_demo(dir, Profile::embedded()).expect("demo");
    let verify = |leaf: &str, ca: &str| {
        let ca_crt = format!("{ca}.crt");
        let ca_crl = format!("{ca}.crl");
        run(
            dir,
            &[
                "verify",
                "-CAfile",
                "grca.crt",
                "-untrusted",
                &ca_crt,
                "-crl_check_all",
                "-CRLfile",
                "grca.crl",
                "-CRLfile",
                &ca_crl,
                leaf,
            ],
        )
    };
    for (leaf, ca) in [
        ("broker.crt", "gca"),
        ("agencies/taipei-tax.crt", "gca"),
        ("agencies/household.crt", "gca"),
        ("citizens/valid.crt", "moica"),
    ] {
        let (ok, out) = verify(leaf, ca);
        assert!(ok, "{leaf}: {out}");
    }
    for leaf in ["citizens/suspended.crt", "citizens/revoked.crt"] {
        let (ok, out) = verify(leaf, "moica");
        assert!(!ok && out.contains("revoked"), "{leaf}: {out}");
    }
    let (ok, out) = verify("agencies/expired.crt", "gca");
    assert!(!ok && out.contains("expired"), "{out}");
    // OpenSSL reads the suspension's reason code as certificateHold.
    let (ok, out) = run(dir, &["crl", "-in", "moica.crl", "-noout", "-text"]);
    assert!(
        ok && out.contains("Certificate Hold") && out.contains("Key Compromise"),
        "{out}"
    );
}
