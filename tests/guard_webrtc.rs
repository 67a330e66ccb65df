//! The guard in front of real `webrtc` 0.21.1 data channels: two peers in one process on
//! loopback.
//!
//! - messages sent before the channel is open are queued, and arrive in order after it
//!   opens;
//! - nothing is handed to a channel that is not open (zero transport send errors);
//! - closing a channel with messages still queued reports each of them dropped as
//!   channel-closed, and a send after close is rejected instead of silently lost.
#![cfg(feature = "webrtc-adapter")]

use dcsim::guard::webrtc_adapter::{DroppedMessage, GuardedChannel, IceFeed, SendStatus};
use dcsim::guard::{DropReason, Gate, GuardConfig};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use webrtc::data_channel::{DataChannel, DataChannelEvent};
use webrtc::peer_connection::{
    PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler, RTCIceConnectionState,
    RTCIceGatheringState,
};
use webrtc::runtime::{channel, default_runtime, timeout, Receiver, Runtime, Sender};

const QUEUED_BEFORE_OPEN: usize = 20;
const SENT_AFTER_OPEN: usize = 5;
const DOOMED: usize = 5;
const STALE: usize = 3;
const STALE_TTL_MS: u64 = 100;

struct Offerer {
    gathered: Sender<()>,
    ice: IceFeed,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Offerer {
    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        if state == RTCIceGatheringState::Complete {
            let _ = self.gathered.try_send(());
        }
    }

    async fn on_ice_connection_state_change(&self, state: RTCIceConnectionState) {
        self.ice.publish(state).await;
    }
}

struct Answerer {
    gathered: Sender<()>,
    /// (label, text) of every message received, in arrival order.
    received: Sender<(String, String)>,
    /// The remote end of every channel, by label.
    channels: Sender<(String, Arc<dyn DataChannel>)>,
    runtime: Arc<dyn Runtime>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Answerer {
    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        if state == RTCIceGatheringState::Complete {
            let _ = self.gathered.try_send(());
        }
    }

    async fn on_data_channel(&self, dc: Arc<dyn DataChannel>) {
        let label = dc.label().await.unwrap_or_default();
        let _ = self.channels.try_send((label.clone(), dc.clone()));
        let received = self.received.clone();
        self.runtime.spawn(Box::pin(async move {
            while let Some(event) = dc.poll().await {
                if let DataChannelEvent::OnMessage(msg) = event {
                    let text = String::from_utf8_lossy(&msg.data).into_owned();
                    let _ = received.try_send((label.clone(), text));
                }
            }
        }));
    }
}

fn run<F: std::future::Future<Output = ()>>(runtime: &Arc<dyn Runtime>, f: F) {
    runtime.block_on(Box::pin(f));
}

/// Drives `guarded.poll()` until the channel's events end, telling `opened` on open.
fn spawn_poller(
    runtime: &Arc<dyn Runtime>,
    label: &'static str,
    guarded: Arc<GuardedChannel>,
    opened: Sender<&'static str>,
) {
    runtime.spawn(Box::pin(async move {
        while let Some(event) = guarded.poll().await {
            if matches!(event, DataChannelEvent::OnOpen) {
                let _ = opened.try_send(label);
            }
        }
    }));
}

async fn recv_within<T>(rx: &mut Receiver<T>, secs: u64, what: &str) -> T {
    let runtime = default_runtime().expect("a runtime feature of webrtc");
    match timeout(&*runtime, Duration::from_secs(secs), rx.recv()).await {
        Ok(Some(value)) => value,
        Ok(None) => panic!("{what}: channel ended"),
        Err(_) => panic!("{what}: timed out after {secs} s"),
    }
}

