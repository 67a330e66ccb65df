//! A differential property over the channel options: for generated channels (ordered or
//! not; reliable, `max_retransmits` or `max_packet_life_time_ms`), paths (latency, a TURN
//! relay's hop), message trains and a partition that loses some of them, the model and
//! the real `rtc` 0.21.1 stack agree under `dcsim conform`: the same messages delivered,
//! in the same order, the same ones abandoned and reported undelivered, every state and
//! callback at the same time within the tolerance. No run violates an invariant, and no
//! channel leaves `open` by itself (webrtc-rs/webrtc#776).
//!
//! What is generated is what the model is shown to mirror: messages at least 400 ms
//! apart and a partition shorter than that, so at most one message (and the SACKs
//! around it) is lost; its retransmission comes from the T3 timer (with the timeout
//! estimated from measured round trips) or from a fast retransmit after three SACKs
//! report it missing, and an abandoned one is skipped by FORWARD-TSN. Longer outages
//! that lose several messages, some retransmitted by T3 before the path heals, still
//! part the two stacks by up to a second in a few worlds in a thousand
//! (docs/conformance.md, "Partial reliability and unordered delivery").

#[path = "support/messages.rs"]
mod messages;

use dcsim::conform::{self, DEFAULT_TOLERANCE_MS};
use dcsim::scenario::{Action, ChannelSpec, Payload, Reliability, Scenario, Step};
use dcsim::sim::{self, RunOptions, StackKind};
use dcsim::trace::{EventKind, Machine, PeerId, Trace, Via};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, RngSeed, TestRng, TestRunner};

fn reliability() -> impl Strategy<Value = Reliability> {
    prop_oneof![
        Just(Reliability::Reliable),
        (0u16..3).prop_map(Reliability::MaxRetransmits),
        (0u16..1500).prop_map(Reliability::MaxPacketLifeTime),
    ]
}

prop_compose! {
    fn world()(
        ordered in any::<bool>(),
        reliability in reliability(),
        latency_ms in 1u64..40,
        relay_ms in prop_oneof![Just(0u64), 1u64..60],
        count in 1u32..8,
        interval_ms in 400u64..1500,
        partition_at in 2900u64..6000,
        partition_ms in 50u64..400,
    ) -> Scenario {
        let mut s = Scenario::parse("gen", "version = 1\nname = \"gen\"\n").expect("base");
        s.duration_ms = 16_000;
        s.network.latency_ms = latency_ms;
        s.network.relay_ms = relay_ms;
        s.channels.push(ChannelSpec {
            label: "chat".into(),
            negotiated: false,
            id: None,
            ordered,
            reliability,
            create_at_start: true,
        });
        let step = |at_ms, action| Step { at_ms, line: 0, action };
        s.steps.push(step(0, Action::Connect));
        s.steps.push(step(
            3000,
            Action::Send {
                peer: PeerId::A,
                channel: "chat".into(),
                via: Via::Raw,
                payload: Payload::Text("m".into()),
                count,
                interval_ms,
            },
        ));
        s.steps.push(step(partition_at, Action::Partition));
        s.steps.push(step(partition_at + partition_ms, Action::Heal));
        s.steps.sort_by_key(|st| st.at_ms);
        s
    }
}

/// The trace without `bufferedamountlow`: the crate's SACKs carry gap blocks and
/// release the bytes of messages received behind a lost one at once; the model's SACK
/// carries the cumulative TSN only, so the event moves (what is delivered does not).
fn without_buffered_amount_low(mut trace: Trace) -> Trace {
    trace.events.retain(
        |e| !matches!(&e.kind, EventKind::Callback { name, .. } if name == "bufferedamountlow"),
    );
    trace
}

proptest! {
    // Seeded: the same 256 worlds on every run, so a gate cannot flake. 40 unseeded runs
    // of 256 (10 240 worlds) passed when this was written.
    #![proptest_config(Config {
        cases: 256,
        failure_persistence: None,
        rng_seed: RngSeed::Fixed(0xdc5_1e1b),
        ..Config::default()
    })]

    #[test]
    fn channel_options_agree_with_the_crate(s in world()) {
        let mut traces = Vec::new();
        for stack in [StackKind::Model, StackKind::Rtc] {
            let options = RunOptions { stack, ..RunOptions::default() };
            let trace = sim::run(&s, &options).map_err(TestCaseError::fail)?.trace;
            prop_assert!(trace.is_clean(), "{stack:?}\n{}\n{}", s.to_toml(), trace.render_text());
            let closed_by_itself = trace.events.iter().any(|e| matches!(&e.kind,
                EventKind::State { machine: Machine::DataChannel, from, .. } if from == "open"));
            prop_assert!(!closed_by_itself, "{stack:?}\n{}", s.to_toml());
            traces.push(without_buffered_amount_low(trace));
        }
        let outcome = conform::compare_traces(&traces[0], &traces[1], DEFAULT_TOLERANCE_MS);
        prop_assert!(
            outcome.divergences.is_empty(),
            "{}\n{:#?}",
            s.to_toml(),
            outcome.divergences
        );
    }
}

/// The generated worlds reach what the property is about: with a fixed seed, some
/// abandon a message (reported undelivered), some deliver an unordered message before
/// one sent earlier, and some retransmit a message on a reliable channel and still
/// deliver it.
#[test]
fn generated_worlds_reach_abandonment_overtaking_and_retransmission() {
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::deterministic_rng(RngAlgorithm::ChaCha),
    );
    let (mut abandoned, mut overtaken, mut recovered) = (0, 0, 0);
    for _ in 0..200 {
        let s = world().new_tree(&mut runner).expect("a world").current();
        let trace = sim::run(&s, &RunOptions::default()).expect("runs").trace;
        let delivered = messages::delivered(&trace);
        let undelivered = messages::undelivered(&trace).len();
        let reliable = s.channels[0].reliability == Reliability::Reliable;
        if !reliable && undelivered > 0 {
            abandoned += 1;
        }
        if delivered.windows(2).any(|w| w[0] > w[1]) {
            overtaken += 1;
        }
        let retransmitted = trace.events.iter().any(|e| {
            matches!(&e.kind, EventKind::Deliver { .. })
                && e.t_ms > s.steps[2].at_ms + s.network.latency_ms + s.network.relay_ms + 900
        });
        if reliable && undelivered == 0 && retransmitted {
            recovered += 1;
        }
    }
    assert!(abandoned > 10, "abandoned in {abandoned} of 200");
    assert!(overtaken > 5, "overtaken in {overtaken} of 200");
    assert!(recovered > 5, "recovered in {recovered} of 200");
}
