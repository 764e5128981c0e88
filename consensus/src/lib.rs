//! consensus (to be written)
