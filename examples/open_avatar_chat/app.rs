//! The OpenAvatarChat data-channel flows as a dcsim [`App`]: the server peer (`a`) sends
//! the chat history as soon as the peer connection reports `connecting`, a status message
//! on every ICE connection state change, and a heartbeat every second. `Naive` sends like
//! the original (the bare `send`, whatever the channel's state); `Fixed` sends the same
//! messages through the guard.

use dcsim::drive::{App, Calls};
use dcsim::model::PeerConnectionState;
use dcsim::stack::{StackEvent, StateChange};
use dcsim::trace::{Millis, PeerId};

/// The channel the app talks on (the built-in scenarios' `chat`).
pub const CHANNEL: &str = "chat";
/// Messages of the chat history sent on `connecting`.
pub const HISTORY: usize = 3;
/// Heartbeat period.
pub const HEARTBEAT_MS: Millis = 1000;

/// How the app sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Sending {
    /// The bare send, as the original app.
    Naive,
    /// Through the guard.
    Fixed,
}

/// The avatar-chat server on peer `a`; peer `b` (the browser) only listens. Plain data
/// (`Clone + Eq + Hash`), so the exhaustive checker can keep it in its states.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AvatarChat {
    sending: Sending,
    active: bool,
    next_heartbeat: Option<Millis>,
}

impl AvatarChat {
    /// The app of `peer`.
    pub fn new(peer: PeerId, sending: Sending) -> Self {
        let active = peer == PeerId::A;
        AvatarChat {
            sending,
            active,
            next_heartbeat: active.then_some(HEARTBEAT_MS),
        }
    }

    fn send(&self, calls: &mut Calls<'_>, size: usize) {
        match self.sending {
            // The original ignores the error, as a `try: channel.send(...)` would.
            Sending::Naive => {
                let _ = calls.send(CHANNEL, size);
            }
            Sending::Fixed => calls.send_guarded(CHANNEL, size),
        }
    }
}

impl App for AvatarChat {
    fn on_event(&mut self, event: &StackEvent, calls: &mut Calls<'_>) {
        if !self.active {
            return;
        }
        match event {
            StackEvent::State(StateChange::PeerConnection(_, PeerConnectionState::Connecting)) => {
                for _ in 0..HISTORY {
                    self.send(calls, 64);
                }
            }
            StackEvent::State(StateChange::IceConnection(_, _)) => self.send(calls, 16),
            _ => {}
        }
    }

    fn next_timer(&self) -> Option<Millis> {
        self.next_heartbeat
    }

    fn on_timer(&mut self, calls: &mut Calls<'_>) {
        self.send(calls, 8);
        self.next_heartbeat = Some(calls.now() + HEARTBEAT_MS);
    }
}
