//! `dcsim explore`: many runs around one scenario, each with seeded random latency, loss
//! and faults, to find the orderings a hand-written scenario misses.
//!
//! Two ways to vary a run ([`Mode`]): [`swarm`] draws which fault kinds are on and aims
//! their times at the lifecycle's edges; [`perturb`] keeps the scenario's own faults and
//! moves them. Each run's trace also says what it reached ([`coverage`]), summed over the
//! sweep. Run `i` uses seed `seed + i`, for the drawing and for the engine, so any run is
//! reproduced alone with `--seed <that seed> --runs 1`.

pub mod coverage;
pub mod swarm;

use crate::check::names;
use crate::model::Profile;
use crate::scenario::{Action, Scenario};
use crate::sim::{self, RunOptions};
use crate::trace::{EventKind, Trace};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
pub use swarm::Draw;

/// How each run varies the base scenario.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    /// Draw the fault kinds and their parameters ([`swarm::swarm`]).
    #[default]
    Swarm,
    /// Keep the scenario's faults and move them ([`perturb`]).
    Perturb,
}

/// One run of a sweep, as the caller sees it after the run.
#[derive(Clone, Copy, Debug)]
pub struct RunInfo<'a> {
    /// Its index (run `i` uses seed `seed + i`).
    pub run: u64,
    /// Runs made so far in this shard, this one included.
    pub done: u64,
    /// Its seed.
    pub seed: u64,
    /// What a swarm run drew (`None` in perturb mode).
    pub draw: Option<&'a Draw>,
    /// The invariants it violated.
    pub violated: &'a [String],
}

/// One failing run, kept for the report.
#[derive(Clone, Debug)]
pub struct Failure {
    /// The run's index (run `i` of an exploration from `seed` uses seed `seed + i`).
    pub run: u64,
    /// The run's seed.
    pub seed: u64,
    /// Its trace.
    pub trace: Trace,
    /// What the run drew (swarm mode).
    pub draw: Option<Draw>,
    /// The scenario the run played (the base, varied): what `dcsim shrink` starts from.
    pub scenario: Scenario,
}

/// What an exploration found.
#[derive(Clone, Debug, Default)]
pub struct ExploreReport {
    /// Runs made.
    pub runs: u64,
    /// Per invariant: how many runs violated it, and the failing run with the shortest
    /// trace.
    pub violated: BTreeMap<String, (u64, Failure)>,
    /// Per point of [`coverage::POINTS`]: how many runs reached it.
    pub coverage: BTreeMap<String, u64>,
}

impl ExploreReport {
    /// True when no run violated anything.
    pub fn is_clean(&self) -> bool {
        self.violated.is_empty()
    }

    /// Adds the report of another shard of the same exploration: runs and counts add up,
    /// and each invariant keeps the shortest failing trace (the earlier run on a tie), so
    /// the union of all shards is exactly the report of one unsharded run.
    pub fn merge(&mut self, other: ExploreReport) {
        self.runs += other.runs;
        for (point, runs) in other.coverage {
            *self.coverage.entry(point).or_default() += runs;
        }
        for (invariant, (count, failure)) in other.violated {
            match self.violated.get_mut(&invariant) {
                None => {
                    self.violated.insert(invariant, (count, failure));
                }
                Some(entry) => {
                    entry.0 += count;
                    if better(&failure, &entry.1) {
                        entry.1 = failure;
                    }
                }
            }
        }
    }
}

/// `a` is kept over `b`: a shorter trace, or as short and an earlier run.
fn better(a: &Failure, b: &Failure) -> bool {
    (a.trace.events.len(), a.run) < (b.trace.events.len(), b.run)
}

/// One part of an exploration split across machines: run `i` belongs to shard
/// `i % count`. `dcsim explore --shard K/N` runs shard `K - 1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// Which part, from 0.
    pub index: u64,
    /// Into how many parts.
    pub count: u64,
}

impl Shard {
    /// The whole exploration, unsplit.
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    /// Parses `K/N` (1 <= K <= N); the error says what is wrong.
    pub fn parse(text: &str) -> Result<Shard, String> {
        let shown: String = text.chars().take(20).collect();
        let (k, n) = text
            .split_once('/')
            .ok_or_else(|| format!("--shard: expected K/N (e.g. 2/4), got {shown:?}"))?;
        let num = |v: &str| v.trim().parse::<u64>().ok();
        match (num(k), num(n)) {
            (Some(k), Some(n)) if n >= 1 && (1..=n).contains(&k) => Ok(Shard {
                index: k - 1,
                count: n,
            }),
            _ => Err(format!(
                "--shard: expected K/N with 1 <= K <= N, got {shown:?}"
            )),
        }
    }

    /// Run `i` is in this shard.
    pub fn has(&self, i: u64) -> bool {
        i % self.count.max(1) == self.index
    }
}

