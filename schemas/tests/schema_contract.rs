//! The contract the broker relies on: every domain request names exactly one data subject,
//! every response leaf carries a data class, health data is §6 special category, every domain
//! service names its provider agency, and every method is unary.

use std::collections::BTreeSet;

use prost_reflect::{MethodDescriptor, ServiceDescriptor};
use tongdao_schemas::descriptors::{
    self, data_class, data_class_code, domain_services, is_special_category, provider_agency,
    response_data_classes, response_leaves, subject_field, subject_kind,
};
use tongdao_schemas::v1::{DataClass, SubjectKind};

const DOMAIN_PACKAGES: [&str; 5] = [
    "tongdao.household.v1",
    "tongdao.land.v1",
    "tongdao.tax.v1",
    "tongdao.health.v1",
    "tongdao.commerce.v1",
];

fn services() -> Vec<ServiceDescriptor> {
    domain_services().collect()
}

fn methods() -> Vec<MethodDescriptor> {
    services().iter().flat_map(|s| s.methods()).collect()
}

#[test]
fn the_five_domain_packages_exist_and_nothing_else_counts_as_domain() {
    let packages: BTreeSet<String> = services()
        .iter()
        .map(|s| s.package_name().to_owned())
        .collect();
    let expected: BTreeSet<String> = DOMAIN_PACKAGES.iter().map(|p| (*p).to_owned()).collect();
    assert_eq!(packages, expected);
    for service in services() {
        assert!(
            service.methods().next().is_some(),
            "{} has no methods",
            service.full_name()
        );
    }
    assert!(!descriptors::is_domain_package("tongdao.v1"));
    assert!(!descriptors::is_domain_package("google.protobuf"));
    assert!(!descriptors::is_domain_package("tongdao.land.v1.extra"));
    assert!(descriptors::is_domain_package("tongdao.land.v2"));
}

#[test]
fn broker_api_is_not_a_domain_service() {
    assert!(
        descriptors::pool()
            .get_service_by_name("tongdao.v1.Directory")
            .is_some()
    );
    assert!(services().iter().all(|s| s.package_name() != "tongdao.v1"));
}

#[test]
fn every_domain_request_has_exactly_one_subject_field() {
    for method in methods() {
        let input = method.input();
        let subjects: Vec<_> = input
            .fields()
            .filter_map(|f| subject_kind(&f).map(|k| (f.name().to_owned(), k)))
            .collect();
        assert_eq!(
            subjects.len(),
            1,
            "{} input {} must mark exactly one subject field, found {subjects:?}",
            method.full_name(),
            input.full_name()
        );
        let (field, kind) = subject_field(&input).expect("subject field");
        assert_eq!(field.name(), subjects[0].0);
        assert_eq!(kind, subjects[0].1);
    }
}

#[test]
fn subject_kinds_match_the_identifiers() {
    let kind_of = |request: &str| {
        let message = descriptors::pool()
            .get_message_by_name(request)
            .unwrap_or_else(|| panic!("{request} exists"));
        subject_field(&message).map(|(f, k)| (f.name().to_owned(), k))
    };
    assert_eq!(
        kind_of("tongdao.household.v1.GetTranscriptRequest"),
        Some(("national_id".to_owned(), SubjectKind::NationalId))
    );
    assert_eq!(
        kind_of("tongdao.land.v1.GetParcelRequest"),
        Some(("key".to_owned(), SubjectKind::LandParcel))
    );
    assert_eq!(
        kind_of("tongdao.commerce.v1.GetCompanyRequest"),
        Some(("business_number".to_owned(), SubjectKind::BusinessNumber))
    );
    for method in methods() {
        let (field, kind) = subject_field(&method.input()).expect("subject field");
        if kind == SubjectKind::NationalId || kind == SubjectKind::BusinessNumber {
            assert!(
                field.kind() == prost_reflect::Kind::String && !field.is_list(),
                "{}: a {kind:?} subject must be a single string",
                field.full_name()
            );
        }
    }
}

#[test]
fn every_response_leaf_has_a_data_class() {
    for method in methods() {
        let output = method.output();
        let leaves = response_leaves(&output);
        assert!(!leaves.is_empty(), "{} has no leaves", output.full_name());
        let unclassified: Vec<_> = leaves
            .iter()
            .filter(|leaf| leaf.class.is_none())
            .map(|leaf| leaf.path.clone())
            .collect();
        assert!(
            unclassified.is_empty(),
            "{} ({}) has leaves without a data class: {unclassified:?}",
            method.full_name(),
            output.full_name()
        );
    }
}

#[test]
fn request_fields_carry_no_data_class() {
    // Classes describe what leaves an agency; on a request they would be meaningless and
    // suggest the request type is also used as a response.
    for method in methods() {
        for field in method.input().fields() {
            assert_eq!(
                data_class(&field),
                None,
                "{} is a request field",
                field.full_name()
            );
        }
    }
}

