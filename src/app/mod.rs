//! Application state and the pure transitions over it.

pub mod board;
