//! The bug library: publicly reported data-channel lifecycle bugs, each as a scenario
//! (`scenarios/bugs/`) and a symptom read off the trace, with the verdict pinned per
//! target: the model in each profile, and the real `rtc` 0.21.1 stack.
//!
//! A user asks "is my stack exposed to this?" by running the scenario (`dcsim run
//! bug-...`) or the whole library (`dcsim bugs`). A verdict is *exposed* (the run shows
//! the symptom, and the evidence says where), *not exposed* (it does not, with why), or
//! *not expressible* (dcsim cannot play the sequence yet, with what is missing). The
//! pinned verdicts are tested (`tests/bugs.rs`), and the README's bug table is rendered
//! from this same data ([`table`]).

#[cfg(all(feature = "webrtc-adapter", feature = "rtc-stack"))]
pub mod slow_consumer;

use crate::drive::{self, App, Calls};
use crate::model::ProfileName;
use crate::scenario::{builtin, Scenario};
use crate::sim::{self, RunOptions, StackKind};
use crate::stack::{Callback, StackEvent};
use crate::trace::{EventKind, Machine, MsgId, PeerId, SendOutcome, Trace, Via};
use std::collections::{BTreeMap, BTreeSet};

/// Where a bug scenario is played.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Target {
    /// The model, `webrtc-rs` profile.
    ModelWebrtcRs,
    /// The real `rtc` 0.21.1 stack.
    Rtc,
    /// The model, `w3c` profile (browsers).
    W3c,
    /// The model, `aiortc` profile.
    Aiortc,
    /// The async `webrtc` 0.21.1 crate (over rtc 0.21.1) on the dcsim runtime, for the
    /// bugs that have an async player.
    AsyncWebrtc,
}

impl Target {
    /// Every target, in the table's column order.
    pub const ALL: [Target; 5] = [
        Target::ModelWebrtcRs,
        Target::Rtc,
        Target::W3c,
        Target::Aiortc,
        Target::AsyncWebrtc,
    ];

    /// The column heading.
    pub fn as_str(self) -> &'static str {
        match self {
            Target::ModelWebrtcRs => "webrtc-rs model",
            Target::Rtc => "rtc 0.21.1",
            Target::W3c => "w3c",
            Target::Aiortc => "aiortc",
            Target::AsyncWebrtc => "webrtc 0.21.1 async",
        }
    }

    /// How the simulator plays this target; `None` for the async crate, which is not
    /// played by the simulator.
    fn options(self) -> Option<RunOptions> {
        let (profile, stack) = match self {
            Target::ModelWebrtcRs => (ProfileName::WebrtcRs, StackKind::Model),
            Target::Rtc => (ProfileName::WebrtcRs, StackKind::Rtc),
            Target::W3c => (ProfileName::W3c, StackKind::Model),
            Target::Aiortc => (ProfileName::Aiortc, StackKind::Model),
            Target::AsyncWebrtc => return None,
        };
        Some(RunOptions {
            profile: Some(profile),
            stack,
            ..RunOptions::default()
        })
    }
}

/// What a target shows of a bug.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The run shows the symptom.
    Exposed,
    /// The run does not show it.
    NotExposed,
    /// dcsim cannot play the sequence yet.
    NotExpressible,
    /// Not played on this target (the async crate plays only the bugs of its own layer).
    NotPlayed,
}

impl Verdict {
    /// As the table prints it.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Exposed => "exposed",
            Verdict::NotExposed => "not exposed",
            Verdict::NotExpressible => "not expressible",
            Verdict::NotPlayed => "-",
        }
    }
}

/// Who plays a bug's scenario.
#[derive(Clone, Copy, Debug)]
pub enum Player {
    /// The scenario's script, on every sans-IO target.
    Script,
    /// An application that reacts (through the seam; the scenario's own `send` steps are
    /// left out), on every sans-IO target.
    App(fn() -> sim::AppFactory),
    /// Code written against the async `webrtc` 0.21.1 crate, on the dcsim runtime: for a
    /// bug that lives in the async crate's own layer, which the sans-IO targets do not
    /// have.
    Async(fn(&Scenario) -> Result<Trace, String>),
}

/// Reads a bug's symptom off a trace: `Some(evidence)` when the trace shows it.
pub type Symptom = fn(&Trace) -> Option<String>;

