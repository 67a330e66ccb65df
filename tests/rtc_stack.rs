//! The real `rtc` 0.21.1 stack behind the `Stack` trait, driven by a tiny in-memory pump:
//! two peers, a fixed one-way latency, virtual time stepped to the earliest of the pending
//! deliveries and both peers' deadlines. No sockets, no turmoil, no clock reads beyond the
//! one base instant.

use dcsim::model::{DataChannelState, IceConnectionState, PeerConnectionState};
use dcsim::rtc_stack::{RtcConfig, RtcStack};
use dcsim::stack::{AppCall, Callback, Reliability, Stack, StackEvent, StateChange};
use dcsim::trace::{Millis, PeerId};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Instant;

const LATENCY: Millis = 10;
const CHAT: &str = "chat";

/// One observed event: when, on which peer, what.
type Entry = (Millis, PeerId, StackEvent);

/// Two real peers and the wire between them.
struct Pair {
    stacks: [RtcStack; 2],
    now: Millis,
    /// In flight: (delivery time, sequence) -> (receiver, bytes).
    wire: BTreeMap<(Millis, u64), (PeerId, Vec<u8>)>,
    seq: u64,
    /// From this time on every datagram is lost (in flight or new).
    partition_at: Option<Millis>,
    /// Per receiver, the time the last STUN packet was delivered.
    last_stun: [Option<Millis>; 2],
    timeline: Vec<Entry>,
    /// The last offer A made (its ICE credentials and fingerprint are random).
    offer: String,
}

fn addr(peer: PeerId) -> SocketAddr {
    match peer {
        PeerId::A => SocketAddr::from(([10, 0, 0, 1], 5000)),
        PeerId::B => SocketAddr::from(([10, 0, 0, 2], 5000)),
    }
}

/// RFC 7983 demultiplexing: a first byte of 0..=3 is STUN.
fn is_stun(datagram: &[u8]) -> bool {
    datagram.first().is_some_and(|b| *b <= 3)
}

impl Pair {
    fn new(base: Instant) -> Self {
        Self::with_config(RtcConfig::new(base))
    }

    fn with_config(config: RtcConfig) -> Self {
        let make = |peer: PeerId| {
            RtcStack::new(peer, addr(peer), addr(peer.other()), config.clone())
                .unwrap_or_else(|e| panic!("peer {peer}: {e}"))
        };
        let mut pair = Pair {
            stacks: [make(PeerId::A), make(PeerId::B)],
            now: 0,
            wire: BTreeMap::new(),
            seq: 0,
            partition_at: None,
            last_stun: [None, None],
            timeline: Vec::new(),
            offer: String::new(),
        };
        pair.drain();
        pair
    }

    fn stack(&mut self, peer: PeerId) -> &mut RtcStack {
        &mut self.stacks[peer.index()]
    }

    fn app(&mut self, peer: PeerId, call: AppCall) -> dcsim::stack::AppResult {
        let now = self.now;
        let result = self.stack(peer).handle_app(now, call);
        self.drain();
        result
    }

    fn send(&mut self, peer: PeerId, msg: u64) -> Result<(), String> {
        let call = AppCall::Send {
            channel: CHAT.into(),
            msg,
            size: 100,
        };
        self.app(peer, call).map_err(String::from)
    }

    /// Offer/answer at the current time.
    fn connect(&mut self) {
        let now = self.now;
        let offer = self.stacks[0].create_description(now).expect("offer");
        self.stacks[1]
            .apply_remote_description(now, &offer)
            .expect("apply offer");
        let answer = self.stacks[1].create_description(now).expect("answer");
        self.stacks[0]
            .apply_remote_description(now, &answer)
            .expect("apply answer");
        self.offer = offer;
        self.drain();
    }

