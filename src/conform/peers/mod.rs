//! Conformance against real peers that dcsim cannot drive in-process (headless Chromium,
//! aiortc): their players (`conformance/<peer>/play.sh`) record a scenario as a dcsim
//! trace; [`conform_recorded`] runs the model with the matching profile on the same
//! scenario and compares the two traces the way [`super::conform`] compares the `rtc`
//! stack.
//!
//! A recorded run is a directory: `<name>.jsonl` is the real peer's trace of scenario
//! `<name>`; `<name>.toml`, when present, is the scenario the player actually played (a
//! variant of the built-in, e.g. a partition played as "the remote vanishes"), else the
//! built-in `<name>` is used; `skipped.txt` lists the scenarios the peer cannot express,
//! one `<name>: <reason>` a line.
//!
//! Each peer has [`PeerRules`] (its own module): the sequences it cannot report (dropped
//! from both traces), its known deviations from the spec (rewritten in its trace, as the
//! `rtc` deviations are) and its timing tolerance. Real peers run on wall-clock time, so
//! their tolerance is theirs, not the simulator's 250 ms, and their times are measured
//! from each run's own anchor events (the steps, the faults, the offers: [`anchor`]), so
//! that a browser that starts late or a vanish the player times on the peer's own report
//! moves nothing but what it causes.

pub mod aiortc;
pub mod anchor;
pub mod chromium;

use super::normalize::{Key, Normalized};
use super::{compare_normalized, ConformReport, Deviation};
use crate::model::ProfileName;
use crate::scenario::Scenario;
use crate::sim::{self, Engine, RunOptions, StackKind};
use crate::trace::{Machine, Millis, PeerId, Trace};
use std::path::Path;

/// How conformance treats one real peer.
#[derive(Clone, Copy, Debug)]
pub struct PeerRules {
    /// Name on the command line and in the table.
    pub name: &'static str,
    /// The model profile the peer is compared with (a `ProfileName` string).
    pub profile: &'static str,
    /// Sequences the peer cannot report: dropped from both traces.
    pub unreported: fn(&Key) -> bool,
    /// The peer's known deviations from the spec, rewritten in its trace.
    pub deviations: &'static [Deviation],
    /// Largest time difference between the same event in the model and the peer.
    pub tolerance_ms: Millis,
}

/// The key of a peer's (channel-less) machine states.
fn state_key(peer: PeerId, machine: Machine) -> Key {
    Key::State {
        peer,
        machine,
        channel: None,
    }
}

/// Moves the real side's events of `peer` (its states and callbacks, every message
/// fate, and the send outcomes too if `sends`) that fall in one of the closed `windows`
/// by `delta` ms, keeping each sequence in time order: for deviations whose timing is
/// the peer's own (a randomized consent check, a slower check interval), so that what
/// follows from that moment is compared at the model's time.
fn shift_windows(
    real: &mut Normalized,
    peer: PeerId,
    windows: &[(Millis, Millis)],
    delta: i64,
    sends: bool,
) {
    for (key, seq) in real.seqs.iter_mut() {
        let moved = match key {
            Key::State { peer: p, .. } | Key::Callbacks { peer: p, .. } => *p == peer,
            Key::Fate { .. } => true,
            Key::Send { .. } => sends,
            Key::Steps { .. } => false,
        };
        if !moved {
            continue;
        }
        for s in seq.iter_mut() {
            if windows
                .iter()
                .any(|&(from, to)| s.t_ms >= from && s.t_ms <= to)
            {
                s.t_ms = s.t_ms.saturating_add_signed(delta);
            }
        }
        seq.sort_by_key(|s| s.t_ms);
    }
}

/// The real peers with a player.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RealPeer {
    /// Headless Chromium (`conformance/browser/`), against the `w3c` profile.
    Chromium,
    /// aiortc (`conformance/aiortc/`), against the `aiortc` profile.
    Aiortc,
}

impl RealPeer {
    /// Every peer.
    pub const ALL: [RealPeer; 2] = [RealPeer::Chromium, RealPeer::Aiortc];

