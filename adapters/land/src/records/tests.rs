use super::*;

#[test]
fn roc_dates_must_be_real() {
    assert_eq!(roc_date("1120229"), None, "2023 is not a leap year");
    assert_eq!(
        roc_date("1130229"),
        Some(RocDate {
            year: 113,
            month: 2,
            day: 29
        })
    );
    assert_eq!(
        roc_date("760221"),
        Some(RocDate {
            year: 76,
            month: 2,
            day: 21
        })
    );
    for bad in [
        "", "0000101", "1121301", "1120100", "112011", "11201011", "1a20101", "+120101",
    ] {
        assert_eq!(roc_date(bad), None, "{bad}");
    }
    assert_eq!(
        roc_month("10203").map(|d| (d.year, d.month, d.day)),
        Some((102, 3, 1))
    );
    assert_eq!(roc_month("10213"), None);
}

#[test]
fn shares() {
    assert_eq!(share("1/2"), Some((1, 2)));
    assert_eq!(share("全部"), Some((1, 1)));
    assert_eq!(share("10000/10000"), Some((10000, 10000)));
    for bad in [
        "3/0", "0/4", "5/4", "1/", "/2", "1/2/3", "a/b", " 1/2", "-1/2", "1 / 2",
    ] {
        assert_eq!(share(bad), None, "{bad}");
    }
}

#[test]
fn areas_are_exact() {
    assert_eq!(area_cm2("123.45"), Some(1_234_500));
    assert_eq!(area_cm2("0.01"), Some(100));
    assert_eq!(area_cm2("80"), Some(800_000));
    assert_eq!(area_cm2("2.5"), Some(25_000));
    for bad in [
        "abc", "", "0", "0.00", "1.234", "1.", ".5", "-1", "1,000", "1e3",
    ] {
        assert_eq!(area_cm2(bad), None, "{bad}");
    }
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
