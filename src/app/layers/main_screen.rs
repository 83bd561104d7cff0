//! The bottom layer: tree, details and activity panes. Which of tree and
//! activity has the focus is its concern alone: it changes only by a key
//! on the main screen (`tab`, `esc`) or when the rollback wizard hands its
//! running operation over to the activity pane.

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Focus {
    #[default]
    Tree,
    Activity,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MainScreen {
    pub focus: Focus,
}
