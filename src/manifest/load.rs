//! Reading a manifest file into untyped JSON: `.nix` through the real Nix
//! evaluator, `.json` directly.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{path}: cannot read manifest: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: cannot evaluate a .nix manifest: `nix-instantiate` was not found on PATH. Install Nix (Debian/Ubuntu: apt-get install nix-bin), or give the manifest as .json")]
    NixMissing { path: PathBuf },
    /// Nix's own message, with its file and line, shown as Nix wrote it.
    #[error("{path}: nix-instantiate failed:\n{stderr}")]
    NixFailed { path: PathBuf, stderr: String },
    #[error("{path}:{line}:{column}: invalid JSON: {message}")]
    Json {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{path}: unknown manifest format: expected a .nix or .json file")]
    UnknownFormat { path: PathBuf },
}

pub fn load_value(path: &Path) -> Result<Value, LoadError> {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    // Fail early and plainly for a missing file rather than through Nix.
    let meta = std::fs::metadata(path).map_err(|source| LoadError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    match ext {
        "json" => {
            let text = std::fs::read_to_string(path).map_err(|source| LoadError::Io {
                path: path.to_path_buf(),
                source,
            })?;
            parse_json(path, &text)
        }
        "nix" => eval_nix(path),
        _ if meta.is_dir() => eval_nix(path),
        _ => Err(LoadError::UnknownFormat {
            path: path.to_path_buf(),
        }),
    }
}

pub fn parse_json(path: &Path, text: &str) -> Result<Value, LoadError> {
    serde_json::from_str(text).map_err(|e| LoadError::Json {
        path: path.to_path_buf(),
        line: e.line(),
        column: e.column(),
        message: {
            // serde_json appends the position we already print in front.
            let text = e.to_string();
            let suffix = format!(" at line {} column {}", e.line(), e.column());
            text.strip_suffix(&suffix).unwrap_or(&text).to_string()
        },
    })
}

fn eval_nix(path: &Path) -> Result<Value, LoadError> {
    // An absolute path keeps a file named like an option (`-x.nix`) a file.
    let abs = std::path::absolute(path).map_err(|source| LoadError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let run = || {
        // Evaluation only reads: --readonly-mode keeps it from registering
        // anything in the store database.
        Command::new("nix-instantiate")
            .args(["--readonly-mode", "--eval", "--strict", "--json"])
            .arg(&abs)
            .output()
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => LoadError::NixMissing {
                    path: path.to_path_buf(),
                },
                _ => LoadError::Io {
                    path: path.to_path_buf(),
                    source: e,
                },
            })
    };
    let mut out = run()?;
    // A brand-new store is initialised by the first Nix process that opens
    // it; others started at the same moment see "database is busy". Once
    // is enough to get past that.
    for pause_ms in [200, 1000] {
        if out.status.success() || !String::from_utf8_lossy(&out.stderr).contains("is busy") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(pause_ms));
        out = run()?;
    }
    if !out.status.success() {
        return Err(LoadError::NixFailed {
            path: path.to_path_buf(),
            stderr: String::from_utf8_lossy(&out.stderr).trim_end().to_string(),
        });
    }
    let text = String::from_utf8_lossy(&out.stdout);
    parse_json(path, &text)
}
