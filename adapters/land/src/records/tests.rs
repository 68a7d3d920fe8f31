use super::*;

#[test]
fn roc_months_must_be_real() {
    assert_eq!(
        roc_month("10203").map(|d| (d.year, d.month, d.day)),
        Some((102, 3, 1))
    );
    for bad in ["10213", "00001", "1020", "102031", "1a203", ""] {
        assert_eq!(roc_month(bad), None, "{bad}");
    }
}

#[test]
fn the_shipped_mapping_resolves() {
    LandMapping::shipped().expect("shipped mapping");
    let problems = LandMapping::parse(
        "custom.toml",
        "[records.description]\nmessage = \"tongdao.land.v1.Holding\"\n\
         [records.description.fields]\ncounty = { column = \"X\" }\n",
    )
    .expect_err("incomplete");
    assert!(
        problems.iter().any(|p| p.contains("[records.ownership]")),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.contains("must map onto tongdao.land.v1.ParcelDescription")),
        "{problems:?}"
    );
}

#[test]
fn owner_kinds_follow_the_id_shape() {
    let person = NationalId::with_checksum('A', 1, 2345678)
        .expect("valid")
        .to_string();
    assert_eq!(owner_kind(&person), Ok(OwnerKind::NaturalPerson));
    let mut broken = person.as_bytes().to_vec();
    broken[9] = if broken[9] == b'0' { b'1' } else { b'0' };
    let broken = String::from_utf8(broken).expect("ascii");
    assert_eq!(owner_kind(&broken), Err(Problem::IdChecksum));
    assert_eq!(owner_kind("22099131"), Ok(OwnerKind::JuristicPerson));
    assert_eq!(owner_kind("22099132"), Err(Problem::IdChecksum));
    assert_eq!(owner_kind(""), Ok(OwnerKind::PublicOwner));
    assert_eq!(owner_kind("AB12345678"), Ok(OwnerKind::ForeignOwner));
    assert_eq!(owner_kind("A3"), Err(Problem::IdShape));
}

#[test]
fn shares_must_add_up_to_one() {
    assert!(shares_make_one([(1, 2), (1, 3), (1, 6)].into_iter()));
    assert!(!shares_make_one([(1, 2), (1, 3)].into_iter()));
    assert!(!shares_make_one(std::iter::empty()));
    assert!(shares_make_one([(1, 1)].into_iter()));
    assert!(!shares_make_one(
        [(1, u64::MAX), (1, u64::MAX - 1), (1, u64::MAX - 2)].into_iter()
    ));
}
