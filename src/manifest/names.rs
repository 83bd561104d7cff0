//! What counts as a safe name. Service names end up in host names, Nix
//! attribute paths, file names and remote commands, so they are held to a
//! strict alphabet before anything could run them.

pub(crate) const SERVICE_NAME_RULE: &str =
    "lowercase letters, digits, \"-\" and \"_\", starting with a letter, at most 63 characters";

pub(crate) fn is_service_name(s: &str) -> bool {
    let mut chars = s.chars();
    s.len() <= 63
        && matches!(chars.next(), Some('a'..='z'))
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '-' | '_'))
}

/// RFC 1123 host name: dot-separated labels of letters, digits and inner
/// hyphens, each 1-63 characters, 253 in all.
pub(crate) fn is_dns_name(s: &str) -> bool {
    s.len() <= 253
        && !s.is_empty()
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

/// A systemd unit name (without spaces or shell metacharacters).
pub(crate) fn is_unit_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 255
        && !s.starts_with('-')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '_' | '.' | '@' | '-' | '\\'))
}

/// A PostgreSQL identifier that needs no quoting.
pub(crate) fn is_pg_ident(s: &str) -> bool {
    let mut chars = s.chars();
    s.len() <= 63
        && matches!(chars.next(), Some('a'..='z' | '_'))
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_'))
}

/// A PostgreSQL extension name as shipped (`uuid-ossp` has a hyphen).
pub(crate) fn is_pg_extension(s: &str) -> bool {
    let mut chars = s.chars();
    s.len() <= 63
        && matches!(chars.next(), Some('a'..='z' | '_'))
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_' | '-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_names_are_rejected() {
        for bad in [
            "",
            "Vault",
            "a b",
            "a;rm -rf /",
            "$(id)",
            "-x",
            "1abc",
            "a/b",
            "ä",
        ] {
            assert!(!is_service_name(bad), "{bad:?}");
        }
        for good in ["postgresql", "home-assistant", "a_b2"] {
            assert!(is_service_name(good), "{good:?}");
        }
        assert!(is_dns_name("vaultwarden.nixmox.lan"));
        assert!(!is_dns_name("vault warden.lan"));
        assert!(!is_dns_name("a..b"));
        assert!(is_unit_name("vaultwarden.service"));
        assert!(!is_unit_name("x; reboot"));
        assert!(is_pg_extension("uuid-ossp"));
        assert!(!is_pg_ident("Robert'); DROP TABLE"));
    }
}
