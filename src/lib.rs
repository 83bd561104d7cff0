//! nixmox: a terminal operations console for a manifest-driven NixOS homelab.

pub mod cli;
pub mod manifest;
