//! `load_valid`: load, validate and graph a manifest in one call, so every
//! caller (CLI, console, lab) sees the same verdict on the same file.

use super::{load_value, validate, DepGraph, Diagnostic, Diagnostics, Manifest, Severity};
use std::path::Path;

/// A manifest that passed validation, its dependency graph, and the
/// warnings to show.
#[derive(Debug, Clone)]
pub struct Valid {
    pub manifest: Manifest,
    pub graph: DepGraph,
    pub warnings: Vec<Diagnostic>,
}

/// A manifest that could not be used, with everything wrong with it.
#[derive(Debug, Clone)]
pub struct Unusable {
    pub errors: Vec<Diagnostic>,
    pub warnings: Vec<Diagnostic>,
}

/// Loads `path` (`.nix` through nix-instantiate, `.json` as is), validates
/// it and builds its graph. A load failure is one error with an empty path.
pub fn load_valid(path: &Path) -> Result<Valid, Unusable> {
    let value = load_value(path).map_err(|e| Unusable {
        errors: vec![Diagnostic {
            severity: Severity::Error,
            path: String::new(),
            message: e.to_string(),
        }],
        warnings: Vec::new(),
    })?;
    let report = validate(&value);
    let Diagnostics { errors, warnings } = report.diagnostics;
    match report.manifest {
        Some(manifest) => Ok(Valid {
            graph: DepGraph::from_manifest(&manifest),
            manifest,
            warnings,
        }),
        None => Err(Unusable { errors, warnings }),
    }
}
