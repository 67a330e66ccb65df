//! The simulated network under the dcsim runtime: every datagram a peer's socket sends
//! travels with the network's latency and may be lost (seeded), held or cut by the
//! scenario fault verbs, and arrives on the virtual clock.

use super::Sim;
use crate::trace::PeerId;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::collections::{BTreeMap, VecDeque};
use std::io::{self, IoSliceMut};
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use webrtc::runtime::{AsyncUdpSocket, RecvMeta, Transmit};

/// A network fault, applied at the instant [`Sim::fault`] is called.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Fault {
    /// Every datagram is lost from now on, in flight or sent later, until `Heal`.
    Partition,
    /// Datagrams pass again.
    Heal,
    /// Datagrams sent from now on are held (not lost) until `Release`.
    Hold,
    /// Held datagrams leave now, in the order they were sent.
    Release,
    /// Each datagram is lost with this probability (drawn from the run's seed).
    Loss(f64),
    /// One-way latency from now on.
    Latency(Duration),
    /// The peer's host dies: it sends and receives nothing any more.
    Crash(PeerId),
}

/// One datagram on the way.
#[derive(Clone, Debug)]
struct Datagram {
    from: SocketAddr,
    to: SocketAddr,
    bytes: Vec<u8>,
}

/// A bound socket's receive queue.
#[derive(Debug)]
struct Inbox {
    owner: PeerId,
    queue: VecDeque<(SocketAddr, Vec<u8>)>,
    waker: Option<Waker>,
}

/// Datagram counts of a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetStats {
    /// Handed to the network by a socket.
    pub sent: u64,
    /// Put in a receive queue.
    pub delivered: u64,
    /// Lost to a partition, a crash, loss or an unbound address.
    pub lost: u64,
}

/// The network's state (behind the [`Sim`] lock).
pub(crate) struct Network {
    rng: SmallRng,
    latency: Duration,
    loss: f64,
    partitioned: bool,
    holding: bool,
    held: Vec<Datagram>,
    crashed: [bool; 2],
    sockets: BTreeMap<SocketAddr, Inbox>,
    in_flight: BTreeMap<(Duration, u64), Datagram>,
    seq: u64,
    pub(crate) stats: NetStats,
}

impl Network {
    pub(crate) fn new(seed: u64, latency: Duration) -> Self {
        Network {
            rng: SmallRng::seed_from_u64(seed),
            latency,
            loss: 0.0,
            partitioned: false,
            holding: false,
            held: Vec::new(),
            crashed: [false; 2],
            sockets: BTreeMap::new(),
            in_flight: BTreeMap::new(),
            seq: 0,
            stats: NetStats::default(),
        }
    }

    pub(crate) fn bind(&mut self, addr: SocketAddr, owner: PeerId) -> io::Result<()> {
        if self.sockets.contains_key(&addr) {
            return Err(io::Error::new(
                io::ErrorKind::AddrInUse,
                format!("dcsim network: {addr} is already bound"),
            ));
        }
        self.sockets.insert(
            addr,
            Inbox {
                owner,
                queue: VecDeque::new(),
                waker: None,
            },
        );
        Ok(())
    }

    fn owner(&self, addr: &SocketAddr) -> Option<PeerId> {
        self.sockets.get(addr).map(|i| i.owner)
    }

    fn dead(&self, addr: &SocketAddr) -> bool {
        self.owner(addr).is_some_and(|p| self.crashed[p.index()])
    }

    fn send(&mut self, now: Duration, datagram: Datagram) {
        self.stats.sent += 1;
        if self.partitioned || self.dead(&datagram.from) {
            self.stats.lost += 1;
            return;
        }
        if self.loss > 0.0 && self.rng.gen::<f64>() < self.loss {
            self.stats.lost += 1;
            return;
        }
        if self.holding {
            self.held.push(datagram);
            return;
        }
        self.seq += 1;
        self.in_flight
            .insert((now + self.latency, self.seq), datagram);
    }

    /// When the next datagram arrives.
    pub(crate) fn next_arrival(&self) -> Option<Duration> {
        self.in_flight.keys().next().map(|k| k.0)
    }

