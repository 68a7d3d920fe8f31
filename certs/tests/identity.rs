//! Identity extraction against certificates minted by the dev PKI.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::OnceLock;

use rustls_pki_types::CertificateDer;
use tongdao_pki::demo::{DEMO_AGENCIES, DEMO_CITIZENS};
use tongdao_pki::sda::{self, AttributeValue, SdaAttribute};
use tongdao_pki::{
    AgencyRequest, CitizenRequest, DevPki, IdentityError, IdentityKind, IssuerRef, LeafSpec, Oid,
    PrincipalKind, Profile, RawRequest, ServerRequest, TrustError, TrustStore, Validity,
};

fn oid(s: &str) -> Oid {
    Oid::parse(s).expect("oid")
}

/// One demo PKI for the whole file: key generation is cheap, but not free.
fn demo() -> &'static DevPki {
    static PKI: OnceLock<DevPki> = OnceLock::new();
    PKI.get_or_init(|| DevPki::demo(Profile::embedded()).expect("demo"))
}

fn store() -> TrustStore {
    demo().trust_store().expect("trust store")
}

fn leaf<'a>(pki: &'a DevPki, path: &str) -> &'a CertificateDer<'static> {
    &pki.find(path)
        .unwrap_or_else(|| panic!("{path} missing"))
        .cert_der
}

fn identify(
    pki: &DevPki,
    store: &TrustStore,
    path: &str,
) -> Result<tongdao_pki::CertIdentity, IdentityError> {
    store.identify(leaf(pki, path), IssuerRef::LeafAuthorityKeyId)
}

/// A fresh PKI with one raw leaf issued by `authority` carrying `sda_der`.
fn raw(
    authority: &str,
    sda_der: Option<Vec<u8>>,
    ou: Option<&str>,
) -> Result<tongdao_pki::CertIdentity, IdentityError> {
    let mut pki = DevPki::new(Profile::embedded()).expect("pki");
    let cert = pki
        .issue_by(
            authority,
            "raw",
            LeafSpec::Raw(RawRequest {
                common_name: "Raw Test".into(),
                organizational_unit: ou.map(Into::into),
                sda_der,
                server: false,
                validity: Validity::default(),
            }),
        )
        .expect("issue")
        .cert_der
        .clone();
    pki.trust_store()
        .expect("store")
        .identify(&cert, IssuerRef::LeafAuthorityKeyId)
}

fn attrs(list: &[(&str, AttributeValue)]) -> Vec<u8> {
    let list: Vec<_> = list
        .iter()
        .map(|(o, v)| SdaAttribute::single(oid(o), v.clone()))
        .collect();
    sda::encode(&list).expect("encode")
}

const CLASS: &str = "2.16.886.1.100.2.1";
const LAST4: &str = "2.16.886.1.100.2.51";
const GOV: &str = "2.16.886.1.100.2.102";

#[test]
fn demo_agencies_identify() {
    let store = store();
    for agency in DEMO_AGENCIES {
        let id = identify(demo(), &store, &format!("agencies/{}", agency.name)).expect("identify");
        assert_eq!(id.authority, "GCA");
        assert_eq!(
            id.kind,
            IdentityKind::Agency {
                government_oid: agency.government_oid.into(),
                unit: agency.unit.map(Into::into),
            },
            "{}",
            agency.name
        );
        assert!(
            id.issuer_dn.contains("OU=政府憑證管理中心"),
            "{}",
            id.issuer_dn
        );
        assert_eq!(
            id.subject_cn.as_deref(),
            Some(agency.unit.unwrap_or(agency.agency_name))
        );
        assert_eq!(
            id.serial_hex,
            demo()
                .find(&format!("agencies/{}", agency.name))
                .expect("leaf")
                .serial_hex
        );
        // identify does not judge validity; it reports it.
        assert_eq!(
            id.not_after < time::OffsetDateTime::now_utc(),
            agency.expired
        );
    }
}

