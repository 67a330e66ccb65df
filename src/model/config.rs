//! Timeouts and limits of the model, with `webrtc` 0.21.1's defaults.

use super::profile::IceTiming;
use crate::vocab::Millis;
use serde::{Deserialize, Serialize};

/// Knobs of one model peer. Defaults are the crate's (`rtc-ice` agent config,
/// `SettingEngineBuilder`, SCTP and DTLS defaults).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PeerConfig {
    /// ICE connectivity-check interval while checking (200 ms).
    pub check_interval_ms: Millis,
    /// ICE liveness: disconnected after `disconnected_timeout_ms` idle (5 s; 0 disables),
    /// failed `failed_timeout_ms` later (25 s; 0 disables), consent checks every
    /// `keepalive_interval_ms` while connected (2 s): [`IceTiming::WEBRTC_RS`].
    pub ice: IceTiming,
    /// DCEP handshake deadline for in-band channels (30 s; 0 disables).
    pub dcep_handshake_timeout_ms: Millis,
    /// Initial DTLS flight retransmission timeout (1 s, doubling).
    pub dtls_retransmit_ms: Millis,
    /// Initial SCTP retransmission timeout (1 s, doubling, capped at 60 s), and the
    /// least the estimate from measured round trips can be (RTO.Min, 1 s in the crate).
    pub sctp_rto_initial_ms: Millis,
    /// SCTP's timing refinements, as `rtc-sctp` has them: the retransmission timeout
    /// estimated from measured round trips (RFC 9260 6.3.1, `RtoManager`: on a long
    /// path it grows above 1 s), and fast retransmit once three SACKs report the same
    /// missing chunk (7.2.4). Off only in the exhaustive checker's untimed world, where
    /// no time passes and any armed timer may fire at any moment (which covers every
    /// moment a fast retransmit could pick).
    #[serde(default = "yes")]
    pub sctp_timing: bool,
    /// Max message size advertised and enforced (`a=max-message-size:65536`).
    pub max_message_size: usize,
    /// bufferedAmountLow threshold (0).
    pub buffered_amount_low_threshold: usize,
    /// bufferedAmountHigh threshold (`u32::MAX` on a new channel: off,
    /// `rtc/src/data_channel/mod.rs` `buffered_amount_high_threshold`).
    pub buffered_amount_high_threshold: usize,
}

fn yes() -> bool {
    true
}

impl Default for PeerConfig {
    fn default() -> Self {
        PeerConfig {
            check_interval_ms: 200,
            ice: IceTiming::WEBRTC_RS,
            dcep_handshake_timeout_ms: 30000,
            dtls_retransmit_ms: 1000,
            sctp_rto_initial_ms: 1000,
            sctp_timing: true,
            max_message_size: 65536,
            buffered_amount_low_threshold: 0,
            buffered_amount_high_threshold: u32::MAX as usize,
        }
    }
}

/// The crate starts its interval at 200 ms and only ever lowers it
/// (`rtc-ice/src/agent/mod.rs` `get_timeout_interval`), so an agent ticks at
/// min(200 ms, check or keepalive interval, disconnected, failed timeouts).
pub const DEFAULT_ICE_TICK_MS: Millis = 200;

impl PeerConfig {
    /// The ICE agent's tick interval while checking or connected.
    pub fn ice_tick_ms(&self, checking: bool) -> Millis {
        let mut tick = DEFAULT_ICE_TICK_MS;
        let mut lower = |x: Millis| {
            if x != 0 && x < tick {
                tick = x;
            }
        };
        if checking {
            lower(self.check_interval_ms);
        } else {
            lower(self.ice.keepalive_interval_ms);
        }
        lower(self.ice.disconnected_timeout_ms);
        lower(self.ice.failed_timeout_ms);
        tick
    }
}
