//! Mermaid sequence diagrams of a trace, for issues, pull requests and docs.

use super::{EventKind, Machine, MsgId, PeerId, SendOutcome, Trace};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;

impl Trace {
    /// Renders the trace as a Mermaid `sequenceDiagram` with participants `A` (offerer)
    /// and `B` (answerer).
    ///
    /// ```text
    /// sequenceDiagram
    ///     participant A as A (offerer)
    ///     participant B as B (answerer)
    ///     Note over A: ice new→checking @ 3ms
    ///     A-xB: chat #35;0 raw (connecting) error#58; data channel is not open yet @ 5ms
    ///     rect rgb(255, 221, 221)
    ///     Note over A,B: !! no-send-on-non-open#58; a sent #35;0 on chat while connecting @ 5ms
    ///     end
    ///     A->>B: chat #35;2 raw @ 40ms → delivered @ 51ms
    /// ```
    ///
    /// State changes, queued sends and callbacks are notes over their peer; faults are notes
    /// over both. A message handed to the transport is one arrow at the time it was sent,
    /// labelled with its fate: `->>` delivered, `-x` dropped, `--)` neither by the end of the
    /// trace. Sends that return an error or are rejected, and messages dropped before they
    /// were ever sent, are crossed arrows (`-x`). Violations are notes in a red `rect`.
    /// Text goes through Mermaid's entity codes (`#59;` for `;`, `#35;` for `#`, `#58;` for
    /// `:`), so labels cannot break the diagram's syntax.
    pub fn render_mermaid(&self) -> String {
        let mut out = String::from(
            "sequenceDiagram\n    participant A as A (offerer)\n    participant B as B (answerer)\n",
        );
        let fates = Resolutions::of(self);
        for (i, event) in self.events.iter().enumerate() {
            if fates.consumed.contains(&i) {
                continue;
            }
            let at = format!(" @ {}ms", event.t_ms);
            match &event.kind {
                EventKind::State {
                    machine,
                    channel,
                    from,
                    to,
                } => {
                    let name = match (machine, channel) {
                        (Machine::DataChannel, Some(label)) => format!("channel {label}"),
                        _ => short(*machine).to_owned(),
                    };
                    note(&mut out, event.peer, &format!("{name} {from}→{to}{at}"));
                }
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
                    let how = if *flushed { "flushed" } else { via.as_str() };
                    let what = format!("{channel} #{msg} {how}");
                    match outcome {
                        SendOutcome::Sent => {
                            let (arrow, fate) = match fates.of_send.get(&i) {
                                Some(&j) => match &self.events[j].kind {
                                    EventKind::Drop { reason, .. } => (
                                        "-x",
                                        format!("dropped ({reason}) @ {}ms", self.events[j].t_ms),
                                    ),
                                    _ => ("->>", format!("delivered @ {}ms", self.events[j].t_ms)),
                                },
                                None => ("--)", "not delivered".to_owned()),
                            };
                            let label = format!("{what}{at} → {fate}");
                            arrow_line(&mut out, event.peer, arrow, &label);
                        }
                        SendOutcome::Queued => {
                            note(
                                &mut out,
                                event.peer,
                                &format!("{what} queued ({state}){at}"),
                            );
                        }
                        SendOutcome::Error | SendOutcome::Rejected => {
                            let why = error.as_deref().or(reason.as_deref()).unwrap_or("");
                            let label = format!("{what} ({state}) {}: {why}{at}", outcome.as_str());
                            arrow_line(&mut out, event.peer, "-x", &label);
                        }
                    }
                }
                EventKind::Deliver { channel, msg, .. } => {
                    let from = fates.sender(*msg, event.peer.map(PeerId::other));
                    let label = format!("{channel} #{msg} delivered{at}");
                    arrow_line(&mut out, from, "->>", &label);
                }
                EventKind::Drop {
                    channel,
                    msg,
                    reason,
                } => {
                    let from = fates.sender(*msg, event.peer);
                    let label = format!("{channel} #{msg} dropped ({reason}){at}");
                    arrow_line(&mut out, from, "-x", &label);
                }
                EventKind::Callback { channel, name } => {
                    note(&mut out, event.peer, &format!("on{name} {channel}{at}"));
                }
                EventKind::App { action, detail } | EventKind::Fault { action, detail } => {
                    let detail = detail
                        .as_deref()
                        .map(|d| format!(" {d}"))
                        .unwrap_or_default();
                    let name = event.name();
                    note(&mut out, None, &format!("{name} {action}{detail}{at}"));
                }
                EventKind::Meta { name, value } => {
                    note(&mut out, None, &format!("{name}: {value}"));
                }
                EventKind::Violation { invariant, detail } => {
                    out.push_str("    rect rgb(255, 221, 221)\n");
                    note(
                        &mut out,
                        event.peer,
                        &format!("!! {invariant}: {detail}{at}"),
                    );
                    out.push_str("    end\n");
                }
            }
        }
        out
    }
}

/// Which delivery or drop ends each message handed to the transport.
struct Resolutions {
    /// Index of a transport send -> index of the delivery or drop that resolves it.
    of_send: BTreeMap<usize, usize>,
    /// Deliveries and drops already drawn as part of their send's arrow.
    consumed: HashSet<usize>,
    /// Who sent each message (the first send event naming it).
    senders: HashMap<MsgId, PeerId>,
}

