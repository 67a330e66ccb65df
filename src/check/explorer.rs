//! The exhaustive bounded explorer: breadth-first search over every state of the untimed
//! [`World`] reachable in at most `max_depth` actions (by default: all of them, the
//! bounds of [`super::world::Bounds`] make the space finite), with a visited set,
//! checking every invariant on every step. Breadth first, so the first violation found
//! is a shortest counterexample; the order of actions and of the frontier is fixed, so
//! it is the same one on every run and with any number of threads.
//!
//! # Why a hand-written BFS and not `stateright`'s checker
//!
//! The world is also a [`stateright::Model`] ([`super::stateright_model`]); a test
//! checks that both count the same unique states and find the same counterexample. This
//! explorer is what `dcsim check` runs because, for this model:
//!
//! - it is 9 times faster: on the guarded world without timeouts (893 380 unique states,
//!   4 028 017 generated, release build, one thread) stateright 0.31's `spawn_bfs`
//!   takes 20.2 s and this explorer 2.3 s (`compare_with_stateright` in
//!   `tests/check_explorer.rs`, 2026-12-05). The difference is the interned state and
//!   its memoized step (`src/check/compact.rs`): a state is a few ids and a step is built
//!   from remembered transitions of its pieces, which a `Model::next_state` on full
//!   states cannot keep between calls without interior mutability and locks;
//! - `target_max_depth(d)` in stateright skips the property check of the states at
//!   depth `d`, so a depth bound there means something else than "every history of at
//!   most `d` actions", which is what `--depth` means here;
//! - stateright's discoveries come back as a `HashMap`, and with more than one thread
//!   which counterexample is found first is a race; here the report, counterexample
//!   included, is the same on every run and thread count.
//!
//! # Reductions (all exact: no behaviour of the bounded world is left out)
//!
//! - Equal states are visited once (the visited set), so interleavings that commute
//!   (deliveries to different peers, sends on different channels, whose message ids
//!   depend only on peer, channel and sequence number) are explored once.
//! - Sleep sets (`src/check/sleep.rs`): a successor that the search has already computed
//!   from an earlier state of the same level, by the same two commuting actions of
//!   different peers in the other order, is not computed again. This one changes
//!   neither the states nor the order in which they are found, only
//!   [`ExploreReport::visited`] ([`ExploreOptions::sleep_sets`]).
//! - A timer firing that the untimed model cannot observe (a retransmission of a packet
//!   still in flight, a timer with nothing to do) is not a step ([`World::step`]).
//! - Packets that their receiver will ignore for good are forgotten: to a closed peer,
//!   STUN of an older ICE generation, a SACK that acknowledges nothing outstanding, an
//!   SCTP packet other than a SACK to a peer whose SCTP transport is closed (terminal
//!   in the model, and such a peer drops them unchanged: tested), and a STUN response
//!   of the current generation to a `connected` peer that it changes nothing at, once no
//!   timeout is left (only checking and disconnected make a response matter, and
//!   neither can come back without a timeout or a new generation), and any packet to
//!   a peer whose ICE has failed once no ICE restart is left (a failed agent ignores
//!   everything, and only a restart leads out of `failed`: tested). Each rule says why
//!   in `Delta::dead` (step.rs). Forgetting a packet that can only be delivered
//!   unchanged, or dropped or duplicated for nothing but budget, merges the states
//!   that differ only in it and loses no behaviour.
//! - No channel symmetry reduction. A channel's state includes its SCTP stream id and
//!   the TSNs of its messages, and the association hands them out in label order, so
//!   swapping two channels' pieces does not give a reachable state; a sound reduction
//!   would have to rename stream ids and TSNs as well. Not done: the guarded world with
//!   one channel (the default) has nothing to permute.
//!
//! # The delayed SACK, fired at once (`delayed-sack=0`, the default; a named bound)
//!
//! A peer that takes in a lone DATA packet owes a SACK and arms
//! [`crate::model::Timer::SctpAck`] (RFC 4960 6.2); the next DATA packet, or the timer,
//! sends it. With `delayed-sack=1`
//! the firing is an action of its own, unbounded, that may come at any later moment:
//! every state with a SACK owed exists twice (owed, and sent), and the owed flag is
//! interleaved with everything else. The default fires it within the step that arms it.
//! That drops states (the peer's internal "SACK owed" flag is never seen set between
//! steps) but no history of events, in either direction:
//!
//! - every eager history is a delayed one: the delayed world may fire the timer as its
//!   very next action (untimed, any armed timer may fire at once), and nothing happens
//!   in between in the eager one;
//! - every delayed history has an eager one with the same events, step for step, from
//!   states that differ only in the owed flag, its timer, and extra SACKs in flight. The
//!   firing sends no event and nothing but a SACK of the peer's cumulative TSN, which has
//!   not moved since the SACK was owed (any DATA that moves it sends a SACK at once and
//!   clears the flag), so the eager world sent the same SACK earlier and the network may
//!   hold it until the delayed world's delivery. A second DATA packet, which in the
//!   delayed world sends one SACK for both, sends the same SACK in the eager world; the
//!   earlier SACK it sent for the first packet is acknowledged by it (SACKs are
//!   cumulative) and may simply never be delivered, which the network allows. A firing
//!   that sends nothing (association gone, pair not selected) is matched by not
//!   delivering the SACK the eager world sent. Every other action does the same to both.
//!
//! So the violations are the same. A test (`an_eager_sack_loses_no_observable_state`
//! in `tests/check_explorer.rs`) explores both worlds to the end on small bounds and
//! checks that they reach the same set of observable states (both applications and
//! their guards, the monitor, every state the peers report); the pinned counts include
//! one world with `delayed-sack=1`, and `--bounds delayed-sack=1` explores the full
//! model. Measured on the default world: 8.5 million states instead of more than 16
//! million (which the 16 M state limit cut at depth 37), with this reduction alone.
//!
//! # How the search is built
//!
//! - **States are ids.** A state is `Compact`, 48 bytes of ids into arenas of distinct
//!   pieces shared by all threads (`src/check/compact.rs`, `super::arena`): no
//!   reference counts, no pointers to chase, and a step is a few table lookups keyed
//!   by ids (the local transition, the update of the packets in flight to each peer it
//!   touched, the monitor) that are exact, since equal ids mean equal values. The
//!   network is two pieces, the packets in flight to each peer, since whether a packet
//!   is dead depends only on its receiver: a step that leaves one peer's side alone
//!   does not look it up at all. Each table is filed by the id of the piece its steps
//!   start from (`super::memo`), so that the steps of one state read the same few
//!   cache lines.
//! - **The frontier keeps no more than it must.** A waiting state is `Packed`: the
//!   seven piece ids and one id for its small counters and sleep set, 32 bytes. Its node id is its
//!   place in the level, and its parent and action are in the parent links, 5 bytes a state. A
//!   level waits in batches, each freed (for the next level to reuse) once expanded,
//!   so the level being expanded and the one being built together take about the
//!   memory of the larger one. (Rebuilding each state from its parent by its action,
//!   instead of keeping it, would not save more: the parent is a state of the level
//!   before, which would have to be kept instead.)
//! - **The visited set is fingerprints.** 64-bit fingerprints in flat ordered tables
//!   (`super::visited`), one probe per lookup, kept 58 % to 87.5 % full. The slots of
//!   a group of successors are prefetched before any of them is inserted, so that
//!   their cache misses overlap and each insert finds its slot in the cache. A small
//!   table of the fingerprints met lately (`super::visited::Recent`, 32 KiB, in the
//!   CPU's caches) drops most successors met a moment before without a lookup.
//! - **Levels are expanded in batches.** `BATCH_STATES` frontier states at a time,
//!   so the successors waiting to be deduplicated take a bounded amount of memory
//!   however wide a level is.
//! - **Threads.** Each batch is split into parts that the threads expand with their
//!   own step tables, each dropping the successors already in the visited set (which
//!   only dedup changes, after them) or met earlier in its own part; then each thread
//!   inserts the remaining candidates of the visited-set shards it owns (`SHARDS`
//!   shards by fingerprint, so the inserts need no lock); then the threads put the
//!   new states back in frontier and action order, from each part's record of its
//!   candidates' shards (no sort). Node ids, parents, the next frontier and the first
//!   violation are those of the sequential search, so the report does not depend on
//!   the thread count (a test runs 1, 2 and 3 threads).
//!
//! # Measured (default `dcsim check --app guarded`, release build)
//!
//! 6 208 345 unique states (31 779 313 generated), exhausted at depth 43, on a shared
//! 2-core Xeon, 2026-12-05, run alternately with the earlier explorer (full states of
//! reference-counted pieces):
//!
//! | explorer | 1 thread | peak RSS |
//! |---|---|---|
//! | full states (before) | 42.2 s, 44.5 s | 0.93 GB, 1.52 GB with a larger network cache |
//! | interned states, first version | 23.2 s | 0.69 GB |
//! | + flat fingerprint set, FxHash tables, 65 536-entry network table | 22.6 s, 23.5 s | 0.46 GB |
//! | + successor written in place (a store-forwarding stall on the return) | 18.6 s, 18.7 s | 0.46 GB |
//! | + visited lookups in batches of 32 | 17.2 s, 17.7 s | 0.46 GB |
//! | + levels in batches, sharded visited set | 16.6 s to 20 s (noisy) | 0.32 GB |
//! | + a network table of 4 096 entries (was 65 536) | 13.0 s, 14.0 s | 0.32 GB |
//! | + a successor's fingerprint reuses its parent's piece fingerprints (2026-12-06, alternating: 0 to 5 %, within the noise of a shared machine) | 13.0 to 13.8 s, against 13.7 to 14.2 s | 0.33 GB |
//! | + a packed frontier freed batch by batch, 5-byte parent links, an ordered fingerprint table kept 58 % to 87.5 % full (2026-12-06, alternating, a slower hour of the machine) | 15.4 s, 15.0 s, against 16.6 s, 16.5 s | 0.24 GB (was 0.34 GB) |
//! | + the network as the packets in flight to each peer, step tables filed by piece id, counters hashed as three words, groups inserted in place, dedup without a sort and its reorder in parallel (2026-12-06, alternating with the explorer of the row above, another 2-core Xeon) | 6.26 to 6.44 s, against 11.7 to 12.2 s (2 threads: 3.82 to 4.02 s, against 6.76 to 6.98 s) | 0.22 GB |
//! | + the visited slots fetched by a plain load, not a whole lookup (alternating, a third 2-core Xeon, slower: the row above took 9.1 to 9.4 s there, and the one before it 13.4 to 14.0 s) | 8.17 to 8.36 s, against 8.55 to 8.75 s (2 threads: 5.26 to 5.40 s, against 5.48 to 5.57 s) | 0.22 GB |
//! | + sleep sets: 7.96 M of the 31.8 M successors not computed (2026-12-06, the same binary with and without `--no-sleep-sets`, alternating; a slower hour of the third machine) | 7.19, 7.88, 8.17 s, against 7.80, 8.52, 8.68 s (2 threads: 5.19, 5.41, 5.71 s, against 5.47, 5.80, 6.11 s); `--sends 2 --threads 2` to the end 161 s against 181 s | 0.23 GB |
//! | + threads drop the successors already visited before dedup, a table of the fingerprints met lately, the visited slots prefetched, dedup's runs not copied into one list (2026-12-06, alternating with the row above) | 8.69, 8.53 s, against 9.24, 8.97 s (2 threads: 6.23, 6.29 s, against 6.58, 6.71 s); `--sends 2 --threads 2` to the end 184 s against 209 s | 0.23 GB |
//!
//! With the faster monitor and timers of the fuzzing work on top, `scripts/bench.sh`
//! measured 13.3 s with one thread and 8.5 s with two; with the rows above, 8.1 s and
//! 5.4 s on the third machine (2026-12-06; the same counts). About 0.76 M unique states
//! (3.9 M generated) per second per core there, 0.96 to 0.99 M on the faster second
//! machine: the 1 M unique states per second per core that docs/performance.md aims at
//! is about reached on a fast core only. Where the time goes now (`perf`): cache misses
//! in the step's tables (the large per-piece hash tables of the packets in flight above
//! all) and in the visited set; the model's own code is a few per cent.
//!
//! # Memory
//!
//! Per unique state: a 64-bit fingerprint in the visited set (58 % to 87.5 % full: 9 to
//! 14 bytes) and a parent link (5 bytes) for the counterexample path; per state of the
//! wider of the current and the next BFS level, a `Packed` state (32 bytes); plus the
//! arenas of distinct pieces (small: about 8 100 peers, 450 applications, 5 400
//! monitors and 3 100 sets of packets in flight to one peer for the default world;
//! 28 000 peers, 29 000 monitors and 19 000 such sets for `--sends 2`) and each
//! thread's bounded step tables (2^21 buckets each).
//! Measured (2026-12-06): 0.22 GB peak RSS for the default run (0.34 GB before the
//! packed frontier); the `--sends 2` world explored to the end (154.2 M states, depth
//! 48, 2 threads) at 3.99 to 4.20 GB peak, 3.72 to 3.91 GiB, about 26 bytes a state
//! (5.80 GB before the packed frontier). Of the peak, about 0.3 GB is memory the
//! allocator keeps after it is freed (the same run with glibc's
//! `MALLOC_MMAP_THRESHOLD_=65536` peaks 0.3 to 0.4 GB lower at 40 M states).
//! The fingerprint is 64 bits of [`super::part::FpHasher`] over the pieces'
//! fingerprints, which depend only on their values (not on which thread met a piece
//! first); the chance that two of `n` distinct states collide, which would prune one of
//! them, is about `n² / 2⁶⁵` (10⁻⁶ for the default run), and the report prints it
//! ([`ExploreReport::collision_probability`]).

