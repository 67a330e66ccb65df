//! dcsim: deterministic state-machine simulation and fuzz harness for WebRTC data-channel
//! lifecycle races ("send on a channel that is not open").
//!
//! # Put your own application under dcsim
//!
//! Write the application once as a [`drive::App`]: it reacts to the stack's events and to
//! its own timer, and reaches the stack only through [`drive::Calls`], which records every
//! call and its result, so the monitor judges every send. Then, from your own `cargo test`:
//!
//! - [`drive::run`]: one run under a scenario and seed, on either engine
//!   ([`sim::Engine::Turmoil`] or [`sim::Engine::Direct`]);
//! - [`drive::explore`]: a sweep of seeds with random latency, loss and fault timing;
//! - [`drive::check`]: every history within bounds, exhaustively (the untimed model: any
//!   order of deliveries, closes, ICE failure and restart, your timer), with the shortest
//!   counterexample as a trace; the application must be plain data
//!   (`Clone + Eq + Hash + Debug`) so that equal histories merge;
//! - [`drive::fuzz`]: the body of your own `fuzz_target!` (panics with the trace when an
//!   invariant breaks), and [`drive::fuzz_trace`] to replay a corpus;
//! - a snapshot: `trace.render_text()` into `insta::assert_snapshot!`.
//!
//! The scenario supplies the world (connect, closes, ICE restarts, network faults); its
//! own `send` steps are left out, your application does the sending. The checker needs no
//! scenario: its world is every history within [`check::world::Bounds`].
//!
//! ```
//! use dcsim::drive::{self, App, Calls};
//! use dcsim::model::PeerConnectionState;
//! use dcsim::sim::{Engine, RunOptions};
//! use dcsim::stack::{StackEvent, StateChange};
//! use dcsim::trace::PeerId;
//!
//! /// Sends a greeting as soon as the peer connection is connecting: too early.
//! #[derive(Clone, Debug, PartialEq, Eq, Hash)]
//! struct Eager(PeerId);
//!
//! impl App for Eager {
//!     fn on_event(&mut self, event: &StackEvent, calls: &mut Calls<'_>) {
//!         if self.0 == PeerId::A
//!             && matches!(
//!                 event,
//!                 StackEvent::State(StateChange::PeerConnection(_, PeerConnectionState::Connecting))
//!             )
//!         {
//!             let _ = calls.send("chat", 5);
//!         }
//!     }
//! }
//!
//! let scenario = dcsim::scenario::builtin::get("checking-disconnected-failed").unwrap();
//! let options = RunOptions { engine: Engine::Direct, ..RunOptions::default() };
//! let report = drive::run(&scenario, &options, Eager).unwrap();
//! assert!(report.trace.violations().next().is_some(), "the early send is caught");
//! assert!(report.trace.render_text().contains("error: data channel is not open yet"));
//!
//! let swept = drive::explore(&scenario, 3, 0, &options, Eager).unwrap();
//! assert!(swept.violated.contains_key("no-send-on-non-open"));
//!
//! let fuzzed = drive::fuzz_trace(&[7, 0, 0, 0, 0, 0, 0, 0], &scenario, Eager).unwrap();
//! assert!(fuzzed.violations().next().is_some());
//!
//! let checked = drive::check(&drive::CheckOptions::default(), Eager).unwrap();
//! let shortest = checked.counterexample.expect("caught in every history that connects");
//! assert_eq!(shortest.actions.len(), 1); // connect, and the greeting is refused
//! assert_eq!(shortest.violation.invariant, "no-send-on-non-open");
//! ```
//!
//! `examples/open_avatar_chat` is a real application written this way, with its naive
//! and fixed versions; `docs/your-app.md` walks through it.
//!
//! # Or run your async webrtc code as it is
//!
//! Async code against the `webrtc` 0.21.1 crate runs on [`runtime`], a deterministic
//! `webrtc::runtime::Runtime` (one thread, a virtual clock, a simulated network with the
//! scenario's faults), as two real peer connections whose every state change, send and
//! delivery is recorded and judged: [`runtime::harness::AsyncRun`] for one run,
//! [`runtime::harness::sweep`] for a seed sweep (`docs/async-app.md`).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod bugs;
pub mod check;
pub mod cli;
pub mod conform;
pub mod drive;
pub mod explore;
#[cfg(feature = "arbitrary")]
pub mod fuzzing;
pub mod guard;
pub mod model;
pub mod monitor;
#[cfg(all(feature = "webrtc-adapter", feature = "rtc-stack"))]
pub mod probe;
pub mod record;
#[cfg(feature = "rtc-stack")]
pub mod rtc_stack;
#[cfg(all(feature = "webrtc-adapter", feature = "rtc-stack"))]
pub mod runtime;
pub mod scenario;
pub mod shrink;
pub mod sim;
pub mod stack;
pub mod trace;
pub mod vocab;
