//! The model against the async `webrtc` 0.21.1 crate on real loopback sockets: two peers in
//! one process (the crate's own tokio runtime), the happy path and a send before the open.
//! Wall-clock times vary, so only the order is compared: per peer the sequence of
//! signaling, ICE gathering, ICE connection and peer-connection states (the machines the
//! async API reports through events), the channel callbacks (without
//! `bufferedamountlow`, whose count depends on SACK timing), the raw send outcomes with
//! their error texts, and the messages delivered. The model's side is the trace of the
//! same built-in scenario under the simulator, normalized as `dcsim conform` does.

use dcsim::conform::{normalize, Key};
use dcsim::scenario::Scenario;
use dcsim::sim::{self, RunOptions};
use dcsim::trace::{EventKind, Machine, PeerId, SendOutcome, Trace, Via};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use webrtc::data_channel::{DataChannel, DataChannelEvent};
use webrtc::peer_connection::{
    PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler, RTCIceConnectionState,
    RTCIceGatheringState, RTCPeerConnectionState, RTCSignalingState,
};
use webrtc::runtime::{default_runtime, Runtime};

const A: PeerId = PeerId::A;
const B: PeerId = PeerId::B;

/// What a peer of the async crate reported, in the order it arrived.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Seen {
    State(Machine, String),
    Callback(String),
    Message(String),
}

type Log = Arc<Mutex<Vec<(PeerId, Seen)>>>;

fn record(log: &Log, peer: PeerId, seen: Seen) {
    if let Ok(mut log) = log.lock() {
        log.push((peer, seen));
    }
}

/// Records the peer-level state events. (The trait is `#[async_trait]`; its methods are
/// written out desugared here so the test needs no extra dependency.)
struct Handler {
    peer: PeerId,
    log: Log,
    runtime: Arc<dyn Runtime>,
}

type Done<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