/// One public bug report.
#[derive(Clone, Copy, Debug)]
pub struct Bug {
    /// The public thread, `owner/repo#number`.
    pub thread: &'static str,
    /// What was reported, in a few words.
    pub title: &'static str,
    /// The scenario (`scenarios/bugs/<name>.toml`), if dcsim can play it.
    pub scenario: Option<&'static str>,
    /// How a trace shows the bug (with a scenario).
    pub symptom: Option<Symptom>,
    /// Who plays the scenario.
    pub player: Player,
    /// The verdicts measured and pinned, in [`Target::ALL`] order.
    pub pinned: [Verdict; 5],
    /// Why: the reason for each verdict that is not obvious (a fix, what is missing).
    pub why: &'static str,
}

impl Bug {
    /// The public thread's web address.
    pub fn url(&self) -> String {
        let (repo, number) = self.thread.split_once('#').unwrap_or((self.thread, ""));
        format!("https://github.com/{repo}/issues/{number}")
    }

    /// Plays the scenario on `target`: the verdict and its evidence (the symptom's line,
    /// or why it is not expressible).
    pub fn play(&self, target: Target) -> Result<(Verdict, String), String> {
        let (Some(name), Some(symptom)) = (self.scenario, self.symptom) else {
            let verdict = match target {
                Target::AsyncWebrtc => Verdict::NotPlayed,
                _ => Verdict::NotExpressible,
            };
            return Ok((verdict, self.why.to_string()));
        };
        let scenario: Scenario =
            builtin::get(name).ok_or_else(|| format!("no bug scenario named {name:?}"))?;
        let trace = match (self.player, target.options()) {
            (Player::Async(play), None) => play(&scenario)?,
            (Player::Async(_), Some(_)) => {
                let why = "a bug of the async crate's own layer, which a sans-IO target has not";
                return Ok((Verdict::NotExpressible, why.to_string()));
            }
            (_, None) => return Ok((Verdict::NotPlayed, String::new())),
            (Player::Script, Some(options)) => {
                sim::run_apps(&scenario, &options, &sim::script_apps())?.trace
            }
            (Player::App(make), Some(options)) => {
                sim::run_apps(&scenario, &options, &make())?.trace
            }
        };
        Ok(match symptom(&trace) {
            Some(evidence) => (Verdict::Exposed, evidence),
            None => (Verdict::NotExposed, String::new()),
        })
    }
}

const EX: Verdict = Verdict::Exposed;
const NE: Verdict = Verdict::NotExposed;
const NX: Verdict = Verdict::NotExpressible;
const NP: Verdict = Verdict::NotPlayed;

