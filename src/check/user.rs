//! A user's application ([`crate::drive::App`]) in the checker's world.
//!
//! The world plays the environment, as a scenario does in the simulator: peer `a`
//! creates the world's channels (in-band, ordered, under the labels the user names)
//! before anything else, `b` learns each through `ondatachannel`; connect, the channel
//! and peer-connection closes and the ICE restart happen at any moment within the
//! bounds, and every packet may be delivered in any order or never. The application
//! reacts to the stack's events through the same [`Calls`] it gets in the simulator,
//! and its own timer fires at any moment, up to [`Bounds::app_timers`] times in all.
//!
//! The world is untimed: [`Calls::now`] reads 0 throughout, and a timer the application
//! arms for later may fire at any moment (that is more behaviours than the timed
//! simulator has, never fewer). Guarded sends go through the one guard glue
//! ([`crate::sim::Guards`]), in its default configuration.
//!
//! [`Bounds::app_timers`]: super::world::Bounds::app_timers

use super::app::WorldApp;
use super::step::{Entry, Local};
use super::world::NOW;
use crate::drive::{App, Calls};
use crate::sim::{Guards, Log};
use crate::stack::{AppCall, Callback, StackEvent};
use crate::trace::{Millis, MsgId, PeerId, TraceEvent};
use std::fmt::Debug;
use std::hash::Hash;
use std::sync::Arc;

/// A user's application `U` on one peer, with what the world keeps beside it: which
/// channels it holds, which it closed, its guards and its next message id.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct UserApp<U> {
    peer: PeerId,
    labels: Arc<[String]>,
    known: Vec<bool>,
    close_called: Vec<bool>,
    peer_closed: bool,
    guards: Guards,
    next_msg: MsgId,
    user: U,
}

/// Message ids of peer `b` start here (those of `a` at 0), so the two never meet.
const B_MSG_BASE: MsgId = 1 << 20;

impl<U> UserApp<U> {
    /// `user` on `peer`, in a world whose channels are `labels` (in index order).
    pub fn new(peer: PeerId, labels: Arc<[String]>, user: U) -> Self {
        let n = labels.len();
        UserApp {
            peer,
            guards: Guards::for_channels(peer, labels.iter().map(String::as_str)),
            labels,
            known: vec![peer == PeerId::A; n],
            close_called: vec![false; n],
            peer_closed: false,
            next_msg: if peer == PeerId::A { 0 } else { B_MSG_BASE },
            user,
        }
    }

    /// The user's application.
    pub fn user(&self) -> &U {
        &self.user
    }

    fn index(&self, label: &str) -> Option<u8> {
        self.labels
            .iter()
            .position(|l| l == label)
            .and_then(|i| u8::try_from(i).ok())
    }

    fn label(&self, channel: u8) -> Option<String> {
        self.labels.get(usize::from(channel)).cloned()
    }
}

/// The step's log as [`Calls`] and the guards write it: every event at the step's time,
/// judged by the monitor; message ids from the application's own counter (part of the
/// state, so equal histories hand out equal ids).
struct StepLog<'a> {
    t: Millis,
    entries: &'a mut Vec<Entry>,
    next_msg: &'a mut MsgId,
}

impl Log for StepLog<'_> {
    fn record(&mut self, mut event: TraceEvent) {
        event.t_ms = self.t;
        self.entries.push((event, true));
    }

    fn next_msg_id(&mut self) -> MsgId {
        let id = *self.next_msg;
        *self.next_msg += 1;
        id
    }
}

/// Runs `act` with the application and its [`Calls`] (its guards, the step's log).
fn with_calls<U: App>(cx: &mut Local<'_, UserApp<U>>, act: impl FnOnce(&mut U, &mut Calls<'_>)) {
    let app = &mut *cx.app;
    let mut log = StepLog {
        t: cx.t,
        entries: &mut *cx.log,
        next_msg: &mut app.next_msg,
    };
    let mut calls = Calls::new(NOW, cx.id, &mut *cx.peer, &mut log, &mut app.guards);
    act(&mut app.user, &mut calls);
}

impl<U> WorldApp for UserApp<U>
where
    U: App + Clone + Eq + Hash + Debug + Send + Sync + 'static,
{
    fn channel_label(&self, channel: u8) -> String {
        self.label(channel)
            .unwrap_or_else(|| super::world::label(channel))
    }

    fn knows(&self, channel: u8) -> bool {
        self.known
            .get(usize::from(channel))
            .copied()
            .unwrap_or(false)
    }

    fn may_send(&self, _channel: u8, _bound: u8) -> bool {
        // The application decides when it sends, in its reactions and its timer.
        false
    }

    fn close_called(&self, channel: u8) -> bool {
        self.close_called
            .get(usize::from(channel))
            .copied()
            .unwrap_or(false)
    }

    fn peer_closed(&self) -> bool {
        self.peer_closed
    }

    fn for_each_expiring(&self, mut f: impl FnMut(u8)) {
        for label in self.guards.expiring() {
            if let Some(i) = self.index(label) {
                f(i);
            }
        }
    }

    fn timer_armed(&self) -> bool {
        self.user.next_timer().is_some()
    }

    fn guard_max_messages(&self) -> Option<usize> {
        Some(self.guards.config().max_queue_messages)
    }

    fn wants_start(&self) -> bool {
        true
    }

    fn send(_cx: &mut Local<'_, Self>, _channel: u8) {}

    fn close_channel(cx: &mut Local<'_, Self>, channel: u8) {
        let Some(label) = cx.app.label(channel) else {
            return;
        };
        if let Some(c) = cx.app.close_called.get_mut(usize::from(channel)) {
            *c = true;
        }
        cx.call("close_channel", AppCall::CloseChannel { channel: label });
    }

    fn close_peer(cx: &mut Local<'_, Self>) {
        cx.app.peer_closed = true;
        cx.call("close_peer", AppCall::ClosePeer);
    }

    fn expire(cx: &mut Local<'_, Self>, channel: u8) {
        let Some(label) = cx.app.label(channel) else {
            return;
        };
        with_calls(cx, |_, calls| calls.expire_guard(&label));
    }

    fn on_timer(cx: &mut Local<'_, Self>) {
        with_calls(cx, |user, calls| user.on_timer(calls));
    }

    fn start(cx: &mut Local<'_, Self>) {
        with_calls(cx, |user, calls| user.start(calls));
    }

    fn handle_event(cx: &mut Local<'_, Self>, event: &StackEvent) {
        if let StackEvent::Callback {
            channel,
            callback: Callback::DataChannel,
        } = event
        {
            if let Some(i) = cx.app.index(channel) {
                cx.app.known[usize::from(i)] = true;
            }
        }
        with_calls(cx, |user, calls| {
            calls.feed_guards(event);
            user.on_event(event, calls);
        });
    }
}
