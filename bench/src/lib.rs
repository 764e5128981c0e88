//! bench (to be written)
