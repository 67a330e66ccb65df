//! The `dcsim` command line, as docs/cli.md describes it. Exit 0 when every invariant held,
//! 1 on a violation or divergence, 2 on bad input or usage (one line on stderr).

use crate::model::ProfileName;
use crate::scenario::{self, Scenario};
use crate::sim::{self, Engine, RunOptions, StackKind};
use crate::trace::{self, Trace};
use clap::{Parser, Subcommand, ValueEnum};
use std::io::Write;
use std::path::PathBuf;

/// Deterministic simulation of WebRTC data-channel lifecycle races.
#[derive(Parser, Debug)]
#[command(name = "dcsim", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run one scenario (a .toml path or a built-in name) and print its trace.
    Run {
        /// Scenario: a built-in name (see `dcsim scenarios`) or a path to a .toml file.
        scenario: String,
        /// Seed (default: the scenario's, else 0).
        #[arg(long)]
        seed: Option<u64>,
        /// Profile (default: the scenario's, else webrtc-rs).
        #[arg(long, value_enum)]
        profile: Option<ProfileArg>,
        /// Protocol stack.
        #[arg(long, value_enum, default_value_t = StackArg::Model)]
        stack: StackArg,
        /// Event loop: the direct event loop (jumps between events), or turmoil hosts over
        /// simulated UDP stepped every millisecond (the cross-check: same trace).
        #[arg(long, value_enum, default_value_t = EngineArg::Direct)]
        engine: EngineArg,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Write the output to this file instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// List the built-in scenarios, then the bug library's.
    Scenarios,
    /// The bug library: plays every publicly reported bug's scenario on the model in
    /// each profile and on the real rtc stack; prints each verdict with its evidence
    /// (exit 1 if a verdict differs from the one pinned in the library).
    Bugs {
        /// Print only the pinned table (markdown, as in the README), without playing.
        #[arg(long)]
        table: bool,
    },
    /// Many runs around a scenario with seeded random latency, loss and fault timing;
    /// reports every invariant violated, with the seed and the shortest failing trace.
    Explore {
        /// Scenario: a built-in name or a .toml path.
        scenario: String,
        /// Number of runs.
        #[arg(long, default_value_t = 100)]
        runs: u64,
        /// First seed (run i uses seed + i).
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Profile (default: the scenario's, else webrtc-rs).
        #[arg(long, value_enum)]
        profile: Option<ProfileArg>,
        /// Protocol stack.
        #[arg(long, value_enum, default_value_t = StackArg::Model)]
        stack: StackArg,
        /// Event loop (direct is the same rules as turmoil, without per-millisecond steps).
        #[arg(long, value_enum, default_value_t = EngineArg::Direct)]
        engine: EngineArg,
        /// Run only shard K of N (runs i with i mod N = K-1), to split one exploration
        /// across machines; the shards' reports together are the unsharded report.
        #[arg(long, value_name = "K/N")]
        shard: Option<String>,
        /// How each run varies the scenario: swarm draws which fault kinds are on and
        /// aims them at the lifecycle's edges; perturb moves the scenario's own faults.
        #[arg(long, value_enum, default_value_t = ModeArg::Swarm)]
        mode: ModeArg,
        /// Print one line per run: its seed, what it drew, what it violated.
        #[arg(long)]
        verbose: bool,
        /// Shrink the shortest failing run of each violated invariant and write it to
        /// this directory (`<invariant>.toml` and its trace, `<invariant>.trace.txt`).
        #[arg(long, value_name = "DIR")]
        shrink: Option<PathBuf>,
    },
    /// Shrink a failing scenario to a minimal one that still violates the same
    /// invariant (fewest steps, smallest counts, earliest times), ready to commit as a
    /// regression test.
    Shrink {
        /// Scenario: a built-in name or a .toml path.
        scenario: String,
        /// Seed of the failing run (default: the scenario's, else 0).
        #[arg(long)]
        seed: Option<u64>,
        /// The invariant to keep violating (default: the first the run violates).
        #[arg(long)]
        invariant: Option<String>,
        /// Profile (default: the scenario's, else webrtc-rs).
        #[arg(long, value_enum)]
        profile: Option<ProfileArg>,
        /// Protocol stack.
        #[arg(long, value_enum, default_value_t = StackArg::Model)]
        stack: StackArg,
        /// Most simulator runs to spend.
        #[arg(long, default_value_t = crate::shrink::DEFAULT_BUDGET)]
        budget: u64,
        /// Write the shrunk scenario here (and its trace beside it, `.trace.txt`);
        /// default: print it.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Model vs the real rtc 0.21.1 stack, same seed and faults: a table of agree /
    /// known deviation / diverge (exit 1 on any divergence).
    Conform {
        /// Scenarios (built-in names or .toml paths); default: every built-in.
        scenarios: Vec<String>,
        /// Seed (default: each scenario's, else 0).
        #[arg(long)]
        seed: Option<u64>,
        /// Largest time difference, in ms, between the same event on the two sides
        /// (default: 250 for the rtc stack, the peer's own for `--peer`).
        #[arg(long)]
        tolerance_ms: Option<u64>,
        /// Also print the details (known deviations, largest time shift) of the scenarios
        /// that agree.
        #[arg(long)]
        details: bool,
        /// Compare a real peer's recorded run (`--traces`) with the model in the peer's
        /// profile instead of running the rtc stack: `chromium` (w3c) or `aiortc`.
        #[arg(long, requires = "traces", conflicts_with_all = ["scenarios", "seed"])]
        peer: Option<String>,
        /// Directory of a recorded run: `<scenario>.jsonl` traces written by
        /// `conformance/<peer>/play.sh`, `<scenario>.toml` variants, `skipped.txt`.
        #[arg(long, requires = "peer")]
        traces: Option<PathBuf>,
    },
    /// Exhaustive bounded exploration of the untimed model: every interleaving of
    /// application calls, deliveries, losses, duplicates and timer firings within the
    /// bounds, to the end (or to --depth); prints the state counts and either "all
    /// invariants hold" or the shortest counterexample as a trace (exit 1).
    Check {
        /// Profile: webrtc-rs, w3c or aiortc.
        #[arg(long, value_name = "webrtc-rs|w3c|aiortc", default_value = "webrtc-rs")]
        profile: String,
        /// Longest history explored, in actions.
        #[arg(
            long,
            value_name = "N",
            default_value = "1000",
            allow_hyphen_values = true
        )]
        depth: String,
        /// Application on both peers: raw (bare send) or guarded (through the guard).
        #[arg(long, value_name = "raw|guarded", default_value = "guarded")]
        app: String,
        /// In-band channels peer a creates (1 to 9).
        #[arg(
            long,
            value_name = "N",
            default_value = "1",
            allow_hyphen_values = true
        )]
        channels: String,
        /// Sends per peer and channel (0 to 9).
        #[arg(
            long,
            value_name = "N",
            default_value = "1",
            allow_hyphen_values = true
        )]
        sends: String,
        /// Worker threads, or `auto` for one per core (the report does not depend on it).
        #[arg(
            long,
            value_name = "N|auto",
            default_value = "auto",
            allow_hyphen_values = true
        )]
        threads: String,
        /// Stop before a level once this many unique states are known (a guard for the
        /// machine's memory: about 60 bytes a state; the report says when it stopped).
        #[arg(
            long,
            value_name = "N",
            default_value_t = crate::check::explorer::DEFAULT_MAX_STATES.to_string(),
            allow_hyphen_values = true
        )]
        max_states: String,
        /// Other bounds, as name=value,...: channel-closes, peer-closes, ice-restarts,
        /// timeouts, retransmits, drops, duplications, copies, delayed-sack (0: the
        /// delayed SACK is sent within the step that owes it, the default; 1: any time
        /// later, as its own action).
        #[arg(long, value_name = "LIST", default_value = "")]
        bounds: String,
        /// Compute every successor, also those the sleep sets skip (each a state met
        /// before): the same report but the states visited, for comparing the two.
        #[arg(long)]
        no_sleep_sets: bool,
    },
    /// Probe a running WebRTC service from the outside: a real webrtc 0.21.1 peer offers
    /// to it, opens a channel and sends, with faults on the live path; each step is a
    /// check with its time (exit 0: all passed, 1: a check failed or an invariant was
    /// violated, 2: bad arguments or unreachable service).
    #[cfg(all(feature = "webrtc-adapter", feature = "rtc-stack"))]
    Probe {
        /// The service's signaling URL (http://host:port/path).
        url: String,
        /// `json` (POST {"sdp","type"}) or `whip` (RFC 9725).
        #[arg(long, value_enum, default_value_t = SignalingArg::Json)]
        signaling: SignalingArg,
        /// The channel's label.
        #[arg(long, default_value = "chat")]
        channel: String,
        /// Text of each message (` #n` is appended).
        #[arg(long, conflicts_with = "size")]
        send: Option<String>,
        /// Size of each message in bytes.
        #[arg(long)]
        size: Option<usize>,
        /// How many messages.
        #[arg(long, default_value_t = 5)]
        count: u32,
        /// Time between two messages, in ms.
        #[arg(long, default_value_t = 200)]
        interval_ms: u64,
        /// The service echoes each message: count the echoes, time the round trips.
        #[arg(long)]
        expect_echo: bool,
        /// Send through dcsim's guard instead of the bare send.
        #[arg(long)]
        guarded: bool,
        /// A fault on the live path: VERB[=VALUE]@TIME[+DURATION], e.g. partition@2s+10s,
        /// hold@3s+1s, loss=0.3@1s+5s (repeatable).
        #[arg(long = "fault", value_name = "FAULT")]
        faults: Vec<String>,
        /// A scenario file (or built-in name) whose network steps (partition, heal, hold,
        /// release, loss) are played on the live path, at their times from the start.
        #[arg(long)]
        scenario: Option<String>,
        /// Deadline of the whole probe, in seconds.
        #[arg(long, default_value_t = 30)]
        timeout: u64,
        /// Local UDP address to bind (0.0.0.0:0: every interface).
        #[arg(long, default_value = "0.0.0.0:0")]
        bind: String,
        /// Seed of the loss draws.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Output: the check list (text), a JSON report, or the HTML timeline.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Write the output to this file instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Where two JSON-lines traces part: first divergence with context, and a summary.
    Diff {
        /// First trace (JSON lines).
        a: PathBuf,
        /// Second trace (JSON lines).
        b: PathBuf,
    },
}

