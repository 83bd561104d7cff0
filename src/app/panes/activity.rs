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

/// `text` cut into rows of at most `width` characters (at least one row).
/// The output popup draws exactly these rows, and its scroll keys count
/// them, so both agree on where the end is.
pub fn wrap_rows(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let chars: Vec<char> = text.chars().collect();
    if chars.is_empty() {
        return vec![String::new()];
    }
    chars.chunks(width).map(|c| c.iter().collect()).collect()
}
