//! The OpenAvatarChat data-channel flows written against the async `webrtc` 0.21.1 API, as
//! the server would write them: its `PeerConnectionEventHandler` sends the chat history as
//! soon as the peer connection reports `connecting` and a status message on every ICE
//! connection state change, and a task sends a heartbeat every second. `Naive` sends the
//! way the original does (the bare `send_text`, errors ignored); `Fixed` sends the same
//! messages through dcsim's `GuardedChannel`. The browser side (`Client`) only listens.
//!
//! Its channel type is dcsim's [`RecordedChannel`] (the one line that differs from
//! production code, where it is `Arc<dyn DataChannel>`).

use dcsim::guard::webrtc_adapter::GuardedChannel;
use dcsim::guard::GuardConfig;
use dcsim::runtime::harness::{AsyncRun, Channels, Done, Play, RecordedChannel};
use dcsim::scenario::Scenario;
use dcsim::trace::PeerId;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use webrtc::data_channel::DataChannel;
use webrtc::peer_connection::PeerConnection;
use webrtc::peer_connection::{
    PeerConnectionEventHandler, RTCIceConnectionState, RTCPeerConnectionState,
};
use webrtc::runtime::Runtime;

/// Messages of the chat history sent on `connecting`.
pub const HISTORY: usize = 3;
/// Heartbeat period.
pub const HEARTBEAT: Duration = Duration::from_secs(1);

/// How the server sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sending {
    /// The bare `send_text`, as the original.
    Naive,
    /// Through the guard.
    Fixed,
}

/// The server's channel, as each version holds it.
#[derive(Clone)]
enum Chat {
    Naive(RecordedChannel),
    Fixed(Arc<GuardedChannel>),
}

impl Chat {
    async fn send(&self, text: String) {
        match self {
            // The original ignores the error, as a `try: channel.send(...)` would.
            Chat::Naive(chat) => {
                let _ = chat.send_text(text).await;
            }
            // The guard queues, holds, sends or drops with a reason (the drop handler
            // and the trace hear of it): the report needs no handling here.
            Chat::Fixed(chat) => {
                let _report = chat.send_text(text).await;
            }
        }
    }

    async fn poll(&self) -> bool {
        match self {
            Chat::Naive(chat) => chat.poll().await.is_some(),
            Chat::Fixed(chat) => chat.poll().await.is_some(),
        }
    }
}

/// The avatar-chat server (peer `a`).
pub struct Server {
    sending: Sending,
    channel: Mutex<Option<Chat>>,
}

impl Server {
    /// A server without its channel yet.
    pub fn new(sending: Sending) -> Arc<Self> {
        Arc::new(Server {
            sending,
            channel: Mutex::new(None),
        })
    }

    /// The channel is made: keep it, listen to it, and start the heartbeat.
    pub async fn attach(self: &Arc<Self>, channel: RecordedChannel, runtime: Arc<dyn Runtime>) {
        let chat = match self.sending {
            Sending::Naive => Chat::Naive(channel),
            Sending::Fixed => Chat::Fixed(Arc::new(
                channel
                    .guarded(Arc::clone(&runtime), GuardConfig::default(), |_| {})
                    .await,
            )),
        };
        *self.channel.lock().expect("server lock") = Some(chat.clone());
        let events = chat.clone();
        runtime
            .spawn(Box::pin(async move { while events.poll().await {} }))
            .detach();
        let rt = Arc::clone(&runtime);
        runtime
            .spawn(Box::pin(async move {
                loop {
                    rt.sleep(HEARTBEAT).await;
                    chat.send("heartbeat".into()).await;
                }
            }))
            .detach();
    }

    fn channel(&self) -> Option<Chat> {
        self.channel.lock().expect("server lock").clone()
    }
}

impl PeerConnectionEventHandler for Server {
    fn on_connection_state_change<'l, 'a>(&'l self, state: RTCPeerConnectionState) -> Done<'a>
    where
        'l: 'a,
        Self: 'a,
    {
        Box::pin(async move {
            if state == RTCPeerConnectionState::Connecting {
                if let Some(chat) = self.channel() {
                    for i in 0..HISTORY {
                        chat.send(format!("history {i}")).await;
                    }
                }
            }
        })
    }

    fn on_ice_connection_state_change<'l, 'a>(&'l self, state: RTCIceConnectionState) -> Done<'a>
    where
        'l: 'a,
        Self: 'a,
    {
        Box::pin(async move {
            if let Some(chat) = self.channel() {
                if let Chat::Fixed(guarded) = &chat {
                    guarded.on_ice_connection_state_change(state).await;
                }
                chat.send(format!("ice {state}")).await;
            }
        })
    }
}

/// The browser (peer `b`): listens on every channel the server opens.
pub struct Client {
    channels: Channels,
    runtime: Arc<dyn Runtime>,
}

impl Client {
    /// A client recording through `channels`.
    pub fn new(channels: Channels, runtime: Arc<dyn Runtime>) -> Arc<Self> {
        Arc::new(Client { channels, runtime })
    }
}

impl PeerConnectionEventHandler for Client {
    fn on_data_channel<'l, 'a>(&'l self, dc: Arc<dyn DataChannel>) -> Done<'a>
    where
        'l: 'a,
        Self: 'a,
    {
        Box::pin(async move {
            let chat = self.channels.wrap(PeerId::B, dc).await;
            self.runtime
                .spawn(Box::pin(
                    async move { while chat.poll().await.is_some() {} },
                ))
                .detach();
        })
    }
}

/// The test code for one run of the server, what a user writes once beside the app:
/// both peers built from the run, the scenario's faults played, offer and answer, the
/// server closes its peer connection when the scenario says, the run ends at the
/// scenario's end.
pub fn play(sending: Sending, run: &AsyncRun) -> Play<'_> {
    Box::pin(async move {
        let scenario = run.scenario();
        let server = Server::new(sending);
        let a = run
            .builder(PeerId::A, server.clone())
            .build()
            .await
            .expect("peer a");
        let client = Client::new(run.channels(), run.runtime(PeerId::B));
        let b = run
            .builder(PeerId::B, client)
            .build()
            .await
            .expect("peer b");
        let dc = a.create_data_channel("chat", None).await.expect("chat");
        server
            .attach(run.channel(PeerId::A, dc).await, run.runtime(PeerId::A))
            .await;
        run.play_faults();
        run.negotiate(&a, &b).await.expect("negotiation");
        if let Some(close) = close_peer_at(scenario) {
            run.until(close).await;
            let _ = a.close().await;
        }
        run.until(scenario.duration_ms).await;
    })
}

/// When the scenario has `a` close its peer connection.
pub fn close_peer_at(scenario: &Scenario) -> Option<u64> {
    scenario.timeline().into_iter().find_map(|s| {
        matches!(s.step.action, dcsim::scenario::Action::ClosePeer { .. }).then_some(s.at_ms)
    })
}
