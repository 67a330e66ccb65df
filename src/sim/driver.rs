//! One peer's stack and application, driven by inputs from any engine (the turmoil host
//! or the direct event loop), so both engines play a scenario with the same code.

use super::app::{App, AppRequest};
use super::recorder::Recorder;
use crate::record;
use crate::stack::{self, Stack};
use crate::trace::{EventKind, Millis, PeerId, TraceEvent};
use std::cell::RefCell;
use std::rc::Rc;

/// What a peer wants sent after an input.
#[derive(Debug, Default)]
pub struct Effects {
    /// Datagrams for the other peer, in order.
    pub datagrams: Vec<Vec<u8>>,
    /// Session descriptions for the other peer (signaling, out of band).
    pub signals: Vec<String>,
}

impl Effects {
    /// Adds `later`'s datagrams and descriptions after these.
    pub fn append(&mut self, mut later: Effects) {
        self.datagrams.append(&mut later.datagrams);
        self.signals.append(&mut later.signals);
    }
}

/// A peer's stack and application.
pub struct PeerDriver {
    peer: PeerId,
    stack: Box<dyn Stack>,
    app: Rc<RefCell<dyn App>>,
}

impl PeerDriver {
    /// Drives `stack` and `app` as `peer`.
    pub fn new(peer: PeerId, stack: Box<dyn Stack>, app: Rc<RefCell<dyn App>>) -> Self {
        PeerDriver { peer, stack, app }
    }

    /// Time passed: fire due stack timers, then due application steps.
    pub fn wake(&mut self, now: Millis, rec: &mut Recorder) -> Effects {
        let mut fx = Effects::default();
        self.stack.handle_timeout(now);
        // What the timers changed is recorded before the application acts on it.
        self.drain(now, rec, &mut fx);
        let requests = self
            .app
            .borrow_mut()
            .handle_timeout(now, self.stack.as_mut(), rec);
        for request in requests {
            match request {
                AppRequest::Negotiate => match self.stack.create_description(now) {
                    Ok(sdp) => fx.signals.push(sdp),
                    Err(e) => self.error(now, "negotiate", e, rec),
                },
            }
        }
        self.drain(now, rec, &mut fx);
        fx
    }

    /// A datagram from the other peer.
    pub fn datagram(&mut self, now: Millis, datagram: &[u8], rec: &mut Recorder) -> Effects {
        self.stack.handle_datagram(now, datagram);
        self.wake(now, rec)
    }

    /// A description from the other peer; the answerer answers at once.
    pub fn signal(&mut self, now: Millis, sdp: &str, rec: &mut Recorder) -> Effects {
        let mut fx = Effects::default();
        if let Err(e) = self.stack.apply_remote_description(now, sdp) {
            self.error(now, "signaling", e, rec);
        } else if self.peer == PeerId::B {
            match self.stack.create_description(now) {
                Ok(answer) => fx.signals.push(answer),
                Err(e) => self.error(now, "signaling", e, rec),
            }
        }
        let more = self.wake(now, rec);
        fx.datagrams.extend(more.datagrams);
        fx.signals.extend(more.signals);
        fx
    }

    /// When this peer next needs a `wake`.
    pub fn poll_timeout(&self) -> Option<Millis> {
        [self.stack.poll_timeout(), self.app.borrow().poll_timeout()]
            .into_iter()
            .flatten()
            .min()
    }

    /// Moves everything the stack has to say: datagrams out, events into the record and
    /// to the application, until both are drained.
    fn drain(&mut self, now: Millis, rec: &mut Recorder, fx: &mut Effects) {
        let peer = self.peer;
        let mut events = false;
        stack::drain(
            self,
            |d| stack::poll_rounds(d.stack.as_mut(), &mut events),
            |_, datagram| fx.datagrams.push(datagram),
            |d, event| {
                rec.record(record::stack_event(now, peer, &event));
                d.app
                    .borrow_mut()
                    .handle_event(now, &event, d.stack.as_mut(), rec);
            },
        );
    }

    fn error(&self, now: Millis, action: &str, error: String, rec: &mut Recorder) {
        rec.record(TraceEvent::on(
            now,
            self.peer,
            EventKind::step(action, Some(error)),
        ));
    }
}