use super::app::WorldApp;
use super::compact::{Compact, CounterIds, Packed, Pieces, Stepper};
use super::sleep::{Moves, Sleep};
use super::visited::{Fingerprints, Recent};
use super::world::{Action, Violation, World};
use crate::trace::Trace;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The default [`ExploreOptions::max_states`]: about 4 GB at the 26 bytes a state
/// measured on the `--sends 2` world (a wide level's frontier included), so that the
/// bounded worlds the documentation names run to the end with the defaults (`--sends
/// 2`: 154 M states) and a run too large for the machine stops and says so (`dcsim
/// check --max-states` changes it).
pub const DEFAULT_MAX_STATES: u64 = 160_000_000;

/// How far and how to explore.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExploreOptions {
    /// Longest history explored, in actions.
    pub max_depth: usize,
    /// Worker threads that expand each BFS level (1 = no threads). The result does not
    /// depend on it.
    pub threads: usize,
    /// Stop before a level once this many unique states are known (a guard for the
    /// memory of a shared machine; the report says so).
    pub max_states: u64,
    /// Skip the successors that the search would only meet again (sleep sets, see
    /// docs/checker.md): the same report, states visited aside, in less time. Off
    /// computes them all.
    pub sleep_sets: bool,
}

impl Default for ExploreOptions {
    fn default() -> Self {
        ExploreOptions {
            max_depth: super::run::MAX_DEPTH,
            threads: 1,
            max_states: DEFAULT_MAX_STATES,
            sleep_sets: true,
        }
    }
}

