//! The pure model and the guard: step throughput, and the guard's cost on the open path.

use crate::harness::{dur, how, interleaved, measure, si, Budget, Table};
use crate::link::Link;
use dcsim::guard::{Guard, GuardConfig, Outcome, SizedMsg};
use dcsim::model::{DataChannelState, IceConnectionState, Input, Output, Packet};
use dcsim::stack::AppCall;
use dcsim::trace::PeerId;
use std::cell::Cell;
use std::hint::black_box;

/// Model step throughput: connect, open, then `msgs` messages a -> b, ten per virtual
/// millisecond, every datagram delivered and every SACK returned. Returns the inputs.
fn model_workload(msgs: u64) -> u64 {
    let mut link = Link::new(&["chat"]);
    link.open("chat");
    let mut sent = 0;
    while sent < msgs {
        for _ in 0..10 {
            let r = link.send(PeerId::A, "chat", sent, 64);
            debug_assert!(r.is_ok());
            sent += 1;
        }
        link.advance(1);
    }
    link.advance(1);
    assert_eq!(link.delivered, msgs, "every message delivered");
    link.inputs
}

pub fn throughput(table: &mut Table, budget: Budget) {
    const MSGS: u64 = 20_000;
    let inputs = Cell::new(0);
    let s = measure(budget, || inputs.set(model_workload(MSGS)));
    let per_sec = inputs.get() as f64 / s.secs();
    table.row(
        "Model",
        "model step throughput (`Peer::handle_input` + `poll_output`)",
        format!("{} inputs/s", si(per_sec)),
        "",
        None,
        format!(
            "{} per input, {} per message; {} inputs (connect, open, {MSGS} messages a->b, SACKs) in {}, {}",
            dur(1.0 / per_sec),
            dur(s.secs() / MSGS as f64),
            inputs.get(),
            dur(s.secs()),
            how(&s)
        ),
    );
}

/// The receiving end of the bare send: does as little as a send can and cannot be
/// optimised away.
#[inline(never)]
fn sink(acc: &mut u64, msg: SizedMsg) {
    *acc = acc.wrapping_mul(31).wrapping_add(msg.id ^ msg.size as u64);
}

fn open_guard() -> Guard<SizedMsg> {
    let mut g = Guard::new(GuardConfig::default());
    g.on_ice_state(0, IceConnectionState::Connected);
    g.on_channel_state(0, DataChannelState::Open);
    g
}

/// An open model peer `a` and the TSN bookkeeping to acknowledge what it sent, so that
/// its retransmission queue does not grow across batches.
struct OpenModel {
    link: Link,
    last_tsn: u32,
}

impl OpenModel {
    fn new() -> Self {
        let mut link = Link::new(&["chat"]);
        link.open("chat");
        OpenModel { link, last_tsn: 0 }
    }

    /// The model's raw send: `handle_input(App(Send))` and its output drained (the
    /// datagram is kept only as a TSN to acknowledge later).
    #[inline(always)]
    fn send(&mut self, id: u64, size: usize) {
        let peer = &mut self.link.peers[0];
        let r = peer.handle_input(
            self.link.now,
            Input::App(AppCall::Send {
                channel: "chat".to_string(),
                msg: id,
                size,
            }),
        );
        debug_assert!(r.is_ok());
        while let Some(out) = peer.poll_output() {
            match out {
                Output::Transmit(Packet::SctpData { tsn, .. }) => self.last_tsn = tsn,
                Output::Transmit(Packet::SctpBundle(chunks)) => {
                    if let Some((tsn, _)) = chunks.last() {
                        self.last_tsn = *tsn;
                    }
                }
                _ => {}
            }
        }
    }

    /// Untimed between batches: b acknowledges everything.
    fn ack(&mut self) {
        let peer = &mut self.link.peers[0];
        let _ = peer.handle_input(
            self.link.now,
            Input::Datagram(Packet::SctpSack {
                cum_tsn: self.last_tsn,
                highest_tsn: self.last_tsn,
            }),
        );
        while peer.poll_output().is_some() {}
    }
}

