//! [`RtcConfig`]: the knobs of one real `rtc` peer, and the virtual-time origin.

use crate::model::IceTiming;
use crate::trace::Millis;
use std::time::Instant;

/// Settings for one [`RtcStack`](super::RtcStack).
///
/// There is no `Default`: the virtual-time origin `base` must come from the caller (dcsim
/// reads no clock). [`RtcConfig::new`] fills every other field with `rtc` 0.21.1's defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RtcConfig {
    /// ICE `disconnected` after `disconnected_timeout_ms` without a STUN packet received,
    /// `failed` `failed_timeout_ms` later (0 disables either), consent-freshness binding
    /// requests every `keepalive_interval_ms`. Default [`IceTiming::WEBRTC_RS`].
    pub ice: IceTiming,
    /// An in-band channel not ACKed by then is closed; `None` waits for ever. Default 30000.
    pub dcep_handshake_timeout_ms: Option<Millis>,
    /// Call the crate's `handle_timeout(now)` again, at the same instant, after every round
    /// in which `poll_event` produced something (default `true`). This works around the
    /// "DTLS stall": the ClientHello queued while ICE selects its pair otherwise waits
    /// inside the DTLS endpoint until the next timer wake-up (the 200 ms ICE tick), because
    /// `poll_timeout` does not announce it. `true` gives the protocol's own, prompt timing;
    /// `false` gives the wake-up pattern of the async `webrtc` 0.21.1 driver
    /// (`webrtc/src/peer_connection/driver.rs`, which calls `handle_timeout` only when
    /// `poll_timeout` is due). See [`RtcStack`](super::RtcStack) for the measured times.
    pub wake_after_events: bool,
    /// The instant that virtual time 0 stands for. Every instant handed to the crate is
    /// `base + Duration::from_millis(now)`; nothing else is ever read from a clock.
    pub base: Instant,
}

impl RtcConfig {
    /// `rtc` 0.21.1's defaults, with virtual time 0 at `base`.
    pub fn new(base: Instant) -> Self {
        RtcConfig {
            ice: IceTiming::WEBRTC_RS,
            dcep_handshake_timeout_ms: Some(30000),
            wake_after_events: true,
            base,
        }
    }
}