/// The library, in table order.
pub const BUGS: &[Bug] = &[
    Bug {
        thread: "webrtc-rs/webrtc#826",
        title: "send before open returned Ok and the data vanished",
        scenario: Some("bug-send-before-open-vanishes"),
        symptom: Some(accepted_before_open_and_lost),
        player: Player::Script,
        pinned: [NE, NE, NE, NE, NP],
        why: "0.21.1 refuses a send before the DCEP OPEN (\"data channel is not open yet\", \
              `ensure_sendable` checks the stream); a send between the OPEN and its ACK is \
              accepted while `connecting` and delivered (reported as no-send-on-non-open).",
    },
    Bug {
        thread: "webrtc-rs/webrtc#901",
        title: "first message after DCEP open lost when the path is a relay",
        scenario: Some("bug-first-message-over-relay-lost"),
        symptom: Some(sent_open_and_lost),
        player: Player::App(send_on_open),
        pinned: [NE, NE, NE, NE, NP],
        why: "a sans-IO stack takes the OPEN before the DATA behind it in the same packet \
              and opens the channel first, relay or not. The bug was the async driver's \
              TURN ingest path, fixed in webrtc 0.21.1 (PR #902: events for a channel \
              not yet registered are retained, `stage_data_channel_event`); not played \
              on the async crate, whose simulated network has no TURN server.",
    },
    Bug {
        thread: "webrtc-rs/webrtc#858",
        title: "a slow consumer loses inbound messages on a reliable channel (also #860)",
        scenario: Some("bug-slow-consumer-loses-messages"),
        symptom: Some(accepted_and_lost),
        player: Player::Async(slow_consumer_on_async),
        pinned: [NX, NX, NX, NX, NE],
        why: "a bug of the async crate's driver queue between its sans-IO core and the \
              application; a sans-IO stack hands each message over as an event (rtc \
              queues them unbounded), so the sans-IO targets have no such queue. On the \
              async crate a reader taking 10 ms a message gets all 1000 of a burst, in \
              order: a full queue now retains the event (webrtc 0.21.1 \
              `peer_connection/driver.rs`, `stage_data_channel_event`).",
    },
    Bug {
        thread: "webrtc-rs/webrtc#776",
        title: "an unordered channel with max_retransmits 0 closes after one lost packet",
        scenario: Some("bug-unordered-closes-after-loss"),
        symptom: Some(closed_by_itself),
        player: Player::Script,
        pinned: [NE, NE, NE, NE, NP],
        why: "still open upstream, reported against an earlier release; on rtc 0.21.1 \
              (and in the model) the lost message is abandoned at its retransmission \
              timeout, a FORWARD-TSN skips it (rtc-sctp `abandon_retransmit_candidate`), \
              it is reported undelivered, and the channel stays open.",
    },
    Bug {
        thread: "webrtc-rs/webrtc#517",
        title: "close does not wait for the reset: messages lost on pc.close",
        scenario: Some("bug-pc-close-loses-messages"),
        symptom: Some(accepted_and_lost),
        player: Player::Script,
        pinned: [NE, NE, NE, NE, NP],
        why: "messages accepted before pc.close() in the same millisecond are already on \
              the wire and arrive; what pc.close() loses on webrtc-rs is every later send \
              (see the pc-close-check-then-send built-in).",
    },
    Bug {
        thread: "webrtc-rs/webrtc#468",
        title: "a browser's close leaves the channel in closing",
        scenario: Some("bug-remote-close-stuck-closing"),
        symptom: Some(left_closing),
        player: Player::Script,
        pinned: [NE, NE, NE, NE, NP],
        why: "the stream reset is answered and both sides reach `closed` (0.21.1 and the \
              profiles alike).",
    },
    Bug {
        thread: "webrtc-rs/rtc#228",
        title: "open reported before SCTP is established",
        scenario: Some("bug-open-before-sctp"),
        symptom: Some(open_before_sctp),
        player: Player::Script,
        pinned: [NE, NE, NE, NE, NP],
        why: "0.21.1 opens a channel only after its association is up.",
    },
    Bug {
        thread: "webrtc-rs/rtc#199",
        title: "both peers pick odd stream ids",
        scenario: Some("bug-both-peers-odd-stream-ids"),
        symptom: Some(same_stream_parity),
        player: Player::Script,
        pinned: [NE, NE, NE, NE, NP],
        why: "fixed in 0.21.1: `assign_stream_ids` (rtc/src/data_channel/registry.rs) \
              assigns ids by DTLS role at the SCTP connected procedure, even for the \
              client and odd for the server.",
    },
    Bug {
        thread: "pion/webrtc#1063",
        title: "open fires before the ACK; writes right after open are lost",
        scenario: Some("bug-write-right-after-open-lost"),
        symptom: Some(sent_open_and_lost),
        player: Player::App(send_on_open),
        pinned: [NE, NE, NE, NE, NP],
        why: "a message written right after open goes behind the DCEP OPEN on the same \
              ordered stream and is delivered after the remote opens.",
    },
    Bug {
        thread: "pion/webrtc#1270",
        title: "a silent stall under 2.5% loss while ICE reads connected",
        scenario: Some("bug-stall-under-loss"),
        symptom: Some(stalled),
        player: Player::Script,
        pinned: [NE, NE, NE, NE, NP],
        why: "SCTP retransmits the lost chunks within a round trip or two; no delivery \
              waits 5 s.",
    },
    Bug {
        thread: "openai/openai-realtime-console#547",
        title: "InvalidStateError storm after ICE failed",
        scenario: Some("bug-invalid-state-storm"),
        symptom: Some(storm_after_failed),
        player: Player::Script,
        pinned: [EX, EX, EX, EX, NP],
        why: "after ICE gives up, webrtc-rs and w3c keep the channel `open` and accept \
              every send into a dead association (lost); aiortc closes everything on \
              consent expiry and every send then fails. The guard rejects them with a \
              reason instead.",
    },
];

/// The application of pion/webrtc#1063: on each peer, the moment a channel reports
/// `open`, it writes three messages with the bare send (from inside the open handler).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct SendOnOpen;

