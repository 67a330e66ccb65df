//! The fuzz corpora, replayed by `cargo test`: every committed seed
//! (`fuzz/corpus/<target>/`) and crash reproduction (`fuzz/regressions/<target>/`) goes
//! through the same check function as `cargo fuzz run <target>`, so a bug the fuzzer
//! once found stays fixed on stable, without cargo-fuzz.
//!
//! Also here: the harness catches the planted bug (a guard that skips its state check) on
//! a known input, and a short seeded random-bytes run of every target.

use dcsim::fuzzing::{self, Options, TARGETS};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
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

/// The planted-bug input: a guarded send on a channel that is not open yet (the
/// issue-4 race). The real guard queues it; the planted guard releases it and both
/// harnesses must say so.
#[test]
fn the_harness_catches_the_planted_bug() {
    for target in ["model_inputs", "guard_ops"] {
        let path = fuzz_dir().join("planted").join(target);
        let data = std::fs::read(&path).expect("read planted-bug input");
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
            "model_inputs" => "no-send-on-non-open",
            _ => "forbid",
        };
        assert!(err.contains(expected), "{target}: {err}");
    }
}

/// Seeded random bytes through every target: cheap insurance that `cargo test` alone
/// exercises each check beyond the committed seeds.
#[test]
fn random_bytes_pass_every_check() {
    let mut rng = SmallRng::seed_from_u64(6);
    for (target, check) in TARGETS {
        let runs = if target == "sim_faults" { 8 } else { 300 };
        for _ in 0..runs {
            let len = rng.gen_range(0..512);
            let data: Vec<u8> = (0..len).map(|_| rng.gen()).collect();
            if let Err(e) = check(&data) {
                panic!("{target} on {data:?}:\n{e}");
            }
        }
    }
}