#[test]
fn demo_citizens_and_servers_identify() {
    let store = store();
    for citizen in DEMO_CITIZENS {
        let id = identify(demo(), &store, &format!("citizens/{}", citizen.name)).expect("identify");
        assert_eq!(id.authority, "MOICA");
        assert_eq!(
            id.kind,
            IdentityKind::Citizen {
                name: citizen.person.into(),
                national_id_last4: citizen.last4().into(),
            }
        );
        assert!(
            !id.to_string().contains(citizen.last4()),
            "Display leaks the last-4"
        );
    }
    let broker = identify(demo(), &store, "broker").expect("broker");
    assert_eq!(
        broker.kind,
        IdentityKind::Server {
            government_oid: Some("2.16.886.101.20003.20069".into()),
            dns_names: vec!["broker.tongdao.test".into(), "localhost".into()],
            ip_addresses: vec![IpAddr::V4(Ipv4Addr::LOCALHOST)],
        }
    );
    let tax = identify(demo(), &store, "adapters/tax").expect("tax adapter");
    assert_eq!(tax.kind.principal_kind(), PrincipalKind::Server);
    assert_eq!(tax.subject_cn.as_deref(), Some("tax.adapter.tongdao.test"));
}

#[test]
fn every_issuer_ref_form_agrees() {
    let pki = demo();
    let store = store();
    let cert = leaf(pki, "agencies/taipei-tax");
    let by_aki = store
        .identify(cert, IssuerRef::LeafAuthorityKeyId)
        .expect("aki");
    let by_cert = store
        .identify(cert, IssuerRef::Certificate(pki.gca().cert_der()))
        .expect("cert");
    let by_key = store
        .identify(cert, IssuerRef::KeyId(pki.gca().key_id()))
        .expect("key id");
    assert_eq!(by_aki, by_cert);
    assert_eq!(by_aki, by_key);
    let presented = [pki.gca().cert_der().clone()];
    assert_eq!(
        store
            .identify_presented(cert, &presented)
            .expect("presented"),
        by_aki
    );
    assert_eq!(store.identify_presented(cert, &[]).expect("anchor"), by_aki);
    // Unrelated intermediates are skipped, not trusted.
    let noise = [
        pki.moica().cert_der().clone(),
        CertificateDer::from(vec![1, 2, 3]),
    ];
    assert_eq!(
        store.identify_presented(cert, &noise).expect("noise"),
        by_aki
    );

    let wrong_cert = store.identify(cert, IssuerRef::Certificate(pki.moica().cert_der()));
    assert!(
        matches!(wrong_cert, Err(IdentityError::IssuerMismatch(_))),
        "{wrong_cert:?}"
    );
    let wrong_key = store.identify(cert, IssuerRef::KeyId(pki.moica().key_id()));
    assert!(
        matches!(wrong_key, Err(IdentityError::IssuerMismatch(_))),
        "{wrong_key:?}"
    );
    let not_cert = store.identify(cert, IssuerRef::Certificate(&[0x30, 0x00]));
    assert!(matches!(
        not_cert,
        Err(IdentityError::UnparseableCertificate {
            which: "issuer",
            ..
        })
    ));
}

