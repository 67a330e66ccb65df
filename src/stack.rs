//! The `Stack` trait: one peer's protocol stack as the simulator sees it.
//!
//! Implemented by the model peer ([`crate::model::Peer`]) and by the real `rtc` 0.21.1
//! peer connection, so that both run under the same simulator, faults and application.
//! Sans-IO in the quinn-proto / str0m style: the caller feeds time, datagrams and
//! application calls in, and drains datagrams and events out.
//!
//! The run loop, written once:
//!
//! ```text
//! loop {
//!     while let Some(d) = stack.poll_transmit() { send d to the other peer }
//!     while let Some(e) = stack.poll_event()    { record e, tell the app }
//!     wait until the earliest of: a datagram arrives (handle_datagram),
//!         stack.poll_timeout() (handle_timeout), the next app step (handle_app)
//! }
//! ```

pub use crate::vocab::calls::*;
use crate::vocab::DataChannelState;
use crate::vocab::Millis;

/// One peer's protocol stack, driven with virtual time (milliseconds since the run began).
pub trait Stack {
    /// Creates the local description (offer on `a`, answer on `b` after the offer).
    fn create_description(&mut self, now: Millis) -> Result<String, String>;
    /// Applies the remote description.
    fn apply_remote_description(&mut self, now: Millis, sdp: &str) -> Result<(), String>;
    /// An application call; returns what the real API would return.
    fn handle_app(&mut self, now: Millis, call: AppCall) -> AppResult;
    /// A datagram from the other peer.
    fn handle_datagram(&mut self, now: Millis, datagram: &[u8]);
    /// Time has advanced to `now` (fires every timer due by then).
    fn handle_timeout(&mut self, now: Millis);
    /// The next datagram to send to the other peer.
    fn poll_transmit(&mut self) -> Option<Vec<u8>>;
    /// The next event for the application.
    fn poll_event(&mut self) -> Option<StackEvent>;
    /// When `handle_timeout` must next be called; `None` when nothing is armed.
    fn poll_timeout(&self) -> Option<Millis>;
    /// The channel's readyState as the application would read it now.
    fn channel_state(&self, label: &str) -> Option<DataChannelState>;
    /// The SCTP stream id of the channel labelled `label`, once it has one (W3C's
    /// `RTCDataChannel.id`): what the monitor pairs a send with its delivery by.
    fn channel_stream(&self, label: &str) -> Option<u16>;
}

/// One thing a stack puts out, in the order it put it out: a datagram for the other peer
/// or an event for the application.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StackOutput<T> {
    /// Send this datagram (`T`: bytes, or the model's typed packet).
    Transmit(T),
    /// Tell the application (and the record).
    Event(StackEvent),
}

/// The one output drain every driver uses (the simulator's engines, the checker's step,
/// the fuzz harness, the model pair): takes what `poll` gives until the stack is quiet,
/// hands each datagram to `transmit` and each event to `event`. `event` records it and
/// tells the application, which may call the stack and so make more output: the same
/// loop drains that too. `cx` is whatever holds the stack and the application.
pub fn drain<C: ?Sized, T>(
    cx: &mut C,
    mut poll: impl FnMut(&mut C) -> Option<StackOutput<T>>,
    mut transmit: impl FnMut(&mut C, T),
    mut event: impl FnMut(&mut C, StackEvent),
) {
    while let Some(output) = poll(cx) {
        match output {
            StackOutput::Transmit(datagram) => transmit(cx, datagram),
            StackOutput::Event(e) => event(cx, e),
        }
    }
}

/// The next output of a [`Stack`], in rounds: every datagram it has, then every event
/// (whose handlers may queue more datagrams), then the next round, until a round finds
/// nothing. `events` keeps which half of the round the drain is in (start it `false`).
pub fn poll_rounds(stack: &mut dyn Stack, events: &mut bool) -> Option<StackOutput<Vec<u8>>> {
    if !*events {
        if let Some(datagram) = stack.poll_transmit() {
            return Some(StackOutput::Transmit(datagram));
        }
        *events = true;
    }
    if let Some(event) = stack.poll_event() {
        return Some(StackOutput::Event(event));
    }
    *events = false;
    stack.poll_transmit().map(StackOutput::Transmit)
}
