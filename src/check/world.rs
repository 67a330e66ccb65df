//! The untimed world that the exhaustive explorer and the property tests step: two model
//! peers, the network as a multiset of datagrams in flight, the application on each peer
//! and the invariant monitor, all plain data that is `Clone + Eq + Hash`.
//!
//! # Untimed
//!
//! The clock never moves: every input is fed at `now = 0`, and a timer fires through
//! [`Peer::fire_timer`], which fires an armed timer as if its deadline had passed without
//! advancing time. So every timestamp in the state stays constant and two histories that
//! reach the same protocol state reach *equal* states, which is what lets a visited set
//! collapse interleavings. Any armed timer may fire at any moment, in any order: ICE may
//! fail while a DTLS flight is in the air, the DCEP deadline may expire before the ACK
//! arrives. That is more behaviours than the timed simulator can produce, never fewer, so
//! a safety property that holds here holds there.
//!
//! # Network
//!
//! A multiset of `(to, packet)` with a count per packet. Any packet in flight may be
//! delivered (in any order: that is every reordering), lost ([`Bounds::drops`]), or
//! delivered as a duplicate while it stays in flight ([`Bounds::duplications`]); or
//! never delivered at all, which costs nothing and covers any loss. A peer that
//! transmits a packet of which [`Bounds::max_copies`] copies are already in flight loses
//! the extra copy: a loss the network is allowed anyway, and the bound that keeps
//! retransmissions from growing the multiset without end. Packets their receiver will
//! ignore for good are forgotten (see [`crate::check::explorer`], "Reductions").
//!
//! # Bounds
//!
//! Application calls, timer firings, drops and duplicates are bounded in number
//! ([`Bounds`]); deliveries are not. So the state space is finite and the explorer goes
//! to its end: "all invariants hold" means in every history within the bounds, of any
//! length.
//!
//! # Application
//!
//! Peer `a` creates [`Bounds::channels`] in-band channels `c0`, `c1`, ... before anything
//! else; peer `b` learns each one through `ondatachannel`. Each application holds a
//! reference to the channels it knows and may at any moment send on one (bounded per
//! channel), close one, close its peer connection, or (on `a`, the offerer) restart ICE
//! and renegotiate. See [`crate::check::app`] for what the raw and guarded applications
//! do with those calls and with the events the stack reports.
//!
//! # One step
//!
//! An [`Action`] is applied to one peer and its application (both, for connect and ICE
//! restart), which are then drained until quiet: datagrams go into the network, events
//! are recorded as trace events (through [`crate::record`], the same words every driver
//! writes) and handed to the application, which may react (the guard flushes on open);
//! then the [`Monitor`] judges the step's events. The first violation is kept in the
//! state; a violated state has no successors. How a step is computed fast is in
//! [`crate::check::step`].
//!
//! Not judged here: the monitor's end-of-run verdict ([`Monitor::finish`]), since an
//! explored state is not the end of a run (a message the guard still holds is not lost
//! yet; the simulator and the property tests judge run ends), and `deterministic-replay`,
//! which this world has by construction (a test replays counterexamples and compares).

use super::app::{AppKind, PeerApp, WorldApp};
use super::part::Part;
use super::step;
use crate::model::{Input, Packet, Peer, PeerConfig, Profile, Timer};
use crate::monitor::{Monitor, MonitorConfig};
use crate::stack::{AppCall, Reliability};
use crate::trace::{Millis, MsgId, PeerId, Trace};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

/// The only time the untimed world knows.
pub const NOW: Millis = 0;

/// Most channels a world may have (message ids and labels are built from one digit).
pub const MAX_CHANNELS: u8 = 9;

/// Most sends per peer and channel a world may allow (one digit of the message id).
pub const MAX_SENDS: u8 = 9;

