//! Signals during `deploy` and `rollback`: SIGINT (ctrl-c), SIGTERM and
//! SIGHUP (the operator's ssh session to the admin box dropped) mean the
//! same. The first one cancels the operation: every host finishes the step
//! it is in (a step running detached on a host keeps running there anyway),
//! later steps do not start, locks are released, the cancel is audited,
//! and the command exits non-zero. A second one stops waiting at once: the
//! process ends by SIGTERM after removing its ssh control directory,
//! leaving its locks and an operation without an end in the audit log; the
//! next nixmox that reaches those hosts reconciles it (records it as
//! interrupted with what it finds there, and releases its locks).

use crate::backend::fleet::Canceller;
use std::io::Write;
use std::sync::{Arc, Mutex};
use tokio::signal::unix::{signal, Signal, SignalKind};

/// Which signal, if any, stopped the operation, and the operation to
/// cancel when one comes.
#[derive(Clone, Default)]
pub(super) struct Signals {
    received: Arc<Mutex<Option<&'static str>>>,
    cancel: Arc<Mutex<Option<Canceller>>>,
}

impl Signals {
    pub(super) fn received(&self) -> Option<&'static str> {
        *self.received.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The operation a signal cancels from now on.
    pub(super) fn attach(&self, cancel: Canceller) {
        *self.cancel.lock().unwrap_or_else(|p| p.into_inner()) = Some(cancel);
    }
}

/// Best effort: a terminal that went away (SIGHUP) must not stop us.
fn say(text: &str) {
    let _ = writeln!(std::io::stderr(), "{text}");
}

async fn next(int: &mut Signal, term: &mut Signal, hup: &mut Signal) -> &'static str {
    tokio::select! {
        _ = int.recv() => "SIGINT",
        _ = term.recv() => "SIGTERM",
        _ = hup.recv() => "SIGHUP",
    }
}

/// Watches for SIGINT, SIGTERM and SIGHUP from now on (see the module).
/// Before an operation is attached, the first signal ends the process
/// at once (nothing is held yet); after, it cancels the operation and
/// the second ends the process. Call inside the runtime.
pub(super) fn watch() -> Signals {
    let signals = Signals::default();
    let (Ok(mut int), Ok(mut term), Ok(mut hup)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) else {
        say("warning: cannot watch for signals: a signal kills this operation without cancelling it");
        return signals;
    };
    let state = signals.clone();
    tokio::spawn(async move {
        let first = next(&mut int, &mut term, &mut hup).await;
        *state.received.lock().unwrap_or_else(|p| p.into_inner()) = Some(first);
        let cancel = state
            .cancel
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if let Some(cancel) = cancel {
            crate::backend::audit::set_cancel_reason(first);
            say(&format!(
                "{first}: cancelling: every host finishes its current step, then locks are released \
                 (send it again to stop waiting at once; the next nixmox reconciles what was left)"
            ));
            cancel.cancel();
            // From now on SIGTERM and SIGHUP end the process at once, after
            // removing the ssh control directory (the other commands' way).
            if let Err(e) = crate::backend::ssh::remove_control_dirs_on_termination() {
                say(&format!("warning: {e}"));
            }
            let second = next(&mut int, &mut term, &mut hup).await;
            say(&format!(
                "{second} again: stopping now; locks stay until the next nixmox reaches those hosts"
            ));
        } else {
            say(&format!("{first}: stopping (nothing was started)"));
            if let Err(e) = crate::backend::ssh::remove_control_dirs_on_termination() {
                say(&format!("warning: {e}"));
            }
        }
        // SIGINT is not one the termination handler ends on: become SIGTERM.
        let _ =
            rustix::process::kill_process(rustix::process::getpid(), rustix::process::Signal::TERM);
    });
    signals
}
