//! The open path of `Guard::send` allocates nothing: an application that sends on an
//! open channel pays a few comparisons for the guard, not a trip to the allocator.
//!
//! Its own test binary because it installs a counting global allocator.

use dcsim::guard::{Guard, GuardConfig, GuardOutput, Outcome, SizedMsg};
use dcsim::model::{DataChannelState, IceConnectionState};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Counting;

thread_local! {
    /// Allocations made on this thread while armed (other test threads do not count).
    static ALLOCS: Cell<Option<u64>> = const { Cell::new(None) };
}

fn note_alloc() {
    // `try_with`: the allocator may run while the thread-local is being torn down.
    let _ = ALLOCS.try_with(|a| {
        if let Some(n) = a.get() {
            a.set(Some(n + 1));
        }
    });
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_alloc();
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_alloc();
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_alloc();
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations_during(f: impl FnOnce()) -> u64 {
    ALLOCS.with(|a| a.set(Some(0)));
    f();
    ALLOCS.with(|a| a.replace(None)).unwrap_or(0)
}

#[test]
fn open_path_send_allocates_nothing() {
    let mut guard = Guard::new(GuardConfig::default());
    // Warm up through the queueing path first (allocates the queue), then open.
    let _ = guard.send(0, 0, SizedMsg { id: 0, size: 10 });
    guard.on_ice_state(1, IceConnectionState::Connected);
    guard.on_channel_state(2, DataChannelState::Open);
    while let Some(out) = guard.poll_output() {
        assert!(matches!(out, GuardOutput::Transmit { .. }));
    }
    // The counter itself must work.
    assert!(allocations_during(|| drop(std::hint::black_box(vec![1u8]))) > 0);

    let mut sent = 0;
    let n = allocations_during(|| {
        for id in 1..10_001 {
            match guard.send(3 + id, id, SizedMsg { id, size: 1_000 }) {
                Outcome::Send(msg) => sent += std::hint::black_box(msg).size,
                other => panic!("{other:?}"),
            }
            assert!(guard.poll_output().is_none());
        }
    });
    assert_eq!(n, 0, "allocations on the open path");
    assert_eq!(sent, 10_000 * 1_000);
}
