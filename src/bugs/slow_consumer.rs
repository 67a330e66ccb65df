//! webrtc-rs/webrtc#858 and #860 played on the real async `webrtc` 0.21.1 crate, where
//! the bug lived: between the crate's sans-IO core and the application, a driver hands
//! each channel event to a bounded queue, and a full queue dropped the event (a message
//! on a reliable channel, already acknowledged by SCTP, lost for good).
//!
//! The play: two real peer connections on the dcsim runtime (virtual clock, simulated
//! network with the scenario's latency); `a` opens `chat` and writes
//! [`MESSAGES`] messages in one burst the moment it is open; `b` reads its channel
//! slowly, [`READ_MS`] of virtual time per message, so the crate's queue
//! (`DRIVER_TO_DATA_CHANNEL_EVENT_CHANNEL_CAPACITY`, 256) fills many times over. Every
//! message `b` reads is recorded as delivered when it reads it; what `a`'s channel
//! accepted and `b` never read is reported `undelivered` when the run ends.

use crate::runtime::harness::{AsyncRun, Channels, Done, RecordedChannel};
use crate::scenario::Scenario;
use crate::trace::{PeerId, Trace};
use std::sync::Arc;
use std::time::Duration;
use webrtc::data_channel::{DataChannel, DataChannelEvent};
use webrtc::peer_connection::{PeerConnection, PeerConnectionEventHandler};
use webrtc::runtime::Runtime;

/// Messages `a` writes in its burst.
pub const MESSAGES: usize = 1000;

/// Virtual time `b` takes to read one message.
pub const READ_MS: u64 = 10;

/// Plays the burst against a slow reader on `scenario`'s network (seed 0). The error
/// says why the run could not be played.
pub fn play(scenario: &Scenario) -> Result<Trace, String> {
    let run = AsyncRun::new(scenario, 0);
    let failed: Arc<std::sync::Mutex<Option<String>>> = Arc::default();
    let note = Arc::clone(&failed);
    let played = &run;
    let trace = run.run(Box::pin(async move {
        if let Err(e) = burst_to_slow_reader(played).await {
            if let Ok(mut slot) = note.lock() {
                *slot = Some(e);
            }
        }
    }))?;
    match failed.lock().ok().and_then(|mut f| f.take()) {
        Some(e) => Err(e),
        None => Ok(trace),
    }
}

async fn burst_to_slow_reader(run: &AsyncRun) -> Result<(), String> {
    let e = |what: &str, err: webrtc::error::Error| format!("{what}: {err}");
    let a = run
        .builder(PeerId::A, Arc::new(Writer))
        .build()
        .await
        .map_err(|x| e("peer a", x))?;
    let reader = Arc::new(SlowReader {
        channels: run.channels(),
        runtime: run.runtime(PeerId::B),
    });
    let b = run
        .builder(PeerId::B, reader)
        .build()
        .await
        .map_err(|x| e("peer b", x))?;
    let dc = a
        .create_data_channel("chat", None)
        .await
        .map_err(|x| e("create_data_channel", x))?;
    let chat = run.channel(PeerId::A, dc).await;
    run.play_faults();
    run.negotiate(&a, &b).await?;
    loop {
        match chat.poll().await {
            Some(DataChannelEvent::OnOpen) => break,
            Some(_) => {}
            None => return Err("a: the channel ended before it opened".into()),
        }
    }
    let events = chat.clone();
    run.runtime(PeerId::A)
        .spawn(Box::pin(
            async move { while events.poll().await.is_some() {} },
        ))
        .detach();
    for i in 0..MESSAGES {
        let _ = chat.send_text(format!("burst {i}")).await;
    }
    run.until(run.scenario().duration_ms).await;
    Ok(())
}

/// Peer `a`: nothing to react to.
struct Writer;

impl PeerConnectionEventHandler for Writer {}

/// Peer `b`: reads every channel `a` opens, [`READ_MS`] per message.
struct SlowReader {
    channels: Channels,
    runtime: Arc<dyn Runtime>,
}

impl PeerConnectionEventHandler for SlowReader {
    fn on_data_channel<'l, 'a>(&'l self, dc: Arc<dyn DataChannel>) -> Done<'a>
    where
        'l: 'a,
        Self: 'a,
    {
        Box::pin(async move {
            let chat: RecordedChannel = self.channels.wrap(PeerId::B, dc).await;
            let rt = Arc::clone(&self.runtime);
            self.runtime
                .spawn(Box::pin(async move {
                    while let Some(event) = chat.poll().await {
                        if let DataChannelEvent::OnMessage(_) = event {
                            rt.sleep(Duration::from_millis(READ_MS)).await;
                        }
                    }
                }))
                .detach();
        })
    }
}
