//! Scenarios: the TOML file format (version 1), its parser and the built-in library.
//!
//! A scenario is the script of one run: the network and ICE settings, the channels peer
//! `a` creates, and the timed steps (application calls and network faults) the simulator
//! plays. Together with a seed it fixes the run, so a scenario file is also the way a
//! counterexample is shared. The format is a contract (docs/scenarios.md, "Scenario file (TOML,
//! version 1)"); this module adds two keys to it, both optional:
//!
//! - `[[channel]] create_at_start = false`: the channel is declared (so steps may name
//!   it) but only created by a `create_channel` step, e.g. after SCTP is up;
//! - `count` and `interval_ms` on a `send` step: `count` messages, the first at `at_ms`
//!   and then one every `interval_ms`, so "100 messages" is one step, not a hundred.
//!
//! Bad input is never a panic: every problem is a [`ScenarioError`] whose Display is one
//! line, `<file>:<line>: <field path>: <what is wrong>`, because the command line prints it
//! as is and exits with status 2. Field paths count array elements from 0 in file order
//! (`step[2]` is the third `[[step]]` in the file), the line points at the offending key.
//!
//! ```
//! use dcsim::scenario::{Action, Scenario};
//!
//! let text = "version = 1\nname = \"demo\"\n\n[[step]]\nat_ms = 0\naction = \"partion\"\n";
//! let err = Scenario::parse("demo.toml", text).unwrap_err();
//! assert!(err.to_string().starts_with("demo.toml:6: step[0].action: unknown action \"partion\""));
//!
//! let happy = Scenario::load("happy-path").unwrap();
//! assert_eq!(happy.steps.first().map(|s| &s.action), Some(&Action::Connect));
//! ```

pub mod builtin;
mod parse;
mod write;

use crate::model::ProfileName;
use crate::trace::{Millis, PeerId, Via};
/// A channel's reliability, as `[[channel]]` states it.
pub use crate::vocab::Reliability;
use std::fmt;
use std::path::Path;

/// The only file format version this parser reads (`version = 1`).
pub const FORMAT_VERSION: i64 = 1;

/// Upper bound of every millisecond value in a file (24 hours of virtual time).
///
/// Keeps `at_ms + latency_ms` and similar sums far from overflow in the simulator; a run
/// longer than a day of virtual time is almost certainly a typo.
pub const MAX_MS: Millis = 24 * 60 * 60 * 1000;

/// Upper bound of a `size` payload (16 MiB): well above the 65536-byte maximum message
/// size the stacks advertise, low enough that materialising the payload cannot exhaust
/// memory.
pub const MAX_PAYLOAD_SIZE: usize = 16 * 1024 * 1024;

/// Upper bound of the messages a scenario sends in all (the sum of `count` over its
/// `send` steps), so that [`Scenario::timeline`] always fits in memory.
pub const MAX_SEND_COUNT: u32 = 1_000_000;

/// One parsed scenario file: settings, channels and the steps in time order.
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    /// Short name (for built-ins, the name `dcsim run` takes).
    pub name: String,
    /// What the scenario shows, for `dcsim scenarios` and reports (empty if not given).
    pub description: String,
    /// Profile the scenario was written for; `None` lets the command line choose
    /// (`webrtc-rs` by default).
    pub profile: Option<ProfileName>,
    /// Seed the scenario was written for; `None` lets the command line choose.
    pub seed: Option<u64>,
    /// The run stops at this virtual time (default 60000).
    pub duration_ms: Millis,
    /// Link between the peers at the start of the run.
    pub network: NetworkSpec,
    /// ICE agent timeouts, the same on both peers.
    pub ice: IceSpec,
    /// Settings of the send guard used by `via = "guarded"` sends; unset fields keep the
    /// guard's own defaults.
    pub guard: GuardSpec,
    /// Channels, in file order.
    pub channels: Vec<ChannelSpec>,
    /// Steps sorted by `at_ms`; steps with the same time keep their file order.
    pub steps: Vec<Step>,
}

