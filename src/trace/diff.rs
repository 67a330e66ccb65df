//! Where two traces part, and how they differ: for comparing two runs (two seeds, two
//! profiles, the model against the real stack).
//!
//! [`diff`] finds the first index where the event lists differ and keeps a little
//! context around it. It then matches the events of the two traces ignoring time (the
//! k-th occurrence of an event in one trace matches the k-th occurrence of the same event
//! in the other), which sorts every difference into one of three kinds:
//!
//! - events present in only one trace (state changes among them are counted apart);
//! - message fates: a message delivered in one run and dropped, errored or rejected in
//!   the other (by message id);
//! - timing only: the same event at a different `t_ms` (the largest shift is reported).

use super::text::{describe, line};
use super::{EventKind, Millis, MsgId, SendOutcome, Trace, TraceEvent};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::fmt::{self, Write as _};

/// Events of context kept on each side of the first divergence.
const CONTEXT: usize = 3;

/// How two traces differ; see [`diff`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TraceDiff {
    /// Index of the first event that differs (or where the shorter trace ends); `None`
    /// when the traces are identical.
    pub first_divergence: Option<usize>,
    /// Up to three events both traces share just before the divergence.
    pub before: Vec<TraceEvent>,
    /// The first differing event of trace `a` and up to three events after it.
    pub after_a: Vec<TraceEvent>,
    /// The first differing event of trace `b` and up to three events after it.
    pub after_b: Vec<TraceEvent>,
    /// Events of `a` with no counterpart in `b` (ignoring time), in order.
    pub only_in_a: Vec<TraceEvent>,
    /// Events of `b` with no counterpart in `a` (ignoring time), in order.
    pub only_in_b: Vec<TraceEvent>,
    /// Messages whose fate differs, by message id.
    pub fates: Vec<FateChange>,
    /// Events found in both traces at different times, in the order of trace `a`.
    pub timing: Vec<TimingShift>,
}

/// What finally became of a message, as far as a trace tells.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Fate {
    /// Reached the remote application.
    Delivered,
    /// Dropped, with the reason.
    Dropped(String),
    /// The raw send returned an error, with its text.
    Errored(String),
    /// The guard refused it, with the reason.
    Rejected(String),
    /// Held by the guard when the trace ends.
    Queued,
    /// Handed to the transport, neither delivered nor dropped when the trace ends.
    InFlight,
}

impl fmt::Display for Fate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fate::Delivered => f.write_str("delivered"),
            Fate::Dropped(why) => write!(f, "dropped ({why})"),
            Fate::Errored(why) => write!(f, "error ({why})"),
            Fate::Rejected(why) => write!(f, "rejected ({why})"),
            Fate::Queued => f.write_str("still queued"),
            Fate::InFlight => f.write_str("in flight"),
        }
    }
}

/// One message whose fate differs between the two traces.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FateChange {
    /// The message id.
    pub msg: MsgId,
    /// Its fate in trace `a` (`None`: the message does not appear).
    pub a: Option<Fate>,
    /// Its fate in trace `b` (`None`: the message does not appear).
    pub b: Option<Fate>,
}

/// The same event at two different times.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimingShift {
    /// The event as it appears in trace `a`.
    pub event: TraceEvent,
    /// Its time in trace `a`.
    pub t_a: Millis,
    /// Its time in trace `b`.
    pub t_b: Millis,
}

impl TimingShift {
    /// How far the event moved, in milliseconds.
    pub fn shift(&self) -> Millis {
        self.t_a.abs_diff(self.t_b)
    }
}

