//! The scenario file format: what parses to what, and the one-line error every kind of
//! bad input gets (docs/scenarios.md).

use dcsim::model::ProfileName;
use dcsim::scenario::{builtin, Action, Payload, Scenario, ScenarioError};
use dcsim::trace::{PeerId, Via};
use proptest::prelude::*;

const HEAD: &str = "version = 1\nname = \"t\"\n\n[[channel]]\nlabel = \"chat\"\n";

fn parse(text: &str) -> Result<Scenario, ScenarioError> {
    Scenario::parse("my.toml", text)
}

fn ok(text: &str) -> Scenario {
    match parse(text) {
        Ok(s) => s,
        Err(e) => panic!("expected a scenario, got: {e}"),
    }
}

/// Parses, expects an error, checks that it is one line naming the file, and returns it.
fn err(text: &str) -> ScenarioError {
    match parse(text) {
        Ok(s) => panic!("expected an error, got {s:?}"),
        Err(e) => {
            let shown = e.to_string();
            assert!(!shown.contains('\n'), "one line: {shown}");
            assert!(shown.starts_with("my.toml"), "names the file: {shown}");
            e
        }
    }
}

/// Asserts line, field and a fragment of the message.
fn check(e: &ScenarioError, line: Option<usize>, field: &str, fragment: &str) {
    assert_eq!(e.line, line, "line of {e}");
    assert_eq!(e.field, field, "field of {e}");
    assert!(
        e.message.contains(fragment),
        "{e:?} should mention {fragment:?}"
    );
}

// ----- What parses -------------------------------------------------------------------

