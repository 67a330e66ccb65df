//! The fuzz corpora, replayed by `cargo test`: every committed seed
//! (`fuzz/corpus/<target>/`) and crash reproduction (`fuzz/regressions/<target>/`) goes
//! through the same check function as `cargo fuzz run <target>`, so a bug the fuzzer
//! once found stays fixed on stable, without cargo-fuzz.
//!
//! Also here: the harness catches the planted bug (a guard that skips its state check) on
//! a known input, and a short seeded random-bytes run of every target.

use dcsim::fuzzing::arbitrary::{Arbitrary, Unstructured};
use dcsim::fuzzing::guard_ops::{
    self, ConfigInput, GuardInput, GuardOp, RefusalInput, TransportMode,
};
use dcsim::fuzzing::model_inputs::{self, GuardPolicy, Label, ModelInput, ModelOp, Side};
use dcsim::fuzzing::sim_faults::{self, FaultAction, FaultInput, SimFaultsInput};
use dcsim::fuzzing::{self, Encode, Options, TARGETS};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// Every file under `fuzz/<kind>/<target>/` (hidden files skipped), sorted.
fn files(kind: &str, target: &str) -> Vec<PathBuf> {
    let dir = fuzz_dir().join(kind).join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| !n.starts_with('.'))
        })
        .collect();
    out.sort();
    out
}