/// The link between the two peers (`[network]`), symmetric.
#[derive(Clone, Debug, PartialEq)]
pub struct NetworkSpec {
    /// One-way latency (default 10).
    pub latency_ms: Millis,
    /// Probability that a datagram is lost, in `0..=1` (default 0).
    pub loss: f64,
    /// A TURN relay on the path: one more hop that every datagram takes, this many ms
    /// one way on top of `latency_ms` (default 0: a direct path). A `latency` fault
    /// changes the direct leg; the relay's hop stays.
    pub relay_ms: Millis,
}

impl NetworkSpec {
    /// The one-way delay of the whole path when the direct leg takes `direct_ms`.
    pub fn path_ms(&self, direct_ms: Millis) -> Millis {
        direct_ms.saturating_add(self.relay_ms)
    }
}

impl Default for NetworkSpec {
    fn default() -> Self {
        Self {
            latency_ms: 10,
            loss: 0.0,
            relay_ms: 0,
        }
    }
}

/// ICE agent timeouts (`[ice]`). Each key the file leaves out is `None`: the run's profile
/// supplies it ([`crate::model::IceTiming::WEBRTC_RS`],
/// [`crate::model::CHROME_ICE_TIMING`] for w3c, [`crate::model::IceTiming::AIORTC`]; see
/// docs/scenarios.md), so a partial table changes only what it names ([`IceSpec::over`]).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct IceSpec {
    /// Idle time after which a connected pair is `disconnected` (0 disables).
    pub disconnected_timeout_ms: Option<Millis>,
    /// Further idle time after which it is `failed` (0 disables).
    pub failed_timeout_ms: Option<Millis>,
    /// Interval of consent checks on the selected pair.
    pub keepalive_interval_ms: Option<Millis>,
}

impl IceSpec {
    /// `base` (the run's profile timing) with the keys this table sets in place of its.
    pub fn over(&self, base: crate::model::IceTiming) -> crate::model::IceTiming {
        crate::model::IceTiming {
            disconnected_timeout_ms: self
                .disconnected_timeout_ms
                .unwrap_or(base.disconnected_timeout_ms),
            failed_timeout_ms: self.failed_timeout_ms.unwrap_or(base.failed_timeout_ms),
            keepalive_interval_ms: self
                .keepalive_interval_ms
                .unwrap_or(base.keepalive_interval_ms),
        }
    }
}

/// Settings for the send guard (`[guard]`, optional). `None` keeps the guard's default,
/// so the guard module stays the one place that defines them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GuardSpec {
    /// Most messages the guard holds per channel.
    pub max_queue_messages: Option<usize>,
    /// Most bytes the guard holds per channel.
    pub max_queue_bytes: Option<usize>,
    /// Age after which a held message is dropped as expired.
    pub ttl_ms: Option<Millis>,
    /// Hold messages while ICE is disconnected instead of sending into a dead path.
    pub hold_while_disconnected: Option<bool>,
    /// Queue messages while the channel is connecting instead of rejecting them.
    pub queue_while_connecting: Option<bool>,
}

/// One `[[channel]]`: a data channel that peer `a` creates (in-band) or both peers create
/// (negotiated). Steps name it by its label, which is unique in a file.
#[derive(Clone, Debug, PartialEq)]
pub struct ChannelSpec {
    /// Label; unique within the scenario.
    pub label: String,
    /// Negotiated out of band (both peers create it with `id`), not announced by DCEP.
    pub negotiated: bool,
    /// SCTP stream id; required with `negotiated = true`, not allowed otherwise.
    pub id: Option<u16>,
    /// Ordered delivery (default true).
    pub ordered: bool,
    /// Reliable (the default), or partially reliable: `max_retransmits = n` or
    /// `max_packet_life_time_ms = ms` (at most one of them).
    pub reliability: Reliability,
    /// Created before the run starts (default true). With `false` the channel exists only
    /// once a `create_channel` step creates it.
    pub create_at_start: bool,
}

/// One timed step of the script.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// Virtual time at which the step runs (for a multi-message send, the first message).
    pub at_ms: Millis,
    /// 1-based line of the step's `[[step]]` header, so traces and errors can point at it
    /// (0 for a step made in code rather than read from a file).
    pub line: usize,
    /// What happens.
    pub action: Action,
}

