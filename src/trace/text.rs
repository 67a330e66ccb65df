//! The review text format: one event a line, for insta snapshots, diffs and the terminal.

use super::{EventKind, PeerId, SendOutcome, Trace, TraceEvent};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The longest line (in characters) the text format produces; longer descriptions are
/// cut and end with `…`.
pub(crate) const MAX_LINE: usize = 100;

/// Width of the time column (digits), enough for runs of up to 16 minutes; longer times
/// widen their own line only.
const TIME_WIDTH: usize = 6;

/// Extra indent of peer `b`'s descriptions, so the peers read as columns.
const B_INDENT: &str = "    ";

impl Trace {
    /// Renders the trace in the review text format: one line an event, then a blank
    /// line and the summary.
    ///
    /// ```text
    ///      0 ms    * app connect
    ///      5 ms  a | send[chat] #0 raw (connecting) -> error: data channel is not open yet
    ///      5 ms    * !! violation no-send-on-non-open: a sent #0 on chat while connecting
    ///     12 ms  a | ice_connection  checking -> connected
    ///     40 ms  b |     deliver[chat] #1
    /// ```
    ///
    /// Each line is the time (right-aligned, milliseconds), the lane (`a |`, `b |`, or `  *`
    /// for network-wide events) and a compact description. Peer `b`'s descriptions are
    /// indented a little further so that the two peers read as two columns. A summary of
    /// sends by outcome, deliveries, drops by reason and violations follows the events.
    /// Nothing in the output depends on anything but the trace (no clock, no paths, no hash
    /// order), and every line stays within 100 characters.
    pub fn render_text(&self) -> String {
        let mut out = String::with_capacity(self.events.len() * 64 + 256);
        for event in &self.events {
            out.push_str(&line(event));
            out.push('\n');
        }
        if !self.events.is_empty() {
            out.push('\n');
        }
        out.push_str(&Summary::of(self).render());
        out
    }
}

/// One event as a line of the text format (no trailing newline).
pub(crate) fn line(event: &TraceEvent) -> String {
    let (lane, indent) = match event.peer {
        Some(PeerId::A) => ("a |", ""),
        Some(PeerId::B) => ("b |", B_INDENT),
        None => ("  *", ""),
    };
    let head = format!("{:>TIME_WIDTH$} ms  {lane} {indent}", event.t_ms);
    let room = MAX_LINE.saturating_sub(head.chars().count()).max(16);
    let mut text = head;
    text.push_str(&truncate(&describe(event), room));
    text
}

/// The compact description of one event, without time or lane: `deliver[chat] #4`,
/// `ice_connection  checking -> connected`, `!! violation <name>: <detail>`.
///
/// Control characters are escaped, so the description is always one line.
pub(crate) fn describe(event: &TraceEvent) -> String {
    let text = match &event.kind {
        EventKind::State {
            machine,
            channel,
            from,
            to,
        } => match channel {
            Some(label) => format!("{machine}[{label}]  {from} -> {to}"),
            None => format!("{machine}  {from} -> {to}"),
        },
        EventKind::Send {
            channel,
            msg,
            via,
            state,
            outcome,
            error,
            reason,
            flushed,
            ..
        } => {
            let mut s = if *flushed {
                format!("flush[{channel}] #{msg} -> {}", outcome.as_str())
            } else {
                format!(
                    "send[{channel}] #{msg} {} ({state}) -> {}",
                    via.as_str(),
                    outcome.as_str()
                )
            };
            if let Some(why) = error.as_ref().or(reason.as_ref()) {
                s.push_str(": ");
                s.push_str(why);
            }
            s
        }
        EventKind::Deliver { channel, msg, .. } => format!("deliver[{channel}] #{msg}"),
        EventKind::Drop {
            channel,
            msg,
            reason,
        } => format!("drop[{channel}] #{msg}: {reason}"),
        EventKind::Callback { channel, name } => format!("callback[{channel}] {name}"),
        EventKind::App { action, detail } => match detail {
            Some(d) => format!("app {action} {d}"),
            None => format!("app {action}"),
        },
        EventKind::Fault { action, detail } => match detail {
            Some(d) => format!("fault {action} {d}"),
            None => format!("fault {action}"),
        },
        EventKind::Meta { name, value } => format!("{name}: {value}"),
        EventKind::Violation { invariant, detail } => {
            format!("!! violation {invariant}: {detail}")
        }
    };
    one_line(&text)
}

