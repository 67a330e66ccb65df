//! Unit tests of the guard's transitions, one behaviour each. The cross-cutting
//! invariants under random interleavings are in `tests/guard.rs`.

use super::*;
use DataChannelState as C;
use IceConnectionState as I;

fn msg(id: MsgId, size: usize) -> SizedMsg {
    SizedMsg { id, size }
}

fn drain(guard: &mut Guard<SizedMsg>) -> Vec<GuardOutput<SizedMsg>> {
    std::iter::from_fn(|| guard.poll_output()).collect()
}

fn transmitted_ids(outputs: &[GuardOutput<SizedMsg>]) -> Vec<MsgId> {
    outputs
        .iter()
        .filter_map(|o| match o {
            GuardOutput::Transmit { id, .. } => Some(*id),
            _ => None,
        })
        .collect()
}

fn dropped(outputs: &[GuardOutput<SizedMsg>]) -> Vec<(MsgId, DropReason)> {
    outputs
        .iter()
        .filter_map(|o| match o {
            GuardOutput::Dropped { id, reason } => Some((*id, *reason)),
            _ => None,
        })
        .collect()
}

fn open_guard(config: GuardConfig) -> Guard<SizedMsg> {
    let mut g = Guard::new(config);
    g.on_ice_state(0, I::Checking);
    g.on_ice_state(7, I::Connected);
    g.on_channel_state(10, C::Open);
    g
}

#[test]
fn queued_before_open_flushes_in_order_on_open() {
    let mut g = Guard::new(GuardConfig::default());
    for id in 0..3 {
        assert_eq!(g.send(id, id, msg(id, 10)), Outcome::Queued);
    }
    assert!(
        drain(&mut g).is_empty(),
        "nothing released while connecting"
    );
    g.on_channel_state(610, C::Open);
    assert_eq!(transmitted_ids(&drain(&mut g)), [0, 1, 2]);
    assert_eq!(g.metrics().first_send_to_open_ms(), Some(610));
    assert!(g.conserved());
}

#[test]
fn send_queues_behind_undrained_flush() {
    let mut g = Guard::new(GuardConfig::default());
    assert_eq!(g.send(0, 0, msg(0, 1)), Outcome::Queued);
    g.on_channel_state(1, C::Open);
    // The caller has not drained yet: a new send must not overtake message 0.
    assert_eq!(g.send(1, 1, msg(1, 1)), Outcome::Queued);
    assert_eq!(transmitted_ids(&drain(&mut g)), [0, 1]);
    assert!(matches!(g.send(2, 2, msg(2, 1)), Outcome::Send(_)));
}

#[test]
fn reject_policy_reports_not_open() {
    let mut g = Guard::new(GuardConfig::reject_when_not_open());
    assert_eq!(
        g.send(0, 0, msg(0, 1)),
        Outcome::Rejected(DropReason::NotOpen)
    );
    assert_eq!(g.metrics().dropped.not_open, 1);
    assert!(g.conserved());
}

#[test]
fn too_large_is_rejected_in_any_open_or_connecting_gate() {
    let mut g = Guard::new(GuardConfig::default());
    let big = DEFAULT_MAX_MESSAGE_SIZE + 1;
    assert_eq!(
        g.send(0, 0, msg(0, big)),
        Outcome::Rejected(DropReason::TooLarge)
    );
    g.on_channel_state(1, C::Open);
    assert_eq!(
        g.send(1, 1, msg(1, big)),
        Outcome::Rejected(DropReason::TooLarge)
    );
    assert!(matches!(
        g.send(2, 2, msg(2, DEFAULT_MAX_MESSAGE_SIZE)),
        Outcome::Send(_)
    ));
}

#[test]
fn close_drops_the_queue_and_rejects_new_sends() {
    let mut g = Guard::new(GuardConfig::default());
    let _ = g.send(0, 0, msg(0, 1));
    let _ = g.send(0, 1, msg(1, 1));
    g.on_channel_state(5, C::Closed);
    assert_eq!(
        dropped(&drain(&mut g)),
        [
            (0, DropReason::ChannelClosed),
            (1, DropReason::ChannelClosed)
        ]
    );
    assert_eq!(
        g.send(6, 2, msg(2, 1)),
        Outcome::Rejected(DropReason::ChannelClosed)
    );
    // Closed is terminal: a late (illegal) open report does not reopen it.
    g.on_channel_state(7, C::Open);
    assert_eq!(g.gate(), Gate::Closed);
    assert_eq!(
        g.send(8, 3, msg(3, 1)),
        Outcome::Rejected(DropReason::ChannelClosed)
    );
    assert!(g.conserved());
}

