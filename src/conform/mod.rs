//! Differential conformance: the model against the real `rtc` 0.21.1 stack, under the
//! same simulator, seed and faults.
//!
//! [`conform`] runs one scenario twice on the turmoil simulator
//! ([`crate::sim::run`]), once with the model peer and once with [`crate::rtc_stack`],
//! both in the `webrtc-rs` profile (the real stack is the crate; a scenario's `profile`
//! is overridden), then compares the two traces:
//!
//! 1. each trace is flattened into timed value sequences by [`normalize()`]: per peer and
//!    machine the states entered, per channel the callbacks, per message the send
//!    outcomes (with the error text) and the fate, per peer the application steps;
//!    what the real stack cannot report is dropped from both ([`normalize::DROPPED`]);
//! 2. the tolerated [`deviations::DEVIATIONS`] rewrite the real trace into what the spec
//!    says (and the model does); each one that changed something is reported;
//! 3. [`compare()`] requires equal values in equal order for every sequence and equal
//!    times within [`ConformOptions::tolerance_ms`].
//!
//! Scheduled faults (partition, hold, release, latency, crash) hit both stacks alike.
//! Random loss does not: the stacks send different datagrams, so one seed drops
//! different protocol messages on each ([`ConformReport::lossy`]); no built-in scenario
//! is lossy.
//!
//! A scenario **agrees**, agrees up to **known deviations**, or **diverges**
//! ([`Verdict`]). [`render_table`] prints `scenario | result | first divergence`.
//!
//! # Timing tolerance: 250 ms
//!
//! With the model mirroring the crate's handshake (ICE nomination after a successful
//! check, DTLS flights, the SCTP four-way handshake, DCEP), its keepalive phase, its
//! delayed SACKs and its chunk bundling, every event of every built-in scenario happens
//! at the same virtual millisecond on both stacks but one: the 65536-byte message of
//! `oversize-message` arrives 80 ms later on the crate, which fragments it into
//! 1191-byte packets sent under SCTP slow start (about four extra round trips); the
//! model sends it whole.
//!
//! The tolerance absorbs such simplifications and the timing of other drivers, each
//! measured at up to about 200 ms:
//!
//! - one ICE contact tick: `disconnected` and `failed` are decided on a 200 ms grid, so
//!   the right rule on a grid of another phase is up to 200 ms off;
//! - one delayed-SACK interval (200 ms): `bufferedamountlow` and SACK-driven events move
//!   by it when two stacks packetize differently (the model did, before it bundled);
//! - the async `webrtc` wake-up pattern ([`crate::rtc_stack::RtcConfig`]
//!   `wake_after_events = false`) opens the channel about 170 ms later (310 instead of
//!   140 ms: the "DTLS stall").
//!
//! 250 ms covers any one of these plus rounding and a one-way latency, and stays far
//! below what conformance must catch: a wrong keepalive phase or interval, a lost
//! consent response or a wrong timeout rule moves ICE `disconnected` / `failed` by one
//! keepalive interval (2 s) or more. A relative tolerance (±10 %) would allow ±3 s at
//! `failed` (30 s), enough to hide exactly that, so none is used.

pub mod compare;
pub mod deviations;
pub mod normalize;
pub mod peers;

pub use compare::{compare, Comparison, Divergence, Shift};
pub use deviations::{Deviation, Handling, DEVIATIONS};
pub use normalize::{normalize, Key, Normalized, Timed};

use crate::model::ProfileName;
use crate::scenario::{Action, Scenario};
use crate::sim::{self, RunOptions, StackKind};
use crate::trace::{Millis, Trace};
use std::fmt::Write as _;

/// The default timing tolerance (see the module docs for why 250 ms).
pub const DEFAULT_TOLERANCE_MS: Millis = 250;

/// Choices of a conformance run.
#[derive(Clone, Debug)]
pub struct ConformOptions {
    /// Seed of both runs (default: the scenario's, else 0).
    pub seed: Option<u64>,
    /// Largest time difference between the same event on the two stacks.
    pub tolerance_ms: Millis,
}

