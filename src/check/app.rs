//! The applications the checker runs on each peer.
//!
//! - [`AppKind::Raw`] calls the bare `send` whenever it likes on any channel it holds:
//!   the OpenAvatarChat pattern (the checking-disconnected-failed built-in). It must be caught.
//! - [`AppKind::Guarded`] sends through one [`Guard`] per channel, driven exactly as the
//!   simulator drives it (`src/sim/guarded.rs`): the guard is fed every data-channel,
//!   ICE and peer-connection state change, its view of readyState is brought up to date
//!   before each send and before its releases are drained, released messages go to the
//!   stack and a refusal goes back to the guard. It must pass.
//! - [`AppKind::BrokenGuard`] is the guarded application with the guard's state check
//!   switched off (`GuardConfig::unsafe_skip_state_check`): the mutation the checkers
//!   must catch.
//!
//! A user's own application ([`crate::drive::App`]) runs in the same world as
//! [`crate::check::user::UserApp`]: both implement [`WorldApp`], the one interface the
//! world and its step use, so the world is generic over the application
//! ([`crate::check::world::World`]) and each application compiles to its own checker.
//!
//! Every application holds a reference only to channels it knows: peer `a` to the ones
//! it created, peer `b` to the ones `ondatachannel` announced. It keeps the reference
//! after closing the channel or the peer connection (the bug of section 7), so later
//! sends are still possible.

use super::step::Local;
use super::world::{index_of, label, msg_id, WorldConfig, NOW};
use crate::drive::guarded as glue;
use crate::guard::{Guard, GuardConfig, SizedMsg};
use crate::model::{Input, Peer};
use crate::record;
use crate::stack::{AppCall, AppResult, Callback, StackEvent, StateChange};
use crate::trace::{MsgId, PeerId, TraceEvent};
use std::fmt::Debug;
use std::hash::Hash;

mod sealed {
    /// Only this crate's applications run in the world (a user's goes through
    /// [`crate::check::user::UserApp`]).
    pub trait Sealed {}
}

