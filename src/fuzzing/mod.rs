//! The fuzz harness's checks, in the library so that `cargo test` replays exactly what
//! `cargo fuzz` runs (cargo feature `arbitrary`).
//!
//! Each fuzz target in `fuzz/fuzz_targets/` is one line: it hands libFuzzer's bytes to a
//! `check_*` function here and panics on `Err`. `tests/fuzz_corpus.rs` hands every
//! committed corpus file and crash reproduction to the same functions. A check returns
//! `Ok(())` for bytes that do not decode into an input (nothing to judge) and for inputs
//! that held every property; `Err` carries a report: what broke, and the input and
//! trace tail that show it.
//!
//! | target | check | input | what must hold |
//! |---|---|---|---|
//! | `model_inputs` | [`check_model_inputs`] | [`model_inputs::ModelInput`]: ops on two model peers (app calls, any-order delivery, drops, duplicates, timers, time) | every invariant of the [`Monitor`](crate::check::Monitor) after every step (raw sends excused from `no-send-on-non-open` only), guards conserve and stay bounded, every state change is reported |
//! | `guard_ops` | [`check_guard_ops`] | [`guard_ops::GuardInput`]: a config and ops on one guard | conservation (outside ledger and `conserved()`), FIFO of released ids, bounds, TTL, release only while the last report says open and usable |
//! | `sim_faults` | [`check_sim_faults`] | [`sim_faults::SimFaultsInput`]: a built-in scenario with guarded sends, latency, loss, seed and fault schedule | no invariant violated on the direct engine, and the same run twice gives the same trace |
//! | `scenario_parse` | [`check_scenario_parse`] | bytes | a one-line error naming the file, or a scenario that round-trips through `to_toml` |
//! | `trace_parse` | [`check_trace_parse`] | bytes | an error with a line number in range, or a trace that round-trips through `to_jsonl` |
//!
//! Work per input is bounded ([`MAX_OPS`] ops, bounded deliveries per op) so that one
//! execution takes microseconds to a few milliseconds.
//!
//! ## The planted bug
//!
//! [`Options::plant_skip_state_check`] builds every guard with
//! [`GuardConfig::unsafe_skip_state_check`](crate::guard::GuardConfig): a guard that
//! forgets to look at the channel state. It exists so that a test can prove the harness
//! catches a broken guard (`tests/fuzz_corpus.rs`, and `scripts/fuzz.sh` with the fuzz
//! crate's `planted-bug` feature); nothing else sets it.

pub mod encode;
pub mod guard_ops;
pub mod model_inputs;
pub mod parsers;
mod read;
pub mod sim_faults;

pub use encode::Encode;
pub use guard_ops::{check_guard_ops, check_guard_ops_with};
pub use model_inputs::{check_model_inputs, check_model_inputs_with};
pub use parsers::{check_scenario_parse, check_trace_parse};
pub use sim_faults::{check_sim_faults, check_sim_faults_with};

pub use arbitrary;

use arbitrary::{Arbitrary, Unstructured};

/// Most operations taken from one input; the rest of a longer input is ignored.
pub const MAX_OPS: usize = 200;

/// Harness switches that are not part of the fuzz input.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Options {
    /// Plant the bug: every guard skips its state check (see the module docs).
    pub plant_skip_state_check: bool,
}

impl Options {
    /// The planted-bug harness.
    pub const PLANTED: Options = Options {
        plant_skip_state_check: true,
    };
}

/// A target's check: `Ok` or the report of what broke.
pub type Check = fn(&[u8]) -> Result<(), String>;

/// The fuzz targets by name, with their check: what `tests/fuzz_corpus.rs` and
/// `scripts/fuzz.sh` iterate over.
pub const TARGETS: [(&str, Check); 5] = [
    ("model_inputs", check_model_inputs),
    ("guard_ops", check_guard_ops),
    ("sim_faults", check_sim_faults),
    ("scenario_parse", check_scenario_parse),
    ("trace_parse", check_trace_parse),
];

/// Decodes a structured input from fuzz bytes; `None` when the bytes run out before an
/// input is complete (libFuzzer will try longer ones).
pub fn decode<'a, T: Arbitrary<'a>>(data: &'a [u8]) -> Option<T> {
    T::arbitrary_take_rest(Unstructured::new(data)).ok()
}

/// Picks `items[i % len]` (for arbitrary indices into small tables).
fn pick<T: Copy>(items: &[T], i: u8) -> T {
    items[usize::from(i) % items.len()]
}

/// Events as JSON lines, for reports.
fn tail_jsonl<'a>(events: impl Iterator<Item = &'a crate::trace::TraceEvent>) -> String {
    let trace = crate::trace::Trace {
        events: events.cloned().collect(),
    };
    trace.to_jsonl()
}
