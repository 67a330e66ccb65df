//! The ICE agent: checks on the crate's 200 ms tick grid, nomination, consent
//! (keepalives), the disconnected and failed timeouts, and restarts.

use super::{Output, Peer};
use crate::model::timer::Timer;
use crate::model::wire::Packet;
use crate::vocab::states::*;
use crate::vocab::{Millis, PeerId};
use crate::vocab::{StackEvent, StateChange};

/// How far the agent has got with its one candidate pair. The reported connection state
/// ([`Ice::state`]) is what the application sees; this is what the agent does next.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) enum Progress {
    /// Not started: no description has started the agent yet.
    Idle,
    /// No pair selected: checking connectivity, or stopped without a pair (ICE failed
    /// or the connection closed, during checks or after the pair was lost). The checks'
    /// progress stays until the next restart starts a new checking period.
    Unselected(Checks),
    /// A pair is selected: the state reads connected (or disconnected while consent is
    /// missing).
    Selected,
}

/// A checking period's progress.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub(super) struct Checks {
    /// Restarted on the offerer, but the remote's new credentials (the answer) have not
    /// arrived: no check can be sent yet. The checks, their tick grid and the
    /// failed-in-checking deadline start when the answer is applied.
    pub(super) awaiting_answer: bool,
    /// A connectivity check of ours got a success response (the crate's pair state
    /// `Succeeded`): the controlled agent accepts a nomination only then, and the
    /// controlling agent nominates only then.
    pub(super) succeeded: bool,
    /// Controlling agent: nomination (USE-CANDIDATE) under way; every check is nominating.
    pub(super) nominating: bool,
}

/// ICE agent state beyond the reported connection state.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct Ice {
    pub(super) state: IceConnectionState,
    pub(super) generation: u32,
    pub(super) progress: Progress,
    /// `restartIce()` was called on the offerer: the next offer carries new credentials and
    /// restarts ICE when it is set as the local description (the crate's `restart_ice`
    /// only flags it, `set_local_description` applies it).
    pub(super) restart_pending: bool,
    /// Start of the current checking period (tick alignment origin).
    pub(super) origin: Millis,
    pub(super) last_received: Millis,
    /// When the last consent check went out. Starts at the agent's creation (time 0), not
    /// at pair selection, as the crate's `last_consent_sent` does
    /// (`rtc-ice/src/agent/mod.rs` `check_keepalive`): the first keepalive goes out at the
    /// first contact tick at or after `keepalive_interval`.
    pub(super) last_consent_sent: Millis,
    /// With `ice_restart_keeps_state`, during a restart: the state the application sees
    /// (`state` is `checking` underneath).
    pub(super) shown: Option<IceConnectionState>,
    /// With `ice_restart_keeps_state`: a restart happened; the next local description
    /// gathers again.
    pub(super) regather: bool,
}

impl Ice {
    /// The agent has been started (by the first description that starts it).
    pub(super) fn started(&self) -> bool {
        self.progress != Progress::Idle
    }

    /// A pair is selected.
    pub(super) fn selected(&self) -> bool {
        self.progress == Progress::Selected
    }

    /// The selected pair, if any, is gone (ICE failed, or the connection closed). What
    /// the checks had reached stays: a check of ours succeeded, and the controlling agent
    /// was nominating (it selects only on its nomination's response).
    pub(super) fn lose_pair(&mut self, controlling: bool) {
        if self.progress == Progress::Selected {
            self.progress = Progress::Unselected(Checks {
                awaiting_answer: false,
                succeeded: true,
                nominating: controlling,
            });
        }
    }

    /// The current checking period, if checking.
    fn checks(&self) -> Checks {
        match self.progress {
            Progress::Unselected(checks) => checks,
            _ => Checks::default(),
        }
    }

    fn checks_mut(&mut self) -> Option<&mut Checks> {
        match &mut self.progress {
            Progress::Unselected(checks) => Some(checks),
            _ => None,
        }
    }
}

impl Peer {
    // ----- ICE -----------------------------------------------------------------------

    pub(super) fn tick(&self) -> Millis {
        self.config
            .ice_tick_ms(matches!(self.ice.state, IceConnectionState::Checking))
    }

    /// The first contact tick strictly after `t` (ticks run every `tick()` from the
    /// start of checking).
    pub(super) fn tick_after(&self, t: Millis) -> Millis {
        let tick = self.tick().max(1);
        let origin = self.ice.origin;
        if t < origin {
            return origin;
        }
        origin + ((t - origin) / tick + 1) * tick
    }