    /// Puts every datagram due by `now` in its receive queue; the wakers to wake.
    pub(crate) fn deliver_due(&mut self, now: Duration) -> Vec<Waker> {
        let mut wakers = Vec::new();
        while let Some(entry) = self.in_flight.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let d = entry.remove();
            if self.partitioned || self.dead(&d.to) {
                self.stats.lost += 1;
                continue;
            }
            match self.sockets.get_mut(&d.to) {
                Some(inbox) => {
                    inbox.queue.push_back((d.from, d.bytes));
                    self.stats.delivered += 1;
                    wakers.extend(inbox.waker.take());
                }
                None => self.stats.lost += 1,
            }
        }
        wakers
    }

    /// Applies a fault at `now`; the wakers to wake.
    pub(crate) fn apply(&mut self, now: Duration, fault: Fault) -> Vec<Waker> {
        match fault {
            Fault::Partition => self.partitioned = true,
            Fault::Heal => self.partitioned = false,
            Fault::Hold => self.holding = true,
            Fault::Release => {
                self.holding = false;
                for d in std::mem::take(&mut self.held) {
                    self.seq += 1;
                    self.in_flight.insert((now + self.latency, self.seq), d);
                }
            }
            Fault::Loss(p) => self.loss = p.clamp(0.0, 1.0),
            Fault::Latency(l) => self.latency = l,
            Fault::Crash(peer) => self.crashed[peer.index()] = true,
        }
        Vec::new()
    }
}

/// A peer's UDP socket on the simulated network. The real socket the crate bound is kept
/// only so that its port stays reserved while the run lasts.
#[derive(Debug)]
pub struct SimSocket {
    sim: Arc<Sim>,
    addr: SocketAddr,
    _reserved: std::net::UdpSocket,
    /// False for a socket on an address another already holds: it sends nothing and
    /// receives nothing.
    bound: bool,
}

impl SimSocket {
    pub(crate) fn new(
        sim: Arc<Sim>,
        addr: SocketAddr,
        reserved: std::net::UdpSocket,
        bound: bool,
    ) -> Self {
        SimSocket {
            sim,
            addr,
            _reserved: reserved,
            bound,
        }
    }
}

impl Drop for SimSocket {
    fn drop(&mut self) {
        if self.bound {
            self.sim.lock().net.sockets.remove(&self.addr);
        }
    }
}

impl AsyncUdpSocket for SimSocket {
    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.addr)
    }

    fn poll_send(&self, _cx: &mut Context<'_>, transmit: &Transmit<'_>) -> Poll<io::Result<usize>> {
        if !self.bound {
            return Poll::Ready(Ok(transmit.contents.len()));
        }
        let mut st = self.sim.lock();
        let now = st.now;
        let chunks: Vec<&[u8]> = match transmit.segment_size {
            Some(size) if size > 0 => transmit.contents.chunks(size).collect(),
            _ => vec![transmit.contents],
        };
        for chunk in chunks {
            st.net.send(
                now,
                Datagram {
                    from: self.addr,
                    to: transmit.destination,
                    bytes: chunk.to_vec(),
                },
            );
        }
        Poll::Ready(Ok(transmit.contents.len()))
    }

    fn poll_recv(
        &self,
        cx: &mut Context<'_>,
        bufs: &mut [IoSliceMut<'_>],
        meta: &mut [RecvMeta],
    ) -> Poll<io::Result<usize>> {
        let capacity = bufs.len().min(meta.len());
        if capacity == 0 {
            return Poll::Ready(Ok(0));
        }
        if !self.bound {
            return Poll::Pending;
        }
        let mut st = self.sim.lock();
        let Some(inbox) = st.net.sockets.get_mut(&self.addr) else {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::NotConnected,
                "dcsim socket is not bound",
            )));
        };
        if inbox.queue.is_empty() {
            inbox.waker = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let mut n = 0;
        while n < capacity {
            let Some((from, payload)) = inbox.queue.pop_front() else {
                break;
            };
            super::fill_recv(bufs, meta, n, from, self.addr, &payload);
            n += 1;
        }
        Poll::Ready(Ok(n))
    }
}
