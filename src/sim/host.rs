//! The turmoil engine's host: a [`PeerDriver`] pumped by an async loop over a turmoil
//! UDP socket and tokio's virtual clock.
//!
//! The network faults are dcsim's [`Link`] rules, applied as the host sends; turmoil
//! carries what they let through. Each datagram goes on the wire behind its 8-byte
//! sequence number, so that the datagrams a `release` lets through (handed over by the
//! engine, not by turmoil) are read in the direct engine's order: after what was sent
//! before them, before what was sent after.

use super::app::App;
use super::driver::{Effects, PeerDriver};
use super::link::Link;
use super::recorder::Recorder;
use crate::stack::Stack;
use crate::trace::{Millis, PeerId};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::poll_fn;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};
use tokio::sync::Notify;
use turmoil::net::UdpSocket;

/// The UDP port every peer uses.
pub const PORT: u16 = 5000;

/// Builds a peer's stack for its local and remote addresses.
pub type StackFactory =
    Rc<dyn Fn(PeerId, SocketAddr, SocketAddr) -> Result<Box<dyn Stack>, String>>;

/// What one host shares with the simulation.
pub struct HostContext {
    /// Which peer.
    pub peer: PeerId,
    /// Makes the stack.
    pub make_stack: StackFactory,
    /// The application (outlives a crash, so the run can account for it).
    pub app: Rc<RefCell<dyn App>>,
    /// The run's record.
    pub rec: Rc<RefCell<Recorder>>,
    /// Signaling to the other peer (out of band, like a web socket).
    pub signal_out: UnboundedSender<String>,
    /// Signaling from the other peer.
    pub signal_in: Rc<RefCell<UnboundedReceiver<String>>>,
    /// The link's fault rules, shared by both hosts and the engine.
    pub link: Rc<RefCell<Link>>,
    /// Held datagrams for this peer that a `release` let through.
    pub released: Rc<Released>,
}

/// Held datagrams a `release` let through, put here by the engine when they are due
/// (sequence number, bytes), oldest first.
#[derive(Default)]
pub struct Released {
    queue: RefCell<VecDeque<(u64, Vec<u8>)>>,
    ready: Notify,
}

impl Released {
    /// Hands `datagrams` to the host and wakes it.
    pub fn push(&self, datagrams: impl IntoIterator<Item = (u64, Vec<u8>)>) {
        self.queue.borrow_mut().extend(datagrams);
        self.ready.notify_one();
    }

    /// The oldest released datagram if it went on the wire before `seq`.
    fn pop_before(&self, seq: u64) -> Option<Vec<u8>> {
        let mut queue = self.queue.borrow_mut();
        if queue.front().is_some_and(|(s, _)| *s < seq) {
            queue.pop_front().map(|(_, d)| d)
        } else {
            None
        }
    }
}

/// Bytes of the sequence number in front of each datagram on the wire.
const SEQ_LEN: usize = 8;

/// Virtual time of the simulation in milliseconds.
fn now_ms() -> Millis {
    turmoil::sim_elapsed().unwrap_or_default().as_millis() as Millis
}

/// The host's software: runs until the simulation stops stepping it.
pub async fn run_peer(ctx: Rc<HostContext>) -> turmoil::Result {
    let peer = ctx.peer;
    let socket = UdpSocket::bind((std::net::Ipv4Addr::UNSPECIFIED, PORT)).await?;
    let local = SocketAddr::new(turmoil::lookup(peer.as_str()), PORT);
    let remote = SocketAddr::new(turmoil::lookup(peer.other().as_str()), PORT);
    let stack = (ctx.make_stack)(peer, local, remote)?;
    let mut driver = PeerDriver::new(peer, stack, ctx.app.clone());
    let mut buf = vec![0u8; 1 << 17];
    let mut fx = driver.wake(now_ms(), &mut ctx.rec.borrow_mut());
    loop {
        send(&ctx, &socket, remote, fx).await;
        let now = now_ms();
        let sleep = async {
            match driver.poll_timeout() {
                Some(at) => tokio::time::sleep(Duration::from_millis(at.saturating_sub(now))).await,
                None => std::future::pending().await,
            }
        };
        fx = tokio::select! {
            biased;
            sdp = poll_fn(|cx| ctx.signal_in.borrow_mut().poll_recv(cx)) => match sdp {
                Some(sdp) => driver.signal(now_ms(), &sdp, &mut ctx.rec.borrow_mut()),
                None => Effects::default(),
            },
            received = socket.recv_from(&mut buf) => match received {
                Ok((n, _)) => match unwire(buf.get(..n).unwrap_or_default()) {
                    Some((seq, datagram)) => {
                        let mut fx = read_released(&ctx, &mut driver, seq);
                        fx.append(driver.datagram(now_ms(), datagram, &mut ctx.rec.borrow_mut()));
                        fx
                    }
                    None => Effects::default(),
                },
                Err(_) => Effects::default(),
            },
            () = ctx.released.ready.notified() => read_released(&ctx, &mut driver, u64::MAX),
            _ = sleep => driver.wake(now_ms(), &mut ctx.rec.borrow_mut()),
        };
    }
}

/// Reads the released datagrams that went on the wire before sequence number `before`,
/// in order.
fn read_released(ctx: &HostContext, driver: &mut PeerDriver, before: u64) -> Effects {
    let mut fx = Effects::default();
    while let Some(held) = ctx.released.pop_before(before) {
        fx.append(driver.datagram(now_ms(), &held, &mut ctx.rec.borrow_mut()));
    }
    fx
}

async fn send(ctx: &HostContext, socket: &UdpSocket, remote: SocketAddr, fx: Effects) {
    let to = ctx.peer.other();
    for datagram in fx.datagrams {
        let sent = ctx.link.borrow_mut().send(to, datagram);
        if let Some((seq, _, datagram)) = sent {
            let mut wire = Vec::with_capacity(SEQ_LEN + datagram.len());
            wire.extend_from_slice(&seq.to_be_bytes());
            wire.extend_from_slice(&datagram);
            let _ = socket.send_to(&wire, remote).await;
        }
    }
    for sdp in fx.signals {
        let _ = ctx.signal_out.send(sdp);
    }
}

/// Splits a datagram off the wire into its sequence number and bytes (`None`: too short
/// to carry one, so not sent by a dcsim host).
fn unwire(wire: &[u8]) -> Option<(u64, &[u8])> {
    let (seq, datagram) = wire.split_first_chunk::<SEQ_LEN>()?;
    Some((u64::from_be_bytes(*seq), datagram))
}
