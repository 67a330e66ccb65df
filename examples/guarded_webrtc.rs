//! The send guard in front of a real `webrtc` 0.21.1 data channel.
//!
//! Two peers in this process, on loopback. Peer A sends five chat messages the moment
//! it has created its channel, long before the channel is open (the send-before-open
//! race, where the bare `send_text` fails with "data channel is not open yet"). The
//! guard queues them and flushes them in order when the channel opens. Then A closes the
//! channel and sends once more: the bare channel would accept that message and lose it
//! (docs/guard.md); the guard rejects it and reports it.
//!
//! ```text
//! cargo run --example guarded_webrtc
//! ```

use dcsim::guard::webrtc_adapter::{GuardedChannel, IceFeed};
use dcsim::guard::GuardConfig;
use std::sync::Arc;
use std::time::{Duration, Instant};
use webrtc::data_channel::{DataChannel, DataChannelEvent};
use webrtc::peer_connection::{
    PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler, RTCIceConnectionState,
    RTCIceGatheringState,
};
use webrtc::runtime::{channel, default_runtime, timeout, Runtime, Sender};

/// Peer A: feeds its ICE state to the guarded channels through an [`IceFeed`].
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
        println!("a: ice {state}");
        self.ice.publish(state).await;
    }
}

/// Peer B: prints what arrives.
struct Answerer {
    gathered: Sender<()>,
    received: Sender<String>,
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
        let received = self.received.clone();
        self.runtime.spawn(Box::pin(async move {
            while let Some(event) = dc.poll().await {
                if let DataChannelEvent::OnMessage(msg) = event {
                    let _ = received.try_send(String::from_utf8_lossy(&msg.data).into_owned());
                }
            }
        }));
    }
}

fn main() {
    let Some(runtime) = default_runtime() else {
        eprintln!("webrtc was built without a runtime feature");
        std::process::exit(2);
    };
    let rt = runtime.clone();
    runtime.block_on(Box::pin(async move {
        if let Err(err) = demo(rt).await {
            eprintln!("error: {err}");
            std::process::exit(1);
        }
    }));
}

async fn demo(runtime: Arc<dyn Runtime>) -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    let (a_gathered_tx, mut a_gathered) = channel::<()>(1);
    let (b_gathered_tx, mut b_gathered) = channel::<()>(1);
    let (received_tx, mut received) = channel::<String>(64);
    let ice = IceFeed::new();

    let a = PeerConnectionBuilder::new()
        .with_handler(Arc::new(Offerer {
            gathered: a_gathered_tx,
            ice: ice.clone(),
        }))
        .with_runtime(runtime.clone())
        .with_udp_addrs(vec!["127.0.0.1:0".to_string()])
        .build()
        .await?;

    // Wrap the channel as soon as it exists, and hand only the guarded one to the app.
    let dc = a.create_data_channel("chat", None).await?;
    let chat = Arc::new(
        GuardedChannel::new(dc, runtime.clone(), GuardConfig::default(), |dropped| {
            println!("a: message {} dropped: {}", dropped.id, dropped.reason)
        })
        .await,
    );
    ice.attach(&chat).await;

    // The app sends before anything is connected.
    for i in 0..5 {
        let report = chat.send_text(format!("hello {i}")).await;
        println!("a: send #{} -> {:?}", report.id, report.status);
    }

    // The app reads events through the guard, which learns open/close from them.
    let events = chat.clone();
    runtime.spawn(Box::pin(async move {
        while let Some(event) = events.poll().await {
            if matches!(event, DataChannelEvent::OnOpen | DataChannelEvent::OnClose) {
                println!("a: channel {event:?}");
            }
        }
    }));

    // Offer/answer with complete candidates.
    let offer = a.create_offer(None).await?;
    a.set_local_description(offer).await?;
    let wait = Duration::from_secs(5);
    timeout(&*runtime, wait, a_gathered.recv()).await?;
    let offer = a.local_description().await.ok_or("no offer")?;

    let b = PeerConnectionBuilder::new()
        .with_handler(Arc::new(Answerer {
            gathered: b_gathered_tx,
            received: received_tx,
            runtime: runtime.clone(),
        }))
        .with_runtime(runtime.clone())
        .with_udp_addrs(vec!["127.0.0.1:0".to_string()])
        .build()
        .await?;
    b.set_remote_description(offer).await?;
    let answer = b.create_answer(None).await?;
    b.set_local_description(answer).await?;
    timeout(&*runtime, wait, b_gathered.recv()).await?;
    a.set_remote_description(b.local_description().await.ok_or("no answer")?)
        .await?;

    for _ in 0..5 {
        let text = timeout(&*runtime, Duration::from_secs(10), received.recv())
            .await?
            .ok_or("b: receive loop ended")?;
        println!("b: received {text:?} at {:?}", started.elapsed());
    }

    chat.close().await?;
    let report = chat.send_text("after close").await;
    println!("a: send #{} after close -> {:?}", report.id, report.status);

    let stats = chat.stats().await;
    println!(
        "a: offered {} sent {} queued {} flushed {} dropped {} transport errors {}; \
         first send to open {:?} ms",
        stats.metrics.offered,
        stats.metrics.sent_direct,
        stats.metrics.queued,
        stats.metrics.flushed,
        stats.metrics.dropped.total(),
        stats.transport_send_errors,
        stats.metrics.first_send_to_open_ms(),
    );

    a.close().await?;
    b.close().await?;
    Ok(())
}
