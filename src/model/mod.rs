//! The pure, sans-IO model of one WebRTC peer connection and its data channels.
//!
//! No I/O, no clock reads, no async, no randomness: time is an input.

pub mod config;
#[cfg(feature = "rtc-stack")]
pub mod convert;
pub mod legal;
pub mod pair;
pub mod peer;
pub mod profile;
pub mod states;
pub mod timer;
pub mod wire;

pub use config::PeerConfig;
pub use pair::Pair;
pub use peer::{Input, Output, Peer};
pub use profile::{
    IceTiming, Profile, ProfileName, AIORTC_CONSENT_FAILED_MS, AIORTC_CONSENT_INTERVAL_MS,
    AIORTC_INVALID_STATE, CHROME_ICE_TIMING,
};
pub use states::*;
pub use timer::Timer;
pub use wire::{Chunk, Packet};
