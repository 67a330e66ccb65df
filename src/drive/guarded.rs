//! The one guard glue: how a [`Guard`] in front of a stack takes a send and how each of
//! its outputs is carried out, written once for the simulator, the checker and the fuzz
//! harnesses (each keeps only its own bookkeeping of which guards to visit).

use crate::guard::{Guard, GuardOutput, Outcome, SizedMsg};
use crate::model::DataChannelState;
use crate::record;
use crate::stack::{AppResult, Stack};
use crate::trace::{EventKind, Millis, MsgId, SendOutcome, Via};

/// A channel as its stack shows it at the moment of a send: what the send event records.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Seen<'a> {
    pub(crate) label: &'a str,
    /// readyState (`None`: the stack has no such channel).
    pub(crate) ready: Option<DataChannelState>,
    /// SCTP stream id, once assigned.
    pub(crate) stream: Option<u16>,
}

impl<'a> Seen<'a> {
    /// `label` as `stack` shows it now.
    pub(crate) fn of(stack: &dyn Stack, label: &'a str) -> Seen<'a> {
        Seen {
            label,
            ready: stack.channel_state(label),
            stream: stack.channel_stream(label),
        }
    }
}

/// Brings the guard's view of readyState up to the stack's (a stack may change it
/// without an event).
pub(crate) fn sync_state(
    guard: &mut Guard<SizedMsg>,
    now: Millis,
    ready: Option<DataChannelState>,
) {
    if let Some(state) = ready {
        if guard.channel_state() != state {
            guard.on_channel_state(now, state);
        }
    }
}

/// A guarded send of `msg` (`size` bytes) on the channel `seen`: the
/// guard decides; a message it lets through goes to `transmit` at once and a refusal
/// goes back to the guard. Returns the `send` event to record.
pub(crate) fn send(
    guard: &mut Guard<SizedMsg>,
    now: Millis,
    seen: Seen<'_>,
    msg: MsgId,
    size: usize,
    transmit: impl FnOnce(&SizedMsg) -> AppResult,
) -> EventKind {
    sync_state(guard, now, seen.ready);
    let (outcome, error, reason) = match guard.send(now, msg, SizedMsg { id: msg, size }) {
        Outcome::Send(payload) => match transmit(&payload) {
            Ok(()) => (SendOutcome::Sent, None, None),
            Err(e) => {
                guard.on_send_error(now, msg, payload, e.kind);
                (SendOutcome::Error, Some(e.text), None)
            }
        },
        Outcome::Queued => (SendOutcome::Queued, None, None),
        Outcome::Rejected(reason) => (SendOutcome::Rejected, None, Some(reason.as_str().into())),
    };
    EventKind::Send {
        channel: seen.label.to_string(),
        stream: seen.stream,
        msg,
        via: Via::Guarded,
        state: record::state_name(seen.ready).to_string(),
        outcome,
        error,
        reason,
        flushed: false,
    }
}

/// Carries out one output of the guard of the channel `seen` (as it was before): a
/// release goes to `transmit` and, if refused, back to the guard; a drop is reported.
/// Returns the event to record.
pub(crate) fn carry_out(
    guard: &mut Guard<SizedMsg>,
    now: Millis,
    seen: Seen<'_>,
    output: GuardOutput<SizedMsg>,
    transmit: impl FnOnce(&SizedMsg) -> AppResult,
) -> EventKind {
    match output {
        GuardOutput::Transmit { id, payload } => {
            let (outcome, error) = match transmit(&payload) {
                Ok(()) => (SendOutcome::Sent, None),
                Err(e) => {
                    guard.on_send_error(now, id, payload, e.kind);
                    (SendOutcome::Error, Some(e.text))
                }
            };
            EventKind::Send {
                channel: seen.label.to_string(),
                stream: seen.stream,
                msg: id,
                via: Via::Guarded,
                state: record::state_name(seen.ready).to_string(),
                outcome,
                error,
                reason: None,
                flushed: true,
            }
        }
        GuardOutput::Dropped { id, reason } => EventKind::Drop {
            channel: seen.label.to_string(),
            msg: id,
            reason: reason.as_str().to_string(),
        },
    }
}
