use super::*;
use serde::de::IntoDeserializer as _;
use serde::de::value::{Error as DeError, StrDeserializer};

fn nid(s: &str) -> Result<NationalId, IdError> {
    s.parse()
}

fn ubn(s: &str) -> Result<BusinessNumber, IdError> {
    s.parse()
}

// Hand-computed examples (taiwan.md §2: letter → two digits, weights 1,9,8,7,6,5,4,3,2,1,1).
//   A123456789: A=10 → 1·1 + 0·9 = 1; 1·8+2·7+3·6+4·5+5·4+6·3+7·2+8·1 = 120; +9 = 130 ≡ 0.
//   B223456782: B=11 → 1+9 = 10; 2·8+2·7+3·6+4·5+5·4+6·3+7·2+8·1 = 128; +2 = 140 ≡ 0.
//   I100000003: I=34 → 3+36 = 39; 1·8 = 8; +3 = 50 ≡ 0.
//   A800000014 (resident, male): 1 + 8·8 + 1·1 = 66; +4 = 70 ≡ 0.
//   Z900000008 (resident, female): Z=33 → 3+27 = 30; 9·8 = 72; +8 = 110 ≡ 0.
#[test]
fn hand_computed_national_ids_are_valid() {
    for s in [
        "A123456789",
        "B223456782",
        "I100000003",
        "A800000014",
        "Z900000008",
    ] {
        let id = nid(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        assert_eq!(id.as_str(), s);
        assert_eq!(id.to_string(), s);
    }
}

#[test]
fn national_id_accessors() {
    let citizen = nid("A123456789").expect("valid");
    assert_eq!(citizen.last4(), "6789");
    assert!(!citizen.is_resident());
    assert!(citizen.is_male());
    assert_eq!(citizen.gender_digit(), 1);

    let resident = nid("Z900000008").expect("valid");
    assert!(resident.is_resident());
    assert!(!resident.is_male());
    assert!(nid("A800000014").expect("valid").is_male());
}

#[test]
fn debug_masks_all_but_last4() {
    let id = nid("A123456789").expect("valid");
    let debug = format!("{id:?}");
    assert_eq!(debug, "NationalId(******6789)");
    assert!(!debug.contains("A123"));
}

#[test]
fn with_checksum_matches_hand_computed() {
    let cases = [
        ('A', 1, 2_345_678, "A123456789"),
        ('B', 2, 2_345_678, "B223456782"),
        ('I', 1, 0, "I100000003"),
        ('A', 8, 1, "A800000014"),
        ('Z', 9, 0, "Z900000008"),
    ];
    for (letter, gender, serial, expected) in cases {
        let id = NationalId::with_checksum(letter, gender, serial).expect("in range");
        assert_eq!(id.as_str(), expected);
    }
}

#[test]
fn with_checksum_always_parses_back() {
    for (i, letter) in ('A'..='Z').enumerate() {
        for gender in [1, 2, 8, 9] {
            let serial = (i as u32 * 7_919 + u32::from(gender) * 104_729) % 10_000_000;
            let id = NationalId::with_checksum(letter, gender, serial).expect("in range");
            assert_eq!(nid(id.as_str()), Ok(id.clone()));
        }
    }
}

#[test]
fn with_checksum_rejects_out_of_range_arguments() {
    assert!(matches!(
        NationalId::with_checksum('a', 1, 0),
        Err(IdError::BadLetter { .. })
    ));
    assert!(matches!(
        NationalId::with_checksum('Ａ', 1, 0),
        Err(IdError::BadLetter { .. })
    ));
    assert_eq!(
        NationalId::with_checksum('A', 3, 0),
        Err(IdError::BadGenderDigit)
    );
    assert!(matches!(
        NationalId::with_checksum('A', 1, 10_000_000),
        Err(IdError::WrongLength { .. })
    ));
}

// The scheme's one blind spot: at even-weight positions (weights 8, 6, 4, 2 on characters
// 2, 4, 6, 8) a change of ±5 adds a multiple of 10. Every other single-digit change is caught.
#[test]
fn single_digit_changes_break_the_checksum() {
    let good = "A123456789";
    const WEIGHTS: [i32; 10] = [0, 8, 7, 6, 5, 4, 3, 2, 1, 1];
    for pos in 2..10 {
        for d in b'0'..=b'9' {
            let mut bytes = good.as_bytes().to_vec();
            let delta = i32::from(d) - i32::from(bytes[pos]);
            if delta == 0 || (WEIGHTS[pos] * delta) % 10 == 0 {
                continue;
            }
            bytes[pos] = d;
            let s = String::from_utf8(bytes).expect("ascii");
            assert!(nid(&s).is_err(), "{s} should be invalid");
        }
    }
}

#[test]
fn national_id_error_variants() {
    let kind = IdKind::NationalId;
    assert_eq!(
        nid("A12345678"),
        Err(IdError::WrongLength {
            kind,
            expected: 10,
            found: 9
        })
    );
    assert_eq!(
        nid(""),
        Err(IdError::WrongLength {
            kind,
            expected: 10,
            found: 0
        })
    );
    assert_eq!(
        nid("1123456789"),
        Err(IdError::BadLetter { kind, position: 1 })
    );
    assert_eq!(nid("A323456789"), Err(IdError::BadGenderDigit));
    assert_eq!(
        nid("A12345678X"),
        Err(IdError::NotDigit { kind, position: 10 })
    );
    assert_eq!(
        nid("A12 456789"),
        Err(IdError::NotDigit { kind, position: 4 })
    );
    assert_eq!(nid("A123456788"), Err(IdError::Checksum { kind }));
}

#[test]
fn lowercase_full_width_and_whitespace_are_rejected_not_normalised() {
    let kind = IdKind::NationalId;
    assert_eq!(
        nid("a123456789"),
        Err(IdError::BadLetter { kind, position: 1 })
    );
    // Full-width Ａ１２３４５６７８９: 10 characters, so the length check passes and the
    // letter check refuses it.
    assert_eq!(
        nid("Ａ１２３４５６７８９"),
        Err(IdError::BadLetter { kind, position: 1 })
    );
    assert_eq!(
        nid("Ａ123456789"),
        Err(IdError::BadLetter { kind, position: 1 })
    );
    assert_eq!(nid("A１23456789"), Err(IdError::BadGenderDigit));
    assert_eq!(
        nid("A12345678９"),
        Err(IdError::NotDigit { kind, position: 10 })
    );
    assert!(matches!(
        nid(" A123456789"),
        Err(IdError::WrongLength { .. })
    ));
    assert!(matches!(
        nid("A123456789\n"),
        Err(IdError::WrongLength { .. })
    ));
}

#[test]
fn error_messages_never_echo_the_input() {
    let inputs = [
        "A123456788",
        "A12345678X",
        "a123456789",
        "A323456789",
        "A1234567890",
    ];
    for input in inputs {
        let message = nid(input).expect_err("invalid").to_string();
        assert!(!message.contains(&input[1..6]), "{message}");
        assert!(message.starts_with("national ID"), "{message}");
    }
}

// TSMC 22099131: products 2,4,0,18,9,2,12,1 → digit sums 2,4,0,9,9,2,3,1 = 30 ≡ 0 (mod 5).
#[test]
fn tsmc_business_number_is_valid() {
    let number = ubn("22099131").expect("TSMC");
    assert_eq!(number.as_str(), "22099131");
    assert_eq!(number.to_string(), "22099131");
}

// 10458575: digit sums 1,0,4,1,8,1,10,5 = 30 → valid. 10458574: 29, 7th digit 7 → 29+1 = 30
// passes by the special case. 10458573: 28 → invalid. 00000005: 5 → valid only under mod 5.
#[test]
fn business_number_checksum_rules() {
    assert!(ubn("10458575").is_ok());
    assert!(ubn("10458574").is_ok(), "7th-digit-7 special case");
    assert!(ubn("00000074").is_ok(), "7th-digit-7 special case");
    assert!(ubn("00000070").is_ok());
    assert!(ubn("00000005").is_ok(), "mod 5 since 2023");
    assert_eq!(
        ubn("10458573"),
        Err(IdError::Checksum {
            kind: IdKind::BusinessNumber
        })
    );
    assert_eq!(
        ubn("00000071"),
        Err(IdError::Checksum {
            kind: IdKind::BusinessNumber
        })
    );
    // Leading zeros are kept.
    assert_eq!(ubn("00000070").expect("valid").as_str(), "00000070");
}

#[test]
fn business_number_error_variants() {
    let kind = IdKind::BusinessNumber;
    assert_eq!(
        ubn("2209913"),
        Err(IdError::WrongLength {
            kind,
            expected: 8,
            found: 7
        })
    );
    assert_eq!(
        ubn("220991311"),
        Err(IdError::WrongLength {
            kind,
            expected: 8,
            found: 9
        })
    );
    assert_eq!(
        ubn("2209913A"),
        Err(IdError::NotDigit { kind, position: 8 })
    );
    assert_eq!(
        ubn("２2099131"),
        Err(IdError::NotDigit { kind, position: 1 })
    );
    assert_eq!(ubn("22099132"), Err(IdError::Checksum { kind }));
}

#[test]
fn agency_codes() {
    for code in ["301000000A", "307000000D", "A21030000I", "A17000000J"] {
        let parsed: AgencyCode = code.parse().unwrap_or_else(|e| panic!("{code}: {e}"));
        assert_eq!(parsed.as_str(), code);
        assert_eq!(parsed.to_string(), code);
    }
    let kind = IdKind::AgencyCode;
    assert_eq!(
        "301000000".parse::<AgencyCode>(),
        Err(IdError::WrongLength {
            kind,
            expected: 10,
            found: 9
        })
    );
    assert_eq!(
        "3010000001".parse::<AgencyCode>(),
        Err(IdError::BadLetter { kind, position: 10 })
    );
    assert_eq!(
        "301000000a".parse::<AgencyCode>(),
        Err(IdError::BadLetter { kind, position: 10 })
    );
    assert_eq!(
        "30100a000A".parse::<AgencyCode>(),
        Err(IdError::NotAlphanumeric { kind, position: 6 })
    );
    assert_eq!(
        "30100-000A".parse::<AgencyCode>(),
        Err(IdError::NotAlphanumeric { kind, position: 6 })
    );
}

#[test]
fn serde_uses_strings_and_the_parser() {
    fn de<T: for<'de> Deserialize<'de>>(s: &str) -> Result<T, DeError> {
        let deserializer: StrDeserializer<'_, DeError> = s.into_deserializer();
        T::deserialize(deserializer)
    }
    assert_eq!(
        de::<NationalId>("A123456789").expect("valid").as_str(),
        "A123456789"
    );
    assert_eq!(
        de::<BusinessNumber>("22099131").expect("valid").as_str(),
        "22099131"
    );
    assert_eq!(
        de::<AgencyCode>("301000000A").expect("valid").as_str(),
        "301000000A"
    );
    let err = de::<NationalId>("A123456788").expect_err("bad checksum");
    assert_eq!(err.to_string(), "national ID: check digit does not match");
    assert!(de::<BusinessNumber>("22099132").is_err());
    assert!(de::<AgencyCode>("301000000").is_err());
}
