//! `dcsim check` on the command line: exit 0 when every invariant holds, 1 with the
//! shortest counterexample, 2 with one line on stderr for a bad argument.

use std::process::{Command, Output};

fn dcsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dcsim"))
        .arg("check")
        .args(args)
        .output()
        .expect("dcsim runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn raw_app_exits_1_with_the_race_as_a_trace() {
    for profile in ["webrtc-rs", "w3c"] {
        let out = dcsim(&["--app", "raw", "--profile", profile]);
        assert_eq!(out.status.code(), Some(1));
        let text = stdout(&out);
        assert!(
            text.contains("counterexample (1 action) violates no-send-on-non-open"),
            "{text}"
        );
        assert!(text.contains("1. a: send on c0"), "{text}");
        assert!(
            text.contains("send[c0] #100 raw (connecting) -> error"),
            "{text}"
        );
        assert!(text.contains("unique states:  "), "{text}");
    }
}

#[test]
fn guarded_app_exits_0_and_reports_the_counts() {
    let small = "timeouts=0,channel-closes=0,peer-closes=0,ice-restarts=0";
    let out = dcsim(&["--app", "guarded", "--bounds", small]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let text = stdout(&out);
    for line in [
        "dcsim check: profile webrtc-rs, app guarded, 1 channel",
        "states visited: ",
        "unique states:  ",
        "(state space exhausted)",
        "wall time:      ",
        "states/second:  ",
        "all invariants hold",
    ] {
        assert!(text.contains(line), "{line:?} in {text}");
    }
}

#[test]
fn a_depth_bound_is_reported() {
    let out = dcsim(&["--depth", "3", "--threads", "2"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stdout(&out).contains("depth reached:  3\n"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn bad_arguments_exit_2_with_one_line() {
    for (args, needle) in [
        (&["--depth", "deep"][..], "--depth"),
        (&["--app", "careful"][..], "--app"),
        (&["--profile", "chrome"][..], "--profile"),
        (&["--channels", "0"][..], "--channels"),
        (&["--channels", "10"][..], "--channels"),
        (&["--sends", "-1"][..], "--sends"),
        (&["--threads", "0"][..], "--threads"),
        (&["--max-states", "0"][..], "--max-states"),
        (&["--max-states", "many"][..], "--max-states"),
        (&["--bounds", "timeouts"][..], "--bounds"),
        (&["--bounds", "weather=1"][..], "--bounds"),
        (&["--bounds", "drops=999"][..], "--bounds"),
    ] {
        let out = dcsim(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}