/// Progress after one BFS level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    /// Depth just completed.
    pub depth: usize,
    /// Unique states so far.
    pub unique: u64,
    /// States generated so far (successors computed, duplicates included).
    pub visited: u64,
    /// States waiting at the next level.
    pub frontier: usize,
}

/// A shortest history that violates an invariant.
#[derive(Clone, Debug)]
pub struct Counterexample {
    /// The actions from the initial state.
    pub actions: Vec<Action>,
    /// The invariant violated at the last action.
    pub violation: Violation,
    /// The replayed history as a trace (time column = step number).
    pub trace: Trace,
}

/// What an exploration found.
#[derive(Clone, Debug)]
pub struct ExploreReport {
    /// States generated: every successor computed (a firing the untimed model cannot
    /// observe is not one), duplicates included, plus the initial state. stateright's
    /// `state_count`.
    pub visited: u64,
    /// Successors not computed: their actions were asleep ([`ExploreOptions::sleep_sets`];
    /// each would have been a state met before). `visited + skipped` is what the search
    /// generates without sleep sets.
    pub skipped: u64,
    /// Distinct states.
    pub unique: u64,
    /// Deepest level reached (number of actions of the longest history explored).
    pub depth: usize,
    /// True if no new state was left at `depth`: the whole bounded state space was
    /// explored (the depth bound did not cut anything).
    pub exhausted: bool,
    /// The exploration stopped at [`ExploreOptions::max_states`].
    pub state_limit_hit: bool,
    /// Wall time.
    pub elapsed: Duration,
    /// The shortest counterexample, if an invariant was violated.
    pub counterexample: Option<Counterexample>,
    /// The process's peak resident memory when the exploration ended, in bytes (Linux's
    /// `VmHWM`; `None` elsewhere). It covers everything the process did before, so it
    /// is the checker's own figure when the process is `dcsim check`.
    pub peak_memory: Option<u64>,
}

