//! The inverse of `arbitrary`'s decoding, for the fuzz inputs: write an input as the
//! bytes that decode back to it, so that seed corpora, crash reproductions and the
//! planted-bug input are written as readable Rust values rather than found by chance.
//!
//! It follows `arbitrary` 1.x's format: integers little-endian, `bool` one byte (odd is
//! true), an enum variant as a `u32` `v` with `(v * variants) >> 32 == index`, `Option`
//! a `bool` then the value, and the last field of an input, a `Vec`, as its elements
//! each preceded by a `true` byte. `tests/fuzz_corpus.rs` checks `decode(encode(x)) == x`
//! for every seed, so a change of format shows up as a failing test.

use super::guard_ops::{ConfigInput, GuardInput, GuardOp, RefusalInput, TransportMode};
use super::model_inputs::{GuardPolicy, Label, ModelInput, ModelOp, Side};
use super::sim_faults::{FaultAction, FaultInput, SimFaultsInput};

/// A fuzz input that can be written as the bytes it decodes from.
pub trait Encode {
    /// Appends this value's bytes.
    fn encode_to(&self, out: &mut Vec<u8>);

    /// The bytes that decode to this value.
    fn to_fuzz_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_to(&mut out);
        out
    }
}

fn variant(out: &mut Vec<u8>, index: u32, count: u32) {
    let v = (u64::from(index) << 32).div_ceil(u64::from(count));
    out.extend_from_slice(&(v as u32).to_le_bytes());
}

impl Encode for bool {
    fn encode_to(&self, out: &mut Vec<u8>) {
        out.push(u8::from(*self));
    }
}

impl Encode for u8 {
    fn encode_to(&self, out: &mut Vec<u8>) {
        out.push(*self);
    }
}

impl Encode for u16 {
    fn encode_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
}

impl Encode for u64 {
    fn encode_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
}

impl<T: Encode> Encode for Option<T> {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.is_some().encode_to(out);
        if let Some(v) = self {
            v.encode_to(out);
        }
    }
}

/// A trailing `Vec` decoded with `arbitrary_take_rest`: each element after a `true`.
fn rest<T: Encode>(items: &[T], out: &mut Vec<u8>) {
    for item in items {
        true.encode_to(out);
        item.encode_to(out);
    }
}

impl Encode for Side {
    fn encode_to(&self, out: &mut Vec<u8>) {
        variant(out, *self as u32, 2);
    }
}

impl Encode for Label {
    fn encode_to(&self, out: &mut Vec<u8>) {
        variant(out, *self as u32, 3);
    }
}

impl Encode for GuardPolicy {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.queue_while_connecting.encode_to(out);
        self.hold_while_disconnected.encode_to(out);
        self.small_queue.encode_to(out);
    }
}

impl Encode for ModelOp {
    fn encode_to(&self, out: &mut Vec<u8>) {
        const N: u32 = 12;
        match self {
            ModelOp::Negotiate => variant(out, 0, N),
            ModelOp::CreateChannel {
                peer,
                label,
                negotiated,
                ordered,
            } => {
                variant(out, 1, N);
                peer.encode_to(out);
                label.encode_to(out);
                negotiated.encode_to(out);
                ordered.encode_to(out);
            }
            ModelOp::Send {
                peer,
                label,
                guarded,
                size,
                oversize,
            } => {
                variant(out, 2, N);
                peer.encode_to(out);
                label.encode_to(out);
                guarded.encode_to(out);
                size.encode_to(out);
                oversize.encode_to(out);
            }
            ModelOp::CloseChannel { peer, label } => {
                variant(out, 3, N);
                peer.encode_to(out);
                label.encode_to(out);
            }
            ModelOp::ClosePeer { peer } => {
                variant(out, 4, N);
                peer.encode_to(out);
            }
            ModelOp::IceRestart { peer } => {
                variant(out, 5, N);
                peer.encode_to(out);
            }
            ModelOp::Deliver { index } => {
                variant(out, 6, N);
                index.encode_to(out);
            }
            ModelOp::Drop { index } => {
                variant(out, 7, N);
                index.encode_to(out);
            }
            ModelOp::Duplicate { index } => {
                variant(out, 8, N);
                index.encode_to(out);
            }
            ModelOp::Settle => variant(out, 9, N),
            ModelOp::FireTimer { peer, index } => {
                variant(out, 10, N);
                peer.encode_to(out);
                index.encode_to(out);
            }
            ModelOp::Advance { ms } => {
                variant(out, 11, N);
                ms.encode_to(out);
            }
        }
    }
}

