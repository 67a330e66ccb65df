//! The pure, sans-IO model of one WebRTC peer connection and its data channels.
//!
//! No I/O, no clock reads, no async, no randomness: time is an input.

pub mod convert;
pub mod profile;
pub mod states;

pub use profile::ProfileName;
pub use states::*;
