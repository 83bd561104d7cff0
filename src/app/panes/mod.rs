//! What each pane or screen of the console shows beyond the domain model:
//! selection, scroll, search. One module per pane; `update` changes them,
//! `views` read them.

pub mod activity;
pub mod command_line;
pub mod deploy_dialog;
pub mod details;
pub mod faults;
pub mod forest;
pub mod history;
pub mod logs;
pub mod tree;
pub mod wizard;
