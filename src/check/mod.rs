//! Checking: invariants on every step of every driver, and the exhaustive explorer of the
//! untimed model.

pub mod app;
pub mod explorer;
pub mod monitor;
pub mod part;
pub mod run;
pub mod stateright_model;
pub mod step;
pub mod world;

pub use monitor::{names, Monitor, MonitorConfig};
