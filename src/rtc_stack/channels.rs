//! Data channels by label: the crate names channels by a per-peer handle, dcsim by label.

use crate::model::DataChannelState;
use rtc::data_channel::RTCDataChannelId;
use std::collections::BTreeMap;

/// One channel this peer's application knows of.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Channel {
    /// The crate's handle (local to this peer, not the SCTP stream id).
    pub(super) id: RTCDataChannelId,
    /// The readyState last read from the crate (what [`super::RtcStack::channel_state`]
    /// returns).
    pub(super) state: DataChannelState,
    /// The SCTP stream id, once the crate assigned one (kept after the crate drops the
    /// channel).
    pub(super) stream: Option<u16>,
}

/// The channels the application knows of: those it created, and remote in-band channels
/// once they were announced (the crate's first `OnOpen` for an unknown handle).
#[derive(Clone, Debug, Default)]
pub(super) struct Channels {
    by_label: BTreeMap<String, Channel>,
    labels: BTreeMap<RTCDataChannelId, String>,
}

impl Channels {
    /// Registers a channel; `false` if the label is already taken on this peer.
    pub(super) fn insert(&mut self, label: &str, id: RTCDataChannelId) -> bool {
        if self.by_label.contains_key(label) {
            return false;
        }
        let state = DataChannelState::Connecting;
        self.by_label.insert(
            label.to_owned(),
            Channel {
                id,
                state,
                stream: None,
            },
        );
        self.labels.insert(id, label.to_owned());
        true
    }

    /// The channel labelled `label`.
    pub(super) fn get(&self, label: &str) -> Option<&Channel> {
        self.by_label.get(label)
    }

    /// The label of the channel with handle `id`, if the application knows of it.
    pub(super) fn label(&self, id: RTCDataChannelId) -> Option<&str> {
        self.labels.get(&id).map(String::as_str)
    }

    /// Every (label, handle), in label order.
    pub(super) fn handles(&self) -> Vec<(String, RTCDataChannelId)> {
        self.by_label
            .iter()
            .map(|(label, c)| (label.clone(), c.id))
            .collect()
    }

    /// Records the stream id the crate reports for `label` (it never changes once set).
    pub(super) fn set_stream(&mut self, label: &str, stream: Option<u16>) {
        if let (Some(channel), Some(stream)) = (self.by_label.get_mut(label), stream) {
            channel.stream = Some(stream);
        }
    }

    /// Records that `label` now reads `to`; the previous state if that is a change.
    pub(super) fn set_state(
        &mut self,
        label: &str,
        to: DataChannelState,
    ) -> Option<DataChannelState> {
        let channel = self.by_label.get_mut(label)?;
        if channel.state == to {
            None
        } else {
            Some(std::mem::replace(&mut channel.state, to))
        }
    }
}
