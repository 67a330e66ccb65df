//! The async pump of one simulated peer: a turmoil host that runs a [`Stack`] and an
//! [`App`] over a turmoil UDP socket and tokio's virtual clock.

use super::app::{App, AppRequest};
use super::recorder::Recorder;
use crate::record;
use crate::stack::Stack;
use crate::trace::{EventKind, Millis, PeerId, TraceEvent};
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
    /// Makes the stack (again, if the host is bounced).
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
    let mut stack = (ctx.make_stack)(peer, local, remote)?;
    let mut buf = vec![0u8; 1 << 17];
    loop {
        let now = now_ms();
        stack.handle_timeout(now);
        let requests =
            ctx.app
                .borrow_mut()
                .handle_timeout(now, stack.as_mut(), &mut ctx.rec.borrow_mut());
        for request in requests {
            match request {
                AppRequest::Negotiate => match stack.create_description(now) {
                    Ok(sdp) => {
                        let _ = ctx.signal_out.send(sdp);
                    }
                    Err(e) => record_error(&ctx, now, "negotiate", e),
                },
            }
        }
        pump(&ctx, stack.as_mut(), &socket, now).await;
        let deadline = [stack.poll_timeout(), ctx.app.borrow().poll_timeout()]
            .into_iter()
            .flatten()
            .min();
        let sleep = async {
            match deadline {
                Some(at) => tokio::time::sleep(Duration::from_millis(at.saturating_sub(now))).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            sdp = poll_fn(|cx| ctx.signal_in.borrow_mut().poll_recv(cx)) => {
                let Some(sdp) = sdp else { continue };
                let now = now_ms();
                if let Err(e) = stack.apply_remote_description(now, &sdp) {
                    record_error(&ctx, now, "signaling", e);
                } else if peer == PeerId::B {
                    match stack.create_description(now) {
                        Ok(answer) => { let _ = ctx.signal_out.send(answer); }
                        Err(e) => record_error(&ctx, now, "signaling", e),
                    }
                }
            }
            received = socket.recv_from(&mut buf) => {
                if let Ok((n, _from)) = received {
                    if let Some(datagram) = buf.get(..n) {
                        stack.handle_datagram(now_ms(), datagram);
                    }
                }
            }
            _ = sleep => {}
        }
    }
}

/// Moves everything the stack has to say: datagrams onto the socket, events into the
/// record and to the application, until both are drained.
async fn pump(ctx: &HostContext, stack: &mut dyn Stack, socket: &UdpSocket, now: Millis) {
    let remote = SocketAddr::new(turmoil::lookup(ctx.peer.other().as_str()), PORT);
    loop {
        let mut progressed = false;
        while let Some(datagram) = stack.poll_transmit() {
            progressed = true;
            let _ = socket.send_to(&datagram, remote).await;
        }
        while let Some(event) = stack.poll_event() {
            progressed = true;
            ctx.rec
                .borrow_mut()
                .record(record::stack_event(now, ctx.peer, &event));
            ctx.app
                .borrow_mut()
                .handle_event(now, &event, stack, &mut ctx.rec.borrow_mut());
        }
        if !progressed {
            break;
        }
    }
}

fn record_error(ctx: &HostContext, now: Millis, action: &str, error: String) {
    ctx.rec.borrow_mut().record(TraceEvent::on(
        now,
        ctx.peer,
        EventKind::Fault {
            action: action.to_string(),
            detail: Some(error),
        },
    ));
}
