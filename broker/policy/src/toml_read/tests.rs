use super::*;

#[test]
fn lines_are_one_based() {
    let cx = FileCx::new("f.toml", "a\nbc\n\nd");
    assert_eq!(cx.line(0), 1);
    assert_eq!(cx.line(1), 1, "the newline belongs to its line");
    assert_eq!(cx.line(2), 2);
    assert_eq!(cx.line(5), 3);
    assert_eq!(cx.line(6), 4);
}

#[test]
fn every_problem_of_a_table_is_reported_with_its_line() {
    let text = "[[item]]\nname = 1\nflag = \"yes\"\nextra = true\n";
    let mut cx = FileCx::new("f.toml", text);
    let root = parse_document(&mut cx, text).expect("valid TOML");
    let root = Table::root(&mut cx, &root, "file", &["item"]);
    let items = root.tables(&mut cx, "item", "item", &["name", "flag", "count"]);
    assert_eq!(items.len(), 1);
    assert!(items[0].req_str(&mut cx, "name").is_none());
    assert!(items[0].req_bool(&mut cx, "flag").is_none());
    assert!(items[0].req_uint(&mut cx, "count").is_none());
    let lines: Vec<_> = cx
        .errors
        .iter()
        .map(|e| (e.line, e.message.clone()))
        .collect();
    assert_eq!(lines.len(), 4, "{lines:#?}");
    assert!(
        lines
            .iter()
            .any(|(l, m)| *l == Some(4) && m.contains("unknown key `extra`"))
    );
    assert!(
        lines
            .iter()
            .any(|(l, m)| *l == Some(2) && m.contains("`name` must be a string"))
    );
    assert!(
        lines
            .iter()
            .any(|(l, m)| *l == Some(3) && m.contains("`flag` must be true or false"))
    );
    assert!(
        lines
            .iter()
            .any(|(l, m)| *l == Some(1) && m.contains("missing `count`"))
    );
}

#[test]
fn syntax_errors_carry_lines() {
    let text = "a = 1\na = 2\n";
    let mut cx = FileCx::new("f.toml", text);
    assert!(parse_document(&mut cx, text).is_none());
    assert_eq!(cx.errors[0].line, Some(2), "{:?}", cx.errors);
}

#[test]
fn instants_need_an_offset() {
    let text = "a = 2025-01-01T00:00:00+08:00\nb = \"2025-01-01T00:00:00Z\"\nc = 2025-01-01T00:00:00\nd = 5\n";
    let mut cx = FileCx::new("f.toml", text);
    let root = parse_document(&mut cx, text).expect("valid TOML");
    let root = Table::root(&mut cx, &root, "file", &["a", "b", "c", "d"]);
    assert_eq!(
        root.opt_instant(&mut cx, "a").map(|s| s.into_inner()),
        Some(1_735_660_800)
    );
    assert_eq!(
        root.opt_instant(&mut cx, "b").map(|s| s.into_inner()),
        Some(1_735_689_600)
    );
    assert!(root.opt_instant(&mut cx, "c").is_none());
    assert!(root.opt_instant(&mut cx, "d").is_none());
    assert_eq!(cx.errors.len(), 2);
    assert_eq!(format_instant(1_735_660_800), "2025-01-01T00:00:00+08:00");
}
