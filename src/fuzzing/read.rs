//! The decoding of the structured fuzz inputs, written out: the same bytes give the same
//! input as `arbitrary` 1.x's derived decoding ([`super::decode`]), without its generic
//! code on every execution.
//!
//! Under the fuzzer every line of the harness is instrumented, so `arbitrary`'s
//! per-field calls and per-byte buffer fills cost about a tenth of an execution of
//! `guard_ops`; this reader is a handful of loads per field. The format is the one
//! [`super::encode`] writes: integers little-endian and zero-filled when the bytes run
//! out, `bool` the low bit of a byte, an enum variant a `u32` `v` with index
//! `(v * variants) >> 32`, `Option` a `bool` then the value, and the trailing `Vec` of an
//! input its elements each after a `true` byte (a `false` byte or the end stops it).
//! None of these can fail, so neither can [`super::decode`] of these inputs, and the two
//! agree on every input (tested on random bytes and on every corpus file).

use super::guard_ops::{ConfigInput, GuardOp, RefusalInput, TransportMode};
use super::model_inputs::{GuardPolicy, Label, ModelOp, Side};

/// Fuzz bytes being read, front to back.
#[derive(Clone, Copy, Debug)]
pub struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    /// Reads `data` from its start.
    pub fn new(data: &'a [u8]) -> Self {
        Reader { data }
    }

    fn array<const N: usize>(&mut self) -> [u8; N] {
        let mut buf = [0; N];
        let n = N.min(self.data.len());
        let (head, tail) = self.data.split_at(n);
        buf[..n].copy_from_slice(head);
        self.data = tail;
        buf
    }

    fn u8(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, tail)) => {
                self.data = tail;
                b
            }
            None => 0,
        }
    }

    fn u16(&mut self) -> u16 {
        u16::from_le_bytes(self.array())
    }

    fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.array())
    }

    fn bool(&mut self) -> bool {
        self.u8() & 1 == 1
    }

    /// The index of an enum variant among `count`.
    fn variant(&mut self, count: u64) -> u64 {
        (u64::from(self.u32()) * count) >> 32
    }

    /// Whether another element of the input's trailing `Vec` follows.
    pub fn more(&mut self) -> bool {
        self.bool()
    }

    /// Reads one value.
    pub fn read<T: Read>(&mut self) -> T {
        T::read(self)
    }
}

