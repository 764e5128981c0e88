//! `sluice-check`: see `tools/src/check/mod.rs` and `sluice-check --help`.

fn main() {}