#[test]
fn health_data_is_special_category_except_identifiers_and_insurance_details() {
    // Identifiers of the insured person (C001, C003) and the administrative insurance details
    // (C088: NHI branch, claimed points) may be released without a §6 basis; everything else a
    // health service returns is a health record (C111).
    let ordinary = [DataClass::C001, DataClass::C003, DataClass::C088];
    let health: Vec<_> = methods()
        .into_iter()
        .filter(|m| m.parent_service().package_name() == "tongdao.health.v1")
        .collect();
    assert!(!health.is_empty());
    for method in health {
        let output = method.output();
        for leaf in response_leaves(&output) {
            let class = leaf.class.expect("classified leaf");
            assert!(
                ordinary.contains(&class) || is_special_category(class),
                "{}: {} is {} but health data must be special category",
                output.full_name(),
                leaf.path,
                data_class_code(class)
            );
        }
        assert!(
            response_data_classes(&output).contains(&DataClass::C111),
            "{} returns no health record",
            output.full_name()
        );
        let special = response_leaves(&output)
            .iter()
            .filter(|leaf| leaf.class.is_some_and(is_special_category))
            .count();
        let ordinary_count = response_leaves(&output).len() - special;
        assert!(
            special > ordinary_count,
            "{}: most of a health record is special category ({special} vs {ordinary_count})",
            output.full_name()
        );
    }
}

#[test]
fn no_other_domain_returns_special_categories() {
    for method in methods() {
        if method.parent_service().package_name() == "tongdao.health.v1" {
            continue;
        }
        let special: Vec<_> = response_data_classes(&method.output())
            .into_iter()
            .filter(|c| is_special_category(*c))
            .collect();
        assert!(
            special.is_empty(),
            "{} returns special categories {special:?}",
            method.full_name()
        );
    }
}

#[test]
fn special_category_is_read_from_the_schema() {
    assert!(is_special_category(DataClass::C111));
    assert!(is_special_category(DataClass::C116));
    assert!(!is_special_category(DataClass::C001));
    assert!(!is_special_category(DataClass::C088));
    assert!(!is_special_category(DataClass::Unspecified));
    assert_eq!(data_class_code(DataClass::C001), "C001");
    assert_eq!(data_class_code(DataClass::C111), "C111");
    assert_eq!(
        descriptors::data_class_name(DataClass::C111).as_deref(),
        Some("健康紀錄")
    );
}

fn is_agency_code(code: &str) -> bool {
    let bytes = code.as_bytes();
    bytes.len() == 10
        && bytes[..9]
            .iter()
            .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
        && bytes[9].is_ascii_uppercase()
}

#[test]
fn every_domain_service_has_a_provider_agency_code() {
    for service in services() {
        let code = provider_agency(&service)
            .unwrap_or_else(|| panic!("{} has no provider agency", service.full_name()));
        assert!(
            is_agency_code(&code),
            "{}: {code:?} is not an agency code",
            service.full_name()
        );
    }
    assert!(!is_agency_code("301000000a"));
    assert!(!is_agency_code("3010000001"));
    assert!(!is_agency_code("301000000"));
}

#[test]
fn household_transcript_classes() {
    let transcript = descriptors::pool()
        .get_message_by_name("tongdao.household.v1.Transcript")
        .expect("Transcript exists");
    let classes = response_data_classes(&transcript);
    for class in [DataClass::C001, DataClass::C003, DataClass::C031] {
        assert!(classes.contains(&class), "missing {class:?} in {classes:?}");
    }
    // The birth date's class reaches the RocDate leaves.
    let leaves = response_leaves(&transcript);
    let year = leaves
        .iter()
        .find(|l| l.path == "members.birth_date.year")
        .expect("members.birth_date.year is a leaf");
    assert_eq!(year.class, Some(DataClass::C011));
}

#[test]
fn every_method_is_unary() {
    for method in methods() {
        assert!(
            !method.is_client_streaming() && !method.is_server_streaming(),
            "{} streams",
            method.full_name()
        );
    }
}

#[test]
fn directors_carry_no_national_id_in_company_registrations() {
    let director = descriptors::pool()
        .get_message_by_name("tongdao.commerce.v1.Director")
        .expect("Director exists");
    for field in director.fields() {
        assert_ne!(
            data_class(&field),
            Some(DataClass::C003),
            "{}",
            field.full_name()
        );
        assert!(!field.name().contains("national_id"));
    }
}

#[test]
fn recursion_is_guarded() {
    // DescriptorProto is recursive (nested_type: repeated DescriptorProto).
    let value = descriptors::pool()
        .get_message_by_name("google.protobuf.DescriptorProto")
        .expect("DescriptorProto is in the pool");
    assert!(response_data_classes(&value).is_empty());
    assert!(!response_leaves(&value).is_empty());
}