    pub(super) fn start_ice(&mut self) {
        if self.ice.started() || self.closed {
            return;
        }
        // The transports start together: the DTLS transport reads `connecting` from here,
        // before ICE has a pair (the crate's `RTCDtlsTransport::state` getter; W3C leaves
        // the moment open). The handshake itself starts when ICE selects a pair.
        if self.profile.transports_start_on_remote_description {
            // Reported before the ICE change the same call causes, as the crate's getter.
            self.set_dtls(DtlsTransportState::Connecting);
            self.begin_checking();
        } else {
            self.begin_checking();
            self.set_dtls(DtlsTransportState::Connecting);
        }
    }

    pub(super) fn begin_checking(&mut self) {
        self.enter_checking();
        self.start_checks();
    }

    /// ICE goes (back) to checking: the pair is forgotten and every ICE timer stops.
    pub(super) fn enter_checking(&mut self) {
        self.ice.progress = Progress::Unselected(Checks::default());
        self.set_ice(IceConnectionState::Checking);
        for t in [
            Timer::IceDisconnected,
            Timer::IceRecover,
            Timer::IceKeepalive,
            Timer::IceCheck,
            Timer::IceFailed,
        ] {
            self.timers.cancel(t);
        }
    }

    /// Connectivity checks start, on a tick grid from now, with the failed-in-checking
    /// deadline.
    pub(super) fn start_checks(&mut self) {
        self.ice.origin = self.now;
        let total = self.config.ice.disconnected_timeout_ms + self.config.ice.failed_timeout_ms;
        if self.config.ice.failed_timeout_ms != 0 {
            let at = self.tick_after(self.now + total);
            self.timers.arm(Timer::IceFailed, at);
        }
        self.send_check();
    }

    /// `restartIce()`. On the offerer it takes effect with the next offer (see
    /// `restart_pending`); the answerer restarts when that offer arrives.
    pub(super) fn restart_ice(&mut self) {
        if self.id == PeerId::A {
            self.ice.restart_pending = true;
            return;
        }
        if self.ice.started() {
            self.begin_checking();
        }
    }

    /// A contact tick while checking (`contact_candidates` of the crate's selectors): the
    /// controlling agent nominates once a check of its own has succeeded (and keeps
    /// re-sending the nomination every tick), otherwise both agents ping.
    pub(super) fn send_check(&mut self) {
        let controlling = self.id == PeerId::A;
        if let Some(checks) = self.ice.checks_mut() {
            if controlling && checks.succeeded {
                checks.nominating = true;
            }
        }
        self.transmit_stun(Packet::StunRequest {
            generation: self.ice.generation,
            nominate: self.ice.checks().nominating,
        });
        let at = self.now + self.tick();
        self.timers.arm(Timer::IceCheck, at);
    }

    pub(super) fn ice_usable(&self) -> bool {
        self.ice.started()
            && !self.closed
            && matches!(
                self.ice.state,
                IceConnectionState::Checking
                    | IceConnectionState::Connected
                    | IceConnectionState::Disconnected
            )
    }

    pub(super) fn handle_stun(&mut self, packet: Packet) {
        if !self.ice_usable() {
            return;
        }
        let generation = match packet {
            Packet::StunRequest { generation, .. } | Packet::StunResponse { generation, .. } => {
                generation
            }
            _ => return,
        };
        if generation != self.ice.generation {
            return; // stale credentials (before or after an ICE restart)
        }
        self.ice.last_received = self.now;
        let checking = self.ice.state == IceConnectionState::Checking;
        let controlling = self.id == PeerId::A;
        let checks = self.ice.checks();
        // The crate's selectors (`rtc-ice/src/agent/agent_selector.rs`), with one pair: the
        // controlling agent pings; the controlled one answers and sends a triggered check
        // back; once the controlling agent's check succeeded, the next request it receives
        // (or its next tick) makes it nominate; the controlled agent selects the pair on a
        // nomination if its own check succeeded, the controlling one on the nomination's
        // response. Two round trips from a's first check to a's `connected`.
        match packet {
            Packet::StunRequest { nominate, .. } => {
                let ping = Packet::StunRequest {
                    generation,
                    nominate: false,
                };
                if !controlling && nominate && checking && !checks.succeeded {
                    // Not acceptable yet: a triggered check, no answer (the controlling
                    // agent re-sends the nomination at its next tick).
                    self.transmit_stun(ping);
                } else {
                    self.transmit_stun(Packet::StunResponse {
                        generation,
                        nominate,
                    });
                    if !controlling && checking {
                        if nominate {
                            self.select_pair();
                        } else {
                            self.transmit_stun(ping);
                        }
                    } else if controlling && checking && checks.succeeded && !checks.nominating {
                        if let Some(checks) = self.ice.checks_mut() {
                            checks.nominating = true;
                        }
                        self.transmit_stun(Packet::StunRequest {
                            generation,
                            nominate: true,
                        });
                    }
                }
            }
            Packet::StunResponse { nominate, .. } if checking => {
                if let Some(checks) = self.ice.checks_mut() {
                    checks.succeeded = true;
                }
                if controlling && nominate {
                    self.select_pair();
                }
            }
            _ => {}
        }
        if self.ice.selected() {
            self.arm_liveness();
            if self.ice.state == IceConnectionState::Disconnected {
                let at = self.tick_after(self.now);
                self.timers.arm(Timer::IceRecover, at);
            }
        }
    }