#[test]
fn closing_is_closed_for_sends() {
    let mut g = open_guard(GuardConfig::default());
    g.on_channel_state(20, C::Closing);
    assert_eq!(
        g.send(21, 0, msg(0, 1)),
        Outcome::Rejected(DropReason::ChannelClosed)
    );
}

#[test]
fn ice_closed_closes_the_guard() {
    // pc.close(): webrtc-rs discards the local channels' OnClose, ICE closed is the
    // only sign.
    let mut g = open_guard(GuardConfig::default());
    g.on_ice_state(20, I::Closed);
    assert_eq!(g.gate(), Gate::Closed);
}

#[test]
fn disconnected_path_holds_then_flushes_on_recovery() {
    let mut g = open_guard(GuardConfig::default());
    g.on_ice_state(100, I::Disconnected);
    assert_eq!(g.send(101, 0, msg(0, 1)), Outcome::Queued);
    assert!(drain(&mut g).is_empty());
    g.on_ice_state(200, I::Connected);
    assert_eq!(transmitted_ids(&drain(&mut g)), [0]);
}

#[test]
fn without_hold_a_disconnected_path_is_sent_into() {
    let cfg = GuardConfig {
        hold_while_disconnected: false,
        ..GuardConfig::default()
    };
    let mut g = open_guard(cfg);
    g.on_ice_state(100, I::Disconnected);
    assert!(matches!(g.send(101, 0, msg(0, 1)), Outcome::Send(_)));
}

#[test]
fn ice_failed_drops_queue_as_path_failed_and_restart_recovers() {
    let mut g = open_guard(GuardConfig::default());
    g.on_ice_state(100, I::Disconnected);
    let _ = g.send(101, 0, msg(0, 1));
    g.on_ice_state(30_100, I::Failed);
    assert_eq!(dropped(&drain(&mut g)), [(0, DropReason::PathFailed)]);
    assert_eq!(
        g.send(30_101, 1, msg(1, 1)),
        Outcome::Rejected(DropReason::PathFailed)
    );
    // ICE restart: checking again, then connected.
    g.on_ice_state(31_000, I::Checking);
    assert_eq!(g.send(31_001, 2, msg(2, 1)), Outcome::Queued);
    g.on_ice_state(31_100, I::Connected);
    assert_eq!(transmitted_ids(&drain(&mut g)), [2]);
    assert!(g.conserved());
}

#[test]
fn ttl_expires_queued_messages_at_the_deadline() {
    let cfg = GuardConfig {
        ttl_ms: Some(1_000),
        ..GuardConfig::default()
    };
    let mut g = Guard::new(cfg);
    let _ = g.send(0, 0, msg(0, 1));
    let _ = g.send(500, 1, msg(1, 1));
    assert_eq!(g.poll_timeout(), Some(1_000));
    g.handle_timeout(999);
    assert!(drain(&mut g).is_empty());
    g.handle_timeout(1_000);
    assert_eq!(dropped(&drain(&mut g)), [(0, DropReason::Expired)]);
    assert_eq!(g.poll_timeout(), Some(1_500));
    // Any input expires what is due, not only handle_timeout.
    g.on_channel_state(1_600, C::Open);
    let out = drain(&mut g);
    assert_eq!(dropped(&out), [(1, DropReason::Expired)]);
    assert!(transmitted_ids(&out).is_empty());
    assert_eq!(g.poll_timeout(), None);
}

#[test]
fn time_never_goes_back() {
    let mut g = Guard::new(GuardConfig::default());
    g.handle_timeout(100);
    let _ = g.send(50, 0, msg(0, 1));
    assert_eq!(g.now(), 100);
    assert_eq!(g.poll_timeout(), Some(30_100));
}

#[test]
fn queue_full_by_messages_and_by_bytes() {
    let cfg = GuardConfig {
        max_queue_messages: 2,
        max_queue_bytes: 10,
        ..GuardConfig::default()
    };
    let mut g = Guard::new(cfg);
    assert_eq!(g.send(0, 0, msg(0, 6)), Outcome::Queued);
    assert_eq!(
        g.send(0, 1, msg(1, 5)),
        Outcome::Rejected(DropReason::QueueFull)
    );
    assert_eq!(g.send(0, 2, msg(2, 4)), Outcome::Queued);
    assert_eq!(
        g.send(0, 3, msg(3, 0)),
        Outcome::Rejected(DropReason::QueueFull)
    );
    assert_eq!(g.metrics().high_water_messages, 2);
    assert_eq!(g.metrics().high_water_bytes, 10);
    assert_eq!(g.metrics().dropped.queue_full, 2);
    assert!(g.conserved());
}

