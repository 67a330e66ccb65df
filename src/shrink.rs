//! Shrinking a failing run to a minimal scenario that still fails the same way: fewest
//! steps, no channel or fault it does not need, smallest counts, times moved as early
//! as they still fail, the default network, the shortest run. The result is a scenario
//! file to commit as a regression test (`dcsim run <file>` replays it).
//!
//! Greedy and deterministic: every candidate is one run of the simulator with the
//! failing run's seed; a candidate is kept when the run still fails the same way: a
//! violation of the same invariant whose detail reads the same but for its numbers
//! (`a: send called on chat #12 while closed` and `#0 while closed` are the same
//! failure; `while connecting` is another). Passes repeat until none changes anything
//! or the run budget is spent. Every candidate is written as a scenario file and read
//! back before it runs, so whatever is kept is a file `dcsim run` replays as it ran.

use crate::scenario::{Action, NetworkSpec, Scenario};
use crate::sim::{self, AppFactory, RunOptions};
use crate::trace::Trace;

/// What a shrink produced.
#[derive(Clone, Debug)]
pub struct Shrunk {
    /// The minimal scenario (its `seed` set to the run's seed, so that the file replays
    /// the same run).
    pub scenario: Scenario,
    /// Its trace, which violates the invariant.
    pub trace: Trace,
    /// Steps before and after.
    pub steps: (usize, usize),
    /// The invariant it still violates.
    pub invariant: String,
    /// Simulator runs made.
    pub runs: u64,
    /// The budget ran out before a pass changed nothing.
    pub budget_hit: bool,
}

/// Runs a shrink may make by default.
pub const DEFAULT_BUDGET: u64 = 3_000;

/// A violation's detail with its numbers taken out: what "the same failure" compares.
fn shape(detail: &str) -> String {
    let mut out = String::new();
    let mut in_number = false;
    for c in detail.chars() {
        if c.is_ascii_digit() {
            if !in_number {
                out.push('N');
            }
            in_number = true;
        } else {
            out.push(c);
            in_number = false;
        }
    }
    out
}

/// The shapes of `trace`'s violations of `invariant`.
fn failures(trace: &Trace, invariant: &str) -> Vec<String> {
    trace
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            crate::trace::EventKind::Violation {
                invariant: name,
                detail,
            } if name == invariant => Some(shape(detail)),
            _ => None,
        })
        .collect()
}

struct Shrinker<'a> {
    invariant: &'a str,
    /// The failure to keep: the shape of the first violation of `invariant`.
    failure: String,
    options: RunOptions,
    apps: &'a AppFactory,
    runs: u64,
    budget: u64,
}

impl Shrinker<'_> {
    /// The candidate, as its file reads back, still fails the same way (and the budget
    /// allows a run).
    fn fails(&mut self, s: &Scenario) -> bool {
        if self.runs >= self.budget {
            return false;
        }
        let Ok(s) = round_trip(s) else {
            return false;
        };
        self.runs += 1;
        sim::run_apps(&s, &self.options, self.apps)
            .map(|r| failures(&r.trace, self.invariant).contains(&self.failure))
            .unwrap_or(false)
    }

    /// The smallest value in `lo..=hi` for which `set` (applied to a copy of `s`) still
    /// fails, by binary search (`hi` itself is known to fail); `s` gets it. True if it
    /// moved below `hi`.
    fn smallest(
        &mut self,
        s: &mut Scenario,
        lo: u64,
        hi: u64,
        set: impl Fn(&mut Scenario, u64),
    ) -> bool {
        let (mut lo, mut fail) = (lo, hi);
        while lo < fail {
            let mid = lo + (fail - lo) / 2;
            let mut candidate = s.clone();
            set(&mut candidate, mid);
            if self.fails(&candidate) {
                fail = mid;
            } else {
                lo = mid + 1;
            }
        }
        set(s, fail);
        fail < hi
    }

    /// Removes chunks of steps, halving the chunk down to single steps.
    fn drop_steps(&mut self, s: &mut Scenario) -> bool {
        let mut changed = false;
        let mut size = s.steps.len().div_ceil(2).max(1);
        loop {
            let mut i = 0;
            while i < s.steps.len() {
                let mut candidate = s.clone();
                let end = (i + size).min(candidate.steps.len());
                candidate.steps.drain(i..end);
                if self.fails(&candidate) {
                    *s = candidate;
                    changed = true;
                } else {
                    i += size;
                }
            }
            if size == 1 {
                return changed;
            }
            size = size.div_ceil(2);
        }
    }

    /// Removes channels no remaining step names.
    fn drop_channels(&mut self, s: &mut Scenario) -> bool {
        let mut changed = false;
        let mut i = 0;
        while i < s.channels.len() {
            let label = s.channels[i].label.clone();
            let named = s
                .steps
                .iter()
                .any(|st| st.action.channel() == Some(label.as_str()));
            let mut candidate = s.clone();
            candidate.channels.remove(i);
            if !named && self.fails(&candidate) {
                *s = candidate;
                changed = true;
            } else {
                i += 1;
            }
        }
        changed
    }

    /// Sends with the fewest messages, all at once if that still fails.
    fn reduce_counts(&mut self, s: &mut Scenario) -> bool {
        let mut changed = false;
        for i in 0..s.steps.len() {
            let Action::Send { count, .. } = s.steps[i].action else {
                continue;
            };
            changed |= self.smallest(s, 1, u64::from(count), |c, n| {
                if let Some(Action::Send { count, .. }) =
                    c.steps.get_mut(i).map(|st| &mut st.action)
                {
                    *count = u32::try_from(n).unwrap_or(u32::MAX);
                }
            });
            if let Action::Send { interval_ms, .. } = s.steps[i].action {
                if interval_ms != 0 {
                    let mut candidate = s.clone();
                    if let Action::Send { interval_ms, .. } = &mut candidate.steps[i].action {
                        *interval_ms = 0;
                    }
                    if self.fails(&candidate) {
                        *s = candidate;
                        changed = true;
                    }
                }
            }
        }
        changed
    }

    /// Each step as early as it still fails, no earlier than the step before it (the
    /// order stays).
    fn move_earlier(&mut self, s: &mut Scenario) -> bool {
        let mut changed = false;
        for i in 0..s.steps.len() {
            let floor = if i == 0 { 0 } else { s.steps[i - 1].at_ms };
            let at = s.steps[i].at_ms;
            changed |= self.smallest(s, floor, at, |c, t| c.steps[i].at_ms = t);
        }
        changed
    }

    /// The default network, and the shortest run that still fails.
    fn simplify_run(&mut self, s: &mut Scenario) -> bool {
        let mut changed = false;
        let plain = NetworkSpec::default();
        if s.network != plain {
            let mut candidate = s.clone();
            candidate.network = plain;
            if self.fails(&candidate) {
                *s = candidate;
                changed = true;
            }
        }
        let floor = s.steps.last().map_or(0, |st| st.at_ms);
        let duration = s.duration_ms;
        changed |= self.smallest(s, floor, duration, |c, t| c.duration_ms = t);
        changed
    }
}

