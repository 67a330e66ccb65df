//! `dcsim check`: argument validation, the run and its report text, kept out of the
//! command-line module so that tests call exactly what the command runs.

use super::app::AppKind;
use super::explorer::{self, ExploreOptions, ExploreReport, Progress};
use super::world::{Bounds, World, WorldConfig, MAX_CHANNELS, MAX_SENDS};
use crate::model::{Profile, ProfileName};
use std::fmt::Write as _;

/// Deepest `--depth` accepted (far beyond anything that finishes).
pub const MAX_DEPTH: usize = 1000;

/// Most `--threads` accepted.
pub const MAX_THREADS: usize = 256;

/// Validated arguments of `dcsim check`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CheckArgs {
    /// The world to explore.
    pub world: WorldConfig,
    /// How.
    pub options: ExploreOptions,
}

fn number<T>(option: &str, text: &str, lo: T, hi: T) -> Result<T, String>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
{
    let shown: String = text.chars().take(20).collect();
    match text.trim().parse::<T>() {
        Ok(n) if n >= lo && n <= hi => Ok(n),
        _ => Err(format!(
            "--{option}: expected a number from {lo} to {hi}, got {shown:?}"
        )),
    }
}

impl CheckArgs {
    /// Parses the text of the options; the error is one line naming the option.
    #[allow(clippy::too_many_arguments)] // one per command-line option
    pub fn parse(
        profile: &str,
        depth: &str,
        app: &str,
        channels: &str,
        sends: &str,
        threads: &str,
        max_states: &str,
        bounds: &str,
    ) -> Result<Self, String> {
        let profile = ProfileName::parse(profile).ok_or_else(|| {
            let shown: String = profile.chars().take(20).collect();
            format!("--profile: expected webrtc-rs, w3c or aiortc, got {shown:?}")
        })?;
        let max_depth = number("depth", depth, 0, MAX_DEPTH)?;
        let app = AppKind::parse(app).ok_or_else(|| {
            let shown: String = app.chars().take(20).collect();
            format!(
                "--app: expected one of {}, got {shown:?}",
                AppKind::NAMES.join(", ")
            )
        })?;
        let channels = number("channels", channels, 1, MAX_CHANNELS)?;
        let sends = number("sends", sends, 0, MAX_SENDS)?;
        let threads = if threads.trim() == "auto" {
            std::thread::available_parallelism().map_or(1, |n| n.get().min(MAX_THREADS))
        } else {
            number("threads", threads, 1, MAX_THREADS).map_err(|_| {
                let shown: String = threads.chars().take(20).collect();
                format!(
                    "--threads: expected a number from 1 to {MAX_THREADS} or auto, got {shown:?}"
                )
            })?
        };
        let max_states = number("max-states", max_states, 1, u64::from(u32::MAX))?;
        let mut world = WorldConfig::new(Profile::of(profile), app);
        world.bounds = Bounds {
            channels,
            sends_per_channel: sends,
            ..Bounds::default()
        };
        world
            .bounds
            .apply(bounds)
            .map_err(|e| format!("--bounds: {e}"))?;
        Ok(CheckArgs {
            world,
            options: ExploreOptions {
                max_depth,
                threads,
                max_states,
                sleep_sets: true,
            },
        })
    }
}

/// What `dcsim check` prints and returns.
#[derive(Clone, Debug)]
pub struct CheckOutcome {
    /// The exploration.
    pub report: ExploreReport,
    /// The text for stdout.
    pub text: String,
    /// 0 when every invariant held, 1 on a counterexample.
    pub exit_code: i32,
}

/// Runs the check; `progress` is called after every BFS level.
pub fn run(args: &CheckArgs, progress: impl FnMut(Progress)) -> Result<CheckOutcome, String> {
    let world = World::new(args.world)?;
    let report = explorer::explore(&world, &args.options, progress);
    let text = render(args, &report);
    let exit_code = i32::from(report.counterexample.is_some());
    Ok(CheckOutcome {
        report,
        text,
        exit_code,
    })
}

/// The report: what was explored, the counts, and the verdict or the counterexample.
pub fn render(args: &CheckArgs, report: &ExploreReport) -> String {
    let w = &args.world;
    let b = &w.bounds;
    let mut out = String::new();
    let plural = |n: u8, what: &str| {
        if n == 1 {
            format!("{n} {what}")
        } else {
            format!("{n} {what}s")
        }
    };
    let _ = writeln!(
        out,
        "dcsim check: profile {}, app {}, {}, depth {}",
        w.profile.name,
        w.app.as_str(),
        plural(b.channels, "channel"),
        args.options.max_depth,
    );
    let _ = writeln!(
        out,
        "bounds: {} per peer and channel, {}, {}, {}, {}, {}, {}, {}, {} of a packet in flight, \
         delayed SACK {}",
        plural(b.sends_per_channel, "send"),
        plural(b.channel_closes, "channel close"),
        plural(b.peer_closes, "peer-connection close"),
        plural(b.ice_restarts, "ICE restart"),
        plural(b.timeouts, "timeout"),
        plural(b.retransmits, "retransmission"),
        plural(b.drops, "drop"),
        plural(b.duplications, "duplication"),
        plural(b.max_copies, "copy").replace("copys", "copies"),
        if b.delayed_sack == 0 {
            "sent at once"
        } else {
            "sent any time later"
        },
    );
    let _ = writeln!(out, "states visited: {}", report.visited);
    if args.options.sleep_sets {
        let _ = writeln!(
            out,
            "sleep sets:     {} successors skipped (each a state met before; \
             --no-sleep-sets computes them)",
            report.skipped
        );
    } else {
        out.push_str("sleep sets:     off\n");
    }
    let _ = writeln!(out, "unique states:  {}", report.unique);
    let _ = writeln!(
        out,
        "fingerprints:   64-bit; chance that two distinct states shared one (one of them \
         unexplored): at most {:.1e}",
        report.collision_probability()
    );
    let _ = writeln!(
        out,
        "depth reached:  {}{}",
        report.depth,
        if report.exhausted {
            " (state space exhausted)"
        } else if report.state_limit_hit {
            " (stopped at the state limit)"
        } else {
            ""
        }
    );
    let _ = writeln!(out, "wall time:      {:.2} s", report.elapsed.as_secs_f64());
    if let Some(bytes) = report.peak_memory {
        let _ = writeln!(
            out,
            "peak memory:    {:.2} GB (the process's peak resident set)",
            bytes as f64 / 1e9
        );
    }
    let _ = writeln!(
        out,
        "states/second:  {:.0} unique, {:.0} visited",
        report.states_per_second(),
        report.visited_per_second()
    );
    match &report.counterexample {
        None => out.push_str("all invariants hold\n"),
        Some(cx) => {
            let _ = writeln!(
                out,
                "\ncounterexample ({} action{}) violates {}: {}",
                cx.actions.len(),
                if cx.actions.len() == 1 { "" } else { "s" },
                cx.violation.invariant,
                cx.violation.detail
            );
            for (i, a) in cx.actions.iter().enumerate() {
                let _ = writeln!(out, "  {:>3}. {a}", i + 1);
            }
            out.push_str("\ntrace (untimed model: the time column is the step number):\n");
            out.push_str(&cx.trace.render_text());
        }
    }
    out
}
