//! Property tests per second, and the exhaustive checker.
//!
//! The property: random guarded histories on the pure model. Two model peers, `a`
//! creates two in-band channels and connects; then a random history of guarded sends
//! on `a`, deliveries of any in-flight datagram (so reordering), drops, duplicates,
//! time passing (timers fire), channel closes and peer-connection closes on either
//! peer. At every step: the guard never releases a message while the model's channel
//! is not open, offered = transmitted + dropped + queued, the queue stays bounded, and
//! `b` receives each channel's messages in order.

use crate::harness::{dur, how, measure, si, Budget, Table};
use crate::link::Link;
use dcsim::check::app::AppKind;
use dcsim::check::explorer::{explore, ExploreOptions};
use dcsim::check::world::{World, WorldConfig};
use dcsim::guard::{Guard, GuardConfig, GuardOutput, Outcome, SizedMsg};
use dcsim::model::{DataChannelState, Input, Profile, ProfileName};
use dcsim::stack::{AppCall, StackEvent, StateChange};
use dcsim::trace::PeerId;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};
use std::cell::Cell;

const LABELS: [&str; 2] = ["c0", "c1"];

#[derive(Clone, Debug)]
enum Op {
    Send(usize),
    Deliver(usize),
    Drop(usize),
    Duplicate(usize),
    Tick(u64),
    CloseChannel(PeerId, usize),
    ClosePeer(PeerId),
}

fn peer() -> impl Strategy<Value = PeerId> {
    prop_oneof![Just(PeerId::A), Just(PeerId::B)]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (0..LABELS.len()).prop_map(Op::Send),
        12 => any::<usize>().prop_map(Op::Deliver),
        1 => any::<usize>().prop_map(Op::Drop),
        1 => any::<usize>().prop_map(Op::Duplicate),
        3 => (0u64..3000).prop_map(Op::Tick),
        1 => (peer(), 0..LABELS.len()).prop_map(|(p, c)| Op::CloseChannel(p, c)),
        1 => peer().prop_map(Op::ClosePeer),
    ]
}

struct History {
    link: Link,
    guards: Vec<Guard<SizedMsg>>,
    next_id: u64,
    last_delivered: [Option<u64>; 2],
}

fn fail(msg: String) -> Result<(), TestCaseError> {
    Err(TestCaseError::fail(msg))
}

impl History {
    fn new() -> Self {
        let mut link = Link::new(&LABELS);
        link.keep_events = true;
        link.connect();
        let mut w = History {
            link,
            guards: (0..LABELS.len())
                .map(|_| Guard::new(GuardConfig::default()))
                .collect(),
            next_id: 0,
            last_delivered: [None; 2],
        };
        w.events().expect("initial events");
        w
    }

    fn step(&mut self, op: &Op) -> Result<(), TestCaseError> {
        let now = self.link.now;
        match *op {
            Op::Send(ch) => {
                let id = self.next_id;
                self.next_id += 1;
                match self.guards[ch].send(now, id, SizedMsg { id, size: 16 }) {
                    Outcome::Send(p) => self.release(ch, p)?,
                    Outcome::Queued | Outcome::Rejected(_) => {}
                    _ => {}
                }
            }
            Op::Deliver(i) | Op::Drop(i) | Op::Duplicate(i) => {
                let n = self.link.in_flight.len();
                if n > 0 {
                    let i = i % n;
                    if let Op::Duplicate(_) = op {
                        if let Some(d) = self.link.in_flight.get(i).cloned() {
                            self.link.in_flight.push_back(d);
                        }
                    } else if let Some((to, p)) = self.link.in_flight.remove(i) {
                        if let Op::Deliver(_) = op {
                            let _ = self.link.input(to, Input::Datagram(p));
                        }
                    }
                }
            }
            Op::Tick(ms) => {
                self.link.now += ms;
                for id in PeerId::BOTH {
                    if self.link.peers[id.index()]
                        .poll_timeout()
                        .is_some_and(|t| t <= self.link.now)
                    {
                        let _ = self.link.input(id, Input::Timeout);
                    }
                }
                for g in &mut self.guards {
                    g.handle_timeout(self.link.now);
                }
            }
            Op::CloseChannel(p, ch) => {
                let _ = self.link.input(
                    p,
                    Input::App(AppCall::CloseChannel {
                        channel: LABELS[ch].to_string(),
                    }),
                );
            }
            Op::ClosePeer(p) => {
                let _ = self.link.input(p, Input::App(AppCall::ClosePeer));
            }
        }
        self.events()?;
        for g in &self.guards {
            if !g.conserved() {
                return fail(format!("conservation broken: {:?}", g.metrics()));
            }
            if g.queued_len() > g.config().max_queue_messages {
                return fail("queue over its bound".into());
            }
        }
        Ok(())
    }

