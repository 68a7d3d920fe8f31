use super::*;

#[test]
fn blank_is_empty_after_ascii_and_full_width_spaces() {
    assert!(is_blank(""));
    assert!(is_blank("   \t"));
    assert!(is_blank("\u{3000} \u{3000}"));
    assert!(!is_blank(" a "));
    assert!(!is_blank("０"));
}

#[test]
fn normalize_trims_and_folds_full_width_ascii() {
    assert_eq!(normalize("  王小明  "), "王小明");
    assert_eq!(normalize("\u{3000}ＡＢＣ－１２３４\u{3000}"), "ABC-1234");
    assert_eq!(normalize("臺北市\u{3000}大安區"), "臺北市 大安區");
    assert_eq!(normalize("ｘ／ｙ，（１）"), "x/y,(1)");
    // Untouched text is borrowed, not copied.
    assert!(matches!(normalize("abc"), Cow::Borrowed("abc")));
    assert!(matches!(normalize(" 仁愛段 "), Cow::Borrowed("仁愛段")));
    // Characters outside full-width ASCII are kept.
    assert_eq!(normalize("ｶﾞ"), "ｶﾞ");
}

#[test]
fn quote_cuts_long_values() {
    assert_eq!(quote("abc"), "abc");
    let long: String = "字".repeat(50);
    let quoted = quote(&long);
    assert_eq!(quoted.chars().count(), 41);
    assert!(quoted.ends_with('…'));
}

#[test]
fn integer_accepts_signs_commas_and_full_width_digits() {
    assert_eq!(integer("0"), Ok(0));
    assert_eq!(integer("1234"), Ok(1234));
    assert_eq!(integer(" 1,234 "), Ok(1234));
    assert_eq!(integer("12,345,678"), Ok(12_345_678));
    assert_eq!(integer("-1,000"), Ok(-1000));
    assert_eq!(integer("+7"), Ok(7));
    assert_eq!(integer("１２３"), Ok(123));
    assert_eq!(integer("１，２３４"), Ok(1234));
    assert_eq!(integer("－５"), Ok(-5));
    assert_eq!(integer("007"), Ok(7));
}

#[test]
fn integer_rejects_what_is_not_an_integer() {
    for bad in [
        "abc", "12a", "1.5", "1,23", "12,3456", ",123", "123,", "1,,234", "-", "+", "--1", "1 2",
        "0x10", "1e3", "１.０",
    ] {
        assert_eq!(
            integer(bad),
            Err(RowProblem::NotInteger(bad.to_owned())),
            "{bad}"
        );
    }
    assert!(matches!(
        integer(&"9".repeat(50)),
        Err(RowProblem::OutOfRange(_))
    ));
}

#[test]
fn area_is_exact_square_centimetres() {
    assert_eq!(area_m2_to_cm2("123.45"), Ok(1_234_500));
    assert_eq!(area_m2_to_cm2("123.4"), Ok(1_234_000));
    assert_eq!(area_m2_to_cm2("123"), Ok(1_230_000));
    assert_eq!(area_m2_to_cm2("0.01"), Ok(100));
    assert_eq!(area_m2_to_cm2("0.05"), Ok(500));
    assert_eq!(area_m2_to_cm2("1,234.56"), Ok(12_345_600));
    assert_eq!(area_m2_to_cm2("１２.３"), Ok(123_000));
    assert_eq!(area_m2_to_cm2("12.3400"), Ok(123_400));
    assert_eq!(area_m2_to_cm2("+1.00"), Ok(10_000));
    assert_eq!(area_m2_to_cm2("0"), Ok(0));
}

#[test]
fn area_rejects_bad_decimals() {
    for bad in [
        "abc", "1.2.3", ".5", "5.", "1.234", "1.2a", "1,23.4", "", "1 .5",
    ] {
        assert!(
            matches!(area_m2_to_cm2(bad), Err(RowProblem::NotDecimal(_))),
            "{bad}: {:?}",
            area_m2_to_cm2(bad)
        );
    }
    assert!(matches!(
        area_m2_to_cm2("-1.5"),
        Err(RowProblem::OutOfRange(_))
    ));
    assert!(matches!(
        area_m2_to_cm2(&"9".repeat(40)),
        Err(RowProblem::OutOfRange(_))
    ));
}

