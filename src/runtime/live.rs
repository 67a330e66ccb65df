//! The live runtime: the crate's own tokio runtime and real UDP sockets, with dcsim's fault
//! verbs in the datagram path, so a probe of a running service can partition, hold and
//! lose packets on the live connection without touching a router.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::io::{self, IoSliceMut};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};
use webrtc::runtime::{
    AsyncInterval, AsyncTcpListener, AsyncTcpStream, AsyncUdpSocket, JoinHandle, RecvMeta, Runtime,
    Transmit,
};

/// A fault on the live path, applied when [`Gate::apply`] is called.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LiveFault {
    /// Every datagram in either direction is dropped until `Heal`.
    Partition,
    /// Datagrams pass again.
    Heal,
    /// Datagrams in either direction are held until `Release`.
    Hold,
    /// Held datagrams go on, in order.
    Release,
    /// Each datagram is dropped with this probability (seeded).
    Loss(f64),
}

/// The fault state every socket of a live runtime passes through.
pub struct Gate {
    state: Mutex<GateState>,
}

struct GateState {
    partitioned: bool,
    holding: bool,
    loss: f64,
    rng: SmallRng,
    /// Outbound datagrams held: (socket, destination, bytes).
    held_out: Vec<(Arc<dyn AsyncUdpSocket>, SocketAddr, Vec<u8>)>,
    /// Inbound datagrams held, per receiving socket address: (sender, bytes).
    held_in: Vec<(SocketAddr, SocketAddr, Vec<u8>)>,
    /// Inbound datagrams released and not yet read, per receiving socket address.
    released_in: VecDeque<(SocketAddr, SocketAddr, Vec<u8>)>,
    /// Readers to wake when released datagrams are ready.
    readers: Vec<Waker>,
    dropped: u64,
}

impl fmt::Debug for Gate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Gate").finish_non_exhaustive()
    }
}

