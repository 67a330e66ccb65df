//! Turning what a stack and an application do into trace events: one place, shared by
//! the in-memory pair, the turmoil simulator and the checker, so every driver writes the
//! same words.

use crate::model::DataChannelState;
use crate::stack::{AppResult, StackEvent};
use crate::trace::{EventKind, Millis, MsgId, PeerId, SendOutcome, TraceEvent, Via};

/// The trace event for something a stack reported.
pub fn stack_event(t_ms: Millis, peer: PeerId, event: &StackEvent) -> TraceEvent {
    let kind = match event {
        StackEvent::State(change) => {
            let (from, to) = change.strings();
            EventKind::State {
                machine: change.machine(),
                channel: change.channel().map(str::to_string),
                from: from.to_string(),
                to: to.to_string(),
            }
        }
        StackEvent::Callback { channel, callback } => EventKind::Callback {
            channel: channel.clone(),
            name: callback.as_str().to_string(),
        },
        StackEvent::Message {
            channel,
            msg,
            stream,
            unordered,
        } => EventKind::Deliver {
            channel: channel.clone(),
            stream: *stream,
            msg: *msg,
            unordered: *unordered,
        },
    };
    TraceEvent::on(t_ms, peer, kind)
}

/// The trace event for a raw send and what it returned.
pub fn raw_send(
    t_ms: Millis,
    peer: PeerId,
    channel: &str,
    msg: MsgId,
    state: Option<DataChannelState>,
    stream: Option<u16>,
    result: &AppResult,
) -> TraceEvent {
    let (outcome, error) = match result {
        Ok(()) => (SendOutcome::Sent, None),
        Err(e) => (SendOutcome::Error, Some(e.text.clone())),
    };
    TraceEvent::on(
        t_ms,
        peer,
        EventKind::Send {
            channel: channel.to_string(),
            stream,
            msg,
            via: Via::Raw,
            state: state_name(state).to_string(),
            outcome,
            error,
            reason: None,
            flushed: false,
        },
    )
}

/// readyState as the trace spells it (`unknown` for a channel the peer does not have).
pub fn state_name(state: Option<DataChannelState>) -> &'static str {
    state.map_or("unknown", DataChannelState::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{
        DtlsTransportState, IceConnectionState, IceGatheringState, PeerConnectionState, Profile,
        SctpTransportState, SignalingState,
    };
    use crate::monitor::{Monitor, MonitorConfig};
    use crate::stack::{Callback, StateChange};
    use rand::rngs::SmallRng;
    use rand::{Rng, SeedableRng};

    fn pick<T: Copy>(rng: &mut SmallRng, all: &[T]) -> T {
        all[rng.gen_range(0..all.len())]
    }

    fn change(rng: &mut SmallRng) -> StateChange {
        let label = pick(rng, &["c0", "c1"]).to_string();
        match rng.gen_range(0..7) {
            0 => StateChange::Signaling(
                pick(rng, SignalingState::ALL),
                pick(rng, SignalingState::ALL),
            ),
            1 => StateChange::IceGathering(
                pick(rng, IceGatheringState::ALL),
                pick(rng, IceGatheringState::ALL),
            ),
            2 => StateChange::IceConnection(
                pick(rng, IceConnectionState::ALL),
                pick(rng, IceConnectionState::ALL),
            ),
            3 => StateChange::PeerConnection(
                pick(rng, PeerConnectionState::ALL),
                pick(rng, PeerConnectionState::ALL),
            ),
            4 => StateChange::Dtls(
                pick(rng, DtlsTransportState::ALL),
                pick(rng, DtlsTransportState::ALL),
            ),
            5 => StateChange::Sctp(
                pick(rng, SctpTransportState::ALL),
                pick(rng, SctpTransportState::ALL),
            ),
            _ => StateChange::DataChannel(
                label,
                pick(rng, DataChannelState::ALL),
                pick(rng, DataChannelState::ALL),
            ),
        }
    }

    /// `Monitor::observe_stack` judges a stack event exactly as `Monitor::observe` judges
    /// the event `stack_event` writes for it: same violations, same monitor after, on
    /// random runs of state changes (legal or not), callbacks, deliveries (paired,
    /// reordered, doubled, on the wrong channel) and the sends and drops between them.
    #[test]
    fn observe_stack_is_observe_of_the_written_event() {
        let mut rng = SmallRng::seed_from_u64(3);
        let mut seen = std::collections::BTreeSet::new();
        for run in 0..300 {
            let profile = if run % 2 == 0 {
                Profile::WEBRTC_RS
            } else {
                Profile::W3C
            };
            let config = MonitorConfig {
                profile,
                guard_max_messages: Some(2),
                check_derived_state: true,
            };
            let (mut written, mut typed) = (Monitor::new(config), Monitor::new(config));
            let mut t = 0;
            for _ in 0..60 {
                t += rng.gen_range(0..3);
                let peer = pick(&mut rng, &PeerId::BOTH);
                let label = pick(&mut rng, &["c0", "c1"]);
                let stream = rng.gen_bool(0.7).then(|| rng.gen_range(0..3));
                let msg = rng.gen_range(0..8);
                let stack = match rng.gen_range(0..6) {
                    0 | 1 => Some(StackEvent::State(change(&mut rng))),
                    2 => Some(StackEvent::Callback {
                        channel: label.to_string(),
                        callback: pick(&mut rng, &[Callback::Open, Callback::Close]),
                    }),
                    3 => Some(StackEvent::Message {
                        channel: label.to_string(),
                        msg,
                        stream,
                        unordered: rng.gen_bool(0.2),
                    }),
                    _ => None,
                };
                let (a, b) = match stack {
                    Some(event) => (
                        written.observe(&stack_event(t, peer, &event)),
                        typed.observe_stack(t, peer, &event),
                    ),
                    None => {
                        let kind = if rng.gen_bool(0.8) {
                            EventKind::Send {
                                channel: label.to_string(),
                                stream,
                                msg,
                                via: pick(&mut rng, &[Via::Raw, Via::Guarded]),
                                state: pick(&mut rng, &["open", "connecting", "unknown"]).into(),
                                outcome: pick(
                                    &mut rng,
                                    &[SendOutcome::Sent, SendOutcome::Queued, SendOutcome::Error],
                                ),
                                error: None,
                                reason: None,
                                flushed: rng.gen_bool(0.3),
                            }
                        } else {
                            EventKind::Drop {
                                channel: label.to_string(),
                                msg,
                                reason: "expired".into(),
                            }
                        };
                        let event = TraceEvent::on(t, peer, kind);
                        (written.observe(&event), typed.observe(&event))
                    }
                };
                assert_eq!(a, b, "run {run}");
                seen.extend(a.into_iter().filter_map(|v| match v.kind {
                    EventKind::Violation { invariant, .. } => Some(invariant),
                    _ => None,
                }));
            }
            assert_eq!(written.finish(t), typed.finish(t), "run {run}");
            assert!(written == typed, "run {run}: the monitors differ");
        }
        let every = crate::monitor::names::ALL
            .iter()
            .filter(|n| **n != "deterministic-replay");
        for name in every {
            assert!(seen.contains(*name), "no run violated {name}: {seen:?}");
        }
    }
}