#[test]
fn strangers_are_unknown_issuers_even_with_identical_dns() {
    let store = store();
    let mut stranger = DevPki::stranger(Profile::embedded()).expect("stranger");
    let request = AgencyRequest::new("陌生機關", oid("2.16.886.101.20003.20004.99001"));
    let cert = stranger
        .issue("alien", LeafSpec::Agency(request.clone()))
        .expect("issue")
        .cert_der
        .clone();
    let err = store
        .identify(&cert, IssuerRef::LeafAuthorityKeyId)
        .expect_err("stranger");
    assert!(
        matches!(err, IdentityError::UnknownIssuer { .. }),
        "{err:?}"
    );
    assert_eq!(err.code(), "UNKNOWN_ISSUER");

    // Same CNs, OUs, everything: like two MOICA generations. Only the key id tells them apart.
    let mut twin = DevPki::new(Profile::embedded()).expect("twin");
    let cert = twin
        .issue("twin", LeafSpec::Agency(request))
        .expect("issue")
        .cert_der
        .clone();
    let err = store
        .identify(&cert, IssuerRef::LeafAuthorityKeyId)
        .expect_err("twin");
    assert!(
        matches!(err, IdentityError::UnknownIssuer { .. }),
        "{err:?}"
    );
    let err = store
        .identify(&cert, IssuerRef::Certificate(twin.gca().cert_der()))
        .expect_err("twin with its own CA cert");
    assert!(
        matches!(err, IdentityError::UnknownIssuer { .. }),
        "{err:?}"
    );

    // Binding both generations under one authority makes both known.
    let mut both = store;
    both.bind_der("GCA", twin.gca().cert_der())
        .expect("bind second generation");
    assert!(both.identify(&cert, IssuerRef::LeafAuthorityKeyId).is_ok());
}

#[test]
fn binding_checks_the_ca_certificate() {
    let pki = demo();
    let mut store = TrustStore::new(Profile::embedded());
    assert!(matches!(
        store.bind_der("XCA", pki.gca().cert_der()),
        Err(TrustError::UnknownAuthority(_))
    ));
    assert!(matches!(
        store.bind_der("MOICA", pki.gca().cert_der()),
        Err(TrustError::OuMismatch { .. })
    ));
    assert!(matches!(
        store.bind_der("GCA", leaf(pki, "broker")),
        Err(TrustError::NotACa { .. })
    ));
    assert!(matches!(
        store.bind_der("GCA", &[0u8; 10]),
        Err(TrustError::Unparseable(_))
    ));
    assert!(matches!(
        store.bind_pem("GCA", "nothing"),
        Err(TrustError::NoCertificate(_))
    ));
    store.bind_der("GCA", pki.gca().cert_der()).expect("bind");
    store
        .bind_der("GCA", pki.gca().cert_der())
        .expect("idempotent");
    assert_eq!(store.cas().len(), 1);
    // GCA's certificate cannot later be claimed by another authority (GRCA has another OU anyway).
    let bundle = format!("{}{}", pki.gca().cert_pem(), pki.gca().cert_pem());
    assert_eq!(store.bind_pem("GCA", &bundle).expect("bundle"), 2);
}

#[test]
fn class_not_issuable_by_this_ca() {
    let mut pki = DevPki::new(Profile::embedded()).expect("pki");
    let agency = AgencyRequest::new("冒名機關", oid("2.16.886.101.20003.20004.99001"));
    let cert = pki
        .issue_by("MOICA", "rogue", LeafSpec::Agency(agency))
        .expect("issue")
        .cert_der
        .clone();
    let citizen = CitizenRequest::new("冒名者", "1234");
    let cert2 = pki
        .issue_by("GCA", "rogue", LeafSpec::Citizen(citizen))
        .expect("issue")
        .cert_der
        .clone();
    let store = pki.trust_store().expect("store");
    let err = store
        .identify(&cert, IssuerRef::LeafAuthorityKeyId)
        .expect_err("agency from MOICA");
    assert_eq!(
        err,
        IdentityError::ClassNotIssuable {
            authority: "MOICA".into(),
            kind: PrincipalKind::Agency
        }
    );
    let err = store
        .identify(&cert2, IssuerRef::LeafAuthorityKeyId)
        .expect_err("citizen from GCA");
    assert_eq!(
        err,
        IdentityError::ClassNotIssuable {
            authority: "GCA".into(),
            kind: PrincipalKind::Citizen
        }
    );
    // And the root issues nothing at all.
    let server = ServerRequest::new(["root-signed.test"]);
    let cert3 = pki
        .issue_by("GRCA", "root-signed", LeafSpec::Server(server))
        .expect("issue")
        .cert_der
        .clone();
    let err = store
        .identify(&cert3, IssuerRef::LeafAuthorityKeyId)
        .expect_err("from root");
    assert!(
        matches!(err, IdentityError::ClassNotIssuable { .. }),
        "{err:?}"
    );
}

