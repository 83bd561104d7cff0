//! The activity pane: which operation is selected.

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActivityPane {
    /// Index into the model's operations of the selected one.
    pub selected: usize,
}

impl ActivityPane {
    /// Moves the selection to `f(current, count)` among `count` operations.
    pub fn move_selection(&mut self, count: usize, f: impl Fn(usize, usize) -> usize) {
        if count > 0 {
            self.selected = f(self.selected, count);
        }
    }
}
