//! `nixmox lab …`: the arguments, and the printing and exit codes over the
//! lab's typed API (`crate::lab`).

use crate::lab::{self, BreakMode, Fault, LabError, Ready, UpEvent};
use clap::{Args, Subcommand, ValueEnum};
use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

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
Returns once every host answered ssh; the lab runs until `nixmox lab down`. Needs root.\n\n\
Key exchange: all lab hosts share this machine's cores with the console, so DIR/ssh_config asks for \
mlkem768x25519-sha256 (post-quantum, fast; OpenSSH 9.9+) or else curve25519-sha256. OpenSSH's older \
post-quantum default, sntrup761x25519, costs about 160 ms of client CPU per connection: 15 hosts \
would take about 2 s just to connect on 2 cores. Your real fleet uses your own ssh config."
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
        fault: FaultKind,
        /// The host: its service name, host name or ip.
        target: String,
        /// For write-log: the text to append to the service's journal.
        text: Option<String>,
        /// For break: how the next build is unhealthy: its unit exits at start, answers HTTP 500,
        /// or (ssh) its activation stops the host's sshd (activating any other generation starts it).
        #[arg(long, default_value = "exit", value_parser = ["exit", "http500", "ssh"])]
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FaultKind {
    /// Stop the host's sshd: the listener and every ssh connection to it (services keep running).
    StopSsh,
    /// Start the host's sshd again.
    StartSsh,
    /// Cut the host off the network (its veth on the bridge goes down).
    Partition,
    /// Reconnect a partitioned host.
    Heal,
    /// Kill the service's unit processes (SIGKILL), so health checks fail.
    KillService,
    /// Make the NEXT build of the service unhealthy (its unit dies at start; `--mode http500`: answers 500).
    Break,
    /// Clear the break knob (the next build is healthy again).
    Fix,
    /// Append a line to the service's unit log (its journal), e.g. for log tests.
    WriteLog,
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
        lab::sbin_on_path();
    }
    match args.command {
        LabCommand::Up { dir } => up(&dir, manifest),
        LabCommand::Down { dir } => down(&dir),
        LabCommand::Exec { dir, host, command } => exec(&dir, host.as_deref(), &command),
        LabCommand::Fault {
            dir,
            fault,
            target,
            text,
            mode,
        } => fault_cmd(&dir, fault, &target, text, &mode),
        LabCommand::Status { dir } => status(&dir),
        LabCommand::GenManifest { hosts, out } => gen_manifest(hosts, out.as_deref()),
        LabCommand::Serve {
            host,
            unit,
            ports,
            label,
            broken,
            heartbeat,
        } => {
            let args = lab::ServeArgs {
                host,
                unit,
                ports,
                label,
                // An unknown mode is a healthy build, as the knob files only hold known ones.
                broken: broken.as_deref().and_then(BreakMode::parse),
                heartbeat: Duration::from_secs(heartbeat),
            };
            // Why it stopped is already in the unit's journal.
            match lab::serve(args, Box::new(std::io::stderr())) {
                Ok(never) => match never {},
                Err(_) => ExitCode::from(1),
            }
        }
        LabCommand::Follow { lines, cat, files } => {
            let reader = lab::StdoutReader::watch();
            let stdout = std::io::stdout();
            lab::follow(&files, lines, cat, &mut stdout.lock(), &|| reader.gone());
            ExitCode::SUCCESS
        }
        LabCommand::WaitSsh { timeout, ips } => {
            match lab::wait_for_banners(&ips, Duration::from_secs(timeout)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("{e}");
                    ExitCode::from(1)
                }
            }
        }
        LabCommand::Keeper { .. } => lab::hold_namespaces(),
    }
}

