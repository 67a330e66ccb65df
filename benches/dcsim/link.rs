//! Two model peers over a zero-latency in-memory link, driven through nothing but
//! `Peer::handle_input` and `Peer::poll_output`: the cheapest possible driver, so that
//! what it measures is the model itself (no trace, no monitor, no engine).

use dcsim::model::{Input, Output, Packet, Peer, PeerConfig, Profile, ProfileName};
use dcsim::stack::{AppCall, AppResult, Reliability, StackEvent};
use dcsim::trace::{Millis, PeerId};
use std::collections::VecDeque;

/// Two peers, a clock, the datagrams in flight and the events not yet read.
pub struct Link {
    pub peers: [Peer; 2],
    pub now: Millis,
    pub in_flight: VecDeque<(PeerId, Packet)>,
    /// Events both peers reported, in order (the caller drains them).
    pub events: Vec<(PeerId, StackEvent)>,
    /// Calls to `handle_input` so far.
    pub inputs: u64,
    /// When false, events are counted and dropped instead of kept.
    pub keep_events: bool,
    /// Events seen.
    pub event_count: u64,
    /// Messages delivered to an application.
    pub delivered: u64,
}

impl Link {
    /// Two fresh peers (webrtc-rs profile, default config); `a` creates `channels`
    /// (in-band) before anything else.
    pub fn new(channels: &[&str]) -> Self {
        let profile = Profile::of(ProfileName::default());
        let config = PeerConfig::default();
        let mut link = Link {
            peers: [
                Peer::new(PeerId::A, profile, config),
                Peer::new(PeerId::B, profile, config),
            ],
            now: 0,
            in_flight: VecDeque::new(),
            events: Vec::new(),
            inputs: 0,
            keep_events: false,
            event_count: 0,
            delivered: 0,
        };
        for label in channels {
            let _ = link.input(
                PeerId::A,
                Input::App(AppCall::CreateChannel {
                    label: (*label).to_string(),
                    negotiated: None,
                    ordered: true,
                    reliability: Reliability::Reliable,
                }),
            );
        }
        link
    }

    /// Offer/answer, instantly (signaling is out of band).
    pub fn connect(&mut self) {
        let now = self.now;
        let [a, b] = &mut self.peers;
        let offer = a.create_description(now).expect("offer");
        b.apply_remote_description(now, &offer)
            .expect("apply offer");
        let answer = b.create_description(now).expect("answer");
        a.apply_remote_description(now, &answer)
            .expect("apply answer");
        self.drain(PeerId::A);
        self.drain(PeerId::B);
    }

    /// One input to one peer, then its outputs drained.
    pub fn input(&mut self, peer: PeerId, input: Input) -> AppResult {
        self.inputs += 1;
        let result = self.peers[peer.index()].handle_input(self.now, input);
        self.drain(peer);
        result
    }

    /// A raw send of `size` bytes.
    pub fn send(&mut self, peer: PeerId, channel: &str, msg: u64, size: usize) -> AppResult {
        self.input(
            peer,
            Input::App(AppCall::Send {
                channel: channel.to_string(),
                msg,
                size,
            }),
        )
    }

    pub fn drain(&mut self, peer: PeerId) {
        while let Some(out) = self.peers[peer.index()].poll_output() {
            match out {
                Output::Transmit(p) => self.in_flight.push_back((peer.other(), p)),
                Output::Event(e) => {
                    self.event_count += 1;
                    if matches!(e, StackEvent::Message { .. }) {
                        self.delivered += 1;
                    }
                    if self.keep_events {
                        self.events.push((peer, e));
                    }
                }
            }
        }
    }

    /// Delivers everything in flight (and what that provokes), in FIFO order, then fires
    /// the timers that are due, until nothing is left to do at `now`.
    pub fn settle(&mut self) {
        loop {
            while let Some((to, p)) = self.in_flight.pop_front() {
                let _ = self.input(to, Input::Datagram(p));
            }
            let mut fired = false;
            for id in PeerId::BOTH {
                if self.peers[id.index()]
                    .poll_timeout()
                    .is_some_and(|t| t <= self.now)
                {
                    let _ = self.input(id, Input::Timeout);
                    fired = true;
                }
            }
            if !fired && self.in_flight.is_empty() {
                break;
            }
        }
    }

    /// Moves the clock by `dt` and settles.
    pub fn advance(&mut self, dt: Millis) {
        self.now += dt;
        self.settle();
    }

    /// Connects and runs until `label` is open on both peers (panics after 10 s of
    /// virtual time).
    pub fn open(&mut self, label: &str) {
        use dcsim::model::DataChannelState::Open;
        self.connect();
        self.settle();
        while !(self.peers[0].channel_state(label) == Some(Open)
            && self.peers[1].channel_state(label) == Some(Open))
        {
            assert!(self.now < 10_000, "channel {label} did not open");
            self.advance(1);
        }
    }
}
