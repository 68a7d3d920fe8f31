use super::*;

#[test]
fn agency_keys_distinguish_length_and_content() {
    assert_eq!(AgencyKey::new("307010000D"), AgencyKey::new("307010000D"));
    assert_ne!(AgencyKey::new("307010000D"), AgencyKey::new("307010000E"));
    assert_ne!(AgencyKey::new("A"), AgencyKey::new("A\0"));
    assert!(AgencyKey::new("0123456789abcdef").is_none());
}

#[test]
fn purpose_sets() {
    let mut set = PurposeSet::default();
    set.insert(0);
    set.insert(63);
    set.insert(64);
    set.insert(255);
    set.insert(256);
    assert!(set.contains(0) && set.contains(63) && set.contains(64) && set.contains(255));
    assert!(!set.contains(1) && !set.contains(256) && !set.contains(9999));
    assert_eq!(set.iter().collect::<Vec<_>>(), [0, 63, 64, 255]);
}

#[test]
fn class_sets_round_trip_in_code_order() {
    let classes = [
        DataClass::C111,
        DataClass::C001,
        DataClass::C116,
        DataClass::C081,
    ];
    assert_eq!(
        ClassSet::from_classes(&classes).to_vec(),
        [
            DataClass::C001,
            DataClass::C081,
            DataClass::C111,
            DataClass::C116
        ]
    );
}

#[test]
fn fx_hash_depends_on_every_byte() {
    let hash = |bytes: &[u8]| {
        let mut hasher = FxHasher::default();
        hasher.write(bytes);
        hasher.finish()
    };
    assert_ne!(hash(b"/a.B/C"), hash(b"/a.B/D"));
    assert_ne!(hash(b"12345678x"), hash(b"12345678y"));
}
