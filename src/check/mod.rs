//! Checking: invariants on every step of every driver.

pub mod monitor;

pub use monitor::{names, Monitor, MonitorConfig};