#[test]
fn guarded_channel_queues_before_open_and_reports_drops_on_close() {
    let runtime = default_runtime().expect("a runtime feature of webrtc");
    let started = Instant::now();
    run(&runtime.clone(), async move {
        let (a_gathered_tx, mut a_gathered) = channel::<()>(1);
        let (b_gathered_tx, mut b_gathered) = channel::<()>(1);
        let (received_tx, mut received) = channel::<(String, String)>(256);
        let (opened_tx, mut opened) = channel::<&'static str>(4);
        let (channels_tx, mut channels) = channel::<(String, Arc<dyn DataChannel>)>(4);
        let ice = IceFeed::new();

        let a = PeerConnectionBuilder::new()
            .with_handler(Arc::new(Offerer {
                gathered: a_gathered_tx,
                ice: ice.clone(),
            }))
            .with_runtime(runtime.clone())
            .with_udp_addrs(vec!["127.0.0.1:0".to_string()])
            .build()
            .await
            .expect("offerer");

        let drops: Arc<Mutex<Vec<(String, DroppedMessage)>>> = Arc::default();
        let guarded = |label: &'static str, config: GuardConfig| {
            let drops = drops.clone();
            let runtime = runtime.clone();
            let a = &a;
            let ice = ice.clone();
            async move {
                let dc = a.create_data_channel(label, None).await.expect("channel");
                let g = Arc::new(
                    GuardedChannel::new(dc, runtime, config, move |d| {
                        drops
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .push((label.to_string(), d));
                    })
                    .await,
                );
                ice.attach(&g).await;
                g
            }
        };
        let chat = guarded("chat", GuardConfig::default()).await;
        let doomed = guarded("doomed", GuardConfig::default()).await;
        let remote = guarded("remote", GuardConfig::default()).await;
        let short_ttl = GuardConfig {
            ttl_ms: Some(STALE_TTL_MS),
            ..GuardConfig::default()
        };
        let stale = guarded("stale", short_ttl).await;

        // The send-before-open race: the app sends before anything is connected.
        for i in 0..QUEUED_BEFORE_OPEN {
            let report = chat.send_text(format!("m{i}")).await;
            assert_eq!(report.status, SendStatus::Queued, "message {i}");
        }
        for i in 0..DOOMED {
            let report = doomed.send_text(format!("d{i}")).await;
            assert_eq!(report.status, SendStatus::Queued);
        }
        assert_eq!(chat.stats().await.queued_len, QUEUED_BEFORE_OPEN);
        assert_eq!(chat.stats().await.gate, Gate::Connecting);

        // The user hangs up the second channel before it ever opened.
        doomed.close().await.expect("close doomed");
        let late = doomed.send_text("too late").await;
        assert_eq!(late.status, SendStatus::Rejected(DropReason::ChannelClosed));
        {
            let drops = drops.lock().unwrap_or_else(|p| p.into_inner());
            assert_eq!(drops.len(), DOOMED + 1, "{drops:?}");
            assert!(drops
                .iter()
                .all(|(label, d)| label == "doomed" && d.reason == DropReason::ChannelClosed));
        }

        spawn_poller(&runtime, "chat", chat.clone(), opened_tx.clone());
        spawn_poller(&runtime, "doomed", doomed.clone(), opened_tx.clone());
        spawn_poller(&runtime, "remote", remote.clone(), opened_tx.clone());
        spawn_poller(&runtime, "stale", stale.clone(), opened_tx);
        // Queued on a channel whose TTL (100 ms) is far shorter than the time to open
        // (about 600 ms): the poller's timer expires them while the channel connects.
        // The poller is already waiting with no timer armed (the queue was empty), so
        // this also checks that queueing re-arms it.
        runtime.sleep(Duration::from_millis(20)).await;
        for i in 0..STALE {
            let report = stale.send_text(format!("s{i}")).await;
            assert_eq!(report.status, SendStatus::Queued);
        }

        // Offer/answer with complete candidates, as webrtc's own offer_answer test does.
        let offer = a.create_offer(None).await.expect("offer");
        a.set_local_description(offer).await.expect("local offer");
        recv_within(&mut a_gathered, 5, "offerer gathering").await;
        let offer = a.local_description().await.expect("offer sdp");

        let b = PeerConnectionBuilder::new()
            .with_handler(Arc::new(Answerer {
                gathered: b_gathered_tx,
                received: received_tx,
                channels: channels_tx,
                runtime: runtime.clone(),
            }))
            .with_runtime(runtime.clone())
            .with_udp_addrs(vec!["127.0.0.1:0".to_string()])
            .build()
            .await
            .expect("answerer");
        b.set_remote_description(offer).await.expect("remote offer");
        let answer = b.create_answer(None).await.expect("answer");
        b.set_local_description(answer).await.expect("local answer");
        recv_within(&mut b_gathered, 5, "answerer gathering").await;
        let answer = b.local_description().await.expect("answer sdp");
        a.set_remote_description(answer)
            .await
            .expect("remote answer");

        let mut open = Vec::new();
        while open.len() < 3 {
            open.push(recv_within(&mut opened, 10, "chat, remote, stale open").await);
        }
        open.sort();
        assert_eq!(open, ["chat", "remote", "stale"]);
        let open_at = started.elapsed();

        // Everything queued before open arrives, in order.
        let mut got = Vec::new();
        while got.len() < QUEUED_BEFORE_OPEN {
            let (label, text) = recv_within(&mut received, 10, "queued messages").await;
            assert_eq!(
                label, "chat",
                "nothing from the closed or the stale channel"
            );
            got.push(text);
        }
        let want: Vec<String> = (0..QUEUED_BEFORE_OPEN).map(|i| format!("m{i}")).collect();
        assert_eq!(got, want);

        // Open: straight through.
        for i in QUEUED_BEFORE_OPEN..QUEUED_BEFORE_OPEN + SENT_AFTER_OPEN {
            let report = chat.send_text(format!("m{i}")).await;
            assert_eq!(report.status, SendStatus::Sent, "message {i}");
        }
        for i in QUEUED_BEFORE_OPEN..QUEUED_BEFORE_OPEN + SENT_AFTER_OPEN {
            let (label, text) = recv_within(&mut received, 10, "direct messages").await;
            assert_eq!((label.as_str(), text), ("chat", format!("m{i}")));
        }

        let stats = chat.stats().await;
        eprintln!("chat: open after {open_at:?}; {stats:#?}");
        assert_eq!(stats.metrics.queued, QUEUED_BEFORE_OPEN as u64);
        assert_eq!(stats.metrics.flushed, QUEUED_BEFORE_OPEN as u64);
        assert_eq!(stats.metrics.sent_direct, SENT_AFTER_OPEN as u64);
        assert_eq!(
            stats.transport_send_errors, 0,
            "{:?}",
            stats.last_transport_error
        );
        assert_eq!(stats.metrics.dropped.total(), 0);
        assert!(stats.metrics.first_send_to_open_ms().is_some());
        assert_eq!(stats.gate, Gate::Open);
        assert_eq!(ice.latest(), Some(RTCIceConnectionState::Connected));

        // The remote end closes a channel: the guard learns it from OnClose and rejects.
        let b_remote = loop {
            let (label, dc) = recv_within(&mut channels, 5, "remote end").await;
            if label == "remote" {
                break dc;
            }
        };
        b_remote.close().await.expect("remote close");
        let deadline = Instant::now() + Duration::from_secs(5);
        while remote.stats().await.gate != Gate::Closed {
            assert!(Instant::now() < deadline, "OnClose never reached the guard");
            runtime.sleep(Duration::from_millis(5)).await;
        }
        let report = remote.send_text("to a closed peer").await;
        assert_eq!(
            report.status,
            SendStatus::Rejected(DropReason::ChannelClosed)
        );
        assert_eq!(remote.stats().await.transport_send_errors, 0);

        // Close the open channel: a send right after is rejected and reported, where the
        // bare channel would have returned Ok and lost it (docs/guard.md).
        chat.close().await.expect("close chat");
        let after = chat.send_text("after close").await;
        assert_eq!(
            after.status,
            SendStatus::Rejected(DropReason::ChannelClosed)
        );

        let stale_stats = stale.stats().await;
        assert_eq!(stale_stats.metrics.dropped.expired, STALE as u64);
        assert_eq!(stale_stats.metrics.flushed, 0);
        assert_eq!(stale_stats.transport_send_errors, 0);
        let stale_opened_at = stale_stats.metrics.opened_at;
        let doomed_stats = doomed.stats().await;
        assert_eq!(doomed_stats.transport_send_errors, 0);
        assert_eq!(
            doomed_stats.metrics.dropped.channel_closed,
            DOOMED as u64 + 1
        );
        let chat_stats = chat.stats().await;
        assert_eq!(chat_stats.transport_send_errors, 0);
        let drops = drops.lock().unwrap_or_else(|p| p.into_inner()).clone();
        assert_eq!(drops.len(), DOOMED + STALE + 3);
        let expired: Vec<_> = drops
            .iter()
            .filter(|(label, _)| label == "stale")
            .map(|(_, d)| d)
            .collect();
        assert_eq!(expired.len(), STALE);
        for d in expired {
            assert_eq!(d.reason, DropReason::Expired);
            // Fired by the timer at the deadline, not found late when the channel opened.
            assert!(
                d.at >= STALE_TTL_MS && Some(d.at) < stale_opened_at,
                "expired at {} ms, opened at {stale_opened_at:?}",
                d.at
            );
        }
        assert_eq!(
            drops.last().map(|(l, d)| (l.as_str(), d.reason)),
            Some(("chat", DropReason::ChannelClosed))
        );

        a.close().await.expect("close a");
        b.close().await.expect("close b");
    });
    let took = started.elapsed();
    eprintln!("two-peer guarded run took {took:?}");
    assert!(took < Duration::from_secs(10), "took {took:?}");
}
