//! JSON lines: one event an object, one object a line. Round-trips exactly.

use super::{Trace, TraceEvent};
use std::fmt;

/// Why a JSON-lines trace could not be read: the line (1-based) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceParseError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong on that line.
    pub message: String,
}

impl fmt::Display for TraceParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for TraceParseError {}

impl Trace {
    /// Serializes as JSON lines (each line ends with `\n`).
    pub fn to_jsonl(&self) -> String {
        let mut out = String::with_capacity(self.events.len() * 96);
        for event in &self.events {
            // Serializing these plain structs cannot fail (no maps with non-string keys).
            match serde_json::to_string(event) {
                Ok(line) => out.push_str(&line),
                Err(e) => out.push_str(&format!("{{\"serialize_error\":{:?}}}", e.to_string())),
            }
            out.push('\n');
        }
        out
    }

    /// Parses JSON lines; blank lines are skipped, anything else must be an event.
    pub fn from_jsonl(text: &str) -> Result<Trace, TraceParseError> {
        let mut events = Vec::new();
        let mut last_t = 0;
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let mut event: TraceEvent =
                serde_json::from_str(line).map_err(|e| TraceParseError {
                    line: i + 1,
                    message: format!("not a trace event: {e}"),
                })?;
            // Older traces wrote application calls as `fault`: read them as `app`.
            event.kind = event.kind.upgraded();
            if event.t_ms < last_t {
                return Err(TraceParseError {
                    line: i + 1,
                    message: format!(
                        "t_ms {} goes back in time (previous event at {last_t})",
                        event.t_ms
                    ),
                });
            }
            last_t = event.t_ms;
            events.push(event);
        }
        Ok(Trace { events })
    }
}

#[cfg(test)]
mod tests {
    use crate::trace::*;

    #[test]
    fn application_calls_written_as_fault_read_as_app() {
        let old = "{\"t_ms\":0,\"peer\":\"a\",\"event\":\"fault\",\"action\":\"connect\"}\n\
                   {\"t_ms\":9,\"peer\":\"b\",\"event\":\"fault\",\"action\":\"close_peer\"}\n\
                   {\"t_ms\":9,\"event\":\"fault\",\"action\":\"partition\"}\n";
        let trace = Trace::from_jsonl(old).unwrap();
        let names: Vec<&str> = trace.events.iter().map(|e| e.name()).collect();
        assert_eq!(names, ["app", "app", "fault"]);
        assert!(trace
            .to_jsonl()
            .contains("\"event\":\"app\",\"action\":\"connect\""));
    }

    #[test]
    fn design_examples_parse_and_round_trip() {
        let text = r#"{"t_ms":0,"peer":"a","event":"state","machine":"signaling","from":"stable","to":"have-local-offer"}
{"t_ms":5,"peer":"a","event":"send","channel":"chat","msg":0,"via":"raw","state":"connecting","outcome":"error","error":"data channel is not open yet"}
{"t_ms":5,"peer":"a","event":"send","channel":"chat","msg":1,"via":"guarded","state":"connecting","outcome":"queued"}
{"t_ms":612,"peer":"b","event":"deliver","channel":"chat","msg":0}
{"t_ms":612,"peer":"a","event":"drop","channel":"chat","msg":3,"reason":"expired"}
{"t_ms":1000,"event":"fault","action":"partition"}
{"t_ms":7000,"event":"violation","invariant":"no-send-on-non-open","detail":"x"}
"#;
        let trace = Trace::from_jsonl(text).unwrap();
        assert_eq!(trace.events.len(), 7);
        assert_eq!(trace.to_jsonl(), text);
        assert!(!trace.is_clean());
    }

    #[test]
    fn bad_lines_name_the_line() {
        let err = Trace::from_jsonl("\n{\"t_ms\":1}\n").unwrap_err();
        assert_eq!(err.line, 2);
        let err = Trace::from_jsonl("{\"t_ms\":5,\"event\":\"fault\",\"action\":\"x\"}\n{\"t_ms\":1,\"event\":\"fault\",\"action\":\"y\"}").unwrap_err();
        assert_eq!(err.line, 2);
        assert!(Trace::from_jsonl("\u{0}\u{1}garbage").is_err());
    }
}
