//! How the monitor pairs a delivery with its send: by the channel's label and SCTP
//! stream id (the identity on the wire), never by the label alone; by the label only
//! when the trace carries no stream ids (recordings of real peers).

use dcsim::check::{Monitor, MonitorConfig};
use dcsim::trace::{EventKind, MsgId, PeerId, SendOutcome, TraceEvent, Via};

fn send(t: u64, channel: &str, stream: Option<u16>, msg: MsgId) -> TraceEvent {
    TraceEvent::on(
        t,
        PeerId::A,
        EventKind::Send {
            channel: channel.into(),
            stream,
            msg,
            via: Via::Raw,
            state: "open".into(),
            outcome: SendOutcome::Sent,
            error: None,
            reason: None,
            flushed: false,
        },
    )
}

fn deliver(t: u64, channel: &str, stream: Option<u16>, msg: MsgId) -> TraceEvent {
    TraceEvent::on(
        t,
        PeerId::B,
        EventKind::Deliver {
            channel: channel.into(),
            stream,
            msg,
            unordered: false,
        },
    )
}

/// The violations (invariant: detail) the events cause.
fn judge(events: &[TraceEvent]) -> Vec<String> {
    let mut monitor = Monitor::new(MonitorConfig::default());
    events
        .iter()
        .flat_map(|e| monitor.observe(e))
        .filter_map(|v| match v.kind {
            EventKind::Violation { invariant, detail } => Some(format!("{invariant}: {detail}")),
            _ => None,
        })
        .collect()
}

#[test]
fn a_delivery_on_the_senders_label_and_stream_is_paired() {
    let events = [
        send(10, "chat", Some(1), 1),
        send(11, "chat", Some(1), 2),
        deliver(20, "chat", Some(1), 1),
        deliver(21, "chat", Some(1), 2),
    ];
    assert_eq!(judge(&events), Vec::<String>::new());
}

/// Two channels with the same label (labels need not be unique): a message sent on one
/// and delivered on the other is reported, which pairing by label could not see.
#[test]
fn a_delivery_on_another_stream_with_the_same_label_is_reported() {
    let events = [
        send(10, "chat", Some(1), 1),
        deliver(20, "chat", Some(3), 1),
    ];
    assert_eq!(
        judge(&events),
        ["no-silent-loss: b: #1 handed to the transport on chat (stream 1) but delivered on chat (stream 3)"]
    );
}

/// The stream-mixup the fuzzer once found: a stream id taken by a new channel while an
/// old one still held it at the remote, so the new channel's messages arrived on the old
/// one.
#[test]
fn a_delivery_on_the_same_stream_under_another_label_is_reported() {
    let events = [send(10, "c0", Some(1), 1), deliver(20, "c1", Some(1), 1)];
    assert_eq!(
        judge(&events),
        ["no-silent-loss: b: #1 handed to the transport on c0 (stream 1) but delivered on c1 (stream 1)"]
    );
}

#[test]
fn fifo_is_judged_per_stream() {
    let events = [
        send(10, "chat", Some(1), 1),
        send(11, "chat", Some(1), 2),
        deliver(20, "chat", Some(1), 2),
        deliver(21, "chat", Some(1), 1),
    ];
    assert_eq!(
        judge(&events),
        ["fifo-delivery: b: #1 on chat delivered after a message sent later"]
    );
}

/// Traces without stream ids (real peers' recordings) pair by label, and a send made
/// before the channel had a stream id pairs with its delivery by label.
#[test]
fn without_stream_ids_the_label_pairs() {
    let recorded = [send(10, "chat", None, 1), deliver(20, "chat", None, 1)];
    assert_eq!(judge(&recorded), Vec::<String>::new());
    let unnumbered_send = [send(10, "chat", None, 1), deliver(20, "chat", Some(0), 1)];
    assert_eq!(judge(&unnumbered_send), Vec::<String>::new());
    let elsewhere = [send(10, "chat", None, 1), deliver(20, "other", None, 1)];
    assert_eq!(
        judge(&elsewhere),
        ["no-silent-loss: b: #1 handed to the transport on chat but delivered on other"]
    );
}

#[test]
fn a_delivery_never_sent_is_reported() {
    assert_eq!(
        judge(&[deliver(20, "chat", Some(1), 9)]),
        ["no-silent-loss: b: #9 delivered on chat but never handed to the transport"]
    );
}