impl ExploreReport {
    /// Unique states per second of wall time.
    pub fn states_per_second(&self) -> f64 {
        self.unique as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// An upper bound on the chance that two distinct states of this run had the same
    /// 64-bit fingerprint, so that the later one was taken for visited and not explored:
    /// `n² / 2⁶⁵` for `n` unique states (the birthday bound; TLC prints the same
    /// estimate).
    pub fn collision_probability(&self) -> f64 {
        let n = self.unique as f64;
        (n * n / 2f64.powi(65)).min(1.0)
    }

    /// Generated states per second of wall time.
    pub fn visited_per_second(&self) -> f64 {
        self.visited as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

pub use super::part::fingerprint;

/// A successor not visited at an earlier level: the state, its fingerprint, its
/// parent's node, the index of the action in the parent's action list, the
/// violation its step found, and the successors it will skip ([`super::sleep`]).
type Candidate = (Compact, u64, u32, u32, Option<Arc<Violation>>, Sleep);

/// The visited set is split by fingerprint into this many shards, each its own table,
/// so that the threads can insert into them at once (each thread owns some shards). The
/// split does not depend on the number of threads, nor does anything the report says.
const SHARDS: usize = 16;

/// Frontier states expanded before their successors are merged: bounds the memory of
/// the successors waiting to be deduplicated, whatever the width of a level.
const BATCH_STATES: usize = 1 << 15;

/// Successors looked up in the visited set together (see [`insert_new`]).
const LOOKUPS: usize = 32;

/// The shard of a fingerprint (its top bits; a table's slot comes from its low bits).
fn shard(fp: u64) -> usize {
    (fp >> 60) as usize % SHARDS
}

/// The visited set: fingerprints of every state met, by [`shard`].
struct Visited {
    shards: Vec<Fingerprints>,
}

impl Visited {
    fn new() -> Self {
        Visited {
            shards: (0..SHARDS).map(|_| Fingerprints::default()).collect(),
        }
    }

    fn prefetch(&self, fp: u64) {
        self.shards[shard(fp)].prefetch(fp)
    }

    fn insert(&mut self, fp: u64) -> bool {
        self.shards[shard(fp)].insert(fp)
    }

    fn contains(&self, fp: u64) -> bool {
        self.shards[shard(fp)].contains(fp)
    }
}

/// The parent link of every unique state, by node id, for the counterexample path: the
/// parent's node and the index of the action in the parent's action list. Five bytes a
/// state (an index past 254 goes to a side table), where a pair of `u32`s took eight:
/// the links of the `--sends 2` world's 154 million states are 0.77 GB.
struct Links {
    parents: Vec<u32>,
    actions: Vec<u8>,
    /// The action indices that do not fit a byte (their byte is `u8::MAX`).
    wide: BTreeMap<u32, u32>,
}

impl Links {
    /// The root alone (its own parent).
    fn new() -> Self {
        Links {
            parents: vec![0],
            actions: vec![0],
            wide: BTreeMap::new(),
        }
    }

    /// Adds the next node; returns its id.
    fn push(&mut self, parent: u32, action: u32) -> u32 {
        let node = u32::try_from(self.parents.len()).expect("fewer than 2^32 unique states");
        self.parents.push(parent);
        match u8::try_from(action) {
            Ok(a) if a < u8::MAX => self.actions.push(a),
            _ => {
                self.actions.push(u8::MAX);
                self.wide.insert(node, action);
            }
        }
        node
    }

    /// The parent and action index of `node`.
    fn get(&self, node: u32) -> (u32, u32) {
        let i = node as usize;
        let action = match self.actions[i] {
            u8::MAX => self.wide[&node],
            a => u32::from(a),
        };
        (self.parents[i], action)
    }

    fn len(&self) -> usize {
        self.parents.len()
    }
}

/// Explores `world` breadth first. `progress` is called after every level.
///
/// Each level is expanded a batch of `BATCH_STATES` frontier states at a time, in
/// three phases: the threads compute the successors of parts of the batch and split
/// them by visited-set shard; then each thread inserts into the shards of the
/// visited set it owns the candidates of those shards, in frontier and action order,
/// keeping the first of equal states; then the kept successors are put back in that
/// order. So the next frontier, the parent of each state and the first violation are
/// those of a sequential search, with any number of threads.
pub fn explore<A: WorldApp>(
    world: &World<A>,
    options: &ExploreOptions,
    progress: impl FnMut(Progress),
) -> ExploreReport {
    let sleep = if options.sleep_sets {
        Sleeping::Skip
    } else {
        Sleeping::Off
    };
    explore_with(world, options, sleep, progress)
}

/// What the search does with the actions a state's sleep set names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Sleeping {
    /// No sleep sets: every successor is computed.
    Off,
    /// Skip them.
    Skip,
    /// Compute their successors anyway and panic unless each is a state already met (a
    /// test of the reduction; one thread only).
    Check,
}

/// The parent of a successor [`Sleeping::Check`] computes only to check it.
const ASLEEP: u32 = u32::MAX;

/// [`explore`], with sleep sets as `sleep` says.
pub(crate) fn explore_with<A: WorldApp>(
    world: &World<A>,
    options: &ExploreOptions,
    sleep: Sleeping,
    mut progress: impl FnMut(Progress),
) -> ExploreReport {
    assert!(
        sleep != Sleeping::Check || options.threads <= 1,
        "sleep sets are checked with one thread"
    );
    let started = Instant::now();
    let init = world.init();
    let pieces = Pieces::default();
    let root = pieces.compress(&init);
    let mut visited = Visited::new();
    visited.insert(pieces.fingerprint(&root, init.violation().is_some()));
    let mut nodes = Links::new();
    let mut report = ExploreReport {
        visited: 1,
        skipped: 0,
        unique: 1,
        depth: 0,
        exhausted: false,
        state_limit_hit: false,
        elapsed: Duration::ZERO,
        counterexample: None,
        peak_memory: None,
    };
    if let Some(v) = init.violation() {
        report.counterexample = Some(counterexample(world, &nodes, 0, v.clone()));
        report.elapsed = started.elapsed();
        return report;
    }
    // A level's states in node order: the first is node `first`.
    let mut counters = CounterIds::default();
    let mut frontier = Frontier::default();
    frontier.push(counters.pack(&root, Sleep::NONE), &mut Vec::new());
    let mut first: u32 = 0;
    // Emptied batches of the level being expanded, for the next level to fill; and the
    // new states of a batch. Both are kept, not freed and allocated again, since the
    // allocator does not always give freed memory back (at 40 M states of `--sends 2`:
    // 1.83 GB peak with this reuse, 1.88 GB without).
    let mut spare: Vec<Vec<Packed>> = Vec::new();
    let mut kept: Vec<Vec<Candidate>> = Vec::new();
    let mut steppers: Vec<Stepper> = (0..options.threads.max(1))
        .map(|_| Stepper::default())
        .collect();
    while report.depth < options.max_depth && !frontier.is_empty() {
        if report.unique >= options.max_states {
            report.state_limit_hit = true;
            break;
        }
        let mut next = Frontier::default();
        let mut found = None;
        let mut base = first;
        // Each batch is dropped once expanded, so the level being expanded and the next
        // one together take about the memory of the larger of them.
        for mut batch in frontier.take() {
            let level = Level {
                states: &batch,
                first: base,
                counters: &counters,
            };
            base += batch.len() as u32;
            let (generated, skipped, parts) =
                expand(world, &pieces, level, sleep, &mut visited, &mut steppers);
            batch.clear();
            spare.push(batch);
            report.visited += generated;
            report.skipped += skipped;
            if found.is_some() {
                // Past the first violation the level is finished only to count the
                // states generated, as a sequential search counts them.
                continue;
            }
            dedup(parts, &mut visited, steppers.len(), &mut kept);
            for (state, _, parent, action, violation, sleep) in kept.drain(..).flatten() {
                let node = nodes.push(parent, action);
                if let Some(v) = violation {
                    found = Some((node, (*v).clone()));
                    break;
                }
                next.push(counters.pack(&state, sleep), &mut spare);
            }
        }
        first = (nodes.len() - next.len()) as u32;
        spare.clear();
        report.depth += 1;
        report.unique = nodes.len() as u64;
        frontier = next;
        progress(Progress {
            depth: report.depth,
            unique: report.unique,
            visited: report.visited,
            frontier: frontier.len(),
        });
        if let Some((node, v)) = found {
            report.counterexample = Some(counterexample(world, &nodes, node, v));
            break;
        }
    }
    report.exhausted =
        report.counterexample.is_none() && frontier.is_empty() && !report.state_limit_hit;
    report.elapsed = started.elapsed();
    report.peak_memory = peak_memory();
    report
}

/// The process's peak resident set size (`VmHWM` in `/proc/self/status`), on Linux.
fn peak_memory() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// A BFS level's states in node order, packed, in batches of [`BATCH_STATES`].
#[derive(Default)]
struct Frontier {
    /// Never an empty batch: each starts with a state.
    batches: Vec<Vec<Packed>>,
}

impl Frontier {
    /// Adds `state`, starting a batch when the last one is full (one from `spare` if
    /// there is one).
    fn push(&mut self, state: Packed, spare: &mut Vec<Vec<Packed>>) {
        match self.batches.last_mut() {
            Some(last) if last.len() < BATCH_STATES => last.push(state),
            _ => {
                let mut batch = spare
                    .pop()
                    .unwrap_or_else(|| Vec::with_capacity(BATCH_STATES));
                batch.push(state);
                self.batches.push(batch);
            }
        }
    }

    fn len(&self) -> usize {
        self.batches.iter().map(Vec::len).sum()
    }

    fn is_empty(&self) -> bool {
        self.batches.is_empty()
    }

    /// The batches, in order, leaving this frontier empty.
    fn take(&mut self) -> std::vec::IntoIter<Vec<Packed>> {
        std::mem::take(&mut self.batches).into_iter()
    }
}

/// Consecutive states of a BFS level, packed, the first being node `first`.
#[derive(Clone, Copy)]
struct Level<'a> {
    states: &'a [Packed],
    first: u32,
    counters: &'a CounterIds,
}

/// The candidates of one part of a batch, by shard, each list in frontier and action
/// order.
struct Part {
    /// One list with one thread, one per shard with more.
    lists: Vec<Vec<Candidate>>,
    /// With more than one thread: the shard of each candidate, in frontier and action
    /// order (so that [`dedup`] puts them back in that order without sorting).
    order: Vec<u8>,
}

/// Computes the successors of a batch of frontier states, by part (in frontier order)
/// and shard. Returns how many successors were generated. Each thread has its own
/// [`Stepper`], kept from batch to batch; the pieces are shared.
///
/// With one thread the successors are inserted into `visited` as they come (that is
/// the sequential order) and only the new ones are kept; with more, each thread drops
/// those already in `visited` (which no thread changes meanwhile) or met earlier in its
/// own part, and [`dedup`] inserts the others. A successor dropped that way is one
/// [`dedup`] would find not new.
fn expand<A: WorldApp>(
    world: &World<A>,
    pieces: &Pieces<A>,
    batch: Level<'_>,
    sleeping: Sleeping,
    visited: &mut Visited,
    steppers: &mut [Stepper],
) -> (u64, u64, Vec<Part>) {
    let steppers_len = steppers.len();
    let work = |stepper: &mut Stepper,
                part: Level<'_>,
                keep: &mut dyn FnMut(&mut Vec<Candidate>, &mut Part)| {
        // One list when one thread dedups (nothing to split), one per shard otherwise.
        let lists = if steppers_len == 1 { 1 } else { SHARDS };
        let mut out = Part {
            lists: (0..lists).map(|_| Vec::new()).collect(),
            order: Vec::new(),
        };
        let (mut generated, mut skipped) = (0, 0);
        let mut actions = Vec::new();
        let mut pending: Vec<Candidate> = Vec::with_capacity(LOOKUPS + 64);
        let mut moves = Moves::default();
        let bounds = &world.config().bounds;
        let channels = bounds.channels;
        for (node, packed) in (part.first..).zip(part.states) {
            let state = &part.counters.unpack(packed);
            pieces.actions(world, state, &mut actions);
            let fps = pieces.piece_fps(state);
            let mut sleep = part.counters.sleep(packed).reader(channels);
            let start = pending.len();
            moves.clear();
            // What decides which packets are dead here, for the moves' cleanliness.
            let mut left_here = None;
            for (i, a) in actions.iter().enumerate() {
                if sleeping != Sleeping::Off && sleep.asleep(a) {
                    moves.record_asleep(a);
                    skipped += 1;
                    if sleeping == Sleeping::Check {
                        let mut next = *state;
                        if let Some(v) = stepper.step(world, pieces, state, a, &mut next) {
                            let fp = pieces.fingerprint_from(&next, v.is_some(), &fps, state);
                            pending.push((next, fp, ASLEEP, i as u32, v, Sleep::NONE));
                        }
                    }
                    continue;
                }
                let mut next = *state;
                let Some(violation) = stepper.step(world, pieces, state, a, &mut next) else {
                    moves.skip(a);
                    continue;
                };
                generated += 1;
                if sleeping != Sleeping::Off {
                    if violation.is_none() {
                        // A move that changed which packets are dead (by spending the
                        // last timeout or closing `a`'s peer connection) could make a
                        // packet to the other peer vanish: it is put to sleep by
                        // others but puts none of them to sleep.
                        moves.record_taken(
                            a,
                            stepper.last_sent(),
                            pending.len() - start,
                            stepper.last_judged(),
                            || {
                                let here =
                                    *left_here.get_or_insert_with(|| pieces.left(bounds, state));
                                pieces.left(bounds, &next) == here
                            },
                        );
                    } else {
                        moves.skip(a);
                    }
                }
                let fp = pieces.fingerprint_from(&next, violation.is_some(), &fps, state);
                pending.push((next, fp, node, i as u32, violation, Sleep::NONE));
            }
            if sleeping == Sleeping::Off {
                if pending.len() >= LOOKUPS {
                    keep(&mut pending, &mut out);
                }
                continue;
            }
            let mine = &pending[start..];
            let sleeps = moves.sleep_of(
                channels,
                |sent| pieces.sent_packets(sent),
                |peer, input| stepper.sent_on(world, pieces, state, peer, input),
                |c, to| {
                    let net = mine[c].0.net_to(to);
                    (net != state.net_to(to)).then(|| pieces.in_flight_to(&mine[c].0, to))
                },
            );
            for &(c, s) in sleeps {
                pending[start + c].5 = s;
            }
            if pending.len() >= LOOKUPS {
                keep(&mut pending, &mut out);
            }
        }
        keep(&mut pending, &mut out);
        (generated, skipped, out)
    };
    let threads = steppers.len();
    if threads == 1 {
        let mut recent = Recent::default();
        let mut keep = |pending: &mut Vec<Candidate>, out: &mut Part| {
            if sleeping != Sleeping::Check {
                pending.retain(|c| !recent.check(c.1));
            }
            insert_new(pending, visited, &mut out.lists[0]);
        };
        let (generated, skipped, part) = work(&mut steppers[0], batch, &mut keep);
        return (generated, skipped, vec![part]);
    }
    // While the threads expand, the visited set is only read: each drops the successors
    // met at an earlier level or batch, and those met earlier in its own part, so that
    // only the others go to `dedup` (which would find them not new).
    let seen: &Visited = visited;
    let unseen = |recent: &mut Recent, pending: &mut Vec<Candidate>, out: &mut Part| {
        pending.retain(|c| !recent.check(c.1));
        for c in pending.iter() {
            seen.prefetch(c.1);
        }
        pending.retain(|c| !seen.contains(c.1));
        by_shard(pending, out);
    };
    if batch.states.len() < 64 {
        let mut recent = Recent::default();
        let mut keep = |p: &mut Vec<Candidate>, o: &mut Part| unseen(&mut recent, p, o);
        let (generated, skipped, part) = work(&mut steppers[0], batch, &mut keep);
        return (generated, skipped, vec![part]);
    }
    let size = batch.states.len().div_ceil(threads * 4);
    let parts: Vec<Level<'_>> = batch
        .states
        .chunks(size)
        .enumerate()
        .map(|(k, states)| Level {
            states,
            first: batch.first + (k * size) as u32,
            counters: batch.counters,
        })
        .collect();
    let next_part = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<(u64, u64, Part)>>> =
        Mutex::new((0..parts.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for stepper in steppers.iter_mut() {
            let (parts, next_part, results, work) = (&parts, &next_part, &results, &work);
            scope.spawn(move || {
                let mut recent = Recent::default();
                loop {
                    let i = next_part.fetch_add(1, Ordering::Relaxed);
                    let Some(part) = parts.get(i) else { break };
                    recent.clear();
                    let mut keep = |p: &mut Vec<Candidate>, o: &mut Part| unseen(&mut recent, p, o);
                    let out = work(stepper, *part, &mut keep);
                    if let Ok(mut slots) = results.lock() {
                        slots[i] = Some(out);
                    }
                }
            });
        }
    });
    let (mut generated, mut skipped) = (0, 0);
    let mut out = Vec::new();
    let slots = results.into_inner().unwrap_or_else(|e| e.into_inner());
    for (g, k, part) in slots.into_iter().flatten() {
        generated += g;
        skipped += k;
        out.push(part);
    }
    (generated, skipped, out)
}

/// Moves the candidates in `pending` to their shard's list in `out`, in order. They
/// are not looked up in the visited set here: [`dedup`] does it when it inserts them,
/// each insert right after its lookup (measured on the default world with two threads,
/// alternating: 5.57 to 5.61 s, against 6.02 to 6.18 s with a lookup here first, which
/// made a second miss for every new state).
fn by_shard(pending: &mut Vec<Candidate>, out: &mut Part) {
    for c in pending.drain(..) {
        let k = shard(c.1);
        out.order.push(k as u8);
        out.lists[k].push(c);
    }
}

/// A shard's table and the parts' candidates of that shard, in part order.
type ShardWork<'a> = (usize, &'a mut Fingerprints, Vec<Vec<Candidate>>);