#[test]
fn roc_date_forms() {
    assert_eq!(roc_date("0760221"), Ok((76, 2, 21)));
    assert_eq!(roc_date("1120305"), Ok((112, 3, 5)));
    assert_eq!(roc_date("760221"), Ok((76, 2, 21)));
    assert_eq!(roc_date("112/03/05"), Ok((112, 3, 5)));
    assert_eq!(roc_date("112-3-5"), Ok((112, 3, 5)));
    assert_eq!(roc_date("112.03.05"), Ok((112, 3, 5)));
    assert_eq!(roc_date("76/2/21"), Ok((76, 2, 21)));
    assert_eq!(roc_date("112年3月5日"), Ok((112, 3, 5)));
    assert_eq!(roc_date("民國112年03月05日"), Ok((112, 3, 5)));
    assert_eq!(roc_date("１１２／０３／０５"), Ok((112, 3, 5)));
    assert_eq!(roc_date(" 1120305 "), Ok((112, 3, 5)));
    // 2024 (ROC 113) is a leap year; 2023 (112) is not; 1900 was not but 2000 (89) was.
    assert_eq!(roc_date("1130229"), Ok((113, 2, 29)));
    assert_eq!(roc_date("0890229"), Ok((89, 2, 29)));
    assert_eq!(roc_date("1121231"), Ok((112, 12, 31)));
    assert_eq!(roc_date("0010101"), Ok((1, 1, 1)));
}

#[test]
fn roc_date_rejects_bad_dates() {
    for bad in [
        "1120229",    // not a leap year
        "1121301",    // month 13
        "1120001",    // month 0
        "1120100",    // day 0
        "1120431",    // April has 30 days
        "0000000",    // the legacy "no date" is not a date
        "0001231",    // ROC year 0
        "11203051",   // 8 digits
        "11235",      // 5 digits
        "112/03-05",  // mixed separators
        "112/03/05/", // extra part
        "112//05",
        "1120/03/05", // 4-digit year
        "112/003/05",
        "abc",
        "112年3月5",
        "112年3月日",
        "-12/03/05",
    ] {
        assert!(
            matches!(roc_date(bad), Err(RowProblem::BadDate(_))),
            "{bad}: {:?}",
            roc_date(bad)
        );
    }
}

#[test]
fn gregorian_date_forms() {
    assert_eq!(gregorian_date("2023-03-05"), Ok((112, 3, 5)));
    assert_eq!(gregorian_date("20230305"), Ok((112, 3, 5)));
    assert_eq!(gregorian_date("2023/3/5"), Ok((112, 3, 5)));
    assert_eq!(gregorian_date("2024-02-29"), Ok((113, 2, 29)));
    assert_eq!(gregorian_date("1912-01-01"), Ok((1, 1, 1)));
    assert_eq!(gregorian_date("２０２３－０３－０５"), Ok((112, 3, 5)));
}

#[test]
fn gregorian_date_rejects_bad_dates() {
    for bad in [
        "2023-02-29",
        "2100-02-29",
        "2023-13-01",
        "2023-00-10",
        "2023-04-31",
        "1911-12-31",
        "0000-01-01",
        "230305",
        "1120305",
        "2023-3",
        "23-03-05",
        "2023.03.05",
        "2023-03-05T00:00",
        "date",
    ] {
        assert!(
            matches!(gregorian_date(bad), Err(RowProblem::BadDate(_))),
            "{bad}: {:?}",
            gregorian_date(bad)
        );
    }
}

#[test]
fn share_forms() {
    assert_eq!(share("1/2"), Ok((1, 2)));
    assert_eq!(share("3/3"), Ok((3, 3)));
    assert_eq!(share(" 1 / 4 "), Ok((1, 4)));
    assert_eq!(share("１／１０"), Ok((1, 10)));
    assert_eq!(share("全部"), Ok((1, 1)));
    assert_eq!(share("2分之1"), Ok((1, 2)));
    assert_eq!(share("10000分之123"), Ok((123, 10000)));
}

