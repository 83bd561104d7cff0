//! The lab: real, isolated test hosts for any manifest on one Linux machine
//! (as root). Each enabled service becomes a host: a network namespace with
//! the manifest's ip, one real sshd, real Nix system generations built by
//! nix-build, and the service as a real process (`nixmox lab serve`) started
//! by its generation's switch-to-configuration. All of it lives in a private
//! world (network + mount namespaces held by a keeper process) with no route
//! off the machine. See `world` for how it is built and torn down.

mod files;
mod follow;
mod gen;
mod ops;
mod serve;
mod state;
mod sys;
mod world;

use clap::{Args, Subcommand};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

pub use ops::Fault;
pub use state::{HostState, LabState};
pub use sys::ProcId;

#[derive(Debug, Args)]
pub struct LabArgs {
    #[command(subcommand)]
    pub command: LabCommand,
}

#[derive(Debug, Subcommand)]
pub enum LabCommand {
    /// Build a lab for the manifest (`--manifest`) in DIR and return once every host answers ssh.
    #[command(
        long_about = "Build a lab for the manifest (`--manifest`) in DIR: one network namespace \
per enabled service with the manifest's ip, one real sshd per host, real Nix generations \
(generation 1 is built with nix-build and activated on every host), the services running. \
Writes DIR/nixmox.json (the console config), DIR/ssh_config, DIR/known_hosts, DIR/id_ed25519. \
Returns once every host answered ssh; the lab runs until `nixmox lab down`. Needs root."
    )]
    Up {
        /// The lab directory (created if missing; must be empty or a lab's).
        #[arg(long, env = "NIXMOX_LAB_DIR")]
        dir: PathBuf,
    },
    /// Stop everything the lab in DIR started; its namespaces and mounts go with it. Idempotent.
    Down {
        /// The lab directory.
        #[arg(long, env = "NIXMOX_LAB_DIR")]
        dir: PathBuf,
    },
    /// Run a command inside the lab (NIXMOX_CONFIG set to its console config), e.g. `-- nixmox status --once`.
    Exec {
        /// The lab directory.
        #[arg(long, env = "NIXMOX_LAB_DIR")]
        dir: PathBuf,
        /// Run on this lab host (its namespaces and environment) instead of in the lab's network.
        #[arg(long)]
        host: Option<String>,
        /// The command and its arguments (after `--`).
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
        command: Vec<OsString>,
    },
    /// Inject a fault into a host (TARGET: service name, host name or ip).
    Fault {
        /// The lab directory.
        #[arg(long, env = "NIXMOX_LAB_DIR")]
        dir: PathBuf,
        #[arg(value_enum)]
        fault: ops::Fault,
        /// The host: its service name, host name or ip.
        target: String,
        /// For write-log: the text to append to the service's journal.
        text: Option<String>,
        /// For break: how the next build is unhealthy: its unit exits at start, or answers HTTP 500.
        #[arg(long, default_value = "exit", value_parser = ["exit", "http500"])]
        mode: String,
    },
    /// Show each host's sshd, link, generation and units (exit 3 when something is down).
    Status {
        /// The lab directory.
        #[arg(long, env = "NIXMOX_LAB_DIR")]
        dir: PathBuf,
    },
    /// Write a valid manifest (JSON) with N hosts, for benchmarks and scale tests.
    #[command(hide = true)]
    GenManifest {
        #[arg(long)]
        hosts: usize,
        /// Output file (default: stdout).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// The process behind a lab unit (run by the unit's ExecStart on a lab host).
    #[command(hide = true)]
    Serve {
        #[arg(long)]
        host: String,
        #[arg(long)]
        unit: String,
        #[arg(long = "port")]
        ports: Vec<u16>,
        #[arg(long, default_value = "lab")]
        label: String,
        #[arg(long)]
        broken: Option<String>,
        /// Seconds between heartbeat lines in the unit's log.
        #[arg(long, default_value_t = 10)]
        heartbeat: u64,
    },
    /// Follow unit logs (what the lab's `journalctl -f` runs).
    #[command(hide = true)]
    Follow {
        #[arg(long, default_value_t = 10)]
        lines: usize,
        #[arg(long)]
        cat: bool,
        files: Vec<PathBuf>,
    },
    /// Wait until an sshd sends its banner on port 22 of each address (run inside the world).
    #[command(hide = true)]
    WaitSsh {
        #[arg(long, default_value_t = 10)]
        timeout: u64,
        ips: Vec<std::net::Ipv4Addr>,
    },
    /// Hold the lab's namespaces (the world's keeper, or a host's init).
    #[command(hide = true)]
    Keeper {
        #[arg(long)]
        dir: PathBuf,
        #[arg(long)]
        host: Option<String>,
    },
}

