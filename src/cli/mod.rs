//! Command-line interface: every subcommand is a thin shell over the library.

use crate::manifest::{DepGraph, Diagnostic, Diagnostics, Manifest, PlanError};
use clap::{Args, Parser, Subcommand};
use serde_json::json;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::ExitCode;

pub(crate) mod demo;
pub mod deploy;
mod generate;
pub(crate) mod history;
pub mod lab;
pub(crate) mod logs;
pub(crate) mod progress;
pub mod rollback;
mod signals;
mod ssh;
pub(crate) mod status;

#[derive(Debug, Parser)]
#[command(
    name = "nixmox",
    version,
    about = "Operations console for a manifest-driven NixOS homelab",
    long_about = "Operations console for a manifest-driven NixOS homelab.\n\n\
One Nix manifest describes every service (ip, hostname, dependencies, proxy, auth, database, \
health checks). nixmox validates it, shows the services' live health over ssh, deploys in dependency \
order with a health gate and automatic rollback, rolls back, and tails logs: in a terminal console \
(the default) or as plain subcommands."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    /// Without a subcommand: the console.
    #[command(subcommand)]
    pub command: Option<Commands>,
}

/// Where the manifest is when nothing names one.
pub const DEFAULT_MANIFEST: &str = "nixos/service-manifest.nix";

/// After [`GlobalArgs::resolve`] (which `run` does first) both paths are
/// settled; straight from clap, an empty value means "not given".
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// The service manifest (.nix is evaluated with nix-instantiate, .json is read as is)
    /// [default: the config's `manifest`, else nixos/service-manifest.nix]
    #[arg(
        long,
        short = 'm',
        global = true,
        env = "NIXMOX_MANIFEST",
        value_name = "PATH",
        default_value = "",
        hide_default_value = true,
        value_parser = path_or_empty()
    )]
    pub manifest: PathBuf,
    /// Console config (TOML, or the JSON `nixmox lab up` writes: ssh settings, command
    /// templates) [default: $XDG_CONFIG_HOME/nixmox/config.toml if it exists]
    #[arg(
        long,
        short = 'c',
        global = true,
        env = "NIXMOX_CONFIG",
        value_name = "FILE",
        value_parser = path_or_empty()
    )]
    pub config: Option<PathBuf>,
}

/// Unlike clap's own path parser, this accepts an empty value, so an empty
/// `NIXMOX_MANIFEST=` or `NIXMOX_CONFIG=` reads as unset rather than an error.
fn path_or_empty() -> impl clap::builder::TypedValueParser<Value = PathBuf> {
    use clap::builder::TypedValueParser;
    clap::builder::OsStringValueParser::new().map(PathBuf::from)
}

impl GlobalArgs {
    /// Settles the config file ([`crate::config::resolve_path`]) and the
    /// manifest: the one named, else the config's `manifest` (relative to the
    /// config file), else [`DEFAULT_MANIFEST`]. A manifest that exists but is
    /// not a regular file is refused here, before anything opens it.
    pub fn resolve(mut self) -> Result<Self, String> {
        self.config = crate::config::resolve_path(self.config.as_deref());
        if self.manifest.as_os_str().is_empty() {
            self.manifest = self
                .manifest_from_config()?
                .unwrap_or_else(|| PathBuf::from(DEFAULT_MANIFEST));
        }
        crate::config::require_regular_file(&self.manifest)
            .map_err(|e| format!("{}: cannot read manifest: {e}", self.manifest.display()))?;
        Ok(self)
    }

    fn manifest_from_config(&self) -> Result<Option<PathBuf>, String> {
        let Some(path) = &self.config else {
            return Ok(None);
        };
        let config = crate::config::Config::load(path).map_err(|e| e.to_string())?;
        let base = path.parent().unwrap_or(std::path::Path::new(""));
        Ok(config.manifest.map(|m| base.join(m)))
    }
}