pub fn guard_overhead(table: &mut Table, budget: Budget) {
    const N: u64 = 10_000;
    let mut acc = 0u64;
    let mut guard = open_guard();
    let mut model = OpenModel::new();
    let mut guarded_model = OpenModel::new();
    let mut guard2 = open_guard();
    let mut next = 0u64;
    let samples = {
        let acc = &mut acc;
        let guard = &mut guard;
        let next = &mut next;
        let mut bare = || {
            let mut a = *acc;
            for i in 0..N {
                sink(&mut a, black_box(SizedMsg { id: i, size: 5 }));
            }
            *acc = black_box(a);
        };
        let mut guarded = || {
            let mut a = 0u64;
            let now = black_box(1);
            for i in 0..N {
                match guard.send(now, i, black_box(SizedMsg { id: i, size: 5 })) {
                    Outcome::Send(p) => sink(&mut a, p),
                    other => panic!("open guard did not send: {other:?}"),
                }
            }
            black_box(a);
        };
        let model_ref = &mut model;
        let mut raw_model = || {
            for i in 0..N {
                model_ref.send(black_box(i), 5);
            }
            model_ref.ack();
        };
        let gm = &mut guarded_model;
        let g2 = &mut guard2;
        let mut guard_then_model = || {
            let now = gm.link.now;
            for _ in 0..N {
                let id = *next;
                *next += 1;
                match g2.send(now, id, SizedMsg { id, size: 5 }) {
                    Outcome::Send(p) => gm.send(p.id, p.size),
                    other => panic!("open guard did not send: {other:?}"),
                }
            }
            gm.ack();
        };
        interleaved(
            budget,
            &mut [
                &mut bare,
                &mut guarded,
                &mut raw_model,
                &mut guard_then_model,
            ],
        )
    };
    assert!(guard.conserved() && guard2.conserved());
    let ns = |i: usize| samples[i].secs() / N as f64 * 1e9;
    let (bare, guarded, raw, both) = (ns(0), ns(1), ns(2), ns(3));
    let overhead = guarded - bare;
    table.row(
        "Guard",
        "bare send: a trivial sink alone",
        format!("{bare:.1} ns/msg"),
        "",
        None,
        format!("batches of {N}, {}", how(&samples[0])),
    );
    table.row(
        "Guard",
        "`Guard::send` (open) in front of the same sink",
        format!("{guarded:.1} ns/msg"),
        "",
        None,
        format!("{}; {:.1}x the bare send", how(&samples[1]), guarded / bare),
    );
    table.row(
        "Guard",
        "guard overhead per message when open (guarded - bare)",
        format!("{overhead:.1} ns/msg"),
        "< 100 ns",
        Some(overhead < 100.0),
        "no allocation on this path (tests/guard_alloc.rs)",
    );
    table.row(
        "Guard",
        "model raw send (`handle_input(App(Send))` + drain)",
        format!("{raw:.0} ns/msg"),
        "",
        None,
        format!(
            "{}; allocates the label String and a datagram per message",
            how(&samples[2])
        ),
    );
    table.row(
        "Guard",
        "guard in front of the model's raw send",
        format!("{both:.0} ns/msg"),
        "",
        None,
        format!(
            "{}; the guard adds {:.0}% to a model send",
            how(&samples[3]),
            (both - raw) / raw * 100.0
        ),
    );
    black_box(acc);
}

pub fn smoke() {
    assert!(model_workload(100) > 100);
    let mut guard = open_guard();
    assert!(matches!(
        guard.send(1, 0, SizedMsg { id: 0, size: 5 }),
        Outcome::Send(_)
    ));
    let mut model = OpenModel::new();
    model.send(0, 5);
    model.ack();
    assert_eq!(
        model.link.peers[0].buffered_amount("chat"),
        Some(0),
        "acked"
    );
}
