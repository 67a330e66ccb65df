//! The `dcsim` command line: DESIGN.md's contract. Exit 0 when every invariant held,
//! 1 on a violation or divergence, 2 on bad input or usage (one line on stderr).

use crate::model::ProfileName;
use crate::scenario::{self, Scenario};
use crate::sim::{self, RunOptions, StackKind};
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
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Write the output to this file instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// List the built-in scenarios.
    Scenarios,
}

/// `--profile`.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ProfileArg {
    /// The webrtc 0.21.1 crate.
    #[value(name = "webrtc-rs")]
    WebrtcRs,
    /// The W3C spec (browsers).
    W3c,
}

impl From<ProfileArg> for ProfileName {
    fn from(p: ProfileArg) -> Self {
        match p {
            ProfileArg::WebrtcRs => ProfileName::WebrtcRs,
            ProfileArg::W3c => ProfileName::W3c,
        }
    }
}

/// `--stack`.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum StackArg {
    /// The dcsim model.
    Model,
}

/// `--format`.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Format {
    /// Aligned review text.
    Text,
    /// JSON lines.
    Json,
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
            format,
            out,
        } => {
            let scenario = load(&scenario)?;
            let options = RunOptions {
                seed,
                profile: profile.map(Into::into),
                stack: match stack {
                    StackArg::Model => StackKind::Model,
                },
            };
            let report = sim::run(&scenario, &options).map_err(|e| Exit(2, e))?;
            let text = match format {
                Format::Json => report.trace.to_jsonl(),
                Format::Text => report.trace.to_jsonl(),
            };
            emit(&out, &text)?;
            Ok(if report.trace.is_clean() { 0 } else { 1 })
        }
        Command::Scenarios => {
            let mut text = String::new();
            for (name, description) in scenario::builtin::names() {
                text.push_str(&format!("{name:<30} {description}\n"));
            }
            emit(&None, &text)?;
            Ok(0)
        }
    }
}
