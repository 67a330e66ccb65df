//! Scaling: run time against the number of channels and against the trace length, on
//! the simulator (model stack), with the slope and the ratio between successive sizes.

use crate::harness::{dur, measure, Budget, Sample, Table};
use dcsim::scenario::Scenario;
use dcsim::sim::{self, Engine, RunOptions, StackKind};
use dcsim::trace::EventKind;
use std::fmt::Write;

/// `n` in-band channels created by `a` before the run, all opened, then one message on
/// each at 2 s.
pub fn channels_scenario(n: usize) -> Scenario {
    let mut t = String::from(
        "version = 1\nname = \"scale-channels\"\nduration_ms = 3000\n\n[network]\nlatency_ms = 10\n\n",
    );
    for i in 0..n {
        let _ = write!(t, "[[channel]]\nlabel = \"c{i}\"\n\n");
    }
    t.push_str("[[step]]\nat_ms = 0\naction = \"connect\"\n\n");
    for i in 0..n {
        let _ = write!(
            t,
            "[[step]]\nat_ms = 2000\naction = \"send\"\npeer = \"a\"\nchannel = \"c{i}\"\ndata = \"x\"\n\n"
        );
    }
    Scenario::parse("scale-channels.toml", &t).expect("generated scenario parses")
}

/// happy-path with `count = n`: one channel, `n` messages a -> b, one every
/// `interval_ms` from 1 s, then the channel closed.
pub fn messages_scenario(n: u32, interval_ms: u64) -> Scenario {
    let end = 1000 + u64::from(n) * interval_ms + 1000;
    let t = format!(
        "version = 1\nname = \"scale-messages\"\nduration_ms = {}\n\n[network]\nlatency_ms = 10\n\n\
         [[channel]]\nlabel = \"chat\"\n\n\
         [[step]]\nat_ms = 0\naction = \"connect\"\n\n\
         [[step]]\nat_ms = 1000\naction = \"send\"\npeer = \"a\"\nchannel = \"chat\"\ndata = \"hello\"\ncount = {n}\ninterval_ms = {interval_ms}\n\n\
         [[step]]\nat_ms = {end}\naction = \"close_channel\"\npeer = \"a\"\nchannel = \"chat\"\n",
        end + 500,
    );
    Scenario::parse("scale-messages.toml", &t).expect("generated scenario parses")
}

fn delivered(scenario: &Scenario, engine: Engine) -> usize {
    let opts = RunOptions {
        engine,
        stack: StackKind::Model,
        ..RunOptions::default()
    };
    let report = sim::run(scenario, &opts).expect("run");
    assert!(
        report.trace.is_clean(),
        "scaling scenario {} violated an invariant",
        scenario.name
    );
    report
        .trace
        .events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Deliver { .. }))
        .count()
}

/// Measures one series and writes its rows: time per size, time per unit, ratio to the
/// previous size and the growth exponent log(t2/t1)/log(n2/n1) (1.0 = linear).
#[allow(clippy::too_many_arguments)]
fn series(
    table: &mut Table,
    budget: Budget,
    title: &str,
    unit: &str,
    engine: Engine,
    sizes: &[usize],
    make: impl Fn(usize) -> Scenario,
    quick: bool,
) -> Vec<(usize, Sample)> {
    let opts = RunOptions {
        engine,
        stack: StackKind::Model,
        ..RunOptions::default()
    };
    let scenarios: Vec<Scenario> = sizes
        .iter()
        .map(|&n| {
            let scenario = make(n);
            assert_eq!(
                delivered(&scenario, engine),
                n,
                "{title}: every message arrives"
            );
            scenario
        })
        .collect();
    let mut b = budget;
    if quick {
        b = b.scaled(0.2);
    }
    // One size after the other, each with its own warm-up. (Interleaving the sizes
    // was tried: right after a 100k-message run, which frees a hundred megabytes, a
    // 1k run measured three times slower than alone.)
    let out: Vec<(usize, Sample)> = sizes
        .iter()
        .zip(&scenarios)
        .map(|(&n, scenario)| (n, measure(b, || sim::run(scenario, &opts).expect("run"))))
        .collect();
    for (i, (n, s)) in out.iter().enumerate() {
        let per = s.secs() / *n as f64;
        let growth = if i == 0 {
            String::from("—")
        } else {
            let (n0, s0) = &out[i - 1];
            let r = s.secs() / s0.secs();
            let e = r.ln() / (*n as f64 / *n0 as f64).ln();
            format!("x{r:.1} for x{} size (exponent {e:.2})", n / n0)
        };
        table.row(
            "Scaling",
            format!("{title}: {n} {unit}"),
            dur(s.secs()),
            "linear",
            None,
            format!(
                "{}/{unit}; vs previous: {growth}; median of {}, ±{:.0}%",
                dur(per),
                s.n(),
                s.spread() * 100.0
            ),
        );
    }
    out
}

