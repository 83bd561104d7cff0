//! The console: a domain model (`model`), pane states (`panes`), a layer
//! stack for screens and popups (`layers`, keys routed by `keys`), and the
//! pure transitions over them (`update`), fed by one event bus (`bus`) in
//! the loop (`run`).

pub(crate) mod bus;
pub mod event;
pub mod keymap;
pub mod keys;
pub mod layers;
pub mod model;
pub mod panes;
pub(crate) mod run;
pub mod state;
pub mod update;

pub use event::{Command, Event};
pub use state::State;
pub use update::update;