/// Escapes control characters (`\n`, `\t`, ...) so that a text stays on one line.
fn one_line(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_owned();
    }
    text.chars()
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect()
}

/// Cuts `text` to at most `max` characters, marking a cut with `…`.
pub(crate) fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// Counts over a trace: what the summary footer (and the HTML header) shows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Summary {
    /// Number of events.
    pub events: usize,
    /// Time of the last event.
    pub end_ms: u64,
    /// Application send calls by outcome, in the order sent, queued, error, rejected.
    pub sends: [usize; 4],
    /// Queued messages the guard later handed to the transport.
    pub flushed: usize,
    /// Deliveries.
    pub deliveries: usize,
    /// Drops by reason.
    pub drops: BTreeMap<String, usize>,
    /// Violations by invariant.
    pub violations: BTreeMap<String, usize>,
}

/// The send outcomes in summary order.
const OUTCOMES: [SendOutcome; 4] = [
    SendOutcome::Sent,
    SendOutcome::Queued,
    SendOutcome::Error,
    SendOutcome::Rejected,
];

impl Summary {
    /// Counts the events of `trace`.
    pub fn of(trace: &Trace) -> Summary {
        let mut s = Summary {
            events: trace.events.len(),
            end_ms: trace.events.last().map_or(0, |e| e.t_ms),
            ..Summary::default()
        };
        for event in &trace.events {
            match &event.kind {
                EventKind::Send {
                    outcome, flushed, ..
                } => {
                    if *flushed {
                        s.flushed += 1;
                    } else if let Some(i) = OUTCOMES.iter().position(|o| o == outcome) {
                        s.sends[i] += 1;
                    }
                }
                EventKind::Deliver { .. } => s.deliveries += 1,
                EventKind::Drop { reason, .. } => {
                    *s.drops.entry(one_line(reason)).or_default() += 1;
                }
                EventKind::Violation { invariant, .. } => {
                    *s.violations.entry(one_line(invariant)).or_default() += 1;
                }
                _ => {}
            }
        }
        s
    }

    /// Total application send calls.
    pub fn total_sends(&self) -> usize {
        self.sends.iter().sum()
    }

    /// Total drops.
    pub fn total_drops(&self) -> usize {
        self.drops.values().sum()
    }

    /// Total violations.
    pub fn total_violations(&self) -> usize {
        self.violations.values().sum()
    }

    /// Sends by outcome, every outcome named: `sent 2, queued 1, error 0, rejected 0`
    /// with `sep` = `", "`.
    pub fn outcome_counts(&self, sep: &str) -> String {
        join_counts(OUTCOMES.iter().map(|o| o.as_str()).zip(self.sends), sep)
    }

    /// The footer: a rule and four aligned lines, each ending with `\n`.
    pub fn render(&self) -> String {
        let mut out = format!("-- summary: {} events, {} ms\n", self.events, self.end_ms);
        let outcomes = self.outcome_counts(", ");
        let _ = writeln!(
            out,
            "sends       {:>4}  {outcomes}; flushed {}",
            self.total_sends(),
            self.flushed
        );
        let _ = writeln!(out, "deliveries  {:>4}", self.deliveries);
        let _ = writeln!(
            out,
            "{}",
            counted_line("drops", self.total_drops(), &self.drops)
        );
        let _ = writeln!(
            out,
            "{}",
            counted_line("violations", self.total_violations(), &self.violations)
        );
        out
    }
}

/// `key n<sep>key n`.
pub(crate) fn join_counts<'a>(
    counts: impl IntoIterator<Item = (&'a str, usize)>,
    sep: &str,
) -> String {
    counts
        .into_iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect::<Vec<_>>()
        .join(sep)
}

/// `name  total  key n, key n` cut to [`MAX_LINE`].
fn counted_line(name: &str, total: usize, by: &BTreeMap<String, usize>) -> String {
    let mut text = format!("{name:<11} {total:>4}");
    if !by.is_empty() {
        text.push_str("  ");
        text.push_str(&join_counts(by.iter().map(|(k, n)| (k.as_str(), *n)), ", "));
    }
    truncate(&text, MAX_LINE)
}

/// Hand-built traces shared by the renderer tests.
#[cfg(test)]
pub(crate) mod fixtures {
    use crate::trace::*;

    fn state(t: u64, peer: PeerId, machine: Machine, from: &str, to: &str) -> TraceEvent {
        TraceEvent::on(
            t,
            peer,
            EventKind::State {
                machine,
                channel: None,
                from: from.into(),
                to: to.into(),
            },
        )
    }

