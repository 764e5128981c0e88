//! net (to be written)
