//! The turmoil engine's host: a [`PeerDriver`] pumped by an async loop over a turmoil
//! UDP socket and tokio's virtual clock.

use super::app::App;
use super::driver::{Effects, PeerDriver};
use super::recorder::Recorder;
use crate::stack::Stack;
use crate::trace::{Millis, PeerId};
use std::cell::RefCell;
use std::future::poll_fn;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};
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
}

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
                Ok((n, _)) => {
                    let datagram = buf.get(..n).unwrap_or_default();
                    driver.datagram(now_ms(), datagram, &mut ctx.rec.borrow_mut())
                }
                Err(_) => Effects::default(),
            },
            _ = sleep => driver.wake(now_ms(), &mut ctx.rec.borrow_mut()),
        };
    }
}

async fn send(ctx: &HostContext, socket: &UdpSocket, remote: SocketAddr, fx: Effects) {
    for datagram in fx.datagrams {
        let _ = socket.send_to(&datagram, remote).await;
    }
    for sdp in fx.signals {
        let _ = ctx.signal_out.send(sdp);
    }
}