#[derive(Debug, Subcommand)]
pub enum Commands {
    /// The console (the default): dependency tree, live health, deploy, rollback, logs.
    Tui,
    /// Validate the manifest and report every problem at once (exit 1 if any error).
    Check {
        /// Print {"valid":bool,"errors":[{"path","message"}],"warnings":[...]} on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Show the deploy waves: nothing deploys before what it depends on.
    Plan {
        /// Plan only these services (default: the whole stack).
        services: Vec<String>,
        /// Also deploy everything that (transitively) depends on the named services.
        #[arg(long, short = 'D')]
        with_dependents: bool,
        /// Print {"waves":[["a","b"],["c"]]} on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Print the dependency graph as a tree (services under what they need), or as Graphviz DOT.
    Graph {
        /// Graphviz DOT instead of a tree (edges point from a service to what it depends on).
        #[arg(long)]
        dot: bool,
    },
    /// Health of every service over ssh: one sweep (default) or a live table.
    /// Exit 0 when all are up, 3 when any is not.
    Status {
        /// One sweep, then exit (the default).
        #[arg(long, conflicts_with = "watch")]
        once: bool,
        /// Keep probing and redraw the table on every change (ctrl-c to stop).
        #[arg(long)]
        watch: bool,
        /// JSON: an array of {service, host, state, latency_ms, since, error, impacted_by, lock, drift, ...}.
        #[arg(long)]
        json: bool,
        /// Also build what the manifest would deploy and name the hosts that run something
        /// else (outdated). Always part of --json.
        #[arg(long, conflicts_with = "watch")]
        drift: bool,
    },
    /// Deploy services in dependency waves: build, copy, activate, health gate; a failed
    /// gate rolls that host back. Shows the plan and asks first (unless --yes).
    /// Exit 0 only when every host ended deployed and healthy.
    Deploy(deploy::DeployArgs),
    /// Switch a service's host back to an earlier generation (default: the previous one),
    /// then verify health. Shows what will happen and asks first (unless --yes).
    Rollback(rollback::RollbackArgs),
    /// Operations from the audit log: who did what, when, and how each host's part
    /// ended (interrupted ones marked).
    History(history::HistoryArgs),
    /// The system generations on a service's host.
    Generations {
        service: String,
        /// [{"generation":3,"date":"…","current":true,"path":"/nix/store/…"}]
        #[arg(long)]
        json: bool,
    },
    /// What nixos/lib generates for a service: its Caddy site, database, host and secrets.
    Show {
        service: String,
        /// The raw JSON that nixos/lib/show.nix evaluates to.
        #[arg(long)]
        json: bool,
    },
    /// The journal of a service's unit (interface.logs.unit, default its name), over ssh.
    /// Several services: their lines interleaved by time, each tagged with its service.
    Logs {
        #[arg(required = true)]
        services: Vec<String>,
        /// Keep following new lines (ctrl-c stops, and ends the remote tail).
        #[arg(long, short = 'f')]
        follow: bool,
        /// How many past lines to show first.
        #[arg(long, short = 'n', default_value_t = 50)]
        lines: usize,
    },
    /// Times health sweeps over open masters (for benchmarks): one warm-up
    /// sweep, then ROUNDS timed ones; prints JSON.
    #[command(hide = true)]
    BenchSweep {
        #[arg(long, default_value_t = 20)]
        rounds: u32,
    },
    /// A lab for the manifest (real isolated hosts on this machine, as root), the console
    /// inside it, and the lab torn down when the console exits.
    Demo {
        /// Where the lab lives (default: a fresh /tmp/nixmox-demo-PID).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Start every host at generation 1 (by default each gets a past: an
        /// earlier build as generation 2, today's as 3, so rollback has
        /// somewhere to go).
        #[arg(long)]
        fresh: bool,
    },
    /// Real, isolated test hosts for a manifest on this machine (root): up, exec, fault, down.
    Lab(lab::LabArgs),
    /// Print a shell completion script, e.g.
    /// `nixmox completions bash > ~/.local/share/bash-completion/completions/nixmox`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// A shell on a service's host (or one command), over the same strict ssh
    /// setup as every other command: `nixmox ssh dns -- systemctl status blocky`.
    Ssh {
        service: String,
        /// The command to run instead of a login shell.
        #[arg(last = true)]
        command: Vec<String>,
    },
    /// Print the man page (roff), e.g. `nixmox man > ~/.local/share/man/man1/nixmox.1`.
    Man,
}

/// Runs a command; expected failures are exit codes whose message is already
/// printed. An `Err` is what should not happen, for `main` to report.
pub fn try_run(cli: Cli) -> color_eyre::Result<ExitCode> {
    let command = cli.command.unwrap_or(Commands::Tui);
    // Generating completions or a man page must work anywhere, whatever
    // config or manifest is (not) there.
    let global = if matches!(command, Commands::Completions { .. } | Commands::Man) {
        cli.global
    } else {
        match cli.global.resolve() {
            Ok(g) => g,
            Err(e) => {
                eprintln!("error: {e}");
                return Ok(ExitCode::from(1));
            }
        }
    };
    // The console, the demo, deploy and rollback handle SIGTERM/SIGHUP
    // themselves (and close their pools); every other command would die
    // leaving its ssh control directory behind.
    if !matches!(
        command,
        Commands::Tui
            | Commands::Demo { .. }
            | Commands::Lab(_)
            | Commands::Deploy(_)
            | Commands::Rollback(_)
    ) {
        if let Err(e) = crate::backend::ssh::remove_control_dirs_on_termination() {
            tracing::warn!("cannot watch for SIGTERM/SIGHUP: {e}");
        }
    }
    dispatch(command, &global)
}

/// [`try_run`], with an unexpected error printed on one line.
pub fn run(cli: Cli) -> ExitCode {
    try_run(cli).unwrap_or_else(|e| {
        eprintln!("error: {e:#}");
        ExitCode::from(1)
    })
}

fn dispatch(command: Commands, global: &GlobalArgs) -> color_eyre::Result<ExitCode> {
    let code = match command {
        Commands::Tui => tui(global),
        Commands::Check { json } => check(global, json),
        Commands::Plan {
            services,
            with_dependents,
            json,
        } => plan(global, &services, with_dependents, json),
        Commands::Graph { dot } => graph(global, dot),
        Commands::Status {
            once: _,
            watch,
            json,
            drift,
        } => status::run(global, watch, json, drift),
        Commands::Deploy(args) => deploy::run(global, args),
        Commands::Rollback(args) => rollback::rollback(global, args),
        Commands::History(args) => history::run(global, args),
        Commands::Generations { service, json } => rollback::generations(global, &service, json),
        Commands::Show { service, json } => show(global, &service, json),
        Commands::Logs {
            services,
            follow,
            lines,
        } => logs::run(global, &services, follow, lines),
        Commands::BenchSweep { rounds } => status::bench_sweep(global, rounds),
        Commands::Demo { dir, fresh } => demo::run(global, dir, !fresh),
        Commands::Lab(args) => lab::run(args, &global.manifest),
        Commands::Ssh { service, command } => ssh::run(global, &service, &command),
        Commands::Completions { shell } => {
            generate::completions(shell)?;
            ExitCode::SUCCESS
        }
        Commands::Man => {
            generate::man()?;
            ExitCode::SUCCESS
        }
    };
    Ok(code)
}

fn show(global: &GlobalArgs, service: &str, as_json: bool) -> ExitCode {
    let m = match usable(global) {
        Ok(m) => m,
        Err(code) => return code,
    };
    if let Err(code) = status::find_service(&m, service) {
        return code;
    }
    match crate::backend::nixos::show(&global.manifest, service) {
        Ok(v) if as_json => {
            println!("{v}");
            ExitCode::SUCCESS
        }
        Ok(v) => {
            print!("{}", crate::backend::nixos::render(service, &v));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

fn tui(global: &GlobalArgs) -> ExitCode {
    let (manifest, config, runtime) = match status::setup(global) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let _log = crate::logging::init("console");
    let path = global.manifest.display().to_string();
    match runtime.block_on(crate::app::run::run(
        manifest,
        path,
        config,
        crate::views::draw,
    )) {
        Ok(crate::app::run::Exit::Signal(sig)) => {
            eprintln!("nixmox: stopped by {sig}");
            ExitCode::from(1)
        }
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: console: {e}");
            ExitCode::from(1)
        }
    }
}

pub use crate::manifest::Unusable;

/// Load + validate. On success also returns the warnings to show.
pub fn load_manifest(global: &GlobalArgs) -> Result<(Manifest, Diagnostics), Unusable> {
    crate::manifest::load_valid(&global.manifest).map(|v| {
        (
            v.manifest,
            Diagnostics {
                errors: Vec::new(),
                warnings: v.warnings,
            },
        )
    })
}

fn print_diagnostics(list: &[Diagnostic]) {
    for d in list {
        eprintln!("{d}");
    }
}

/// Loads the manifest for a command that needs a valid one; prints warnings
/// and, on failure, every error.
pub(crate) fn usable(global: &GlobalArgs) -> Result<Manifest, ExitCode> {
    match load_manifest(global) {
        Ok((m, diags)) => {
            print_diagnostics(&diags.warnings);
            Ok(m)
        }
        Err(u) => {
            print_diagnostics(&u.warnings);
            print_diagnostics(&u.errors);
            eprintln!(
                "{}: {} error(s); fix them first (`nixmox check` lists them)",
                global.manifest.display(),
                u.errors.len()
            );
            Err(ExitCode::from(1))
        }
    }
}

fn check(global: &GlobalArgs, as_json: bool) -> ExitCode {
    // A valid manifest is still unusable when a command template is wrong:
    // said now, not at deploy time after the lock is taken.
    let result = load_manifest(global).and_then(|(m, diags)| {
        let errors = template_errors(global, &m);
        if errors.is_empty() {
            Ok((m, diags))
        } else {
            Err(crate::manifest::Unusable {
                errors,
                warnings: diags.warnings,
            })
        }
    });
    if as_json {
        let (valid, errors, warnings) = match &result {
            Ok((_, d)) => (true, Vec::new(), d.warnings.clone()),
            Err(u) => (false, u.errors.clone(), u.warnings.clone()),
        };
        println!(
            "{}",
            json!({ "valid": valid, "errors": errors, "warnings": warnings })
        );
        return if valid {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        };
    }
    match result {
        Ok((m, diags)) => {
            print_diagnostics(&diags.warnings);
            let graph = DepGraph::from_manifest(&m);
            let waves = graph.waves().map(|w| w.len()).unwrap_or(0);
            let core = m
                .services
                .values()
                .filter(|s| s.group == crate::manifest::Group::CoreServices)
                .count();
            let enabled = m.services.values().filter(|s| s.enable).count();
            println!(
                "ok: {}: {} services ({} core, {} apps; {} enabled) on {} hosts, {} deploy waves, {} warning(s)",
                global.manifest.display(),
                m.services.len(),
                core,
                m.services.len() - core,
                enabled,
                enabled,
                waves,
                diags.warnings.len()
            );
            ExitCode::SUCCESS
        }
        Err(u) => {
            print_diagnostics(&u.warnings);
            print_diagnostics(&u.errors);
            eprintln!(
                "{}: invalid: {} error(s), {} warning(s)",
                global.manifest.display(),
                u.errors.len(),
                u.warnings.len()
            );
            ExitCode::from(1)
        }
    }
}

/// Every command template (defaults, the manifest's `deploy.templates`, the
/// config's `templates`) checked for malformed braces and placeholders that
/// no step supplies, each error at the attribute that wrote the template.
fn template_errors(global: &GlobalArgs, m: &Manifest) -> Vec<Diagnostic> {
    use crate::backend::exec::Templates;
    let error = |path: String, message: String| Diagnostic {
        severity: crate::manifest::Severity::Error,
        path,
        message,
    };
    let config = match crate::config::Config::load_optional(global.config.as_deref()) {
        Ok(c) => c,
        Err(e) => return vec![error("config".into(), e.to_string())],
    };
    let templates = match Templates::resolve(m.deploy.as_ref(), &config.templates) {
        Ok(t) => t,
        Err(e) => {
            let (path, message) = e.split_once(": ").unwrap_or(("", &e));
            return vec![error(path.to_string(), message.to_string())];
        }
    };
    let base = crate::backend::fleet::base_vars(&global.manifest, m, &config);
    let names: Vec<&str> = base.keys().map(String::as_str).collect();
    templates
        .check(&names)
        .into_iter()
        .map(|(step, message)| {
            let origin = if config.templates.contains_key(&step) {
                "config templates"
            } else {
                "deploy.templates"
            };
            error(format!("{origin}.{step}"), message)
        })
        .collect()
}

fn plan(global: &GlobalArgs, names: &[String], with_dependents: bool, as_json: bool) -> ExitCode {
    let m = match usable(global) {
        Ok(m) => m,
        Err(code) => return code,
    };
    let graph = DepGraph::from_manifest(&m);
    let result = selection(&m, &graph, names, with_dependents).and_then(|sel| graph.waves_of(&sel));
    let waves = match result {
        Ok(w) => w,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    if as_json {
        println!("{}", json!({ "waves": waves }));
        return ExitCode::SUCCESS;
    }
    let hosts: usize = waves.iter().map(Vec::len).sum();
    println!("{} wave(s), {} host(s):", waves.len(), hosts);
    for (i, wave) in waves.iter().enumerate() {
        let items: Vec<String> = wave
            .iter()
            .map(|n| format!("{} ({})", n, m.services[n].ip))
            .collect();
        println!("  wave {}: {}", i + 1, items.join(", "));
    }
    ExitCode::SUCCESS
}

/// Resolves named services (all enabled ones when none are named), refusing
/// unknown and disabled names with a clear reason (the core's selection).
pub fn selection(
    m: &Manifest,
    graph: &DepGraph,
    names: &[String],
    with_dependents: bool,
) -> Result<BTreeSet<String>, PlanError> {
    crate::backend::fleet::select(m, graph, names, with_dependents)
}

fn graph(global: &GlobalArgs, dot: bool) -> ExitCode {
    let m = match usable(global) {
        Ok(m) => m,
        Err(code) => return code,
    };
    let graph = DepGraph::from_manifest(&m);
    if dot {
        print!("{}", render_dot(&m, &graph));
    } else {
        print!("{}", render_tree(&m, &graph));
    }
    ExitCode::SUCCESS
}

pub fn render_dot(m: &Manifest, graph: &DepGraph) -> String {
    let mut out = String::from("digraph nixmox {\n  rankdir=BT;\n  node [shape=box];\n");
    for s in m.services.values().filter(|s| s.enable) {
        out.push_str(&format!(
            "  {} [label={}];\n",
            json!(s.name),
            json!(format!("{}\n{}", s.name, s.ip))
        ));
        for dep in graph.depends_on(&s.name) {
            out.push_str(&format!("  {} -> {};\n", json!(s.name), json!(dep)));
        }
    }
    out.push_str("}\n");
    out
}

/// Roots (services that need nothing) at the left, each service under
/// everything it depends on; a service already shown is marked, not repeated.
pub fn render_tree(m: &Manifest, graph: &DepGraph) -> String {
    struct Printer<'a> {
        m: &'a Manifest,
        g: &'a DepGraph,
        shown: BTreeSet<String>,
        out: String,
    }
    impl Printer<'_> {
        fn walk(&mut self, name: &str, prefix: &str, branch: &str, child_prefix: &str) {
            let repeated = !self.shown.insert(name.to_string());
            let note = if repeated { "  (shown above)" } else { "" };
            let ip = self.m.services[name].ip;
            self.out
                .push_str(&format!("{prefix}{branch}{name}  {ip}{note}\n"));
            if repeated {
                return;
            }
            let children = self.g.required_by(name);
            for (i, c) in children.iter().enumerate() {
                let last = i + 1 == children.len();
                let (branch, more) = if last {
                    ("└── ", "    ")
                } else {
                    ("├── ", "│   ")
                };
                self.walk(c, child_prefix, branch, &format!("{child_prefix}{more}"));
            }
        }
    }
    let mut p = Printer {
        m,
        g: graph,
        shown: BTreeSet::new(),
        out: String::new(),
    };
    for root in graph.roots() {
        p.walk(&root, "", "", "");
    }
    p.out
}
