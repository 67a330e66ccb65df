//! Swarm exploration: per run seed, which fault kinds are on and their parameters are
//! drawn, with fault times aimed at the lifecycle's edges, on top of the base
//! scenario's own steps. Swarm testing (a random subset of features per run) reaches
//! combinations a fixed mix of faults keeps diluting.

use crate::model::{IceTiming, PeerConfig};
use crate::scenario::{Action, Scenario, Step};
use crate::vocab::{Millis, PeerId};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::fmt;

/// What one run drew: the network, and each fault kind that is on, with its times.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Draw {
    /// One-way latency from the start.
    pub latency_ms: Millis,
    /// Loss probability from the start (0 when loss is off).
    pub loss: f64,
    /// A partition: from, and until (`None`: never healed).
    pub partition: Option<(Millis, Option<Millis>)>,
    /// A hold: from, until released.
    pub hold: Option<(Millis, Millis)>,
    /// A latency spike: at, to this many ms.
    pub spike: Option<(Millis, Millis)>,
    /// A crash: when, which peer.
    pub crash: Option<(Millis, PeerId)>,
    /// `pc.close()`: when, which peer.
    pub close_peer: Option<(Millis, PeerId)>,
    /// `channel.close()`: when, which peer, which channel.
    pub close_channel: Option<(Millis, PeerId, String)>,
    /// `restartIce()` on `a`: when.
    pub ice_restart: Option<Millis>,
}

impl fmt::Display for Draw {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "latency {} ms", self.latency_ms)?;
        if self.loss > 0.0 {
            write!(f, ", loss {:.1} %", self.loss * 100.0)?;
        }
        match self.partition {
            Some((at, Some(heal))) => write!(f, ", partition {at}..{heal} ms")?,
            Some((at, None)) => write!(f, ", partition from {at} ms")?,
            None => {}
        }
        if let Some((at, until)) = self.hold {
            write!(f, ", hold {at}..{until} ms")?;
        }
        if let Some((at, ms)) = self.spike {
            write!(f, ", latency {ms} ms at {at} ms")?;
        }
        if let Some((at, peer)) = self.crash {
            write!(f, ", crash {peer} at {at} ms")?;
        }
        if let Some((at, peer)) = self.close_peer {
            write!(f, ", pc.close() on {peer} at {at} ms")?;
        }
        if let Some((at, peer, label)) = &self.close_channel {
            write!(f, ", close {label} on {peer} at {at} ms")?;
        }
        if let Some(at) = self.ice_restart {
            write!(f, ", ICE restart at {at} ms")?;
        }
        Ok(())
    }
}

/// The lifecycle's edges a fault time is aimed at, for a run connecting at `connect` with
/// one-way latency `latency` under `ice`.
struct Edges {
    connect: Millis,
    latency: Millis,
    ice: IceTiming,
    /// The DCEP handshake deadline (0: none).
    dcep_deadline: Millis,
    end: Millis,
}

impl Edges {
    /// A time in the opening: one of the first dozen one-way trips after connect (ICE
    /// checks, the DTLS flights, the SCTP handshake, the DCEP OPEN and its ACK), give or
    /// take a millisecond.
    fn opening(&self, rng: &mut SmallRng) -> Millis {
        let hops = rng.gen_range(1..=12);
        let jitter = rng.gen_range(0..=2);
        (self.connect + hops * self.latency.max(1) + jitter).saturating_sub(1)
    }

    /// A time when the channel is up, before any timeout: a while after the opening.
    fn steady(&self, rng: &mut SmallRng) -> Millis {
        self.connect + 20 * self.latency.max(1) + rng.gen_range(0..=2_000)
    }

    /// A time around a timeout after a path loss at `lost`: just before or after ICE's
    /// `disconnected` or `failed` (the agent ticks every 200 ms), or the DCEP handshake
    /// deadline of a channel whose OPEN the loss kept back.
    fn around_timeout(&self, rng: &mut SmallRng, lost: Millis) -> Millis {
        let disconnected = self.ice.disconnected_timeout_ms;
        let failed = disconnected + self.ice.failed_timeout_ms;
        let target = match rng.gen_range(0..3) {
            0 if self.dcep_deadline != 0 => self.dcep_deadline,
            1 if self.ice.failed_timeout_ms != 0 => failed,
            _ => disconnected,
        };
        let offset = rng.gen_range(0..=800);
        (lost + target + offset).saturating_sub(400)
    }

