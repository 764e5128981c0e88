//! End-to-end tests against the real binaries live in `tests/`.
