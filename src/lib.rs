//! nixmox: a terminal operations console for a manifest-driven NixOS homelab.

pub mod app;
pub mod backend;
pub mod cli;
pub mod config;
pub mod lab;
pub(crate) mod logging;
pub mod manifest;
pub(crate) mod stdout_reader;
pub mod timefmt;
pub mod views;
