//! The details pane: what it shows is derived from the domain model and the
//! tree's selection; its own state is how far it is scrolled.

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DetailsPane {
    /// Lines scrolled off the top.
    pub scroll: usize,
}
