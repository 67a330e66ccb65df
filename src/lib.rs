//! dcsim: deterministic state-machine simulation and fuzz harness for WebRTC data-channel
//! lifecycle races ("send on a channel that is not open").
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod check;
pub mod cli;
pub mod conform;
pub mod drive;
pub mod explore;
#[cfg(feature = "arbitrary")]
pub mod fuzzing;
pub mod guard;
pub mod model;
pub mod record;
#[cfg(feature = "rtc-stack")]
pub mod rtc_stack;
pub mod scenario;
pub mod sim;
pub mod stack;
pub mod trace;