impl Resolutions {
    fn of(trace: &Trace) -> Resolutions {
        let mut senders = HashMap::new();
        for e in &trace.events {
            if let (EventKind::Send { msg, .. }, Some(peer)) = (&e.kind, e.peer) {
                senders.entry(*msg).or_insert(peer);
            }
        }
        let of_send = trace.flights();
        Resolutions {
            consumed: of_send.values().copied().collect(),
            of_send,
            senders,
        }
    }

    /// The sender of `msg`, or `fallback` when no send names it.
    fn sender(&self, msg: MsgId, fallback: Option<PeerId>) -> Option<PeerId> {
        self.senders.get(&msg).copied().or(fallback)
    }
}

/// Short machine names for notes.
fn short(machine: Machine) -> &'static str {
    match machine {
        Machine::IceConnection => "ice",
        Machine::PeerConnection => "pc",
        Machine::IceGathering => "gathering",
        other => other.as_str(),
    }
}

fn participant(peer: PeerId) -> &'static str {
    match peer {
        PeerId::A => "A",
        PeerId::B => "B",
    }
}

/// `Note over A: text`, or over both peers for `None`.
fn note(out: &mut String, peer: Option<PeerId>, text: &str) {
    let over = peer.map_or("A,B", participant);
    let _ = writeln!(out, "    Note over {over}: {}", escape(text));
}

/// An arrow from `from` (A when unknown) to the other peer.
fn arrow_line(out: &mut String, from: Option<PeerId>, arrow: &str, text: &str) {
    let from = from.unwrap_or(PeerId::A);
    let _ = writeln!(
        out,
        "    {}{arrow}{}: {}",
        participant(from),
        participant(from.other()),
        escape(text)
    );
}

/// Replaces what Mermaid would read as syntax with its entity codes (`#59;` for `;`,
/// ...) and control characters with spaces.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            ';' | '#' | ':' | '<' | '>' | '%' | '{' | '}' | '"' => {
                let _ = write!(out, "#{};", u32::from(c));
            }
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::trace::text::fixtures::*;
    use crate::trace::*;

    #[test]
    fn starts_with_the_two_participants() {
        let m = send_before_open().render_mermaid();
        assert!(m.starts_with(
            "sequenceDiagram\n    participant A as A (offerer)\n    participant B as B (answerer)\n"
        ));
        assert!(Trace::new()
            .render_mermaid()
            .starts_with("sequenceDiagram\n"));
    }

    #[test]
    fn the_race_as_a_sequence() {
        let m = send_before_open().render_mermaid();
        let expect = [
            "    Note over A: ice new→checking @ 3ms",
            "    Note over A: ice checking→connected @ 12ms",
            "    A-xB: chat #35;0 raw (connecting) error#58; data channel is not open yet @ 5ms",
            "    rect rgb(255, 221, 221)\n    Note over A,B: !! no-send-on-non-open#58; \
             a sent #35;0 on chat while it was connecting @ 5ms\n    end",
            "    Note over A: chat #35;1 guarded queued (connecting) @ 5ms",
            "    Note over B: channel chat connecting→open @ 30ms",
            "    Note over B: ondatachannel chat @ 30ms",
            "    A->>B: chat #35;1 flushed @ 36ms → delivered @ 47ms",
            "    A->>B: chat #35;2 raw @ 40ms → delivered @ 51ms",
            "    Note over A,B: fault partition @ 1000ms",
            "    A-xB: chat #35;3 guarded @ 1500ms → dropped (path-failed) @ 9000ms",
            "    B-xA: chat #35;4 dropped (expired) @ 14500ms",
            "    A-xB: chat #35;5 guarded (closed) rejected#58; channel-closed @ 60000ms",
        ];
        for l in expect {
            assert!(m.contains(&format!("{l}\n")), "missing {l:?} in\n{m}");
        }
        // Deliveries drawn with their send are not drawn again.
        assert!(!m.contains("#35;1 delivered"));
        assert!(!m.contains("#35;3 dropped"));
        assert_eq!(m.matches("->>").count(), 2);
    }

    #[test]
    fn unsent_and_unmatched_messages_still_show() {
        let mut t = Trace::new();
        t.push(send(1, PeerId::B, 7, Via::Raw, "open", SendOutcome::Sent));
        t.push(deliver(2, PeerId::A, 8));
        let m = t.render_mermaid();
        assert!(m.contains("    B--)A: chat #35;7 raw @ 1ms → not delivered\n"));
        // A delivery without a send comes from the other peer.
        assert!(m.contains("    B->>A: chat #35;8 delivered @ 2ms\n"));
    }

    #[test]
    fn escaping_keeps_labels_from_breaking_the_syntax() {
        let mut t = Trace::new();
        t.push(violation(9, "fifo-delivery", "x; y # z: <b>\n%% w"));
        let m = t.render_mermaid();
        let line = m.lines().find(|l| l.contains("fifo")).unwrap();
        assert_eq!(
            line,
            "    Note over A,B: !! fifo-delivery#58; x#59; y #35; z#58; #60;b#62; #37;#37; w @ 9ms"
        );
        // Once the entity codes are taken out, none of the characters is left.
        let mut text = line.split_once(": ").unwrap().1.to_owned();
        for code in ["#59;", "#58;", "#60;", "#62;", "#35;", "#37;"] {
            text = text.replace(code, "");
        }
        assert!(
            !text.contains([';', ':', '#', '<', '>', '%'].as_slice()),
            "{text}"
        );
    }
}