/// The slope between the two largest sizes, (t2 - t1) / (n2 - n1), and the exponent.
fn slope(table: &mut Table, title: &str, unit: &str, points: &[(usize, Sample)]) {
    if points.len() < 2 {
        return;
    }
    let (n1, s1) = &points[points.len() - 2];
    let (n2, s2) = &points[points.len() - 1];
    let slope = (s2.secs() - s1.secs()) / (*n2 as f64 - *n1 as f64);
    // Judged on the two largest sizes: at small sizes fixed costs (connect, the turmoil
    // engine's per-millisecond step) hide a super-linear term.
    let e = (s2.secs() / s1.secs()).ln() / (*n2 as f64 / *n1 as f64).ln();
    table.row(
        "Scaling",
        format!("{title}: slope"),
        format!("{}/{unit}", dur(slope)),
        "linear (exponent ≤ 1.15)",
        Some(e <= 1.15),
        format!("between {n1} and {n2} {unit}s (exponent {e:.2})"),
    );
}

pub fn channels(table: &mut Table, budget: Budget, quick: bool) {
    let sizes = [1, 10, 100, 1000];
    let pts = series(
        table,
        budget,
        "channels (direct engine)",
        "channel",
        Engine::Direct,
        &sizes,
        channels_scenario,
        quick,
    );
    slope(table, "channels (direct engine)", "channel", &pts);
    // No turmoil series: from about 64 channels the DCEP burst overflows turmoil's
    // per-host UDP buffer (64 datagrams, `Builder::udp_capacity`), datagrams are dropped
    // and SCTP retransmits after its 1 s RTO, so the channels are not open when the
    // messages are sent: another run than the direct engine's (which buffers without
    // bound). The table notes it.
}

pub fn messages(table: &mut Table, budget: Budget, quick: bool) {
    let sizes = [1_000, 10_000, 100_000];
    let pts = series(
        table,
        budget,
        "messages, 1 per ms (direct engine)",
        "msg",
        Engine::Direct,
        &sizes,
        |n| messages_scenario(n as u32, 1),
        quick,
    );
    slope(table, "messages, 1 per ms (direct engine)", "msg", &pts);
    let pts = series(
        table,
        budget,
        "messages, burst at one instant (direct engine)",
        "msg",
        Engine::Direct,
        &sizes,
        |n| messages_scenario(n as u32, 0),
        quick,
    );
    slope(table, "messages, burst (direct engine)", "msg", &pts);
    let pts = series(
        table,
        budget.scaled(0.5),
        "messages, 1 per ms (turmoil engine)",
        "msg",
        Engine::Turmoil,
        &sizes,
        |n| messages_scenario(n as u32, 1),
        quick,
    );
    slope(table, "messages, 1 per ms (turmoil engine)", "msg", &pts);
}

pub fn smoke() {
    assert_eq!(delivered(&channels_scenario(3), Engine::Direct), 3);
    assert_eq!(delivered(&messages_scenario(20, 1), Engine::Direct), 20);
    assert_eq!(delivered(&messages_scenario(20, 0), Engine::Direct), 20);
}
