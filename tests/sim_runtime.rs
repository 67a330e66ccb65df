//! Two real webrtc 0.21.1 peers on the dcsim runtime: deterministic executor, virtual
//! clock, simulated network.

use dcsim::runtime::net::Fault;
use dcsim::runtime::Sim;
use dcsim::trace::PeerId;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use webrtc::data_channel::{DataChannel, DataChannelEvent};
use webrtc::peer_connection::{
    PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler, RTCIceConnectionState,
    RTCIceGatheringState, RTCPeerConnectionState,
};
use webrtc::runtime::Runtime;

type Log = Arc<Mutex<Vec<(u64, PeerId, String)>>>;
type Done<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

struct Handler {
    peer: PeerId,
    log: Log,
    sim: Arc<Sim>,
    runtime: Arc<dyn Runtime>,
}

fn rec(log: &Log, sim: &Sim, peer: PeerId, what: String) {
    log.lock().unwrap().push((sim.now_ms(), peer, what));
}

impl PeerConnectionEventHandler for Handler {
    fn on_ice_gathering_state_change<'l, 'a>(&'l self, state: RTCIceGatheringState) -> Done<'a>
    where
        'l: 'a,
        Self: 'a,
    {
        rec(
            &self.log,
            &self.sim,
            self.peer,
            format!("gathering {state}"),
        );
        Box::pin(async {})
    }
    fn on_ice_connection_state_change<'l, 'a>(&'l self, state: RTCIceConnectionState) -> Done<'a>
    where
        'l: 'a,
        Self: 'a,
    {
        rec(&self.log, &self.sim, self.peer, format!("ice {state}"));
        Box::pin(async {})
    }
    fn on_connection_state_change<'l, 'a>(&'l self, state: RTCPeerConnectionState) -> Done<'a>
    where
        'l: 'a,
        Self: 'a,
    {
        rec(&self.log, &self.sim, self.peer, format!("pc {state}"));
        Box::pin(async {})
    }
    fn on_data_channel<'l, 'a>(&'l self, dc: Arc<dyn DataChannel>) -> Done<'a>
    where
        'l: 'a,
        Self: 'a,
    {
        rec(&self.log, &self.sim, self.peer, "datachannel".into());
        watch(
            &self.runtime,
            self.log.clone(),
            self.sim.clone(),
            self.peer,
            dc,
        );
        Box::pin(async {})
    }
}

fn watch(
    runtime: &Arc<dyn Runtime>,
    log: Log,
    sim: Arc<Sim>,
    peer: PeerId,
    dc: Arc<dyn DataChannel>,
) {
    runtime.spawn(Box::pin(async move {
        while let Some(event) = dc.poll().await {
            let what = match event {
                DataChannelEvent::OnOpen => "open".to_string(),
                DataChannelEvent::OnClose => "close".into(),
                DataChannelEvent::OnMessage(m) => {
                    format!("message {}", String::from_utf8_lossy(&m.data))
                }
                _ => continue,
            };
            let closed = what == "close";
            rec(&log, &sim, peer, what);
            if closed {
                break;
            }
        }
    }));
}

fn has(log: &Log, peer: PeerId, what: &str) -> bool {
    log.lock()
        .unwrap()
        .iter()
        .any(|(_, p, w)| *p == peer && w == what)
}

fn run(seed: u64, partition_at: Option<u64>) -> (Vec<(u64, PeerId, String)>, bool) {
    let sim = Sim::new(seed, 10);
    let log: Log = Arc::new(Mutex::new(Vec::new()));
    let s2 = sim.clone();
    let log2 = log.clone();
    let ok = sim.clone().block_on(Box::pin(async move {
        let sim = s2;
        let log = log2;
        let build = |peer: PeerId| {
            let rt: Arc<dyn Runtime> = sim.runtime(peer);
            PeerConnectionBuilder::new()
                .with_handler(Arc::new(Handler {
                    peer,
                    log: log.clone(),
                    sim: sim.clone(),
                    runtime: rt.clone(),
                }))
                .with_runtime(rt)
                .with_udp_addrs(vec!["127.0.0.1:0".to_string()])
                .build()
        };
        let rt_a: Arc<dyn Runtime> = sim.runtime(PeerId::A);
        let a = build(PeerId::A).await.expect("a");
        let chat = a.create_data_channel("chat", None).await.expect("chat");
        watch(&rt_a, log.clone(), sim.clone(), PeerId::A, chat.clone());
        let offer = a.create_offer(None).await.expect("offer");
        a.set_local_description(offer).await.expect("offer set");
        while !has(&log, PeerId::A, "gathering complete") {
            rt_a.sleep(Duration::from_millis(1)).await;
        }
        let offer = a.local_description().await.expect("sdp");
        let b = build(PeerId::B).await.expect("b");
        b.set_remote_description(offer)
            .await
            .expect("offer applied");
        let answer = b.create_answer(None).await.expect("answer");
        b.set_local_description(answer).await.expect("answer set");
        while !has(&log, PeerId::B, "gathering complete") {
            rt_a.sleep(Duration::from_millis(1)).await;
        }
        let answer = b.local_description().await.expect("sdp");
        a.set_remote_description(answer)
            .await
            .expect("answer applied");
        let r = chat.send_text("too early").await;
        rec(
            &log,
            &sim,
            PeerId::A,
            format!("send -> {:?}", r.map_err(|e| e.to_string())),
        );
        while !(has(&log, PeerId::A, "open") && has(&log, PeerId::B, "open")) {
            rt_a.sleep(Duration::from_millis(5)).await;
            if sim.now_ms() > 20_000 {
                panic!("not open: {:?}", log.lock().unwrap());
            }
        }
        let r = chat.send_text("hello").await;
        rec(
            &log,
            &sim,
            PeerId::A,
            format!("send -> {:?}", r.map_err(|e| e.to_string())),
        );
        if let Some(at) = partition_at {
            rt_a.sleep(Duration::from_millis(at.saturating_sub(sim.now_ms())))
                .await;
            sim.fault(Fault::Partition);
            rec(&log, &sim, PeerId::A, "partition".into());
        }
        rt_a.sleep(Duration::from_millis(
            40_000u64.saturating_sub(sim.now_ms()),
        ))
        .await;
        let _ = a.close().await;
        let _ = b.close().await;
    }));
    sim.shutdown();
    let out = log.lock().unwrap().clone();
    (out, ok)
}

#[test]
fn two_real_peers_connect_and_exchange_on_the_virtual_clock() {
    let started = std::time::Instant::now();
    let (log, ok) = run(1, None);
    let wall = started.elapsed();
    for l in &log {
        println!("{l:?}");
    }
    println!("wall {wall:?}");
    assert!(ok);
    assert!(log
        .iter()
        .any(|(_, p, w)| *p == PeerId::B && w == "message hello"));
}

#[test]
fn the_race_replays() {
    let started = std::time::Instant::now();
    let (log, ok) = run(1, Some(5000));
    let wall = started.elapsed();
    for l in &log {
        println!("{l:?}");
    }
    println!("wall {wall:?}");
    assert!(ok);
    let (again, _) = run(1, Some(5000));
    assert_eq!(log, again);
}
