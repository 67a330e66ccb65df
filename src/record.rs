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