/// How much the application and the network may do, so that the state space is finite.
/// Every bound is a total over the whole history unless it says otherwise.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Bounds {
    /// In-band channels peer `a` creates at the start (1..=9).
    pub channels: u8,
    /// Sends per peer and channel (0..=9).
    pub sends_per_channel: u8,
    /// `channel.close()` calls, on either peer, in all.
    pub channel_closes: u8,
    /// `pc.close()` calls, on either peer, in all.
    pub peer_closes: u8,
    /// ICE restarts (each followed by an offer/answer), on peer `a`.
    pub ice_restarts: u8,
    /// Firings of timers that change a lifecycle (ICE failed, disconnected, recovered;
    /// the DCEP handshake deadline; a guard's message expiry), in all. Deliveries are not
    /// bounded: with the timer, drop and duplication bounds the state space is finite
    /// and is explored to the end.
    pub timeouts: u8,
    /// Firings of retransmission timers (ICE connectivity and consent checks, DTLS
    /// flights, SCTP INIT/COOKIE and data), in all. A retransmission of a packet still in
    /// flight changes nothing and costs nothing (see [`World::step`]).
    pub retransmits: u8,
    /// Packets lost in flight, in all (a packet may also never be delivered, which
    /// costs nothing).
    pub drops: u8,
    /// Deliveries of a duplicate (the packet stays in flight), in all.
    pub duplications: u8,
    /// Copies of one packet that may be in flight at once (at least 1).
    pub max_copies: u8,
    /// 1: the delayed SACK timer ([`Timer::SctpAck`]) is an action of its own that may
    /// fire at any later moment, like any timer. 0: it fires within the step that arms
    /// it. The two worlds have the same histories of events (see
    /// [`crate::check::explorer`], "Reductions"); 0 has far fewer states.
    pub delayed_sack: u8,
    /// Firings of the application's own timer ([`crate::drive::App::on_timer`]), in
    /// all; only a user's application has one.
    pub app_timers: u8,
}

impl Default for Bounds {
    /// The bounds of `dcsim check`: one channel; one send per peer; one channel close,
    /// one peer-connection close and one ICE restart (with renegotiation), by either
    /// peer, at any moment; one timeout (ICE failed, ICE disconnected, the DCEP deadline
    /// or a guard expiry) at any moment; any order of deliveries, and any packet never
    /// delivered. No retransmission, drop or duplicate: a packet that is never delivered
    /// already covers a loss, and each of those bounds multiplies the state space by 2 to
    /// 20 (see docs/checker.md for the measured sizes).
    ///
    /// The delayed SACK is sent within the step that owes it (`delayed-sack=0`: the same
    /// histories of events as firing it any time later, see
    /// [`crate::check::explorer`]).
    ///
    /// Every lifecycle phase (connect, open, close, pc close, ICE failure, restart) is
    /// reachable in one history, and the whole space (5 074 601 states for the guarded
    /// application, depth 43) is explored to the end in about a minute on one core.
    fn default() -> Self {
        Bounds {
            channels: 1,
            sends_per_channel: 1,
            channel_closes: 1,
            peer_closes: 1,
            ice_restarts: 1,
            timeouts: 1,
            retransmits: 0,
            drops: 0,
            duplications: 0,
            max_copies: 1,
            delayed_sack: 0,
            app_timers: 1,
        }
    }
}

impl Bounds {
    /// The names [`Bounds::set`] takes, in the order of the fields.
    pub const NAMES: [&'static str; 12] = [
        "channels",
        "sends",
        "channel-closes",
        "peer-closes",
        "ice-restarts",
        "timeouts",
        "retransmits",
        "drops",
        "duplications",
        "copies",
        "delayed-sack",
        "app-timers",
    ];

    /// Sets one bound by name (see [`Bounds::NAMES`]).
    pub fn set(&mut self, name: &str, value: u8) -> Result<(), String> {
        let slot = match name {
            "channels" => &mut self.channels,
            "sends" => &mut self.sends_per_channel,
            "channel-closes" => &mut self.channel_closes,
            "peer-closes" => &mut self.peer_closes,
            "ice-restarts" => &mut self.ice_restarts,
            "timeouts" => &mut self.timeouts,
            "retransmits" => &mut self.retransmits,
            "drops" => &mut self.drops,
            "duplications" => &mut self.duplications,
            "copies" => &mut self.max_copies,
            "delayed-sack" => &mut self.delayed_sack,
            "app-timers" => &mut self.app_timers,
            _ => {
                let shown: String = name.chars().take(20).collect();
                return Err(format!(
                    "unknown bound {shown:?} (expected one of {})",
                    Self::NAMES.join(", ")
                ));
            }
        };
        *slot = value;
        Ok(())
    }

