//! The system profile's generations on a host, as `nix-env
//! --list-generations` prints them, with the store path of each, whether
//! that path exists (`present`) and whether it is what the host runs
//! (`running`). Host output is parsed strictly: anything unexpected is an
//! error naming the host and the line, never a guess acted on.

use super::sanitize;
use super::ssh::SshPool;
use serde::Serialize;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Generation {
    pub generation: u64,
    pub date: String,
    /// The profile points at this generation.
    pub current: bool,
    pub path: String,
    /// The host runs this generation's system (its `running` template).
    pub running: bool,
    /// Its store path exists (a dangling generation is shown, never chosen).
    pub present: bool,
}

/// One `nix-env --list-generations` line: number, date, current.
type Listed = (u64, String, bool);

/// Parses `   3   2026-11-25 19:12:30   (current)` lines. Every non-empty
/// line must be one; at most one is current; numbers are unique.
pub fn parse_list(text: &str) -> Result<Vec<Listed>, String> {
    let mut out: Vec<Listed> = Vec::new();
    for (i, l) in text.lines().enumerate() {
        if l.trim().is_empty() {
            continue;
        }
        let bad = |why: &str| format!("line {}: {why}: {:?}", i + 1, sanitize::line(l.as_bytes()));
        let words: Vec<&str> = l.split_whitespace().collect();
        let (n, date, time, current) = match words.as_slice() {
            [n, d, t] => (n, d, t, false),
            [n, d, t, "(current)"] => (n, d, t, true),
            _ => return Err(bad("not a generation line")),
        };
        let n: u64 = n
            .parse()
            .map_err(|_| bad("the generation is not a number"))?;
        if !valid_date(date) || !valid_time(time) {
            return Err(bad("impossible date"));
        }
        if out.iter().any(|g| g.0 == n) {
            return Err(bad("generation listed twice"));
        }
        if current && out.iter().any(|g| g.2) {
            return Err(bad("a second (current) generation"));
        }
        out.push((n, format!("{date} {time}"), current));
    }
    Ok(out)
}

fn numbers(s: &str, sep: char, widths: [usize; 3]) -> Option<[u32; 3]> {
    let parts: Vec<&str> = s.split(sep).collect();
    let [a, b, c] = parts.as_slice() else {
        return None;
    };
    let mut out = [0u32; 3];
    for (i, (p, w)) in [a, b, c].iter().zip(widths).enumerate() {
        if p.len() != w || !p.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        out[i] = p.parse().ok()?;
    }
    Some(out)
}

fn valid_date(s: &str) -> bool {
    let Some([y, m, d]) = numbers(s, '-', [4, 2, 2]) else {
        return false;
    };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    y >= 1970 && (1..=days).contains(&d)
}

fn valid_time(s: &str) -> bool {
    numbers(s, ':', [2, 2, 2]).is_some_and(|[h, m, s]| h < 24 && m < 60 && s < 61)
}

/// What a host says it runs: one absolute path, nothing else.
pub(crate) fn parse_running(text: &str) -> Result<String, String> {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    match lines.as_slice() {
        [p] if p.starts_with('/') && !p.chars().any(|c| c.is_whitespace() || c.is_control()) => {
            Ok(p.to_string())
        }
        _ => Err(format!(
            "what it runs is not one store path: {:?}",
            sanitize::line(text.as_bytes())
        )),
    }
}

/// `$1` profile: one `N present|missing PATH` line per generation link
/// (`readlink -m`: a dangling link still names where it points).
const PATHS: &str = r#"for l in "$1"-*-link; do [ -L "$l" ] || continue; n=${l#"$1"-}; n=${n%-link}; if [ -e "$l" ]; then e=present; else e=missing; fi; printf '%s %s %s\n' "$n" "$e" "$(readlink -m "$l")"; done"#;

/// Joins the listing, the links and what runs into generations.
pub(crate) fn assemble(
    listed: Vec<Listed>,
    links: &str,
    running: &str,
) -> Result<Vec<Generation>, String> {
    let mut out = Vec::new();
    for (n, date, current) in listed {
        let link = links.lines().find_map(|l| {
            let mut w = l.splitn(3, ' ');
            let (k, e, p) = (w.next()?, w.next()?, w.next()?);
            (k.parse::<u64>().ok()? == n).then(|| (e == "present", p.to_string()))
        });
        let Some((present, path)) = link else {
            return Err(format!("generation {n} is listed but has no profile link"));
        };
        out.push(Generation {
            generation: n,
            date,
            current,
            running: path == running,
            path,
            present,
        });
    }
    Ok(out)
}

