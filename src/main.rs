use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = nixmox::cli::Cli::parse();
    nixmox::cli::run(cli)
}
