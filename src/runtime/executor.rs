//! The single-threaded executor of the dcsim runtime: tasks are polled one at a time on
//! the calling thread, woken tasks in the order they were woken; when none is ready the
//! virtual clock moves to the next deadline (`Sim::advance`).

use super::Sim;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::task::{Context, Wake, Waker};

/// A spawned task's future.
pub(crate) type Task = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Most polls at one virtual instant before the run is called a livelock (a task that
/// wakes itself for ever would otherwise stop the clock).
pub const MAX_POLLS_PER_INSTANT: u64 = 5_000_000;

/// Tasks and the ready queue.
#[derive(Default)]
pub(crate) struct Executor {
    /// Task id -> its future (`None` while it is being polled or once it finished) and
    /// the state its handle reads.
    tasks: Vec<(Option<Task>, Arc<HandleState>)>,
    ready: VecDeque<usize>,
    queued: Vec<bool>,
    main_woken: bool,
}

impl Executor {
    fn schedule(&mut self, id: usize) {
        if let Some(q) = self.queued.get_mut(id) {
            if !*q {
                *q = true;
                self.ready.push_back(id);
            }
        }
    }

    /// Takes every task's future out (to be dropped outside the lock).
    pub(crate) fn take_all(&mut self) -> Vec<Task> {
        self.ready.clear();
        self.tasks
            .iter_mut()
            .filter_map(|(f, h)| {
                h.finished.store(true, Ordering::SeqCst);
                f.take()
            })
            .collect()
    }
}

/// What a [`SimJoinHandle`] reads and sets.
#[derive(Debug, Default)]
pub(crate) struct HandleState {
    aborted: AtomicBool,
    finished: AtomicBool,
}

/// The handle of a spawned task.
pub struct SimJoinHandle {
    sim: Weak<Sim>,
    id: usize,
    state: Arc<HandleState>,
}

impl webrtc::runtime::JoinHandle for SimJoinHandle {
    fn detach(&self) {}

    fn abort(&self) {
        self.state.aborted.store(true, Ordering::SeqCst);
        if let Some(sim) = self.sim.upgrade() {
            sim.lock().exec.schedule(self.id);
        }
    }

    fn is_finished(&self) -> bool {
        self.state.finished.load(Ordering::SeqCst)
    }
}

/// Puts a task on the ready queue.
pub(crate) fn spawn(sim: &Arc<Sim>, future: Task) -> SimJoinHandle {
    let state = Arc::new(HandleState::default());
    let mut st = sim.lock();
    let id = st.exec.tasks.len();
    st.exec.tasks.push((Some(future), Arc::clone(&state)));
    st.exec.queued.push(false);
    st.exec.schedule(id);
    SimJoinHandle {
        sim: Arc::downgrade(sim),
        id,
        state,
    }
}

struct TaskWaker {
    sim: Weak<Sim>,
    /// A task id, or `None` for the future `block_on` drives.
    id: Option<usize>,
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if let Some(sim) = self.sim.upgrade() {
            let mut st = sim.lock();
            match self.id {
                Some(id) => st.exec.schedule(id),
                None => st.exec.main_woken = true,
            }
        }
    }
}

/// Drives `main` and the spawned tasks until `main` completes (true) or nothing can make
/// progress any more (false).
pub(crate) fn run(sim: &Arc<Sim>, mut main: Pin<Box<dyn Future<Output = ()> + '_>>) -> bool {
    let main_waker = Waker::from(Arc::new(TaskWaker {
        sim: Arc::downgrade(sim),
        id: None,
    }));
    let mut wakers: Vec<Option<Waker>> = Vec::new();
    sim.lock().exec.main_woken = true;
    let mut polls_here: u64 = 0;
    loop {
        let poll_main = std::mem::take(&mut sim.lock().exec.main_woken);
        if poll_main {
            polls_here += 1;
            if main
                .as_mut()
                .poll(&mut Context::from_waker(&main_waker))
                .is_ready()
            {
                return true;
            }
        }
        let next = {
            let mut st = sim.lock();
            let mut found = None;
            while let Some(id) = st.exec.ready.pop_front() {
                st.exec.queued[id] = false;
                let (slot, state) = &mut st.exec.tasks[id];
                if let Some(future) = slot.take() {
                    found = Some((id, future, Arc::clone(state)));
                    break;
                }
            }
            found
        };
        match next {
            Some((id, mut future, state)) => {
                polls_here += 1;
                if state.aborted.load(Ordering::SeqCst) {
                    state.finished.store(true, Ordering::SeqCst);
                    drop(future);
                    continue;
                }
                if wakers.len() <= id {
                    wakers.resize(id + 1, None);
                }
                let waker = wakers[id].get_or_insert_with(|| {
                    Waker::from(Arc::new(TaskWaker {
                        sim: Arc::downgrade(sim),
                        id: Some(id),
                    }))
                });
                let done = future
                    .as_mut()
                    .poll(&mut Context::from_waker(waker))
                    .is_ready();
                if done {
                    state.finished.store(true, Ordering::SeqCst);
                    drop(future);
                } else {
                    sim.lock().exec.tasks[id].0 = Some(future);
                }
            }
            None => {
                if sim.lock().exec.main_woken {
                    continue;
                }
                if !sim.advance() {
                    return false;
                }
                polls_here = 0;
            }
        }
        if polls_here > MAX_POLLS_PER_INSTANT {
            return false;
        }
    }
}