    /// A time anywhere in the run's lifecycle edges.
    fn any(&self, rng: &mut SmallRng, lost: Option<Millis>) -> Millis {
        let t = match (rng.gen_range(0..3), lost) {
            (0, _) => self.opening(rng),
            (1, Some(lost)) => self.around_timeout(rng, lost),
            _ => self.steady(rng),
        };
        t.min(self.end)
    }
}

/// The scenario of run `seed`: the base's steps, with the drawn network and faults.
/// `config` is the run's peer config (the profile's, with the scenario's `[ice]` keys):
/// its ICE timing and DCEP deadline are the edges fault times aim at.
pub fn swarm(base: &Scenario, seed: u64, config: &PeerConfig) -> (Scenario, Draw) {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut s = base.clone();
    let mut draw = Draw {
        latency_ms: rng.gen_range(1..=100),
        ..Draw::default()
    };
    if rng.gen_bool(0.5) {
        draw.loss = f64::from(rng.gen_range(1..=50_u32)) / 1000.0;
    }
    s.network.latency_ms = draw.latency_ms;
    s.network.loss = draw.loss;
    let connect = base
        .steps
        .iter()
        .find(|st| st.action == Action::Connect)
        .map_or(0, |st| st.at_ms);
    let edges = Edges {
        connect,
        latency: draw.latency_ms,
        ice: config.ice,
        dcep_deadline: config.dcep_handshake_timeout_ms,
        end: base.duration_ms,
    };
    let mut extra: Vec<Step> = Vec::new();
    let step = |at: Millis, action: Action| Step {
        at_ms: at.min(base.duration_ms),
        line: 0,
        action,
    };
    let mut lost = None;
    if rng.gen_bool(0.5) {
        let at = if rng.gen_bool(0.5) {
            edges.opening(&mut rng)
        } else {
            edges.steady(&mut rng)
        };
        let at = at.min(base.duration_ms);
        let heal = match rng.gen_range(0..3) {
            // Back before ICE notices, or around one of its timeouts, or never.
            0 => Some(at + rng.gen_range(100..=3_000)),
            1 => Some(edges.around_timeout(&mut rng, at)),
            _ => None,
        }
        .map(|t| t.min(base.duration_ms));
        extra.push(step(at, Action::Partition));
        if let Some(heal) = heal {
            extra.push(step(heal, Action::Heal));
        }
        draw.partition = Some((at, heal));
        lost = Some(at);
    }
    if rng.gen_bool(0.5) {
        let at = edges.any(&mut rng, lost);
        let until = (at + rng.gen_range(1..=2_000)).min(base.duration_ms);
        extra.push(step(at, Action::Hold));
        extra.push(step(until, Action::Release));
        draw.hold = Some((at, until));
    }
    if rng.gen_bool(0.3) {
        let at = edges.any(&mut rng, lost);
        let ms = rng.gen_range(100..=1_000);
        extra.push(step(at, Action::Latency { ms }));
        draw.spike = Some((at, ms));
    }
    let peer = |rng: &mut SmallRng| {
        if rng.gen_bool(0.5) {
            PeerId::A
        } else {
            PeerId::B
        }
    };
    if rng.gen_bool(0.2) {
        let (at, p) = (edges.any(&mut rng, lost), peer(&mut rng));
        extra.push(step(at, Action::Crash { peer: p }));
        draw.crash = Some((at, p));
    }
    if rng.gen_bool(0.25) {
        let (at, p) = (edges.any(&mut rng, lost), peer(&mut rng));
        extra.push(step(at, Action::ClosePeer { peer: p }));
        draw.close_peer = Some((at, p));
    }
    let created: Vec<&str> = base
        .channels
        .iter()
        .filter(|c| c.create_at_start)
        .map(|c| c.label.as_str())
        .collect();
    if !created.is_empty() && rng.gen_bool(0.25) {
        let label = created[rng.gen_range(0..created.len())].to_string();
        let (at, p) = (edges.any(&mut rng, lost), peer(&mut rng));
        extra.push(step(
            at,
            Action::CloseChannel {
                peer: p,
                channel: label.clone(),
            },
        ));
        draw.close_channel = Some((at, p, label));
    }
    if rng.gen_bool(0.25) {
        // After the partition, if any, so that the restart can bring the path back.
        let at = match draw.partition {
            Some((_, Some(heal))) => heal + rng.gen_range(0..=500),
            _ => edges.any(&mut rng, lost),
        };
        extra.push(step(at, Action::IceRestart { peer: PeerId::A }));
        draw.ice_restart = Some(at.min(base.duration_ms));
    }
    s.steps.extend(extra);
    // Stable: the base's steps keep their order at equal times, the drawn ones follow.
    s.steps.sort_by_key(|st| st.at_ms);
    (s, draw)
}