    /// Feeds the stack's events to the guards and hands out what they release, until
    /// quiet.
    fn events(&mut self) -> Result<(), TestCaseError> {
        loop {
            let events = std::mem::take(&mut self.link.events);
            let now = self.link.now;
            for (peer, event) in &events {
                match (peer, event) {
                    (PeerId::A, StackEvent::State(StateChange::DataChannel(label, _, to))) => {
                        if let Some(ch) = LABELS.iter().position(|l| l == label) {
                            self.guards[ch].on_channel_state(now, *to);
                        }
                    }
                    (PeerId::A, StackEvent::State(StateChange::IceConnection(_, to))) => {
                        for g in &mut self.guards {
                            g.on_ice_state(now, *to);
                        }
                    }
                    (PeerId::A, StackEvent::State(StateChange::PeerConnection(_, to))) => {
                        for g in &mut self.guards {
                            g.on_peer_connection_state(now, *to);
                        }
                    }
                    (PeerId::B, StackEvent::Message { channel, msg, .. }) => {
                        if let Some(ch) = LABELS.iter().position(|l| l == channel) {
                            if self.last_delivered[ch].is_some_and(|last| *msg <= last) {
                                return fail(format!("{channel}: #{msg} out of order"));
                            }
                            self.last_delivered[ch] = Some(*msg);
                        }
                    }
                    _ => {}
                }
            }
            let mut released = false;
            for ch in 0..LABELS.len() {
                while let Some(out) = self.guards[ch].poll_output() {
                    if let GuardOutput::Transmit { payload, .. } = out {
                        released = true;
                        self.release(ch, payload)?;
                    }
                }
            }
            if !released && self.link.events.is_empty() {
                return Ok(());
            }
        }
    }

    /// The guard released `msg` on channel `ch`: it must be open in the model.
    fn release(&mut self, ch: usize, msg: SizedMsg) -> Result<(), TestCaseError> {
        let label = LABELS[ch];
        let state = self.link.peers[0].channel_state(label);
        if state != Some(DataChannelState::Open) {
            return fail(format!(
                "guard released #{} on {label} while {state:?}",
                msg.id
            ));
        }
        if let Err(e) = self.link.send(PeerId::A, label, msg.id, msg.size) {
            let now = self.link.now;
            self.guards[ch].on_send_error(now, msg.id, msg, e.kind);
        }
        Ok(())
    }
}

fn run_cases(cases: u32) -> u64 {
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    let rng = TestRng::deterministic_rng(RngAlgorithm::ChaCha);
    let mut runner = TestRunner::new_with_rng(config, rng);
    let steps = Cell::new(0u64);
    let result = runner.run(&prop::collection::vec(op(), 1..200), |ops| {
        let mut w = History::new();
        for op in &ops {
            w.step(op)?;
        }
        steps.set(steps.get() + ops.len() as u64);
        Ok(())
    });
    if let Err(e) = result {
        panic!("the benchmarked property failed: {e}");
    }
    steps.get()
}

pub fn cases_per_second(table: &mut Table, budget: Budget) {
    const CASES: u32 = 256;
    let steps = Cell::new(0);
    let sample = measure(budget, || steps.set(run_cases(CASES)));
    let rate = f64::from(CASES) / sample.secs();
    table.row(
        "Proptest",
        "random guarded histories on the pure model (2 peers, 2 channels, 1..200 ops)",
        format!("{} cases/s", si(rate)),
        "",
        None,
        format!(
            "{CASES} cases ({} ops, generation included) in {}, {}; {} ops/s",
            steps.get(),
            dur(sample.secs()),
            how(&sample),
            si(steps.get() as f64 / sample.secs())
        ),
    );
}

/// The default `dcsim check` world (webrtc-rs, one channel, default bounds).
fn world(app: AppKind) -> World {
    World::new(WorldConfig::new(Profile::of(ProfileName::WebrtcRs), app)).expect("world")
}