/// `s` written as a file and read back: what `dcsim run <file>` will play.
fn round_trip(s: &Scenario) -> Result<Scenario, String> {
    Scenario::parse(&s.name, &s.to_toml()).map_err(|e| e.to_string())
}

/// Shrinks `scenario`, which violates `invariant` (`None`: the first invariant the run
/// violates) when run with `options` (its seed included) and the applications `apps`
/// builds, within `budget` simulator runs. Errors when the scenario does not violate it
/// to begin with.
pub fn shrink(
    scenario: &Scenario,
    invariant: Option<&str>,
    options: &RunOptions,
    apps: &AppFactory,
    budget: u64,
) -> Result<Shrunk, String> {
    let seed = options.seed.or(scenario.seed).unwrap_or(0);
    let options = RunOptions {
        seed: Some(seed),
        ..options.clone()
    };
    let first = sim::run_apps(scenario, &options, apps)?;
    let violated = first.trace.violated();
    let chosen = match invariant {
        Some(name) => violated.iter().find(|v| *v == name),
        None => violated.first(),
    };
    let Some(invariant) = chosen.map(String::as_str) else {
        let wanted = invariant.unwrap_or("any invariant");
        return Err(if violated.is_empty() {
            format!(
                "{} (seed {seed}) violates no invariant: nothing to shrink",
                scenario.name
            )
        } else {
            format!(
                "{} (seed {seed}) does not violate {wanted} (it violates {})",
                scenario.name,
                violated.join(", ")
            )
        });
    };
    let failure = failures(&first.trace, invariant)
        .into_iter()
        .next()
        .unwrap_or_default();
    let mut shrinker = Shrinker {
        invariant,
        failure,
        options: options.clone(),
        apps,
        runs: 1,
        budget: budget.max(1),
    };
    let mut s = scenario.clone();
    s.seed = Some(seed);
    s.description = format!(
        "{} shrunk (seed {seed}): violates {invariant}",
        scenario.name
    );
    if !s.name.ends_with("-shrunk") {
        s.name = format!("{}-shrunk", scenario.name);
    }
    s.profile = options.profile.or(scenario.profile);
    loop {
        let mut changed = shrinker.drop_steps(&mut s);
        changed |= shrinker.drop_channels(&mut s);
        changed |= shrinker.reduce_counts(&mut s);
        changed |= shrinker.move_earlier(&mut s);
        changed |= shrinker.simplify_run(&mut s);
        if !changed || shrinker.runs >= shrinker.budget {
            break;
        }
    }
    let s = round_trip(&s)?;
    let trace = sim::run_apps(&s, &options, apps)?.trace;
    Ok(Shrunk {
        invariant: invariant.to_string(),
        steps: (scenario.steps.len(), s.steps.len()),
        scenario: s,
        trace,
        runs: shrinker.runs + 1,
        budget_hit: shrinker.runs >= shrinker.budget,
    })
}
