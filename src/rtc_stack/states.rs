//! The peer's machine states as dcsim tracks them, and the [`StateChange`]s they emit.
//!
//! `rtc` 0.21.1 has no public getter for signaling, ICE connection or peer connection
//! state, and reaches its ICE transport's (`state()`, `gathering_state()`) only through
//! `pc.sctp()`: those machines are tracked from the crate's events. DTLS and SCTP have getters
//! (reached through `pc.sctp()`) but no events: those are tracked by reading the getters
//! after every step (see [`super::RtcStack`]).

use crate::model::{
    DtlsTransportState, IceConnectionState, IceGatheringState, PeerConnectionState,
    SctpTransportState, SignalingState,
};
use crate::stack::StateChange;

/// The last reported state of every peer-level machine.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct Machines {
    pub(super) signaling: SignalingState,
    pub(super) ice_gathering: IceGatheringState,
    pub(super) ice_connection: IceConnectionState,
    pub(super) peer_connection: PeerConnectionState,
    pub(super) dtls: DtlsTransportState,
    pub(super) sctp: SctpTransportState,
}

impl Default for Machines {
    /// The W3C initial values. The crate's own initial values agree except for ICE
    /// connection, which it holds as `Unspecified` until the first change (to `checking`);
    /// dcsim starts it at `new`, the value an application is promised, so the first change
    /// reads `new -> checking`. SCTP starts at `connecting`, what the crate's getter reports
    /// before the association exists.
    fn default() -> Self {
        Machines {
            signaling: SignalingState::Stable,
            ice_gathering: IceGatheringState::New,
            ice_connection: IceConnectionState::New,
            peer_connection: PeerConnectionState::New,
            dtls: DtlsTransportState::New,
            sctp: SctpTransportState::Connecting,
        }
    }
}

/// Sets `slot` to `to`; the (from, to) pair if that is a change.
fn step<S: Copy + Eq>(slot: &mut S, to: S) -> Option<(S, S)> {
    if *slot == to {
        None
    } else {
        let from = std::mem::replace(slot, to);
        Some((from, to))
    }
}

impl Machines {
    /// Signaling state is now `to`.
    pub(super) fn signaling(&mut self, to: SignalingState) -> Option<StateChange> {
        step(&mut self.signaling, to).map(|(a, b)| StateChange::Signaling(a, b))
    }

    /// ICE gathering state is now `to`.
    pub(super) fn ice_gathering(&mut self, to: IceGatheringState) -> Option<StateChange> {
        step(&mut self.ice_gathering, to).map(|(a, b)| StateChange::IceGathering(a, b))
    }

    /// ICE connection state is now `to`.
    pub(super) fn ice_connection(&mut self, to: IceConnectionState) -> Option<StateChange> {
        step(&mut self.ice_connection, to).map(|(a, b)| StateChange::IceConnection(a, b))
    }

    /// Peer connection state is now `to`.
    pub(super) fn peer_connection(&mut self, to: PeerConnectionState) -> Option<StateChange> {
        step(&mut self.peer_connection, to).map(|(a, b)| StateChange::PeerConnection(a, b))
    }

    /// DTLS transport state is now `to`.
    pub(super) fn dtls(&mut self, to: DtlsTransportState) -> Option<StateChange> {
        step(&mut self.dtls, to).map(|(a, b)| StateChange::Dtls(a, b))
    }

    /// SCTP transport state is now `to`.
    pub(super) fn sctp(&mut self, to: SctpTransportState) -> Option<StateChange> {
        step(&mut self.sctp, to).map(|(a, b)| StateChange::Sctp(a, b))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_only_real_changes() {
        let mut m = Machines::default();
        assert_eq!(m.signaling(SignalingState::Stable), None);
        assert_eq!(
            m.signaling(SignalingState::HaveLocalOffer),
            Some(StateChange::Signaling(
                SignalingState::Stable,
                SignalingState::HaveLocalOffer
            ))
        );
        assert_eq!(m.signaling, SignalingState::HaveLocalOffer);
    }
}