/// A value read from fuzz bytes as `arbitrary` decodes it.
pub trait Read: Sized {
    /// Reads it (never fails: short bytes read as zeros).
    fn read(r: &mut Reader<'_>) -> Self;
}

impl Read for bool {
    fn read(r: &mut Reader<'_>) -> Self {
        r.bool()
    }
}

impl Read for u8 {
    fn read(r: &mut Reader<'_>) -> Self {
        r.u8()
    }
}

impl Read for u16 {
    fn read(r: &mut Reader<'_>) -> Self {
        r.u16()
    }
}

impl<T: Read> Read for Option<T> {
    fn read(r: &mut Reader<'_>) -> Self {
        r.bool().then(|| T::read(r))
    }
}

impl<A: Read, B: Read> Read for (A, B) {
    fn read(r: &mut Reader<'_>) -> Self {
        let a = A::read(r);
        (a, B::read(r))
    }
}

impl Read for Side {
    fn read(r: &mut Reader<'_>) -> Self {
        match r.variant(2) {
            0 => Side::A,
            _ => Side::B,
        }
    }
}

impl Read for Label {
    fn read(r: &mut Reader<'_>) -> Self {
        match r.variant(3) {
            0 => Label::C0,
            1 => Label::C1,
            _ => Label::C2,
        }
    }
}

impl Read for GuardPolicy {
    fn read(r: &mut Reader<'_>) -> Self {
        GuardPolicy {
            queue_while_connecting: r.read(),
            hold_while_disconnected: r.read(),
            small_queue: r.read(),
        }
    }
}

impl Read for ModelOp {
    fn read(r: &mut Reader<'_>) -> Self {
        match r.variant(12) {
            0 => ModelOp::Negotiate,
            1 => ModelOp::CreateChannel {
                peer: r.read(),
                label: r.read(),
                negotiated: r.read(),
                ordered: r.read(),
            },
            2 => ModelOp::Send {
                peer: r.read(),
                label: r.read(),
                guarded: r.read(),
                size: r.read(),
                oversize: r.read(),
            },
            3 => ModelOp::CloseChannel {
                peer: r.read(),
                label: r.read(),
            },
            4 => ModelOp::ClosePeer { peer: r.read() },
            5 => ModelOp::IceRestart { peer: r.read() },
            6 => ModelOp::Deliver { index: r.read() },
            7 => ModelOp::Drop { index: r.read() },
            8 => ModelOp::Duplicate { index: r.read() },
            9 => ModelOp::Settle,
            10 => ModelOp::FireTimer {
                peer: r.read(),
                index: r.read(),
            },
            _ => ModelOp::Advance { ms: r.read() },
        }
    }
}

impl Read for ConfigInput {
    fn read(r: &mut Reader<'_>) -> Self {
        ConfigInput {
            queue_while_connecting: r.read(),
            hold_while_disconnected: r.read(),
            max_queue_messages: r.read(),
            max_queue_bytes: r.read(),
            ttl_ms: r.read(),
            max_message_size: r.read(),
        }
    }
}

impl Read for RefusalInput {
    fn read(r: &mut Reader<'_>) -> Self {
        match r.variant(5) {
            0 => RefusalInput::NotOpen,
            1 => RefusalInput::Closed,
            2 => RefusalInput::TooLarge,
            3 => RefusalInput::BufferFull,
            _ => RefusalInput::Other,
        }
    }
}

impl Read for TransportMode {
    fn read(r: &mut Reader<'_>) -> Self {
        match r.variant(2) {
            0 => TransportMode::Accept,
            _ => TransportMode::Refuse(r.read()),
        }
    }
}

impl Read for GuardOp {
    fn read(r: &mut Reader<'_>) -> Self {
        match r.variant(8) {
            0 => GuardOp::Send { size: r.read() },
            1 => GuardOp::ChannelState(r.read()),
            2 => GuardOp::IceState(r.read()),
            3 => GuardOp::PeerConnectionState(r.read()),
            4 => GuardOp::Transport(r.read()),
            5 => GuardOp::Writable,
            6 => GuardOp::Advance { ms: r.read() },
            _ => GuardOp::Timeout,
        }
    }
}

/// Reads an input's header `H` and then its trailing operations into `ops` (cleared
/// first), stopping after `max` of them: the operations past `max` are never played, and
/// reading them would not change those before.
pub fn read_input<H: Read, T: Read>(data: &[u8], ops: &mut Vec<T>, max: usize) -> H {
    let mut r = Reader::new(data);
    let header = r.read();
    ops.clear();
    while ops.len() < max && r.more() {
        ops.push(r.read());
    }
    header
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fuzzing::guard_ops::GuardInput;
    use crate::fuzzing::model_inputs::ModelInput;
    use crate::fuzzing::{decode, MAX_OPS};
    use rand::rngs::SmallRng;
    use rand::{Rng, SeedableRng};

    /// Random bytes, of every length up to 2 kB, and runs of zeros and ones, which
    /// libFuzzer likes: the reader and `arbitrary` give the same input.
    #[test]
    fn the_reader_decodes_as_arbitrary_does() {
        let mut rng = SmallRng::seed_from_u64(11);
        let mut ops: Vec<ModelOp> = Vec::new();
        for i in 0..20_000 {
            let len = rng.gen_range(0..2048usize >> (i % 6));
            let data: Vec<u8> = match i % 4 {
                0 => (0..len).map(|_| rng.gen::<u8>() & 1).collect(),
                1 => (0..len)
                    .map(|_| [0, 1, 0xff][rng.gen_range(0..3)])
                    .collect(),
                _ => (0..len).map(|_| rng.gen()).collect(),
            };
            let model: ModelInput = decode(&data).expect("arbitrary never fails here");
            let header: (bool, GuardPolicy) = read_input(&data, &mut ops, usize::MAX);
            assert_eq!(header, (model.w3c, model.guard), "{data:?}");
            assert_eq!(ops, model.ops, "{data:?}");
            let _: (bool, GuardPolicy) = read_input(&data, &mut ops, MAX_OPS);
            assert_eq!(ops[..], model.ops[..model.ops.len().min(MAX_OPS)]);

            let input: GuardInput = decode(&data).expect("arbitrary never fails here");
            let mut guard_ops: Vec<GuardOp> = Vec::new();
            let config: ConfigInput = read_input(&data, &mut guard_ops, usize::MAX);
            assert_eq!(config, input.config, "{data:?}");
            assert_eq!(guard_ops, input.ops, "{data:?}");
        }
    }

    /// Every committed input of the two targets reads as `arbitrary` decodes it.
    #[test]
    fn the_reader_decodes_the_committed_inputs_as_arbitrary_does() {
        let fuzz = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
        let mut seen = 0;
        for kind in ["corpus", "regressions", "planted"] {
            for target in ["model_inputs", "guard_ops"] {
                let path = fuzz.join(kind).join(target);
                let files: Vec<_> = match std::fs::read_dir(&path) {
                    Ok(dir) => dir.filter_map(Result::ok).map(|e| e.path()).collect(),
                    Err(_) => vec![path],
                };
                for file in files.into_iter().filter(|p| p.is_file()) {
                    let data = std::fs::read(&file).expect("read a committed input");
                    seen += 1;
                    if target == "model_inputs" {
                        let model: ModelInput = decode(&data).expect("decodes");
                        let mut ops: Vec<ModelOp> = Vec::new();
                        let header: (bool, GuardPolicy) = read_input(&data, &mut ops, usize::MAX);
                        assert_eq!((header, ops), ((model.w3c, model.guard), model.ops));
                    } else {
                        let input: GuardInput = decode(&data).expect("decodes");
                        let mut ops: Vec<GuardOp> = Vec::new();
                        let config: ConfigInput = read_input(&data, &mut ops, usize::MAX);
                        assert_eq!((config, ops), (input.config, input.ops));
                    }
                }
            }
        }
        assert!(seen >= 10, "only {seen} committed inputs found");
    }
}
