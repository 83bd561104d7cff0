//! The command line (`:`, k9s's convention): actions by name, with the
//! service names completed. Parsing and completion are pure; the keys
//! open what the same action's key opens.

/// What a command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verb {
    Deploy(String),
    Rollback(String, Option<u64>),
    /// One service's logs, or several merged (`:logs A B C`).
    Logs(Vec<String>),
    Ssh(String),
    History(Option<String>),
}

/// The verbs, as typed (completion offers them in this order).
pub const VERBS: [&str; 5] = ["deploy", "rollback", "logs", "ssh", "history"];

const USAGE: &str =
    "commands: deploy NAME, rollback NAME [GEN], logs NAME..., ssh NAME, history [NAME]";

/// `text` (without the `:`) as a verb on known `services`, or why not.
pub fn parse(text: &str, services: &[String]) -> Result<Verb, String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let Some((&verb, args)) = words.split_first() else {
        return Err(USAGE.into());
    };
    let service = |name: Option<&&str>| -> Result<String, String> {
        let Some(name) = name else {
            return Err(format!(":{verb} needs a service name (tab completes)"));
        };
        if services.iter().any(|s| s == name) {
            Ok((*name).to_string())
        } else {
            Err(format!("no service named {name:?} (tab completes)"))
        }
    };
    let most = |n: usize| -> Result<(), String> {
        if args.len() > n {
            Err(format!(":{verb}: unexpected {:?}", args[n..].join(" ")))
        } else {
            Ok(())
        }
    };
    match verb {
        "deploy" | "d" => most(1).and(service(args.first()).map(Verb::Deploy)),
        "logs" | "l" => {
            let first = service(args.first())?;
            let rest = args[1..].iter().map(|a| service(Some(a)));
            std::iter::once(Ok(first))
                .chain(rest)
                .collect::<Result<_, _>>()
                .map(Verb::Logs)
        }
        "ssh" | "s" => most(1).and(service(args.first()).map(Verb::Ssh)),
        "history" | "h" => {
            most(1)?;
            match args.first() {
                None => Ok(Verb::History(None)),
                some => service(some).map(|s| Verb::History(Some(s))),
            }
        }
        "rollback" | "r" => {
            most(2)?;
            let name = service(args.first())?;
            let generation = match args.get(1) {
                None => None,
                Some(g) => Some(
                    g.parse::<u64>()
                        .map_err(|_| format!(":rollback: {g:?} is not a generation number"))?,
                ),
            };
            Ok(Verb::Rollback(name, generation))
        }
        other => Err(format!("unknown command {other:?}; {USAGE}")),
    }
}

/// Completes the word being typed: the verb first, then a service name.
/// A single match is completed with a space after it; several are
/// completed to what they share. `None`: nothing to complete.
pub fn complete(text: &str, services: &[String]) -> Option<String> {
    let (head, word) = match text.rfind(' ') {
        Some(i) => (&text[..=i], &text[i + 1..]),
        None => ("", text),
    };
    let position = head.split_whitespace().count();
    let candidates: Vec<&str> = match position {
        0 => VERBS.to_vec(),
        // Only the first argument is a name (rollback's second is a
        // number), but `logs` takes several.
        1 => services.iter().map(String::as_str).collect(),
        _ if matches!(head.split_whitespace().next(), Some("logs" | "l")) => {
            services.iter().map(String::as_str).collect()
        }
        _ => return None,
    };
    let matches: Vec<&str> = candidates
        .into_iter()
        .filter(|c| c.starts_with(word))
        .collect();
    let done = match matches.as_slice() {
        [] => return None,
        [one] => format!("{one} "),
        [first, rest @ ..] => {
            let mut common = first.to_string();
            for m in rest {
                let shared = common
                    .chars()
                    .zip(m.chars())
                    .take_while(|(a, b)| a == b)
                    .count();
                common = common.chars().take(shared).collect();
            }
            common
        }
    };
    (done.len() > word.len() || matches.len() == 1).then(|| format!("{head}{done}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Vec<String> {
        ["caddy", "cadvisor", "dns", "postgresql"]
            .map(String::from)
            .to_vec()
    }

    #[test]
    fn parses_each_verb_and_says_what_is_wrong() {
        let s = names();
        assert_eq!(parse("deploy dns", &s), Ok(Verb::Deploy("dns".into())));
        assert_eq!(
            parse("rollback caddy 3", &s),
            Ok(Verb::Rollback("caddy".into(), Some(3)))
        );
        assert_eq!(
            parse("rollback caddy", &s),
            Ok(Verb::Rollback("caddy".into(), None))
        );
        assert_eq!(parse(" logs  dns ", &s), Ok(Verb::Logs(vec!["dns".into()])));
        assert_eq!(
            parse("logs dns caddy", &s),
            Ok(Verb::Logs(vec!["dns".into(), "caddy".into()]))
        );
        assert!(parse("logs dns nope", &s)
            .unwrap_err()
            .contains("no service named \"nope\""));
        assert_eq!(parse("ssh dns", &s), Ok(Verb::Ssh("dns".into())));
        assert_eq!(parse("history", &s), Ok(Verb::History(None)));
        assert_eq!(
            parse("history dns", &s),
            Ok(Verb::History(Some("dns".into())))
        );
        assert!(parse("deploy", &s).unwrap_err().contains("needs a service"));
        assert!(parse("deploy nope", &s)
            .unwrap_err()
            .contains("no service named"));
        assert!(parse("rollback caddy x", &s)
            .unwrap_err()
            .contains("not a generation"));
        assert!(parse("ssh dns caddy", &s)
            .unwrap_err()
            .contains("unexpected"));
        assert!(parse("frobnicate", &s)
            .unwrap_err()
            .contains("unknown command"));
        assert!(parse("", &s).is_err());
    }

    #[test]
    fn completes_verbs_then_service_names() {
        let s = names();
        assert_eq!(complete("ro", &s).as_deref(), Some("rollback "));
        assert_eq!(complete("deploy ca", &s).as_deref(), Some("deploy cad"));
        // Two names share no more than that: nothing to add.
        assert_eq!(complete("deploy cad", &s), None);
        assert_eq!(
            complete("deploy cadd", &s).as_deref(),
            Some("deploy caddy ")
        );
        assert_eq!(
            complete("deploy p", &s).as_deref(),
            Some("deploy postgresql ")
        );
        assert_eq!(complete("deploy x", &s), None);
        assert_eq!(complete("rollback caddy ", &s), None);
        assert_eq!(
            complete("logs caddy p", &s).as_deref(),
            Some("logs caddy postgresql ")
        );
    }
}