fn replay(kind: &str) -> usize {
    let mut count = 0;
    let mut failures = Vec::new();
    for (target, check) in TARGETS {
        for path in files(kind, target) {
            let data = std::fs::read(&path).expect("read corpus file");
            count += 1;
            if let Err(e) = check(&data) {
                failures.push(format!("{}:\n{e}", path.display()));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    count
}

#[test]
fn every_seed_corpus_file_passes_its_check() {
    let n = replay("corpus");
    for (target, _) in TARGETS {
        assert!(
            !files("corpus", target).is_empty(),
            "fuzz/corpus/{target}/ has no seed files"
        );
    }
    assert!(n >= TARGETS.len());
}

#[test]
fn every_crash_reproduction_stays_fixed() {
    replay("regressions");
}

/// The planted-bug inputs: a guarded send on a channel that is not open yet (the send-before-open
/// race). The real guard queues it; the planted guard (it skips its state check)
/// releases it, and both harnesses must say so.
fn planted_inputs() -> [(&'static str, Vec<u8>); 2] {
    let model = ModelInput {
        w3c: false,
        guard: POLICY,
        ops: vec![
            create(Side::A, Label::C0),
            ModelOp::Negotiate,
            send(Side::A, true),
        ],
    };
    let guard = GuardInput {
        config: CONFIG,
        ops: vec![GuardOp::Send { size: 5 }],
    };
    [
        ("model_inputs", model.to_fuzz_bytes()),
        ("guard_ops", guard.to_fuzz_bytes()),
    ]
}

#[test]
fn the_harness_catches_the_planted_bug() {
    for (target, data) in planted_inputs() {
        let committed = std::fs::read(fuzz_dir().join("planted").join(target))
            .expect("read fuzz/planted input");
        assert_eq!(committed, data, "fuzz/planted/{target} is up to date");
        let (clean, planted) = match target {
            "model_inputs" => (
                fuzzing::check_model_inputs(&data),
                fuzzing::check_model_inputs_with(&data, &Options::PLANTED),
            ),
            _ => (
                fuzzing::check_guard_ops(&data),
                fuzzing::check_guard_ops_with(&data, &Options::PLANTED),
            ),
        };
        assert_eq!(clean, Ok(()), "{target}: the real guard passes");
        let err = planted.expect_err("the planted bug is caught");
        let expected = match target {
            "model_inputs" => "no-send-on-non-open: a: guard released on c0 #0 while connecting",
            _ => "send() answered Send for #0 although the reports forbid it",
        };
        assert!(err.contains(expected), "{target}: {err}");
    }
}

/// Seeded random inputs through every target: random structured inputs (generated with
/// `Arbitrary::arbitrary`, which reads lengths from the end of the data, so they are
/// longer than what random bytes decode to) written back with `Encode`, and random
/// bytes for the parsers. Cheap insurance that `cargo test` alone exercises each check
/// beyond the committed seeds; also checks that `Encode` is the inverse of the decoding.
#[test]
fn random_inputs_pass_every_check() {
    let mut rng = SmallRng::seed_from_u64(6);
    let mut bytes = |len: usize| -> Vec<u8> { (0..len).map(|_| rng.gen()).collect() };
    fn structured<T>(raw: &[u8]) -> Option<Vec<u8>>
    where
        T: for<'a> Arbitrary<'a> + Encode + PartialEq + std::fmt::Debug,
    {
        let input = T::arbitrary(&mut Unstructured::new(raw)).ok()?;
        let data = input.to_fuzz_bytes();
        let back: T = fuzzing::decode(&data).expect("encoded input decodes");
        assert_eq!(back, input, "Encode is the inverse of the decoding");
        Some(data)
    }
    for _ in 0..300 {
        let raw = bytes(1024);
        if let Some(data) = structured::<ModelInput>(&raw) {
            if let Err(e) = fuzzing::check_model_inputs(&data) {
                panic!("model_inputs on {data:?}:\n{e}");
            }
        }
        let raw = bytes(1024);
        if let Some(data) = structured::<GuardInput>(&raw) {
            if let Err(e) = fuzzing::check_guard_ops(&data) {
                panic!("guard_ops on {data:?}:\n{e}");
            }
        }
        for (target, check) in [
            (
                "scenario_parse",
                fuzzing::check_scenario_parse as fn(&[u8]) -> _,
            ),
            ("trace_parse", fuzzing::check_trace_parse),
        ] {
            let data = bytes(256);
            if let Err(e) = check(&data) {
                panic!("{target} on {data:?}:\n{e}");
            }
        }
    }
    for _ in 0..6 {
        let raw = bytes(128);
        if let Some(data) = structured::<SimFaultsInput>(&raw) {
            if let Err(e) = fuzzing::check_sim_faults(&data) {
                panic!("sim_faults on {data:?}:\n{e}");
            }
        }
    }
}

// ---- the seed corpora --------------------------------------------------------------

const POLICY: GuardPolicy = GuardPolicy {
    queue_while_connecting: true,
    hold_while_disconnected: true,
    small_queue: false,
};

const CONFIG: ConfigInput = ConfigInput {
    queue_while_connecting: true,
    hold_while_disconnected: true,
    max_queue_messages: 4,
    max_queue_bytes: 1000,
    ttl_ms: Some(500),
    max_message_size: 300,
};

fn create(peer: Side, label: Label) -> ModelOp {
    ModelOp::CreateChannel {
        peer,
        label,
        negotiated: false,
        ordered: true,
    }
}

fn send(peer: Side, guarded: bool) -> ModelOp {
    ModelOp::Send {
        peer,
        label: Label::C0,
        guarded,
        size: 5,
        oversize: false,
    }
}

/// One seed: target, file name, bytes, and the milestones it must reach.
struct Seed {
    target: &'static str,
    name: &'static str,
    data: Vec<u8>,
    reaches: &'static [&'static str],
}

fn model_seed(
    name: &'static str,
    w3c: bool,
    guard: GuardPolicy,
    ops: Vec<ModelOp>,
    reaches: &'static [&'static str],
) -> Seed {
    let data = ModelInput { w3c, guard, ops }.to_fuzz_bytes();
    Seed {
        target: "model_inputs",
        name,
        data,
        reaches,
    }
}

fn guard_seed(name: &'static str, ops: Vec<GuardOp>, reaches: &'static [&'static str]) -> Seed {
    let data = GuardInput {
        config: CONFIG,
        ops,
    }
    .to_fuzz_bytes();
    Seed {
        target: "guard_ops",
        name,
        data,
        reaches,
    }
}

/// The seeds of the structured targets, written as the operations they stand for.
fn structured_seeds() -> Vec<Seed> {
    use dcsim::model::{DataChannelState as C, IceConnectionState as I, PeerConnectionState as P};
    use GuardOp as G;
    use ModelOp as M;
    let (a, b) = (Side::A, Side::B);
    let open = vec![
        create(a, Label::C0),
        M::Negotiate,
        send(a, true),
        send(a, false),
        M::Settle,
    ];
    let with = |extra: &[ModelOp]| -> Vec<ModelOp> {
        let mut ops = open.clone();
        ops.extend_from_slice(extra);
        ops
    };
    let (connecting, ch_open) = (channel(C::Connecting), channel(C::Open));
    let (checking, connected) = (ice(I::Checking), ice(I::Connected));
    let (disconnected, failed) = (ice(I::Disconnected), ice(I::Failed));
    vec![
        model_seed(
            "open-and-deliver",
            false,
            POLICY,
            with(&[send(a, true), send(b, true), M::Settle]),
            &[
                "data_channel:open",
                "deliver",
                "send:guarded:sent",
                "send:raw:error",
            ],
        ),
        model_seed(
            "disconnected-then-failed",
            false,
            POLICY,
            with(&[
                M::Advance { ms: 6000 },
                send(a, true),
                M::Advance { ms: 30000 },
                send(a, true),
            ]),
            &[
                "ice_connection:disconnected",
                "ice_connection:failed",
                "drop:path-failed",
                "send:guarded:rejected",
            ],
        ),
        model_seed(
            "close-channel",
            false,
            POLICY,
            with(&[
                M::CloseChannel {
                    peer: b,
                    label: Label::C0,
                },
                send(a, false),
                M::Settle,
                send(a, true),
                send(a, false),
            ]),
            &["data_channel:closed", "send:guarded:rejected"],
        ),
        model_seed(
            "close-peer-w3c",
            true,
            POLICY,
            with(&[
                send(a, true),
                M::ClosePeer { peer: b },
                M::Settle,
                send(a, true),
            ]),
            &[
                "peer_connection:closed",
                "sctp:closed",
                "data_channel:closed",
            ],
        ),
        model_seed(
            "ice-restart",
            false,
            POLICY,
            with(&[
                M::Advance { ms: 6000 },
                send(a, true),
                M::IceRestart { peer: a },
                M::Negotiate,
                M::Settle,
                send(a, true),
                M::Settle,
            ]),
            &[
                "ice_connection:checking",
                "ice_connection:connected",
                "deliver",
            ],
        ),
        model_seed(
            "any-order-negotiated",
            true,
            GuardPolicy {
                small_queue: true,
                ..POLICY
            },
            vec![
                M::CreateChannel {
                    peer: a,
                    label: Label::C1,
                    negotiated: true,
                    ordered: false,
                },
                M::CreateChannel {
                    peer: b,
                    label: Label::C1,
                    negotiated: true,
                    ordered: false,
                },
                M::Negotiate,
                M::Deliver { index: 1 },
                M::Duplicate { index: 0 },
                M::Deliver { index: 0 },
                M::Drop { index: 2 },
                M::FireTimer { peer: a, index: 1 },
                M::Settle,
                M::Advance { ms: 1500 },
                M::Settle,
                M::Send {
                    peer: b,
                    label: Label::C1,
                    guarded: true,
                    size: 9,
                    oversize: false,
                },
                M::Duplicate { index: 0 },
                M::Settle,
                M::Send {
                    peer: a,
                    label: Label::C1,
                    guarded: true,
                    size: 1,
                    oversize: true,
                },
            ],
            &["data_channel:open", "deliver", "send:guarded:rejected"],
        ),
        model_seed(
            "queue-full-and-expired",
            false,
            GuardPolicy {
                small_queue: true,
                ..POLICY
            },
            vec![
                create(a, Label::C0),
                send(a, true),
                send(a, true),
                send(a, true),
                send(a, true),
                M::Advance { ms: 31000 },
            ],
            &["drop:expired", "send:guarded:rejected"],
        ),
        guard_seed(
            "flush-on-open",
            vec![
                G::Send { size: 5 },
                G::Send { size: 6 },
                connected,
                ch_open,
                G::Send { size: 7 },
            ],
            &["queued", "transmit", "sent"],
        ),
        guard_seed(
            "transport-refusals",
            vec![
                ch_open,
                G::Transport(TransportMode::Refuse(RefusalInput::NotOpen)),
                G::Send { size: 5 },
                G::Send { size: 6 },
                G::Transport(TransportMode::Refuse(RefusalInput::BufferFull)),
                connecting,
                ch_open,
                G::Transport(TransportMode::Refuse(RefusalInput::TooLarge)),
                G::Writable,
                G::Transport(TransportMode::Accept),
                G::Writable,
                G::Transport(TransportMode::Refuse(RefusalInput::Closed)),
                G::Send { size: 8 },
            ],
            &[
                "refused:NotOpen",
                "refused:BufferFull",
                "refused:TooLarge",
                "refused:Closed",
                "dropped:channel-closed",
            ],
        ),
        guard_seed(
            "hold-then-path-failed",
            vec![
                ch_open,
                connected,
                disconnected,
                G::Send { size: 5 },
                checking,
                connected,
                disconnected,
                G::Send { size: 6 },
                failed,
                G::Send { size: 7 },
                checking,
                connected,
            ],
            &["transmit", "dropped:path-failed", "rejected:path-failed"],
        ),
        guard_seed(
            "bounds-and-ttl",
            vec![
                G::Send { size: 301 },
                G::Send { size: 300 },
                G::Send { size: 300 },
                G::Send { size: 300 },
                G::Send { size: 300 },
                G::Advance { ms: 200 },
                G::Send { size: 1 },
                G::Timeout,
                G::Send { size: 2 },
                G::PeerConnectionState(index(P::ALL, P::Closed)),
            ],
            &[
                "rejected:too-large",
                "rejected:queue-full",
                "dropped:expired",
                "dropped:channel-closed",
            ],
        ),
        sim_seed(
            "send-before-open-partitioned",
            9,
            false,
            &[(3, FaultAction::Partition), (400, FaultAction::Heal)],
        ),
        sim_seed(
            "cdf-w3c-lossy",
            0,
            true,
            &[
                (50, FaultAction::Loss(200)),
                (9000, FaultAction::IceRestart(false)),
            ],
        ),
        sim_seed(
            "ice-restart-hold",
            3,
            false,
            &[
                (100, FaultAction::Hold),
                (700, FaultAction::Release),
                (800, FaultAction::Latency(90)),
            ],
        ),
        sim_seed(
            "remote-close-crash",
            8,
            false,
            &[
                (200, FaultAction::CloseChannel(true)),
                (900, FaultAction::Crash(true)),
            ],
        ),
        sim_seed(
            "transient-close-peer",
            10,
            true,
            &[
                (20, FaultAction::Partition),
                (2500, FaultAction::ClosePeer(false)),
            ],
        ),
    ]
}

/// The index of a state in its `ALL` table (what the `GuardOp` state variants take).
fn index<T: PartialEq>(all: &[T], state: T) -> u8 {
    all.iter()
        .position(|s| *s == state)
        .expect("a state of the table") as u8
}

fn channel(state: dcsim::model::DataChannelState) -> GuardOp {
    GuardOp::ChannelState(index(dcsim::model::DataChannelState::ALL, state))
}

fn ice(state: dcsim::model::IceConnectionState) -> GuardOp {
    GuardOp::IceState(index(dcsim::model::IceConnectionState::ALL, state))
}

fn sim_seed(name: &'static str, scenario: u8, w3c: bool, faults: &[(u16, FaultAction)]) -> Seed {
    let data = SimFaultsInput {
        scenario,
        w3c,
        seed: 7,
        latency_ms: 15,
        loss_permille: 0,
        faults: faults
            .iter()
            .map(|&(at_ms, action)| FaultInput { at_ms, action })
            .collect(),
    }
    .to_fuzz_bytes();
    Seed {
        target: "sim_faults",
        name,
        data,
        reaches: &[],
    }
}

/// What a structured seed reaches, or its check's report.
fn reached(seed: &Seed) -> Result<BTreeSet<String>, String> {
    match seed.target {
        "model_inputs" => {
            let input: ModelInput = fuzzing::decode(&seed.data).ok_or("does not decode")?;
            model_inputs::run_model_inputs(&input, &Options::default())
        }
        "guard_ops" => {
            let input: GuardInput = fuzzing::decode(&seed.data).ok_or("does not decode")?;
            guard_ops::run_guard_ops(&input, &Options::default())
        }
        _ => {
            let input: SimFaultsInput = fuzzing::decode(&seed.data).ok_or("does not decode")?;
            sim_faults::run_sim_faults(&input).map(|()| BTreeSet::new())
        }
    }
}

/// The committed seeds are the inputs above, and each reaches what it is meant to.
#[test]
fn structured_seeds_are_committed_and_reach_their_milestones() {
    for seed in structured_seeds() {
        let path = fuzz_dir().join("corpus").join(seed.target).join(seed.name);
        let committed = std::fs::read(&path).unwrap_or_default();
        assert_eq!(
            committed,
            seed.data,
            "{} is not the seed of this file: run `cargo test --test fuzz_corpus -- --ignored regenerate`",
            path.display()
        );
        let reached = reached(&seed).unwrap_or_else(|e| panic!("{}: {e}", seed.name));
        for goal in seed.reaches {
            assert!(
                reached.contains(*goal),
                "{} does not reach {goal}: {reached:?}",
                seed.name
            );
        }
    }
}

/// Writes the structured seeds and the planted-bug inputs. By hand only:
/// `cargo test --test fuzz_corpus -- --ignored regenerate`.
#[test]
#[ignore]
fn regenerate_seed_corpus() {
    let write = |path: PathBuf, data: &[u8]| {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("create corpus dir");
        }
        std::fs::write(&path, data).expect("write corpus file");
        println!("{} ({} bytes)", path.display(), data.len());
    };
    for seed in structured_seeds() {
        write(
            fuzz_dir().join("corpus").join(seed.target).join(seed.name),
            &seed.data,
        );
    }
    for (target, data) in planted_inputs() {
        write(fuzz_dir().join("planted").join(target), &data);
    }
}