impl Default for ConformOptions {
    fn default() -> Self {
        ConformOptions {
            seed: None,
            tolerance_ms: DEFAULT_TOLERANCE_MS,
        }
    }
}

/// A known deviation that showed in a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KnownHit {
    /// The deviation's id (see [`DEVIATIONS`]).
    pub id: &'static str,
    /// The first thing it rewrote.
    pub first: String,
}

/// The outcome of comparing one pair of traces.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Same values, same order, times within the tolerance.
    Agree,
    /// Agree once the listed known deviations are accounted for.
    Known,
    /// Divergences remain.
    Diverge,
}

/// What comparing a model trace with a real trace found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// Known deviations that showed (and were rewritten).
    pub known: Vec<KnownHit>,
    /// What remains different, earliest first.
    pub divergences: Vec<Divergence>,
    /// The largest time difference within the tolerance.
    pub max_shift: Option<Shift>,
}

impl Outcome {
    /// The verdict.
    pub fn verdict(&self) -> Verdict {
        if !self.divergences.is_empty() {
            Verdict::Diverge
        } else if self.known.is_empty() {
            Verdict::Agree
        } else {
            Verdict::Known
        }
    }
}

/// Compares a model trace with a real-stack trace of the same scenario (steps 1-3 of the
/// module docs).
pub fn compare_traces(model: &Trace, real: &Trace, tolerance_ms: Millis) -> Outcome {
    compare_traces_with(model, real, DEVIATIONS, |_| false, tolerance_ms)
}

/// [`compare_traces`] with another peer's deviations, and without the sequences that
/// `unreported` names (dropped from both traces).
pub fn compare_traces_with(
    model: &Trace,
    real: &Trace,
    deviations: &[Deviation],
    unreported: fn(&Key) -> bool,
    tolerance_ms: Millis,
) -> Outcome {
    compare_normalized(model, real, deviations, unreported, tolerance_ms, |_, _| {})
}

/// [`compare_traces_with`], with `retime(model, real)` applied to the real side's
/// normalized trace before anything else (a real peer's times measured from its own anchors:
/// [`peers::anchor`]).
pub fn compare_normalized(
    model: &Trace,
    real: &Trace,
    deviations: &[Deviation],
    unreported: fn(&Key) -> bool,
    tolerance_ms: Millis,
    retime: impl FnOnce(&Normalized, &mut Normalized),
) -> Outcome {
    let mut model_n = normalize(model);
    let mut real_n = normalize(real);
    retime(&model_n, &mut real_n);
    model_n.seqs.retain(|k, _| !unreported(k));
    real_n.seqs.retain(|k, _| !unreported(k));
    let mut known = Vec::new();
    for d in deviations {
        if let Handling::Tolerated(rewrite) = d.handling {
            if let Some(first) = rewrite(&mut real_n, &model_n) {
                known.push(KnownHit { id: d.id, first });
            }
        }
    }
    let Comparison {
        divergences,
        max_shift,
    } = compare(&model_n, &real_n, tolerance_ms);
    Outcome {
        known,
        divergences,
        max_shift,
    }
}

/// One scenario run on both stacks, and how the traces compare.
#[derive(Clone, Debug)]
pub struct ConformReport {
    /// Scenario name.
    pub scenario: String,
    /// Seed of both runs.
    pub seed: u64,
    /// The model's trace.
    pub model: Trace,
    /// The real stack's trace.
    pub real: Trace,
    /// The comparison.
    pub outcome: Outcome,
    /// The scenario loses datagrams at random (`[network] loss` or a `loss` step). The
    /// two stacks send different datagrams (the real one more STUN, DTLS records of other
    /// sizes), so the same seed loses different protocol messages on each: such a run
    /// shows what each stack does under loss, it is not a like-for-like comparison.
    pub lossy: bool,
    /// What the real side is (`rtc`, `chromium`, `aiortc`), for the details.
    pub real_name: &'static str,
}

impl ConformReport {
    /// True unless divergences remain (known deviations are accepted).
    pub fn agrees(&self) -> bool {
        self.outcome.verdict() != Verdict::Diverge
    }

