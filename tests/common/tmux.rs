//! The real binary in a real terminal: a private tmux server per test, keys
//! sent with `send-keys`, the screen read with `capture-pane`. Shared by the
//! end-to-end tests.
#![allow(dead_code)]

use super::lab::{on_path, text, Lab};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

pub(crate) struct Tmux {
    socket: String,
}

impl Tmux {
    /// A detached session of `w`×`h` running `sh`, UTF-8, colours on.
    pub(crate) fn new(name: &str, w: u16, h: u16) -> Tmux {
        assert!(
            on_path("tmux"),
            "the end-to-end tests need tmux (apt-get install tmux)"
        );
        let t = Tmux {
            socket: format!("nmx-{name}-{}", std::process::id()),
        };
        let out = Command::new("tmux")
            .args(["-L", &t.socket, "-f", "/dev/null", "new-session", "-d"])
            .args(["-x", &w.to_string(), "-y", &h.to_string(), "sh"])
            .env("LANG", "C.UTF-8")
            .env_remove("NO_COLOR")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out));
        t
    }

    /// Runs a tmux command on this server; it must succeed.
    pub(crate) fn tmux(&self, args: &[&str]) {
        let out = Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out));
    }

    pub(crate) fn keys(&self, keys: &[&str]) {
        for k in keys {
            self.tmux(&["send-keys", k]);
            // Apart, so ESC and a letter are not read as alt-letter.
            std::thread::sleep(Duration::from_millis(80));
        }
    }

    /// Types `line` literally, then Enter.
    pub(crate) fn type_line(&self, line: &str) {
        self.tmux(&["send-keys", "-l", line]);
        self.keys(&["Enter"]);
    }

    pub(crate) fn screen(&self) -> String {
        self.capture(&[])
    }

    /// The screen with colour escapes.
    pub(crate) fn screen_ansi(&self) -> String {
        self.capture(&["-e"])
    }

    fn capture(&self, extra: &[&str]) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket, "capture-pane", "-p"])
            .args(extra)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Starts the console inside `lab` on `manifest` (the lab's console
    /// config, so its strict ssh settings).
    pub(crate) fn start_console(&self, lab: &Lab, manifest: &Path) {
        let bin = env!("CARGO_BIN_EXE_nixmox");
        self.type_line(&format!(
            "{bin} lab exec --dir {} -- {bin} --manifest {}",
            lab.d(),
            manifest.display()
        ));
    }

    /// The screen once `f` holds for it; fails with the screen after `within`.
    pub(crate) fn wait_for(
        &self,
        what: &str,
        within: Duration,
        f: impl Fn(&str) -> bool,
    ) -> String {
        let t = Instant::now();
        loop {
            let s = self.screen();
            if f(&s) {
                return s;
            }
            assert!(
                t.elapsed() < within,
                "{what}: not on screen within {within:?}:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .output();
    }
}

/// The tree row of `service` on `screen`: its health glyph, then its name.
pub(crate) fn tree_row<'a>(screen: &'a str, service: &str) -> Option<&'a str> {
    screen.lines().find(|l| {
        ["●", "✖", "⊘", "◐", "○", "▼"]
            .iter()
            .any(|g| l.contains(&format!("{g} {service} ")))
    })
}