/// The parts' candidates of one shard, each with whether it is new.
type Judged = (usize, Vec<(Vec<Candidate>, Vec<bool>)>);

/// Inserts the candidates of a batch into the visited set and puts the new ones in `all`
/// (a buffer kept from batch to batch), in frontier and action order (a sequential
/// search's order) as runs, one after another, that are not copied into one list: each
/// of `threads` threads owns some shards and keeps, in each, the first of equal
/// candidates.
fn dedup(parts: Vec<Part>, visited: &mut Visited, threads: usize, all: &mut Vec<Vec<Candidate>>) {
    all.clear();
    if threads == 1 {
        // One list a part, in order, inserted by `expand`.
        all.extend(parts.into_iter().flat_map(|p| p.lists));
        return;
    }
    let mut by_shard: Vec<Vec<Vec<Candidate>>> = (0..SHARDS).map(|_| Vec::new()).collect();
    let mut orders = Vec::with_capacity(parts.len());
    for part in parts {
        for (k, list) in part.lists.into_iter().enumerate() {
            by_shard[k].push(list);
        }
        orders.push(part.order);
    }
    let keep = |(k, table, lists): ShardWork<'_>| -> Judged {
        let judged = lists
            .into_iter()
            .map(|list| {
                let new = insert_flags(&list, table);
                (list, new)
            })
            .collect();
        (k, judged)
    };
    let total: usize = by_shard.iter().flatten().map(Vec::len).sum();
    let work: Vec<ShardWork<'_>> = visited
        .shards
        .iter_mut()
        .zip(by_shard)
        .enumerate()
        .map(|(k, (table, lists))| (k, table, lists))
        .collect();
    let mut kept: Vec<Judged> = if total < 4096 {
        work.into_iter().map(keep).collect()
    } else {
        // Thread t owns the shards k with k % threads == t.
        let mut owned: Vec<Vec<ShardWork<'_>>> = (0..threads).map(|_| Vec::new()).collect();
        for w in work {
            let t = w.0 % threads;
            owned[t].push(w);
        }
        on_threads(owned, |mine| mine.into_iter().map(keep).collect::<Vec<_>>())
            .into_iter()
            .flatten()
            .collect()
    };
    // Back in sequential order (frontier, then action), which each part's `order`
    // gives shard by shard; the threads rebuild a run of parts each.
    kept.sort_unstable_by_key(|j| j.0);
    let mut per_part: Vec<Vec<(Vec<Candidate>, Vec<bool>)>> =
        orders.iter().map(|_| Vec::with_capacity(SHARDS)).collect();
    for (_, parts) in kept {
        for (p, judged) in parts.into_iter().enumerate() {
            per_part[p].push(judged);
        }
    }
    let jobs: Vec<PartJob> = orders.into_iter().zip(per_part).collect();
    if total < 4096 {
        let mut out = Vec::new();
        jobs.into_iter().for_each(|job| rebuild(job, &mut out));
        all.push(out);
        return;
    }
    let size = jobs.len().div_ceil(threads);
    let mut jobs = jobs.into_iter();
    let runs: Vec<Vec<PartJob>> = (0..threads)
        .map(|_| jobs.by_ref().take(size).collect())
        .collect();
    let rebuilt = on_threads(runs, |run| {
        let mut out = Vec::new();
        run.into_iter().for_each(|job| rebuild(job, &mut out));
        out
    });
    all.extend(rebuilt);
}