/// `--signaling`.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum SignalingArg {
    /// POST `{"sdp","type":"offer"}`, JSON answer.
    Json,
    /// WHIP: POST application/sdp, 201 + Location, DELETE at the end.
    Whip,
}

/// `--profile`.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ProfileArg {
    /// The webrtc 0.21.1 crate.
    #[value(name = "webrtc-rs")]
    WebrtcRs,
    /// The W3C spec (browsers).
    W3c,
    /// aiortc 1.16 (Python), measured in conformance/aiortc/.
    Aiortc,
}

impl From<ProfileArg> for ProfileName {
    fn from(p: ProfileArg) -> Self {
        match p {
            ProfileArg::WebrtcRs => ProfileName::WebrtcRs,
            ProfileArg::W3c => ProfileName::W3c,
            ProfileArg::Aiortc => ProfileName::Aiortc,
        }
    }
}

/// `--stack`.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum StackArg {
    /// The dcsim model.
    Model,
    /// The real rtc 0.21.1 stack.
    Rtc,
}

impl From<StackArg> for StackKind {
    fn from(s: StackArg) -> Self {
        match s {
            StackArg::Model => StackKind::Model,
            StackArg::Rtc => StackKind::Rtc,
        }
    }
}

/// `--mode` of `explore`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ModeArg {
    /// Draw which fault kinds are on and their parameters, aimed at the lifecycle's edges.
    Swarm,
    /// Keep the scenario's faults; move them and vary latency and loss.
    Perturb,
}

