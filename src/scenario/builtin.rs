//! The built-in scenario library: the files in `scenarios/`, embedded in the binary so
//! that `dcsim run happy-path` works from anywhere and `dcsim scenarios` can list them.
//!
//! Each file's `description` is its one-line summary (the listing prints it); longer
//! explanations live in comments at the top of the file. A test checks that every file
//! parses, that its `name` is its file name, and that the table below is sorted.

use super::Scenario;
use std::sync::OnceLock;

/// Name and source of every built-in, sorted by name.
const SOURCES: &[(&str, &str)] = &[
    (
        "checking-disconnected-failed",
        include_str!("../../scenarios/checking-disconnected-failed.toml"),
    ),
    (
        "dcep-ack-lost",
        include_str!("../../scenarios/dcep-ack-lost.toml"),
    ),
    (
        "happy-path",
        include_str!("../../scenarios/happy-path.toml"),
    ),
    (
        "ice-restart",
        include_str!("../../scenarios/ice-restart.toml"),
    ),
    (
        "late-channel",
        include_str!("../../scenarios/late-channel.toml"),
    ),
    (
        "negotiated-channel",
        include_str!("../../scenarios/negotiated-channel.toml"),
    ),
    (
        "oversize-message",
        include_str!("../../scenarios/oversize-message.toml"),
    ),
    (
        "pc-close-check-then-send",
        include_str!("../../scenarios/pc-close-check-then-send.toml"),
    ),
    (
        "pc-close-with-open-channels",
        include_str!("../../scenarios/pc-close-with-open-channels.toml"),
    ),
    (
        "remote-close",
        include_str!("../../scenarios/remote-close.toml"),
    ),
    (
        "send-before-open",
        include_str!("../../scenarios/send-before-open.toml"),
    ),
    (
        "transient-disconnect",
        include_str!("../../scenarios/transient-disconnect.toml"),
    ),
];

/// The bug library's scenarios (`scenarios/bugs/`), sorted by name: each reproduces a
/// publicly reported data-channel bug (see [`crate::bugs`]). They load by name like the
/// built-ins above but are listed apart, and are not among the built-ins that every
/// profile, stack and real peer replays.
const BUG_SOURCES: &[(&str, &str)] = &[
    (
        "bug-both-peers-odd-stream-ids",
        include_str!("../../scenarios/bugs/bug-both-peers-odd-stream-ids.toml"),
    ),
    (
        "bug-first-message-over-relay-lost",
        include_str!("../../scenarios/bugs/bug-first-message-over-relay-lost.toml"),
    ),
    (
        "bug-invalid-state-storm",
        include_str!("../../scenarios/bugs/bug-invalid-state-storm.toml"),
    ),
    (
        "bug-open-before-sctp",
        include_str!("../../scenarios/bugs/bug-open-before-sctp.toml"),
    ),
    (
        "bug-pc-close-loses-messages",
        include_str!("../../scenarios/bugs/bug-pc-close-loses-messages.toml"),
    ),
    (
        "bug-remote-close-stuck-closing",
        include_str!("../../scenarios/bugs/bug-remote-close-stuck-closing.toml"),
    ),
    (
        "bug-send-before-open-vanishes",
        include_str!("../../scenarios/bugs/bug-send-before-open-vanishes.toml"),
    ),
    (
        "bug-slow-consumer-loses-messages",
        include_str!("../../scenarios/bugs/bug-slow-consumer-loses-messages.toml"),
    ),
    (
        "bug-stall-under-loss",
        include_str!("../../scenarios/bugs/bug-stall-under-loss.toml"),
    ),
    (
        "bug-unordered-closes-after-loss",
        include_str!("../../scenarios/bugs/bug-unordered-closes-after-loss.toml"),
    ),
    (
        "bug-write-right-after-open-lost",
        include_str!("../../scenarios/bugs/bug-write-right-after-open-lost.toml"),
    ),
];

/// The source name used in errors and for [`super::Step::line`]: the repository path.
fn source_name(name: &str) -> String {
    if name.starts_with("bug-") {
        format!("scenarios/bugs/{name}.toml")
    } else {
        format!("scenarios/{name}.toml")
    }
}

/// Every built-in, parsed once. A built-in that fails to parse is left out (the tests
/// make sure none does), so listing never fails at run time.
fn parsed() -> &'static [(&'static str, Scenario)] {
    static PARSED: OnceLock<Vec<(&'static str, Scenario)>> = OnceLock::new();
    PARSED.get_or_init(|| parse_all(SOURCES))
}

/// The bug library's scenarios, parsed once.
fn parsed_bugs() -> &'static [(&'static str, Scenario)] {
    static PARSED: OnceLock<Vec<(&'static str, Scenario)>> = OnceLock::new();
    PARSED.get_or_init(|| parse_all(BUG_SOURCES))
}

fn parse_all(sources: &[(&'static str, &'static str)]) -> Vec<(&'static str, Scenario)> {
    sources
        .iter()
        .filter_map(|(name, text)| {
            Scenario::parse(&source_name(name), text)
                .ok()
                .map(|s| (*name, s))
        })
        .collect()
}

/// `(name, one-line description)` of every built-in, sorted by name (for
/// `dcsim scenarios`).
pub fn names() -> impl Iterator<Item = (&'static str, &'static str)> {
    parsed()
        .iter()
        .map(|(name, scenario)| (*name, scenario.description.as_str()))
}

/// `(name, one-line description)` of every scenario of the bug library, sorted by name.
pub fn bug_names() -> impl Iterator<Item = (&'static str, &'static str)> {
    parsed_bugs()
        .iter()
        .map(|(name, scenario)| (*name, scenario.description.as_str()))
}

/// The built-in scenario (or bug-library scenario) with this name.
pub fn get(name: &str) -> Option<Scenario> {
    parsed()
        .iter()
        .chain(parsed_bugs())
        .find(|(n, _)| *n == name)
        .map(|(_, scenario)| scenario.clone())
}

/// The TOML text of the built-in (or bug-library scenario) with this name (to print it,
/// or to start a new file from it).
pub fn source(name: &str) -> Option<&'static str> {
    SOURCES
        .iter()
        .chain(BUG_SOURCES)
        .find(|(n, _)| *n == name)
        .map(|(_, text)| *text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_source_parses_and_names_match() {
        for (name, text) in SOURCES.iter().chain(BUG_SOURCES) {
            let scenario = match Scenario::parse(&source_name(name), text) {
                Ok(s) => s,
                Err(e) => panic!("built-in {name} does not parse: {e}"),
            };
            assert_eq!(scenario.name, *name, "name inside {name}.toml");
            assert!(!scenario.description.is_empty(), "{name} has a description");
            assert!(
                !scenario.description.contains('\n'),
                "{name}: the description is one line"
            );
        }
        assert_eq!(names().count(), SOURCES.len());
        assert_eq!(bug_names().count(), BUG_SOURCES.len());
    }

    #[test]
    fn sources_are_sorted_and_unique() {
        for sources in [SOURCES, BUG_SOURCES] {
            let names: Vec<&str> = sources.iter().map(|(n, _)| *n).collect();
            let mut sorted = names.clone();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(names, sorted);
        }
        assert!(SOURCES.iter().all(|(n, _)| !n.starts_with("bug-")));
        assert!(BUG_SOURCES.iter().all(|(n, _)| n.starts_with("bug-")));
    }
}
