//! Health probing over real OpenSSH (a real sshd on private loopback
//! addresses): probe semantics, timeouts killed on the host, strict host
//! keys, one master per host, unreachable hosts and recovery.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests and benches fail loudly by design

mod common;

use common::TestSshd;
use nixmox::backend::health::{HealthEvent, Options, ProbeKind, Scheduler, ServiceState, Target};
use nixmox::backend::ssh::SshPool;
use nixmox::config::Config;
use nixmox::manifest::Health;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

fn pool(sshd: &TestSshd) -> Arc<SshPool> {
    let c = Config::load(&sshd.config_path()).expect("config");
    Arc::new(SshPool::new(&c.ssh).expect("pool"))
}

fn target(
    service: &str,
    host: &str,
    startup: &str,
    liveness: &str,
    timeout: u64,
    retries: u32,
) -> Target {
    Target {
        service: service.into(),
        host: host.into(),
        health: Some(Health {
            startup: startup.into(),
            liveness: liveness.into(),
            interval: 1,
            timeout,
            retries,
        }),
    }
}

fn fast() -> Options {
    Options {
        fast_retry: None,
        max_interval: Some(Duration::from_millis(150)),
    }
}

/// Waits for a state change of `service` to `want`, returning every event seen.
async fn wait_state(
    rx: &mut mpsc::UnboundedReceiver<HealthEvent>,
    service: &str,
    want: ServiceState,
    within: Duration,
) -> Vec<HealthEvent> {
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let ev = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .unwrap_or_else(|_| {
                panic!("{service} did not become {want:?} within {within:?}; saw {seen:#?}")
            })
            .expect("scheduler alive");
        let hit = matches!(&ev, HealthEvent::State { service: s, state, .. } if s == service && *state == want);
        seen.push(ev);
        if hit {
            return seen;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn down_after_retries_consecutive_failures_then_up_again() {
    let sshd = TestSshd::start("retries", &["127.0.0.21"]);
    let flag = sshd.dir.join("broken");
    let liveness = format!("test ! -e {}", flag.display());
    let t = target("web", "127.0.0.21", "true", &liveness, 5, 3);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let pool = pool(&sshd);
    let sched = Scheduler::spawn(pool.clone(), vec![t], fast(), tx);

    let seen = wait_state(&mut rx, "web", ServiceState::Up, Duration::from_secs(10)).await;
    assert!(seen
        .iter()
        .any(|e| matches!(e, HealthEvent::Probe(p) if p.kind == ProbeKind::Startup && p.ok)));

    std::fs::write(&flag, "").unwrap();
    let seen = wait_state(&mut rx, "web", ServiceState::Down, Duration::from_secs(10)).await;
    let failures: Vec<_> = seen
        .iter()
        .filter_map(|e| match e {
            HealthEvent::Probe(p) if !p.ok => Some(p),
            _ => None,
        })
        .collect();
    assert_eq!(
        failures.len(),
        3,
        "Down exactly at the 3rd consecutive failure"
    );
    assert!(failures.iter().all(|p| p.kind == ProbeKind::Liveness));
    // Still Up during the first two failures: no other state change in between.
    assert_eq!(
        seen.iter()
            .filter(|e| matches!(e, HealthEvent::State { .. }))
            .count(),
        1
    );

    std::fs::remove_file(&flag).unwrap();
    wait_state(&mut rx, "web", ServiceState::Up, Duration::from_secs(10)).await;
    sched.shutdown().await;
    pool.close_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_probe_is_cut_at_its_timeout_and_killed_on_the_host() {
    let sshd = TestSshd::start("hang", &["127.0.0.22"]);
    let marker = format!("nixmox-hang-{}", std::process::id());
    let script = format!("sleep 120 # {marker}");
    let t = target("slow", "127.0.0.22", &script, &script, 1, 1);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let pool = pool(&sshd);
    let started = Instant::now();
    let sched = Scheduler::spawn(pool.clone(), vec![t], fast(), tx);
    let seen = wait_state(&mut rx, "slow", ServiceState::Down, Duration::from_secs(10)).await;
    let probe = seen
        .iter()
        .find_map(|e| match e {
            HealthEvent::Probe(p) => Some(p.clone()),
            _ => None,
        })
        .expect("a probe result");
    assert!(probe.timed_out, "{probe:?}");
    assert!(
        probe.latency >= Duration::from_millis(900) && probe.latency < Duration::from_secs(3),
        "{probe:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(
        probe.tail.iter().any(|l| l.contains("timeout of 1s")),
        "{probe:?}"
    );
    sched.shutdown().await;
    // The host killed the command itself: no sleeping probe is left behind.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let left = std::process::Command::new("pgrep")
        .args(["-f", &marker])
        .output()
        .unwrap();
    assert!(
        !left.status.success(),
        "probe still running on the host: {}",
        String::from_utf8_lossy(&left.stdout)
    );
    pool.close_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_or_unknown_host_key_is_refused_clearly() {
    let sshd = TestSshd::start("hostkey", &["127.0.0.23", "127.0.0.24"]);
    // Another key for .23, and no entry at all for .24.
    let other = sshd.dir.join("other");
    std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&other)
        .status()
        .unwrap();
    let key = std::fs::read_to_string(other.with_extension("pub")).unwrap();
    let key: Vec<&str> = key.split_whitespace().take(2).collect();
    std::fs::write(
        sshd.dir.join("known_hosts"),
        format!("127.0.0.23 {}\n", key.join(" ")),
    )
    .unwrap();
    let known_before = std::fs::read_to_string(sshd.dir.join("known_hosts")).unwrap();

    let pool = pool(&sshd);
    let err = pool
        .run("127.0.0.23", &["true"], Duration::from_secs(5))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("host key of 127.0.0.23 has CHANGED"),
        "{text}"
    );
    assert!(text.contains("refusing to connect"), "{text}");
    assert!(!text.contains("@@@"), "{text}");
    let err = pool
        .run("127.0.0.24", &["true"], Duration::from_secs(5))
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("host key of 127.0.0.24 is unknown"),
        "{err}"
    );
    // Strict: nothing was learned.
    assert_eq!(
        std::fs::read_to_string(sshd.dir.join("known_hosts")).unwrap(),
        known_before
    );
    assert_eq!(pool.open_masters().await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_master_per_host_however_many_probes() {
    let ips = ["127.0.0.31", "127.0.0.32", "127.0.0.33"];
    let sshd = TestSshd::start("masters", &ips);
    let pool = pool(&sshd);
    let targets: Vec<Target> = ips
        .iter()
        .enumerate()
        .map(|(i, ip)| target(&format!("s{i}"), ip, "true", "true", 5, 1))
        .collect();
    let mut runs = Vec::new();
    for _ in 0..4 {
        let pool = pool.clone();
        let targets = targets.clone();
        runs.push(tokio::spawn(async move {
            nixmox::backend::health::sweep(&pool, &targets).await
        }));
    }
    for r in runs {
        let (_, failed) = r.await.unwrap();
        assert_eq!(failed, 0);
    }
    assert_eq!(pool.open_masters().await, 3);
    let masters: Vec<String> = sshd
        .ssh_processes()
        .into_iter()
        .filter(|l| l.contains(" -M "))
        .collect();
    assert_eq!(masters.len(), 3, "{masters:#?}");
    pool.close_all().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        sshd.ssh_processes(),
        Vec::<String>::new(),
        "masters outlived close_all"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_going_down_is_unreachable_quickly_and_recovers_without_restart() {
    let a = TestSshd::start("down-a", &["127.0.0.41"]);
    let b = TestSshd::start("down-b", &["127.0.0.42"]);
    // One pool for both: same client key/known_hosts needed, so merge b's into a's files.
    let known = std::fs::read_to_string(a.dir.join("known_hosts")).unwrap()
        + &std::fs::read_to_string(b.dir.join("known_hosts")).unwrap();
    std::fs::write(a.dir.join("known_hosts"), known).unwrap();
    std::fs::copy(a.dir.join("id.pub"), b.dir.join("id.pub")).unwrap();
    let pool = pool(&a);
    let targets = vec![
        target("alpha", "127.0.0.41", "true", "true", 5, 2),
        target("beta", "127.0.0.42", "true", "true", 5, 2),
    ];
    let (tx, mut rx) = mpsc::unbounded_channel();
    let sched = Scheduler::spawn(pool.clone(), targets, fast(), tx);
    let seen = wait_state(&mut rx, "alpha", ServiceState::Up, Duration::from_secs(10)).await;
    if !seen.iter().any(|e| matches!(e, HealthEvent::State { service, state: ServiceState::Up, .. } if service == "beta")) {
        wait_state(&mut rx, "beta", ServiceState::Up, Duration::from_secs(10)).await;
    }

    let stopped = Instant::now();
    a.stop();
    let seen = wait_state(
        &mut rx,
        "alpha",
        ServiceState::Unreachable,
        Duration::from_secs(10),
    )
    .await;
    assert!(
        stopped.elapsed() < Duration::from_secs(2) + Duration::from_millis(500),
        "took {:?}",
        stopped.elapsed()
    );
    assert!(
        !seen
            .iter()
            .any(|e| matches!(e, HealthEvent::State { service, .. } if service == "beta")),
        "beta changed state: {seen:#?}"
    );
    assert!(seen.iter().any(
        |e| matches!(e, HealthEvent::Host { host, reachable: false, .. } if host == "127.0.0.41")
    ));

    a.resume();
    wait_state(&mut rx, "alpha", ServiceState::Up, Duration::from_secs(15)).await;
    sched.shutdown().await;
    pool.close_all().await;
}