pub(crate) fn fail(sub: &str, e: impl std::fmt::Display) -> ExitCode {
    eprintln!("nixmox lab {sub}: {e}");
    ExitCode::from(1)
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn up(dir: &Path, manifest: &Path) -> ExitCode {
    match lab::up(dir, manifest, &mut print_up_event) {
        Ok(ready) => {
            print_ready(&ready);
            ExitCode::SUCCESS
        }
        Err(e) => print_up_error(&e),
    }
}

/// `up`'s progress on stderr, as it happens.
pub(crate) fn print_up_event(ev: UpEvent<'_>) {
    match ev {
        UpEvent::Warning(w) => eprintln!("{w}"),
        UpEvent::LeftoversStopped { dir, stopped } => eprintln!(
            "lab: stopped {stopped} processes an old lab in {} had left",
            dir.display()
        ),
        UpEvent::Step(step) => eprintln!("lab: {step}"),
        UpEvent::TearingDown { cause } => {
            eprintln!("nixmox lab up: {cause}");
            eprintln!("lab: tearing down what was started...");
        }
    }
}

/// Prints why `up` failed (what `print_up_event` has not said yet); the exit code.
pub(crate) fn print_up_error(e: &LabError) -> ExitCode {
    match e {
        LabError::UpFailed {
            teardown,
            interrupted,
            ..
        } => {
            match teardown {
                Ok(t) => eprintln!("lab: torn down ({} processes stopped)", t.stopped),
                Err(e) => eprintln!("lab: teardown incomplete: {e}"),
            }
            ExitCode::from(if *interrupted { 130 } else { 1 })
        }
        LabError::InvalidManifest { unusable, .. } => {
            for w in &unusable.warnings {
                eprintln!("{w}");
            }
            for e in &unusable.errors {
                eprintln!("{e}");
            }
            fail("up", e)
        }
        e => fail("up", e),
    }
}

/// The lab's hosts and how to use it, on stdout.
pub(crate) fn print_ready(ready: &Ready) {
    let st = &ready.state;
    let t = &ready.timings;
    let d = st.dir.display();
    println!(
        "lab up: {} hosts in {d} ({} total: files+keys {}, world+sshd {}, build {} (alongside), activation {}, ssh check {})",
        st.hosts.len(),
        secs(t.total),
        secs(t.files),
        secs(t.world),
        secs(t.build),
        secs(t.activate),
        secs(t.ssh)
    );
    let w = st.hosts.iter().map(|h| h.name.len()).max().unwrap_or(4);
    for h in &st.hosts {
        println!(
            "  {:<w$}  {:<15}  unit {}  generation 1  {}",
            h.name,
            h.ip,
            h.unit,
            h.system.as_deref().unwrap_or("?"),
        );
    }
    let Some(first) = st.hosts.first() else {
        return;
    };
    println!(
        "\nConsole config: {d}/nixmox.json (ssh config {d}/ssh_config, strict known_hosts {d}/known_hosts)\n\
         Everything that talks to the hosts runs inside the lab:\n  \
         nixmox lab exec --dir {d} -- nixmox status --once\n  \
         nixmox lab exec --dir {d} -- ssh -F {d}/ssh_config {ip} systemctl status {unit}\n  \
         nixmox lab status --dir {d}\n  \
         nixmox lab fault --dir {d} kill-service {name}    (also stop-ssh, start-ssh, partition, heal, break, fix)\n  \
         nixmox lab down --dir {d}",
        ip = first.ip,
        unit = first.unit,
        name = first.name,
    );
}

fn down(dir: &Path) -> ExitCode {
    match lab::down(dir) {
        Ok(d) => {
            print_down(&d);
            ExitCode::SUCCESS
        }
        Err(e) => fail("down", e),
    }
}

pub(crate) fn print_down(d: &lab::Down) {
    if !d.had_lab && d.stopped == 0 {
        println!("lab down: no lab running in {}", d.dir.display());
    } else {
        println!(
            "lab down: {} stopped ({} processes) in {}",
            d.dir.display(),
            d.stopped,
            secs(d.took)
        );
    }
}

/// Replaces this process, so the exit status, signals and the terminal pass
/// straight through.
fn exec(dir: &Path, host: Option<&str>, command: &[OsString]) -> ExitCode {
    match lab::exec_command(dir, host, command) {
        Ok(mut cmd) => {
            let err = cmd.exec();
            fail("exec", format!("nsenter: {err}"))
        }
        Err(e) => fail("exec", e),
    }
}

fn fault_cmd(
    dir: &Path,
    kind: FaultKind,
    target: &str,
    text: Option<String>,
    mode: &str,
) -> ExitCode {
    let fault = match kind {
        FaultKind::StopSsh => Fault::StopSsh,
        FaultKind::StartSsh => Fault::StartSsh,
        FaultKind::Partition => Fault::Partition,
        FaultKind::Heal => Fault::Heal,
        FaultKind::KillService => Fault::KillService,
        FaultKind::Break => match BreakMode::parse(mode) {
            Some(m) => Fault::Break(m),
            None => {
                return fail(
                    "fault",
                    format!("unknown break mode {mode:?} (exit or http500)"),
                )
            }
        },
        FaultKind::Fix => Fault::Fix,
        FaultKind::WriteLog => match text {
            Some(t) => Fault::WriteLog(t),
            None => return fail("fault", "write-log needs the text to write"),
        },
    };
    match lab::inject(dir, &fault, target) {
        Ok(done) => {
            println!("{done}");
            ExitCode::SUCCESS
        }
        Err(e) => fail("fault", e),
    }
}

/// The table of hosts; exit 3 when something is down.
fn status(dir: &Path) -> ExitCode {
    let st = match lab::status(dir) {
        Ok(s) => s,
        Err(e) => return fail("status", e),
    };
    let up_down = |up: bool| if up { "up" } else { "down" };
    let w = st
        .hosts
        .iter()
        .map(|h| h.name.len())
        .max()
        .unwrap_or(4)
        .max(4);
    println!(
        "lab {} (keeper pid {}, manifest {})",
        st.dir.display(),
        st.keeper,
        st.manifest.display()
    );
    println!(
        "{:<w$}  {:<15}  {:<5}  {:<5}  {:<4}  UNITS",
        "HOST", "IP", "SSHD", "LINK", "GEN"
    );
    for h in &st.hosts {
        let units = if !h.running {
            "(host gone)".to_string()
        } else if h.units.is_empty() {
            "-".to_string()
        } else {
            h.units
                .iter()
                .map(|(u, active)| format!("{u}:{}", if *active { "active" } else { "failed" }))
                .collect::<Vec<_>>()
                .join(" ")
        };
        println!(
            "{:<w$}  {:<15}  {:<5}  {:<5}  {:<4}  {}",
            h.name,
            h.ip.to_string(),
            up_down(h.sshd_up),
            h.link_up.map_or("?", up_down),
            h.generation.map_or("-".to_string(), |g| g.to_string()),
            units
        );
    }
    if !st.broken.is_empty() {
        println!(
            "break knob set (next build unhealthy): {}",
            st.broken.join(", ")
        );
    }
    if st.all_up() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(3)
    }
}

fn gen_manifest(hosts: usize, out: Option<&Path>) -> ExitCode {
    let manifest = match lab::gen_manifest(hosts) {
        Ok(m) => m,
        Err(_) => {
            eprintln!(
                "nixmox lab gen-manifest: --hosts must be 1..{}",
                lab::MAX_HOSTS
            );
            return ExitCode::from(2);
        }
    };
    let text = serde_json::to_string_pretty(&manifest).unwrap_or_default() + "\n";
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
