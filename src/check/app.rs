//! The applications the checker runs on each peer.
//!
//! - [`AppKind::Raw`] calls the bare `send` whenever it likes on any channel it holds:
//!   the OpenAvatarChat pattern of lifecycle.md section 7. It must be caught.
//!
//! Every application holds a reference only to channels it knows: peer `a` to the ones
//! it created, peer `b` to the ones `ondatachannel` announced. It keeps the reference
//! after closing the channel or the peer connection (the bug of section 7), so later
//! sends are still possible.

use super::world::{index_of, label, msg_id, State, Stepper, NOW};
use crate::model::Input;
use crate::record;
use crate::stack::{AppCall, Callback, StackEvent};
use crate::trace::PeerId;

/// Size of every message the checker sends (any size under the maximum behaves alike).
pub const MSG_SIZE: usize = 5;

/// Which application runs on both peers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AppKind {
    /// The bare `send`, called whenever the application likes.
    Raw,
}

impl AppKind {
    /// The names `--app` takes.
    pub const NAMES: [&'static str; 1] = ["raw"];

    /// `raw`.
    pub fn as_str(self) -> &'static str {
        match self {
            AppKind::Raw => "raw",
        }
    }

    /// Parses a name of [`AppKind::NAMES`].
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "raw" => Some(AppKind::Raw),
            _ => None,
        }
    }
}

/// The guard's queue bound the monitor checks, if the application uses a guard.
pub fn guard_max_messages(kind: AppKind) -> Option<usize> {
    match kind {
        AppKind::Raw => None,
    }
}

/// What the application on one peer knows and has done.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PeerApp {
    kind: AppKind,
    channels: Vec<ChannelApp>,
    peer_closed: bool,
}

/// The application's view of one channel.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ChannelApp {
    known: bool,
    sends: u8,
    close_called: bool,
}

impl ChannelApp {
    /// The application holds a reference to the channel.
    pub fn known(&self) -> bool {
        self.known
    }

    /// Sends made on it so far.
    pub fn sends(&self) -> u8 {
        self.sends
    }

    /// The application called `close()` on it.
    pub fn close_called(&self) -> bool {
        self.close_called
    }
}

impl PeerApp {
    /// The application of `peer` with `channels` channels (known at once on `a`, which
    /// creates them).
    pub fn new(kind: AppKind, peer: PeerId, channels: u8) -> Self {
        PeerApp {
            kind,
            channels: (0..channels)
                .map(|_| ChannelApp {
                    known: peer == PeerId::A,
                    sends: 0,
                    close_called: false,
                })
                .collect(),
            peer_closed: false,
        }
    }

    /// The channels, by index.
    pub fn channels(&self) -> &[ChannelApp] {
        &self.channels
    }

    /// The application called `pc.close()`.
    pub fn peer_closed(&self) -> bool {
        self.peer_closed
    }

    /// Channels whose guard holds a message that may expire.
    pub fn expiring(&self) -> impl Iterator<Item = u8> + '_ {
        std::iter::empty()
    }
}

/// The application on `peer` sends its next message on `channel`.
pub(crate) fn send(step: &mut Stepper<'_, '_>, s: &mut State, peer: PeerId, channel: u8) {
    let (stack, app) = s.parts(peer);
    let Some(ch) = app.channels.get_mut(usize::from(channel)) else {
        return;
    };
    let msg = msg_id(peer, channel, ch.sends);
    ch.sends += 1;
    let label = label(channel);
    match app.kind {
        AppKind::Raw => {
            let state = stack.channel_state(&label);
            let result = stack.handle_input(
                NOW,
                Input::App(AppCall::Send {
                    channel: label.clone(),
                    msg,
                    size: MSG_SIZE,
                }),
            );
            let event = record::raw_send(step.t(), peer, &label, msg, state, &result);
            step.record(s, event);
        }
    }
}

/// The application on `peer` closes `channel`.
pub(crate) fn close_channel(_step: &mut Stepper<'_, '_>, s: &mut State, peer: PeerId, channel: u8) {
    let (stack, app) = s.parts(peer);
    if let Some(ch) = app.channels.get_mut(usize::from(channel)) {
        ch.close_called = true;
    }
    let call = AppCall::CloseChannel {
        channel: label(channel),
    };
    let _ = stack.handle_input(NOW, Input::App(call));
}

/// The application on `peer` closes its peer connection.
pub(crate) fn close_peer(_step: &mut Stepper<'_, '_>, s: &mut State, peer: PeerId) {
    let (stack, app) = s.parts(peer);
    app.peer_closed = true;
    let _ = stack.handle_input(NOW, Input::App(AppCall::ClosePeer));
}

/// A guard's held message expires.
pub(crate) fn expire(_step: &mut Stepper<'_, '_>, _s: &mut State, _peer: PeerId, _channel: u8) {}

/// The application sees an event of its stack (already recorded).
pub(crate) fn handle_event(
    _step: &mut Stepper<'_, '_>,
    s: &mut State,
    peer: PeerId,
    event: &StackEvent,
) {
    let (_, app) = s.parts(peer);
    if let StackEvent::Callback {
        channel,
        callback: Callback::DataChannel,
    } = event
    {
        if let Some(ch) = index_of(channel).and_then(|i| app.channels.get_mut(usize::from(i))) {
            ch.known = true;
        }
    }
}