impl From<ModeArg> for crate::explore::Mode {
    fn from(m: ModeArg) -> Self {
        match m {
            ModeArg::Swarm => crate::explore::Mode::Swarm,
            ModeArg::Perturb => crate::explore::Mode::Perturb,
        }
    }
}

/// `--engine`.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum EngineArg {
    /// turmoil hosts, simulated UDP, 1 ms steps.
    Turmoil,
    /// Discrete-event loop with the same rules.
    Direct,
}

impl From<EngineArg> for Engine {
    fn from(e: EngineArg) -> Self {
        match e {
            EngineArg::Turmoil => Engine::Turmoil,
            EngineArg::Direct => Engine::Direct,
        }
    }
}

/// `--format`.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Format {
    /// Aligned review text.
    Text,
    /// JSON lines.
    Json,
    /// Mermaid sequence diagram.
    Mermaid,
    /// Self-contained HTML timeline.
    Html,
}

/// A failure with its exit code.
struct Exit(i32, String);

fn usage(msg: impl Into<String>) -> Exit {
    Exit(2, msg.into())
}

/// Runs the command line; returns the exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    match dispatch(cli) {
        Ok(code) => code,
        Err(Exit(code, msg)) => {
            eprintln!("dcsim: {msg}");
            code
        }
    }
}

