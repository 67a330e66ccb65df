//! What a trace says about its messages, for the tests that pin deliveries: the ids
//! delivered (in delivery order), those reported undelivered at the end of the run, and
//! how long the first delivery took after the first send.
#![allow(dead_code)] // each test file uses its part

use dcsim::trace::{EventKind, MsgId, Trace};

/// The ids delivered, in the order they were.
pub fn delivered(t: &Trace) -> Vec<MsgId> {
    t.events
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::Deliver { msg, .. } => Some(msg),
            _ => None,
        })
        .collect()
}

/// The ids reported `undelivered` when the run ended.
pub fn undelivered(t: &Trace) -> Vec<MsgId> {
    t.events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Drop { msg, reason, .. } if reason == "undelivered" => Some(*msg),
            _ => None,
        })
        .collect()
}

/// Time from the first send to the first delivery, if there were both.
pub fn first_delivery_delay(t: &Trace) -> Option<u64> {
    let sent = t
        .events
        .iter()
        .find(|e| matches!(e.kind, EventKind::Send { .. }))?;
    let got = t
        .events
        .iter()
        .find(|e| matches!(e.kind, EventKind::Deliver { .. }))?;
    Some(got.t_ms - sent.t_ms)
}
