//! Building the real peer connection: settings, and the one host candidate.

use super::config::RtcConfig;
use crate::trace::{Millis, PeerId};
use rtc::peer_connection::configuration::setting_engine::SettingEngineBuilder;
use rtc::peer_connection::configuration::RTCConfigurationBuilder;
use rtc::peer_connection::transport::{
    CandidateConfig, CandidateHostConfig, RTCIceCandidate, RTCIceCandidateInit,
};
use rtc::peer_connection::{RTCPeerConnection, RTCPeerConnectionBuilder};
use std::net::SocketAddr;
use std::time::Duration;

fn duration(ms: Millis) -> Duration {
    Duration::from_millis(ms)
}

/// A peer connection with `config`'s timeouts and the host candidate `host` (see
/// [`host_candidate`]) added with the end-of-candidates marker, so that
/// `create_offer`/`create_answer` put the candidate and `a=end-of-candidates` in the SDP
/// and no trickle is needed. DTLS roles are the crate's defaults (the answerer is the DTLS
/// client); the offerer is ICE controlling.
pub(super) fn build_peer_connection(
    peer: PeerId,
    config: &RtcConfig,
    host: &RTCIceCandidateInit,
) -> Result<RTCPeerConnection, String> {
    let settings = SettingEngineBuilder::new()
        .with_ice_timeouts(
            Some(duration(config.ice.disconnected_timeout_ms)),
            Some(duration(config.ice.failed_timeout_ms)),
            Some(duration(config.ice.keepalive_interval_ms)),
        )
        .with_dcep_handshake_timeout(config.dcep_handshake_timeout_ms.map(duration))
        .build();
    let mut pc = RTCPeerConnectionBuilder::new()
        .with_configuration(RTCConfigurationBuilder::new().build())
        .with_setting_engine(settings)
        .build(config.base)
        .map_err(|e| format!("peer {peer}: building the rtc peer connection: {e}"))?;
    add_candidates(peer, &mut pc, host)?;
    Ok(pc)
}

/// The host candidate on `local` (a label: nothing is bound).
pub(super) fn host_candidate(
    peer: PeerId,
    local: SocketAddr,
) -> Result<RTCIceCandidateInit, String> {
    let host = CandidateHostConfig {
        base_config: CandidateConfig {
            // A fixed id keeps the SDP free of one needless random string.
            candidate_id: format!("dcsim-host-{peer}"),
            network: "udp".to_owned(),
            address: local.ip().to_string(),
            port: local.port(),
            component: 1,
            ..Default::default()
        },
        ..Default::default()
    }
    .new_candidate_host()
    .map_err(|e| format!("peer {peer}: host candidate on {local}: {e}"))?;
    RTCIceCandidate::from(&host)
        .to_json()
        .map_err(|e| format!("peer {peer}: host candidate on {local}: {e}"))
}

/// Adds `host` and the end-of-candidates marker ("gathering" is the application's job in
/// the sans-IO crate).
pub(super) fn add_candidates(
    peer: PeerId,
    pc: &mut RTCPeerConnection,
    host: &RTCIceCandidateInit,
) -> Result<(), String> {
    pc.add_local_candidate(host.clone())
        .map_err(|e| format!("peer {peer}: adding host candidate: {e}"))?;
    pc.add_local_candidate(RTCIceCandidateInit::default())
        .map_err(|e| format!("peer {peer}: adding end-of-candidates: {e}"))
}

/// Whether the ICE agent has lost its local candidates (it deletes them on `failed`), so
/// that an ICE restart must gather again.
pub(super) fn lost_candidates(pc: &RTCPeerConnection) -> bool {
    pc.sctp().is_some_and(|sctp| {
        sctp.transport()
            .ice_transport()
            .get_local_candidates()
            .is_empty()
    })
}
