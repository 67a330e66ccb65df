//! The DTLS handshake: flights, their retransmission, and the transport's state.

use super::Peer;
use crate::model::timer::Timer;
use crate::model::wire::Packet;
use crate::vocab::states::*;
use crate::vocab::{Millis, PeerId};
use crate::vocab::{StackEvent, StateChange};

/// How far this side's handshake has got.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) enum Handshake {
    /// ICE has not selected a pair yet: flights from the remote are ignored.
    NotStarted,
    /// Under way (and after): the last flight this side sent, 0 before its first (the
    /// server waits for the client's flight 1).
    Flights {
        /// The flight to retransmit while `connecting`.
        last_sent: u8,
    },
}

/// The DTLS transport: its reported state, the handshake's progress, and the flight
/// retransmission timeout.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct Dtls {
    pub(super) state: DtlsTransportState,
    pub(super) handshake: Handshake,
    pub(super) rto: Millis,
}

impl Dtls {
    /// The handshake has begun (ICE selected a pair).
    pub(super) fn started(&self) -> bool {
        self.handshake != Handshake::NotStarted
    }

    /// The last flight this side sent (0 = none).
    pub(super) fn last_flight(&self) -> u8 {
        match self.handshake {
            Handshake::NotStarted => 0,
            Handshake::Flights { last_sent } => last_sent,
        }
    }
}

impl Peer {
    // ----- DTLS and SCTP handshakes --------------------------------------------------

    pub(super) fn is_dtls_client(&self) -> bool {
        self.id == PeerId::B
    }

    pub(super) fn start_dtls(&mut self) {
        self.dtls.handshake = Handshake::Flights { last_sent: 0 };
        self.set_dtls(DtlsTransportState::Connecting);
        if self.is_dtls_client() {
            self.send_flight(1);
        }
    }

    pub(super) fn send_flight(&mut self, flight: u8) {
        self.dtls.handshake = Handshake::Flights { last_sent: flight };
        self.transmit(Packet::DtlsFlight(flight));
        self.dtls.rto = self.config.dtls_retransmit_ms;
        if self.dtls.state == DtlsTransportState::Connecting {
            let at = self.now + self.dtls.rto;
            self.timers.arm(Timer::DtlsRetransmit, at);
        }
    }

    pub(super) fn handle_dtls_flight(&mut self, flight: u8) {
        let client = self.is_dtls_client();
        match (client, flight) {
            (false, 1) | (false, 3) if self.dtls.state == DtlsTransportState::Connecting => {
                self.send_flight(flight + 1)
            }
            (false, 5) => {
                if self.dtls.state == DtlsTransportState::Connecting {
                    self.timers.cancel(Timer::DtlsRetransmit);
                    self.set_dtls(DtlsTransportState::Connected);
                    self.send_flight(6);
                    self.start_sctp();
                } else if self.dtls.state == DtlsTransportState::Connected {
                    self.transmit(Packet::DtlsFlight(6));
                }
            }
            (true, 2) | (true, 4)
                if self.dtls.state == DtlsTransportState::Connecting
                    && self.dtls.last_flight() == flight - 1 =>
            {
                self.send_flight(flight + 1)
            }
            (true, 6) if self.dtls.state == DtlsTransportState::Connecting => {
                self.timers.cancel(Timer::DtlsRetransmit);
                self.set_dtls(DtlsTransportState::Connected);
                self.start_sctp();
            }
            _ => {}
        }
    }

    pub(super) fn set_dtls(&mut self, to: DtlsTransportState) {
        let from = std::mem::replace(&mut self.dtls.state, to);
        if from != to {
            self.event(StackEvent::State(StateChange::Dtls(from, to)));
            self.update_pc_state();
        }
    }
}
