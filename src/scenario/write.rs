//! Writing a scenario back as a version 1 file, so that a scenario built or changed in
//! code (a counterexample found by `dcsim explore`, say) can be saved, read by people,
//! and replayed with `dcsim run`.

use super::{Action, Payload, Reliability, Scenario, Step, FORMAT_VERSION};
use crate::trace::Via;
use std::fmt::Write as _;

/// A TOML string literal, escaped by the `toml` crate.
fn string(text: &str) -> String {
    toml::Value::String(text.to_owned()).to_string()
}

/// A TOML float literal (`0.0` rather than `0`, so that it reads back as a float).
fn float(value: f64) -> String {
    toml::Value::Float(value).to_string()
}

pub(crate) fn to_toml(s: &Scenario) -> String {
    // Writing to a String cannot fail; the results are ignored for that reason.
    let mut out = String::new();
    let _ = writeln!(out, "version = {FORMAT_VERSION}");
    let _ = writeln!(out, "name = {}", string(&s.name));
    if !s.description.is_empty() {
        let _ = writeln!(out, "description = {}", string(&s.description));
    }
    if let Some(profile) = s.profile {
        let _ = writeln!(out, "profile = {}", string(profile.as_str()));
    }
    if let Some(seed) = s.seed {
        let _ = writeln!(out, "seed = {seed}");
    }
    let _ = writeln!(out, "duration_ms = {}", s.duration_ms);

    let _ = writeln!(out, "\n[network]");
    let _ = writeln!(out, "latency_ms = {}", s.network.latency_ms);
    if s.network.relay_ms > 0 {
        let _ = writeln!(out, "relay_ms = {}", s.network.relay_ms);
    }
    let _ = writeln!(out, "loss = {}", float(s.network.loss));

    if s.ice != Default::default() {
        let _ = writeln!(out, "\n[ice]");
        let keys = [
            ("disconnected_timeout_ms", s.ice.disconnected_timeout_ms),
            ("failed_timeout_ms", s.ice.failed_timeout_ms),
            ("keepalive_interval_ms", s.ice.keepalive_interval_ms),
        ];
        for (key, value) in keys {
            if let Some(v) = value {
                let _ = writeln!(out, "{key} = {v}");
            }
        }
    }

    let g = &s.guard;
    if *g != Default::default() {
        let _ = writeln!(out, "\n[guard]");
        if let Some(v) = g.max_queue_messages {
            let _ = writeln!(out, "max_queue_messages = {v}");
        }
        if let Some(v) = g.max_queue_bytes {
            let _ = writeln!(out, "max_queue_bytes = {v}");
        }
        if let Some(v) = g.ttl_ms {
            let _ = writeln!(out, "ttl_ms = {v}");
        }
        if let Some(v) = g.hold_while_disconnected {
            let _ = writeln!(out, "hold_while_disconnected = {v}");
        }
        if let Some(v) = g.queue_while_connecting {
            let _ = writeln!(out, "queue_while_connecting = {v}");
        }
    }

    for c in &s.channels {
        let _ = writeln!(out, "\n[[channel]]");
        let _ = writeln!(out, "label = {}", string(&c.label));
        if c.negotiated {
            let _ = writeln!(out, "negotiated = true");
        }
        if let Some(id) = c.id {
            let _ = writeln!(out, "id = {id}");
        }
        if !c.ordered {
            let _ = writeln!(out, "ordered = false");
        }
        match c.reliability {
            Reliability::Reliable => {}
            Reliability::MaxRetransmits(n) => {
                let _ = writeln!(out, "max_retransmits = {n}");
            }
            Reliability::MaxPacketLifeTime(ms) => {
                let _ = writeln!(out, "max_packet_life_time_ms = {ms}");
            }
        }
        if !c.create_at_start {
            let _ = writeln!(out, "create_at_start = false");
        }
    }

    for step in &s.steps {
        write_step(&mut out, step);
    }
    out
}

fn write_step(out: &mut String, step: &Step) {
    let _ = writeln!(out, "\n[[step]]");
    let _ = writeln!(out, "at_ms = {}", step.at_ms);
    let _ = writeln!(out, "action = {}", string(step.action.name()));
    if let Some(peer) = step.action.peer() {
        let _ = writeln!(out, "peer = {}", string(peer.as_str()));
    }
    if let Some(channel) = step.action.channel() {
        let _ = writeln!(out, "channel = {}", string(channel));
    }
    match &step.action {
        Action::Send {
            via,
            payload,
            count,
            interval_ms,
            ..
        } => {
            if *via == Via::Guarded {
                let _ = writeln!(out, "via = \"guarded\"");
            }
            match payload {
                Payload::Text(text) => {
                    let _ = writeln!(out, "data = {}", string(text));
                }
                Payload::Size(size) => {
                    let _ = writeln!(out, "size = {size}");
                }
            }
            if *count != 1 {
                let _ = writeln!(out, "count = {count}");
            }
            if *interval_ms != 0 {
                let _ = writeln!(out, "interval_ms = {interval_ms}");
            }
        }
        Action::Loss { value } => {
            let _ = writeln!(out, "value = {}", float(*value));
        }
        Action::Latency { ms } => {
            let _ = writeln!(out, "ms = {ms}");
        }
        _ => {}
    }
}
