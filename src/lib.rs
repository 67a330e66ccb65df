//! dcsim: deterministic state-machine simulation and fuzz harness for WebRTC data-channel
//! lifecycle races ("send on a channel that is not open").
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod guard;
pub mod model;
pub mod stack;
pub mod trace;