fn load(arg: &str) -> Result<Scenario, Exit> {
    Scenario::load(arg).map_err(|e| usage(e.to_string()))
}

fn emit(out: &Option<PathBuf>, text: &str) -> Result<(), Exit> {
    match out {
        Some(path) => std::fs::write(path, text)
            .map_err(|e| usage(format!("{}: cannot write: {e}", path.display()))),
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(text.as_bytes())
                .map_err(|e| Exit(2, format!("stdout: {e}")))
        }
    }
}

fn dispatch(cli: Cli) -> Result<i32, Exit> {
    match cli.command {
        Command::Run {
            scenario,
            seed,
            profile,
            stack,
            engine,
            format,
            out,
        } => {
            let scenario = load(&scenario)?;
            let options = RunOptions {
                seed,
                profile: profile.map(Into::into),
                stack: stack.into(),
                engine: engine.into(),
            };
            let report = sim::run(&scenario, &options).map_err(|e| Exit(2, e))?;
            let title = format!(
                "dcsim {} (seed {}, {})",
                scenario.name, report.seed, report.profile
            );
            let text = match format {
                Format::Json => report.trace.to_jsonl(),
                Format::Text => report.trace.render_text(),
                Format::Mermaid => report.trace.render_mermaid(),
                Format::Html => report.trace.render_html(&title),
            };
            emit(&out, &text)?;
            Ok(if report.trace.is_clean() { 0 } else { 1 })
        }
        Command::Explore {
            scenario,
            runs,
            seed,
            profile,
            stack,
            engine,
            shard,
            mode,
            verbose,
            shrink,
        } => explore(
            &scenario,
            runs,
            seed,
            profile,
            stack,
            engine,
            shard.as_deref(),
            mode,
            verbose,
            shrink.as_deref(),
        ),
        Command::Shrink {
            scenario,
            seed,
            invariant,
            profile,
            stack,
            budget,
            out,
        } => shrink(
            &scenario,
            seed,
            invariant.as_deref(),
            profile,
            stack,
            budget,
            out.as_deref(),
        ),
        Command::Conform {
            tolerance_ms,
            details,
            peer: Some(peer),
            traces: Some(traces),
            ..
        } => conform_peer(&peer, &traces, tolerance_ms, details),
        Command::Conform {
            scenarios,
            seed,
            tolerance_ms,
            details,
            ..
        } => conform(
            scenarios,
            seed,
            tolerance_ms.unwrap_or(crate::conform::DEFAULT_TOLERANCE_MS),
            details,
        ),
        Command::Check {
            profile,
            depth,
            app,
            channels,
            sends,
            threads,
            max_states,
            bounds,
            no_sleep_sets,
        } => check(
            [
                &profile,
                &depth,
                &app,
                &channels,
                &sends,
                &threads,
                &max_states,
                &bounds,
            ],
            !no_sleep_sets,
        ),
        #[cfg(all(feature = "webrtc-adapter", feature = "rtc-stack"))]
        Command::Probe {
            url,
            signaling,
            channel,
            send,
            size,
            count,
            interval_ms,
            expect_echo,
            guarded,
            faults,
            scenario,
            timeout,
            bind,
            seed,
            format,
            out,
        } => {
            use crate::probe::{self, ProbeFault, ProbeOptions, ProbePayload, Signaling};
            let mut faults = faults
                .iter()
                .map(|f| ProbeFault::parse(f))
                .collect::<Result<Vec<_>, _>>()
                .map_err(usage)?;
            if let Some(name) = &scenario {
                let scenario = load(name)?;
                faults.extend(ProbeFault::from_scenario(&scenario).map_err(usage)?);
            }
            if timeout == 0 {
                return Err(usage("--timeout: must be at least 1 second"));
            }
            let options = ProbeOptions {
                url: url.clone(),
                signaling: match signaling {
                    SignalingArg::Json => Signaling::Json,
                    SignalingArg::Whip => Signaling::Whip,
                },
                channel,
                payload: match (send, size) {
                    (_, Some(n)) => ProbePayload::Size(n),
                    (Some(t), None) => ProbePayload::Text(t),
                    (None, None) => ProbePayload::Text("dcsim probe".into()),
                },
                count,
                interval_ms,
                expect_echo,
                guarded,
                faults,
                timeout: std::time::Duration::from_secs(timeout),
                bind,
                seed,
            };
            let report = probe::probe(&options).map_err(|e| usage(e.0))?;
            let text = match format {
                Format::Json => report.to_json() + "\n",
                Format::Html => report.trace.render_html(&format!("dcsim probe {url}")),
                Format::Mermaid => report.trace.render_mermaid(),
                Format::Text => report.render_text(&url),
            };
            emit(&out, &text)?;
            if !matches!(format, Format::Text) && out.is_some() {
                eprint!("{}", report.render_text(&url));
            }
            Ok(if report.passed() { 0 } else { 1 })
        }
        Command::Diff { a, b } => {
            let read = |p: &PathBuf| -> Result<Trace, Exit> {
                let text = std::fs::read(p)
                    .map_err(|e| usage(format!("{}: cannot read: {e}", p.display())))?;
                let text = String::from_utf8(text)
                    .map_err(|e| usage(format!("{}: not UTF-8 text: {e}", p.display())))?;
                Trace::from_jsonl(&text).map_err(|e| usage(format!("{}:{e}", p.display())))
            };
            let (ta, tb) = (read(&a)?, read(&b)?);
            let d = trace::diff(&ta, &tb);
            emit(&None, &d.render())?;
            Ok(if d.is_identical() { 0 } else { 1 })
        }
        Command::Scenarios => {
            let mut text = String::new();
            for (name, description) in scenario::builtin::names() {
                text.push_str(&format!("{name:<30} {description}\n"));
            }
            text.push_str("\nbug library (`dcsim bugs` plays them all):\n");
            for (name, description) in scenario::builtin::bug_names() {
                text.push_str(&format!("{name:<32} {description}\n"));
            }
            emit(&None, &text)?;
            Ok(0)
        }
        Command::Bugs { table } => bugs(table),
    }
}

