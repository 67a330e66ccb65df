//! The direct engine: the same peers, application and faults as the turmoil engine, on
//! a discrete-event loop that jumps from one event to the next instead of stepping every
//! millisecond. It keeps turmoil's observable rules (a datagram sent at t arrives at
//! t + latency; at one instant peer `a` runs before `b`; the offer reaches `b` in the
//! instant it is made and the answer reaches `a` one millisecond later) so both engines
//! write the same trace; `tests/engines.rs` holds them to it. It is what makes `explore`
//! fast.

use super::driver::{Effects, PeerDriver};
use super::link::Link;
use super::recorder::Recorder;
use super::{fault_event, fault_schedule, App, AppFactory, StackFactory, PORT};
use crate::check::MonitorConfig;
use crate::scenario::{Action, Scenario};
use crate::trace::{Millis, PeerId, Trace};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::rc::Rc;

/// The network between the two peers: plain data.
struct Network {
    latency: Millis,
    /// The relay's hop, added to every datagram's delay.
    relay: Millis,
    /// What the faults do to a datagram as it is sent.
    link: Link,
    /// (arrival, seq) -> (to, datagram)
    in_flight: BTreeMap<(Millis, u64), (PeerId, Vec<u8>)>,
    /// (arrival, seq) -> (to, description)
    signals: BTreeMap<(Millis, u64), (PeerId, String)>,
}

impl Network {
    fn send(&mut self, now: Millis, from: PeerId, fx: Effects) {
        let to = from.other();
        for datagram in fx.datagrams {
            if let Some((seq, to, datagram)) = self.link.send(to, datagram) {
                let at = now + (self.latency + self.relay).max(1);
                self.in_flight.insert((at, seq), (to, datagram));
            }
        }
        for sdp in fx.signals {
            let seq = self.link.next_seq();
            // turmoil polls a before b within an instant.
            let at = if to == PeerId::B { now } else { now + 1 };
            self.signals.insert((at, seq), (to, sdp));
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
        link: Link::new(scenario.network.loss, seed),
        in_flight: BTreeMap::new(),
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
    // Each driver's next timeout, asked again only after the driver was given something
    // (nothing else changes it; asking costs a walk over the stack's and the
    // application's timers, and most events leave one of the two peers alone).
    let mut due: Vec<Option<Millis>> = drivers.iter().map(PeerDriver::poll_timeout).collect();
    loop {
        let fault_at = faults.get(next_fault).map(|f| f.0);
        let peer_at = due
            .iter()
            .enumerate()
            .filter(|(i, _)| !net.link.crashed(PeerId::BOTH[*i]))
            .filter_map(|(_, t)| *t)
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
            if net.link.crashed(peer) {
                continue;
            }
            let driver = &mut drivers[i];
            let mut given = !woken_at_start;
            if !woken_at_start {
                let fx = driver.wake(now, &mut rec);
                net.send(now, peer, fx);
            }
            // Signals first, then datagrams, then timers: the host's biased select.
            loop {
                let key = net
                    .signals
                    .iter()
                    .take_while(|((at, _), _)| *at <= now)
                    .find(|(_, (to, _))| *to == peer)
                    .map(|(k, _)| *k);
                let Some(key) = key else { break };
                let Some((_, sdp)) = net.signals.remove(&key) else {
                    break;
                };
                let fx = driver.signal(now, &sdp, &mut rec);
                net.send(now, peer, fx);
                given = true;
            }
            loop {
                let key = net
                    .in_flight
                    .iter()
                    .take_while(|((at, _), _)| *at <= now)
                    .find(|(_, (to, _))| *to == peer)
                    .map(|(k, _)| *k);
                let Some(key) = key else { break };
                let Some((_, datagram)) = net.in_flight.remove(&key) else {
                    break;
                };
                let fx = driver.datagram(now, &datagram, &mut rec);
                net.send(now, peer, fx);
                given = true;
            }
            let next = if given { driver.poll_timeout() } else { due[i] };
            if next.is_some_and(|t| t <= now) {
                let fx = driver.wake(now, &mut rec);
                net.send(now, peer, fx);
                due[i] = driver.poll_timeout();
            } else {
                due[i] = next;
            }
        }
        // Datagrams and descriptions to a crashed peer are lost (a signal left queued
        // for a crashed peer would keep the clock from advancing: found by sim_faults).
        let link = &net.link;
        if PeerId::BOTH.into_iter().any(|p| link.crashed(p)) {
            net.in_flight.retain(|_, (to, _)| !link.crashed(*to));
            net.signals.retain(|_, (to, _)| !link.crashed(*to));
        }
        woken_at_start = true;
    }
    for app in &apps {
        app.borrow_mut().finish(duration, &mut rec);
    }
    Ok(rec.finish(duration))
}

fn apply_fault(net: &mut Network, action: &Action, now: Millis) {
    if let Action::Latency { ms } = action {
        net.latency = *ms;
    }
    for (seq, to, datagram) in net.link.apply(action) {
        net.in_flight.insert((now + 1, seq), (to, datagram));
    }
}