#[test]
fn not_open_send_error_requeues_at_front_and_holds_until_open() {
    let mut g = Guard::new(GuardConfig::default());
    let _ = g.send(0, 0, msg(0, 1));
    let _ = g.send(0, 1, msg(1, 1));
    g.on_channel_state(10, C::Open);
    let Some(GuardOutput::Transmit { id, payload }) = g.poll_output() else {
        panic!("expected a transmit");
    };
    // The transport still says "not open yet".
    g.on_send_error(10, id, payload, SendErrorKind::NotOpen);
    assert_eq!(g.gate(), Gate::Connecting, "the transport's word wins");
    assert!(drain(&mut g).is_empty());
    assert_eq!(g.queued().map(|(id, _)| id).collect::<Vec<_>>(), [0, 1]);
    assert!(g.conserved());
    g.on_channel_state(20, C::Open);
    assert_eq!(transmitted_ids(&drain(&mut g)), [0, 1]);
    assert_eq!(g.metrics().requeued, 1);
    assert_eq!(g.transmitted(), 2);
    assert!(g.conserved());
}

#[test]
fn refused_batch_keeps_its_order() {
    let mut g = Guard::new(GuardConfig::default());
    for id in 0..4 {
        let _ = g.send(0, id, msg(id, 1));
    }
    g.on_channel_state(1, C::Open);
    let released: Vec<_> = (0..3).filter_map(|_| g.poll_output()).collect();
    for out in released {
        if let GuardOutput::Transmit { id, payload } = out {
            g.on_send_error(2, id, payload, SendErrorKind::BufferFull);
        }
    }
    assert_eq!(
        g.queued().map(|(id, _)| id).collect::<Vec<_>>(),
        [0, 1, 2, 3]
    );
    g.on_writable(3);
    assert_eq!(transmitted_ids(&drain(&mut g)), [0, 1, 2, 3]);
}

#[test]
fn closed_send_error_drops_it_and_the_queue() {
    let mut g = open_guard(GuardConfig::default());
    let Outcome::Send(p) = g.send(20, 0, msg(0, 1)) else {
        panic!("expected send");
    };
    // The raced close: the transport was closed between the check and the send.
    g.on_send_error(20, 0, p, SendErrorKind::Closed);
    assert_eq!(dropped(&drain(&mut g)), [(0, DropReason::ChannelClosed)]);
    assert_eq!(g.gate(), Gate::Closed);
    assert_eq!(g.metrics().transmitted(), 0);
    assert!(g.conserved());
}

#[test]
fn too_large_send_error_drops_only_that_message() {
    let mut g = open_guard(GuardConfig::default());
    let Outcome::Send(p) = g.send(20, 0, msg(0, 70_000 - 10_000)) else {
        panic!("expected send");
    };
    g.on_send_error(20, 0, p, SendErrorKind::TooLarge);
    assert_eq!(dropped(&drain(&mut g)), [(0, DropReason::TooLarge)]);
    assert_eq!(g.gate(), Gate::Open);
    assert!(matches!(g.send(21, 1, msg(1, 1)), Outcome::Send(_)));
}

#[test]
fn given_back_message_keeps_its_ttl() {
    let cfg = GuardConfig {
        ttl_ms: Some(100),
        ..GuardConfig::default()
    };
    let mut g = Guard::new(cfg);
    let _ = g.send(0, 0, msg(0, 1));
    g.on_channel_state(50, C::Open);
    let Some(GuardOutput::Transmit { id, payload }) = g.poll_output() else {
        panic!("expected a transmit");
    };
    g.on_send_error(60, id, payload, SendErrorKind::NotOpen);
    assert_eq!(g.poll_timeout(), Some(100), "expiry from the original send");
    // Released again, and given back after its TTL ran out: dropped as expired.
    g.on_channel_state(70, C::Open);
    let out = drain(&mut g);
    let [GuardOutput::Transmit { id, payload }] = &out[..] else {
        panic!("{out:?}");
    };
    g.on_send_error(200, *id, *payload, SendErrorKind::Other);
    assert_eq!(dropped(&drain(&mut g)), [(0, DropReason::Expired)]);
    assert!(g.conserved());
}

