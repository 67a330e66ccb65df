//! The runtime's own rules, without the webrtc stack: poll order, the clock, deadlocks,
//! the network's faults.

use super::net::Fault;
use super::Sim;
use crate::trace::PeerId;
use std::io::IoSliceMut;
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;
use webrtc::runtime::{AsyncUdpSocket, RecvMeta, Runtime, Transmit};

#[test]
fn tasks_run_in_spawn_order_and_timers_in_deadline_order() {
    let sim = Sim::new(0, 10);
    let rt = sim.runtime(PeerId::A);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let ok = sim.block_on(Box::pin({
        let (rt, seen) = (rt.clone(), seen.clone());
        async move {
            for (i, ms) in [(0u32, 30u64), (1, 10), (2, 20), (3, 10)] {
                let (rt2, seen) = (rt.clone(), seen.clone());
                rt.spawn(Box::pin(async move {
                    seen.lock().unwrap().push(format!("start {i}"));
                    rt2.sleep(Duration::from_millis(ms)).await;
                    seen.lock().unwrap().push(format!("{i} at {}", ms));
                }))
                .detach();
            }
            rt.sleep(Duration::from_millis(100)).await;
        }
    }));
    assert!(ok);
    assert_eq!(
        *seen.lock().unwrap(),
        ["start 0", "start 1", "start 2", "start 3", "1 at 10", "3 at 10", "2 at 20", "0 at 30"]
    );
    assert_eq!(sim.now_ms(), 100);
}

#[test]
fn the_clock_jumps_over_idle_time() {
    let sim = Sim::new(0, 10);
    let rt = sim.runtime(PeerId::A);
    let started = std::time::Instant::now();
    let t0 = rt.now();
    assert!(sim.block_on(Box::pin(async {
        rt.sleep(Duration::from_secs(3600)).await;
    })));
    assert_eq!(rt.now() - t0, Duration::from_secs(3600));
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn a_run_nothing_can_advance_is_reported() {
    let sim = Sim::new(0, 10);
    assert!(!sim.block_on(Box::pin(std::future::pending::<()>())));
}

/// Two sockets of the simulated network, `a` and `b`.
fn pair(sim: &Arc<Sim>) -> (Arc<dyn AsyncUdpSocket>, Arc<dyn AsyncUdpSocket>) {
    let bind = |peer| {
        let std = std::net::UdpSocket::bind("127.0.0.1:0").expect("loopback");
        sim.runtime(peer).wrap_udp_socket(std).expect("wrap")
    };
    (bind(PeerId::A), bind(PeerId::B))
}

fn send(from: &Arc<dyn AsyncUdpSocket>, to: &Arc<dyn AsyncUdpSocket>, byte: u8) {
    let t = Transmit {
        destination: to.local_addr().expect("addr"),
        ecn: None,
        contents: &[byte],
        segment_size: None,
        src_ip: None,
    };
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    assert!(matches!(from.poll_send(&mut cx, &t), Poll::Ready(Ok(1))));
}

/// What `socket` has received so far, in order.
fn received(socket: &Arc<dyn AsyncUdpSocket>) -> Vec<u8> {
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    let mut out = Vec::new();
    loop {
        let mut buf = [0u8; 4];
        let mut bufs = [IoSliceMut::new(&mut buf)];
        let mut meta = [RecvMeta::default()];
        match socket.poll_recv(&mut cx, &mut bufs, &mut meta) {
            Poll::Ready(Ok(1)) => out.push(buf[0]),
            _ => return out,
        }
    }
}

/// Moves the clock by `ms` (the network delivers what is due).
fn wait(sim: &Arc<Sim>, ms: u64) {
    let rt = sim.runtime(PeerId::A);
    assert!(sim.block_on(Box::pin(async move {
        rt.sleep(Duration::from_millis(ms)).await;
    })));
}

#[test]
fn datagrams_arrive_after_the_latency_and_faults_apply() {
    let sim = Sim::new(7, 10);
    let (a, b) = pair(&sim);
    send(&a, &b, 1);
    wait(&sim, 9);
    assert_eq!(received(&b), Vec::<u8>::new(), "not before the latency");
    wait(&sim, 1);
    assert_eq!(received(&b), [1]);

    sim.fault(Fault::Partition);
    send(&a, &b, 2);
    wait(&sim, 20);
    sim.fault(Fault::Heal);
    assert_eq!(received(&b), Vec::<u8>::new(), "lost to the partition");

    sim.fault(Fault::Hold);
    send(&a, &b, 3);
    send(&a, &b, 4);
    wait(&sim, 50);
    assert_eq!(received(&b), Vec::<u8>::new(), "held");
    sim.fault(Fault::Release);
    wait(&sim, 10);
    assert_eq!(received(&b), [3, 4], "released in order");

    sim.fault(Fault::Loss(1.0));
    send(&a, &b, 5);
    wait(&sim, 20);
    sim.fault(Fault::Loss(0.0));
    assert_eq!(received(&b), Vec::<u8>::new(), "lost");

    sim.fault(Fault::Crash(PeerId::B));
    send(&a, &b, 6);
    send(&b, &a, 7);
    wait(&sim, 20);
    assert_eq!(
        (received(&a), received(&b)),
        (vec![], vec![]),
        "a crashed host"
    );
}

#[test]
fn seeded_loss_is_the_same_for_the_same_seed() {
    let run = |seed| {
        let sim = Sim::new(seed, 1);
        let (a, b) = pair(&sim);
        sim.fault(Fault::Loss(0.5));
        for i in 0..64 {
            send(&a, &b, i);
        }
        wait(&sim, 5);
        received(&b)
    };
    assert_eq!(run(3), run(3));
    assert_ne!(run(3), run(4));
}