/// An application the checker's world runs on each peer. It is plain data
/// (`Clone + Eq + Hash`): two histories that bring the peers and the applications to
/// equal values reach one state, which is what lets the explorer collapse them.
///
/// The world asks it what it may do (send, close, expire a held message, fire its timer)
/// and hands it each input through a [`Local`]: the peer's stack, the step's log. Implemented
/// by [`PeerApp`] (the built-in raw and guarded applications) and by
/// [`crate::check::user::UserApp`] (a user's [`crate::drive::App`]).
pub trait WorldApp: sealed::Sealed + Clone + Eq + Hash + Debug + Send + Sync + 'static {
    /// The label of channel `channel` (peer `a` creates them at the start, in index order).
    fn channel_label(&self, channel: u8) -> String;
    /// The application holds a reference to the channel.
    fn knows(&self, channel: u8) -> bool;
    /// The world may make the application send on the channel (`bound`: sends allowed
    /// per channel).
    fn may_send(&self, channel: u8, bound: u8) -> bool;
    /// The application called `close()` on the channel.
    fn close_called(&self, channel: u8) -> bool;
    /// The application called `pc.close()`.
    fn peer_closed(&self) -> bool;
    /// Calls `f` with each channel whose guard holds a message that may expire.
    fn for_each_expiring(&self, f: impl FnMut(u8));
    /// The application has a timer of its own armed ([`WorldApp::on_timer`] may run).
    fn timer_armed(&self) -> bool {
        false
    }
    /// The queue bound of its guards, for the monitor, if it sends through guards.
    fn guard_max_messages(&self) -> Option<usize>;
    /// It acts at the start, before any other action ([`WorldApp::start`]).
    fn wants_start(&self) -> bool {
        false
    }
    /// The world makes it send on `channel`.
    fn send(cx: &mut Local<'_, Self>, channel: u8);
    /// The world makes it close `channel`.
    fn close_channel(cx: &mut Local<'_, Self>, channel: u8);
    /// The world makes it close its peer connection.
    fn close_peer(cx: &mut Local<'_, Self>);
    /// The earliest message its guard of `channel` holds reaches its expiry.
    fn expire(cx: &mut Local<'_, Self>, channel: u8);
    /// Its own timer fires.
    fn on_timer(_cx: &mut Local<'_, Self>) {}
    /// The start of the world.
    fn start(_cx: &mut Local<'_, Self>) {}
    /// It sees an event of its stack (already logged).
    fn handle_event(cx: &mut Local<'_, Self>, event: &StackEvent);
}

impl sealed::Sealed for PeerApp {}
impl<U> sealed::Sealed for super::user::UserApp<U> {}

impl WorldApp for PeerApp {
    fn channel_label(&self, channel: u8) -> String {
        label(channel)
    }

    fn knows(&self, channel: u8) -> bool {
        self.channels
            .get(usize::from(channel))
            .is_some_and(ChannelApp::known)
    }

    fn may_send(&self, channel: u8, bound: u8) -> bool {
        self.channels
            .get(usize::from(channel))
            .is_some_and(|c| c.sends < bound)
    }

    fn close_called(&self, channel: u8) -> bool {
        self.channels
            .get(usize::from(channel))
            .is_some_and(ChannelApp::close_called)
    }

    fn peer_closed(&self) -> bool {
        self.peer_closed
    }

    fn for_each_expiring(&self, f: impl FnMut(u8)) {
        self.expiring().for_each(f);
    }

    fn guard_max_messages(&self) -> Option<usize> {
        self.guard_config.map(|c| c.max_queue_messages)
    }

    fn send(cx: &mut Local<'_, Self>, channel: u8) {
        send(cx, channel);
    }

    fn close_channel(cx: &mut Local<'_, Self>, channel: u8) {
        close_channel(cx, channel);
    }

    fn close_peer(cx: &mut Local<'_, Self>) {
        close_peer(cx);
    }

    fn expire(cx: &mut Local<'_, Self>, channel: u8) {
        expire(cx, channel);
    }

    fn handle_event(cx: &mut Local<'_, Self>, event: &StackEvent) {
        handle_event(cx, event);
    }
}

/// Size of every message the checker sends (any size under the maximum behaves alike).
pub const MSG_SIZE: usize = 5;

/// Which application runs on both peers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AppKind {
    /// The bare `send`, called whenever the application likes.
    Raw,
    /// Every send through the guard, with the guard's default configuration.
    Guarded,
    /// Through a guard whose state check is switched off (mutation testing).
    BrokenGuard,
}

impl AppKind {
    /// The names `--app` takes.
    pub const NAMES: [&'static str; 2] = ["raw", "guarded"];

    /// `raw`, `guarded` or `broken-guard`.
    pub fn as_str(self) -> &'static str {
        match self {
            AppKind::Raw => "raw",
            AppKind::Guarded => "guarded",
            AppKind::BrokenGuard => "broken-guard",
        }
    }

    /// Parses a name of [`AppKind::NAMES`] (`broken-guard` too, undocumented).
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "raw" => Some(AppKind::Raw),
            "guarded" => Some(AppKind::Guarded),
            "broken-guard" => Some(AppKind::BrokenGuard),
            _ => None,
        }
    }

    /// The guard configuration of this application, if it uses a guard: the guard's
    /// defaults (what an application should start from), or with the state check off.
    pub fn guard_config(self) -> Option<GuardConfig> {
        match self {
            AppKind::Raw => None,
            AppKind::Guarded => Some(GuardConfig::default()),
            AppKind::BrokenGuard => Some(GuardConfig {
                unsafe_skip_state_check: true,
                ..GuardConfig::default()
            }),
        }
    }
}

/// The guard's queue bound the monitor checks, if the application uses a guard.
pub fn guard_max_messages(kind: AppKind) -> Option<usize> {
    kind.guard_config().map(|c| c.max_queue_messages)
}

/// What the application on one peer knows and has done.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PeerApp {
    peer: PeerId,
    guard_config: Option<GuardConfig>,
    channels: Vec<ChannelApp>,
    peer_closed: bool,
}

/// The application's view of one channel.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ChannelApp {
    known: bool,
    sends: u8,
    close_called: bool,
    /// Made on first use, as the simulator makes it (first event or send).
    guard: Option<Guard<SizedMsg>>,
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

    /// Its guard, once made.
    pub fn guard(&self) -> Option<&Guard<SizedMsg>> {
        self.guard.as_ref()
    }
}

impl PeerApp {
    /// The application of `config.app` on `peer` in a world of `config`.
    pub fn for_world(config: &WorldConfig, peer: PeerId) -> Self {
        Self::new(config.app, peer, config.bounds.channels)
    }

    /// The application of `peer` with `channels` channels (known at once on `a`, which
    /// creates them).
    pub fn new(kind: AppKind, peer: PeerId, channels: u8) -> Self {
        PeerApp {
            peer,
            guard_config: kind.guard_config(),
            channels: (0..channels)
                .map(|_| ChannelApp {
                    known: peer == PeerId::A,
                    sends: 0,
                    close_called: false,
                    guard: None,
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
        self.channels
            .iter()
            .enumerate()
            .filter(|(_, c)| c.guard.as_ref().and_then(Guard::poll_timeout).is_some())
            .map(|(i, _)| i as u8)
    }

    fn guard(&mut self, channel: u8) -> Option<&mut Guard<SizedMsg>> {
        let config = self.guard_config?;
        let ch = self.channels.get_mut(usize::from(channel))?;
        Some(ch.guard.get_or_insert_with(|| Guard::new(config)))
    }
}

/// The application sends its next message on `channel`.
fn send(cx: &mut Local<'_, PeerApp>, channel: u8) {
    let peer = cx.id;
    let Some(ch) = cx.app.channels.get_mut(usize::from(channel)) else {
        return;
    };
    let msg = msg_id(peer, channel, ch.sends);
    ch.sends += 1;
    let label = label(channel);
    let ready = cx.peer.channel_state(&label);
    let stream = cx.peer.channel_stream(&label);
    let t = cx.t;
    let stack = &mut *cx.peer;
    let Some(guard) = cx.app.guard(channel) else {
        let result = transmit(stack, &label, msg);
        cx.record(record::raw_send(
            t, peer, &label, msg, ready, stream, &result,
        ));
        return;
    };
    let seen = glue::Seen {
        label: &label,
        ready,
        stream,
    };
    let event = glue::send(guard, NOW, seen, msg, MSG_SIZE, |m| {
        transmit(stack, &label, m.id)
    });
    cx.record(TraceEvent::on(t, peer, event));
    settle(cx);
}

/// The application closes `channel`.
fn close_channel(cx: &mut Local<'_, PeerApp>, channel: u8) {
    if let Some(ch) = cx.app.channels.get_mut(usize::from(channel)) {
        ch.close_called = true;
    }
    let channel = label(channel);
    cx.call("close_channel", AppCall::CloseChannel { channel });
}

/// The application closes its peer connection.
fn close_peer(cx: &mut Local<'_, PeerApp>) {
    cx.app.peer_closed = true;
    cx.call("close_peer", AppCall::ClosePeer);
}

/// The earliest held message of the guard of `channel` expires: the guard's clock jumps
/// to that message's deadline (the peers' clocks do not move).
fn expire(cx: &mut Local<'_, PeerApp>, channel: u8) {
    if let Some(guard) = cx.app.guard(channel) {
        if let Some(at) = guard.poll_timeout() {
            guard.handle_timeout(at);
        }
    }
    settle(cx);
}

/// The application sees an event of its stack (already recorded), as the simulator's
/// guard glue sees it: `ondatachannel` gives `b` its reference; data-channel, ICE and
/// peer-connection changes go to the guards, which then settle.
fn handle_event(cx: &mut Local<'_, PeerApp>, event: &StackEvent) {
    let app = &mut *cx.app;
    match event {
        StackEvent::Callback {
            channel,
            callback: Callback::DataChannel,
        } => {
            if let Some(ch) = index_of(channel).and_then(|i| app.channels.get_mut(usize::from(i))) {
                ch.known = true;
            }
            return;
        }
        StackEvent::State(StateChange::DataChannel(label, _, to)) => {
            match index_of(label).and_then(|i| app.guard(i)) {
                Some(guard) => guard.on_channel_state(NOW, *to),
                None => return,
            }
        }
        StackEvent::State(StateChange::IceConnection(_, to)) => {
            for guard in app.channels.iter_mut().filter_map(|c| c.guard.as_mut()) {
                guard.on_ice_state(NOW, *to);
            }
        }
        StackEvent::State(StateChange::PeerConnection(_, to)) => {
            for guard in app.channels.iter_mut().filter_map(|c| c.guard.as_mut()) {
                guard.on_peer_connection_state(NOW, *to);
            }
        }
        _ => return,
    }
    if app.guard_config.is_some() {
        settle(cx);
    }
}

/// Brings each guard's view of readyState up to date, then drains its releases (to the
/// stack) and drops (to the trace), channel by channel.
#[allow(clippy::while_let_loop)] // the guard is re-borrowed each round
fn settle(cx: &mut Local<'_, PeerApp>) {
    let (peer, t) = (cx.id, cx.t);
    for i in 0..cx.app.channels.len() {
        while let Some(guard) = cx.app.channels[i].guard.as_mut() {
            let label = label(i as u8);
            let stack = &mut *cx.peer;
            glue::sync_state(guard, NOW, stack.channel_state(&label));
            let Some(output) = guard.poll_output() else {
                break;
            };
            let seen = glue::Seen::of(&*stack, &label);
            let event =
                glue::carry_out(guard, NOW, seen, output, |m| transmit(stack, &label, m.id));
            cx.record(TraceEvent::on(t, peer, event));
        }
    }
}

fn transmit(stack: &mut Peer, label: &str, msg: MsgId) -> AppResult {
    stack.handle_input(
        NOW,
        Input::App(AppCall::Send {
            channel: label.to_string(),
            msg,
            size: MSG_SIZE,
        }),
    )
}