fn options(max_depth: usize, max_states: u64) -> ExploreOptions {
    threaded(max_depth, max_states, 1)
}

fn threaded(max_depth: usize, max_states: u64, threads: usize) -> ExploreOptions {
    ExploreOptions {
        max_depth,
        threads,
        max_states,
        sleep_sets: true,
    }
}

/// Unique states a full-depth run may reach before the benchmark stops it: the default
/// `dcsim check`'s own limit.
const FULL_RUN_STATES: u64 = dcsim::check::explorer::DEFAULT_MAX_STATES;

pub fn checker(table: &mut Table, budget: Budget) {
    // States per second at a depth that takes about a second.
    const DEPTH: usize = 12;
    let guarded = world(AppKind::Guarded);
    let last = Cell::new((0u64, 0u64));
    let sample = measure(budget, || {
        let r = explore(&guarded, &options(DEPTH, u64::MAX), |_| {});
        assert!(r.counterexample.is_none(), "guarded app passes");
        last.set((r.unique, r.visited));
    });
    let (unique, visited) = last.get();
    let rate = unique as f64 / sample.secs();
    table.row(
        "Checker",
        format!("unique states/s, `dcsim check --depth {DEPTH}` (guarded, 1 thread)"),
        format!("{} states/s", si(rate)),
        "> 1 M states/s per core",
        Some(rate > 1e6),
        format!(
            "{unique} unique ({visited} visited, {} visited/s) in {}, {}",
            si(visited as f64 / sample.secs()),
            dur(sample.secs()),
            how(&sample)
        ),
    );

    // The full-depth run: the default `dcsim check` (depth 1000, i.e. until no new
    // state), with 1 and with 2 threads, and with 1 thread without sleep sets,
    // alternating, twice each; the reports must agree (but for the states visited
    // without sleep sets).
    let mut runs: [Vec<f64>; 3] = [Vec::new(), Vec::new(), Vec::new()];
    let mut reports = Vec::new();
    let mut unslept = Vec::new();
    let mut growth = String::new();
    for round in 0..2 {
        for (i, threads) in [1usize, 2, 1].into_iter().enumerate() {
            let levels = std::cell::RefCell::new(Vec::new());
            let options = ExploreOptions {
                sleep_sets: i < 2,
                ..threaded(1000, FULL_RUN_STATES, threads)
            };
            let r = explore(&guarded, &options, |p| levels.borrow_mut().push(p));
            assert!(r.counterexample.is_none(), "guarded app passes");
            runs[i].push(r.elapsed.as_secs_f64());
            if round == 0 && threads == 1 {
                let l = levels.borrow();
                if let (Some(a), Some(b)) =
                    (l.len().checked_sub(5).and_then(|i| l.get(i)), l.last())
                {
                    if a.unique > 0 {
                        growth = format!(
                            "; unique states x{:.1} over the last 4 levels",
                            b.unique as f64 / a.unique as f64
                        );
                    }
                }
            }
            if i < 2 {
                reports.push(r);
            } else {
                unslept.push(r);
            }
        }
    }
    let first = &reports[0];
    let same = reports.iter().all(|r| {
        (r.unique, r.visited, r.depth, r.exhausted)
            == (first.unique, first.visited, first.depth, first.exhausted)
    });
    assert!(same, "the report does not depend on the thread count");
    assert!(
        unslept.iter().all(|r| {
            (r.unique, r.visited, r.depth, r.exhausted)
                == (
                    first.unique,
                    first.visited + first.skipped,
                    first.depth,
                    first.exhausted,
                )
        }),
        "sleep sets change nothing but the states visited"
    );
    let best = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
    let (one, two, off) = (best(&runs[0]), best(&runs[1]), best(&runs[2]));
    let per_core = first.unique as f64 / one;
    if first.exhausted {
        table.row(
            "Checker",
            "full-depth guarded run, `dcsim check --threads 1`",
            dur(one),
            "",
            None,
            format!(
                "exhausted at depth {}: {} unique states ({} visited); runs {} and {}, alternating with 2 threads",
                first.depth,
                first.unique,
                first.visited,
                dur(runs[0][0]),
                dur(runs[0][1]),
            ),
        );
        table.row(
            "Checker",
            "the same run without sleep sets, `--no-sleep-sets --threads 1`",
            dur(off),
            "",
            None,
            format!(
                "runs {} and {}, alternating with the two above; {} visited, the same unique states, depth and verdict; with sleep sets {:.2}x faster",
                dur(runs[2][0]),
                dur(runs[2][1]),
                first.visited + first.skipped,
                off / one
            ),
        );
        table.row(
            "Checker",
            "unique states/s per core, the same run (1 thread)",
            format!("{} states/s", si(per_core)),
            "> 1 M states/s per core",
            Some(per_core > 1e6),
            format!("{} visited/s", si(first.visited as f64 / one)),
        );
        table.row(
            "Checker",
            "the same run, `--threads 2` (the default `dcsim check` on 2 cores)",
            dur(two),
            "< 10 s, faster than 1 thread, same report",
            Some(two < 10.0 && two < one && same),
            format!(
                "runs {} and {}; {:.2}x the 1-thread run; the same counts, depth and verdict",
                dur(runs[1][0]),
                dur(runs[1][1]),
                one / two
            ),
        );
    } else {
        table.row(
            "Checker",
            "full-depth guarded run (default `dcsim check`)",
            format!("not reached in {}", dur(one)),
            "< 10 s",
            Some(false),
            format!(
                "stopped by the benchmark at {} unique states: depth {} done, frontier still growing{growth}",
                first.unique, first.depth,
            ),
        );
    }

    // The bigger world: two sends per peer, to the end, as the command a user runs: a
    // `dcsim check --sends 2 --threads 2` process of its own, so that its peak memory
    // (the report's, the process's high-water mark) is that run's alone and not what
    // this bench process kept from its earlier groups.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dcsim"))
        .args(["check", "--sends", "2", "--threads", "2"])
        .output()
        .expect("run dcsim check --sends 2");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("all invariants hold"),
        "dcsim check --sends 2: guarded app passes\n{text}"
    );
    let field = |name: &str| -> &str {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .map(str::trim)
            .unwrap_or_else(|| panic!("no `{name}` in the report of dcsim check --sends 2"))
    };
    let number = |name: &str| -> f64 {
        let value = field(name).split_whitespace().next().unwrap_or("");
        value.parse().unwrap_or_else(|_| panic!("`{name}` {value}"))
    };
    let secs = number("wall time:");
    let depth = field("depth reached:");
    let exhausted = depth.contains("exhausted");
    let bytes = text
        .contains("peak memory:")
        .then(|| number("peak memory:") * 1e9);
    let memory = bytes.map_or("unknown".to_string(), |b| {
        format!("{:.2} GiB", b / (1u64 << 30) as f64)
    });
    let under = bytes.is_some_and(|b| b < (4u64 << 30) as f64);
    let unique = number("unique states:");
    table.row(
        "Checker",
        "`dcsim check --sends 2 --threads 2`",
        if exhausted {
            dur(secs)
        } else {
            format!("not reached in {}", dur(secs))
        },
        "to the end, < 2 min, < 4 GiB",
        Some(exhausted && secs < 120.0 && under),
        format!(
            "{}: {} unique states ({} visited), depth {}, {} unique states/s, peak memory {memory} (the process's, as its report gives it)",
            if exhausted {
                "exhausted"
            } else {
                "stopped at the state limit"
            },
            unique,
            number("states visited:"),
            depth.split_whitespace().next().unwrap_or(""),
            si(unique / secs),
        ),
    );

    // The raw app: the shortest counterexample.
    let raw = world(AppKind::Raw);
    let sample = measure(budget.scaled(0.25), || {
        explore(&raw, &options(1000, FULL_RUN_STATES), |_| {})
    });
    let r = explore(&raw, &options(1000, FULL_RUN_STATES), |_| {});
    let steps = r.counterexample.as_ref().map_or(0, |c| c.actions.len());
    assert!(steps > 0, "the raw app yields a counterexample");
    table.row(
        "Checker",
        "`dcsim check --app raw`: shortest counterexample",
        dur(sample.secs()),
        "",
        None,
        format!(
            "{steps} actions, found after {} unique states, {}",
            r.unique,
            how(&sample)
        ),
    );
}

pub fn smoke() {
    assert!(run_cases(8) > 0);
    let r = explore(&world(AppKind::Guarded), &options(4, u64::MAX), |_| {});
    assert!(r.counterexample.is_none() && r.unique > 1);
}
