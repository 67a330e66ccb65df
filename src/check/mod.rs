//! Checking: invariants on every step of every driver, and the exhaustive explorer of the
//! untimed model.
//!
//! - [`monitor`]: the invariants, judged on trace events by every driver.
//! - [`world`]: the untimed world (two model peers, a multiset network, the application,
//!   the monitor) and its bounds; [`app`] the raw and guarded applications in it;
//!   [`step`] how one step is computed (with a cache of component transitions);
//!   [`part`] the shared, fingerprinted pieces of a state.
//! - [`explorer`]: breadth-first exhaustive exploration, shortest counterexamples, and
//!   the sleep sets that skip successors it would only meet again (`sleep`);
//!   [`run`] the `dcsim check` command around it; [`stateright_model`] the same world as
//!   a `stateright::Model`.
//!
//! ```
//! use dcsim::check::app::AppKind;
//! use dcsim::check::explorer::{explore, ExploreOptions};
//! use dcsim::check::world::{World, WorldConfig};
//! use dcsim::model::Profile;
//!
//! // The raw application: caught at once, with the classic race.
//! let world = World::new(WorldConfig::new(Profile::WEBRTC_RS, AppKind::Raw)).unwrap();
//! let report = explore(&world, &ExploreOptions::default(), |_| {});
//! let cx = report.counterexample.unwrap();
//! assert_eq!(cx.actions.len(), 1);
//! assert!(cx.violation.detail.ends_with("while connecting"));
//! ```

pub mod app;
mod arena;
mod compact;
pub mod explorer;
mod memo;
pub mod part;
pub mod run;
mod sleep;
pub mod stateright_model;
pub mod step;
pub mod user;
mod visited;
pub mod world;

/// The monitor lives beside the trace it judges ([`crate::monitor`]); re-exported here,
/// where the checker's users have always found it.
pub use crate::monitor::{self, names, Monitor, MonitorConfig};
