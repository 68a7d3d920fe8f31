//! Identifiers: national IDs, unified business numbers, agency codes.