/// Writes a shrunk scenario to `file` and its trace beside it; the summary line.
fn write_shrunk(
    file: &std::path::Path,
    invariant: &str,
    shrunk: &crate::shrink::Shrunk,
) -> Result<String, Exit> {
    let trace_file = file.with_extension("trace.txt");
    let write = |path: &std::path::Path, text: &str| {
        std::fs::write(path, text)
            .map_err(|e| Exit(2, format!("cannot write {}: {e}", path.display())))
    };
    write(file, &shrunk.scenario.to_toml())?;
    write(&trace_file, &shrunk.trace.render_text())?;
    Ok(format!(
        "shrunk {invariant}: {} -> {} steps in {} runs{}: {} (trace: {})\n",
        shrunk.steps.0,
        shrunk.steps.1,
        shrunk.runs,
        if shrunk.budget_hit {
            " (budget spent)"
        } else {
            ""
        },
        file.display(),
        trace_file.display()
    ))
}

fn shrink(
    scenario: &str,
    seed: Option<u64>,
    invariant: Option<&str>,
    profile: Option<ProfileArg>,
    stack: StackArg,
    budget: u64,
    out: Option<&std::path::Path>,
) -> Result<i32, Exit> {
    let base = load(scenario)?;
    let options = RunOptions {
        seed,
        profile: profile.map(Into::into),
        stack: stack.into(),
        engine: Engine::Direct,
    };
    let apps = crate::sim::script_apps();
    if let Some(name) = invariant {
        if !crate::check::names::ALL.contains(&name) {
            return Err(usage(format!(
                "--invariant: unknown invariant {name:?} (one of {})",
                crate::check::names::ALL.join(", ")
            )));
        }
    }
    let shrunk =
        crate::shrink::shrink(&base, invariant, &options, &apps, budget).map_err(|e| Exit(1, e))?;
    let invariant = shrunk.invariant.as_str();
    match out {
        Some(file) => {
            let line = write_shrunk(file, invariant, &shrunk)?;
            emit(&None, &line)?;
        }
        None => {
            eprintln!(
                "shrunk {invariant}: {} -> {} steps in {} runs",
                shrunk.steps.0, shrunk.steps.1, shrunk.runs
            );
            emit(&None, &shrunk.scenario.to_toml())?;
        }
    }
    Ok(0)
}