impl App for SendOnOpen {
    fn on_event(&mut self, event: &StackEvent, calls: &mut Calls<'_>) {
        if let StackEvent::Callback {
            channel,
            callback: Callback::Open,
        } = event
        {
            for _ in 0..3 {
                let _ = calls.send(channel, 16);
            }
        }
    }
}

/// webrtc-rs/webrtc#858 on the async crate ([`slow_consumer`]), when dcsim is built with
/// it.
fn slow_consumer_on_async(scenario: &Scenario) -> Result<Trace, String> {
    #[cfg(all(feature = "webrtc-adapter", feature = "rtc-stack"))]
    {
        slow_consumer::play(scenario)
    }
    #[cfg(not(all(feature = "webrtc-adapter", feature = "rtc-stack")))]
    {
        let _ = scenario;
        Err(
            "this dcsim was built without the webrtc crate (features webrtc-adapter and rtc-stack)"
                .into(),
        )
    }
}

fn send_on_open() -> sim::AppFactory {
    drive::apps(|_| SendOnOpen)
}

/// The table of the README: one row per bug, the pinned verdicts.
pub fn table() -> String {
    let mut out = String::from("| scenario | public thread |");
    for target in Target::ALL {
        out.push_str(&format!(" {} |", target.as_str()));
    }
    out.push_str("\n|---|---|");
    for _ in Target::ALL {
        out.push_str("---|");
    }
    out.push('\n');
    for bug in BUGS {
        let scenario = bug.scenario.map_or("-".to_string(), |s| format!("`{s}`"));
        out.push_str(&format!(
            "| {scenario} | [{}]({}): {} |",
            bug.thread,
            bug.url(),
            bug.title
        ));
        for verdict in bug.pinned {
            out.push_str(&format!(" {} |", verdict.as_str()));
        }
        out.push('\n');
    }
    out
}

/// What the trace says about messages: who sent which (raw, accepted) when and in what
/// state, and when each was delivered.
struct Messages {
    /// msg -> (time, peer, state at the call) of accepted raw sends.
    accepted: BTreeMap<MsgId, (u64, PeerId, String)>,
    delivered: BTreeMap<MsgId, u64>,
}

impl Messages {
    fn of(trace: &Trace) -> Messages {
        let mut accepted = BTreeMap::new();
        let mut delivered = BTreeMap::new();
        for e in &trace.events {
            match (&e.kind, e.peer) {
                (
                    EventKind::Send {
                        msg,
                        via: Via::Raw,
                        state,
                        outcome: SendOutcome::Sent,
                        ..
                    },
                    Some(peer),
                ) => {
                    accepted.insert(*msg, (e.t_ms, peer, state.clone()));
                }
                (EventKind::Deliver { msg, .. }, _) => {
                    delivered.entry(*msg).or_insert(e.t_ms);
                }
                _ => {}
            }
        }
        Messages {
            accepted,
            delivered,
        }
    }

    /// The first accepted message, sent in a state `state_ok` allows, never delivered.
    fn lost(&self, state_ok: impl Fn(&str) -> bool) -> Option<String> {
        self.accepted
            .iter()
            .find(|(m, (_, _, state))| state_ok(state) && !self.delivered.contains_key(m))
            .map(|(m, (t, peer, state))| {
                format!("{peer}: #{m} sent at {t} ms while {state}, accepted, never delivered")
            })
    }
}

fn accepted_before_open_and_lost(trace: &Trace) -> Option<String> {
    Messages::of(trace).lost(|state| state != "open")
}

fn accepted_and_lost(trace: &Trace) -> Option<String> {
    Messages::of(trace).lost(|_| true)
}

fn sent_open_and_lost(trace: &Trace) -> Option<String> {
    Messages::of(trace).lost(|state| state == "open")
}

/// A channel whose last state on some peer is `closing`.
fn left_closing(trace: &Trace) -> Option<String> {
    let mut last: BTreeMap<(PeerId, String), (u64, String)> = BTreeMap::new();
    for e in &trace.events {
        if let (
            EventKind::State {
                machine: Machine::DataChannel,
                channel: Some(label),
                to,
                ..
            },
            Some(peer),
        ) = (&e.kind, e.peer)
        {
            last.insert((peer, label.clone()), (e.t_ms, to.clone()));
        }
    }
    last.into_iter()
        .find(|(_, (_, to))| to == "closing")
        .map(|((peer, label), (t, _))| {
            format!("{peer}: {label} went to closing at {t} ms and stayed there")
        })
}