/// Compares two traces: where they first part, and a summary of what differs.
pub fn diff(a: &Trace, b: &Trace) -> TraceDiff {
    let (ea, eb) = (&a.events, &b.events);
    let common = ea.iter().zip(eb).take_while(|(x, y)| x == y).count();
    if common == ea.len() && common == eb.len() {
        return TraceDiff::default();
    }
    let tail = |events: &[TraceEvent]| -> Vec<TraceEvent> {
        events
            .iter()
            .skip(common)
            .take(CONTEXT + 1)
            .cloned()
            .collect()
    };
    let mut d = TraceDiff {
        first_divergence: Some(common),
        before: ea[common.saturating_sub(CONTEXT)..common].to_vec(),
        after_a: tail(ea),
        after_b: tail(eb),
        ..TraceDiff::default()
    };

    // Match events ignoring time: each event of `a` takes the earliest unmatched event
    // of `b` that is equal apart from `t_ms`.
    let untimed = |e: &TraceEvent| (e.peer, e.kind.clone());
    let mut in_b: HashMap<_, VecDeque<usize>> = HashMap::new();
    for (i, e) in eb.iter().enumerate() {
        in_b.entry(untimed(e)).or_default().push_back(i);
    }
    let mut matched_b = vec![false; eb.len()];
    for e in ea {
        match in_b.get_mut(&untimed(e)).and_then(VecDeque::pop_front) {
            Some(j) => {
                matched_b[j] = true;
                if eb[j].t_ms != e.t_ms {
                    d.timing.push(TimingShift {
                        event: e.clone(),
                        t_a: e.t_ms,
                        t_b: eb[j].t_ms,
                    });
                }
            }
            None => d.only_in_a.push(e.clone()),
        }
    }
    d.only_in_b = eb
        .iter()
        .zip(&matched_b)
        .filter(|(_, m)| !**m)
        .map(|(e, _)| e.clone())
        .collect();

    let (fa, fb) = (a.fates(), b.fates());
    let ids: BTreeSet<MsgId> = fa.keys().chain(fb.keys()).copied().collect();
    d.fates = ids
        .into_iter()
        .filter(|id| fa.get(id) != fb.get(id))
        .map(|msg| FateChange {
            msg,
            a: fa.get(&msg).cloned(),
            b: fb.get(&msg).cloned(),
        })
        .collect();
    d
}

impl Trace {
    /// Each message handed to the transport (a `sent` send, or a flush) with the delivery
    /// or drop that ends it, as event indices: the first delivery or drop of the message
    /// after the send that no earlier send has claimed. Sends with no such event are
    /// absent.
    pub(crate) fn flights(&self) -> BTreeMap<usize, usize> {
        let mut ends: HashMap<MsgId, VecDeque<usize>> = HashMap::new();
        for (i, e) in self.events.iter().enumerate() {
            if let EventKind::Deliver { msg, .. } | EventKind::Drop { msg, .. } = &e.kind {
                ends.entry(*msg).or_default().push_back(i);
            }
        }
        let mut flights = BTreeMap::new();
        for (i, e) in self.events.iter().enumerate() {
            let EventKind::Send {
                msg,
                outcome: SendOutcome::Sent,
                ..
            } = &e.kind
            else {
                continue;
            };
            let Some(queue) = ends.get_mut(msg) else {
                continue;
            };
            // Ends before this send belong to an earlier send (or to none).
            while queue.front().is_some_and(|&j| j < i) {
                queue.pop_front();
            }
            if let Some(j) = queue.pop_front() {
                flights.insert(i, j);
            }
        }
        flights
    }

    /// The final fate of every message the trace mentions, by id: the last send,
    /// delivery or drop of the message decides.
    pub fn fates(&self) -> BTreeMap<MsgId, Fate> {
        let mut fates = BTreeMap::new();
        for event in &self.events {
            let (msg, fate) = match &event.kind {
                EventKind::Send {
                    msg,
                    outcome,
                    error,
                    reason,
                    ..
                } => {
                    let why = || error.clone().or(reason.clone()).unwrap_or_default();
                    let fate = match outcome {
                        SendOutcome::Sent => Fate::InFlight,
                        SendOutcome::Queued => Fate::Queued,
                        SendOutcome::Error => Fate::Errored(why()),
                        SendOutcome::Rejected => Fate::Rejected(why()),
                    };
                    (*msg, fate)
                }
                EventKind::Deliver { msg, .. } => (*msg, Fate::Delivered),
                EventKind::Drop { msg, reason, .. } => (*msg, Fate::Dropped(reason.clone())),
                _ => continue,
            };
            fates.insert(msg, fate);
        }
        fates
    }
}

fn is_state(e: &TraceEvent) -> bool {
    matches!(e.kind, EventKind::State { .. })
}

impl TraceDiff {
    /// True when the traces are identical.
    pub fn is_identical(&self) -> bool {
        self.first_divergence.is_none()
    }

