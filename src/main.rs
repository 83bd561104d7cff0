use clap::Parser;
use color_eyre::config::{HookBuilder, Theme};
use std::io::IsTerminal;
use std::process::ExitCode;

fn main() -> ExitCode {
    install_reports();
    let cli = nixmox::cli::Cli::parse();
    match nixmox::cli::try_run(cli) {
        Ok(code) => code,
        Err(report) => {
            eprintln!("{report:?}");
            ExitCode::from(1)
        }
    }
}

/// Panics and unexpected errors are reported by color-eyre: the message and
/// a suggestion, coloured only for a terminal without `NO_COLOR` (any value,
/// as in the console). A backtrace is captured only when `RUST_BACKTRACE`
/// asks for one (color-eyre reads it), and no hint about it otherwise.
fn install_reports() {
    let colour = std::env::var_os("NO_COLOR").is_none() && std::io::stderr().is_terminal();
    let theme = if colour { Theme::dark() } else { Theme::new() };
    // Installing only fails when a hook is already installed, and then that
    // one reports instead.
    let _ = HookBuilder::default()
        .theme(theme)
        .display_env_section(false)
        .display_location_section(false)
        .panic_section(
            "Suggestion: this is a bug in nixmox; please report it with the command you ran \
             (RUST_BACKTRACE=1 adds a backtrace)",
        )
        .install();
}