    /// Moves everything the stacks produced onto the wire and into the timeline.
    fn drain(&mut self) {
        for peer in PeerId::BOTH {
            while let Some(datagram) = self.stacks[peer.index()].poll_transmit() {
                let at = self.now + LATENCY;
                if self.partition_at.is_none_or(|p| at < p) {
                    self.wire.insert((at, self.seq), (peer.other(), datagram));
                    self.seq += 1;
                }
            }
            while let Some(event) = self.stacks[peer.index()].poll_event() {
                self.timeline.push((self.now, peer, event));
            }
        }
    }

    fn partition(&mut self) {
        self.partition_at = Some(self.now);
        self.wire.clear();
    }

    fn heal(&mut self) {
        self.partition_at = None;
    }

    /// The next time something happens, if any.
    fn next(&self) -> Option<Millis> {
        let wire = self.wire.keys().next().map(|(at, _)| *at);
        [
            wire,
            self.stacks[0].poll_timeout(),
            self.stacks[1].poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Runs until `until` (inclusive).
    fn run_until(&mut self, until: Millis) {
        let mut steps = 0u32;
        while let Some(next) = self.next().filter(|t| *t <= until) {
            steps += 1;
            assert!(steps < 1_000_000, "the pump spins at {} ms", self.now);
            self.now = self.now.max(next);
            while let Some(entry) = self.wire.first_entry() {
                if entry.key().0 > self.now {
                    break;
                }
                let (to, datagram) = entry.remove();
                if is_stun(&datagram) {
                    self.last_stun[to.index()] = Some(self.now);
                }
                let now = self.now;
                self.stack(to).handle_datagram(now, &datagram);
                self.drain();
            }
            for peer in PeerId::BOTH {
                if self.stacks[peer.index()]
                    .poll_timeout()
                    .is_some_and(|t| t <= self.now)
                {
                    let now = self.now;
                    self.stack(peer).handle_timeout(now);
                    self.drain();
                }
            }
        }
        self.now = self.now.max(until);
    }

    /// Runs until `done` holds for the timeline, at most until `limit`.
    fn run_until_seen(&mut self, limit: Millis, done: impl Fn(&[Entry]) -> bool) {
        while !done(&self.timeline) {
            let Some(next) = self.next().filter(|t| *t <= limit) else {
                panic!("not seen by {limit} ms; timeline:\n{}", self.render());
            };
            self.run_until(next);
        }
    }

    /// The first time `pred` matched an event of `peer`.
    fn first(&self, peer: PeerId, pred: impl Fn(&StackEvent) -> bool) -> Option<Millis> {
        self.timeline
            .iter()
            .find(|(_, p, e)| *p == peer && pred(e))
            .map(|(t, _, _)| *t)
    }

    fn render(&self) -> String {
        render(&self.timeline)
    }

    fn problems(&self) -> Vec<String> {
        self.stacks
            .iter()
            .flat_map(|s| s.problems().iter().cloned())
            .collect()
    }
}

fn render(timeline: &[Entry]) -> String {
    timeline
        .iter()
        .map(|(t, peer, event)| format!("{t:>6} {peer} {}\n", describe(event)))
        .collect()
}

fn describe(event: &StackEvent) -> String {
    match event {
        StackEvent::State(change) => {
            let (from, to) = change.strings();
            match change.channel() {
                Some(label) => format!("{} {label} {from} -> {to}", change.machine()),
                None => format!("{} {from} -> {to}", change.machine()),
            }
        }
        StackEvent::Callback { channel, callback } => {
            format!("callback {channel} {}", callback.as_str())
        }
        StackEvent::Message { channel, msg, .. } => format!("message {channel} #{msg}"),
    }
}

fn ice_to(state: IceConnectionState) -> impl Fn(&StackEvent) -> bool {
    move |e| matches!(e, StackEvent::State(StateChange::IceConnection(_, to)) if *to == state)
}

fn pc_to(state: PeerConnectionState) -> impl Fn(&StackEvent) -> bool {
    move |e| matches!(e, StackEvent::State(StateChange::PeerConnection(_, to)) if *to == state)
}

fn machine_to(machine: &'static str, state: &'static str) -> impl Fn(&StackEvent) -> bool {
    move |e| match e {
        StackEvent::State(change) => {
            change.machine().as_str() == machine && change.strings().1 == state
        }
        _ => false,
    }
}

fn callback(label: &'static str, cb: Callback) -> impl Fn(&StackEvent) -> bool {
    move |e| match e {
        StackEvent::Callback { channel, callback } => channel == label && *callback == cb,
        _ => false,
    }
}

fn opened(peer: PeerId) -> impl Fn(&[Entry]) -> bool {
    move |timeline| {
        timeline
            .iter()
            .any(|(_, p, e)| *p == peer && callback(CHAT, Callback::Open)(e))
    }
}

fn both_open(timeline: &[Entry]) -> bool {
    opened(PeerId::A)(timeline) && opened(PeerId::B)(timeline)
}

/// A pair with an in-band ordered channel "chat" created by A, connected at 0, run until
/// the channel is open on both sides.
fn open_pair(config: RtcConfig) -> Pair {
    let mut pair = Pair::with_config(config);
    pair.app(
        PeerId::A,
        AppCall::CreateChannel {
            label: CHAT.into(),
            negotiated: None,
            ordered: true,
            reliability: Reliability::Reliable,
        },
    )
    .expect("create channel");
    pair.connect();
    pair.run_until_seen(5_000, both_open);
    pair
}

/// The times of the milestones of connection setup, per peer.
fn milestones(pair: &Pair) -> String {
    let mut out = String::new();
    for peer in PeerId::BOTH {
        let t = |pred: &dyn Fn(&StackEvent) -> bool| {
            pair.first(peer, pred)
                .map_or("-".to_owned(), |t| format!("{t} ms"))
        };
        out += &format!(
            "{peer}: ice connected {}, dtls connected {}, pc connected {}, sctp connected {}, \
             open {}\n",
            t(&ice_to(IceConnectionState::Connected)),
            t(&machine_to("dtls", "connected")),
            t(&pc_to(PeerConnectionState::Connected)),
            t(&machine_to("sctp", "connected")),
            t(&callback(CHAT, Callback::Open)),
        );
    }
    out
}

#[test]
fn happy_path_opens_and_delivers_in_order() {
    let mut pair = open_pair(RtcConfig::new(Instant::now()));
    println!("{}", pair.render());
    println!("{}", milestones(&pair));

    // Prompt timing with 10 ms one-way latency (see the rtc_stack module docs).
    let at = |peer, pred: &dyn Fn(&StackEvent) -> bool| pair.first(peer, pred);
    assert_eq!(
        at(PeerId::A, &ice_to(IceConnectionState::Connected)),
        Some(40)
    );
    assert_eq!(
        at(PeerId::B, &ice_to(IceConnectionState::Connected)),
        Some(30)
    );
    assert_eq!(at(PeerId::A, &machine_to("dtls", "connected")), Some(80));
    assert_eq!(at(PeerId::B, &machine_to("dtls", "connected")), Some(90));
    assert_eq!(
        at(PeerId::A, &pc_to(PeerConnectionState::Connected)),
        Some(80)
    );
    assert_eq!(
        at(PeerId::B, &pc_to(PeerConnectionState::Connected)),
        Some(90)
    );
    assert_eq!(at(PeerId::A, &machine_to("sctp", "connected")), Some(120));
    assert_eq!(at(PeerId::B, &machine_to("sctp", "connected")), Some(130));
    assert_eq!(at(PeerId::B, &callback(CHAT, Callback::Open)), Some(130));
    assert_eq!(at(PeerId::A, &callback(CHAT, Callback::Open)), Some(140));
    // A crate quirk, pinned: A's SCTP transport reads `closed` while its server-side
    // association waits for the COOKIE ECHO (the association state is Closed until then,
    // and `RTCSctpTransport::state` tests is_closed before is_handshaking).
    assert_eq!(at(PeerId::A, &machine_to("sctp", "closed")), Some(100));
    assert!(pair
        .first(PeerId::B, callback(CHAT, Callback::DataChannel))
        .is_some());
    assert_eq!(
        pair.stack(PeerId::A).channel_state(CHAT),
        Some(DataChannelState::Open)
    );
    assert_eq!(
        pair.stack(PeerId::B).channel_state(CHAT),
        Some(DataChannelState::Open)
    );

    for msg in 0..10 {
        pair.send(PeerId::A, msg).expect("send on an open channel");
    }
    let sent_at = pair.now;
    pair.run_until(sent_at + 1_000);
    let received: Vec<(Millis, u64)> = pair
        .timeline
        .iter()
        .filter_map(|(t, peer, e)| match e {
            StackEvent::Message { channel, msg, .. } if *peer == PeerId::B && channel == CHAT => {
                Some((*t, *msg))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        received.iter().map(|(_, m)| *m).collect::<Vec<_>>(),
        (0..10).collect::<Vec<_>>()
    );
    assert!(received.iter().all(|(t, _)| *t == sent_at + LATENCY));
    assert_eq!(pair.problems(), Vec::<String>::new());
}

#[test]
fn without_the_wake_after_events_dtls_waits_for_the_ice_tick() {
    let config = RtcConfig {
        wake_after_events: false,
        ..RtcConfig::new(Instant::now())
    };
    let pair = open_pair(config);
    println!("{}", milestones(&pair));
    let a_ice = pair.first(PeerId::A, ice_to(IceConnectionState::Connected));
    let a_pc = pair.first(PeerId::A, pc_to(PeerConnectionState::Connected));
    assert_eq!(a_ice, Some(40));
    assert_eq!(a_pc, Some(250));
}

#[test]
fn raw_send_before_open_is_refused() {
    let mut pair = Pair::new(Instant::now());
    pair.app(
        PeerId::A,
        AppCall::CreateChannel {
            label: CHAT.into(),
            negotiated: None,
            ordered: true,
            reliability: Reliability::Reliable,
        },
    )
    .expect("create channel");
    assert_eq!(
        pair.stack(PeerId::A).channel_state(CHAT),
        Some(DataChannelState::Connecting)
    );
    assert_eq!(
        pair.send(PeerId::A, 0),
        Err("data channel is not open yet".to_owned())
    );
    // Still refused while ICE is checking.
    pair.connect();
    pair.run_until(15);
    assert_eq!(
        pair.send(PeerId::A, 1),
        Err("data channel is not open yet".to_owned())
    );
}

/// A total partition 1 s (and, for a second phase of the keepalive cycle, 4.5 s) after
/// open.
///
/// Reasoning: only STUN refreshes ICE's `last_received` (data does not). While connected,
/// each peer sends a consent request every keepalive interval (2 s), checked on the ICE
/// tick, which is 200 ms whatever the state (`rtc-ice` `get_timeout_interval` starts from
/// the 200 ms default check interval and only ever lowers it); the other answers. So each
/// peer receives STUN at least every 2 s + one tick + a round trip, and the last STUN
/// received, `t`, lies within `[P - 2.2 s - 2 * latency, P)` for a partition at `P`. The
/// tick then runs every 200 ms exactly (the pump fires every deadline on time), so
/// `disconnected` comes on the first tick with `now - t > 5 s`, in `(t + 5.0 s, t + 5.2 s]`,
/// and `failed` on the first with `now - t > 5 s + 25 s`, in `(t + 30.0 s, t + 30.2 s]`.
/// The peer connection changes in the same drain (its event comes first: the crate queues
/// it before the ICE event that caused it).
#[test]
fn partition_gives_disconnected_then_failed() {
    for delay in [1_000, 4_500] {
        let mut pair = open_pair(RtcConfig::new(Instant::now()));
        let open = pair.now;
        pair.run_until(open + delay);
        let partition = pair.now;
        pair.partition();
        pair.run_until(partition + 31_000);
        println!("{}", pair.render());

        for peer in PeerId::BOTH {
            let last = pair.last_stun[peer.index()].expect("STUN received before the partition");
            let disconnected = pair
                .first(peer, ice_to(IceConnectionState::Disconnected))
                .expect("ICE disconnected");
            let failed = pair
                .first(peer, ice_to(IceConnectionState::Failed))
                .expect("ICE failed");
            println!(
                "{peer}: partition {partition} ms, last STUN received {last} ms, \
                 ice disconnected {disconnected} ms (+{}), failed {failed} ms (+{})",
                disconnected - last,
                failed - last
            );
            assert!(last < partition && last + 2_200 + 2 * LATENCY >= partition);
            assert!(
                disconnected > last + 5_000 && disconnected <= last + 5_200,
                "{peer}: disconnected at {disconnected}, last STUN at {last}"
            );
            assert!(
                failed > last + 30_000 && failed <= last + 30_200,
                "{peer}: failed at {failed}, last STUN at {last}"
            );
            assert_eq!(
                pair.first(peer, pc_to(PeerConnectionState::Disconnected)),
                Some(disconnected)
            );
            assert_eq!(
                pair.first(peer, pc_to(PeerConnectionState::Failed)),
                Some(failed)
            );
            // ICE failure closes nothing.
            assert_eq!(
                pair.stack(peer).channel_state(CHAT),
                Some(DataChannelState::Open)
            );
            assert_eq!(pair.first(peer, callback(CHAT, Callback::Close)), None);
            assert_eq!(
                pair.first(peer, machine_to("sctp", "closed"))
                    .filter(|t| *t > open),
                None
            );
            assert_eq!(pair.first(peer, machine_to("dtls", "closed")), None);
            // A crate quirk, pinned: the DCEP message (OPEN on A, ACK on B) counts in the
            // stream's buffered amount, so its SACK fires bufferedamountlow although the
            // application sent nothing.
            assert!(pair
                .first(peer, callback(CHAT, Callback::BufferedAmountLow))
                .is_some_and(|t| t < partition));
        }
        // Sends after failure still "succeed" into the dead path.
        assert_eq!(pair.send(PeerId::A, 99), Ok(()));
        assert_eq!(pair.problems(), Vec::<String>::new());
    }
}

#[test]
fn close_peer_refuses_sends_and_closes_the_remote_channel() {
    let mut pair = open_pair(RtcConfig::new(Instant::now()));
    let closed_at = pair.now;
    pair.app(PeerId::A, AppCall::ClosePeer).expect("close peer");
    assert_eq!(
        pair.send(PeerId::A, 0),
        Err("data channel closed".to_owned())
    );
    pair.run_until(closed_at + 100);
    println!("{}", pair.render());
    let b_close = pair.first(PeerId::B, callback(CHAT, Callback::Close));
    assert_eq!(b_close, Some(closed_at + LATENCY));
    assert_eq!(
        pair.stack(PeerId::B).channel_state(CHAT),
        Some(DataChannelState::Closed)
    );
    assert_eq!(
        pair.send(PeerId::B, 1),
        Err("data channel closed".to_owned())
    );
    // A's own channel: no close callback (the crate drops it on pc.close()), and its
    // readyState still reads `open` (pc.close() leaves the channel registry alone).
    assert_eq!(pair.first(PeerId::A, callback(CHAT, Callback::Close)), None);
    assert_eq!(
        pair.stack(PeerId::A).channel_state(CHAT),
        Some(DataChannelState::Open)
    );
    // A reports its peer connection, DTLS and SCTP closed; its ICE and signaling states go
    // closed inside the crate without an event.
    assert_eq!(
        pair.first(PeerId::A, pc_to(PeerConnectionState::Closed)),
        Some(closed_at)
    );
    assert_eq!(
        pair.first(PeerId::A, ice_to(IceConnectionState::Closed)),
        None
    );
    // B: SCTP and DTLS closed, ICE and the peer connection still connected.
    assert_eq!(
        pair.first(PeerId::B, machine_to("dtls", "closed")),
        Some(closed_at + LATENCY)
    );
    assert_eq!(
        pair.first(PeerId::B, pc_to(PeerConnectionState::Closed)),
        None
    );
    assert_eq!(pair.problems(), Vec::<String>::new());
}

/// The event timeline (virtual time, peer, event) replays exactly, although every run
/// draws fresh randomness (ICE credentials, certificate, SCTP tags, DTLS randoms).
#[test]
fn two_runs_give_identical_timelines() {
    let run = || {
        let mut pair = open_pair(RtcConfig::new(Instant::now()));
        for msg in 0..5 {
            pair.send(PeerId::A, msg).expect("send");
        }
        let now = pair.now;
        pair.run_until(now + 500);
        pair.app(
            PeerId::B,
            AppCall::CloseChannel {
                channel: CHAT.into(),
            },
        )
        .expect("close channel");
        let now = pair.now;
        pair.run_until(now + 500);
        pair.partition();
        let now = pair.now;
        pair.run_until(now + 32_000);
        (pair.timeline, pair.offer)
    };
    let (first, first_offer) = run();
    let (second, second_offer) = run();
    assert_eq!(render(&first), render(&second));
    assert_eq!(first, second);
    // ... although the bytes differ (fresh ICE credentials, certificate, SCTP tags).
    assert_ne!(first_offer, second_offer);
}

/// ICE restart (A calls restartIce, then a new offer/answer) while connected, and after
/// ICE failed: back to checking, connected one round trip later, and the channel (which
/// nothing closed) carries messages again. After failure the agent has deleted its
/// candidates, so the stack adds its host candidate again before the new description.
#[test]
fn ice_restart_recovers_the_path() {
    for fail_first in [false, true] {
        let mut pair = open_pair(RtcConfig::new(Instant::now()));
        let open = pair.now;
        let failed_from = if fail_first {
            pair.partition();
            pair.run_until(open + 31_000);
            pair.heal();
            assert!(pair
                .first(PeerId::A, ice_to(IceConnectionState::Failed))
                .is_some());
            IceConnectionState::Failed
        } else {
            pair.run_until(open + 1_000);
            IceConnectionState::Connected
        };
        let restart = pair.now;
        pair.app(PeerId::A, AppCall::IceRestart)
            .expect("restart requested");
        pair.connect();
        pair.run_until(restart + 1_000);
        pair.send(PeerId::A, 7).expect("send after the restart");
        let sent = pair.now;
        pair.run_until(sent + 100);

        let since = |peer: PeerId, pred: &dyn Fn(&StackEvent) -> bool| {
            pair.timeline
                .iter()
                .find(|(t, p, e)| *t >= restart && *p == peer && pred(e))
                .map(|(t, _, _)| *t)
        };
        for peer in PeerId::BOTH {
            let to_checking = move |e: &StackEvent| match e {
                StackEvent::State(StateChange::IceConnection(from, to)) => {
                    *from == failed_from && *to == IceConnectionState::Checking
                }
                _ => false,
            };
            assert_eq!(since(peer, &to_checking), Some(restart), "{peer}");
            assert_eq!(
                pair.stacks[peer.index()].channel_state(CHAT),
                Some(DataChannelState::Open)
            );
        }
        assert_eq!(
            since(PeerId::B, &ice_to(IceConnectionState::Connected)),
            Some(restart + 30)
        );
        assert_eq!(
            since(PeerId::A, &ice_to(IceConnectionState::Connected)),
            Some(restart + 40)
        );
        assert_eq!(
            since(PeerId::B, &|e| matches!(
                e,
                StackEvent::Message { msg: 7, .. }
            )),
            Some(sent + LATENCY)
        );
        assert_eq!(pair.problems(), Vec::<String>::new());
    }
}

/// The crate's send check looks at the SCTP stream, not readyState: between the
/// DATA_CHANNEL_OPEN (A's SCTP up, 120 ms) and the ACK (140 ms) an in-band channel reads
/// `connecting` on A but a send succeeds, and the message is delivered.
#[test]
fn send_between_dcep_open_and_ack_succeeds_while_connecting() {
    let mut pair = Pair::new(Instant::now());
    pair.app(
        PeerId::A,
        AppCall::CreateChannel {
            label: CHAT.into(),
            negotiated: None,
            ordered: true,
            reliability: Reliability::Reliable,
        },
    )
    .expect("create channel");
    pair.connect();
    pair.run_until(125);
    assert_eq!(
        pair.stack(PeerId::A).channel_state(CHAT),
        Some(DataChannelState::Connecting)
    );
    assert_eq!(pair.send(PeerId::A, 5), Ok(()));
    pair.run_until(300);
    assert_eq!(
        pair.first(PeerId::B, |e| matches!(
            e,
            StackEvent::Message { msg: 5, .. }
        )),
        Some(135)
    );
}

/// A negotiated channel (both peers create it with the same id) opens on both sides when
/// SCTP comes up, with no DCEP and no datachannel callback.
#[test]
fn negotiated_channel_opens_with_sctp() {
    let mut pair = Pair::new(Instant::now());
    for peer in PeerId::BOTH {
        pair.app(
            peer,
            AppCall::CreateChannel {
                label: CHAT.into(),
                negotiated: Some(3),
                ordered: true,
                reliability: Reliability::Reliable,
            },
        )
        .expect("create channel");
    }
    pair.connect();
    pair.run_until_seen(5_000, both_open);
    println!("{}", pair.render());
    for peer in PeerId::BOTH {
        assert_eq!(
            pair.first(peer, callback(CHAT, Callback::Open)),
            pair.first(peer, machine_to("sctp", "connected"))
        );
        assert_eq!(
            pair.first(peer, callback(CHAT, Callback::DataChannel)),
            None
        );
    }
    pair.send(PeerId::B, 1).expect("send");
    let now = pair.now;
    pair.run_until(now + 100);
    assert_eq!(
        pair.first(PeerId::A, |e| matches!(
            e,
            StackEvent::Message { msg: 1, .. }
        )),
        Some(now + LATENCY)
    );

    // A crate quirk, pinned: a negotiated channel created once SCTP is up is open at once
    // (readyState) but gets no open callback (create_data_channel dials it directly).
    let late = pair.now;
    for peer in PeerId::BOTH {
        pair.app(
            peer,
            AppCall::CreateChannel {
                label: "late".into(),
                negotiated: Some(5),
                ordered: true,
                reliability: Reliability::Reliable,
            },
        )
        .expect("create late channel");
        assert_eq!(
            pair.stack(peer).channel_state("late"),
            Some(DataChannelState::Open)
        );
    }
    pair.run_until(late + 100);
    for peer in PeerId::BOTH {
        let late_open = |e: &StackEvent| match e {
            StackEvent::State(StateChange::DataChannel(label, from, to)) => {
                label == "late"
                    && *from == DataChannelState::Connecting
                    && *to == DataChannelState::Open
            }
            _ => false,
        };
        assert_eq!(pair.first(peer, late_open), Some(late));
        assert_eq!(pair.first(peer, callback("late", Callback::Open)), None);
    }
    assert_eq!(pair.problems(), Vec::<String>::new());
}

/// The DATA_CHANNEL_OPEN is lost (partition just after A's SCTP came up): A's channel stays
/// `connecting` until the DCEP handshake timeout, then closes with a close callback.
#[test]
fn lost_dcep_open_times_out() {
    let config = RtcConfig {
        dcep_handshake_timeout_ms: Some(2_000),
        ..RtcConfig::new(Instant::now())
    };
    let mut pair = Pair::with_config(config);
    pair.app(
        PeerId::A,
        AppCall::CreateChannel {
            label: CHAT.into(),
            negotiated: None,
            ordered: true,
            reliability: Reliability::Reliable,
        },
    )
    .expect("create channel");
    pair.connect();
    pair.run_until(120);
    pair.partition();
    pair.run_until(5_000);
    println!("{}", pair.render());
    let sctp_up = pair.first(PeerId::A, machine_to("sctp", "connected"));
    assert_eq!(sctp_up, Some(120));
    assert_eq!(
        pair.first(PeerId::A, callback(CHAT, Callback::Close)),
        Some(2_120)
    );
    assert_eq!(
        pair.first(PeerId::A, machine_to("data_channel", "closed")),
        Some(2_120)
    );
    assert_eq!(pair.first(PeerId::A, callback(CHAT, Callback::Open)), None);
    assert_eq!(
        pair.send(PeerId::A, 0),
        Err("data channel closed".to_owned())
    );
}

/// A finding about rtc 0.21.1: the DCEP deadline closes a channel whose OPEN was lost,
/// and its SCTP stream id is free at once, before the reset is answered. A new in-band
/// channel created then takes the same id; the remote, which gets the first channel's
/// OPEN late, opens *that* channel on the id; the new one never opens (its OPEN finds the
/// stream taken) and no deadline closes it; a send on it is accepted while `connecting`
/// (see `send_between_dcep_open_and_ack_succeeds_while_connecting`) and never delivered
/// nor reported: a silent loss. (`assign_stream_ids` in
/// rtc-0.21.1/src/data_channel/registry.rs skips only the ids still in the registry, and
/// the deadline's close removes the channel from it.) The model gives the new channel a fresh id instead (it keeps
/// the id until the reset is answered, as RFC 8831 section 6.7 requires); this is the
/// deviation `dcep-deadline-reuses-stream` (docs/conformance.md).
#[test]
fn a_channel_created_after_the_dcep_deadline_reuses_the_stream_and_never_opens() {
    let config = RtcConfig {
        dcep_handshake_timeout_ms: Some(2_000),
        ..RtcConfig::new(Instant::now())
    };
    let mut pair = Pair::with_config(config);
    let create = |label: &str| AppCall::CreateChannel {
        label: label.into(),
        negotiated: None,
        ordered: true,
        reliability: Reliability::Reliable,
    };
    pair.app(PeerId::A, create(CHAT)).expect("create chat");
    pair.connect();
    pair.run_until(120);
    pair.partition();
    pair.run_until(2_121);
    assert_eq!(
        pair.stack(PeerId::A).channel_state(CHAT),
        Some(DataChannelState::Closed)
    );
    let chat_stream = pair.stack(PeerId::A).channel_stream(CHAT);
    pair.app(PeerId::A, create("late")).expect("create late");
    pair.heal();
    pair.run_until(3_700);
    println!("{}", pair.render());
    let late_stream = pair.stack(PeerId::A).channel_stream("late");
    assert_eq!(chat_stream, Some(1));
    assert_eq!(late_stream, chat_stream, "the stream id is reused at once");
    // The remote opened the closed channel from its late OPEN; the new one stays
    // connecting.
    assert_eq!(
        pair.stack(PeerId::B).channel_state(CHAT),
        Some(DataChannelState::Open)
    );
    assert_eq!(pair.stack(PeerId::B).channel_state("late"), None);
    assert_eq!(
        pair.stack(PeerId::A).channel_state("late"),
        Some(DataChannelState::Connecting)
    );
    pair.app(
        PeerId::A,
        AppCall::Send {
            channel: "late".into(),
            msg: 7,
            size: 10,
        },
    )
    .expect("a send while connecting is accepted");
    pair.run_until(40_000);
    println!("{}", pair.render());
    assert_eq!(
        pair.stack(PeerId::A).channel_state("late"),
        Some(DataChannelState::Connecting)
    );
    assert_eq!(
        pair.first(PeerId::B, machine_to("data_channel", "closed")),
        Some(4_130),
        "the reset of the old channel closes it at the remote"
    );
    let on_b: Vec<(String, u64, Option<u16>)> = pair
        .timeline
        .iter()
        .filter(|(_, peer, _)| *peer == PeerId::B)
        .filter_map(|(_, _, e)| match e {
            StackEvent::Message {
                channel,
                msg,
                stream,
                ..
            } => Some((channel.clone(), *msg, *stream)),
            _ => None,
        })
        .collect();
    assert_eq!(on_b, [], "message 7 is accepted and lost");
}
