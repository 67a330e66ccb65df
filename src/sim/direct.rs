//! The direct engine: the same peers, application and faults as the turmoil engine, on
//! a discrete-event loop that jumps from one event to the next instead of stepping every
//! millisecond. It keeps turmoil's observable rules (a datagram sent at t arrives at
//! t + latency; at one instant peer `a` runs before `b`; the offer reaches `b` in the
//! instant it is made and the answer reaches `a` one millisecond later) so both engines
//! write the same trace; `tests/engines.rs` holds them to it. It is what makes `explore`
//! fast.

use super::driver::{Effects, PeerDriver};
use super::recorder::Recorder;
use super::{fault_event, fault_schedule, App, AppFactory, StackFactory, PORT};
use crate::check::MonitorConfig;
use crate::scenario::{Action, Scenario};
use crate::trace::{Millis, PeerId, Trace};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::rc::Rc;

/// The network between the two peers: plain data.
struct Network {
    latency: Millis,
    /// The relay's hop, added to every datagram's delay.
    relay: Millis,
    loss: f64,
    partitioned: bool,
    holding: bool,
    crashed: [bool; 2],
    rng: SmallRng,
    seq: u64,
    /// (arrival, seq) -> (to, datagram)
    in_flight: BTreeMap<(Millis, u64), (PeerId, Vec<u8>)>,
    held: Vec<(PeerId, Vec<u8>)>,
    /// (arrival, seq) -> (to, description)
    signals: BTreeMap<(Millis, u64), (PeerId, String)>,
}

impl Network {
    fn send(&mut self, now: Millis, from: PeerId, fx: Effects) {
        let to = from.other();
        for datagram in fx.datagrams {
            if self.partitioned || self.crashed[to.index()] {
                continue;
            }
            if self.loss > 0.0 && self.rng.gen_bool(self.loss.min(1.0)) {
                continue;
            }
            if self.holding {
                self.held.push((to, datagram));
                continue;
            }
            self.seq += 1;
            self.in_flight.insert(
                (now + (self.latency + self.relay).max(1), self.seq),
                (to, datagram),
            );
        }
        for sdp in fx.signals {
            self.seq += 1;
            // turmoil polls a before b within an instant.
            let at = if to == PeerId::B { now } else { now + 1 };
            self.signals.insert((at, self.seq), (to, sdp));
        }
    }

    fn next_event(&self) -> Option<Millis> {
        let d = self.in_flight.keys().next().map(|k| k.0);
        let s = self.signals.keys().next().map(|k| k.0);
        [d, s].into_iter().flatten().min()
    }
}

/// Label addresses for stacks that need them (the real rtc stack).
fn address(peer: PeerId) -> SocketAddr {
    let host = match peer {
        PeerId::A => 1,
        PeerId::B => 2,
    };
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 168, 0, host)), PORT)
}

/// Runs a scenario on the direct engine.
pub fn run_direct(
    scenario: &Scenario,
    seed: u64,
    factory: StackFactory,
    make_app: &AppFactory,
    monitor: MonitorConfig,
) -> Result<Trace, String> {
    let duration = scenario.duration_ms;
    let mut rec = Recorder::new(monitor);
    let mut net = Network {
        latency: scenario.network.latency_ms,
        relay: scenario.network.relay_ms,
        loss: scenario.network.loss,
        partitioned: false,
        holding: false,
        crashed: [false; 2],
        rng: SmallRng::seed_from_u64(seed),
        seq: 0,
        in_flight: BTreeMap::new(),
        held: Vec::new(),
        signals: BTreeMap::new(),
    };
    let apps: [Rc<RefCell<dyn App>>; 2] =
        [make_app(PeerId::A, scenario), make_app(PeerId::B, scenario)];
    let mut drivers = Vec::with_capacity(2);
    for peer in PeerId::BOTH {
        let stack = factory(peer, address(peer), address(peer.other()))?;
        let app = apps[peer.index()].clone();
        drivers.push(PeerDriver::new(peer, stack, app));
    }
    let faults = fault_schedule(scenario);
    let mut next_fault = 0;
    // Every driver is woken at 0, as a host starts.
    let mut woken_at_start = false;
    loop {
        let fault_at = faults.get(next_fault).map(|f| f.0);
        let peer_at = drivers
            .iter()
            .enumerate()
            .filter(|(i, _)| !net.crashed[*i])
            .filter_map(|(_, d)| d.poll_timeout())
            .min();
        let now = if woken_at_start {
            match [fault_at, peer_at, net.next_event()]
                .into_iter()
                .flatten()
                .min()
            {
                Some(t) => t,
                None => break,
            }
        } else {
            0
        };
        while let Some((at, action)) = faults.get(next_fault) {
            if *at > now {
                break;
            }
            next_fault += 1;
            apply_fault(&mut net, action, now);
            rec.record(fault_event(now, action));
        }
        if now >= duration {
            break;
        }
        for peer in PeerId::BOTH {
            let i = peer.index();
            if net.crashed[i] {
                continue;
            }
            let driver = &mut drivers[i];
            if !woken_at_start {
                let fx = driver.wake(now, &mut rec);
                net.send(now, peer, fx);
            }
            // Signals first, then datagrams, then timers: the host's biased select.
            loop {
                let key = net
                    .signals
                    .iter()
                    .find(|((at, _), (to, _))| *at <= now && *to == peer)
                    .map(|(k, _)| *k);
                let Some(key) = key else { break };
                let Some((_, sdp)) = net.signals.remove(&key) else {
                    break;
                };
                let fx = driver.signal(now, &sdp, &mut rec);
                net.send(now, peer, fx);
            }
            loop {
                let key = net
                    .in_flight
                    .iter()
                    .find(|((at, _), (to, _))| *at <= now && *to == peer)
                    .map(|(k, _)| *k);
                let Some(key) = key else { break };
                let Some((_, datagram)) = net.in_flight.remove(&key) else {
                    break;
                };
                let fx = driver.datagram(now, &datagram, &mut rec);
                net.send(now, peer, fx);
            }
            if driver.poll_timeout().is_some_and(|t| t <= now) {
                let fx = driver.wake(now, &mut rec);
                net.send(now, peer, fx);
            }
        }
        // Datagrams and descriptions to a crashed peer are lost (a signal left queued
        // for a crashed peer would keep the clock from advancing: found by sim_faults).
        let crashed = net.crashed;
        net.in_flight.retain(|_, (to, _)| !crashed[to.index()]);
        net.signals.retain(|_, (to, _)| !crashed[to.index()]);
        woken_at_start = true;
    }
    for app in &apps {
        app.borrow_mut().finish(duration, &mut rec);
    }
    Ok(rec.finish(duration))
}

fn apply_fault(net: &mut Network, action: &Action, now: Millis) {
    match action {
        Action::Partition => net.partitioned = true,
        Action::Heal => net.partitioned = false,
        Action::Hold => net.holding = true,
        Action::Release => {
            net.holding = false;
            for (to, datagram) in std::mem::take(&mut net.held) {
                net.seq += 1;
                net.in_flight.insert((now + 1, net.seq), (to, datagram));
            }
        }
        Action::Loss { value } => net.loss = *value,
        Action::Latency { ms } => net.latency = *ms,
        Action::Crash { peer } => net.crashed[peer.index()] = true,
        _ => {}
    }
}
