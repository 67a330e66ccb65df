//! A deterministic [`webrtc::runtime::Runtime`]: unmodified async code written against the
//! `webrtc` 0.21.1 crate runs on dcsim's virtual clock and simulated network.
//!
//! - **One thread, a fixed poll order.** Every task the crate or the application spawns
//!   runs on the thread that called [`Runtime::block_on`], woken tasks in the order they
//!   were woken (first in, first out); no OS thread is started.
//! - **A virtual clock** that jumps to the next timer or datagram arrival when every task
//!   is idle: a 40 s race takes the CPU time its packets take, not 40 s. [`Runtime::now`]
//!   reads it, which is the clock the crate's sans-IO core is told.
//! - **A simulated network** ([`net`]): the UDP sockets the crate binds are kept (so their
//!   ports stay reserved) but never read; datagrams travel on dcsim's network with its
//!   latency, seeded loss and the scenario fault verbs (partition, heal, hold, release,
//!   loss, latency, crash).
//!
//! Both peers share one [`Sim`] (one clock, one network); each gets its own
//! [`SimRuntime`] handle, which says whose sockets it binds.
//!
//! What dcsim cannot make deterministic: the crate draws its ICE credentials, DTLS
//! certificates, SCTP tags and initial TSNs from the operating system's randomness, and the
//! kernel picks the UDP ports. None of them changes what happens or when (no decision of
//! the crate depends on their values), and none is written to the trace.

pub mod executor;
pub mod harness;
pub mod live;
pub mod net;
pub mod record;
#[cfg(test)]
mod tests;

use crate::trace::{Millis, PeerId};
use executor::Executor;
use net::{Fault, Network};
use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};
use webrtc::runtime::{
    AsyncInterval, AsyncTcpListener, AsyncTcpStream, AsyncUdpSocket, JoinHandle, Runtime,
};

/// The shared world of one simulated run: executor, clock, timers and network.
pub struct Sim {
    state: Mutex<State>,
    /// The instant the virtual clock starts at (the only wall-clock read, as an origin).
    base: Instant,
}

/// Everything behind the one lock.
pub(crate) struct State {
    pub(crate) exec: Executor,
    /// Virtual time since the start.
    pub(crate) now: Duration,
    /// Armed timers: (deadline, sequence) -> the waker of the task waiting on it.
    timers: std::collections::BTreeMap<(Duration, u64), Option<Waker>>,
    next_timer: u64,
    pub(crate) net: Network,
}

impl fmt::Debug for Sim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sim").finish_non_exhaustive()
    }
}

impl Sim {
    /// A new world whose network has `latency_ms` one way and loss drawn from `seed`.
    pub fn new(seed: u64, latency_ms: Millis) -> Arc<Self> {
        Arc::new(Sim {
            state: Mutex::new(State {
                exec: Executor::default(),
                now: Duration::ZERO,
                timers: Default::default(),
                next_timer: 0,
                net: Network::new(seed, Duration::from_millis(latency_ms)),
            }),
            base: Instant::now(),
        })
    }

    /// The runtime handle of `peer` (pass it to `PeerConnectionBuilder::with_runtime`).
    pub fn runtime(self: &Arc<Self>, peer: PeerId) -> Arc<SimRuntime> {
        Arc::new(SimRuntime {
            sim: Arc::clone(self),
            peer,
        })
    }

    /// Virtual milliseconds since the start.
    pub fn now_ms(&self) -> Millis {
        self.lock().now.as_millis() as Millis
    }

    /// Applies a network fault now.
    pub fn fault(&self, fault: Fault) {
        let wakers = {
            let mut st = self.lock();
            let now = st.now;
            st.net.apply(now, fault)
        };
        wakers.into_iter().for_each(Waker::wake);
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // A task that panicked while the lock was held poisons it; the run is over then
        // anyway, and its state is still the best account of what happened.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `main` and every task it spawns to completion of `main`, moving the virtual
    /// clock whenever every task is idle. Returns false if nothing could make progress
    /// before `main` finished (a deadlock: no task ready, no timer armed, nothing in
    /// flight).
    pub fn block_on(self: &Arc<Self>, main: Pin<Box<dyn Future<Output = ()> + '_>>) -> bool {
        executor::run(self, main)
    }

    /// Moves the clock to the next deadline (timer or arrival) and wakes what is due.
    /// False if there is none.
    pub(crate) fn advance(&self) -> bool {
        let wakers = {
            let mut st = self.lock();
            let next_timer = st.timers.keys().next().map(|k| k.0);
            let next_arrival = st.net.next_arrival();
            let Some(next) = [next_timer, next_arrival].into_iter().flatten().min() else {
                return false;
            };
            st.now = st.now.max(next);
            let now = st.now;
            let mut wakers = st.net.deliver_due(now);
            let due: Vec<(Duration, u64)> = st
                .timers
                .range(..=(now, u64::MAX))
                .map(|(k, _)| *k)
                .collect();
            for key in due {
                if let Some(Some(w)) = st.timers.remove(&key) {
                    wakers.push(w);
                }
            }
            wakers
        };
        wakers.into_iter().for_each(Waker::wake);
        true
    }

    /// Drops every task (outside the lock: a task's drop may touch the clock or the
    /// network), which ends the peer connections the run built and frees the world.
    pub fn shutdown(&self) {
        let tasks = self.lock().exec.take_all();
        drop(tasks);
        let mut st = self.lock();
        st.timers.clear();
    }
}

/// One peer's handle on a [`Sim`]: the [`Runtime`] its peer connection runs on.
#[derive(Debug)]
pub struct SimRuntime {
    sim: Arc<Sim>,
    peer: PeerId,
}

impl SimRuntime {
    /// The world this handle belongs to.
    pub fn sim(&self) -> &Arc<Sim> {
        &self.sim
    }
}

/// A timer on the virtual clock.
struct Sleep {
    sim: Arc<Sim>,
    deadline: Duration,
    key: Option<(Duration, u64)>,
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut st = self.sim.lock();
        if st.now >= self.deadline {
            if let Some(key) = self.key {
                st.timers.remove(&key);
            }
            drop(st);
            self.key = None;
            return Poll::Ready(());
        }
        match self.key {
            Some(key) => {
                st.timers.insert(key, Some(cx.waker().clone()));
            }
            None => {
                let key = (self.deadline, st.next_timer);
                st.next_timer += 1;
                st.timers.insert(key, Some(cx.waker().clone()));
                drop(st);
                self.key = Some(key);
            }
        }
        Poll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            self.sim.lock().timers.remove(&key);
        }
    }
}