#[test]
fn specific_errors_for_bad_attributes() {
    use AttributeValue::{Ia5, Oid as O, Printable, Utf8};
    let citizen = || O(oid("2.16.886.1.100.3.1.1"));
    let agency = || O(oid("2.16.886.1.100.3.2.1.1"));
    let unit = || O(oid("2.16.886.1.100.3.2.1.2"));

    assert_eq!(
        raw("GCA", None, None),
        Err(IdentityError::NoSubjectDirectoryAttributes)
    );
    assert!(matches!(
        raw("GCA", Some(vec![0x30, 0x03, 0x02, 0x01, 0x00]), None),
        Err(IdentityError::MalformedSubjectDirectoryAttributes(_))
    ));
    assert_eq!(
        raw(
            "GCA",
            Some(attrs(&[(GOV, Printable("2.16.886.101".into()))])),
            None
        ),
        Err(IdentityError::MissingSubjectClass)
    );
    assert_eq!(
        raw(
            "GCA",
            Some(attrs(&[(CLASS, O(oid("2.16.886.1.100.3.2.2.1.1")))])),
            None
        ),
        Err(IdentityError::UnknownSubjectClass {
            value: "2.16.886.1.100.3.2.2.1.1".into()
        })
    );
    assert_eq!(
        raw("GCA", Some(attrs(&[(CLASS, Utf8("機關".into()))])), None),
        Err(IdentityError::UnknownSubjectClass {
            value: "機關".into()
        })
    );
    assert_eq!(
        raw("GCA", Some(attrs(&[(CLASS, agency())])), None),
        Err(IdentityError::MissingAttribute {
            kind: PrincipalKind::Agency,
            attribute: "government_oid"
        })
    );
    assert_eq!(
        raw(
            "GCA",
            Some(attrs(&[(CLASS, agency()), (GOV, Utf8("財政部".into()))])),
            None
        ),
        Err(IdentityError::MalformedGovernmentOid)
    );
    assert_eq!(
        raw("MOICA", Some(attrs(&[(CLASS, citizen())])), None),
        Err(IdentityError::MissingAttribute {
            kind: PrincipalKind::Citizen,
            attribute: "national_id_last4"
        })
    );
    for bad in ["678", "67890", "678A", "６７８９", ""] {
        assert_eq!(
            raw(
                "MOICA",
                Some(attrs(&[(CLASS, citizen()), (LAST4, Utf8(bad.into()))])),
                None
            ),
            Err(IdentityError::MalformedNationalIdLast4),
            "{bad:?}"
        );
    }
    // Repeated or multi-valued attributes are ambiguous, hence malformed.
    let twice = attrs(&[
        (CLASS, citizen()),
        (LAST4, Ia5("6789".into())),
        (LAST4, Ia5("1234".into())),
    ]);
    assert!(matches!(
        raw("MOICA", Some(twice), None),
        Err(IdentityError::MalformedSubjectDirectoryAttributes(_))
    ));
    let multi = sda::encode(&[
        SdaAttribute::single(oid(CLASS), citizen()),
        SdaAttribute {
            oid: oid(LAST4),
            values: vec![Ia5("6789".into()), Ia5("1234".into())],
        },
    ])
    .expect("encode");
    assert!(matches!(
        raw("MOICA", Some(multi), None),
        Err(IdentityError::MalformedSubjectDirectoryAttributes(_))
    ));

    // Every accepted string type works, and unrelated attributes are ignored.
    for value in [
        Printable("6789".into()),
        Utf8("6789".into()),
        Ia5("6789".into()),
    ] {
        let sda = attrs(&[
            ("1.2.3.4", O(oid("1.2.3"))),
            (CLASS, citizen()),
            (LAST4, value),
        ]);
        let id = raw("MOICA", Some(sda), None).expect("citizen");
        assert_eq!(
            id.kind,
            IdentityKind::Citizen {
                name: "Raw Test".into(),
                national_id_last4: "6789".into()
            }
        );
    }
    // A government OID given as a string is accepted; a unit takes its name from OU.
    let sda = attrs(&[
        (CLASS, unit()),
        (GOV, Printable("2.16.886.101.20003.20001.99001".into())),
    ]);
    let id = raw("GCA", Some(sda), Some("戶籍科")).expect("unit");
    assert_eq!(
        id.kind,
        IdentityKind::Agency {
            government_oid: "2.16.886.101.20003.20001.99001".into(),
            unit: Some("戶籍科".into())
        }
    );
}

