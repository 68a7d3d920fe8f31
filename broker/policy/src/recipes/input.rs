//! Checking a caller's recipe input before any leg runs. Messages name the input and what is
//! wrong with it, never its value: an input may be a national ID.

use std::collections::BTreeMap;

use tongdao_core::ids::{BusinessNumber, NationalId};

use super::{InputError, InputKind, Recipe};

/// Longest text input, in characters.
const TEXT_MAX: usize = 256;

pub(super) fn check_input(
    recipe: &Recipe,
    input: &BTreeMap<String, String>,
) -> Result<(), InputError> {
    let mut problems = Vec::new();
    for declared in &recipe.inputs {
        match input.get(&declared.name) {
            None => problems.push(format!(
                "input `{}` ({}) is missing",
                declared.name,
                what(declared.kind)
            )),
            Some(value) => {
                if let Err(why) = check_value(declared.kind, value) {
                    problems.push(format!("input `{}` {why}", declared.name));
                }
            }
        }
    }
    for name in input.keys() {
        if !recipe.inputs.iter().any(|i| &i.name == name) {
            let names: Vec<&str> = recipe.inputs.iter().map(|i| i.name.as_str()).collect();
            // The name is the caller's, so it is shown only when it looks like a name.
            let shown = if is_plain_name(name) {
                format!("`{name}`")
            } else {
                "with an invalid name".to_owned()
            };
            problems.push(format!(
                "unknown input {shown} (recipe {} takes: {})",
                recipe.name,
                names.join(", ")
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(InputError(problems.join("; ")))
    }
}

fn check_value(kind: InputKind, value: &str) -> Result<(), String> {
    match kind {
        InputKind::NationalId => value
            .parse::<NationalId>()
            .map(drop)
            .map_err(|e| format!("is not a valid national ID ({e})")),
        InputKind::BusinessNumber => value
            .parse::<BusinessNumber>()
            .map(drop)
            .map_err(|e| format!("is not a valid business number ({e})")),
        InputKind::RocYear => match value.parse::<u32>() {
            Ok(1..=999) => Ok(()),
            _ => Err("is not a ROC year (a whole number from 1 to 999)".to_owned()),
        },
        InputKind::Text => {
            if value.trim().is_empty() {
                Err("is empty".to_owned())
            } else if value.chars().count() > TEXT_MAX {
                Err(format!("is longer than {TEXT_MAX} characters"))
            } else {
                Ok(())
            }
        }
    }
}

fn what(kind: InputKind) -> &'static str {
    match kind {
        InputKind::NationalId => "a national ID",
        InputKind::BusinessNumber => "a business number",
        InputKind::RocYear => "a ROC year",
        InputKind::Text => "text",
    }
}

fn is_plain_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}