    /// Applies `name=value,name=value` (see [`Bounds::NAMES`]); the error names the
    /// bad item.
    pub fn apply(&mut self, text: &str) -> Result<(), String> {
        for item in text.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let Some((name, value)) = item.split_once('=') else {
                let shown: String = item.chars().take(30).collect();
                return Err(format!("expected name=value, got {shown:?}"));
            };
            let value: u8 = value.trim().parse().map_err(|_| {
                let shown: String = value.chars().take(20).collect();
                format!(
                    "{}: expected a number from 0 to 255, got {shown:?}",
                    name.trim()
                )
            })?;
            self.set(name.trim(), value)?;
        }
        self.validate()
    }

    /// Checks the bounds; the error names the field.
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=MAX_CHANNELS).contains(&self.channels) {
            return Err(format!(
                "channels: must be 1 to {MAX_CHANNELS}, got {}",
                self.channels
            ));
        }
        if self.sends_per_channel > MAX_SENDS {
            return Err(format!(
                "sends per channel: must be 0 to {MAX_SENDS}, got {}",
                self.sends_per_channel
            ));
        }
        if self.max_copies == 0 {
            return Err("max copies: must be at least 1".into());
        }
        if self.delayed_sack > 1 {
            return Err(format!(
                "delayed sack: must be 0 (fired at once) or 1 (fired any time), got {}",
                self.delayed_sack
            ));
        }
        Ok(())
    }
}

/// Everything that fixes a world.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct WorldConfig {
    /// Which lifecycle the peers follow.
    pub profile: Profile,
    /// Which application runs on both peers.
    pub app: AppKind,
    /// How much may happen.
    pub bounds: Bounds,
    /// Timeouts and limits of the peers (only their existence matters untimed: a timer
    /// with a zero timeout is never armed).
    pub peer: PeerConfig,
}

impl WorldConfig {
    /// A world of `profile` and `app` with the default bounds and the profile's peer
    /// config.
    pub fn new(profile: Profile, app: AppKind) -> Self {
        WorldConfig {
            profile,
            app,
            bounds: Bounds::default(),
            peer: profile.peer_config(),
        }
    }
}

/// One move of the world. The explorer tries every enabled one, in the order
/// [`World::actions`] lists them.
///
/// `P` is how a packet in flight is named: the packet itself (the default, what traces
/// and counterexamples show) or the explorer's interned id of it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action<P = Packet> {
    /// Offer/answer exchanged (out of band, at once); ICE starts on both peers.
    Connect,
    /// The application on `peer` sends on channel `channel` (raw or through its guard).
    Send {
        /// Sending peer.
        peer: PeerId,
        /// Channel index (`c0` is 0).
        channel: u8,
    },
    /// The application on `peer` calls `channel.close()`.
    CloseChannel {
        /// Closing peer.
        peer: PeerId,
        /// Channel index.
        channel: u8,
    },
    /// The application on `peer` calls `pc.close()`.
    ClosePeer {
        /// Closing peer.
        peer: PeerId,
    },
    /// `restartIce()` on `a`, then a new offer/answer.
    IceRestart,
    /// An armed timer of `peer` fires.
    Fire {
        /// Whose timer.
        peer: PeerId,
        /// Which.
        timer: Timer,
    },
    /// The application on `peer` has its own timer fire (only a user's application has
    /// one, see [`Bounds::app_timers`]).
    AppTimer {
        /// Whose application.
        peer: PeerId,
    },
    /// Both applications start (the first step of a world whose application acts at
    /// the start; never listed by [`World::actions`]).
    Start,
    /// A message held by `peer`'s guard of `channel` reaches its expiry.
    GuardExpiry {
        /// Whose guard.
        peer: PeerId,
        /// Channel index.
        channel: u8,
    },
    /// One copy of a packet in flight arrives at `to`.
    Deliver {
        /// Receiver.
        to: PeerId,
        /// The packet.
        packet: P,
    },
    /// One copy of a packet in flight is lost.
    Drop {
        /// Receiver it was meant for.
        to: PeerId,
        /// The packet.
        packet: P,
    },
    /// A duplicate of a packet in flight arrives at `to`; the packet stays in flight
    /// (the network duplicated it).
    Duplicate {
        /// Receiver.
        to: PeerId,
        /// The packet.
        packet: P,
    },
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Connect => f.write_str("connect"),
            Action::Send { peer, channel } => write!(f, "{peer}: send on {}", label(*channel)),
            Action::CloseChannel { peer, channel } => {
                write!(f, "{peer}: close {}", label(*channel))
            }
            Action::ClosePeer { peer } => write!(f, "{peer}: close peer connection"),
            Action::IceRestart => f.write_str("a: ICE restart and renegotiation"),
            Action::Fire { peer, timer } => write!(f, "{peer}: timer {timer:?} fires"),
            Action::GuardExpiry { peer, channel } => {
                write!(f, "{peer}: guard of {} expires a message", label(*channel))
            }
            Action::AppTimer { peer } => write!(f, "{peer}: the application's timer fires"),
            Action::Start => f.write_str("the applications start"),
            Action::Deliver { to, packet } => {
                write!(f, "deliver to {to}: {}", describe_packet(packet))
            }
            Action::Drop { to, packet } => write!(f, "drop (to {to}): {}", describe_packet(packet)),
            Action::Duplicate { to, packet } => {
                write!(
                    f,
                    "deliver a duplicate to {to}: {}",
                    describe_packet(packet)
                )
            }
        }
    }
}

