//! The `drive` seam's own promises: every call of a user's application is recorded (so
//! the monitor judges it), and a timer that does not move on cannot stall a run.

use dcsim::drive::{self, App, Calls};
use dcsim::sim::{Engine, RunOptions};
use dcsim::stack::{ErrorKind, StackEvent};
use dcsim::trace::{EventKind, Millis, PeerId, Via};
use std::cell::Cell;
use std::rc::Rc;

fn happy() -> dcsim::scenario::Scenario {
    dcsim::scenario::builtin::get("happy-path").expect("built-in scenario")
}

fn direct() -> RunOptions {
    RunOptions {
        engine: Engine::Direct,
        ..RunOptions::default()
    }
}

/// Sends once at start on a channel, and remembers what the call returned.
struct SendAtStart {
    peer: PeerId,
    channel: &'static str,
}

impl App for SendAtStart {
    fn start(&mut self, calls: &mut Calls<'_>) {
        if self.peer == PeerId::A {
            let refused = calls
                .send(self.channel, 4)
                .expect_err("nothing is open at 0");
            assert_eq!(refused.kind, ErrorKind::NotOpen, "{}", refused.text);
        }
    }
    fn on_event(&mut self, _: &StackEvent, _: &mut Calls<'_>) {}
}

#[test]
fn a_send_the_app_makes_is_recorded_and_judged() {
    let trace = drive::run(&happy(), &direct(), |peer| SendAtStart {
        peer,
        channel: "chat",
    })
    .expect("run")
    .trace;
    let sends: Vec<_> = trace
        .events
        .iter()
        .filter(|e| matches!(&e.kind, EventKind::Send { via: Via::Raw, .. }))
        .collect();
    assert_eq!(sends.len(), 1, "{}", trace.render_text());
    assert_eq!(trace.violated(), ["no-send-on-non-open"]);
}

/// Asks for its timer at 0 for ever; counts the firings of both peers.
struct Stuck {
    fired: Rc<Cell<u64>>,
}

impl App for Stuck {
    fn on_event(&mut self, _: &StackEvent, _: &mut Calls<'_>) {}
    fn next_timer(&self) -> Option<Millis> {
        Some(0)
    }
    fn on_timer(&mut self, _: &mut Calls<'_>) {
        self.fired.set(self.fired.get() + 1);
    }
}

#[test]
fn a_timer_that_does_not_move_fires_once_an_instant_and_the_run_ends() {
    let scenario = happy();
    let fired = Rc::new(Cell::new(0));
    let count = fired.clone();
    drive::run(&scenario, &direct(), move |_| Stuck {
        fired: count.clone(),
    })
    .expect("run");
    // Each peer once a millisecond, from 0 to the end of the run.
    let most = 2 * (scenario.duration_ms + 1);
    assert!(
        fired.get() >= most - 4 && fired.get() <= most,
        "{} firings",
        fired.get()
    );
}
