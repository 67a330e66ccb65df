//! The model's state enums against the real webrtc 0.21.1 enums: every variant both ways,
//! same Display strings.

use dcsim::model::*;
use rtc::peer_connection::transport::{RTCDtlsTransportState, RTCSctpTransportState};
use webrtc::data_channel::RTCDataChannelState;
use webrtc::peer_connection::{
    RTCIceConnectionState, RTCIceGatheringState, RTCPeerConnectionState, RTCSignalingState,
};

macro_rules! check_all {
    ($ours:ty, $theirs:ty, $count:expr) => {{
        assert_eq!(
            <$ours>::ALL.len(),
            $count,
            "variant count of {}",
            stringify!($ours)
        );
        for &ours in <$ours>::ALL {
            let theirs: $theirs = ours.into();
            assert_eq!(theirs.to_string(), ours.to_string(), "Display of {ours:?}");
            let back = <$ours>::try_from(theirs).expect("known variant");
            assert_eq!(back, ours);
        }
    }};
}

#[test]
fn data_channel_state() {
    check_all!(DataChannelState, RTCDataChannelState, 5);
    // The crate's own parser agrees with our Display strings.
    for &s in DataChannelState::ALL {
        assert_eq!(
            DataChannelState::try_from(RTCDataChannelState::from(s.as_str())),
            Ok(s)
        );
    }
}

#[test]
fn ice_connection_state() {
    check_all!(IceConnectionState, RTCIceConnectionState, 8);
}

#[test]
fn ice_gathering_state() {
    check_all!(IceGatheringState, RTCIceGatheringState, 4);
}

#[test]
fn peer_connection_state() {
    check_all!(PeerConnectionState, RTCPeerConnectionState, 7);
}

#[test]
fn signaling_state() {
    check_all!(SignalingState, RTCSignalingState, 7);
}

#[test]
fn dtls_transport_state() {
    check_all!(DtlsTransportState, RTCDtlsTransportState, 6);
}

#[test]
fn sctp_transport_state() {
    check_all!(SctpTransportState, RTCSctpTransportState, 4);
}

#[test]
fn the_crate_defaults_are_unspecified() {
    assert_eq!(
        DataChannelState::try_from(RTCDataChannelState::default()),
        Ok(DataChannelState::Unspecified)
    );
    assert_eq!(
        IceConnectionState::try_from(RTCIceConnectionState::default()),
        Ok(IceConnectionState::Unspecified)
    );
}
