//! `scenario_parse` and `trace_parse`: arbitrary bytes into the two parsers that read
//! user files. Neither may panic; each either explains the problem on one line with its
//! position, or produces a value that survives being written out and read back.

use crate::scenario::Scenario;
use crate::trace::Trace;

/// The source name the scenario check parses under (errors must start with it).
pub const SCENARIO_SOURCE: &str = "fuzz.toml";

/// Arbitrary bytes as a scenario file: a one-line error (`fuzz.toml[:line]: ...`, the
/// line within the input), or a scenario whose `to_toml()` parses back to an equal
/// scenario (apart from step line numbers) and writes the same text again.
pub fn check_scenario_parse(data: &[u8]) -> Result<(), String> {
    match Scenario::parse_bytes(SCENARIO_SOURCE, data) {
        Err(err) => {
            let line = err.to_string();
            let lines_in_input = data.split(|b| *b == b'\n').count();
            if line.contains(['\n', '\r']) {
                return Err(format!("scenario error is not one line: {line:?}"));
            }
            if !line.starts_with(SCENARIO_SOURCE) || err.message.is_empty() {
                return Err(format!(
                    "scenario error does not name the file and the problem: {line:?}"
                ));
            }
            if err.line.is_some_and(|l| l == 0 || l > lines_in_input) {
                return Err(format!(
                    "scenario error points at line {:?} of a {lines_in_input}-line input: {line:?}",
                    err.line
                ));
            }
            Ok(())
        }
        Ok(scenario) => {
            let text = scenario.to_toml();
            let back = Scenario::parse("round-trip.toml", &text).map_err(|e| {
                format!("to_toml() of a valid scenario does not parse: {e}\n{text}")
            })?;
            if without_lines(&back) != without_lines(&scenario) {
                return Err(format!(
                    "scenario changed through to_toml():\n  before: {scenario:?}\n  after: {back:?}\n{text}"
                ));
            }
            let again = back.to_toml();
            if again != text {
                return Err(format!("to_toml() is not stable:\n{text}\n---\n{again}"));
            }
            Ok(())
        }
    }
}

fn without_lines(s: &Scenario) -> Scenario {
    let mut s = s.clone();
    for step in &mut s.steps {
        step.line = 0;
    }
    s
}

/// Arbitrary bytes (decoded lossily as UTF-8) as a JSON-lines trace: an error whose line
/// number is within the input, or a trace that `to_jsonl()` writes and `from_jsonl()`
/// reads back equal, and that every renderer (text, Mermaid, HTML, diff) takes without
/// panicking.
pub fn check_trace_parse(data: &[u8]) -> Result<(), String> {
    let text = String::from_utf8_lossy(data);
    match Trace::from_jsonl(&text) {
        Err(err) => {
            let lines = text.lines().count();
            if err.line == 0 || err.line > lines {
                return Err(format!(
                    "trace error points at line {} of a {lines}-line input: {err}",
                    err.line
                ));
            }
            if err.message.is_empty() {
                return Err(format!(
                    "trace error without a message at line {}",
                    err.line
                ));
            }
            Ok(())
        }
        Ok(trace) => {
            let out = trace.to_jsonl();
            let back = Trace::from_jsonl(&out)
                .map_err(|e| format!("to_jsonl() of a parsed trace does not parse: {e}\n{out}"))?;
            if back != trace {
                return Err(format!("trace changed through to_jsonl():\n{out}"));
            }
            if back.to_jsonl() != out {
                return Err(format!("to_jsonl() is not stable:\n{out}"));
            }
            let _ = trace.render_text();
            let _ = trace.render_mermaid();
            let _ = trace.render_html("fuzz");
            let _ = crate::trace::diff(&trace, &Trace::new()).render();
            let _ = crate::trace::diff(&trace, &trace).render();
            Ok(())
        }
    }
}