impl Encode for ModelInput {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.w3c.encode_to(out);
        self.guard.encode_to(out);
        rest(&self.ops, out);
    }
}

impl Encode for ConfigInput {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.queue_while_connecting.encode_to(out);
        self.hold_while_disconnected.encode_to(out);
        self.max_queue_messages.encode_to(out);
        self.max_queue_bytes.encode_to(out);
        self.ttl_ms.encode_to(out);
        self.max_message_size.encode_to(out);
    }
}

impl Encode for RefusalInput {
    fn encode_to(&self, out: &mut Vec<u8>) {
        variant(out, *self as u32, 5);
    }
}

impl Encode for TransportMode {
    fn encode_to(&self, out: &mut Vec<u8>) {
        match self {
            TransportMode::Accept => variant(out, 0, 2),
            TransportMode::Refuse(r) => {
                variant(out, 1, 2);
                r.encode_to(out);
            }
        }
    }
}

impl Encode for GuardOp {
    fn encode_to(&self, out: &mut Vec<u8>) {
        const N: u32 = 8;
        match self {
            GuardOp::Send { size } => {
                variant(out, 0, N);
                size.encode_to(out);
            }
            GuardOp::ChannelState(i) => {
                variant(out, 1, N);
                i.encode_to(out);
            }
            GuardOp::IceState(i) => {
                variant(out, 2, N);
                i.encode_to(out);
            }
            GuardOp::PeerConnectionState(i) => {
                variant(out, 3, N);
                i.encode_to(out);
            }
            GuardOp::Transport(mode) => {
                variant(out, 4, N);
                mode.encode_to(out);
            }
            GuardOp::Writable => variant(out, 5, N),
            GuardOp::Advance { ms } => {
                variant(out, 6, N);
                ms.encode_to(out);
            }
            GuardOp::Timeout => variant(out, 7, N),
        }
    }
}

impl Encode for GuardInput {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.config.encode_to(out);
        rest(&self.ops, out);
    }
}

impl Encode for FaultAction {
    fn encode_to(&self, out: &mut Vec<u8>) {
        const N: u32 = 10;
        match self {
            FaultAction::Partition => variant(out, 0, N),
            FaultAction::Heal => variant(out, 1, N),
            FaultAction::Hold => variant(out, 2, N),
            FaultAction::Release => variant(out, 3, N),
            FaultAction::Loss(v) => {
                variant(out, 4, N);
                v.encode_to(out);
            }
            FaultAction::Latency(ms) => {
                variant(out, 5, N);
                ms.encode_to(out);
            }
            FaultAction::Crash(b) => {
                variant(out, 6, N);
                b.encode_to(out);
            }
            FaultAction::IceRestart(b) => {
                variant(out, 7, N);
                b.encode_to(out);
            }
            FaultAction::CloseChannel(b) => {
                variant(out, 8, N);
                b.encode_to(out);
            }
            FaultAction::ClosePeer(b) => {
                variant(out, 9, N);
                b.encode_to(out);
            }
        }
    }
}

impl Encode for FaultInput {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.at_ms.encode_to(out);
        self.action.encode_to(out);
    }
}

impl Encode for SimFaultsInput {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.scenario.encode_to(out);
        self.w3c.encode_to(out);
        self.seed.encode_to(out);
        self.latency_ms.encode_to(out);
        self.loss_permille.encode_to(out);
        rest(&self.faults, out);
    }
}
