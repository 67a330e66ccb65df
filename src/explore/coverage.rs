//! What a run reached, read off its trace: the lifecycle states and guard outcomes a
//! sweep exercised, so that a green sweep says what it covered.

use crate::trace::{EventKind, Machine, SendOutcome, Trace, Via};
use std::collections::BTreeSet;

/// Every name [`reached`] can report, in the order the report lists them.
pub const POINTS: &[&str] = &[
    "ice checking -> connected",
    "ice disconnected",
    "ice reconnected",
    "ice failed",
    "ice restarted",
    "peer connection closed",
    "sctp closed",
    "channel open",
    "channel never opened",
    "channel closing",
    "channel closed",
    "raw send refused",
    "raw send accepted while not open",
    "message delivered",
    "message undelivered",
    "guard queued",
    "guard flushed",
    "guard rejected",
    "guard dropped: expired",
    "guard dropped: queue-full",
    "guard dropped: path-failed",
    "guard dropped: channel-closed",
    "violation",
];

/// The points of [`POINTS`] this run reached.
pub fn reached(trace: &Trace) -> BTreeSet<&'static str> {
    let mut out = BTreeSet::new();
    let mut opened: BTreeSet<(Option<crate::trace::PeerId>, String)> = BTreeSet::new();
    let mut channels: BTreeSet<(Option<crate::trace::PeerId>, String)> = BTreeSet::new();
    for e in &trace.events {
        match &e.kind {
            EventKind::State {
                machine,
                channel,
                from,
                to,
            } => match (machine, to.as_str()) {
                (Machine::IceConnection, "connected" | "completed") => {
                    if from == "checking" {
                        out.insert("ice checking -> connected");
                    }
                    if from == "disconnected" {
                        out.insert("ice reconnected");
                    }
                }
                (Machine::IceConnection, "disconnected") => {
                    out.insert("ice disconnected");
                }
                (Machine::IceConnection, "failed") => {
                    out.insert("ice failed");
                }
                (Machine::IceConnection, "checking") if from != "new" => {
                    out.insert("ice restarted");
                }
                (Machine::PeerConnection, "closed") => {
                    out.insert("peer connection closed");
                }
                (Machine::Sctp, "closed") if from == "connected" => {
                    out.insert("sctp closed");
                }
                (Machine::DataChannel, state) => {
                    let key = (e.peer, channel.clone().unwrap_or_default());
                    channels.insert(key.clone());
                    match state {
                        "open" => {
                            out.insert("channel open");
                            opened.insert(key);
                        }
                        "closing" => {
                            out.insert("channel closing");
                        }
                        "closed" => {
                            out.insert("channel closed");
                        }
                        _ => {}
                    }
                }
                _ => {}
            },
            EventKind::Send {
                via,
                state,
                outcome,
                flushed,
                ..
            } => match (via, outcome) {
                (Via::Raw, SendOutcome::Error) => {
                    out.insert("raw send refused");
                }
                (Via::Raw, SendOutcome::Sent) if state != "open" => {
                    out.insert("raw send accepted while not open");
                }
                (Via::Guarded, SendOutcome::Queued) => {
                    out.insert("guard queued");
                }
                (Via::Guarded, SendOutcome::Sent) if *flushed => {
                    out.insert("guard flushed");
                }
                (Via::Guarded, SendOutcome::Rejected) => {
                    out.insert("guard rejected");
                }
                _ => {}
            },
            EventKind::Deliver { .. } => {
                out.insert("message delivered");
            }
            EventKind::Drop { reason, .. } => match reason.as_str() {
                "undelivered" => {
                    out.insert("message undelivered");
                }
                "expired" => {
                    out.insert("guard dropped: expired");
                }
                "queue-full" => {
                    out.insert("guard dropped: queue-full");
                }
                "path-failed" => {
                    out.insert("guard dropped: path-failed");
                }
                "channel-closed" => {
                    out.insert("guard dropped: channel-closed");
                }
                _ => {}
            },
            EventKind::Violation { .. } => {
                out.insert("violation");
            }
            _ => {}
        }
    }
    if channels.iter().any(|c| !opened.contains(c)) {
        out.insert("channel never opened");
    }
    out
}
