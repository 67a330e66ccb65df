//! The normalized form of a trace: what conformance compares.
//!
//! A [`Trace`] is flattened into timed value sequences, one per [`Key`]:
//!
//! | key | values, in order |
//! |---|---|
//! | [`Key::State`] (peer, machine, channel) | the states entered (`to`), as Display strings |
//! | [`Key::Callbacks`] (peer, channel) | the callbacks fired (`open`, `close`, ...) |
//! | [`Key::Send`] (message id) | each send call or guard flush: `sent`, `queued`, `flushed`, `error: <text>`, `rejected: <reason>` |
//! | [`Key::Fate`] (message id) | `delivered` or `dropped: <reason>` (at most one each) |
//! | [`Key::Steps`] (peer) | the application steps the script recorded (`close_channel chat`, with the error text of a failed call) |
//!
//! Not compared: network faults (the simulator applies the same ones to both stacks),
//! violations (a consequence of the rest; see [`super::ConformReport`]), and the
//! `state` field of a send (the readyState at the call, already in [`Key::State`]).
//!
//! # What is dropped, from both traces, and why
//!
//! Only what one stack cannot report ([`DROPPED`]):
//!
//! 1. `ice_gathering` `gathering`. The crate sets it without an event
//!    (`rtc/src/peer_connection/mod.rs:1244`, in `set_local_description`), so the real
//!    stack reports `new -> complete`. (The ICE transport's `gathering_state()` getter
//!    reads it, but only through `pc.sctp()`, which exists once both descriptions are
//!    set; dcsim's rtc driver reports the crate's events for this machine.)
//! 2. `ice_connection` and `signaling` `closed` after the peer's own `close_peer`. The
//!    crate sets signaling `closed` without an event and never sets ICE `closed` (its
//!    `close()` leaves the ICE transport stop as a TODO,
//!    `rtc/src/peer_connection/handler/mod.rs:580-583`); neither has a getter. (W3C fires
//!    no event for either on `close()` either.)
//!
//! The model's `webrtc-rs` profile reports neither either (`ice_gathering_reports_gathering`,
//! `pc_close_leaves_ice`, and signaling left as it was), so against the `rtc` stack these
//! drops change nothing; they stay for traces of other stacks compared on the same rules.
//! Both crate behaviours are listed, as mirrored, in [`super::deviations::DEVIATIONS`].

use crate::trace::{EventKind, Machine, Millis, MsgId, PeerId, SendOutcome, Trace};
use std::collections::BTreeMap;
use std::fmt;

/// What one sequence of values describes.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Key {
    /// The states a machine entered.
    State {
        /// Peer.
        peer: PeerId,
        /// Machine.
        machine: Machine,
        /// Channel label, for `data_channel`.
        channel: Option<String>,
    },
    /// The callbacks one channel fired on one peer.
    Callbacks {
        /// Peer.
        peer: PeerId,
        /// Channel label.
        channel: String,
    },
    /// What the send calls of one message returned (and its guard flush).
    Send {
        /// Message id.
        msg: MsgId,
    },
    /// What finally became of one message.
    Fate {
        /// Message id.
        msg: MsgId,
    },
    /// The application steps of one peer, with the errors of failed calls.
    Steps {
        /// Peer.
        peer: PeerId,
    },
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Key::State {
                peer,
                machine,
                channel: Some(c),
            } => write!(f, "{peer} {machine}[{c}]"),
            Key::State { peer, machine, .. } => write!(f, "{peer} {machine}"),
            Key::Callbacks { peer, channel } => write!(f, "{peer} callbacks[{channel}]"),
            Key::Send { msg } => write!(f, "send #{msg}"),
            Key::Fate { msg } => write!(f, "fate #{msg}"),
            Key::Steps { peer } => write!(f, "{peer} steps"),
        }
    }
}

/// One value with the virtual time it was observed at.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Timed {
    /// When.
    pub t_ms: Millis,
    /// What (a state, a callback name, a send outcome, a fate, a step).
    pub value: String,
}

impl fmt::Display for Timed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at {} ms", self.value, self.t_ms)
    }
}

/// One thing dropped from both traces before they are compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dropped {
    /// What is dropped.
    pub what: &'static str,
    /// Why the real stack cannot report it, with the crate source location.
    pub why: &'static str,
}

