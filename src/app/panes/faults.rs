//! The lab's fault menu: what a newcomer can break (and mend) on the
//! selected service's host to watch detection and rollback at work.

/// (what the menu says, `nixmox lab fault` kind).
pub const FAULTS: [(&str, &str); 5] = [
    ("kill the service", "kill-service"),
    ("partition its host", "partition"),
    ("heal its host", "heal"),
    ("break its next build", "break"),
    ("fix its next build", "fix"),
];