/// The scenario of run `seed`: same steps, with latency drawn from 1..=50 ms, loss from
/// 0..=5 % (half of the runs lossless), and every fault moved by up to ±50 % of its
/// time (never before 0 and never past the end), keeping the faults' order.
pub fn perturb(base: &Scenario, seed: u64) -> Scenario {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut s = base.clone();
    s.network.latency_ms = rng.gen_range(1..=50);
    s.network.loss = if rng.gen_bool(0.5) {
        0.0
    } else {
        (rng.gen_range(0..=50) as f64) / 1000.0
    };
    let end = s.duration_ms;
    let mut last_fault = 0;
    for step in &mut s.steps {
        if step.action.is_fault() {
            let spread = step.at_ms / 2;
            let moved = step.at_ms - spread + rng.gen_range(0..=spread * 2);
            step.at_ms = moved.clamp(last_fault, end);
            last_fault = step.at_ms;
        }
        if let Action::Latency { ms } = &mut step.action {
            *ms = rng.gen_range(1..=200);
        }
    }
    s.steps.sort_by_key(|st| st.at_ms);
    s
}

/// Explores `runs` runs from `seed`. `progress` is called after each run.
pub fn explore(
    base: &Scenario,
    runs: u64,
    seed: u64,
    options: &RunOptions,
    progress: impl FnMut(u64),
) -> Result<ExploreReport, String> {
    explore_apps(base, runs, seed, options, &sim::script_apps(), progress)
}

/// [`explore`] with the applications `apps` builds (a user's own application).
pub fn explore_apps(
    base: &Scenario,
    runs: u64,
    seed: u64,
    options: &RunOptions,
    apps: &sim::AppFactory,
    progress: impl FnMut(u64),
) -> Result<ExploreReport, String> {
    explore_shard(base, runs, seed, Shard::ALL, options, apps, progress)
}

/// The runs of `shard` among the `runs` runs from `seed` (see [`Shard`]): merging the
/// reports of shards `0..N` of `N` ([`ExploreReport::merge`]) gives the report of one
/// unsharded exploration. `progress` counts this shard's runs. (Perturb mode; see
/// [`explore_with`] for the others.)
pub fn explore_shard(
    base: &Scenario,
    runs: u64,
    seed: u64,
    shard: Shard,
    options: &RunOptions,
    apps: &sim::AppFactory,
    mut progress: impl FnMut(u64),
) -> Result<ExploreReport, String> {
    explore_with(
        base,
        runs,
        seed,
        shard,
        Mode::Perturb,
        options,
        apps,
        |info| progress(info.done),
    )
}

/// The general sweep: the runs of `shard` among `runs` from `seed`, each varied by
/// `mode`; `on_run` hears about each run as it ends (for progress, or to print what a
/// swarm run drew).
#[allow(clippy::too_many_arguments)]
pub fn explore_with(
    base: &Scenario,
    runs: u64,
    seed: u64,
    shard: Shard,
    mode: Mode,
    options: &RunOptions,
    apps: &sim::AppFactory,
    mut on_run: impl FnMut(RunInfo<'_>),
) -> Result<ExploreReport, String> {
    let profile = Profile::of(options.profile.or(base.profile).unwrap_or_default());
    let config = sim::peer_config(base, profile);
    let mut report = ExploreReport::default();
    for i in (0..runs).filter(|i| shard.has(*i)) {
        report.runs += 1;
        let run_seed = seed.wrapping_add(i);
        let (scenario, draw) = match mode {
            Mode::Swarm => {
                let (s, d) = swarm::swarm(base, run_seed, &config);
                (s, Some(d))
            }
            Mode::Perturb => (perturb(base, run_seed), None),
        };
        let opts = RunOptions {
            seed: Some(run_seed),
            ..options.clone()
        };
        let mut trace = sim::run_apps(&scenario, &opts, apps)?.trace;
        if i == 0 {
            // deterministic-replay: the first run, again, must be byte-identical.
            let again = sim::run_apps(&scenario, &opts, apps)?.trace;
            if again.to_jsonl() != trace.to_jsonl() {
                trace.push(crate::trace::TraceEvent::global(
                    scenario.duration_ms,
                    EventKind::Violation {
                        invariant: names::DETERMINISTIC_REPLAY.into(),
                        detail: format!("seed {run_seed}: a second run gave a different trace"),
                    },
                ));
            }
        }
        for point in coverage::reached(&trace) {
            *report.coverage.entry(point.to_string()).or_default() += 1;
        }
        let violated = trace.violated();
        for invariant in &violated {
            let failure = Failure {
                run: i,
                seed: run_seed,
                trace: trace.clone(),
                draw: draw.clone(),
                scenario: scenario.clone(),
            };
            let entry = report
                .violated
                .entry(invariant.clone())
                .or_insert_with(|| (0, failure.clone()));
            entry.0 += 1;
            if better(&failure, &entry.1) {
                entry.1 = failure;
            }
        }
        on_run(RunInfo {
            run: i,
            done: report.runs,
            seed: run_seed,
            draw: draw.as_ref(),
            violated: &violated,
        });
    }
    Ok(report)
}