impl PeerConnectionEventHandler for Handler {
    fn on_signaling_state_change<'l, 'a>(&'l self, state: RTCSignalingState) -> Done<'a>
    where
        'l: 'a,
        Self: 'a,
    {
        record(
            &self.log,
            self.peer,
            Seen::State(Machine::Signaling, state.to_string()),
        );
        Box::pin(async {})
    }

    fn on_ice_gathering_state_change<'l, 'a>(&'l self, state: RTCIceGatheringState) -> Done<'a>
    where
        'l: 'a,
        Self: 'a,
    {
        record(
            &self.log,
            self.peer,
            Seen::State(Machine::IceGathering, state.to_string()),
        );
        Box::pin(async {})
    }

    fn on_ice_connection_state_change<'l, 'a>(&'l self, state: RTCIceConnectionState) -> Done<'a>
    where
        'l: 'a,
        Self: 'a,
    {
        record(
            &self.log,
            self.peer,
            Seen::State(Machine::IceConnection, state.to_string()),
        );
        Box::pin(async {})
    }

    fn on_connection_state_change<'l, 'a>(&'l self, state: RTCPeerConnectionState) -> Done<'a>
    where
        'l: 'a,
        Self: 'a,
    {
        record(
            &self.log,
            self.peer,
            Seen::State(Machine::PeerConnection, state.to_string()),
        );
        Box::pin(async {})
    }

    fn on_data_channel<'l, 'a>(&'l self, dc: Arc<dyn DataChannel>) -> Done<'a>
    where
        'l: 'a,
        Self: 'a,
    {
        record(&self.log, self.peer, Seen::Callback("datachannel".into()));
        watch(&self.runtime, self.log.clone(), self.peer, dc);
        Box::pin(async {})
    }
}

/// Records a channel's events until it closes.
fn watch(runtime: &Arc<dyn Runtime>, log: Log, peer: PeerId, dc: Arc<dyn DataChannel>) {
    runtime.spawn(Box::pin(async move {
        while let Some(event) = dc.poll().await {
            let seen = match event {
                DataChannelEvent::OnOpen => Seen::Callback("open".into()),
                DataChannelEvent::OnClose => Seen::Callback("close".into()),
                DataChannelEvent::OnClosing => Seen::Callback("closing".into()),
                DataChannelEvent::OnError => Seen::Callback("error".into()),
                DataChannelEvent::OnBufferedAmountHigh => {
                    Seen::Callback("bufferedamounthigh".into())
                }
                DataChannelEvent::OnBufferedAmountLow => continue,
                DataChannelEvent::OnMessage(m) => {
                    Seen::Message(String::from_utf8_lossy(&m.data).into_owned())
                }
                _ => continue,
            };
            let closed = seen == Seen::Callback("close".into());
            record(&log, peer, seen);
            if closed {
                break;
            }
        }
    }));
}

/// Waits (polling, at most `secs`) until `pred` holds on the log.
async fn until(
    runtime: &Arc<dyn Runtime>,
    log: &Log,
    secs: u64,
    what: &str,
    pred: impl Fn(&[(PeerId, Seen)]) -> bool,
) {
    for _ in 0..secs * 50 {
        if log.lock().map(|l| pred(&l)).unwrap_or(false) {
            return;
        }
        runtime.sleep(Duration::from_millis(20)).await;
    }
    panic!(
        "timed out waiting for {what}: {:?}",
        log.lock().map(|l| l.clone())
    );
}

fn has(log: &[(PeerId, Seen)], peer: PeerId, seen: &Seen) -> bool {
    log.iter().any(|(p, s)| *p == peer && s == seen)
}

fn open() -> Seen {
    Seen::Callback("open".into())
}

/// Two connected peers of the async crate on 127.0.0.1 with "chat" created by a; sends
/// `early` texts on a right after the answer is applied (ICE checking), returning their
/// results.
struct Run {
    log: Log,
    early: Vec<Result<(), String>>,
    a: Box<dyn PeerConnection>,
    b: Box<dyn PeerConnection>,
    chat: Arc<dyn DataChannel>,
    runtime: Arc<dyn Runtime>,
}

async fn connect(runtime: Arc<dyn Runtime>, early: usize) -> Run {
    let log: Log = Arc::new(Mutex::new(Vec::new()));
    let build = |peer| {
        PeerConnectionBuilder::new()
            .with_handler(Arc::new(Handler {
                peer,
                log: log.clone(),
                runtime: runtime.clone(),
            }))
            .with_runtime(runtime.clone())
            .with_udp_addrs(vec!["127.0.0.1:0".to_string()])
            .build()
    };
    let a = build(A).await.expect("peer a");
    let chat = a.create_data_channel("chat", None).await.expect("chat");
    watch(&runtime, log.clone(), A, chat.clone());
    let offer = a.create_offer(None).await.expect("offer");
    a.set_local_description(offer).await.expect("offer set");
    let gathered = |peer| {
        move |l: &[(PeerId, Seen)]| {
            has(
                l,
                peer,
                &Seen::State(Machine::IceGathering, "complete".into()),
            )
        }
    };
    until(&runtime, &log, 5, "a's gathering", gathered(A)).await;
    let offer = a.local_description().await.expect("offer sdp");

    let b = build(B).await.expect("peer b");
    b.set_remote_description(offer)
        .await
        .expect("offer applied");
    let answer = b.create_answer(None).await.expect("answer");
    b.set_local_description(answer).await.expect("answer set");
    until(&runtime, &log, 5, "b's gathering", gathered(B)).await;
    let answer = b.local_description().await.expect("answer sdp");
    a.set_remote_description(answer)
        .await
        .expect("answer applied");

    // The OpenAvatarChat moment: the UI has the channel, ICE is still checking.
    let mut results = Vec::new();
    for i in 0..early {
        let r = chat.send_text(&format!("typed too early {i}")).await;
        results.push(r.map_err(|e| e.to_string()));
    }
    until(&runtime, &log, 10, "both channels open", |l| {
        has(l, A, &open()) && has(l, B, &open())
    })
    .await;
    Run {
        log,
        early: results,
        a: Box::new(a),
        b: Box::new(b),
        chat,
        runtime,
    }
}

impl Run {
    async fn close(self) {
        let _ = self.a.close().await;
        let _ = self.b.close().await;
        drop(self.runtime);
    }

    /// The async side as a dcsim trace (times are event counts, not milliseconds).
    fn trace(&self, sends: &[(PeerId, Result<(), String>)]) -> Trace {
        let log = self.log.lock().map(|l| l.clone()).unwrap_or_default();
        let mut t = Trace::new();
        let mut last: std::collections::BTreeMap<(PeerId, Machine), String> = Default::default();
        for (i, (peer, seen)) in log.iter().enumerate() {
            let kind = match seen {
                Seen::State(machine, to) => {
                    let from = last
                        .insert((*peer, *machine), to.clone())
                        .unwrap_or_default();
                    EventKind::State {
                        machine: *machine,
                        channel: None,
                        from,
                        to: to.clone(),
                    }
                }
                Seen::Callback(name) => EventKind::Callback {
                    channel: "chat".into(),
                    name: name.clone(),
                },
                Seen::Message(_) => continue,
            };
            t.push(dcsim::trace::TraceEvent::on(i as u64, *peer, kind));
        }
        for (i, (peer, r)) in sends.iter().enumerate() {
            t.push(dcsim::trace::TraceEvent::on(
                0,
                *peer,
                EventKind::Send {
                    channel: "chat".into(),
                    stream: None,
                    msg: i as u64,
                    via: Via::Raw,
                    state: String::new(),
                    outcome: if r.is_ok() {
                        SendOutcome::Sent
                    } else {
                        SendOutcome::Error
                    },
                    error: r.clone().err(),
                    reason: None,
                    flushed: false,
                },
            ));
        }
        t
    }

    fn messages(&self, peer: PeerId) -> Vec<String> {
        let log = self.log.lock().map(|l| l.clone()).unwrap_or_default();
        log.into_iter()
            .filter_map(|(p, s)| match s {
                Seen::Message(m) if p == peer => Some(m),
                _ => None,
            })
            .collect()
    }
}

/// The model's trace of a built-in scenario.
fn model(name: &str) -> Trace {
    let s = Scenario::load(name).expect("scenario");
    sim::run(&s, &RunOptions::default()).expect("run").trace
}

/// The raw send outcomes of a trace, in order, as the normalized values.
fn raw_sends(t: &Trace) -> Vec<(PeerId, Result<(), String>)> {
    t.events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Send {
                via: Via::Raw,
                outcome,
                error,
                ..
            } => Some((
                e.peer?,
                if *outcome == SendOutcome::Sent {
                    Ok(())
                } else {
                    Err(error.clone().unwrap_or_default())
                },
            )),
            _ => None,
        })
        .collect()
}

/// Per peer: the state sequences of the evented machines and the callbacks of "chat"
/// (without bufferedamountlow), as normalized by conform.
fn shape(t: &Trace) -> Vec<(String, Vec<String>)> {
    let n = normalize(t);
    n.seqs
        .iter()
        .filter(|(k, _)| match k {
            Key::State { machine, .. } => matches!(
                machine,
                Machine::Signaling
                    | Machine::IceGathering
                    | Machine::IceConnection
                    | Machine::PeerConnection
            ),
            Key::Callbacks { channel, .. } => channel == "chat",
            _ => false,
        })
        .map(|(k, v)| {
            let values = v
                .iter()
                .map(|x| x.value.clone())
                .filter(|x| x != "bufferedamountlow")
                .collect();
            (k.to_string(), values)
        })
        .collect()
}

fn block_on(runtime: &Arc<dyn Runtime>, f: impl Future<Output = ()>) {
    runtime.block_on(Box::pin(f));
}

#[test]
fn happy_path_matches_the_model_in_order() {
    // (The simulator runs its own runtime: the model's trace is made first.)
    let m = model("happy-path");
    let runtime = default_runtime().expect("the tokio runtime of webrtc");
    let rt = runtime.clone();
    block_on(&runtime, async move {
        let run = connect(rt.clone(), 0).await;
        // happy-path: 100 messages a -> b, 10 ms apart, then a closes the channel.
        let mut sends = Vec::new();
        for i in 0..100 {
            let r = run.chat.send_text(&format!("hello {i}")).await;
            sends.push((A, r.map_err(|e| e.to_string())));
            rt.sleep(Duration::from_millis(10)).await;
        }
        until(&rt, &run.log, 5, "100 messages", |l| {
            l.iter()
                .filter(|(p, s)| *p == B && matches!(s, Seen::Message(_)))
                .count()
                == 100
        })
        .await;
        run.chat.close().await.expect("close chat");
        until(&rt, &run.log, 5, "both close events", |l| {
            let close = Seen::Callback("close".into());
            has(l, A, &close) && has(l, B, &close)
        })
        .await;
        let seen = shape(&run.trace(&sends));
        println!("async webrtc, happy path: {seen:?}");
        assert_eq!(seen, shape(&m));
        assert_eq!(sends, raw_sends(&m));
        let expected: Vec<String> = (0..100).map(|i| format!("hello {i}")).collect();
        assert_eq!(run.messages(B), expected, "in order");
        run.close().await;
    });
}

#[test]
fn send_before_open_matches_the_model_in_order() {
    let m = model("send-before-open");
    let after_close = raw_sends(&model("checking-disconnected-failed"))
        .pop()
        .map(|(_, r)| r);
    let runtime = default_runtime().expect("the tokio runtime of webrtc");
    let rt = runtime.clone();
    block_on(&runtime, async move {
        // send-before-open: 5 raw sends while ICE is checking, then 3 after the open.
        let run = connect(rt.clone(), 5).await;
        let mut sends: Vec<(PeerId, Result<(), String>)> =
            run.early.iter().map(|r| (A, r.clone())).collect();
        for i in 0..3 {
            let r = run.chat.send_text(&format!("typed after open {i}")).await;
            sends.push((A, r.map_err(|e| e.to_string())));
            rt.sleep(Duration::from_millis(100)).await;
        }
        until(&rt, &run.log, 5, "3 messages", |l| {
            l.iter()
                .filter(|(p, s)| *p == B && matches!(s, Seen::Message(_)))
                .count()
                == 3
        })
        .await;
        assert_eq!(sends, raw_sends(&m));
        assert_eq!(
            sends[0],
            (A, Err("data channel is not open yet".to_string()))
        );
        assert_eq!(shape(&run.trace(&sends)), shape(&m));

        // And after a closes its peer connection, the send error of the model's
        // checking-disconnected-failed (its last send, after pc.close()).
        let chat = run.chat.clone();
        let _ = run.a.close().await;
        let after = chat
            .send_text("still there?")
            .await
            .map_err(|e| e.to_string());
        assert_eq!(Some(after), after_close);
        run.close().await;
    });
}