/// Everything [`normalize`] drops, for the documentation and `dcsim conform` output.
pub const DROPPED: &[Dropped] = &[
    Dropped {
        what: "ice_gathering `gathering`",
        why: "set without an event (rtc/src/peer_connection/mod.rs:1244); its getter is \
              reached only through pc.sctp()",
    },
    Dropped {
        what: "ice_connection and signaling `closed` after the peer's own close_peer",
        why: "signaling set without an event, ICE never set (TODO at \
              rtc/src/peer_connection/handler/mod.rs:580-583); no getters",
    },
];

/// A trace as conformance compares it: timed value sequences by [`Key`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Normalized {
    /// The sequences, in key order.
    pub seqs: BTreeMap<Key, Vec<Timed>>,
    /// When each peer called `close_peer` (from its steps), if it did.
    pub closed_at: [Option<Millis>; 2],
}

impl Normalized {
    /// The sequence of `key` (empty if absent).
    pub fn get(&self, key: &Key) -> &[Timed] {
        self.seqs.get(key).map_or(&[], Vec::as_slice)
    }

    /// The sequence of `key`, created empty if absent.
    pub fn get_mut(&mut self, key: Key) -> &mut Vec<Timed> {
        self.seqs.entry(key).or_default()
    }

    fn push(&mut self, key: Key, t_ms: Millis, value: String) {
        self.get_mut(key).push(Timed { t_ms, value });
    }
}

/// Flattens a trace into its normalized form and applies the drops of [`DROPPED`].
pub fn normalize(trace: &Trace) -> Normalized {
    let mut n = Normalized::default();
    for e in &trace.events {
        let t = e.t_ms;
        match (&e.kind, e.peer) {
            (
                EventKind::State {
                    machine,
                    channel,
                    to,
                    ..
                },
                Some(peer),
            ) => {
                let key = Key::State {
                    peer,
                    machine: *machine,
                    channel: channel.clone(),
                };
                n.push(key, t, to.clone());
            }
            (EventKind::Callback { channel, name }, Some(peer)) => {
                let key = Key::Callbacks {
                    peer,
                    channel: channel.clone(),
                };
                n.push(key, t, name.clone());
            }
            (
                EventKind::Send {
                    msg,
                    outcome,
                    error,
                    reason,
                    flushed,
                    ..
                },
                Some(_),
            ) => {
                let value = match (outcome, flushed) {
                    (SendOutcome::Sent, true) => "flushed".to_string(),
                    (SendOutcome::Sent, false) => "sent".to_string(),
                    (SendOutcome::Queued, _) => "queued".to_string(),
                    (SendOutcome::Error, _) => {
                        format!("error: {}", error.as_deref().unwrap_or(""))
                    }
                    (SendOutcome::Rejected, _) => {
                        format!("rejected: {}", reason.as_deref().unwrap_or(""))
                    }
                };
                n.push(Key::Send { msg: *msg }, t, value);
            }
            (EventKind::Deliver { msg, .. }, Some(_)) => {
                n.push(Key::Fate { msg: *msg }, t, "delivered".to_string());
            }
            (EventKind::Drop { msg, reason, .. }, Some(_)) => {
                n.push(Key::Fate { msg: *msg }, t, format!("dropped: {reason}"));
            }
            (
                EventKind::App { action, detail } | EventKind::Fault { action, detail },
                Some(peer),
            ) => {
                if action == "close_peer" && detail.is_none() {
                    let slot = &mut n.closed_at[peer.index()];
                    slot.get_or_insert(t);
                }
                let value = match detail {
                    Some(d) => format!("{action} {d}"),
                    None => action.clone(),
                };
                n.push(Key::Steps { peer }, t, value);
            }
            _ => {}
        }
    }
    apply_drops(&mut n);
    n
}

/// The drops of [`DROPPED`], on either stack's normalized trace.
fn apply_drops(n: &mut Normalized) {
    let closed_at = n.closed_at;
    for (key, seq) in n.seqs.iter_mut() {
        let Key::State { peer, machine, .. } = key else {
            continue;
        };
        match machine {
            Machine::IceGathering => seq.retain(|s| s.value != "gathering"),
            Machine::IceConnection | Machine::Signaling => {
                if let Some(at) = closed_at[peer.index()] {
                    seq.retain(|s| !(s.value == "closed" && s.t_ms >= at));
                }
            }
            _ => {}
        }
    }
    n.seqs.retain(|_, seq| !seq.is_empty());
}