    /// State changes present in only one trace: (only in `a`, only in `b`).
    pub fn state_changes(&self) -> (usize, usize) {
        let count = |v: &[TraceEvent]| v.iter().filter(|e| is_state(e)).count();
        (count(&self.only_in_a), count(&self.only_in_b))
    }

    /// The event that moved the most, if any moved.
    pub fn largest_shift(&self) -> Option<&TimingShift> {
        // Ties go to the earliest event, so the choice is stable.
        self.timing.iter().rev().max_by_key(|s| s.shift())
    }

    /// Renders the divergence with context (in the text format) and the summary.
    pub fn render(&self) -> String {
        let Some(at) = self.first_divergence else {
            return "traces are identical\n".to_owned();
        };
        let mut out = String::new();
        let first_t = |v: &[TraceEvent]| {
            v.first()
                .map_or_else(|| "ends".to_owned(), |e| format!("t={} ms", e.t_ms))
        };
        let _ = writeln!(
            out,
            "traces part at event {at} (a: {}, b: {})",
            first_t(&self.after_a),
            first_t(&self.after_b)
        );
        if !self.before.is_empty() {
            let _ = writeln!(out, "  both:");
        }
        for e in &self.before {
            let _ = writeln!(out, "    {}", line(e));
        }
        for (name, events) in [("a", &self.after_a), ("b", &self.after_b)] {
            let _ = writeln!(out, "  {name}:");
            if events.is_empty() {
                let _ = writeln!(out, "  > (trace ends)");
            }
            for (i, e) in events.iter().enumerate() {
                let mark = if i == 0 { ">" } else { " " };
                let _ = writeln!(out, "  {mark} {}", line(e));
            }
        }

        let _ = writeln!(out, "-- differences");
        let (sa, sb) = self.state_changes();
        let _ = writeln!(out, "state changes  {} only in a, {} only in b", sa, sb);
        let other = |v: &[TraceEvent]| v.iter().filter(|e| !is_state(e)).count();
        let _ = writeln!(
            out,
            "other events   {} only in a, {} only in b",
            other(&self.only_in_a),
            other(&self.only_in_b)
        );
        for (name, events) in [("a", &self.only_in_a), ("b", &self.only_in_b)] {
            for e in events.iter().filter(|e| is_state(e)) {
                let _ = writeln!(out, "  only in {name}: {}", line(e).trim_start());
            }
        }
        let _ = writeln!(out, "message fates  {} differ", self.fates.len());
        let show = |f: &Option<Fate>| f.as_ref().map_or("absent".to_owned(), Fate::to_string);
        for f in &self.fates {
            let _ = writeln!(out, "  #{}: a {}, b {}", f.msg, show(&f.a), show(&f.b));
        }
        let _ = write!(out, "timing only    {} events moved", self.timing.len());
        match self.largest_shift() {
            Some(s) => {
                let _ = writeln!(
                    out,
                    "; largest {} ms: {} ({} ms in a, {} ms in b)",
                    s.shift(),
                    describe(&s.event),
                    s.t_a,
                    s.t_b
                );
            }
            None => out.push('\n'),
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::text::fixtures::*;
    use crate::trace::*;

    fn race() -> Trace {
        send_before_open()
    }

    fn position(trace: &Trace, pred: impl Fn(&TraceEvent) -> bool) -> usize {
        trace.events.iter().position(pred).unwrap()
    }

    #[test]
    fn identical_traces_do_not_diverge() {
        let d = diff(&race(), &race());
        assert_eq!(d.first_divergence, None);
        assert!(d.is_identical());
        assert!(d.only_in_a.is_empty() && d.fates.is_empty() && d.timing.is_empty());
        assert_eq!(d.render(), "traces are identical\n");
        assert!(diff(&Trace::new(), &Trace::new()).is_identical());
    }

    #[test]
    fn one_state_differs() {
        let a = race();
        let mut b = race();
        // In b, ICE on a goes from disconnected back to connected instead of failed.
        let i = position(&b, |e| {
            e.t_ms == 32000
                && matches!(
                    &e.kind,
                    EventKind::State {
                        machine: Machine::IceConnection,
                        ..
                    }
                )
        });
        if let EventKind::State { to, .. } = &mut b.events[i].kind {
            *to = "connected".into();
        }
        let d = diff(&a, &b);
        assert_eq!(d.first_divergence, Some(i));
        assert_eq!(d.state_changes(), (1, 1));
        assert!(d.fates.is_empty());
        assert!(d.timing.is_empty());
        assert_eq!(d.before.len(), CONTEXT);
        assert_eq!(d.after_a.len(), CONTEXT + 1);
        let text = d.render();
        assert!(text.contains(&format!(
            "traces part at event {i} (a: t=32000 ms, b: t=32000 ms)"
        )));
        assert!(text.contains("  >  32000 ms  a | ice_connection  disconnected -> failed\n"));
        assert!(text.contains("  >  32000 ms  a | ice_connection  disconnected -> connected\n"));
        assert!(text.contains("  both:\n      9000 ms  a | drop[chat] #3: path-failed\n"));
        assert!(text.contains("state changes  1 only in a, 1 only in b\n"));
        assert!(
            text.contains("  only in b: 32000 ms  a | ice_connection  disconnected -> connected\n")
        );
        assert!(text.contains("message fates  0 differ\n"));
        assert!(text.contains("timing only    0 events moved\n"));
    }

    #[test]
    fn one_message_fate_differs() {
        let a = race();
        let mut b = race();
        // In b, message #2 is lost with the path instead of delivered.
        let i = position(&b, |e| matches!(e.kind, EventKind::Deliver { msg: 2, .. }));
        b.events[i] = drop(51, PeerId::A, 2, "path-failed");
        let d = diff(&a, &b);
        assert_eq!(d.first_divergence, Some(i));
        assert_eq!(d.state_changes(), (0, 0));
        assert!(d.timing.is_empty());
        assert_eq!(
            d.fates,
            [FateChange {
                msg: 2,
                a: Some(Fate::Delivered),
                b: Some(Fate::Dropped("path-failed".into())),
            }]
        );
        let text = d.render();
        assert!(
            text.contains("message fates  1 differ\n  #2: a delivered, b dropped (path-failed)\n")
        );
        assert!(text.contains("other events   1 only in a, 1 only in b\n"));
    }

    #[test]
    fn one_timing_differs() {
        let a = race();
        let mut b = race();
        // In b, message #2 arrives 15 ms later (still before the next event).
        let i = position(&b, |e| matches!(e.kind, EventKind::Deliver { msg: 2, .. }));
        b.events[i].t_ms += 15;
        let d = diff(&a, &b);
        assert_eq!(d.first_divergence, Some(i));
        assert_eq!(d.state_changes(), (0, 0));
        assert!(d.fates.is_empty());
        assert!(d.only_in_a.is_empty() && d.only_in_b.is_empty());
        assert_eq!(d.timing.len(), 1);
        let s = d.largest_shift().unwrap();
        assert_eq!((s.t_a, s.t_b, s.shift()), (51, 66, 15));
        assert!(d.render().contains(
            "timing only    1 events moved; largest 15 ms: deliver[chat] #2 (51 ms in a, 66 ms in b)\n"
        ));
    }

    #[test]
    fn a_shorter_trace_diverges_where_it_ends() {
        let a = race();
        let mut b = race();
        b.events.truncate(10);
        let d = diff(&a, &b);
        assert_eq!(d.first_divergence, Some(10));
        assert!(d.after_b.is_empty());
        assert!(d.only_in_b.is_empty());
        assert_eq!(d.only_in_a.len(), a.events.len() - 10);
        let text = d.render();
        assert!(text.contains("(a: t=5 ms, b: ends)"));
        assert!(text.contains("  b:\n  > (trace ends)\n"));
        // Messages that b never got to are absent there.
        assert!(text.contains("  #5: a rejected (channel-closed), b absent\n"));
    }

    #[test]
    fn the_largest_of_several_shifts_is_reported() {
        let a = race();
        let mut b = race();
        for e in b.events.iter_mut().filter(|e| e.t_ms >= 32000) {
            e.t_ms += if e.t_ms == 60000 { 700 } else { 40 };
        }
        let d = diff(&a, &b);
        assert_eq!(d.timing.len(), 7);
        let s = d.largest_shift().unwrap();
        assert_eq!(s.shift(), 700);
        assert_eq!(describe(&s.event), "data_channel[chat]  open -> closed");
    }
}
