//! Benchmarks against real lab hosts (needs root; every packet stays inside
//! the lab's private network namespace):
//!
//! - health sweep over 50 hosts: nixmox (one multiplexed master per host,
//!   all hosts at once) vs the seed's serial `ssh host cmd` loop vs plain
//!   parallel ssh without multiplexing, in the same run;
//! - the lab's own `up` time for 50 hosts;
//! - whole-stack deploy of the full manifest: wave-parallel vs serial
//!   (`--parallel 1`), against the critical path;
//! - log streaming: lines/s from a host writing as fast as it can, and the
//!   delay from a write on the host to its line arriving.
//!
//!   cargo bench --bench lab
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests and benches fail loudly by design

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_nixmox");

fn run(args: &[&str]) -> Output {
    let out = Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run nixmox");
    assert!(
        out.status.success(),
        "nixmox {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

struct Lab(PathBuf);

impl Lab {
    fn up(name: &str, manifest: &Path) -> (Lab, Duration) {
        let dir = PathBuf::from(format!("/tmp/nmx-bench-{name}-{}", std::process::id()));
        let _ = Command::new(BIN)
            .args(["lab", "down", "--dir"])
            .arg(&dir)
            .output();
        let _ = std::fs::remove_dir_all(&dir);
        let t = Instant::now();
        run(&[
            "lab",
            "up",
            "--manifest",
            manifest.to_str().unwrap(),
            "--dir",
            dir.to_str().unwrap(),
        ]);
        (Lab(dir), t.elapsed())
    }

    fn d(&self) -> &str {
        self.0.to_str().unwrap()
    }

    fn exec(&self, cmd: &[&str]) -> Output {
        let mut args = vec!["lab", "exec", "--dir", self.d(), "--"];
        args.extend_from_slice(cmd);
        Command::new(BIN)
            .args(&args)
            .stdin(Stdio::null())
            .output()
            .expect("lab exec")
    }

    /// Wall time of a shell script run inside the lab world.
    fn time_sh(&self, script: &str) -> Duration {
        let t = Instant::now();
        let out = self.exec(&["sh", "-c", script]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        t.elapsed()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = Command::new(BIN)
            .args(["lab", "down", "--dir", self.d()])
            .output();
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn q(s: &str) -> String {
    shell_escape::escape(s.into()).into_owned()
}

fn main() {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut rows: Vec<(String, String)> = Vec::new();

    // ---- health sweep, 50 hosts ----
    let gen = std::env::temp_dir().join(format!("nmx-bench-50-{}.json", std::process::id()));
    run(&[
        "lab",
        "gen-manifest",
        "--hosts",
        "50",
        "--out",
        gen.to_str().unwrap(),
    ]);
    let (lab, up_time) = Lab::up("50", &gen);
    rows.push((
        "lab up, 50 hosts (network, sshd, build + activate generation 1)".into(),
        format!("{:.2} s", up_time.as_secs_f64()),
    ));
    let manifest: Value = serde_json::from_str(&std::fs::read_to_string(&gen).unwrap()).unwrap();
    let mut hosts: Vec<(String, String)> = Vec::new();
    for group in ["core_services", "services"] {
        for (_, s) in manifest[group].as_object().into_iter().flatten() {
            hosts.push((
                s["ip"].as_str().unwrap().into(),
                s["interface"]["health"]["liveness"]
                    .as_str()
                    .unwrap()
                    .into(),
            ));
        }
    }
    let cfg = lab.0.join("ssh_config");
    let cfg = cfg.to_str().unwrap();
    let serial: String = hosts
        .iter()
        .map(|(ip, cmd)| format!("ssh -F {cfg} {ip} {} >/dev/null || exit 1\n", q(cmd)))
        .collect();
    let parallel: String = hosts
        .iter()
        .map(|(ip, cmd)| format!("ssh -F {cfg} {ip} {} >/dev/null &\n", q(cmd)))
        .chain(std::iter::once("wait\n".to_string()))
        .collect();
    let out = lab.exec(&["nixmox", "bench-sweep", "--rounds", "30"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sweep: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(sweep["failed"], 0, "{sweep}");
    assert_eq!(sweep["masters"], 50, "one master per host: {sweep}");
    let ours = sweep["median_ms"].as_f64().unwrap();
    let serial_t = median((0..3).map(|_| lab.time_sh(&serial)).collect());
    let parallel_t = median((0..5).map(|_| lab.time_sh(&parallel)).collect());
    rows.push((
        "health sweep, 50 hosts: nixmox, steady state (median of 30)".into(),
        format!("{ours:.1} ms"),
    ));
    rows.push((
        "  first sweep (opens the 50 masters)".into(),
        format!("{:.1} ms", sweep["first_sweep_ms"].as_f64().unwrap()),
    ));
    rows.push((
        "  seed: serial `ssh host cmd` loop (median of 3)".into(),
        format!(
            "{:.1} ms ({:.0}x slower)",
            ms(serial_t),
            ms(serial_t) / ours
        ),
    ));
    rows.push((
        "  plain parallel ssh, no multiplexing (median of 5)".into(),
        format!(
            "{:.1} ms ({:.1}x slower)",
            ms(parallel_t),
            ms(parallel_t) / ours
        ),
    ));
    drop(lab);

    // ---- deploy, full manifest ----
    let full = repo.join("nixos/service-manifest.nix");
    let (lab, _) = Lab::up("deploy", &full);
    let deploy = |salt: &str, parallel: &str| -> (Duration, Vec<Value>) {
        let path = lab.0.join(format!("nixmox-{salt}.json"));
        let mut c: Value =
            serde_json::from_str(&std::fs::read_to_string(lab.0.join("nixmox.json")).unwrap())
                .unwrap();
        c["vars"]["salt"] = Value::from(salt);
        std::fs::write(&path, c.to_string()).unwrap();
        let t = Instant::now();
        let out = lab.exec(&[
            "nixmox",
            "--config",
            path.to_str().unwrap(),
            "deploy",
            "--all",
            "--yes",
            "--json",
            "--parallel",
            parallel,
        ]);
        let took = t.elapsed();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        (
            took,
            serde_json::from_slice::<Value>(&out.stdout)
                .unwrap()
                .as_array()
                .unwrap()
                .clone(),
        )
    };
    let (wave_t, results) = deploy("p1", "8");
    let (serial_t, _) = deploy("s1", "1");
    // The critical path: each wave waits for its slowest host.
    let value = nixmox::manifest::load_value(&full).unwrap();
    let m = nixmox::manifest::validate(&value).manifest.unwrap();
    let waves = nixmox::manifest::DepGraph::from_manifest(&m)
        .waves()
        .unwrap();
    let secs = |n: &str| {
        results
            .iter()
            .find(|r| r["service"] == n)
            .and_then(|r| r["seconds"].as_f64())
            .unwrap_or(0.0)
    };
    let critical: f64 = waves
        .iter()
        .map(|w| w.iter().map(|n| secs(n)).fold(0.0, f64::max))
        .sum();
    rows.push((
        "whole-stack deploy, 15 hosts, wave-parallel (--parallel 8)".into(),
        format!("{:.2} s", wave_t.as_secs_f64()),
    ));
    rows.push((
        "  serial host by host (--parallel 1)".into(),
        format!(
            "{:.2} s ({:.1}x slower)",
            serial_t.as_secs_f64(),
            serial_t.as_secs_f64() / wave_t.as_secs_f64()
        ),
    ));
    rows.push((
        "  critical path (sum over waves of the slowest host)".into(),
        format!(
            "{critical:.2} s (wall is {:.0}% of it)",
            100.0 * wave_t.as_secs_f64() / critical
        ),
    ));

    // ---- log streaming ----
    let svc = "vaultwarden";
    let mut child = Command::new(BIN)
        .args([
            "lab",
            "exec",
            "--dir",
            lab.d(),
            "--",
            "nixmox",
            "logs",
            svc,
            "-f",
            "-n",
            "0",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<(Instant, String)>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(l) = line else { break };
            if tx.send((Instant::now(), l)).is_err() {
                break;
            }
        }
    });
    // The tail is live once a line written now comes back.
    'warm: for i in 0..40 {
        let warm = format!("warm-up-{i}");
        run(&["lab", "fault", "--dir", lab.d(), "write-log", svc, &warm]);
        while let Ok((_, l)) = rx.recv_timeout(Duration::from_millis(500)) {
            if l.contains(&warm) {
                break 'warm;
            }
        }
    }
    // Delay from write to line: ten single writes.
    let mut delays = Vec::new();
    for i in 0..10 {
        let marker = format!("latency-probe-{i}-{}", std::process::id());
        let t = Instant::now();
        run(&["lab", "fault", "--dir", lab.d(), "write-log", svc, &marker]);
        loop {
            let (at, l) = rx
                .recv_timeout(Duration::from_secs(5))
                .expect("the line arrives");
            if l.contains(&marker) {
                delays.push(at - t);
                break;
            }
        }
    }
    // Throughput: the host writes 200,000 lines as fast as it can.
    let ip = m.services[svc].ip.to_string();
    let n = 200_000;
    let unit_log = format!("$NIXMOX_LAB_HOSTDIR/log/{svc}.log");
    let writer = format!(
        "seq 1 {n} | sed 's/^/2026-11-25T19:12:30+0000 {svc}[1]: bulk line /' >> {unit_log}"
    );
    let t = Instant::now();
    let out = lab.exec(&[
        "ssh",
        "-F",
        lab.0.join("ssh_config").to_str().unwrap(),
        &ip,
        &writer,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut got = 0;
    let mut last = t;
    while got < n {
        match rx.recv_timeout(Duration::from_secs(10)) {
            Ok((at, l)) if l.contains("bulk line") => {
                got += 1;
                last = at;
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    let rate = got as f64 / (last - t).as_secs_f64();
    let _ = child.kill();
    let _ = child.wait();
    rows.push((
        "log streaming: lines/s from a host writing as fast as it can".into(),
        format!("{rate:.0} lines/s ({got} of {n} lines)"),
    ));
    rows.push((
        "  delay from a write on the host to the line (median / max of 10)".into(),
        format!(
            "{:.0} / {:.0} ms",
            ms(median(delays.clone())),
            ms(*delays.iter().max().unwrap())
        ),
    ));

    // ---- idle console ----
    let socket = format!("nmx-bench-idle-{}", std::process::id());
    let tag = lab.0.join("nixmox-idle.json");
    std::fs::copy(lab.0.join("nixmox.json"), &tag).unwrap();
    let console = format!(
        "{BIN} lab exec --dir {} -- {BIN} --config {}",
        lab.d(),
        tag.display()
    );
    let ok = Command::new("tmux")
        .args([
            "-L",
            &socket,
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-x",
            "160",
            "-y",
            "48",
            &console,
        ])
        .env("LANG", "C.UTF-8")
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(ok, "tmux is needed for the idle measurement");
    std::thread::sleep(Duration::from_secs(5));
    let tag_s = tag.to_str().unwrap().to_string();
    let pid = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .find(|p| {
            let c = std::fs::read(format!("/proc/{p}/cmdline")).unwrap_or_default();
            let c = String::from_utf8_lossy(&c);
            c.contains(&tag_s) && !c.contains("lab\0exec") && !c.contains("tmux")
        })
        .expect("the console process");
    let ticks = |pid: u32| -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        let after = &stat[stat.rfind(')').unwrap() + 2..];
        let f: Vec<&str> = after.split_whitespace().collect();
        f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
    };
    let t0 = ticks(pid);
    let w0 = Instant::now();
    std::thread::sleep(Duration::from_secs(60));
    let used = (ticks(pid) - t0) as f64 / 100.0; // USER_HZ is 100 on Linux
    let wall = w0.elapsed().as_secs_f64();
    let _ = Command::new("tmux")
        .args(["-L", &socket, "kill-server"])
        .status();
    rows.push((
        "console idle CPU on the demo lab (15 services, 60 s, probes running)".into(),
        format!(
            "{:.2} % of a core ({used:.2} s CPU in {wall:.0} s)",
            100.0 * used / wall
        ),
    ));
    drop(lab);

    println!();
    println!("| measure | value |");
    println!("|---|---:|");
    for (k, v) in rows {
        println!("| {k} | {v} |");
    }
}