#[test]
fn expired_and_not_yet_valid_certificates_are_minted_and_described() {
    let mut pki = DevPki::new(Profile::embedded()).expect("pki");
    let now = time::OffsetDateTime::now_utc();
    for (name, validity) in [
        ("old", Validity::expired()),
        ("future", Validity::not_yet_valid()),
    ] {
        let request = CitizenRequest::new("時間旅人", "0001").validity(validity);
        let cert = pki
            .issue(name, LeafSpec::Citizen(request))
            .expect("issue")
            .cert_der
            .clone();
        let id = pki
            .trust_store()
            .expect("store")
            .identify(&cert, IssuerRef::LeafAuthorityKeyId)
            .expect("id");
        assert_eq!(id.not_before, validity.not_before);
        assert_eq!(id.not_after, validity.not_after);
        assert!(id.not_after < now || id.not_before > now);
    }
}

#[test]
fn requests_are_validated() {
    let mut pki = DevPki::new(Profile::embedded()).expect("pki");
    assert!(
        pki.issue("x", LeafSpec::Citizen(CitizenRequest::new("甲", "12a4")))
            .is_err()
    );
    assert!(
        pki.issue(
            "x",
            LeafSpec::Server(ServerRequest::new(Vec::<String>::new()))
        )
        .is_err()
    );
    assert!(
        pki.issue("../x", LeafSpec::Citizen(CitizenRequest::new("甲", "1234")))
            .is_err()
    );
    pki.issue("x", LeafSpec::Citizen(CitizenRequest::new("甲", "1234")))
        .expect("first");
    assert!(
        pki.issue("x", LeafSpec::Citizen(CitizenRequest::new("乙", "1234")))
            .is_err()
    );
}

#[test]
fn garbage_truncated_and_corrupted_input_never_panics() {
    let pki = demo();
    let store = store();
    for bytes in [
        &[][..],
        &[0x30][..],
        &[0x30, 0x80][..],
        &[0xff; 64][..],
        b"-----BEGIN CERTIFICATE-----",
    ] {
        for issuer in [
            IssuerRef::LeafAuthorityKeyId,
            IssuerRef::KeyId(&[1, 2]),
            IssuerRef::Certificate(bytes),
        ] {
            assert!(matches!(
                store.identify(bytes, issuer),
                Err(IdentityError::UnparseableCertificate { .. })
            ));
        }
        let _ = store.identify_presented(bytes, &[CertificateDer::from(bytes.to_vec())]);
    }
    for path in ["citizens/valid", "agencies/household", "broker"] {
        let der = leaf(pki, path).to_vec();
        for len in 0..der.len() {
            assert!(
                store
                    .identify(&der[..len], IssuerRef::LeafAuthorityKeyId)
                    .is_err(),
                "{path} cut at {len}"
            );
        }
        let mut longer = der.clone();
        longer.push(0);
        assert!(
            store
                .identify(&longer, IssuerRef::LeafAuthorityKeyId)
                .is_err()
        );
        for i in 0..der.len() {
            for mask in [0x01, 0x80, 0xff] {
                let mut bad = der.clone();
                bad[i] ^= mask;
                let _ = store.identify(&bad, IssuerRef::LeafAuthorityKeyId);
                let _ = store.identify(&bad, IssuerRef::Certificate(&bad));
            }
        }
    }
}