    fn dc(t: u64, peer: PeerId, from: &str, to: &str) -> TraceEvent {
        TraceEvent::on(
            t,
            peer,
            EventKind::State {
                machine: Machine::DataChannel,
                channel: Some("chat".into()),
                from: from.into(),
                to: to.into(),
            },
        )
    }

    /// A send on `chat` from `peer`.
    pub fn send(
        t: u64,
        peer: PeerId,
        msg: u64,
        via: Via,
        state: &str,
        outcome: SendOutcome,
    ) -> TraceEvent {
        let (error, reason) = match outcome {
            SendOutcome::Error => (Some("data channel is not open yet".to_owned()), None),
            SendOutcome::Rejected => (None, Some("channel-closed".to_owned())),
            _ => (None, None),
        };
        TraceEvent::on(
            t,
            peer,
            EventKind::Send {
                channel: "chat".into(),
                stream: None,
                msg,
                via,
                state: state.into(),
                outcome,
                error,
                reason,
                flushed: false,
            },
        )
    }

    /// The guard on `peer` hands queued `msg` to the transport.
    pub fn flush(t: u64, peer: PeerId, msg: u64) -> TraceEvent {
        TraceEvent::on(
            t,
            peer,
            EventKind::Send {
                channel: "chat".into(),
                stream: None,
                msg,
                via: Via::Guarded,
                state: "open".into(),
                outcome: SendOutcome::Sent,
                error: None,
                reason: None,
                flushed: true,
            },
        )
    }

    /// `msg` reaches `peer`.
    pub fn deliver(t: u64, peer: PeerId, msg: u64) -> TraceEvent {
        TraceEvent::on(
            t,
            peer,
            EventKind::Deliver {
                channel: "chat".into(),
                stream: None,
                msg,
                unordered: false,
            },
        )
    }

    /// `msg` is dropped on `peer`.
    pub fn drop(t: u64, peer: PeerId, msg: u64, reason: &str) -> TraceEvent {
        TraceEvent::on(
            t,
            peer,
            EventKind::Drop {
                channel: "chat".into(),
                msg,
                reason: reason.into(),
            },
        )
    }

    fn callback(t: u64, peer: PeerId, name: &str) -> TraceEvent {
        TraceEvent::on(
            t,
            peer,
            EventKind::Callback {
                channel: "chat".into(),
                name: name.into(),
            },
        )
    }

    fn fault(t: u64, action: &str) -> TraceEvent {
        TraceEvent::global(t, EventKind::step(action, None))
    }

    /// A violation of `invariant`.
    pub fn violation(t: u64, invariant: &str, detail: &str) -> TraceEvent {
        TraceEvent::global(
            t,
            EventKind::Violation {
                invariant: invariant.into(),
                detail: detail.into(),
            },
        )
    }

    /// The send-before-open race: `a` sends raw while ICE is still checking (an error and
    /// a violation) and through the guard (queued, flushed on open); the channel opens,
    /// messages are delivered; later a partition takes the path down and a queued
    /// message expires.
    pub fn send_before_open() -> Trace {
        use Machine::*;
        use PeerId::{A, B};
        let events = vec![
            fault(0, "connect"),
            state(0, A, Signaling, "stable", "have-local-offer"),
            state(1, B, Signaling, "stable", "have-remote-offer"),
            state(2, B, Signaling, "have-remote-offer", "stable"),
            state(3, A, Signaling, "have-local-offer", "stable"),
            state(3, A, IceConnection, "new", "checking"),
            state(3, A, PeerConnection, "new", "connecting"),
            state(4, B, IceConnection, "new", "checking"),
            state(4, B, PeerConnection, "new", "connecting"),
            send(5, A, 0, Via::Raw, "connecting", SendOutcome::Error),
            violation(
                5,
                "no-send-on-non-open",
                "a sent #0 on chat while it was connecting",
            ),
            send(5, A, 1, Via::Guarded, "connecting", SendOutcome::Queued),
            state(12, A, IceConnection, "checking", "connected"),
            state(13, B, IceConnection, "checking", "connected"),
            state(24, A, PeerConnection, "connecting", "connected"),
            state(25, B, PeerConnection, "connecting", "connected"),
            dc(30, B, "connecting", "open"),
            callback(30, B, "datachannel"),
            callback(30, B, "open"),
            dc(36, A, "connecting", "open"),
            callback(36, A, "open"),
            flush(36, A, 1),
            send(40, A, 2, Via::Raw, "open", SendOutcome::Sent),
            deliver(47, B, 1),
            deliver(51, B, 2),
            fault(1000, "partition"),
            send(1500, A, 3, Via::Guarded, "open", SendOutcome::Sent),
            state(7000, A, IceConnection, "connected", "disconnected"),
            state(7000, A, PeerConnection, "connected", "disconnected"),
            state(7001, B, IceConnection, "connected", "disconnected"),
            state(7001, B, PeerConnection, "connected", "disconnected"),
            drop(9000, A, 3, "path-failed"),
            send(9500, B, 4, Via::Guarded, "open", SendOutcome::Queued),
            drop(14500, B, 4, "expired"),
            state(32000, A, IceConnection, "disconnected", "failed"),
            state(32000, A, PeerConnection, "disconnected", "failed"),
            state(32002, B, IceConnection, "disconnected", "failed"),
            state(32002, B, PeerConnection, "disconnected", "failed"),
            dc(60000, A, "open", "closed"),
            callback(60000, A, "close"),
            send(60000, A, 5, Via::Guarded, "closed", SendOutcome::Rejected),
        ];
        Trace { events }
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::*;
    use super::*;
    use crate::trace::*;

    #[test]
    fn one_line_per_event_then_the_summary() {
        let trace = send_before_open();
        let text = trace.render_text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[trace.events.len()], "");
        assert!(lines[trace.events.len() + 1].starts_with("-- summary: 41 events, 60000 ms"));
        for l in &lines {
            assert!(l.chars().count() <= MAX_LINE, "too long: {l}");
        }
    }