    /// The table's result cell: `agree`, `known deviation: <ids>`, or `DIVERGE (n)`.
    pub fn result(&self) -> String {
        let ids: Vec<&str> = self.outcome.known.iter().map(|k| k.id).collect();
        match self.outcome.verdict() {
            Verdict::Agree => "agree".to_string(),
            Verdict::Known => format!("known deviation: {}", ids.join(", ")),
            Verdict::Diverge => {
                let n = self.outcome.divergences.len();
                let lossy = if self.lossy {
                    "; random loss: not like for like"
                } else {
                    ""
                };
                if ids.is_empty() {
                    format!("DIVERGE ({n}{lossy})")
                } else {
                    format!("DIVERGE ({n}{lossy}); known: {}", ids.join(", "))
                }
            }
        }
    }

    /// The table's first-divergence cell: the first divergence, else what the first known
    /// deviation rewrote, else `-`.
    pub fn first(&self) -> String {
        if let Some(d) = self.outcome.divergences.first() {
            d.to_string()
        } else if let Some(k) = self.outcome.known.first() {
            k.first.clone()
        } else {
            "-".to_string()
        }
    }

    /// Every divergence and known deviation, and the events of both traces around the
    /// first divergence: the counterexample `dcsim conform` prints.
    pub fn render_details(&self) -> String {
        let mut out = format!("== {} (seed {})\n", self.scenario, self.seed);
        for k in &self.outcome.known {
            let _ = writeln!(out, "known deviation {}: {}", k.id, k.first);
        }
        for d in &self.outcome.divergences {
            let _ = writeln!(out, "diverges: {d}");
        }
        if let Some(s) = &self.outcome.max_shift {
            let _ = writeln!(out, "largest shift within tolerance: {s}");
        }
        if let Some(d) = self.outcome.divergences.first() {
            let t = d.t_ms();
            let window = |trace: &Trace| -> String {
                let excerpt = Trace {
                    events: trace
                        .events
                        .iter()
                        .filter(|e| e.t_ms + 300 >= t && e.t_ms <= t + 300)
                        .cloned()
                        .collect(),
                };
                excerpt.render_text()
            };
            let _ = writeln!(
                out,
                "-- model, {} ms to {} ms",
                t.saturating_sub(300),
                t + 300
            );
            out.push_str(&window(&self.model));
            let _ = writeln!(
                out,
                "-- {}, {} ms to {} ms",
                self.real_name,
                t.saturating_sub(300),
                t + 300
            );
            out.push_str(&window(&self.real));
        }
        out
    }
}

/// Runs `scenario` on the model and on the real `rtc` stack with the same seed and
/// faults, in the `webrtc-rs` profile, and compares the traces.
pub fn conform(scenario: &Scenario, options: &ConformOptions) -> Result<ConformReport, String> {
    let run = |stack| {
        sim::run(
            scenario,
            &RunOptions {
                seed: options.seed,
                profile: Some(ProfileName::WebrtcRs),
                stack,
                // The same turmoil simulator for both stacks.
                engine: sim::Engine::Turmoil,
            },
        )
    };
    let model = run(StackKind::Model)?;
    let real = run(StackKind::Rtc)?;
    let outcome = compare_traces(&model.trace, &real.trace, options.tolerance_ms);
    let lossy = scenario.network.loss > 0.0
        || scenario
            .steps
            .iter()
            .any(|s| matches!(s.action, Action::Loss { value } if value > 0.0));
    Ok(ConformReport {
        scenario: scenario.name.clone(),
        seed: model.seed,
        model: model.trace,
        real: real.trace,
        outcome,
        lossy,
        real_name: "rtc",
    })
}

/// The conformance table, as Markdown: `| scenario | result | first divergence |`.
pub fn render_table(reports: &[ConformReport]) -> String {
    let mut out = String::from("| scenario | result | first divergence |\n|---|---|---|\n");
    for r in reports {
        let cell = |s: String| s.replace('|', "\\|");
        let _ = writeln!(
            out,
            "| {} | {} | {} |",
            cell(r.scenario.clone()),
            cell(r.result()),
            cell(r.first())
        );
    }
    out
}