impl Step {
    /// The times at which this step acts: `at_ms + i * interval_ms` for each of the
    /// `count` messages of a send, just `at_ms` for every other action.
    pub fn times(&self) -> impl Iterator<Item = Millis> + '_ {
        let (count, interval) = match &self.action {
            Action::Send {
                count, interval_ms, ..
            } => (*count, *interval_ms),
            _ => (1, 0),
        };
        (0..u64::from(count)).map(move |i| self.at_ms.saturating_add(i.saturating_mul(interval)))
    }
}

/// One occurrence of a step on the timeline (see [`Scenario::timeline`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Scheduled<'a> {
    /// When it happens.
    pub at_ms: Millis,
    /// The step it comes from.
    pub step: &'a Step,
    /// Which message of a multi-message send, from 0 (always 0 for other actions).
    pub repeat: u32,
}

/// What a step does: an application call on one peer, or a network fault.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Action {
    /// Offer/answer exchanged, ICE starts (at most once per scenario).
    Connect,
    /// The application on `peer` sends on `channel`. Our extension: `count` messages,
    /// the first at the step's time and then one every `interval_ms`.
    Send {
        /// Sending peer (default `a`).
        peer: PeerId,
        /// Channel label.
        channel: String,
        /// The bare send (`raw`, default) or through the guard (`guarded`).
        via: Via,
        /// What is sent.
        payload: Payload,
        /// Number of messages (default 1, at least 1).
        count: u32,
        /// Time between two messages of this step (default 0: all at once, in order).
        interval_ms: Millis,
    },
    /// `createDataChannel` on `peer` for a channel declared with `create_at_start = false`.
    CreateChannel {
        /// Creating peer (default `a`).
        peer: PeerId,
        /// Channel label.
        channel: String,
    },
    /// `channel.close()` on `peer`.
    CloseChannel {
        /// Closing peer (default `a`).
        peer: PeerId,
        /// Channel label.
        channel: String,
    },
    /// `pc.close()` on `peer`.
    ClosePeer {
        /// Closing peer (default `a`).
        peer: PeerId,
    },
    /// `restartIce()` on `peer` followed by a new offer/answer.
    IceRestart {
        /// Restarting peer (default `a`).
        peer: PeerId,
    },
    /// Every datagram between the peers is dropped until `heal`.
    Partition,
    /// Ends a partition.
    Heal,
    /// Datagrams between the peers are held (not dropped) until `release`.
    Hold,
    /// Delivers held datagrams and ends the hold.
    Release,
    /// Sets the loss probability from now on.
    Loss {
        /// Probability that a datagram is lost, in `0..=1`.
        value: f64,
    },
    /// Sets the one-way latency from now on.
    Latency {
        /// One-way latency.
        ms: Millis,
    },
    /// `peer`'s host crashes: its stack stops with no close, like a killed process.
    Crash {
        /// Crashing peer (required).
        peer: PeerId,
    },
}

/// How an action shows in a trace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActionKind {
    /// An application call, written as an `app` event (`connect` included).
    App,
    /// The application's send, written as `send` events.
    Send,
    /// A network fault, written as a `fault` event.
    Fault,
}

/// One action of the scenario format: its name, the keys a step with it takes besides
/// `at_ms` and `action`, and its kind. [`ACTIONS`] is the one table the parser checks
/// steps against and [`Action::NAMES`] lists.
#[derive(Clone, Copy, Debug)]
pub struct ActionSpec {
    /// The name in files.
    pub name: &'static str,
    /// Its keys, beyond `at_ms` and `action`.
    pub keys: &'static [&'static str],
    /// How it shows in a trace.
    pub kind: ActionKind,
}