#[test]
fn send_error_after_close_is_channel_closed() {
    let mut g = open_guard(GuardConfig::default());
    let Outcome::Send(p) = g.send(20, 0, msg(0, 1)) else {
        panic!("expected send");
    };
    g.on_ice_state(21, I::Failed);
    g.on_send_error(22, 0, p, SendErrorKind::NotOpen);
    assert_eq!(dropped(&drain(&mut g)), [(0, DropReason::PathFailed)]);
    assert!(g.conserved());
}

#[test]
fn skip_state_check_is_the_planted_bug() {
    let cfg = GuardConfig {
        unsafe_skip_state_check: true,
        ..GuardConfig::default()
    };
    let mut g = Guard::new(cfg);
    assert!(matches!(g.send(0, 0, msg(0, 1)), Outcome::Send(_)));
    g.on_channel_state(1, C::Closed);
    assert!(matches!(g.send(2, 1, msg(1, 1)), Outcome::Send(_)));
}

#[test]
fn drop_reason_strings_are_the_trace_contract() {
    let words: Vec<_> = DropReason::ALL.iter().map(|r| r.to_string()).collect();
    assert_eq!(
        words,
        [
            "not-open",
            "expired",
            "queue-full",
            "channel-closed",
            "too-large",
            "path-failed"
        ]
    );
    for r in DropReason::ALL {
        assert_eq!(DropReason::parse(r.as_str()), Some(r));
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            format!("\"{}\"", r.as_str())
        );
    }
}

#[test]
fn reporting_open_again_does_not_clear_back_pressure() {
    let mut g = open_guard(GuardConfig::default());
    let Outcome::Send(p) = g.send(20, 0, msg(0, 1)) else {
        panic!("expected send");
    };
    g.on_send_error(20, 0, p, SendErrorKind::BufferFull);
    // A driver that re-reads readyState every step must not spin the refused message.
    g.on_channel_state(21, C::Open);
    assert_eq!(g.gate(), Gate::Held);
    assert!(drain(&mut g).is_empty());
    g.on_writable(22);
    assert_eq!(transmitted_ids(&drain(&mut g)), [0]);
    assert!(g.conserved());
}

#[test]
fn peer_connection_closed_closes_the_guard() {
    use crate::vocab::PeerConnectionState as P;
    let mut g = Guard::new(GuardConfig::default());
    let _ = g.send(0, 0, msg(0, 1));
    g.on_peer_connection_state(1, P::Connecting);
    assert_eq!(g.gate(), Gate::Connecting);
    g.on_peer_connection_state(2, P::Closed);
    assert_eq!(dropped(&drain(&mut g)), [(0, DropReason::ChannelClosed)]);
    assert_eq!(g.gate(), Gate::Closed);
}

/// webrtc-rs leaves the channel reading `open` after the local `pc.close()`: the guard
/// takes the peer connection's word over the channel's and rejects with a reason, also
/// when the channel reports `open` again afterwards.
#[test]
fn pc_closed_rejects_sends_although_the_channel_reads_open() {
    use crate::vocab::PeerConnectionState as P;
    let mut g = open_guard(GuardConfig::default());
    assert_eq!(g.send(11, 0, msg(0, 1)), Outcome::Send(msg(0, 1)));
    g.on_peer_connection_state(20, P::Closed);
    g.on_channel_state(21, C::Open);
    assert_eq!(g.gate(), Gate::Closed);
    assert_eq!(
        g.send(22, 1, msg(1, 1)),
        Outcome::Rejected(DropReason::ChannelClosed)
    );
    assert!(g.conserved());
}

#[test]
fn error_texts_of_both_profiles_classify() {
    use SendErrorKind as K;
    let cases = [
        ("data channel is not open yet", K::NotOpen),
        ("data channel closed", K::Closed),
        ("InvalidStateError: peer connection is closed", K::Closed),
        (
            "outbound packet larger than maximum message size",
            K::TooLarge,
        ),
        ("data channel send buffer full", K::BufferFull),
        (
            "InvalidStateError: Failed to execute 'send' on 'RTCDataChannel': \
             RTCDataChannel.readyState is not 'open'",
            K::NotOpen,
        ),
        (
            "TypeError: Failed to execute 'send' on 'RTCDataChannel': Message size exceeds \
             maximum message size",
            K::TooLarge,
        ),
        ("OperationError: buffer", K::BufferFull),
        ("DataChannel is not opened", K::NotOpen),
        ("something else", K::Other),
    ];
    for (text, kind) in cases {
        assert_eq!(SendErrorKind::from_error_text(text), kind, "{text}");
    }
}