#[test]
fn share_rejects_bad_shares() {
    for bad in [
        "0/2", "3/2", "1/0", "1/", "/2", "1/2/3", "a/b", "half", "1.5/2", "-1/2", "2分之3",
        "分之1", "部分",
    ] {
        assert!(
            matches!(share(bad), Err(RowProblem::BadShare(_))),
            "{bad}: {:?}",
            share(bad)
        );
    }
    assert!(matches!(
        share("1/99999999999999999999999"),
        Err(RowProblem::OutOfRange(_))
    ));
}

#[test]
fn boolean_words() {
    for yes in ["true", "TRUE", "t", "Y", "yes", "1", "是", "１"] {
        assert_eq!(boolean(yes), Ok(true), "{yes}");
    }
    for no in ["false", "F", "n", "No", "0", "否"] {
        assert_eq!(boolean(no), Ok(false), "{no}");
    }
    for bad in ["2", "maybe", "真", "yes!"] {
        assert_eq!(
            boolean(bad),
            Err(RowProblem::BadEnum(bad.to_owned())),
            "{bad}"
        );
    }
}

/// Deterministic pseudo-random strings over the characters the converters care about: no
/// converter panics, and whatever they accept satisfies their contract.
#[test]
fn converters_never_panic_and_keep_their_invariants() {
    const ALPHABET: &[&str] = &[
        "0", "1", "2", "9", "/", "-", ".", ",", "+", " ", "年", "月", "日", "分之", "全部", "民國",
        "１", "／", "－", "\u{3000}", "a", "臺", "é", "０", "，",
    ];
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..20_000 {
        let len = (next() % 12) as usize;
        let text: String = (0..len)
            .map(|_| ALPHABET[(next() % ALPHABET.len() as u64) as usize])
            .collect();
        if let Ok(n) = integer(&text) {
            let digits: String = normalize(&text)
                .chars()
                .filter(|c| c.is_ascii_digit())
                .collect();
            assert_eq!(
                n.unsigned_abs(),
                digits.parse::<u128>().expect("digits"),
                "{text}"
            );
        }
        if let Ok(cm2) = area_m2_to_cm2(&text) {
            assert!(cm2 >= 0 && cm2 % 100 == 0, "{text} -> {cm2}");
        }
        for (y, m, d) in [roc_date(&text), gregorian_date(&text)]
            .into_iter()
            .flatten()
        {
            assert!(
                y >= 1 && (1..=12).contains(&m) && (1..=31).contains(&d),
                "{text}"
            );
        }
        if let Ok((n, d)) = share(&text) {
            assert!(1 <= n && n <= d, "{text}");
        }
        let _ = boolean(&text);
        let _ = quote(&text);
        assert_eq!(
            is_blank(&text),
            normalize(&text).trim().is_empty(),
            "{text:?}"
        );
    }
}

#[test]
fn trim_keeps_full_width_characters() {
    assert_eq!(trim("\u{3000} 營造業（限土木）， "), "營造業（限土木），");
    assert_eq!(trim("ＡＢＣ"), "ＡＢＣ");
    assert_eq!(trim(" a\u{3000}b "), "a\u{3000}b");
}

#[test]
fn roc_year_month_forms() {
    assert_eq!(roc_year_month("08507"), Ok((85, 7)));
    assert_eq!(roc_year_month("11212"), Ok((112, 12)));
    assert_eq!(roc_year_month("8507"), Ok((85, 7)));
    assert_eq!(roc_year_month("85/7"), Ok((85, 7)));
    assert_eq!(roc_year_month("112-01"), Ok((112, 1)));
    assert_eq!(roc_year_month("112.01"), Ok((112, 1)));
    assert_eq!(roc_year_month("民國85年7月"), Ok((85, 7)));
    assert_eq!(roc_year_month("１１２／０１"), Ok((112, 1)));
    for bad in [
        "11213",
        "11200",
        "00007",
        "112",
        "1120101",
        "112/01/01",
        "112/",
        "/01",
        "85年",
        "x",
        "112年13月",
    ] {
        assert!(
            matches!(roc_year_month(bad), Err(RowProblem::BadDate(_))),
            "{bad}: {:?}",
            roc_year_month(bad)
        );
    }
}
