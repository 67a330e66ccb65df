//! The application on a peer, behind the [`App`] trait: the scenario script is one
//! implementation; users can put their own application logic under the same simulator.

use super::recorder::Recorder;
use crate::record;
use crate::scenario::{Action, Payload, Scenario};
use crate::stack::{AppCall, AppResult, Stack, StackEvent};
use crate::trace::{EventKind, Millis, PeerId, TraceEvent, Via};
use std::collections::VecDeque;

/// What an application asks of the peer besides stack calls.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AppRequest {
    /// Run offer/answer now (connect, or after an ICE restart).
    Negotiate,
}

/// The application half of a simulated peer.
pub trait App {
    /// When the application next wants to act.
    fn poll_timeout(&self) -> Option<Millis>;
    /// Acts on everything due at `now`.
    fn handle_timeout(
        &mut self,
        now: Millis,
        stack: &mut dyn Stack,
        rec: &mut Recorder,
    ) -> Vec<AppRequest>;
    /// Sees what the stack reported (already recorded).
    fn handle_event(
        &mut self,
        now: Millis,
        event: &StackEvent,
        stack: &mut dyn Stack,
        rec: &mut Recorder,
    );
    /// The run ends.
    fn finish(&mut self, now: Millis, rec: &mut Recorder);
}

/// One occurrence of a scenario step for this peer.
#[derive(Clone, Debug)]
struct Due {
    at_ms: Millis,
    action: Action,
}

/// Plays the scenario's application steps of one peer.
pub struct ScriptApp {
    peer: PeerId,
    due: VecDeque<Due>,
    guards: super::guarded::Guards,
}

impl ScriptApp {
    /// The script of `peer` in `scenario` (channels created at start come first, at 0).
    pub fn new(peer: PeerId, scenario: &Scenario) -> Self {
        let mut due = VecDeque::new();
        for ch in &scenario.channels {
            if !ch.create_at_start {
                continue;
            }
            if peer == PeerId::A || ch.negotiated {
                due.push_back(Due {
                    at_ms: 0,
                    action: Action::CreateChannel {
                        peer,
                        channel: ch.label.clone(),
                    },
                });
            }
        }
        for s in scenario.timeline() {
            let mine = match &s.step.action {
                Action::Connect => peer == PeerId::A,
                a => a.peer() == Some(peer) && !matches!(a, Action::Crash { .. }),
            };
            if mine {
                due.push_back(Due {
                    at_ms: s.at_ms,
                    action: s.step.action.clone(),
                });
            }
        }
        ScriptApp {
            peer,
            due,
            guards: super::guarded::Guards::new(peer, scenario),
        }
    }
}

impl App for ScriptApp {
    fn poll_timeout(&self) -> Option<Millis> {
        let next_step = self.due.front().map(|d| d.at_ms);
        match (next_step, self.guards.poll_timeout()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn handle_timeout(
        &mut self,
        now: Millis,
        stack: &mut dyn Stack,
        rec: &mut Recorder,
    ) -> Vec<AppRequest> {
        let mut requests = Vec::new();
        self.guards.handle_timeout(now, stack, rec);
        while self.due.front().is_some_and(|d| d.at_ms <= now) {
            let Some(due) = self.due.pop_front() else {
                break;
            };
            let peer = self.peer;
            let step_event = |action: &Action, detail: Option<String>| {
                TraceEvent::on(now, peer, EventKind::step(action.name(), detail))
            };
            match &due.action {
                Action::Connect => {
                    rec.record(step_event(&due.action, None));
                    requests.push(AppRequest::Negotiate);
                }
                Action::Send {
                    channel,
                    via,
                    payload,
                    ..
                } => {
                    let size = match payload {
                        Payload::Text(t) => t.len(),
                        Payload::Size(n) => *n,
                    };
                    let msg = rec.next_msg_id();
                    match via {
                        Via::Raw => {
                            let state = stack.channel_state(channel);
                            let stream = stack.channel_stream(channel);
                            let result = stack.handle_app(
                                now,
                                AppCall::Send {
                                    channel: channel.clone(),
                                    msg,
                                    size,
                                },
                            );
                            rec.record(record::raw_send(
                                now, peer, channel, msg, state, stream, &result,
                            ));
                        }
                        Via::Guarded => self.guards.send(now, channel, msg, size, stack, rec),
                    }
                }
                Action::CreateChannel { channel, .. } => {
                    let spec = self.guards.channel_spec(channel);
                    let result = stack.handle_app(
                        now,
                        AppCall::CreateChannel {
                            label: channel.clone(),
                            negotiated: spec.negotiated,
                            ordered: spec.ordered,
                            reliability: spec.reliability,
                        },
                    );
                    if due.at_ms > 0 || result.is_err() {
                        rec.record(step_event(&due.action, Some(detail(channel, &result))));
                    }
                }
                Action::CloseChannel { channel, .. } => {
                    let result = stack.handle_app(
                        now,
                        AppCall::CloseChannel {
                            channel: channel.clone(),
                        },
                    );
                    rec.record(step_event(&due.action, Some(detail(channel, &result))));
                }
                Action::ClosePeer { .. } => {
                    rec.record(step_event(&due.action, None));
                    let result = stack.handle_app(now, AppCall::ClosePeer);
                    if let Err(e) = result {
                        rec.record(step_event(&due.action, Some(e.text)));
                    }
                }
                Action::IceRestart { .. } => {
                    rec.record(step_event(&due.action, None));
                    match stack.handle_app(now, AppCall::IceRestart) {
                        Ok(()) => requests.push(AppRequest::Negotiate),
                        Err(e) => rec.record(step_event(&due.action, Some(e.text))),
                    }
                }
                _ => {}
            }
        }
        requests
    }

    fn handle_event(
        &mut self,
        now: Millis,
        event: &StackEvent,
        stack: &mut dyn Stack,
        rec: &mut Recorder,
    ) {
        self.guards.handle_event(now, event, stack, rec);
    }

    fn finish(&mut self, now: Millis, rec: &mut Recorder) {
        self.guards.finish(now, rec);
    }
}

fn detail(channel: &str, result: &AppResult) -> String {
    match result {
        Ok(()) => channel.to_string(),
        Err(e) => format!("{channel}: {e}"),
    }
}