    /// The peer's rules.
    pub fn rules(self) -> &'static PeerRules {
        match self {
            RealPeer::Chromium => &chromium::RULES,
            RealPeer::Aiortc => &aiortc::RULES,
        }
    }

    /// Parses `chromium` or `aiortc`.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.rules().name == text)
    }

    /// The model profile the peer is compared with.
    pub fn profile(self) -> Result<ProfileName, String> {
        let name = self.rules().profile;
        ProfileName::parse(name)
            .ok_or_else(|| format!("profile `{name}` of peer {self:?} is not in this build"))
    }
}

/// Compares a real peer's recorded trace of `scenario` with the model's run of it.
pub fn conform_recorded(
    peer: RealPeer,
    scenario: &Scenario,
    recorded: Trace,
    tolerance_ms: Option<Millis>,
) -> Result<ConformReport, String> {
    let rules = peer.rules();
    let model = sim::run(
        scenario,
        &RunOptions {
            seed: None,
            profile: Some(peer.profile()?),
            stack: StackKind::Model,
            engine: Engine::Direct,
        },
    )?;
    let outcome = compare_normalized(
        &model.trace,
        &recorded,
        rules.deviations,
        rules.unreported,
        tolerance_ms.unwrap_or(rules.tolerance_ms),
        |model_n, real_n| {
            anchor::rebase(&model.trace, model_n, &recorded, real_n);
        },
    );
    Ok(ConformReport {
        scenario: scenario.name.clone(),
        seed: model.seed,
        model: model.trace,
        real: recorded,
        outcome,
        lossy: false,
        real_name: rules.name,
    })
}

/// A recorded run, compared: one report per trace, and the skipped scenarios.
#[derive(Clone, Debug)]
pub struct RecordedRun {
    /// One report per `<name>.jsonl`, in name order.
    pub reports: Vec<ConformReport>,
    /// `(scenario, reason)` from `skipped.txt`.
    pub skipped: Vec<(String, String)>,
}

/// Compares every trace of a recorded run directory (see the module docs). Errors are
/// one line naming the file.
pub fn conform_dir(
    peer: RealPeer,
    dir: &Path,
    tolerance_ms: Option<Millis>,
) -> Result<RecordedRun, String> {
    let read = |path: &Path| {
        std::fs::read_to_string(path).map_err(|e| format!("{}: cannot read: {e}", path.display()))
    };
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("{}: cannot read: {e}", dir.display()))?;
    let mut traces = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(|e| format!("{}: cannot read: {e}", dir.display()))?
            .path();
        if path.extension().is_some_and(|x| x == "jsonl") {
            traces.push(path);
        }
    }
    traces.sort();
    let mut reports = Vec::new();
    for path in &traces {
        let recorded = Trace::from_jsonl(&read(path)?)
            .map_err(|e| format!("{}:{}: {}", path.display(), e.line, e.message))?;
        let variant = path.with_extension("toml");
        let scenario = if variant.is_file() {
            Scenario::load(&variant.to_string_lossy()).map_err(|e| e.to_string())?
        } else {
            let name = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            Scenario::load(&name).map_err(|_| {
                format!(
                    "{}: no `{name}.toml` beside it and no built-in scenario `{name}`",
                    path.display()
                )
            })?
        };
        let report = conform_recorded(peer, &scenario, recorded, tolerance_ms)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        reports.push(report);
    }
    let mut skipped = Vec::new();
    let skipped_file = dir.join("skipped.txt");
    if skipped_file.is_file() {
        for (i, line) in read(&skipped_file)?.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let (name, reason) = line.split_once(':').ok_or_else(|| {
                format!(
                    "{}:{}: expected `<scenario>: <reason>`",
                    skipped_file.display(),
                    i + 1
                )
            })?;
            skipped.push((name.trim().to_string(), reason.trim().to_string()));
        }
    }
    if reports.is_empty() && skipped.is_empty() {
        return Err(format!("{}: no recorded traces (*.jsonl)", dir.display()));
    }
    Ok(RecordedRun { reports, skipped })
}