    pub(super) fn select_pair(&mut self) {
        self.ice.progress = Progress::Selected;
        self.timers.cancel(Timer::IceCheck);
        self.set_ice(IceConnectionState::Connected);
        self.arm_liveness();
        self.arm_keepalive();
        if !self.dtls.started() {
            self.start_dtls();
        } else if self.profile.sctp_retransmits_on_ice_reselect {
            // Back from an ICE restart: resume whatever was waiting for a path.
            self.retransmit_now();
        }
    }

    pub(super) fn arm_liveness(&mut self) {
        let c = self.config.ice;
        if c.disconnected_timeout_ms != 0 {
            let at = self.tick_after(self.ice.last_received + c.disconnected_timeout_ms);
            self.timers.arm(Timer::IceDisconnected, at);
        }
        if c.failed_timeout_ms != 0 {
            let total = c.failed_timeout_ms + c.disconnected_timeout_ms;
            let at = self.tick_after(self.ice.last_received + total);
            self.timers.arm(Timer::IceFailed, at);
        }
    }

    pub(super) fn arm_keepalive(&mut self) {
        if self.config.ice.keepalive_interval_ms != 0 {
            let due = self.ice.last_consent_sent + self.config.ice.keepalive_interval_ms;
            let at = self.tick_after(due.saturating_sub(1));
            self.timers.arm(Timer::IceKeepalive, at);
        }
    }

    pub(super) fn ice_failed(&mut self) {
        self.ice.lose_pair(self.id == PeerId::A);
        for t in [
            Timer::IceCheck,
            Timer::IceKeepalive,
            Timer::IceDisconnected,
            Timer::IceRecover,
            Timer::IceFailed,
        ] {
            self.timers.cancel(t);
        }
        if self.profile.closes_when_dtls_ends {
            // The ICE connection is closed under the DTLS transport, which reads an error.
            if self.dtls.state == DtlsTransportState::Connected {
                self.set_dtls(DtlsTransportState::Closed);
                self.close();
                return;
            }
            if self.dtls.started() && self.dtls.state == DtlsTransportState::Connecting {
                self.timers.cancel(Timer::DtlsRetransmit);
                self.set_dtls(DtlsTransportState::Failed);
            }
        }
        self.set_ice(IceConnectionState::Failed);
    }

    // ----- outputs and state changes -------------------------------------------------

    pub(super) fn transmit_stun(&mut self, packet: Packet) {
        if self.ice_usable() {
            self.outputs.push_back(Output::Transmit(packet));
        }
    }

    /// The ICE connection state as the profile reports it (`completed` for `connected`
    /// with `ice_reports_completed`).
    pub(super) fn reported_ice(&self, state: IceConnectionState) -> IceConnectionState {
        if self.profile.ice_reports_completed && state == IceConnectionState::Connected {
            IceConnectionState::Completed
        } else {
            state
        }
    }

    pub(super) fn set_ice(&mut self, to: IceConnectionState) {
        let internal = std::mem::replace(&mut self.ice.state, to);
        let from = self.ice.shown.take().unwrap_or(internal);
        if self.profile.ice_restart_keeps_state
            && to == IceConnectionState::Checking
            && matches!(
                from,
                IceConnectionState::Connected | IceConnectionState::Disconnected
            )
        {
            // A restart: checking underneath, the old state on the surface.
            self.ice.shown = Some(from);
            self.ice.regather = true;
            return;
        }
        let (from, to) = (self.reported_ice(from), self.reported_ice(to));
        if from != to {
            let change = StackEvent::State(StateChange::IceConnection(from, to));
            if self.profile.pc_change_before_ice {
                self.update_pc_state();
                self.event(change);
            } else {
                self.event(change);
                self.update_pc_state();
            }
        }
    }
}
