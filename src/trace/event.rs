//! The event model every driver emits: one [`TraceEvent`] per observable step.
//!
//! The JSON form (docs/invariants.md, "The trace"): one flat object per event with
//! `t_ms`, an optional `peer` and an `event` tag. Every message carries an id (`msg`) so
//! that its fate (delivered, dropped with a reason) can be followed.

pub use crate::vocab::ids::{Machine, Millis, MsgId, PeerId};
use serde::{Deserialize, Serialize};

/// How the application sent: the bare channel send, or through the guard.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Via {
    /// The bare `send` of the stack.
    Raw,
    /// Through [`crate::guard`].
    Guarded,
}

impl Via {
    /// `"raw"` or `"guarded"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Via::Raw => "raw",
            Via::Guarded => "guarded",
        }
    }
}

/// What a send call returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SendOutcome {
    /// Handed to the transport.
    Sent,
    /// Held by the guard, to be flushed later or dropped with a reason.
    Queued,
    /// The raw send returned an error (the text is the profile's).
    Error,
    /// The guard refused it (with a reason).
    Rejected,
}

impl SendOutcome {
    /// The JSON name.
    pub fn as_str(self) -> &'static str {
        match self {
            SendOutcome::Sent => "sent",
            SendOutcome::Queued => "queued",
            SendOutcome::Error => "error",
            SendOutcome::Rejected => "rejected",
        }
    }
}

/// One event of a trace.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TraceEvent {
    /// Virtual time of the event.
    pub t_ms: Millis,
    /// The peer it happened on; `None` for network-wide events (faults, violations).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer: Option<PeerId>,
    /// What happened.
    #[serde(flatten)]
    pub kind: EventKind,
}

/// What happened, tagged by `event` in JSON.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum EventKind {
    /// A state machine changed state (`from` and `to` are the crate's Display strings).
    State {
        /// Which machine.
        machine: Machine,
        /// The channel label, for `data_channel`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        channel: Option<String>,
        /// Previous state.
        from: String,
        /// New state.
        to: String,
    },
    /// The application called send (raw or guarded), or the guard flushed a queued message
    /// to the transport (`via = guarded`, `flushed = true`).
    Send {
        /// Channel label.
        channel: String,
        /// The channel's SCTP stream id, when it has one: the identity a delivery is
        /// paired by (labels need not be unique). Not shown in the text rendering.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        stream: Option<u16>,
        /// Message id.
        msg: MsgId,
        /// Raw or guarded.
        via: Via,
        /// The channel's readyState at the moment of the call.
        state: String,
        /// What the call returned.
        outcome: SendOutcome,
        /// Error text of a raw send.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        /// Reason of a guarded rejection.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        /// True when the guard hands a previously queued message to the transport.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        flushed: bool,
    },
    /// A message reached the remote application.
    Deliver {
        /// Channel label.
        channel: String,
        /// The SCTP stream it arrived on, when the stack reports it (see `Send`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        stream: Option<u16>,
        /// Message id.
        msg: MsgId,
        /// It came on an unordered channel, so it may overtake an earlier message
        /// (`fifo-delivery` does not apply).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        unordered: bool,
    },
    /// A message will never be delivered, with the reason (guard drops, or a loss the
    /// stack reports or the driver detects).
    Drop {
        /// Channel label.
        channel: String,
        /// Message id.
        msg: MsgId,
        /// Why (guard reasons: not-open, expired, queue-full, channel-closed, too-large,
        /// path-failed).
        reason: String,
    },
    /// An application-visible callback (open, close, error, datachannel,
    /// bufferedamountlow, bufferedamounthigh).
    Callback {
        /// Channel label.
        channel: String,
        /// The callback's name.
        name: String,
    },
    /// An application call of the scenario (`connect`, `create_channel`, `close_channel`,
    /// `close_peer`, `ice_restart`): kept apart from faults so that a reader sees what the
    /// application did and what the network did to it.
    App {
        /// The scenario action (one of [`APP_ACTIONS`]).
        action: String,
        /// Parameters or the call's error, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
    },
    /// A network fault from the scenario (`partition`, `heal`, `hold`, `release`, `loss`,
    /// `latency`, `crash`) or a step of the checker's world (`timer`, `deliver`, `drop`).
    Fault {
        /// The scenario action (`partition`, `heal`, ...).
        action: String,
        /// Parameters, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
    },
    /// A fact about the run that is not an observation (who recorded it: a real peer's
    /// player writes `name = "peer"` with the browser's version first in its trace).
    /// Renderers show it; conformance and the invariants ignore it.
    Meta {
        /// What the fact is about (`peer`).
        name: String,
        /// The fact (`Chromium 156.0.8078.114`).
        value: String,
    },
    /// An invariant was violated.
    Violation {
        /// Invariant name (docs/invariants.md).
        invariant: String,
        /// What exactly.
        detail: String,
    },
}

/// The scenario actions that are application calls, written as `app` events.
pub const APP_ACTIONS: [&str; 5] = [
    "connect",
    "create_channel",
    "close_channel",
    "close_peer",
    "ice_restart",
];

impl EventKind {
    /// A scenario step: `app` for an application call (one of [`APP_ACTIONS`]), `fault` for
    /// anything else, so that every writer classifies the same way.
    pub fn step(action: &str, detail: Option<String>) -> EventKind {
        let action = action.to_string();
        if APP_ACTIONS.contains(&action.as_str()) {
            EventKind::App { action, detail }
        } else {
            EventKind::Fault { action, detail }
        }
    }

    /// Reads an application call written as `fault` (traces recorded before `app` events
    /// existed) as the `app` event it is; every other event is returned unchanged.
    pub fn upgraded(self) -> EventKind {
        match self {
            EventKind::Fault { action, detail } => EventKind::step(&action, detail),
            other => other,
        }
    }
}

impl TraceEvent {
    /// A network-wide event.
    pub fn global(t_ms: Millis, kind: EventKind) -> Self {
        TraceEvent {
            t_ms,
            peer: None,
            kind,
        }
    }

    /// An event on one peer.
    pub fn on(t_ms: Millis, peer: PeerId, kind: EventKind) -> Self {
        TraceEvent {
            t_ms,
            peer: Some(peer),
            kind,
        }
    }

    /// The `event` tag.
    pub fn name(&self) -> &'static str {
        match self.kind {
            EventKind::State { .. } => "state",
            EventKind::Send { .. } => "send",
            EventKind::Deliver { .. } => "deliver",
            EventKind::Drop { .. } => "drop",
            EventKind::Callback { .. } => "callback",
            EventKind::App { .. } => "app",
            EventKind::Fault { .. } => "fault",
            EventKind::Meta { .. } => "meta",
            EventKind::Violation { .. } => "violation",
        }
    }
}
