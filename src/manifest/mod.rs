//! The domain core: the manifest's schema, loading, validation and the
//! dependency graph. No terminal, no ssh.

mod attrs;
pub mod diagnostic;
pub mod graph;
pub mod load;
pub mod model;
pub mod names;
pub mod net;
pub mod valid;
pub mod validate;

pub use diagnostic::{Diagnostic, Diagnostics, Severity};
pub use graph::{DepGraph, PlanError};
pub use load::{load_value, LoadError};
pub use model::*;
pub use valid::{load_valid, Unusable, Valid};
pub use validate::{validate, Report};