fn bugs(table: bool) -> Result<i32, Exit> {
    use crate::bugs::{Target, BUGS};
    if table {
        emit(&None, &crate::bugs::table())?;
        return Ok(0);
    }
    let mut out = String::new();
    let mut differ = 0;
    for bug in BUGS {
        out.push_str(&format!("{} ({}): {}\n", bug.thread, bug.url(), bug.title));
        match bug.scenario {
            Some(name) => out.push_str(&format!("  scenario: {name}\n")),
            None => out.push_str(&format!("  not expressible: {}\n", bug.why)),
        }
        if bug.scenario.is_none() {
            continue;
        }
        for (target, pinned) in Target::ALL.into_iter().zip(bug.pinned) {
            let (verdict, evidence) = bug.play(target).map_err(|e| Exit(2, e))?;
            let mark = if verdict == pinned {
                ""
            } else {
                differ += 1;
                "  << differs from the pinned verdict"
            };
            let detail = if evidence.is_empty() {
                String::new()
            } else {
                format!(": {evidence}")
            };
            out.push_str(&format!(
                "  {:<16} {}{detail}{mark}\n",
                target.as_str(),
                verdict.as_str()
            ));
        }
        out.push_str(&format!("  why: {}\n", bug.why));
    }
    if differ > 0 {
        out.push_str(&format!("{differ} verdicts differ from the pinned ones\n"));
    }
    emit(&None, &out)?;
    Ok(if differ == 0 { 0 } else { 1 })
}

