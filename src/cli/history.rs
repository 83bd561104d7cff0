//! `nixmox history [SERVICE] [--json]`: operations from the audit log —
//! who did what, when, and how each host's part ended. Interrupted
//! operations on the hosts it lists are reconciled first, so what it
//! shows is what is known now.

use super::GlobalArgs;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct HistoryArgs {
    /// Only operations that touched this service.
    pub service: Option<String>,
    /// [{"op","action","user","pid","started","last","state","cancel","hosts":[{"service","host","outcome","last_step","detail",...}]}]
    #[arg(long)]
    pub json: bool,
    /// The last N operations (0: all).
    #[arg(long, short = 'n', default_value_t = 20)]
    pub last: usize,
}

pub(crate) fn run(global: &GlobalArgs, a: HistoryArgs) -> ExitCode {
    let (fleet, runtime) = match super::status::open_fleet(global) {
        Ok(x) => x,
        Err(code) => return code,
    };
    runtime.block_on(async move {
        let services = a.service.clone().map(|s| vec![s]);
        super::progress::report_reconciled(&fleet, services.as_deref()).await;
        let ops = fleet.history(a.service.as_deref());
        fleet.close().await;
        let mut ops = match ops {
            Ok(ops) => ops,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(1);
            }
        };
        if a.last > 0 && ops.len() > a.last {
            ops.drain(..ops.len() - a.last);
        }
        if a.json {
            println!(
                "{}",
                serde_json::to_string(&ops).unwrap_or_else(|_| "[]".into())
            );
        } else if ops.is_empty() {
            println!("no operations on record");
        } else {
            for line in crate::backend::history::render(&ops) {
                println!("{line}");
            }
        }
        ExitCode::SUCCESS
    })
}