/// `interval`: deadline-based, the first tick at once.
struct Interval {
    sim: Arc<Sim>,
    period: Duration,
    next: Option<Duration>,
}

impl AsyncInterval for Interval {
    fn tick(&mut self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        let now = self.sim.lock().now;
        let deadline = match self.next {
            None => now,
            Some(next) => next,
        };
        // A tick that is late by more than a period does not burst: the next one is a
        // period after the late one.
        let after = deadline.max(now.saturating_sub(self.period));
        self.next = Some(after + self.period);
        Box::pin(Sleep {
            sim: Arc::clone(&self.sim),
            deadline,
            key: None,
        })
    }
}

impl Runtime for SimRuntime {
    fn spawn(&self, future: Pin<Box<dyn Future<Output = ()> + Send>>) -> Box<dyn JoinHandle> {
        Box::new(executor::spawn(&self.sim, future))
    }

    fn wrap_udp_socket(&self, socket: std::net::UdpSocket) -> io::Result<Arc<dyn AsyncUdpSocket>> {
        let addr = socket.local_addr()?;
        // A second socket on a bound address is the mDNS port both peers share (5353): it
        // is deaf and mute here (dcsim does not simulate multicast name resolution).
        let bound = self.sim.lock().net.bind(addr, self.peer).is_ok();
        Ok(Arc::new(net::SimSocket::new(
            Arc::clone(&self.sim),
            addr,
            socket,
            bound,
        )))
    }

    fn wrap_tcp_listener(
        &self,
        _listener: std::net::TcpListener,
    ) -> io::Result<Arc<dyn AsyncTcpListener>> {
        Err(unsupported("TCP listeners"))
    }

    fn connect_tcp<'a>(
        &'a self,
        _remote_addr: SocketAddr,
    ) -> Pin<Box<dyn Future<Output = io::Result<Arc<dyn AsyncTcpStream>>> + Send + 'a>> {
        Box::pin(async { Err(unsupported("TCP connections")) })
    }

    fn resolve_host<'a>(
        &'a self,
        host: &'a str,
    ) -> Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>> + Send + 'a>> {
        Box::pin(async move {
            host.parse::<SocketAddr>()
                .map(|a| vec![a])
                .map_err(|_| unsupported("name resolution (only literal addresses)"))
        })
    }

    fn now(&self) -> Instant {
        self.sim.base + self.sim.lock().now
    }

    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        let deadline = self.sim.lock().now + duration;
        Box::pin(Sleep {
            sim: Arc::clone(&self.sim),
            deadline,
            key: None,
        })
    }

    fn interval(&self, period: Duration) -> Box<dyn AsyncInterval> {
        Box::new(Interval {
            sim: Arc::clone(&self.sim),
            period,
            next: None,
        })
    }

    fn block_on(&self, future: Pin<Box<dyn Future<Output = ()> + '_>>) {
        executor::run(&self.sim, future);
    }

    fn name(&self) -> &'static str {
        "dcsim"
    }
}

/// Copies one received datagram into slot `i` of a `poll_recv` call (truncated to the
/// buffer, as a UDP socket does).
pub(crate) fn fill_recv(
    bufs: &mut [std::io::IoSliceMut<'_>],
    meta: &mut [webrtc::runtime::RecvMeta],
    i: usize,
    from: SocketAddr,
    to: SocketAddr,
    bytes: &[u8],
) {
    let len = bytes.len().min(bufs[i].len());
    bufs[i][..len].copy_from_slice(&bytes[..len]);
    let mut m = webrtc::runtime::RecvMeta::default();
    m.addr = from;
    m.len = len;
    m.stride = len.max(1);
    m.dst_ip = Some(to.ip());
    meta[i] = m;
}

fn unsupported(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        format!("the dcsim runtime does not simulate {what}"),
    )
}