#[allow(clippy::too_many_arguments)]
fn explore(
    scenario: &str,
    runs: u64,
    seed: u64,
    profile: Option<ProfileArg>,
    stack: StackArg,
    engine: EngineArg,
    shard: Option<&str>,
    mode: ModeArg,
    verbose: bool,
    shrink_dir: Option<&std::path::Path>,
) -> Result<i32, Exit> {
    use crate::explore::Shard;
    use std::io::IsTerminal;
    let base = load(scenario)?;
    if runs == 0 {
        return Err(usage("--runs: must be at least 1"));
    }
    let shard = match shard {
        Some(text) => Shard::parse(text).map_err(usage)?,
        None => Shard::ALL,
    };
    let in_shard = (0..runs).filter(|i| shard.has(*i)).count() as u64;
    let options = RunOptions {
        seed: None,
        profile: profile.map(Into::into),
        stack: stack.into(),
        engine: engine.into(),
    };
    let bar = if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new(in_shard);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} runs {per_sec} {eta}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        Some(bar)
    } else {
        None
    };
    let started = std::time::Instant::now();
    let apps = crate::sim::script_apps();
    let mut lines = String::new();
    let report = crate::explore::explore_with(
        &base,
        runs,
        seed,
        shard,
        mode.into(),
        &options,
        &apps,
        |info| {
            if let Some(bar) = &bar {
                bar.set_position(info.done);
            }
            if verbose {
                let drew = info.draw.map(|d| format!(": {d}")).unwrap_or_default();
                let verdict = if info.violated.is_empty() {
                    String::new()
                } else {
                    format!(" -> violates {}", info.violated.join(", "))
                };
                lines.push_str(&format!(
                    "run {} seed {}{drew}{verdict}\n",
                    info.run, info.seed
                ));
            }
        },
    )
    .map_err(|e| Exit(2, e))?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let secs = started.elapsed().as_secs_f64();
    let part = if shard == Shard::ALL {
        String::new()
    } else {
        format!(
            ", shard {}/{} (runs i with i mod {} = {})",
            shard.index + 1,
            shard.count,
            shard.count,
            shard.index
        )
    };
    let how = match mode {
        ModeArg::Swarm => "swarm",
        ModeArg::Perturb => "perturb",
    };
    let mut out = lines;
    out.push_str(&format!(
        "explored {} runs of {} ({how}, seeds {}..={}{part}) in {:.2} s ({:.0} runs/s)\n",
        report.runs,
        base.name,
        seed,
        seed.wrapping_add(runs - 1),
        secs,
        report.runs as f64 / secs.max(1e-9)
    ));
    if report.is_clean() {
        out.push_str("all invariants hold\n");
    }
    for (invariant, (count, failure)) in &report.violated {
        out.push_str(&format!(
            "violated {invariant} in {count} of {} runs; shortest: seed {} ({} events)\n  reproduce: dcsim explore {scenario} --runs 1 --seed {}{}\n",
            report.runs,
            failure.seed,
            failure.trace.events.len(),
            failure.seed,
            if mode == ModeArg::Perturb { " --mode perturb" } else { "" }
        ));
        if let Some(draw) = &failure.draw {
            out.push_str(&format!("  drew: {draw}\n"));
        }
    }
    out.push_str(&format!("reached (runs of {}):\n", report.runs));
    for point in crate::explore::coverage::POINTS {
        let n = report.coverage.get(*point).copied().unwrap_or(0);
        out.push_str(&format!(
            "  {point:<32} {n:>6}  {:>5.1} %\n",
            100.0 * n as f64 / report.runs.max(1) as f64
        ));
    }
    if let Some(dir) = shrink_dir {
        std::fs::create_dir_all(dir)
            .map_err(|e| Exit(2, format!("--shrink: cannot create {}: {e}", dir.display())))?;
        for (invariant, (_, failure)) in &report.violated {
            let run = RunOptions {
                seed: Some(failure.seed),
                ..options.clone()
            };
            let shrunk = crate::shrink::shrink(
                &failure.scenario,
                Some(invariant),
                &run,
                &apps,
                crate::shrink::DEFAULT_BUDGET,
            )
            .map_err(|e| Exit(2, e))?;
            let file = dir.join(format!("{invariant}.toml"));
            out.push_str(&write_shrunk(&file, invariant, &shrunk)?);
        }
    }
    if let Some((invariant, (_, failure))) = report.violated.iter().next() {
        out.push_str(&format!(
            "\nshortest trace violating {invariant} (seed {}):\n",
            failure.seed
        ));
        out.push_str(&failure.trace.render_text());
    }
    emit(&None, &out)?;
    Ok(if report.is_clean() { 0 } else { 1 })
}

