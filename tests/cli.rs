//! The command line's contract: exit 0 clean, 1 on a violation, 2 on bad input with one
//! line on stderr naming what is wrong.

use std::process::{Command, Output};

fn dcsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dcsim"))
        .args(args)
        .output()
        .expect("dcsim runs")
}

fn stderr_line(out: &Output) -> String {
    let text = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(
        text.trim_end().lines().count(),
        1,
        "one line on stderr: {text:?}"
    );
    text
}

fn write(name: &str, bytes: &[u8]) -> String {
    let dir = std::env::temp_dir().join(format!("dcsim-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write");
    path.to_string_lossy().into_owned()
}

#[test]
fn clean_run_exits_0_and_race_exits_1() {
    assert_eq!(
        dcsim(&["run", "happy-path", "--engine", "direct"])
            .status
            .code(),
        Some(0)
    );
    let out = dcsim(&["run", "send-before-open", "--engine", "direct"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("violation no-send-on-non-open"));
    assert!(text.contains("data channel is not open yet"));
}

#[test]
fn w3c_profile_gives_the_browsers_invalid_state_error() {
    let out = dcsim(&[
        "run",
        "send-before-open",
        "--profile",
        "w3c",
        "--format",
        "json",
        "--engine",
        "direct",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains(
        "InvalidStateError: Failed to execute 'send' on 'RTCDataChannel': RTCDataChannel.readyState is not 'open'"
    ));
}

#[test]
fn every_output_format_renders() {
    for (format, needle) in [
        ("text", "-- summary"),
        ("json", "\"event\":\"state\""),
        ("mermaid", "sequenceDiagram"),
        ("html", "<html"),
    ] {
        let out = dcsim(&[
            "run",
            "happy-path",
            "--format",
            format,
            "--engine",
            "direct",
        ]);
        assert_eq!(out.status.code(), Some(0), "{format}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains(needle),
            "{format}"
        );
    }
}

#[test]
fn malformed_scenarios_exit_2_with_one_line() {
    let cases: &[(&str, &[u8], &str)] = &[
        ("unknown-action.toml", b"version = 1\nname = \"x\"\n[[step]]\nat_ms = 0\naction = \"explode\"\n", "unknown action"),
        ("missing-field.toml", b"version = 1\nname = \"x\"\n[[channel]]\nlabel = \"c\"\n[[step]]\nat_ms = 0\naction = \"send\"\ndata = \"x\"\n", "channel"),
        ("wrong-type.toml", b"version = 1\nname = \"x\"\nduration_ms = \"long\"\n", "duration_ms"),
        ("negative.toml", b"version = 1\nname = \"x\"\n[[step]]\nat_ms = -5\naction = \"connect\"\n", "negative"),
        ("unknown-channel.toml", b"version = 1\nname = \"x\"\n[[step]]\nat_ms = 0\naction = \"send\"\nchannel = \"nope\"\ndata = \"x\"\n", "nope"),
        ("unknown-peer.toml", b"version = 1\nname = \"x\"\n[[channel]]\nlabel = \"c\"\n[[step]]\nat_ms = 0\naction = \"close_peer\"\npeer = \"z\"\n", "peer"),
        ("not-toml.toml", b"this is { not toml", ""),
        ("empty.toml", b"", ""),
        ("garbage.toml", &[0xff, 0xfe, 0x00, 0x9c, 0x13], ""),
    ];
    for (name, bytes, needle) in cases {
        let path = write(name, bytes);
        let out = dcsim(&["run", &path]);
        assert_eq!(out.status.code(), Some(2), "{name}");
        let line = stderr_line(&out);
        assert!(line.contains(name), "{name}: names the file: {line}");
        assert!(line.contains(needle), "{name}: {line}");
    }
}

#[test]
fn bad_arguments_exit_2() {
    assert_eq!(dcsim(&["run", "no-such-scenario"]).status.code(), Some(2));
    assert_eq!(
        dcsim(&["run", "happy-path", "--profile", "netscape"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        dcsim(&["explore", "happy-path", "--runs", "0"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(dcsim(&["frobnicate"]).status.code(), Some(2));
    let bad = write("bad-trace.json", b"{\"t_ms\":1}\n");
    let out = dcsim(&["diff", &bad, &bad]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_line(&out).contains("bad-trace.json:line 1"));
}

#[test]
fn explore_reports_seeds_and_varies_timings() {
    let out = dcsim(&[
        "explore",
        "transient-disconnect",
        "--runs",
        "40",
        "--seed",
        "3",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("explored 40 runs"), "{text}");
    let a = dcsim::explore::perturb(
        &dcsim::scenario::builtin::get("transient-disconnect").expect("b"),
        1,
    );
    let b = dcsim::explore::perturb(
        &dcsim::scenario::builtin::get("transient-disconnect").expect("b"),
        2,
    );
    assert_ne!(
        a, b,
        "a different seed varies latency, loss and fault times"
    );
}

#[test]
fn explore_swarm_prints_each_runs_draw_and_the_coverage() {
    let out = dcsim(&[
        "explore",
        "checking-disconnected-failed",
        "--runs",
        "5",
        "--verbose",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    let runs: Vec<&str> = text.lines().filter(|l| l.starts_with("run ")).collect();
    assert_eq!(runs.len(), 5, "{text}");
    assert!(runs.iter().all(|l| l.contains("latency")), "{text}");
    assert!(text.contains("(swarm, seeds 0..=4)"), "{text}");
    assert!(text.contains("reached (runs of 5):"), "{text}");
    assert!(text.contains("  drew: "), "{text}");
    let again = dcsim(&[
        "explore",
        "checking-disconnected-failed",
        "--runs",
        "5",
        "--verbose",
    ]);
    let strip = |t: &str| -> String {
        t.lines()
            .filter(|l| !l.starts_with("explored"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(strip(&text), strip(&String::from_utf8_lossy(&again.stdout)));
    let bad = dcsim(&["explore", "happy-path", "--mode", "sideways"]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn diff_finds_where_two_runs_part() {
    let a = dcsim(&[
        "run",
        "happy-path",
        "--format",
        "json",
        "--engine",
        "direct",
    ]);
    let b = dcsim(&[
        "run",
        "happy-path",
        "--format",
        "json",
        "--engine",
        "direct",
        "--profile",
        "w3c",
    ]);
    let pa = write("a.json", &a.stdout);
    let pb = write("b.json", &b.stdout);
    assert_eq!(dcsim(&["diff", &pa, &pa]).status.code(), Some(0));
    let out = dcsim(&["diff", &pa, &pb]);
    assert_eq!(out.status.code(), Some(1));
}

/// `conform --peer` reads a recorded run directory. A model trace of the peer's own
/// profile agrees with the model; a recorded trace with one state moved diverges (exit
/// 1); bad peers, directories and traces are one-line errors (exit 2).
#[test]
fn conform_peer_compares_recorded_runs() {
    let dir = std::env::temp_dir().join(format!("dcsim-cli-peer-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let dir_arg = dir.to_string_lossy().into_owned();
    let recorded = dcsim(&[
        "run",
        "remote-close",
        "--profile",
        "w3c",
        "--format",
        "json",
    ]);
    let text = String::from_utf8(recorded.stdout).expect("utf-8");
    std::fs::write(dir.join("remote-close.jsonl"), &text).expect("write");
    std::fs::write(
        dir.join("skipped.txt"),
        "ice-restart: no restart in the player\n",
    )
    .expect("write");
    let out = dcsim(&["conform", "--peer", "chromium", "--traces", &dir_arg]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{table}");
    assert!(table.contains("| remote-close | agree | - |"), "{table}");
    assert!(
        table.contains("| ice-restart | not expressible | no restart in the player |"),
        "{table}"
    );

    // The real side's channel closed where the model's opened.
    let shifted: String = text
        .lines()
        .map(|line| {
            if line.contains(r#""to":"open""#) && line.contains("data_channel") {
                line.replace(r#""to":"open""#, r#""to":"closed""#)
            } else {
                line.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(dir.join("remote-close.jsonl"), shifted).expect("write");
    let out = dcsim(&["conform", "--peer", "chromium", "--traces", &dir_arg]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{table}");
    assert!(table.contains("| remote-close | DIVERGE"), "{table}");

    let out = dcsim(&["conform", "--peer", "netscape", "--traces", &dir_arg]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_line(&out).contains("--peer: unknown peer `netscape`"));
    let out = dcsim(&["conform", "--peer", "chromium"]);
    assert_eq!(out.status.code(), Some(2));
    std::fs::write(dir.join("remote-close.jsonl"), "{not json}\n").expect("write");
    let out = dcsim(&["conform", "--peer", "chromium", "--traces", &dir_arg]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_line(&out).contains("remote-close.jsonl:1: "));
    std::fs::write(dir.join("remote-close.jsonl"), "").expect("write");
    std::fs::rename(
        dir.join("remote-close.jsonl"),
        dir.join("no-such-scenario.jsonl"),
    )
    .expect("rename");
    let out = dcsim(&["conform", "--peer", "chromium", "--traces", &dir_arg]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_line(&out).contains("no built-in scenario `no-such-scenario`"));
    let _ = std::fs::remove_dir_all(&dir);
}