/// A channel left `open` (for closing or closed) with no close called before it on
/// either peer.
fn closed_by_itself(trace: &Trace) -> Option<String> {
    let mut closed_by_app = false;
    for e in &trace.events {
        match (&e.kind, e.peer) {
            (EventKind::App { action, .. }, _)
                if action == "close_channel" || action == "close_peer" =>
            {
                closed_by_app = true;
            }
            (
                EventKind::State {
                    machine: Machine::DataChannel,
                    channel: Some(label),
                    from,
                    to,
                },
                Some(peer),
            ) if from == "open" && (to == "closing" || to == "closed") && !closed_by_app => {
                return Some(format!(
                    "{peer}: {label} went from open to {to} at {} ms, and nobody closed it",
                    e.t_ms
                ));
            }
            _ => {}
        }
    }
    None
}

/// A channel reported open on a peer before that peer's SCTP transport read connected.
fn open_before_sctp(trace: &Trace) -> Option<String> {
    let mut sctp_up: BTreeSet<PeerId> = BTreeSet::new();
    for e in &trace.events {
        let (
            EventKind::State {
                machine,
                channel,
                to,
                ..
            },
            Some(peer),
        ) = (&e.kind, e.peer)
        else {
            continue;
        };
        match machine {
            Machine::Sctp if to == "connected" => {
                sctp_up.insert(peer);
            }
            Machine::DataChannel if to == "open" && !sctp_up.contains(&peer) => {
                let label = channel.as_deref().unwrap_or("?");
                return Some(format!(
                    "{peer}: {label} open at {} ms before SCTP was connected",
                    e.t_ms
                ));
            }
            _ => {}
        }
    }
    None
}

/// Both peers send on in-band channels whose stream ids have the same parity.
fn same_stream_parity(trace: &Trace) -> Option<String> {
    let mut first: BTreeMap<PeerId, (String, u16)> = BTreeMap::new();
    for e in &trace.events {
        if let (
            EventKind::Send {
                channel,
                stream: Some(id),
                ..
            },
            Some(peer),
        ) = (&e.kind, e.peer)
        {
            first.entry(peer).or_insert((channel.clone(), *id));
        }
    }
    let (a, b) = (first.get(&PeerId::A)?, first.get(&PeerId::B)?);
    (a.1 % 2 == b.1 % 2).then(|| {
        format!(
            "a's {} on stream {} and b's {} on stream {}: the same parity",
            a.0, a.1, b.0, b.1
        )
    })
}

/// A message accepted and not delivered within 5 s (or never).
fn stalled(trace: &Trace) -> Option<String> {
    const STALL_MS: u64 = 5000;
    let messages = Messages::of(trace);
    messages
        .accepted
        .iter()
        .find_map(|(m, (t, peer, _))| match messages.delivered.get(m) {
            None => Some(format!("{peer}: #{m} sent at {t} ms, never delivered")),
            Some(at) if at - t >= STALL_MS => Some(format!(
                "{peer}: #{m} sent at {t} ms, delivered {} ms later",
                at - t
            )),
            Some(_) => None,
        })
}

/// Ten or more raw sends after ICE gave up (`failed`, or `closed` where the stack
/// closes on consent expiry, as aiortc does) that failed or were accepted and lost.
fn storm_after_failed(trace: &Trace) -> Option<String> {
    const STORM: usize = 10;
    let (failed_at, how) = trace.events.iter().find_map(|e| match &e.kind {
        EventKind::State {
            machine: Machine::IceConnection,
            to,
            ..
        } if to == "failed" || to == "closed" => Some((e.t_ms, to.clone())),
        _ => None,
    })?;
    let delivered = Messages::of(trace).delivered;
    let (mut errors, mut lost) = (0usize, 0usize);
    for e in trace.events.iter().filter(|e| e.t_ms >= failed_at) {
        if let EventKind::Send {
            msg,
            via: Via::Raw,
            outcome,
            ..
        } = &e.kind
        {
            match outcome {
                SendOutcome::Error => errors += 1,
                SendOutcome::Sent if !delivered.contains_key(msg) => lost += 1,
                _ => {}
            }
        }
    }
    (errors + lost >= STORM).then(|| {
        format!(
            "after ICE went {how} at {failed_at} ms: {errors} sends failed, {lost} accepted and lost"
        )
    })
}
