//! Guarded sends of the scenario script: one guard per channel (placeholder until the
//! guard lands).

use super::recorder::Recorder;
use crate::scenario::Scenario;
use crate::stack::{Stack, StackEvent};
use crate::trace::{Millis, MsgId, PeerId};

/// The guards of one peer.
pub struct Guards {
    channels: Vec<(String, Option<u16>, bool)>,
}

impl Guards {
    /// Guards for the scenario's channels.
    pub fn new(_peer: PeerId, scenario: &Scenario) -> Self {
        Guards {
            channels: scenario
                .channels
                .iter()
                .map(|c| {
                    (
                        c.label.clone(),
                        if c.negotiated { c.id } else { None },
                        c.ordered,
                    )
                })
                .collect(),
        }
    }

    /// (negotiated id, ordered) of a channel.
    pub fn channel_spec(&self, label: &str) -> (Option<u16>, bool) {
        self.channels
            .iter()
            .find(|c| c.0 == label)
            .map_or((None, true), |c| (c.1, c.2))
    }

    /// Next guard timer.
    pub fn poll_timeout(&self) -> Option<Millis> {
        None
    }

    /// Fires guard timers.
    pub fn handle_timeout(&mut self, _now: Millis, _stack: &mut dyn Stack, _rec: &mut Recorder) {}

    /// A guarded send.
    pub fn send(
        &mut self,
        _now: Millis,
        _channel: &str,
        _msg: MsgId,
        _size: usize,
        _stack: &mut dyn Stack,
        _rec: &mut Recorder,
    ) {
    }

    /// Stack events.
    pub fn handle_event(
        &mut self,
        _now: Millis,
        _event: &StackEvent,
        _stack: &mut dyn Stack,
        _rec: &mut Recorder,
    ) {
    }

    /// End of run.
    pub fn finish(&mut self, _now: Millis, _rec: &mut Recorder) {}
}