fn conform_peer(
    peer: &str,
    traces: &std::path::Path,
    tolerance_ms: Option<u64>,
    details: bool,
) -> Result<i32, Exit> {
    use crate::conform::peers::{conform_dir, RealPeer};
    let peer = RealPeer::parse(peer).ok_or_else(|| {
        usage(format!(
            "--peer: unknown peer `{peer}` (expected one of: chromium, aiortc)"
        ))
    })?;
    let run = conform_dir(peer, traces, tolerance_ms).map_err(usage)?;
    let mut out = format!(
        "{} against the model's `{}` profile ({})\n\n",
        peer.rules().name,
        peer.rules().profile,
        traces.display()
    );
    out.push_str(&crate::conform::render_table(&run.reports));
    for (name, reason) in &run.skipped {
        out.push_str(&format!(
            "| {name} | not expressible | {} |\n",
            reason.replace('|', "\\|")
        ));
    }
    for r in run.reports.iter().filter(|r| details || !r.agrees()) {
        out.push('\n');
        out.push_str(&r.render_details());
    }
    emit(&None, &out)?;
    Ok(if run.reports.iter().all(|r| r.agrees()) {
        0
    } else {
        1
    })
}

fn conform(
    names: Vec<String>,
    seed: Option<u64>,
    tolerance_ms: u64,
    details: bool,
) -> Result<i32, Exit> {
    use std::io::IsTerminal;
    let scenarios = if names.is_empty() {
        scenario::builtin::names()
            .map(|(name, _)| load(name))
            .collect::<Result<Vec<_>, _>>()?
    } else {
        names
            .iter()
            .map(|n| load(n))
            .collect::<Result<Vec<_>, _>>()?
    };
    let options = crate::conform::ConformOptions { seed, tolerance_ms };
    let bar = if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new(scenarios.len() as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        Some(bar)
    } else {
        None
    };
    let mut reports = Vec::new();
    for s in &scenarios {
        if let Some(bar) = &bar {
            bar.set_message(s.name.clone());
        }
        let report = crate::conform::conform(s, &options)
            .map_err(|e| Exit(2, format!("{}: {e}", s.name)))?;
        reports.push(report);
        if let Some(bar) = &bar {
            bar.inc(1);
        }
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let mut out = crate::conform::render_table(&reports);
    for r in reports.iter().filter(|r| details || !r.agrees()) {
        out.push('\n');
        out.push_str(&r.render_details());
    }
    if details {
        out.push_str("\nknown deviations of rtc 0.21.1:\n\n");
        out.push_str(&crate::conform::deviations::render_markdown());
    }
    emit(&None, &out)?;
    Ok(if reports.iter().all(|r| r.agrees()) {
        0
    } else {
        1
    })
}

/// `dcsim check`: arguments are parsed here (not by clap) so that every bad value is one
/// line naming the option, exit 2.
fn check(args: [&str; 8], sleep_sets: bool) -> Result<i32, Exit> {
    use crate::check::run::{self, CheckArgs};
    use std::io::IsTerminal;
    let [profile, depth, app, channels, sends, threads, max_states, bounds] = args;
    let mut parsed = CheckArgs::parse(
        profile, depth, app, channels, sends, threads, max_states, bounds,
    )
    .map_err(usage)?;
    parsed.options.sleep_sets = sleep_sets;
    let tty = std::io::stderr().is_terminal();
    let outcome = run::run(&parsed, |p| {
        if tty {
            eprint!(
                "\rdepth {:>3}  unique {:>12}  frontier {:>10}",
                p.depth, p.unique, p.frontier
            );
        }
    })
    .map_err(usage)?;
    if tty {
        eprintln!();
    }
    emit(&None, &outcome.text)?;
    Ok(outcome.exit_code)
}
