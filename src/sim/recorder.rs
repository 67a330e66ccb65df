//! The run's record: every event goes through one [`Recorder`], which writes the trace,
//! lets the [`Monitor`] judge it, and hands out message ids.

use crate::check::{Monitor, MonitorConfig};
use crate::trace::{EventKind, Millis, MsgId, PeerId, SendOutcome, Trace, TraceEvent};
use std::collections::{BTreeMap, BTreeSet};

/// Where the application layer writes what it did: the simulator's [`Recorder`], or the
/// checker's log of one step. The guard glue and [`crate::drive::Calls`] write through it,
/// so they run unchanged under every driver.
pub trait Log {
    /// Records one event (the driver judges it).
    fn record(&mut self, event: TraceEvent);
    /// A fresh message id.
    fn next_msg_id(&mut self) -> MsgId;
}

impl Log for Recorder {
    fn record(&mut self, event: TraceEvent) {
        Recorder::record(self, event);
    }

    fn next_msg_id(&mut self) -> MsgId {
        Recorder::next_msg_id(self)
    }
}

/// Trace, monitor and message ids of one run.
#[derive(Debug)]
pub struct Recorder {
    trace: Trace,
    monitor: Monitor,
    next_msg: MsgId,
    /// Messages handed to a transport: id -> (sender, channel).
    handed: BTreeMap<MsgId, (PeerId, String)>,
    /// Messages with a known end: delivered or dropped.
    ended: BTreeSet<MsgId>,
}

impl Recorder {
    /// An empty record.
    pub fn new(config: MonitorConfig) -> Self {
        Recorder {
            trace: Trace::new(),
            monitor: Monitor::new(config),
            next_msg: 0,
            handed: BTreeMap::new(),
            ended: BTreeSet::new(),
        }
    }

    /// The trace so far.
    pub fn trace(&self) -> &Trace {
        &self.trace
    }

    /// A fresh message id.
    pub fn next_msg_id(&mut self) -> MsgId {
        let id = self.next_msg;
        self.next_msg += 1;
        id
    }

    /// Records one event and whatever it violates.
    pub fn record(&mut self, event: TraceEvent) {
        match &event.kind {
            EventKind::Send {
                channel,
                msg,
                outcome: SendOutcome::Sent,
                ..
            } => {
                if let Some(peer) = event.peer {
                    self.handed.insert(*msg, (peer, channel.clone()));
                }
            }
            EventKind::Deliver { msg, .. } | EventKind::Drop { msg, .. } => {
                self.ended.insert(*msg);
            }
            _ => {}
        }
        let violations = self.monitor.observe(&event);
        self.trace.push(event);
        for v in violations {
            self.trace.push(v);
        }
    }

    /// Ends the run at `t_ms`: messages handed to a transport and never delivered are
    /// reported as `undelivered` drops (the silent losses of the raw API), then the
    /// monitor's final judgement.
    pub fn finish(mut self, t_ms: Millis) -> Trace {
        let lost: Vec<(MsgId, PeerId, String)> = self
            .handed
            .iter()
            .filter(|(m, _)| !self.ended.contains(m))
            .map(|(m, (p, c))| (*m, *p, c.clone()))
            .collect();
        for (msg, peer, channel) in lost {
            self.trace.push(TraceEvent::on(
                t_ms,
                peer,
                EventKind::Drop {
                    channel,
                    msg,
                    reason: "undelivered".into(),
                },
            ));
        }
        for v in self.monitor.finish(t_ms) {
            self.trace.push(v);
        }
        self.trace
    }
}