/// The generation the host runs: the one whose path is the running
/// system (the current one if several share it, else the newest).
pub fn running_generation(gens: &[Generation]) -> Option<u64> {
    gens.iter()
        .filter(|g| g.running)
        .max_by_key(|g| (g.current, g.generation))
        .map(|g| g.generation)
}

pub fn current_generation(gens: &[Generation]) -> Option<u64> {
    gens.iter().find(|g| g.current).map(|g| g.generation)
}

/// The generations of `profile` on `host`, listed by `list` (the rendered
/// `generations` template), each with its store path, presence, and
/// whether it is what `running` (the rendered `running` template) prints.
pub(crate) async fn list_argv(
    pool: &SshPool,
    host: &str,
    list: &[String],
    running: &[String],
    profile: &str,
) -> Result<Vec<Generation>, String> {
    let list: Vec<&str> = list.iter().map(String::as_str).collect();
    let out = pool
        .run(host, &list, Duration::from_secs(30))
        .await
        .map_err(|e| e.to_string())?;
    if !out.success() {
        return Err(format!(
            "{host}: listing generations failed: {}",
            out.tail().join(" / ")
        ));
    }
    let listed = parse_list(&out.stdout)
        .map_err(|e| format!("{host}: unexpected `nix-env --list-generations` output, {e}"))?;
    let links = pool
        .run(
            host,
            &["sh", "-c", PATHS, "sh", profile],
            Duration::from_secs(30),
        )
        .await
        .map_err(|e| e.to_string())?;
    let running: Vec<&str> = running.iter().map(String::as_str).collect();
    let ran = pool
        .run(host, &running, Duration::from_secs(30))
        .await
        .map_err(|e| e.to_string())?;
    if !ran.success() {
        return Err(format!(
            "{host}: reading what the host runs failed: {}",
            ran.tail().join(" / ")
        ));
    }
    let running = parse_running(&ran.stdout).map_err(|e| format!("{host}: {e}"))?;
    assemble(listed, &links.stdout, &running).map_err(|e| format!("{host}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_nix_env_output() {
        let text = "   1   2026-11-25 19:02:11   \n   2   2026-11-25 19:12:30   (current)\n";
        assert_eq!(
            parse_list(text).unwrap(),
            vec![
                (1, "2026-11-25 19:02:11".to_string(), false),
                (2, "2026-11-25 19:12:30".to_string(), true)
            ]
        );
    }

    #[test]
    fn garbage_is_an_error_naming_the_line() {
        let two =
            "   1   2026-11-25 19:02:11   (current)\n   2   2026-11-25 19:12:30   (current)\n";
        assert!(parse_list(two)
            .unwrap_err()
            .contains("line 2: a second (current)"));
        let date = "   1   2026-02-30 19:02:11\n";
        assert!(parse_list(date)
            .unwrap_err()
            .contains("line 1: impossible date"));
        let time = "   1   2026-02-03 25:02:11\n";
        assert!(parse_list(time).unwrap_err().contains("impossible date"));
        let junk = "   1   2026-02-03 12:02:11\nerror: \x1b]0;PWNED\x07\n";
        let e = parse_list(junk).unwrap_err();
        assert!(e.contains("line 2: not a generation line"), "{e}");
        assert!(!e.contains('\x1b'), "{e}");
        assert!(
            parse_list("   1   2026-02-03 12:02:11\n   1   2026-02-03 12:02:12\n")
                .unwrap_err()
                .contains("twice")
        );
    }

    #[test]
    fn links_give_path_presence_and_running() {
        let listed = parse_list(
            "   1   2026-11-25 19:02:11\n   2   2026-11-25 19:12:30\n   3   2026-11-25 19:13:30   (current)\n",
        )
        .unwrap();
        let links = "1 present /nix/store/a\n2 missing /nix/store/gone\n3 present /nix/store/c\n";
        let gens = assemble(listed.clone(), links, "/nix/store/a").unwrap();
        assert_eq!(
            gens.iter()
                .map(|g| (g.generation, g.present, g.running, g.current))
                .collect::<Vec<_>>(),
            vec![
                (1, true, true, false),
                (2, false, false, false),
                (3, true, false, true)
            ]
        );
        assert_eq!(running_generation(&gens), Some(1));
        assert_eq!(current_generation(&gens), Some(3));
        assert!(assemble(listed, "1 present /nix/store/a\n", "/x")
            .unwrap_err()
            .contains("generation 2 is listed but has no profile link"));
        assert!(parse_running("/nix/store/a\n/nix/store/b\n").is_err());
        assert!(parse_running("oops\n").is_err());
        assert_eq!(parse_running("/nix/store/a\n").unwrap(), "/nix/store/a");
    }
}
