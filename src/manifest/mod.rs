//! The domain core: the manifest's schema, loading, validation and the
//! dependency graph. No terminal, no ssh.

mod attrs;
pub(crate) mod diagnostic;
pub(crate) mod graph;
pub(crate) mod load;
pub(crate) mod model;
pub(crate) mod names;
pub(crate) mod net;
pub(crate) mod valid;
pub mod validate;

pub use diagnostic::{Diagnostic, Diagnostics, Severity};
pub use graph::{DepGraph, PlanError};
pub use load::{load_value, parse_json, LoadError};
pub use model::*;
pub use valid::{load_valid, Unusable, Valid};
pub use validate::{validate, Report};
