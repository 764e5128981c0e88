//! On-disk layouts: file names, the segment scan, and the two index files.
//! Pure functions over byte slices; no I/O and no log state.

pub mod index;
pub mod segment;