const fn action(name: &'static str, keys: &'static [&'static str], kind: ActionKind) -> ActionSpec {
    ActionSpec { name, keys, kind }
}

/// Every action, in the order the format documents them.
pub const ACTIONS: [ActionSpec; 13] = [
    action("connect", &[], ActionKind::App),
    action(
        "send",
        &[
            "peer",
            "channel",
            "via",
            "data",
            "size",
            "count",
            "interval_ms",
        ],
        ActionKind::Send,
    ),
    action("create_channel", &["peer", "channel"], ActionKind::App),
    action("close_channel", &["peer", "channel"], ActionKind::App),
    action("close_peer", &["peer"], ActionKind::App),
    action("ice_restart", &["peer"], ActionKind::App),
    action("partition", &[], ActionKind::Fault),
    action("heal", &[], ActionKind::Fault),
    action("hold", &[], ActionKind::Fault),
    action("release", &[], ActionKind::Fault),
    action("loss", &["value"], ActionKind::Fault),
    action("latency", &["ms"], ActionKind::Fault),
    action("crash", &["peer"], ActionKind::Fault),
];

impl ActionSpec {
    /// The spec of the action named `name`.
    pub fn named(name: &str) -> Option<&'static ActionSpec> {
        ACTIONS.iter().find(|a| a.name == name)
    }
}

impl Action {
    /// Every action name, in the order the format documents them (from [`ACTIONS`]).
    pub const NAMES: [&'static str; 13] = {
        let mut names = [""; 13];
        let mut i = 0;
        while i < ACTIONS.len() {
            names[i] = ACTIONS[i].name;
            i += 1;
        }
        names
    };

    /// The name used in files and in trace `fault` events.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Connect => "connect",
            Action::Send { .. } => "send",
            Action::CreateChannel { .. } => "create_channel",
            Action::CloseChannel { .. } => "close_channel",
            Action::ClosePeer { .. } => "close_peer",
            Action::IceRestart { .. } => "ice_restart",
            Action::Partition => "partition",
            Action::Heal => "heal",
            Action::Hold => "hold",
            Action::Release => "release",
            Action::Loss { .. } => "loss",
            Action::Latency { .. } => "latency",
            Action::Crash { .. } => "crash",
        }
    }

    /// The peer the action is about, if any (application calls and `crash`).
    pub fn peer(&self) -> Option<PeerId> {
        match self {
            Action::Send { peer, .. }
            | Action::CreateChannel { peer, .. }
            | Action::CloseChannel { peer, .. }
            | Action::ClosePeer { peer }
            | Action::IceRestart { peer }
            | Action::Crash { peer } => Some(*peer),
            _ => None,
        }
    }

    /// The channel the action names, if any.
    pub fn channel(&self) -> Option<&str> {
        match self {
            Action::Send { channel, .. }
            | Action::CreateChannel { channel, .. }
            | Action::CloseChannel { channel, .. } => Some(channel),
            _ => None,
        }
    }

    /// True for network faults (`partition`, `heal`, `hold`, `release`, `loss`,
    /// `latency`, `crash`): what the simulator does to the world, recorded as trace
    /// `fault` events, as opposed to application calls and `connect`.
    pub fn is_fault(&self) -> bool {
        ActionSpec::named(self.name()).is_some_and(|a| a.kind == ActionKind::Fault)
    }
}

/// What a send carries: text (`data = "..."`) or a binary message of a given size
/// (`size = N`), exactly one of the two.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Payload {
    /// A text message.
    Text(String),
    /// A binary message of this many bytes (content irrelevant).
    Size(usize),
}

impl Payload {
    /// Size on the wire in bytes (UTF-8 length for text), for max-message-size checks.
    pub fn byte_len(&self) -> usize {
        match self {
            Payload::Text(text) => text.len(),
            Payload::Size(size) => *size,
        }
    }
}

/// Why a scenario could not be read. Display is one line:
/// `<file>:<line>: <field>: <message>` (line and field are left out when unknown).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioError {
    /// The source name given to the parser, or the path / argument that was loaded.
    pub file: String,
    /// 1-based line, when the problem has one.
    pub line: Option<usize>,
    /// Dotted field path (`step[2].action`), empty when the problem is the whole file.
    pub field: String,
    /// What is wrong, naming what was expected.
    pub message: String,
}

