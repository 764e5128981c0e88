//! The storage crate's integration tests (one binary, several modules).

mod api;
mod basic;
mod disk;
mod faults;
mod model;
mod sigkill;