/// A packet in a few words, for traces.
pub fn describe_packet(packet: &Packet) -> String {
    use crate::model::Chunk;
    match packet {
        Packet::StunRequest {
            generation,
            nominate,
        } => format!(
            "STUN request gen {generation}{}",
            if *nominate { " use-candidate" } else { "" }
        ),
        Packet::StunResponse { generation, .. } => format!("STUN response gen {generation}"),
        Packet::DtlsFlight(n) => format!("DTLS flight {n}"),
        Packet::DtlsCloseNotify => "DTLS close_notify".into(),
        Packet::SctpHandshake(n) => {
            let name = match n {
                1 => "INIT",
                2 => "INIT ACK",
                3 => "COOKIE ECHO",
                4 => "COOKIE ACK",
                _ => "handshake",
            };
            format!("SCTP {name}")
        }
        Packet::SctpBundle(chunks) => {
            let tsns: Vec<String> = chunks.iter().map(|(t, _)| t.to_string()).collect();
            format!(
                "SCTP bundle of {} chunks (TSN {})",
                chunks.len(),
                tsns.join(", ")
            )
        }
        Packet::SctpData { tsn, chunk } => {
            let what = match chunk {
                Chunk::DcepOpen { stream, label, .. } => {
                    format!("DATA_CHANNEL_OPEN {label} (stream {stream})")
                }
                Chunk::DcepAck { stream } => format!("DATA_CHANNEL_ACK (stream {stream})"),
                Chunk::Data { stream, msg, .. } => format!("data #{msg} (stream {stream})"),
                Chunk::StreamReset { stream } => format!("stream reset (stream {stream})"),
            };
            format!("SCTP tsn {tsn} {what}")
        }
        Packet::SctpSack { cum_tsn, .. } => format!("SCTP SACK {cum_tsn}"),
        Packet::SctpAbort => "SCTP ABORT".into(),
        Packet::SctpForwardTsn { new_cum_tsn } => format!("SCTP FORWARD-TSN {new_cum_tsn}"),
    }
}

/// How the bounds count the firings of a timer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TimerClass {
    /// Sends what is owed and then stays disarmed until there is more to owe (the
    /// delayed SACK): not bounded, like a delivery.
    Progress,
    /// Changes a lifecycle (ICE failed, disconnected, recovered; the DCEP deadline):
    /// bounded by [`Bounds::timeouts`].
    Timeout,
    /// Sends again what was sent before: bounded by [`Bounds::retransmits`].
    Retransmission,
}

