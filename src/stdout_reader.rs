//! Knowing that nobody reads our standard output any more, without writing
//! to it: a follow (`logs -f | head -1`, the lab's journal follower) would
//! otherwise only notice at its next line, which may never come.

use rustix::event::{poll, PollFd, PollFlags};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Sets the flag once stdout, a pipe, has no reader left: poll reports
/// POLLERR on a pipe's write end then (it is reported even when not asked for).
pub(crate) fn watch_pipe(flag: Arc<AtomicBool>) {
    std::thread::spawn(move || {
        let stdout = std::io::stdout();
        loop {
            let mut fds = [PollFd::new(&stdout, PollFlags::empty())];
            match poll(&mut fds, None) {
                Ok(_) => {
                    let ended = PollFlags::ERR | PollFlags::HUP | PollFlags::NVAL;
                    if fds[0].revents().intersects(ended) {
                        flag.store(true, Ordering::SeqCst);
                        return;
                    }
                }
                Err(rustix::io::Errno::INTR) => {}
                Err(_) => return,
            }
        }
    });
}
