//! Application state, events and the pure transitions over them.

pub mod board;
pub mod event;
pub mod keymap;
pub mod logview;
pub mod run;
pub mod state;
pub mod tree;
pub mod update;

pub use event::{Command, Event};
pub use state::State;
pub use update::update;