/// `work` on each of `runs`, each on a thread of its own; the results in the order of
/// `runs` (a thread's panic is raised again here).
fn on_threads<T: Send, R: Send>(runs: Vec<T>, work: impl Fn(T) -> R + Sync) -> Vec<R> {
    let work = &work;
    std::thread::scope(|scope| {
        let handles: Vec<_> = runs
            .into_iter()
            .map(|run| scope.spawn(move || work(run)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

/// One part's record of its candidates' shards, and each shard's candidates of the
/// part with whether each is new.
type PartJob = (Vec<u8>, Vec<(Vec<Candidate>, Vec<bool>)>);

/// Appends the new candidates of a part to `out`, in the order of its record.
fn rebuild((order, lists): PartJob, out: &mut Vec<Candidate>) {
    let mut lists: Vec<_> = lists
        .into_iter()
        .map(|(list, new)| list.into_iter().zip(new))
        .collect();
    for k in order {
        if let Some((c, true)) = lists[usize::from(k)].next() {
            out.push(c);
        }
    }
}

/// Inserts the fingerprints of `list` into `set` in order: whether each was new. Each
/// slot is fetched [`LOOKUPS`] candidates ahead of its insert, so that the fetches miss
/// the caches together instead of one insert at a time.
fn insert_flags(list: &[Candidate], set: &mut Fingerprints) -> Vec<bool> {
    for c in list.iter().take(LOOKUPS) {
        set.prefetch(c.1);
    }
    let mut new = Vec::with_capacity(list.len());
    for (i, c) in list.iter().enumerate() {
        if let Some(ahead) = list.get(i + LOOKUPS) {
            set.prefetch(ahead.1);
        }
        new.push(set.insert(c.1));
    }
    new
}

/// Inserts the candidates in `pending` into `visited` in order and moves the new ones
/// to `out`. Their slots are all fetched before any is inserted: the fetches miss the
/// CPU caches together, and the inserts then find their slots in the cache.
///
/// A successor computed only to check a sleep set ([`Sleeping::Check`]) must be a
/// state already met: it panics otherwise, and is not kept.
fn insert_new(pending: &mut Vec<Candidate>, visited: &mut Visited, out: &mut Vec<Candidate>) {
    for c in pending.iter() {
        visited.prefetch(c.1);
    }
    out.extend(pending.drain(..).filter(|c| {
        let new = visited.insert(c.1);
        assert!(
            !(new && c.2 == ASLEEP),
            "an action asleep by the sleep sets led to a state not met before"
        );
        new && c.2 != ASLEEP
    }));
}

/// Rebuilds the action path to `node` and replays it into a trace.
fn counterexample<A: WorldApp>(
    world: &World<A>,
    nodes: &Links,
    node: u32,
    violation: Violation,
) -> Counterexample {
    let mut indices = Vec::new();
    let mut at = node;
    while at != 0 {
        let (parent, action) = nodes.get(at);
        indices.push(action);
        at = parent;
    }
    indices.reverse();
    let actions = actions_of_path(world, &indices);
    let (trace, _) = world.replay(&actions);
    Counterexample {
        actions,
        violation,
        trace,
    }
}

/// The actions of a path given as indices into each state's action list (replayed with
/// the uncached step, which must agree with the cached one).
fn actions_of_path<A: WorldApp>(world: &World<A>, indices: &[u32]) -> Vec<Action> {
    let mut s = world.init();
    let mut out = Vec::new();
    let mut actions = Vec::new();
    for &i in indices {
        world.actions(&s, &mut actions);
        let Some(a) = actions.get(i as usize).cloned() else {
            break;
        };
        let Some(next) = world.step(&s, &a) else {
            break;
        };
        s = next;
        out.push(a);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parent_links_keep_every_action_index() {
        let mut links = Links::new();
        let actions = [0, 1, 254, 255, 256, 300, 70_000, u32::MAX];
        let nodes: Vec<u32> = actions
            .iter()
            .enumerate()
            .map(|(i, &a)| links.push(i as u32, a))
            .collect();
        assert_eq!(nodes, (1..=actions.len() as u32).collect::<Vec<_>>());
        for (i, (&node, &a)) in nodes.iter().zip(&actions).enumerate() {
            assert_eq!(links.get(node), (i as u32, a));
        }
        assert_eq!(links.get(0), (0, 0), "the root is its own parent");
        assert_eq!(
            links.wide.len(),
            5,
            "only the indices past 254 are on the side"
        );
    }

    /// Every successor the sleep sets skip is a state met before (checked by computing
    /// it), and the report with sleep sets is the report without them but for the
    /// states visited: on small worlds of every profile and application, with each
    /// budget that adds actions, explored to the end or to a violation.
    #[test]
    fn sleep_sets_skip_only_states_met_before() {
        use super::super::app::AppKind;
        use super::super::world::WorldConfig;
        use crate::model::Profile;
        let quiet = "timeouts=0,retransmits=0,drops=0,duplications=0,channel-closes=0,\
                     peer-closes=0,ice-restarts=0";
        use Profile as P;
        // (profile, application, channels, sends per channel, other bounds)
        let cases = [
            (P::WEBRTC_RS, AppKind::Raw, 1, 0, ""),
            (P::WEBRTC_RS, AppKind::Raw, 1, 1, ""),
            (P::WEBRTC_RS, AppKind::Guarded, 1, 1, ""),
            (P::WEBRTC_RS, AppKind::Guarded, 1, 2, ""),
            (P::WEBRTC_RS, AppKind::Guarded, 2, 1, ""),
            (P::WEBRTC_RS, AppKind::Guarded, 1, 1, "delayed-sack=1"),
            (P::WEBRTC_RS, AppKind::Guarded, 1, 1, "channel-closes=1"),
            (P::W3C, AppKind::Guarded, 1, 1, "peer-closes=1"),
            (P::WEBRTC_RS, AppKind::Guarded, 1, 1, "peer-closes=1"),
            (P::AIORTC, AppKind::Guarded, 1, 1, "timeouts=1"),
            (P::WEBRTC_RS, AppKind::Guarded, 1, 1, "drops=1"),
            (P::WEBRTC_RS, AppKind::Guarded, 1, 1, "duplications=1"),
            (P::WEBRTC_RS, AppKind::Guarded, 1, 1, "retransmits=1"),
            (P::W3C, AppKind::Raw, 1, 0, "ice-restarts=1,timeouts=1"),
            (P::WEBRTC_RS, AppKind::Guarded, 1, 1, "ice-restarts=1"),
            (
                P::WEBRTC_RS,
                AppKind::Guarded,
                1,
                1,
                "peer-closes=1,channel-closes=1",
            ),
            (P::W3C, AppKind::Guarded, 1, 1, "timeouts=1,peer-closes=1"),
            (
                P::WEBRTC_RS,
                AppKind::Guarded,
                1,
                1,
                "peer-closes=2,channel-closes=2",
            ),
            (
                P::WEBRTC_RS,
                AppKind::Raw,
                2,
                1,
                "copies=2,channel-closes=2",
            ),
        ];
        for (profile, app, channels, sends, extra) in cases {
            let mut config = WorldConfig::new(profile, app);
            config.bounds.channels = channels;
            config.bounds.sends_per_channel = sends;
            config.bounds.apply(quiet).unwrap();
            config.bounds.apply(extra).unwrap();
            let world = World::new(config).unwrap();
            let options = ExploreOptions::default();
            let off = explore_with(&world, &options, Sleeping::Off, |_| {});
            let skip = explore_with(&world, &options, Sleeping::Skip, |_| {});
            let check = explore_with(&world, &options, Sleeping::Check, |_| {});
            let case = format!(
                "{} {} {channels} {sends} {extra}",
                profile.name,
                app.as_str()
            );
            for r in [&skip, &check] {
                assert_eq!(
                    (r.unique, r.depth, r.exhausted),
                    (off.unique, off.depth, off.exhausted),
                    "{case}"
                );
                assert_eq!(r.visited + r.skipped, off.visited, "{case}");
                assert_eq!(
                    r.counterexample
                        .as_ref()
                        .map(|c| (&c.actions, &c.violation)),
                    off.counterexample
                        .as_ref()
                        .map(|c| (&c.actions, &c.violation)),
                    "{case}"
                );
            }
            assert_eq!(off.skipped, 0);
            assert!(
                skip.skipped > 0 || off.unique < 100,
                "{case}: nothing skipped in {} states",
                off.unique
            );
        }
    }

    /// [`sleep_sets_skip_only_states_met_before`] on the default world of `dcsim
    /// check` (6.2 M states): about 10 s in a release build, so not in the default run
    /// (`cargo test --release --lib sleep_sets_on_the_default_world -- --ignored`).
    #[test]
    #[ignore]
    fn sleep_sets_on_the_default_world() {
        use super::super::app::AppKind;
        use super::super::world::WorldConfig;
        let config = WorldConfig::new(crate::model::Profile::WEBRTC_RS, AppKind::Guarded);
        let world = World::new(config).unwrap();
        let check = explore_with(&world, &ExploreOptions::default(), Sleeping::Check, |_| {});
        assert_eq!((check.unique, check.depth), (6_208_345, 43));
        assert_eq!(check.visited + check.skipped, 31_779_313);
    }

    #[test]
    fn a_frontier_fills_its_batches_in_order_and_reuses_spare_ones() {
        let world = World::new(super::super::world::WorldConfig::new(
            crate::model::Profile::WEBRTC_RS,
            super::super::app::AppKind::Guarded,
        ))
        .unwrap();
        let pieces = Pieces::default();
        let root = pieces.compress(&world.init());
        let mut counters = CounterIds::default();
        let packed = counters.pack(&root, Sleep::NONE);
        assert_eq!(counters.unpack(&packed), root);
        let mut spare = vec![Vec::with_capacity(BATCH_STATES)];
        let mut frontier = Frontier::default();
        for _ in 0..BATCH_STATES + 3 {
            frontier.push(packed, &mut spare);
        }
        assert!(spare.is_empty(), "the spare batch was used first");
        assert_eq!(frontier.len(), BATCH_STATES + 3);
        let batches: Vec<usize> = frontier.take().map(|b| b.len()).collect();
        assert_eq!(batches, [BATCH_STATES, 3]);
        assert!(frontier.is_empty());
    }
}
