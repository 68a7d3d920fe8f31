use super::*;

use crate::test_support::shipped;

#[test]
fn shipped_services_resolve_to_schema_methods() {
    let policy = shipped();
    let services = policy.services();
    let parcel = services
        .get("/tongdao.land.v1.LandRegistry/GetParcel")
        .expect("registered");
    assert_eq!(parcel.provider, "301000200A");
    assert_eq!(parcel.output().full_name(), "tongdao.land.v1.Parcel");
    assert!(parcel.carries_personal_data());
    assert_eq!(
        parcel.classes,
        [
            DataClass::C001,
            DataClass::C003,
            DataClass::C032,
            DataClass::C081
        ]
    );
    // Every domain method in the schemas is registered.
    let methods: usize = descriptors::domain_services()
        .map(|s| s.methods().len())
        .sum();
    assert_eq!(services.entries().len(), methods);
}