/// The class of a timer.
pub fn timer_class(timer: Timer) -> TimerClass {
    match timer {
        Timer::SctpAck | Timer::AnnounceOpen(_) => TimerClass::Progress,
        Timer::IceFailed | Timer::IceDisconnected | Timer::IceRecover | Timer::DcepHandshake(_) => {
            TimerClass::Timeout
        }
        Timer::IceCheck
        | Timer::IceKeepalive
        | Timer::DtlsRetransmit
        | Timer::SctpT1
        | Timer::SctpT3 => TimerClass::Retransmission,
    }
}

/// The label of channel `index`: `c0`, `c1`, ...
pub fn label(index: u8) -> String {
    format!("c{index}")
}

/// The channel index of a label made by [`label`].
pub fn index_of(label: &str) -> Option<u8> {
    label.strip_prefix('c')?.parse().ok()
}

/// The id of `peer`'s `seq`-th message on channel `channel`: `1cs` for `a`, `2cs` for `b`
/// (so `#100` is `a`'s first message on `c0`). Ids depend on what was sent, not on the
/// order of sends across channels, so histories that differ only in that order converge.
pub fn msg_id(peer: PeerId, channel: u8, seq: u8) -> MsgId {
    (peer.index() as MsgId + 1) * 100 + MsgId::from(channel) * 10 + MsgId::from(seq)
}

/// The first invariant a state violated.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Violation {
    /// Invariant name (see [`crate::check::names`]).
    pub invariant: String,
    /// What exactly.
    pub detail: String,
}

/// Budget spent so far (the bounds that are totals).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct Spent {
    pub(crate) channel_closes: u8,
    pub(crate) peer_closes: u8,
    pub(crate) ice_restarts: u8,
    pub(crate) timeouts: u8,
    pub(crate) retransmits: u8,
    pub(crate) drops: u8,
    pub(crate) duplications: u8,
    pub(crate) app_timers: u8,
}

impl Spent {
    /// Every count in one word, for the explorer's fingerprints (a field added here
    /// must be added to it: the pattern names them all).
    pub(crate) fn word(&self) -> u64 {
        let Spent {
            channel_closes,
            peer_closes,
            ice_restarts,
            timeouts,
            retransmits,
            drops,
            duplications,
            app_timers,
        } = *self;
        u64::from_le_bytes([
            channel_closes,
            peer_closes,
            ice_restarts,
            timeouts,
            retransmits,
            drops,
            duplications,
            app_timers,
        ])
    }
}

/// Packets in flight: (receiver, packet) -> copies.
pub(crate) type Net = BTreeMap<(PeerId, Packet), u8>;

/// One state of the world. Its pieces are shared between states until a step changes
/// them ([`Part`]), so a clone is a few reference counts and the states of a BFS level
/// share almost all their memory.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct State<A = PeerApp> {
    pub(crate) peers: [Part<Peer>; 2],
    pub(crate) net: Part<Net>,
    pub(crate) apps: [Part<A>; 2],
    pub(crate) connected: bool,
    /// Each peer's ICE credentials generation, as its last description stated it.
    pub(crate) ice_generation: [u32; 2],
    pub(crate) spent: Spent,
    pub(crate) monitor: Part<Monitor>,
    /// Boxed: almost always `None`, and a smaller state moves faster.
    pub(crate) violation: Option<Box<Violation>>,
}

impl<A> State<A> {
    /// The first invariant violated on the way here, if any.
    pub fn violation(&self) -> Option<&Violation> {
        self.violation.as_deref()
    }

    /// A peer.
    pub fn peer(&self, id: PeerId) -> &Peer {
        &self.peers[id.index()]
    }

    /// Packets in flight with their copy counts, in a fixed order.
    pub fn in_flight(&self) -> impl Iterator<Item = (PeerId, &Packet, u8)> {
        self.net.iter().map(|((to, p), n)| (*to, p, *n))
    }

    /// The application of a peer.
    pub fn app(&self, id: PeerId) -> &A {
        &self.apps[id.index()]
    }

    /// The monitor, as it stands after the last step.
    pub fn monitor(&self) -> &Monitor {
        &self.monitor
    }