#[test]
fn the_design_example_parses() {
    let s = ok(r#"
version = 1
name = "send-before-open"
description = "App sends while ICE is still checking, then the path dies."
profile = "webrtc-rs"
seed = 7
duration_ms = 60000

[network]
latency_ms = 10
loss = 0.0

[ice]
disconnected_timeout_ms = 5000
failed_timeout_ms = 25000
keepalive_interval_ms = 2000

[[channel]]
label = "chat"
negotiated = false
ordered = true

[[step]]
at_ms = 0
action = "connect"
[[step]]
at_ms = 5
peer = "a"
action = "send"
channel = "chat"
via = "raw"
data = "hello"
[[step]]
at_ms = 1000
action = "partition"
[[step]]
at_ms = 45000
action = "heal"
"#);
    assert_eq!(s.name, "send-before-open");
    assert_eq!(s.profile, Some(ProfileName::WebrtcRs));
    assert_eq!(s.seed, Some(7));
    assert_eq!(s.duration_ms, 60000);
    assert_eq!(s.channels.len(), 1);
    assert_eq!(s.steps.len(), 4);
    assert_eq!(
        s.steps.get(1).map(|s| &s.action),
        Some(&Action::Send {
            peer: PeerId::A,
            channel: "chat".into(),
            via: Via::Raw,
            payload: Payload::Text("hello".into()),
            count: 1,
            interval_ms: 0,
        })
    );
    assert_eq!(s.steps.get(1).map(|s| s.line), Some(26));
}

#[test]
fn defaults_fill_what_the_file_leaves_out() {
    let s = ok(&format!(
        "{HEAD}[[step]]\nat_ms = 3\naction = \"send\"\nchannel = \"chat\"\nsize = 10\n"
    ));
    assert_eq!(s.description, "");
    assert_eq!(s.profile, None);
    assert_eq!(s.seed, None);
    assert_eq!(s.duration_ms, 60000);
    assert_eq!(s.network.latency_ms, 10);
    assert_eq!(s.network.loss, 0.0);
    // Left to the run's profile.
    assert_eq!(s.ice, Default::default());
    assert_eq!(s.guard, Default::default());
    let chat = s.channel("chat").expect("declared");
    assert!(!chat.negotiated && chat.ordered && chat.create_at_start && chat.id.is_none());
    assert_eq!(
        s.steps.first().map(|s| &s.action),
        Some(&Action::Send {
            peer: PeerId::A,
            channel: "chat".into(),
            via: Via::Raw,
            payload: Payload::Size(10),
            count: 1,
            interval_ms: 0,
        })
    );
}

#[test]
fn every_action_and_the_guard_table_parse() {
    let s = ok(&format!(
        r#"{HEAD}
[[channel]]
label = "late"
create_at_start = false

[guard]
max_queue_messages = 64
max_queue_bytes = 65536
ttl_ms = 5000
hold_while_disconnected = true
queue_while_connecting = false

[[step]]
at_ms = 0
action = "connect"
[[step]]
at_ms = 1
action = "send"
peer = "b"
channel = "chat"
via = "guarded"
data = "x"
count = 3
interval_ms = 2
[[step]]
at_ms = 2
action = "create_channel"
channel = "late"
[[step]]
at_ms = 3
action = "close_channel"
peer = "b"
channel = "late"
[[step]]
at_ms = 4
action = "close_peer"
[[step]]
at_ms = 5
action = "ice_restart"
peer = "b"
[[step]]
at_ms = 6
action = "partition"
[[step]]
at_ms = 7
action = "heal"
[[step]]
at_ms = 8
action = "hold"
[[step]]
at_ms = 9
action = "release"
[[step]]
at_ms = 10
action = "loss"
value = 1
[[step]]
at_ms = 11
action = "latency"
ms = 50
[[step]]
at_ms = 12
action = "crash"
peer = "b"
"#
    ));
    let names: Vec<&str> = s.steps.iter().map(|s| s.action.name()).collect();
    assert_eq!(names, Action::NAMES);
    assert_eq!(s.guard.max_queue_messages, Some(64));
    assert_eq!(s.guard.max_queue_bytes, Some(65536));
    assert_eq!(s.guard.ttl_ms, Some(5000));
    assert_eq!(s.guard.hold_while_disconnected, Some(true));
    assert_eq!(s.guard.queue_while_connecting, Some(false));
    let actions: Vec<&Action> = s.steps.iter().map(|s| &s.action).collect();
    assert!(actions.contains(&&Action::Loss { value: 1.0 }));
    assert!(actions.contains(&&Action::Latency { ms: 50 }));
    assert!(actions.contains(&&Action::Crash { peer: PeerId::B }));
    assert!(actions.contains(&&Action::ClosePeer { peer: PeerId::A }));
}

#[test]
fn steps_are_sorted_by_time_and_keep_file_order_at_the_same_time() {
    let s = ok(&format!(
        r#"{HEAD}
[[step]]
at_ms = 20
action = "heal"
[[step]]
at_ms = 10
action = "hold"
[[step]]
at_ms = 20
action = "release"
[[step]]
at_ms = 10
action = "partition"
"#
    ));
    let order: Vec<(u64, &str)> = s.steps.iter().map(|s| (s.at_ms, s.action.name())).collect();
    assert_eq!(
        order,
        [
            (10, "hold"),
            (10, "partition"),
            (20, "heal"),
            (20, "release")
        ]
    );
    let lines: Vec<usize> = s.steps.iter().map(|s| s.line).collect();
    assert_eq!(lines, [10, 16, 7, 13]);
}

#[test]
fn the_timeline_expands_repeated_sends_and_interleaves_by_time() {
    let s = ok(&format!(
        r#"{HEAD}
[[step]]
at_ms = 1
action = "send"
channel = "chat"
data = "raw"
count = 3
interval_ms = 1
[[step]]
at_ms = 1
action = "send"
channel = "chat"
via = "guarded"
data = "guarded"
count = 2
interval_ms = 1
"#
    ));
    let timeline: Vec<(u64, Option<Via>, u32)> = s
        .timeline()
        .iter()
        .map(|t| {
            let via = match &t.step.action {
                Action::Send { via, .. } => Some(*via),
                _ => None,
            };
            (t.at_ms, via, t.repeat)
        })
        .collect();
    let (r, g) = (Some(Via::Raw), Some(Via::Guarded));
    assert_eq!(
        timeline,
        [(1, r, 0), (1, g, 0), (2, r, 1), (2, g, 1), (3, r, 2)]
    );
}

#[test]
fn a_negotiated_channel_takes_its_id() {
    let s =
        ok("version = 1\nname = \"n\"\n[[channel]]\nlabel = \"sync\"\nnegotiated = true\nid = 0\n");
    let sync = s.channel("sync").expect("declared");
    assert!(sync.negotiated);
    assert_eq!(sync.id, Some(0));
}

#[test]
fn a_byte_order_mark_and_crlf_line_ends_are_fine() {
    let text =
        format!("\u{feff}{HEAD}[[step]]\nat_ms = 0\naction = \"connect\"\n").replace('\n', "\r\n");
    let s = ok(&text);
    assert_eq!(s.steps.first().map(|s| s.line), Some(6));
}

// ----- The error cases ---------------------------------------------------------------

#[test]
fn unknown_action() {
    let e = err(&format!(
        "{HEAD}\n[[step]]\nat_ms = 0\naction = \"connect\"\n\n[[step]]\nat_ms = 1\naction = \"partion\"\n"
    ));
    check(&e, Some(13), "step[1].action", "unknown action \"partion\"");
    assert!(e.message.contains("did you mean \"partition\"?"), "{e}");
    assert!(e.message.contains("connect, send, create_channel"), "{e}");
    assert_eq!(
        e.to_string(),
        format!("my.toml:13: step[1].action: {}", e.message)
    );
}

#[test]
fn unknown_key_at_the_top() {
    let e = err(&format!("{HEAD}\n[[steps]]\nat_ms = 0\n"));
    check(&e, Some(7), "steps", "unknown key \"steps\"");
    assert!(e.message.contains("did you mean \"step\"?"), "{e}");
}

#[test]
fn unknown_key_in_a_step() {
    let e = err(&format!(
        "{HEAD}[[step]]\nat_ms = 0\naction = \"send\"\nchannel = \"chat\"\ndata = \"x\"\ncolor = \"red\"\n"
    ));
    check(&e, Some(11), "step[0].color", "unknown key \"color\"");
}

#[test]
fn unknown_key_in_network_ice_guard_and_channel() {
    let e = err(&format!("{HEAD}[network]\nlatency = 5\n"));
    check(
        &e,
        Some(7),
        "network.latency",
        "did you mean \"latency_ms\"?",
    );
    let e = err(&format!("{HEAD}[ice]\nfailed_ms = 5\n"));
    check(&e, Some(7), "ice.failed_ms", "unknown key");
    let e = err(&format!("{HEAD}[guard]\nmax_queue = 5\n"));
    check(&e, Some(7), "guard.max_queue", "unknown key");
    let e = err(&format!("{HEAD}unordered = true\n"));
    check(&e, Some(6), "channel[0].unordered", "unknown key");
}

#[test]
fn a_key_that_exists_but_not_for_this_action() {
    let e = err(&format!(
        "{HEAD}[[step]]\nat_ms = 0\naction = \"partition\"\nchannel = \"chat\"\n"
    ));
    check(
        &e,
        Some(9),
        "step[0].channel",
        "action \"partition\" takes no \"channel\"",
    );
}

#[test]
fn missing_required_field() {
    let e = err(&format!(
        "{HEAD}\n[[step]]\nat_ms = 0\naction = \"send\"\ndata = \"x\"\n"
    ));
    check(&e, Some(7), "step[0].channel", "missing required key");
    let e = err(&format!("{HEAD}[[step]]\naction = \"heal\"\n"));
    check(&e, Some(6), "step[0].at_ms", "missing required key");
    let e = err(&format!("{HEAD}[[step]]\nat_ms = 1\n"));
    check(&e, Some(6), "step[0].action", "missing required key");
    let e = err(&format!(
        "{HEAD}[[step]]\nat_ms = 1\naction = \"send\"\nchannel = \"chat\"\n"
    ));
    check(
        &e,
        Some(6),
        "step[0].data",
        "data = \"<text>\" or size = <bytes>",
    );
    let e = err("version = 1\n");
    check(&e, Some(1), "name", "missing required key");
    let e = err(&format!("{HEAD}[[step]]\nat_ms = 1\naction = \"crash\"\n"));
    check(&e, Some(6), "step[0].peer", "crash needs peer");
    let e = err(&format!("{HEAD}[[step]]\nat_ms = 1\naction = \"loss\"\n"));
    check(&e, Some(6), "step[0].value", "missing required key");
    let e = err("version = 1\nname = \"x\"\n[[channel]]\nordered = true\n");
    check(&e, Some(3), "channel[0].label", "missing required key");
}

#[test]
fn wrong_type() {
    let e = err(&format!(
        "{HEAD}[[step]]\nat_ms = \"soon\"\naction = \"heal\"\n"
    ));
    check(&e, Some(7), "step[0].at_ms", "found the string \"soon\"");
    let e = err(&format!("{HEAD}[[step]]\nat_ms = 1.5\naction = \"heal\"\n"));
    check(&e, Some(7), "step[0].at_ms", "found the float 1.5");
    let e = err("version = 1\nname = 5\n");
    check(
        &e,
        Some(2),
        "name",
        "expected a string, found the integer 5",
    );
    let e = err(&format!("{HEAD}negotiated = \"yes\"\n"));
    check(
        &e,
        Some(6),
        "channel[0].negotiated",
        "expected true or false",
    );
    let e = err("version = 1\nname = \"x\"\nnetwork = 3\n");
    check(&e, Some(3), "network", "expected a table");
    let e = err("version = 1\nname = \"x\"\n[step]\nat_ms = 0\n");
    check(
        &e,
        Some(3),
        "step",
        "expected an array of tables ([[step]])",
    );
    let e = err("version = 1\nname = \"x\"\nseed = 1979-05-27\n");
    check(&e, Some(3), "seed", "found the date-time 1979-05-27");
    let e = err(&format!("{HEAD}[network]\nloss = \"none\"\n"));
    check(&e, Some(7), "network.loss", "expected a probability");
}

#[test]
fn negative_time() {
    let e = err(&format!("{HEAD}[[step]]\nat_ms = -5\naction = \"heal\"\n"));
    check(
        &e,
        Some(7),
        "step[0].at_ms",
        "must not be negative, found -5",
    );
    let e = err("version = 1\nname = \"x\"\nduration_ms = -1\n");
    check(&e, Some(3), "duration_ms", "must not be negative");
}

#[test]
fn times_beyond_the_run() {
    let e = err("version = 1\nname = \"x\"\nduration_ms = 0\n");
    check(&e, Some(3), "duration_ms", "greater than 0");
    let e = err(
        "version = 1\nname = \"x\"\nduration_ms = 100\n[[step]]\nat_ms = 101\naction = \"heal\"\n",
    );
    check(&e, Some(5), "step[0].at_ms", "after duration_ms = 100");
    let e = err(concat!(
        "version = 1\nname = \"x\"\nduration_ms = 100\n",
        "[[channel]]\nlabel = \"chat\"\n",
        "[[step]]\nat_ms = 10\naction = \"send\"\nchannel = \"chat\"\ndata = \"x\"\n",
        "count = 10\ninterval_ms = 20\n",
    ));
    check(
        &e,
        Some(12),
        "step[0].interval_ms",
        "last of the 10 messages",
    );
    let e = err("version = 1\nname = \"x\"\nduration_ms = 99999999999\n");
    check(&e, Some(3), "duration_ms", "too large");
}

#[test]
fn unknown_channel() {
    let e = err(&format!(
        "{HEAD}[[step]]\nat_ms = 0\naction = \"send\"\nchannel = \"chta\"\ndata = \"x\"\n"
    ));
    check(&e, Some(9), "step[0].channel", "unknown channel \"chta\"");
    assert!(e.message.contains("did you mean \"chat\"?"), "{e}");
    let e = err("version = 1\nname = \"x\"\n[[step]]\nat_ms = 0\naction = \"close_channel\"\nchannel = \"c\"\n");
    check(&e, Some(6), "step[0].channel", "no [[channel]] is declared");
}

#[test]
fn create_channel_needs_a_channel_declared_for_it() {
    let e = err(&format!(
        "{HEAD}[[step]]\nat_ms = 0\naction = \"create_channel\"\nchannel = \"chat\"\n"
    ));
    check(&e, Some(9), "step[0].channel", "create_at_start = false");
    let late = "[[channel]]\nlabel = \"late\"\ncreate_at_start = false\n";
    let create = "[[step]]\nat_ms = 0\naction = \"create_channel\"\nchannel = \"late\"\n";
    let e = err(&format!("{HEAD}{late}{create}{create}"));
    check(&e, Some(16), "step[1].channel", "already created");
}

#[test]
fn connect_only_once() {
    let connect = "[[step]]\nat_ms = 0\naction = \"connect\"\n";
    let e = err(&format!("{HEAD}{connect}{connect}"));
    check(&e, Some(11), "step[1].action", "only once");
}

#[test]
fn unknown_peer() {
    let e = err(&format!(
        "{HEAD}[[step]]\nat_ms = 0\naction = \"close_peer\"\npeer = \"c\"\n"
    ));
    check(&e, Some(9), "step[0].peer", "unknown peer \"c\"");
    let e = err(&format!(
        "{HEAD}[[step]]\nat_ms = 0\naction = \"send\"\nchannel = \"chat\"\ndata = \"x\"\nvia = \"fast\"\n"
    ));
    check(&e, Some(11), "step[0].via", "unknown via \"fast\"");
}

#[test]
fn not_toml_at_all() {
    let e = err("This is a README, not a scenario.\nIt has sentences.\n");
    check(&e, Some(1), "", "not valid TOML");
    let e = err(&format!("{HEAD}[[step]\nat_ms = 0\n"));
    check(&e, Some(6), "", "not valid TOML");
    let e = err("version = 1\nversion = 1\n");
    check(&e, Some(2), "", "not valid TOML");
    assert!(
        e.to_string().starts_with("my.toml:2: not valid TOML: "),
        "{e}"
    );
}

#[test]
fn empty_file() {
    for text in ["", "   \n\n\t\n", "\u{feff}"] {
        let e = err(text);
        check(&e, None, "", "empty file");
    }
    // Comments only: valid TOML, so the first thing missing is the version.
    let e = err("# nothing here\n");
    check(&e, Some(1), "version", "missing required key");
}

#[test]
fn binary_garbage_and_invalid_utf8() {
    let e = Scenario::parse_bytes("bin.toml", b"version = 1\n\xff\xfe\x00garbage").unwrap_err();
    assert_eq!(e.line, Some(2));
    assert!(
        e.message
            .contains("invalid UTF-8 at byte offset 12 (byte 0xff)"),
        "{e}"
    );
    assert!(
        e.to_string().starts_with("bin.toml:2: not a text file"),
        "{e}"
    );
    let e = Scenario::parse_bytes("bin.toml", b"\x00\x01\x02\x03binary").unwrap_err();
    assert!(e.message.contains("NUL byte"), "{e}");
    let e = Scenario::parse_bytes("bin.toml", b"\x7fELF\x02\x01\x01").unwrap_err();
    assert!(e.to_string().starts_with("bin.toml:1: "), "{e}");
}

#[test]
fn version_missing_or_not_one() {
    let e = err("name = \"x\"\n");
    check(&e, Some(1), "version", "version = 1");
    let e = err("name = \"x\"\nversion = 2\nfuture_key = true\n");
    check(&e, Some(2), "version", "unsupported version 2");
    let e = err("version = \"1\"\nname = \"x\"\n");
    check(&e, Some(1), "version", "expected the integer 1");
}

#[test]
fn loss_out_of_range() {
    let e = err(&format!("{HEAD}[network]\nloss = 1.5\n"));
    check(&e, Some(7), "network.loss", "between 0 and 1, found 1.5");
    let e = err(&format!(
        "{HEAD}[[step]]\nat_ms = 0\naction = \"loss\"\nvalue = -0.1\n"
    ));
    check(&e, Some(9), "step[0].value", "between 0 and 1");
    let e = err(&format!("{HEAD}[network]\nloss = nan\n"));
    check(&e, Some(7), "network.loss", "between 0 and 1");
    let e = err(&format!("{HEAD}[network]\nloss = 2\n"));
    check(&e, Some(7), "network.loss", "between 0 and 1, found 2");
}

#[test]
fn both_data_and_size() {
    let e = err(&format!(
        "{HEAD}[[step]]\nat_ms = 0\naction = \"send\"\nchannel = \"chat\"\ndata = \"x\"\nsize = 3\n"
    ));
    check(
        &e,
        Some(11),
        "step[0].size",
        "either data or size, not both",
    );
}

#[test]
fn payload_and_count_limits() {
    let send = "[[step]]\nat_ms = 0\naction = \"send\"\nchannel = \"chat\"\n";
    let e = err(&format!("{HEAD}{send}size = 99999999999\n"));
    check(&e, Some(10), "step[0].size", "too large");
    let e = err(&format!("{HEAD}{send}data = \"x\"\ncount = 0\n"));
    check(&e, Some(11), "step[0].count", "at least 1");
}

#[test]
fn the_messages_of_all_sends_together_are_bounded() {
    let send =
        "[[step]]\nat_ms = 0\naction = \"send\"\nchannel = \"chat\"\nsize = 1\ncount = 600000\n";
    let e = err(&format!("{HEAD}{send}{send}"));
    check(
        &e,
        Some(17),
        "step[1].count",
        "more than 1000000 messages in all",
    );
}

#[test]
fn long_user_text_is_cut_in_messages() {
    let long = "x".repeat(100_000);
    let e = err(&format!("{HEAD}[[step]]\nat_ms = 0\naction = \"{long}\"\n"));
    assert!(e.to_string().len() < 400, "{e}");
    assert!(e.message.contains("xxx...\""), "{e}");
    let e = err(&format!(
        "{HEAD}[[step]]\nat_ms = 0\naction = \"heal\"\n{long} = 1\n"
    ));
    assert!(e.to_string().len() < 400, "{e}");
}

#[test]
fn duplicate_channel_label() {
    let e = err(&format!("{HEAD}\n[[channel]]\nlabel = \"chat\"\n"));
    check(
        &e,
        Some(8),
        "channel[1].label",
        "duplicate channel label \"chat\"",
    );
    assert!(e.message.contains("first declared on line 5"), "{e}");
}

#[test]
fn negotiated_without_id_and_id_without_negotiated() {
    let e = err("version = 1\nname = \"x\"\n[[channel]]\nlabel = \"s\"\nnegotiated = true\n");
    check(
        &e,
        Some(5),
        "channel[0].id",
        "negotiated = true needs an id",
    );
    let e = err("version = 1\nname = \"x\"\n[[channel]]\nlabel = \"s\"\nid = 3\n");
    check(
        &e,
        Some(5),
        "channel[0].id",
        "only allowed with negotiated = true",
    );
    let e = err(
        "version = 1\nname = \"x\"\n[[channel]]\nlabel = \"s\"\nnegotiated = true\nid = 65535\n",
    );
    check(&e, Some(6), "channel[0].id", "too large");
    let two = "[[channel]]\nlabel = \"s\"\nnegotiated = true\nid = 1\n[[channel]]\nlabel = \"t\"\nnegotiated = true\nid = 1\n";
    let e = err(&format!("version = 1\nname = \"x\"\n{two}"));
    check(
        &e,
        Some(10),
        "channel[1].id",
        "already used by channel \"s\"",
    );
}

#[test]
fn unknown_profile() {
    let e = err("version = 1\nname = \"x\"\nprofile = \"chrome\"\n");
    check(&e, Some(3), "profile", "unknown profile \"chrome\"");
}

#[test]
fn user_text_with_line_breaks_stays_on_one_line() {
    let e = err(&format!(
        "{HEAD}[[step]]\nat_ms = 0\naction = \"he\\nal\"\n"
    ));
    assert!(!e.to_string().contains('\n'));
    let e = err("version = 1\nname = \"x\"\n\"odd\\nkey\" = 1\n");
    assert_eq!(e.field, "\"odd\\nkey\"");
    let raw = ScenarioError::new("a\nb", Some(1), "f\r", "m\n");
    assert_eq!(raw.to_string(), "a\\nb:1: f\\r: m\\n");
}

// ----- Loading and the built-ins ------------------------------------------------------

#[test]
fn every_builtin_parses_and_names_are_sorted_and_unique() {
    let names: Vec<&str> = builtin::names().map(|(n, _)| n).collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(names, sorted);
    assert_eq!(names.len(), 12);
    for (name, description) in builtin::names() {
        let source = builtin::source(name).expect("source");
        let parsed = Scenario::parse(name, source).expect("parses");
        assert_eq!(parsed.name, name);
        assert_eq!(parsed.description, description);
        assert_eq!(builtin::get(name), Some(parsed));
        assert!(!description.is_empty() && !description.contains('\n'));
    }
    assert_eq!(builtin::get("no-such"), None);
    assert_eq!(builtin::source("no-such"), None);
}

#[test]
fn builtins_say_what_the_brief_asked() {
    let s = builtin::get("happy-path").expect("happy-path");
    assert_eq!(
        s.timeline()
            .iter()
            .filter(|t| t.step.action.name() == "send")
            .count(),
        100
    );
    let s = builtin::get("negotiated-channel").expect("negotiated-channel");
    assert_eq!(s.channel("sync").and_then(|c| c.id), Some(0));
    let s = builtin::get("late-channel").expect("late-channel");
    assert!(!s.channel("late").expect("late").create_at_start);
    let s = builtin::get("checking-disconnected-failed").expect("cdf");
    assert_eq!(s.duration_ms, 40000);
    let s = builtin::get("dcep-ack-lost").expect("dcep");
    assert!(s.steps.iter().any(|s| s.action == Action::Hold));
    let s = builtin::get("oversize-message").expect("oversize");
    let sizes: Vec<usize> = s
        .steps
        .iter()
        .filter_map(|s| match &s.action {
            Action::Send { payload, .. } => Some(payload.byte_len()),
            _ => None,
        })
        .collect();
    assert_eq!(sizes.get(..3), Some(&[65536, 65537, 5][..]));
}

#[test]
fn load_takes_a_builtin_name_or_a_path() {
    assert_eq!(
        Scenario::load("happy-path").ok(),
        builtin::get("happy-path")
    );
    let dir = std::env::temp_dir().join(format!("dcsim-scenario-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("mine.toml");
    std::fs::write(
        &path,
        format!("{HEAD}[[step]]\nat_ms = 0\naction = \"connect\"\n"),
    )
    .expect("write");
    let arg = path.to_string_lossy().into_owned();
    assert_eq!(
        Scenario::load(&arg).map(|s| s.name).ok(),
        Some("t".to_owned())
    );
    std::fs::write(&path, "version = 1\nname = 3\n").expect("write");
    let e = Scenario::load(&arg).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("{arg}:2: name: expected a string, found the integer 3")
    );
    let _ = std::fs::remove_dir_all(&dir);

    let e = Scenario::load("hapy-path").unwrap_err();
    assert!(
        e.to_string()
            .starts_with("hapy-path: not a built-in scenario"),
        "{e}"
    );
    assert!(e.message.contains("did you mean \"happy-path\"?"), "{e}");
    let e = Scenario::load("/no/such/dir/x.toml").unwrap_err();
    assert!(
        e.to_string()
            .starts_with("/no/such/dir/x.toml: cannot read scenario file"),
        "{e}"
    );
}

// ----- Writing back -------------------------------------------------------------------

/// The scenario with every step line set to 0, to compare a written and re-read scenario.
fn without_lines(mut s: Scenario) -> Scenario {
    for step in &mut s.steps {
        step.line = 0;
    }
    s
}

#[test]
fn every_builtin_survives_writing_and_reading_back() {
    for (name, _) in builtin::names() {
        let s = builtin::get(name).expect("built-in");
        let written = s.to_toml();
        let back = Scenario::parse("written.toml", &written)
            .unwrap_or_else(|e| panic!("{name} written back does not parse: {e}\n{written}"));
        assert_eq!(without_lines(back), without_lines(s), "{name}");
    }
}

#[test]
fn awkward_text_survives_writing_and_reading_back() {
    let s = ok(r#"
version = 1
name = "quote \" and \\ and \n"
description = """two
lines \u00e9"""
seed = 9223372036854775807
profile = "w3c"
[guard]
ttl_ms = 0
queue_while_connecting = true
[[channel]]
label = "\u00e9 \t x"
negotiated = true
id = 65534
ordered = false
create_at_start = false
[[step]]
at_ms = 3
action = "loss"
value = 0.25
[[step]]
at_ms = 3
action = "send"
peer = "b"
channel = "é \t x"
via = "guarded"
data = ""
count = 2
interval_ms = 7
"#);
    assert_eq!(s.name, "quote \" and \\ and \n");
    let back = Scenario::parse("written.toml", &s.to_toml()).expect("parses");
    assert_eq!(without_lines(back), without_lines(s));
}

// ----- Never a panic ------------------------------------------------------------------

/// An arbitrary input must give a scenario or a one-line error naming the source.
fn no_panic_one_line(result: Result<Scenario, ScenarioError>) -> Result<(), TestCaseError> {
    if let Err(e) = result {
        let shown = e.to_string();
        prop_assert!(
            !shown.contains('\n') && !shown.contains('\r'),
            "one line: {shown:?}"
        );
        prop_assert!(
            shown.starts_with("fuzz.toml"),
            "names the source: {shown:?}"
        );
    }
    Ok(())
}

/// Fragments of real scenario files, so that generated inputs get past the TOML syntax
/// and reach the scenario checks.
fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("version = 1\n".to_owned()),
        Just("name = \"f\"\n".to_owned()),
        Just("[[channel]]\n".to_owned()),
        Just("label = \"chat\"\n".to_owned()),
        Just("[[step]]\n".to_owned()),
        Just("[network]\n".to_owned()),
        Just("[guard]\n".to_owned()),
        Just("negotiated = true\n".to_owned()),
        "(at_ms|action|peer|channel|via|data|size|count|interval_ms|value|ms|id|loss|latency_ms|duration_ms|ttl_ms) = (-?[0-9]{1,20}|\"[a-z_]{0,12}\"|true|[0-9]\\.[0-9]|chat|\"chat\")\n",
        "action = \"(connect|send|create_channel|close_channel|close_peer|ice_restart|partition|heal|hold|release|loss|latency|crash)\"\n",
        ".{0,20}",
    ]
}

/// A TOML string literal.
fn lit(text: &str) -> String {
    toml::Value::String(text.to_owned()).to_string()
}

/// One valid step (times leave room for the largest count * interval before 10 s).
fn valid_step() -> impl Strategy<Value = String> {
    let peer = prop_oneof![Just("a"), Just("b")];
    let action = prop_oneof![
        (
            peer.clone(),
            prop_oneof![Just("chat"), Just("sync")],
            prop_oneof![Just("raw"), Just("guarded")],
            prop_oneof![
                ".{0,12}".prop_map(|t| format!("data = {}", lit(&t))),
                (0usize..70_000).prop_map(|n| format!("size = {n}")),
            ],
            1u32..5,
            0u64..100,
        )
            .prop_map(|(p, c, v, payload, n, i)| format!(
                "action = \"send\"\npeer = \"{p}\"\nchannel = \"{c}\"\nvia = \"{v}\"\n{payload}\ncount = {n}\ninterval_ms = {i}"
            )),
        peer.clone().prop_map(|p| format!("action = \"close_channel\"\npeer = \"{p}\"\nchannel = \"chat\"")),
        peer.clone().prop_map(|p| format!("action = \"close_peer\"\npeer = \"{p}\"")),
        peer.clone().prop_map(|p| format!("action = \"ice_restart\"\npeer = \"{p}\"")),
        peer.prop_map(|p| format!("action = \"crash\"\npeer = \"{p}\"")),
        prop_oneof![Just("partition"), Just("heal"), Just("hold"), Just("release")]
            .prop_map(|a| format!("action = \"{a}\"")),
        (0.0f64..=1.0).prop_map(|v| format!("action = \"loss\"\nvalue = {}", toml::Value::Float(v))),
        (0u64..1000).prop_map(|ms| format!("action = \"latency\"\nms = {ms}")),
    ];
    (0u64..9000, action).prop_map(|(at, action)| format!("[[step]]\nat_ms = {at}\n{action}\n"))
}

/// A whole valid scenario.
fn valid_scenario() -> impl Strategy<Value = String> {
    (
        "[a-z][a-z -]{0,11}",
        0u64..=(i64::MAX as u64),
        0u64..1000,
        0.0f64..=1.0,
        proptest::collection::vec(valid_step(), 0..20),
    )
        .prop_map(|(name, seed, latency, loss, steps)| {
            format!(
                "version = 1\nname = {}\nseed = {seed}\nduration_ms = 10000\n\
                 [network]\nlatency_ms = {latency}\nloss = {}\n\
                 [[channel]]\nlabel = \"chat\"\n\
                 [[channel]]\nlabel = \"sync\"\nnegotiated = true\nid = 0\n\
                 [[step]]\nat_ms = 0\naction = \"connect\"\n{}",
                lit(&name),
                toml::Value::Float(loss),
                steps.concat()
            )
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,400}") {
        no_panic_one_line(Scenario::parse("fuzz.toml", &text))?;
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        no_panic_one_line(Scenario::parse_bytes("fuzz.toml", &bytes))?;
    }

    #[test]
    fn scenario_shaped_text_never_panics(parts in proptest::collection::vec(fragment(), 0..40)) {
        let result = Scenario::parse("fuzz.toml", &parts.concat());
        if let Ok(s) = &result {
            // Whatever parses also survives writing and reading back.
            let back = Scenario::parse("written.toml", &s.to_toml());
            prop_assert_eq!(back.map(without_lines), Ok(without_lines(s.clone())));
        }
        no_panic_one_line(result)?;
    }

    #[test]
    fn valid_scenarios_parse_sort_and_survive_writing(text in valid_scenario()) {
        let s = match Scenario::parse("gen.toml", &text) {
            Ok(s) => s,
            Err(e) => return Err(TestCaseError::fail(format!("{e}\n{text}"))),
        };
        prop_assert!(s.steps.windows(2).all(|w| w[0].at_ms <= w[1].at_ms));
        let timeline = s.timeline();
        prop_assert!(timeline.windows(2).all(|w| w[0].at_ms <= w[1].at_ms));
        let back = Scenario::parse("written.toml", &s.to_toml());
        prop_assert_eq!(back.map(without_lines), Ok(without_lines(s)));
    }

    #[test]
    fn mutated_builtins_never_panic(
        which in 0usize..11,
        at in any::<prop::sample::Index>(),
        cut in 0usize..40,
        insert in ".{0,10}",
    ) {
        let names: Vec<&str> = builtin::names().map(|(n, _)| n).collect();
        let source = names.get(which).and_then(|n| builtin::source(n)).unwrap_or("");
        let chars: Vec<char> = source.chars().collect();
        let i = at.index(chars.len() + 1);
        let end = (i + cut).min(chars.len());
        let mutated: String = chars.get(..i).unwrap_or(&[]).iter()
            .chain(insert.chars().collect::<Vec<_>>().iter())
            .chain(chars.get(end..).unwrap_or(&[]).iter())
            .collect();
        no_panic_one_line(Scenario::parse("fuzz.toml", &mutated))?;
    }
}

/// The scenario `[ice]` over the profile: a partial table changes only the keys it names,
/// and a table equal to the webrtc-rs defaults is applied like any other.
#[test]
fn a_partial_ice_table_keeps_the_profiles_other_timeouts() {
    use dcsim::model::Profile;
    use dcsim::sim::peer_config;
    let partial = ok(&format!("{HEAD}\n[ice]\ndisconnected_timeout_ms = 3000\n"));
    for profile in [Profile::WEBRTC_RS, Profile::W3C, Profile::AIORTC] {
        let base = profile.peer_config();
        let config = peer_config(&partial, profile);
        assert_eq!(config.ice.disconnected_timeout_ms, 3000);
        assert_eq!(config.ice.failed_timeout_ms, base.ice.failed_timeout_ms);
        assert_eq!(
            config.ice.keepalive_interval_ms,
            base.ice.keepalive_interval_ms
        );
        assert_eq!(peer_config(&ok(HEAD), profile), base, "no [ice] table");
    }
    let webrtc_defaults = ok(&format!(
        "{HEAD}\n[ice]\ndisconnected_timeout_ms = 5000\nfailed_timeout_ms = 25000\nkeepalive_interval_ms = 2000\n"
    ));
    let w3c = peer_config(&webrtc_defaults, Profile::W3C);
    assert_eq!(w3c.ice.failed_timeout_ms, 25000);
    assert_ne!(Profile::W3C.peer_config().ice.failed_timeout_ms, 25000);
}

/// End to end: a w3c run with only `disconnected_timeout_ms = 3000` that partitions at
/// 5 s reads ICE `failed` the w3c failed timeout after `disconnected`, not webrtc-rs's.
#[test]
fn a_w3c_run_with_a_partial_ice_table_fails_on_the_w3c_timeout() {
    use dcsim::model::Profile;
    use dcsim::sim::{run, Engine, RunOptions};
    let s = ok(r#"version = 1
name = "partial-ice"
profile = "w3c"
duration_ms = 60000

[ice]
disconnected_timeout_ms = 3000

[[channel]]
label = "chat"

[[step]]
at_ms = 0
action = "connect"
[[step]]
at_ms = 5000
action = "partition"
"#);
    let options = RunOptions {
        engine: Engine::Direct,
        ..RunOptions::default()
    };
    let trace = run(&s, &options).expect("run").trace;
    let at = |to: &str| {
        trace
            .events
            .iter()
            .find(|e| {
                e.peer == Some(PeerId::A)
                    && matches!(&e.kind, dcsim::trace::EventKind::State { machine, to: t, .. }
                        if machine.to_string() == "ice_connection" && t == to)
            })
            .map(|e| e.t_ms)
            .unwrap_or_else(|| panic!("no ice {to}:\n{}", trace.render_text()))
    };
    let failed_after = at("failed") - at("disconnected");
    let w3c = Profile::W3C.peer_config().ice.failed_timeout_ms;
    // Within one consent tick of the w3c failed timeout.
    assert!(
        failed_after.abs_diff(w3c) <= Profile::W3C.peer_config().ice.keepalive_interval_ms,
        "failed {failed_after} ms after disconnected, w3c's timeout is {w3c} ms:\n{}",
        trace.render_text()
    );
}

/// The action table is the one place that says which actions are application calls:
/// the trace writes exactly those as `app` events.
#[test]
fn the_action_table_and_the_traces_app_actions_agree() {
    use dcsim::scenario::{ActionKind, ACTIONS};
    let app: Vec<&str> = ACTIONS
        .iter()
        .filter(|a| a.kind == ActionKind::App)
        .map(|a| a.name)
        .collect();
    assert_eq!(app, dcsim::trace::APP_ACTIONS);
    let names: Vec<&str> = ACTIONS.iter().map(|a| a.name).collect();
    assert_eq!(names, Action::NAMES);
}

// ----- Partial reliability -----------------------------------------------------------

#[test]
fn partial_reliability_keys_parse_and_round_trip() {
    use dcsim::scenario::Reliability;
    let s = ok("version = 1\nname = \"t\"\n\n[[channel]]\nlabel = \"a\"\nordered = false\n\
                max_retransmits = 0\n\n[[channel]]\nlabel = \"b\"\nmax_packet_life_time_ms = 500\n\n\
                [[channel]]\nlabel = \"c\"\n");
    let got: Vec<(bool, Reliability)> = s
        .channels
        .iter()
        .map(|c| (c.ordered, c.reliability))
        .collect();
    assert_eq!(
        got,
        [
            (false, Reliability::MaxRetransmits(0)),
            (true, Reliability::MaxPacketLifeTime(500)),
            (true, Reliability::Reliable),
        ]
    );
    let back = Scenario::parse("written.toml", &s.to_toml()).expect("parses");
    assert_eq!(back.channels, s.channels);
}

#[test]
fn bad_partial_reliability_is_one_line_naming_the_key() {
    let both = err(&format!(
        "{HEAD}max_retransmits = 1\nmax_packet_life_time_ms = 100\n"
    ));
    check(
        &both,
        Some(7),
        "channel[0].max_packet_life_time_ms",
        "cannot both be set",
    );
    let negative = err(&format!("{HEAD}max_retransmits = -1\n"));
    check(
        &negative,
        Some(6),
        "channel[0].max_retransmits",
        "must not be negative",
    );
    let large = err(&format!("{HEAD}max_packet_life_time_ms = 70000\n"));
    check(
        &large,
        Some(6),
        "channel[0].max_packet_life_time_ms",
        "too large",
    );
    let text = err(&format!("{HEAD}max_retransmits = \"none\"\n"));
    assert_eq!(text.field, "channel[0].max_retransmits");
}
