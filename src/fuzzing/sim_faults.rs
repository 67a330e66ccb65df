//! `sim_faults`: a built-in scenario with every send made guarded, under an arbitrary
//! latency, loss, seed, profile and schedule of faults (and a few disruptive application
//! calls), played on the direct engine. No invariant may be violated (every send is
//! guarded, so `no-send-on-non-open` included), and playing the same run twice must give
//! the same trace (`deterministic-replay`).

use super::{decode, Options};
use crate::check::names;
use crate::model::ProfileName;
use crate::scenario::{builtin, Action, Scenario, Step};
use crate::sim::{self, Engine, RunOptions};
use crate::trace::{EventKind, Millis, PeerId, Via};
use arbitrary::Arbitrary;

/// Most fault steps taken from one input.
pub const MAX_FAULTS: usize = 16;

/// One fuzz input.
#[derive(Arbitrary, Clone, Debug, PartialEq, Eq)]
pub struct SimFaultsInput {
    /// Which built-in (index modulo the number of built-ins, in name order).
    pub scenario: u8,
    /// The W3C profile instead of webrtc-rs.
    pub w3c: bool,
    /// The run's seed.
    pub seed: u64,
    /// One-way latency at the start, in ms.
    pub latency_ms: u8,
    /// Loss at the start, in per mille (modulo 301: at most 30 %).
    pub loss_permille: u16,
    /// Fault steps (at most [`MAX_FAULTS`] are used).
    pub faults: Vec<FaultInput>,
}

/// One step added to the scenario.
#[derive(Arbitrary, Clone, Copy, Debug, PartialEq, Eq)]
pub struct FaultInput {
    /// When, in ms (within the scenario's duration is likely, not required).
    pub at_ms: u16,
    /// What.
    pub action: FaultAction,
}

/// A fault, or an application call that disrupts the channel.
#[derive(Arbitrary, Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultAction {
    /// `partition`.
    Partition,
    /// `heal`.
    Heal,
    /// `hold`.
    Hold,
    /// `release`.
    Release,
    /// `loss` in per mille (modulo 1001).
    Loss(u16),
    /// `latency` in ms.
    Latency(u8),
    /// `crash` of peer `b` (true) or `a`.
    Crash(bool),
    /// `ice_restart` on `b` (true) or `a`.
    IceRestart(bool),
    /// `close_channel` of the scenario's first channel on `b` (true) or `a`.
    CloseChannel(bool),
    /// `close_peer` on `b` (true) or `a`.
    ClosePeer(bool),
}

fn side(b: bool) -> PeerId {
    if b {
        PeerId::B
    } else {
        PeerId::A
    }
}

impl SimFaultsInput {
    /// The scenario this input describes: the built-in with guarded sends, the network
    /// and seed of the input, and its faults added in time order.
    pub fn scenario(&self) -> Option<Scenario> {
        let names: Vec<&str> = builtin::names().map(|(name, _)| name).collect();
        if names.is_empty() {
            return None;
        }
        let name = names[usize::from(self.scenario) % names.len()];
        let mut s = builtin::get(name)?;
        s.name = format!("{name}-fuzzed");
        s.seed = Some(self.seed);
        s.profile = Some(if self.w3c {
            ProfileName::W3c
        } else {
            ProfileName::WebrtcRs
        });
        s.network.latency_ms = Millis::from(self.latency_ms);
        s.network.loss = f64::from(self.loss_permille % 301) / 1000.0;
        for step in &mut s.steps {
            if let Action::Send { via, .. } = &mut step.action {
                *via = Via::Guarded;
            }
        }
        let first_channel = s.channels.first().map(|c| c.label.clone());
        for f in self.faults.iter().take(MAX_FAULTS) {
            let action = match f.action {
                FaultAction::Partition => Action::Partition,
                FaultAction::Heal => Action::Heal,
                FaultAction::Hold => Action::Hold,
                FaultAction::Release => Action::Release,
                FaultAction::Loss(v) => Action::Loss {
                    value: f64::from(v % 1001) / 1000.0,
                },
                FaultAction::Latency(ms) => Action::Latency {
                    ms: Millis::from(ms),
                },
                FaultAction::Crash(b) => Action::Crash { peer: side(b) },
                FaultAction::IceRestart(b) => Action::IceRestart { peer: side(b) },
                FaultAction::CloseChannel(b) => match &first_channel {
                    Some(channel) => Action::CloseChannel {
                        peer: side(b),
                        channel: channel.clone(),
                    },
                    None => continue,
                },
                FaultAction::ClosePeer(b) => Action::ClosePeer { peer: side(b) },
            };
            s.steps.push(Step {
                at_ms: Millis::from(f.at_ms),
                line: 0,
                action,
            });
        }
        s.steps.sort_by_key(|st| st.at_ms);
        Some(s)
    }
}

/// Decodes fuzz bytes into a [`SimFaultsInput`] and checks it.
pub fn check_sim_faults(data: &[u8]) -> Result<(), String> {
    check_sim_faults_with(data, &Options::default())
}

/// [`check_sim_faults`] with harness options. The simulator builds its own guards from
/// the scenario, so the planted bug does not reach this target; the options are taken
/// for symmetry with the other targets.
pub fn check_sim_faults_with(data: &[u8], _options: &Options) -> Result<(), String> {
    match decode::<SimFaultsInput>(data) {
        Some(input) => run_sim_faults(&input),
        None => Ok(()),
    }
}

/// Runs the input's scenario twice on the direct engine and checks both runs.
pub fn run_sim_faults(input: &SimFaultsInput) -> Result<(), String> {
    let Some(scenario) = input.scenario() else {
        return Ok(());
    };
    let options = RunOptions {
        engine: Engine::Direct,
        ..RunOptions::default()
    };
    let report = |what: String| {
        format!(
            "sim_faults: {what}\n  reproduce: save the scenario below as fuzzed.toml, then \
             `dcsim run fuzzed.toml --engine direct`\n{}",
            scenario.to_toml()
        )
    };
    let first = sim::run(&scenario, &options).map_err(|e| report(format!("run failed: {e}")))?;
    if let Some(v) = first.trace.violations().next() {
        let what = match &v.kind {
            EventKind::Violation { invariant, detail } => {
                format!("{invariant} at {} ms: {detail}", v.t_ms)
            }
            _ => "violation".to_string(),
        };
        return Err(report(what));
    }
    let second = sim::run(&scenario, &options).map_err(|e| report(format!("run failed: {e}")))?;
    if first.trace != second.trace {
        let d = crate::trace::diff(&first.trace, &second.trace);
        return Err(report(format!(
            "{}: the same run twice gave different traces\n{}",
            names::DETERMINISTIC_REPLAY,
            d.render()
        )));
    }
    Ok(())
}