pub fn run(args: LabArgs, manifest: &Path) -> ExitCode {
    if matches!(
        args.command,
        LabCommand::Up { .. }
            | LabCommand::Down { .. }
            | LabCommand::Exec { .. }
            | LabCommand::Fault { .. }
            | LabCommand::Status { .. }
    ) {
        sys::sbin_on_path();
    }
    match args.command {
        LabCommand::Up { dir } => up(&dir, manifest),
        LabCommand::Down { dir } => world::down(&dir),
        LabCommand::Exec { dir, host, command } => ops::exec(&dir, host.as_deref(), &command),
        LabCommand::Fault {
            dir,
            fault,
            target,
            text,
            mode,
        } => ops::fault(&dir, fault, &target, text.as_deref(), &mode),
        LabCommand::Status { dir } => ops::status(&dir),
        LabCommand::GenManifest { hosts, out } => gen_manifest(hosts, out.as_deref()),
        LabCommand::Serve {
            host,
            unit,
            ports,
            label,
            broken,
            heartbeat,
        } => serve::run(serve::ServeArgs {
            host,
            unit,
            ports,
            label,
            broken,
            heartbeat,
        }),
        LabCommand::Follow { lines, cat, files } => follow::run(lines, cat, files),
        LabCommand::WaitSsh { timeout, ips } => ops::wait_ssh(&ips, timeout),
        LabCommand::Keeper { .. } => ops::keeper(),
    }
}

fn up(dir: &Path, manifest: &Path) -> ExitCode {
    // Root and tools first: an invalid manifest is reported either way, but
    // nothing is touched before both pass.
    if let Err(e) = world::preflight() {
        eprintln!("{e}");
        return ExitCode::from(1);
    }
    let global = crate::cli::GlobalArgs {
        manifest: manifest.to_path_buf(),
        config: None,
    };
    match crate::cli::load_manifest(&global) {
        Ok((m, diags)) => {
            for w in &diags.warnings {
                eprintln!("{w}");
            }
            world::up(dir, manifest, &m)
        }
        Err(u) => {
            for w in &u.warnings {
                eprintln!("{w}");
            }
            for e in &u.errors {
                eprintln!("{e}");
            }
            eprintln!(
                "nixmox lab up: {}: invalid manifest: {} error(s); nothing was started",
                manifest.display(),
                u.errors.len()
            );
            ExitCode::from(1)
        }
    }
}

fn gen_manifest(hosts: usize, out: Option<&Path>) -> ExitCode {
    if hosts == 0 || hosts > 60_000 {
        eprintln!("nixmox lab gen-manifest: --hosts must be 1..60000");
        return ExitCode::from(2);
    }
    let text = serde_json::to_string_pretty(&gen::manifest(hosts)).unwrap_or_default() + "\n";
    match out {
        Some(p) => match std::fs::write(p, text) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("{}: {e}", p.display());
                ExitCode::from(1)
            }
        },
        None => {
            print!("{text}");
            ExitCode::SUCCESS
        }
    }
}
