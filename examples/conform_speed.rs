//! How much faster than real time the simulator runs a scenario on the model and on the
//! real `rtc` 0.21.1 stack, side by side in one process.
//!
//! ```text
//! cargo run --release --example conform_speed [SCENARIO] [RUNS]
//! ```
//!
//! Defaults: `checking-disconnected-failed`, 20 runs per stack (alternating, after one
//! warm-up run each). Prints the median and the best wall-clock time of one whole run
//! (setup, certificates, the simulation to `duration_ms`) and its speed-up over the
//! scenario's virtual duration.
//!
//! Then the same comparison without turmoil, to separate the stacks' own cost from the
//! simulator's: both stacks behind the `Stack` trait on a minimal in-memory link (10 ms
//! latency, total partition from 30 ms, sends at 2, 7, 12 ms and every 3 s from 1 s, run
//! to 40 s: the shape of `checking-disconnected-failed`), stepping straight to the next
//! deadline or delivery.

use dcsim::model::{Peer, PeerConfig, Profile};
use dcsim::rtc_stack::{RtcConfig, RtcStack};
use dcsim::scenario::Scenario;
use dcsim::sim::{self, RunOptions, StackKind};
use dcsim::stack::{AppCall, Reliability, Stack};
use dcsim::trace::{Millis, PeerId};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// One run of the in-memory link to `end`; returns how many times a stack was woken.
fn direct(stack: StackKind, end: Millis) -> Result<u64, String> {
    const LATENCY: Millis = 10;
    const PARTITION: Millis = 30;
    let base = Instant::now();
    let addr = |p: PeerId| SocketAddr::from(([10, 0, 0, 1 + p.index() as u8], 5000));
    let make = |p: PeerId| -> Result<Box<dyn Stack>, String> {
        Ok(match stack {
            StackKind::Model => Box::new(Peer::new(p, Profile::WEBRTC_RS, PeerConfig::default())),
            StackKind::Rtc => Box::new(RtcStack::new(
                p,
                addr(p),
                addr(p.other()),
                RtcConfig::new(base),
            )?),
        })
    };
    let mut peers = [make(PeerId::A)?, make(PeerId::B)?];
    let chat = AppCall::CreateChannel {
        label: "chat".into(),
        negotiated: None,
        ordered: true,
        reliability: Reliability::Reliable,
    };
    peers[0].handle_app(0, chat)?;
    let offer = peers[0].create_description(0)?;
    peers[1].apply_remote_description(0, &offer)?;
    let answer = peers[1].create_description(0)?;
    peers[0].apply_remote_description(0, &answer)?;
    let mut sends: Vec<Millis> = vec![2, 7, 12];
    sends.extend((0..11).map(|i| 1000 + 3000 * i));
    let mut wire: BTreeMap<(Millis, u64), (usize, Vec<u8>)> = BTreeMap::new();
    let (mut seq, mut now, mut wakes, mut msg) = (0u64, 0, 0u64, 0);
    loop {
        for (i, p) in peers.iter_mut().enumerate() {
            while let Some(d) = p.poll_transmit() {
                if now < PARTITION {
                    wire.insert((now + LATENCY, seq), (1 - i, d));
                    seq += 1;
                }
            }
            while p.poll_event().is_some() {}
        }
        let next = [
            wire.keys().next().map(|k| k.0),
            peers[0].poll_timeout(),
            peers[1].poll_timeout(),
            sends.first().copied(),
        ]
        .into_iter()
        .flatten()
        .min();
        let Some(next) = next else { break };
        if next > end {
            break;
        }
        now = now.max(next);
        while let Some(entry) = wire.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let (to, d) = entry.remove();
            peers[to].handle_datagram(now, &d);
            wakes += 1;
        }
        while sends.first().is_some_and(|t| *t <= now) {
            sends.remove(0);
            let send = AppCall::Send {
                channel: "chat".into(),
                msg,
                size: 14,
            };
            msg += 1;
            let _ = peers[0].handle_app(now, send);
        }
        for p in peers.iter_mut() {
            if p.poll_timeout().is_some_and(|t| t <= now) {
                p.handle_timeout(now);
                wakes += 1;
            }
        }
    }
    Ok(wakes)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let name = args
        .next()
        .unwrap_or_else(|| "checking-disconnected-failed".into());
    let runs: usize = match args.next().map(|n| n.parse()) {
        None => 20,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => {
            eprintln!("conform_speed: RUNS must be a positive integer");
            std::process::exit(2);
        }
    };
    let scenario = match Scenario::load(&name) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("conform_speed: {e}");
            std::process::exit(2);
        }
    };
    let virtual_time = Duration::from_millis(scenario.duration_ms);
    let stacks = [("model", StackKind::Model), ("rtc", StackKind::Rtc)];
    let mut times: [Vec<Duration>; 2] = [Vec::new(), Vec::new()];
    for round in 0..=runs {
        for (i, (label, stack)) in stacks.iter().enumerate() {
            let options = RunOptions {
                stack: *stack,
                ..RunOptions::default()
            };
            let started = Instant::now();
            let report = sim::run(&scenario, &options);
            let took = started.elapsed();
            if let Err(e) = report {
                eprintln!("conform_speed: {label}: {e}");
                std::process::exit(1);
            }
            if round > 0 {
                times[i].push(took); // round 0 warms up
            }
        }
    }
    println!(
        "{name}: {} ms of virtual time, {runs} runs per stack (release: {})",
        scenario.duration_ms,
        !cfg!(debug_assertions)
    );
    let mut medians = [Duration::ZERO; 2];
    for (i, (label, _)) in stacks.iter().enumerate() {
        let t = &mut times[i];
        t.sort();
        let median = t[t.len() / 2];
        medians[i] = median;
        println!(
            "{label:>5}: median {:>9.3} ms, best {:>9.3} ms per run: {:>9.0}x real time",
            median.as_secs_f64() * 1e3,
            t[0].as_secs_f64() * 1e3,
            virtual_time.as_secs_f64() / median.as_secs_f64()
        );
    }
    println!(
        "the real stack costs {:.1}x the model per run",
        medians[1].as_secs_f64() / medians[0].as_secs_f64()
    );

    // Without turmoil: the stacks alone.
    let end: Millis = 40_000;
    let mut times: [Vec<Duration>; 2] = [Vec::new(), Vec::new()];
    let mut wakes = [0u64; 2];
    for round in 0..=runs * 5 {
        for (i, (label, stack)) in stacks.iter().enumerate() {
            let started = Instant::now();
            match direct(*stack, end) {
                Ok(w) => wakes[i] = w,
                Err(e) => {
                    eprintln!("conform_speed: direct {label}: {e}");
                    std::process::exit(1);
                }
            }
            if round > 0 {
                times[i].push(started.elapsed());
            }
        }
    }
    println!(
        "without the simulator (in-memory link, {end} ms, {} runs per stack):",
        runs * 5
    );
    for (i, (label, _)) in stacks.iter().enumerate() {
        let t = &mut times[i];
        t.sort();
        let median = t[t.len() / 2];
        medians[i] = median;
        println!(
            "{label:>5}: median {:>9.3} ms per run, {:>5} wake-ups: {:>9.0}x real time",
            median.as_secs_f64() * 1e3,
            wakes[i],
            end as f64 / 1e3 / median.as_secs_f64()
        );
    }
    println!(
        "the real stack costs {:.1}x the model per run",
        medians[1].as_secs_f64() / medians[0].as_secs_f64()
    );
}