    /// The network: packets in flight and their copy counts.
    pub fn net(&self) -> &BTreeMap<(PeerId, Packet), u8> {
        &self.net
    }
}

/// How a world makes the application of each peer.
type MakeApp<A> = Arc<dyn Fn(&WorldConfig, PeerId) -> A + Send + Sync>;

/// The world: its configuration, the application it runs and the rules that step it.
/// Cheap to share. Generic over the application ([`WorldApp`]): the built-in raw and
/// guarded ones ([`PeerApp`], the default) or a user's ([`crate::check::user::UserApp`]).
#[derive(Clone)]
pub struct World<A = PeerApp> {
    config: WorldConfig,
    make: MakeApp<A>,
}

impl<A> fmt::Debug for World<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("World")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl World<PeerApp> {
    /// A world of the built-in application `config.app`; the bounds must be valid
    /// ([`Bounds::validate`]).
    pub fn new(config: WorldConfig) -> Result<Self, String> {
        World::with_app(config, PeerApp::for_world)
    }
}

impl<A: WorldApp> World<A> {
    /// A world whose application on each peer `make` builds (the world's `config.app` is
    /// then not used); the bounds must be valid ([`Bounds::validate`]).
    pub fn with_app(
        config: WorldConfig,
        make: impl Fn(&WorldConfig, PeerId) -> A + Send + Sync + 'static,
    ) -> Result<Self, String> {
        config.bounds.validate()?;
        Ok(World {
            config,
            make: Arc::new(make),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &WorldConfig {
        &self.config
    }

    /// What the monitor is told about this world.
    pub fn monitor_config(&self) -> MonitorConfig {
        MonitorConfig {
            profile: self.config.profile,
            guard_max_messages: (self.make)(&self.config, PeerId::A).guard_max_messages(),
            check_derived_state: true,
        }
    }

    /// The initial state: both peers new, `a`'s channels created, nothing in flight.
    pub fn init(&self) -> State<A> {
        self.init_traced(None)
    }

    /// [`World::init`], writing what the applications do at the start to `trace`.
    fn init_traced(&self, trace: Option<&mut Trace>) -> State<A> {
        let profile = self.config.profile;
        let app = |id| (self.make)(&self.config, id);
        let (app_a, app_b) = (app(PeerId::A), app(PeerId::B));
        // Untimed: no round trip to measure, and a retransmission may come at any moment
        // anyway (the T3 timer may fire as the next action).
        let peer = PeerConfig {
            sctp_timing: false,
            ..self.config.peer
        };
        let mut a = Peer::new(PeerId::A, profile, peer);
        for ch in 0..self.config.bounds.channels {
            let call = AppCall::CreateChannel {
                label: app_a.channel_label(ch),
                negotiated: None,
                ordered: true,
                reliability: Reliability::Reliable,
            };
            // Cannot fail on a fresh peer with distinct labels, and emits nothing.
            let _ = a.handle_input(NOW, Input::App(call));
        }
        let start = app_a.wants_start() || app_b.wants_start();
        let s = State {
            peers: [Part::new(a), Part::new(Peer::new(PeerId::B, profile, peer))],
            net: Part::new(BTreeMap::new()),
            apps: [Part::new(app_a), Part::new(app_b)],
            connected: false,
            ice_generation: [0; 2],
            spent: Spent::default(),
            monitor: Part::new(Monitor::new(self.monitor_config())),
            violation: None,
        };
        if !start {
            return s;
        }
        match trace {
            Some(trace) => step::step_traced(self, &s, &Action::Start, trace, 0),
            None => step::step(self, &s, &Action::Start).unwrap_or(s),
        }
    }

    /// Every action enabled in `s`, in a fixed order: connect, application calls (`a`
    /// then `b`), timers (`a` then `b`, timer order), then for each packet in flight (in
    /// packet order) deliver, drop, duplicate. A violated state has none.
    pub fn actions(&self, s: &State<A>, out: &mut Vec<Action>) {
        let view = StateView {
            connected: s.connected,
            violated: s.violation.is_some(),
            spent: &s.spent,
            peers: [&*s.peers[0], &*s.peers[1]],
            apps: [&*s.apps[0], &*s.apps[1]],
        };
        let net = s.net.keys().map(|(to, p)| (*to, p));
        enabled_actions(&self.config.bounds, &view, net, |p| (*p).clone(), out);
    }

    /// The state after `action`, or `None` if the action is a timer firing that the
    /// untimed model cannot tell from doing nothing (no event, nothing new in flight: it
    /// only moved a retransmission timeout or disarmed a timer that had nothing to do).
    /// Does not check that the action is enabled.
    pub fn step(&self, s: &State<A>, action: &Action) -> Option<State<A>> {
        step::step(self, s, action)
    }

    /// Replays `actions` from the initial state and returns the trace, one time unit a
    /// step (the untimed model has no clock: the time column counts steps), and the final
    /// state. Every action is applied, including ones [`World::step`] would call a
    /// stutter.
    pub fn replay(&self, actions: &[Action]) -> (Trace, State<A>) {
        let mut trace = Trace::new();
        let mut s = self.init_traced(Some(&mut trace));
        for (i, a) in actions.iter().enumerate() {
            s = step::step_traced(self, &s, a, &mut trace, i as Millis + 1);
        }
        (trace, s)
    }
}

/// The pieces of a state that decide which actions are enabled, however the state is
/// stored (the [`State`] of the public API, or the explorer's interned one).
pub(crate) struct StateView<'a, A> {
    pub(crate) connected: bool,
    pub(crate) violated: bool,
    pub(crate) spent: &'a Spent,
    pub(crate) peers: [&'a Peer; 2],
    pub(crate) apps: [&'a A; 2],
}

/// Every action enabled in a state, in the fixed order of [`World::actions`]; `net`
/// lists the packets in flight in packet order, and `name` makes each one's name in the
/// action.
pub(crate) fn enabled_actions<A: WorldApp, Q, P>(
    b: &Bounds,
    s: &StateView<'_, A>,
    net: impl Iterator<Item = (PeerId, Q)>,
    name: impl Fn(&Q) -> P,
    out: &mut Vec<Action<P>>,
) {
    out.clear();
    if s.violated {
        return;
    }
    if !s.connected {
        out.push(Action::Connect);
    }
    for peer in PeerId::BOTH {
        let app = s.apps[peer.index()];
        for channel in 0..b.channels {
            if !app.knows(channel) {
                continue;
            }
            if app.may_send(channel, b.sends_per_channel) {
                out.push(Action::Send { peer, channel });
            }
            if !app.close_called(channel)
                && !app.peer_closed()
                && s.spent.channel_closes < b.channel_closes
            {
                out.push(Action::CloseChannel { peer, channel });
            }
        }
        if !app.peer_closed() && s.spent.peer_closes < b.peer_closes {
            out.push(Action::ClosePeer { peer });
        }
    }
    if s.connected && !s.apps[0].peer_closed() && s.spent.ice_restarts < b.ice_restarts {
        out.push(Action::IceRestart);
    }
    let timeouts = s.spent.timeouts < b.timeouts;
    let retransmits = s.spent.retransmits < b.retransmits;
    for peer in PeerId::BOTH {
        for (timer, _) in s.peers[peer.index()].armed_timers() {
            let allowed = match timer_class(timer) {
                TimerClass::Progress => true,
                TimerClass::Timeout => timeouts,
                TimerClass::Retransmission => retransmits,
            };
            if allowed {
                out.push(Action::Fire { peer, timer });
            }
        }
        let app = s.apps[peer.index()];
        if timeouts {
            app.for_each_expiring(|channel| out.push(Action::GuardExpiry { peer, channel }));
        }
        if s.spent.app_timers < b.app_timers && app.timer_armed() {
            out.push(Action::AppTimer { peer });
        }
    }
    for (to, packet) in net {
        out.push(Action::Deliver {
            to,
            packet: name(&packet),
        });
        if s.spent.drops < b.drops {
            out.push(Action::Drop {
                to,
                packet: name(&packet),
            });
        }
        if s.spent.duplications < b.duplications {
            out.push(Action::Duplicate {
                to,
                packet: name(&packet),
            });
        }
    }
}
