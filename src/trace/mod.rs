//! Traces: the one record every driver (model, simulator, checker, real stack) emits,
//! its JSON-lines form, and renderers for people.

mod diff;
mod event;
mod html;
mod jsonl;
mod mermaid;
mod text;

pub use diff::{diff, Fate, FateChange, TimingShift, TraceDiff};
pub use event::*;
pub use jsonl::TraceParseError;

use serde::{Deserialize, Serialize};

/// An ordered list of events, in time order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Trace {
    /// The events, in the order they happened.
    pub events: Vec<TraceEvent>,
}

impl Trace {
    /// An empty trace.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends one event.
    pub fn push(&mut self, event: TraceEvent) {
        self.events.push(event);
    }

    /// The violations recorded in this trace.
    pub fn violations(&self) -> impl Iterator<Item = &TraceEvent> {
        self.events
            .iter()
            .filter(|e| matches!(e.kind, EventKind::Violation { .. }))
    }

    /// The names of the invariants violated, sorted, each once.
    pub fn violated(&self) -> Vec<String> {
        let mut seen: Vec<String> = self
            .violations()
            .filter_map(|v| match &v.kind {
                EventKind::Violation { invariant, .. } => Some(invariant.clone()),
                _ => None,
            })
            .collect();
        seen.sort();
        seen.dedup();
        seen
    }

    /// True when no invariant was violated.
    pub fn is_clean(&self) -> bool {
        self.violations().next().is_none()
    }
}