impl Gate {
    /// An open gate whose loss draws come from `seed`.
    pub fn new(seed: u64) -> Arc<Self> {
        Arc::new(Gate {
            state: Mutex::new(GateState {
                partitioned: false,
                holding: false,
                loss: 0.0,
                rng: SmallRng::seed_from_u64(seed),
                held_out: Vec::new(),
                held_in: Vec::new(),
                released_in: VecDeque::new(),
                readers: Vec::new(),
                dropped: 0,
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, GateState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Datagrams the gate dropped so far (partition and loss).
    pub fn dropped(&self) -> u64 {
        self.lock().dropped
    }

    /// Applies `fault` now.
    pub fn apply(&self, fault: LiveFault) {
        let (out, wake) = {
            let mut st = self.lock();
            match fault {
                LiveFault::Partition => st.partitioned = true,
                LiveFault::Heal => st.partitioned = false,
                LiveFault::Hold => st.holding = true,
                LiveFault::Release => st.holding = false,
                LiveFault::Loss(p) => st.loss = p.clamp(0.0, 1.0),
            }
            if fault != LiveFault::Release {
                return;
            }
            let held_in = std::mem::take(&mut st.held_in);
            st.released_in.extend(held_in);
            (
                std::mem::take(&mut st.held_out),
                std::mem::take(&mut st.readers),
            )
        };
        let waker = Waker::noop();
        let mut cx = Context::from_waker(waker);
        for (socket, to, bytes) in out {
            let t = Transmit {
                destination: to,
                ecn: None,
                contents: &bytes,
                segment_size: None,
                src_ip: None,
            };
            // A socket that cannot take it now loses it: UDP.
            let _ = socket.poll_send(&mut cx, &t);
        }
        wake.into_iter().for_each(Waker::wake);
    }

    /// What happens to a datagram now: `None` passes, `Some(true)` is held, `Some(false)`
    /// is dropped.
    fn verdict(&self) -> Option<bool> {
        let mut st = self.lock();
        if st.partitioned {
            st.dropped += 1;
            return Some(false);
        }
        if st.loss > 0.0 {
            let loss = st.loss;
            if st.rng.gen::<f64>() < loss {
                st.dropped += 1;
                return Some(false);
            }
        }
        st.holding.then_some(true)
    }
}

/// The crate's own runtime with every UDP socket behind a [`Gate`].
pub struct LiveRuntime {
    inner: Arc<dyn Runtime>,
    gate: Arc<Gate>,
    origin: Instant,
}

impl fmt::Debug for LiveRuntime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LiveRuntime").finish_non_exhaustive()
    }
}

impl LiveRuntime {
    /// `inner` (the crate's default runtime) with its sockets behind `gate`.
    pub fn new(inner: Arc<dyn Runtime>, gate: Arc<Gate>) -> Arc<Self> {
        let origin = inner.now();
        Arc::new(LiveRuntime {
            inner,
            gate,
            origin,
        })
    }

    /// The gate its sockets pass through.
    pub fn gate(&self) -> &Arc<Gate> {
        &self.gate
    }

    /// Milliseconds since the runtime was made.
    pub fn elapsed_ms(&self) -> u64 {
        self.inner
            .now()
            .saturating_duration_since(self.origin)
            .as_millis() as u64
    }
}

/// A real socket behind the gate.
#[derive(Debug)]
struct GatedSocket {
    inner: Arc<dyn AsyncUdpSocket>,
    gate: Arc<Gate>,
    addr: SocketAddr,
}

impl AsyncUdpSocket for GatedSocket {
    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.addr)
    }

    fn poll_send(&self, cx: &mut Context<'_>, transmit: &Transmit<'_>) -> Poll<io::Result<usize>> {
        match self.gate.verdict() {
            None => self.inner.poll_send(cx, transmit),
            Some(hold) => {
                if hold {
                    self.gate.lock().held_out.push((
                        Arc::clone(&self.inner),
                        transmit.destination,
                        transmit.contents.to_vec(),
                    ));
                }
                Poll::Ready(Ok(transmit.contents.len()))
            }
        }
    }

    fn poll_recv(
        &self,
        cx: &mut Context<'_>,
        bufs: &mut [IoSliceMut<'_>],
        meta: &mut [RecvMeta],
    ) -> Poll<io::Result<usize>> {
        if bufs.is_empty() || meta.is_empty() {
            return Poll::Ready(Ok(0));
        }
        {
            let mut st = self.gate.lock();
            if let Some(i) = st.released_in.iter().position(|d| d.0 == self.addr) {
                if let Some((_, from, bytes)) = st.released_in.remove(i) {
                    super::fill_recv(bufs, meta, 0, from, self.addr, &bytes);
                    return Poll::Ready(Ok(1));
                }
            }
            if st.holding && !st.readers.iter().any(|w| w.will_wake(cx.waker())) {
                st.readers.push(cx.waker().clone());
            }
        }
        loop {
            let n = match self.inner.poll_recv(cx, bufs, meta) {
                Poll::Ready(Ok(n)) => n,
                other => return other,
            };
            let mut kept = 0;
            for i in 0..n {
                match self.gate.verdict() {
                    None => {
                        if kept != i {
                            meta[kept] = meta[i];
                            let (len, from) = (meta[i].len, i);
                            let data = bufs[from][..len].to_vec();
                            bufs[kept][..len].copy_from_slice(&data);
                        }
                        kept += 1;
                    }
                    Some(true) => {
                        let data = bufs[i][..meta[i].len].to_vec();
                        self.gate
                            .lock()
                            .held_in
                            .push((self.addr, meta[i].addr, data));
                    }
                    Some(false) => {}
                }
            }
            if kept > 0 {
                return Poll::Ready(Ok(kept));
            }
        }
    }
}

impl Runtime for LiveRuntime {
    fn spawn(&self, future: Pin<Box<dyn Future<Output = ()> + Send>>) -> Box<dyn JoinHandle> {
        self.inner.spawn(future)
    }

    fn spawn_reactor(
        &self,
        size: usize,
        future: Pin<Box<dyn Future<Output = ()> + Send>>,
    ) -> Box<dyn JoinHandle> {
        self.inner.spawn_reactor(size, future)
    }

    fn wrap_udp_socket(&self, socket: std::net::UdpSocket) -> io::Result<Arc<dyn AsyncUdpSocket>> {
        let addr = socket.local_addr()?;
        Ok(Arc::new(GatedSocket {
            inner: self.inner.wrap_udp_socket(socket)?,
            gate: Arc::clone(&self.gate),
            addr,
        }))
    }

    fn wrap_tcp_listener(
        &self,
        listener: std::net::TcpListener,
    ) -> io::Result<Arc<dyn AsyncTcpListener>> {
        self.inner.wrap_tcp_listener(listener)
    }

    fn connect_tcp<'a>(
        &'a self,
        remote_addr: SocketAddr,
    ) -> Pin<Box<dyn Future<Output = io::Result<Arc<dyn AsyncTcpStream>>> + Send + 'a>> {
        self.inner.connect_tcp(remote_addr)
    }

    fn resolve_host<'a>(
        &'a self,
        host: &'a str,
    ) -> Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>> + Send + 'a>> {
        self.inner.resolve_host(host)
    }

    fn now(&self) -> Instant {
        self.inner.now()
    }

    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        self.inner.sleep(duration)
    }

    fn interval(&self, period: Duration) -> Box<dyn AsyncInterval> {
        self.inner.interval(period)
    }

    fn block_on(&self, future: Pin<Box<dyn Future<Output = ()> + '_>>) {
        self.inner.block_on(future);
    }

    fn name(&self) -> &'static str {
        "dcsim-live"
    }
}
