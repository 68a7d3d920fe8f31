//! Shared by the unit tests: the shipped policy as sources, without touching the file system.

use crate::PolicySources;

pub(crate) const NOW: i64 = 1_751_331_600; // 2025-07-01T09:00:00+08:00

pub(crate) fn shipped_sources() -> PolicySources {
    let mut sources = PolicySources::new();
    for (name, text) in [
        (
            "agencies.toml",
            include_str!("../../../policies/agencies.toml"),
        ),
        (
            "services.toml",
            include_str!("../../../policies/services.toml"),
        ),
        (
            "purposes.toml",
            include_str!("../../../policies/purposes.toml"),
        ),
        ("roles.toml", include_str!("../../../policies/roles.toml")),
        (
            "rules/household.toml",
            include_str!("../../../policies/rules/household.toml"),
        ),
        (
            "rules/land.toml",
            include_str!("../../../policies/rules/land.toml"),
        ),
        (
            "rules/tax.toml",
            include_str!("../../../policies/rules/tax.toml"),
        ),
        (
            "rules/health.toml",
            include_str!("../../../policies/rules/health.toml"),
        ),
        (
            "rules/commerce.toml",
            include_str!("../../../policies/rules/commerce.toml"),
        ),
        (
            "recipes/company-registration.toml",
            include_str!("../../../policies/recipes/company-registration.toml"),
        ),
        (
            "recipes/moving-house.toml",
            include_str!("../../../policies/recipes/moving-house.toml"),
        ),
        (
            "recipes/welfare-eligibility.toml",
            include_str!("../../../policies/recipes/welfare-eligibility.toml"),
        ),
    ] {
        sources.insert(name, text);
    }
    sources
}

pub(crate) fn shipped() -> crate::Policy {
    crate::Policy::compile(&shipped_sources()).expect("the shipped policy compiles")
}