impl ScenarioError {
    /// A new error.
    pub fn new(
        file: impl Into<String>,
        line: Option<usize>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            file: file.into(),
            line,
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Writes `text` with line breaks and other control characters escaped, so that an
/// error stays on one line whatever the input contained.
fn write_one_line(f: &mut fmt::Formatter<'_>, text: &str) -> fmt::Result {
    for c in text.chars() {
        if c.is_control() {
            write!(f, "{}", c.escape_default())?;
        } else {
            write!(f, "{c}")?;
        }
    }
    Ok(())
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_one_line(f, &self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        f.write_str(": ")?;
        if !self.field.is_empty() {
            write_one_line(f, &self.field)?;
            f.write_str(": ")?;
        }
        write_one_line(f, &self.message)
    }
}

impl std::error::Error for ScenarioError {}

impl Scenario {
    /// Parses a scenario from text. `source_name` is only used in error messages (a path,
    /// or a name such as `scenarios/happy-path.toml`).
    pub fn parse(source_name: &str, text: &str) -> Result<Scenario, ScenarioError> {
        parse::parse_str(source_name, text)
    }

    /// Parses a scenario from raw bytes, reporting invalid UTF-8 as an error (with its
    /// line) instead of requiring the caller to decode first.
    pub fn parse_bytes(source_name: &str, bytes: &[u8]) -> Result<Scenario, ScenarioError> {
        parse::parse_bytes(source_name, bytes)
    }

    /// Loads what the command line calls `SCENARIO`: a built-in name (see
    /// [`builtin::names`]) or a path to a `.toml` file. An argument ending in `.toml` or
    /// containing a path separator is always a path; otherwise a built-in name wins over
    /// a file of the same name. Reading errors are [`ScenarioError`]s too.
    pub fn load(arg: &str) -> Result<Scenario, ScenarioError> {
        let looks_like_path = arg.ends_with(".toml") || arg.contains('/') || arg.contains('\\');
        if !looks_like_path {
            if let Some(scenario) = builtin::get(arg) {
                return Ok(scenario);
            }
        }
        let path = Path::new(arg);
        if !looks_like_path && !path.exists() {
            let known: Vec<&str> = builtin::names().map(|(name, _)| name).collect();
            let hint = match parse::closest(arg, known.iter().copied()) {
                Some(near) => format!("did you mean {near:?}? "),
                None => String::new(),
            };
            return Err(ScenarioError::new(
                arg,
                None,
                "",
                format!(
                    "not a built-in scenario and no such file ({hint}built-ins: {}; \
                     `dcsim scenarios` lists them)",
                    known.join(", ")
                ),
            ));
        }
        match std::fs::read(path) {
            Ok(bytes) => Scenario::parse_bytes(arg, &bytes),
            Err(err) => Err(ScenarioError::new(
                arg,
                None,
                "",
                format!("cannot read scenario file: {err}"),
            )),
        }
    }

    /// Every occurrence of every step in the order a driver plays them: one entry per
    /// step, and one per message for a multi-message send (see [`Step::times`]).
    ///
    /// Sorted by time; at the same time, entries keep the order of [`Scenario::steps`]
    /// (so file order among steps that start together) and then message order. This is
    /// the one rule for interleaving repeated sends, written once here so that every
    /// driver plays a scenario the same way.
    pub fn timeline(&self) -> Vec<Scheduled<'_>> {
        let mut out: Vec<Scheduled<'_>> = self
            .steps
            .iter()
            .flat_map(|step| {
                step.times()
                    .zip(0u32..)
                    .map(move |(at_ms, repeat)| Scheduled {
                        at_ms,
                        step,
                        repeat,
                    })
            })
            .collect();
        out.sort_by_key(|s| s.at_ms);
        out
    }

    /// The scenario as a version 1 file (defaults written out, no comments).
    ///
    /// Parsing the result gives back an equal scenario apart from [`Step::line`], for
    /// every scenario within the parser's limits; note that TOML integers are signed, so
    /// a `seed` above `i64::MAX` cannot be written in a file.
    pub fn to_toml(&self) -> String {
        write::to_toml(self)
    }

    /// The channel with this label, if declared.
    pub fn channel(&self, label: &str) -> Option<&ChannelSpec> {
        self.channels.iter().find(|c| c.label == label)
    }
}
