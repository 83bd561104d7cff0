//! `nixmox ssh SERVICE [-- COMMAND…]`: a shell on the service's host, or
//! one command, over the same strict ssh setup as every other command.

use super::GlobalArgs;
use std::io::IsTerminal;
use std::process::ExitCode;

pub(crate) fn run(global: &GlobalArgs, service: &str, remote: &[String]) -> ExitCode {
    let (manifest, config, runtime) = match super::status::setup(global) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let svc = match super::status::find_service(&manifest, service) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let host = svc.ip.to_string();
    // A terminal on both ends gets a pty; a pipe gets plain bytes.
    let tty = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    runtime.block_on(async move {
        let pool = match super::status::open_pool(&config) {
            Ok(p) => p,
            Err(code) => return code,
        };
        let code =
            match crate::backend::shell::command(&pool, &config.ssh, &host, remote, tty).await {
                Ok((mut cmd, session)) => {
                    // The child owns the terminal until it ends; waiting blocks
                    // only this command's thread.
                    let status = tokio::task::spawn_blocking(move || cmd.status()).await;
                    drop(session);
                    match status {
                        Ok(Ok(s)) => {
                            ExitCode::from(s.code().and_then(|c| u8::try_from(c).ok()).unwrap_or(1))
                        }
                        Ok(Err(e)) => {
                            eprintln!("error: cannot run ssh: {e}");
                            ExitCode::from(1)
                        }
                        Err(e) => {
                            eprintln!("error: {e}");
                            ExitCode::from(1)
                        }
                    }
                }
                Err(e) => {
                    eprintln!("error: {service} ({host}): {e}");
                    ExitCode::from(1)
                }
            };
        pool.close_all().await;
        code
    })
}