    #[test]
    fn the_race_reads_as_the_brief_says() {
        let text = send_before_open().render_text();
        let expect = [
            "     0 ms    * app connect",
            "    12 ms  a | ice_connection  checking -> connected",
            "     5 ms  a | send[chat] #0 raw (connecting) -> error: data channel is not open yet",
            "     5 ms    * !! violation no-send-on-non-open: a sent #0 on chat while it was connecting",
            "     5 ms  a | send[chat] #1 guarded (connecting) -> queued",
            "    36 ms  a | data_channel[chat]  connecting -> open",
            "    36 ms  a | callback[chat] open",
            "    36 ms  a | flush[chat] #1 -> sent",
            "    47 ms  b |     deliver[chat] #1",
            "  9000 ms  a | drop[chat] #3: path-failed",
            " 14500 ms  b |     drop[chat] #4: expired",
            " 60000 ms  a | send[chat] #5 guarded (closed) -> rejected: channel-closed",
        ];
        for l in &expect[1..] {
            assert!(
                text.contains(&format!("{l}\n")),
                "missing line {l:?} in\n{text}"
            );
        }
        assert!(text.starts_with(&format!("{}\n", expect[0])));
    }

    #[test]
    fn summary_counts_outcomes_drops_and_violations() {
        let text = send_before_open().render_text();
        let footer: Vec<&str> = text.lines().skip_while(|l| !l.starts_with("--")).collect();
        assert_eq!(
            footer,
            [
                "-- summary: 41 events, 60000 ms",
                "sends          6  sent 2, queued 2, error 1, rejected 1; flushed 1",
                "deliveries     2",
                "drops          2  expired 1, path-failed 1",
                "violations     1  no-send-on-non-open 1",
            ]
        );
    }

    #[test]
    fn empty_trace_is_only_a_zero_summary() {
        let text = Trace::new().render_text();
        assert!(text.starts_with("-- summary: 0 events, 0 ms\n"));
        assert!(text.contains("violations     0\n"));
    }

    #[test]
    fn long_and_multi_line_details_stay_on_one_short_line() {
        let mut trace = Trace::new();
        trace.push(violation(
            1234567,
            "fifo-delivery",
            &format!("line one\nline two {}", "x".repeat(200)),
        ));
        let text = trace.render_text();
        let first = text.lines().next().unwrap();
        assert!(
            first.starts_with("1234567 ms    * !! violation fifo-delivery: line one\\nline two")
        );
        assert!(first.ends_with('…'));
        assert_eq!(first.chars().count(), MAX_LINE);
    }

    #[test]
    fn faults_show_their_detail() {
        let e = TraceEvent::global(
            3,
            EventKind::Fault {
                action: "loss".into(),
                detail: Some("0.3".into()),
            },
        );
        assert_eq!(line(&e), "     3 ms    * fault loss 0.3");
    }
}
