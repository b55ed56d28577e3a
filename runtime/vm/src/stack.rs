//! Native stack for contract execution, and the threads that have enough of it.
//!
//! Every call frame runs in a fresh wasmtime `Store`, so each nested frame gets its
//! own Wasm stack budget ([`Limits::max_wasm_stack`]), measured from where that frame
//! entered Wasm: only Wasm frames count against it, which keeps "stack overflow" a
//! deterministic outcome (the host's own frames between two Wasm frames differ
//! between builds, so they must not count). The price is that a transaction at the
//! call-depth limit needs `(max_call_depth + 1) × (max_wasm_stack + host frames)` of
//! native stack — tens of MiB, far more than a tokio worker's 2 MiB.
//!
//! So contracts only ever run on threads whose stack is sized for that worst case:
//! - [`ExecPool`] threads (the node runs block building, validation, admission and
//!   RPC simulations on pools of them);
//! - anything else that calls [`crate::Vm::execute`] is moved, for the duration of the
//!   top-level frame, to a scoped thread of the right size ([`on_vm_stack`]).
//!
//! And as a last line of defence, before every frame the engine checks the stack left
//! on its thread; if a frame could not fit (which the sizing above rules out), the
//! frame ends with a node error — the block is not produced — never with a crash.

use std::{
    cell::Cell,
    sync::{Arc, mpsc},
    thread::JoinHandle,
};

use parking_lot::{Condvar, Mutex};

use crate::limits::Limits;

/// Native stack reserved per frame for the host code between two Wasm frames (the
/// nested-call host function, the executor's frame bookkeeping, wasmtime's entry
/// trampolines and instantiation), beyond the frame's Wasm stack. Measured at about
/// 9 KiB per frame through the engine alone (the test
/// `a_deep_chain_of_frames_each_near_its_stack_limit_cannot_crash_the_node` prints it)
/// and at most a few tens of KiB through the executor in debug builds; 256 KiB leaves a
/// wide margin.
pub const HOST_STACK_PER_FRAME: usize = 256 * 1024;

/// Native stack for the code around the top-level frame (block building, the
/// executor's transaction bookkeeping, RPC handlers).
pub const BASE_STACK: usize = 2 * 1024 * 1024;

/// The native stack a thread needs to run any transaction under `limits`.
pub fn required_stack(limits: &Limits) -> usize {
    let frames = (limits.max_call_depth as usize).saturating_add(1);
    frames.saturating_mul(limits.max_wasm_stack.saturating_add(HOST_STACK_PER_FRAME)).saturating_add(BASE_STACK)
}

/// The stack of a thread made by this module: the address its entry frame is at and
/// its size.
#[derive(Debug, Clone, Copy)]
struct Bounds {
    top: usize,
    size: usize,
}

thread_local! {
    static BOUNDS: Cell<Option<Bounds>> = const { Cell::new(None) };
}

/// An address on the current stack (the stack grows down on every target we run on).
#[inline(never)]
fn stack_pointer() -> usize {
    let marker = 0u8;
    std::hint::black_box(&marker) as *const u8 as usize
}

/// Runs `f` as the body of a thread whose stack is `size` bytes, marking it.
fn enter<R>(size: usize, f: impl FnOnce() -> R) -> R {
    BOUNDS.with(|b| b.set(Some(Bounds { top: stack_pointer(), size })));
    let result = f();
    BOUNDS.with(|b| b.set(None));
    result
}

/// Native stack left on this thread, if it is one of this module's (None otherwise).
pub fn remaining() -> Option<usize> {
    let bounds = BOUNDS.with(Cell::get)?;
    let used = bounds.top.saturating_sub(stack_pointer());
    Some(bounds.size.saturating_sub(used))
}

/// Runs `f` on a thread with at least `stack` bytes of native stack: here, if this
/// thread is one of this module's with that much left, otherwise on a new scoped
/// thread of that size (a panic in `f` is resumed here).
pub fn on_vm_stack<R: Send>(stack: usize, f: impl FnOnce() -> R + Send) -> R {
    if remaining().is_some_and(|left| left >= stack) {
        return f();
    }
    std::thread::scope(|s| {
        let handle = std::thread::Builder::new()
            .name("strata-vm".into())
            .stack_size(stack)
            .spawn_scoped(s, move || enter(stack, f))
            .expect("the OS refused a thread for contract execution");
        match handle.join() {
            Ok(r) => r,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

/// Why [`ExecPool::try_run`] did not take a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PoolError {
    /// Every worker is busy and the queue is full.
    #[error("busy: {queued} jobs already wait for {workers} workers")]
    Busy {
        /// Jobs waiting.
        queued: usize,
        /// Workers.
        workers: usize,
    },
    /// The pool was shut down.
    #[error("the execution pool is shut down")]
    Closed,
}

type Job = Box<dyn FnOnce() + Send + 'static>;

struct Queue {
    jobs: std::collections::VecDeque<Job>,
    closed: bool,
}

struct Shared {
    queue: Mutex<Queue>,
    ready: Condvar,
    capacity: usize,
    workers: usize,
    done: std::sync::atomic::AtomicU64,
    refused: std::sync::atomic::AtomicU64,
    /// Jobs taken from the queue and not finished (changed under the queue's lock when
    /// a job is taken, so "queue empty and none running" is never seen mid-hand-over).
    running: std::sync::atomic::AtomicUsize,
}

/// A fixed set of threads with a stack for the worst-case transaction, fed by a bounded
/// queue: what the node runs contracts on. Jobs run in submission order.
pub struct ExecPool {
    name: String,
    shared: Arc<Shared>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl std::fmt::Debug for ExecPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecPool").field("name", &self.name).field("workers", &self.shared.workers).finish_non_exhaustive()
    }
}

/// The scheduling priority of a pool's threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Priority {
    /// The process's own priority: block production, validation, admission.
    #[default]
    Normal,
    /// Lower than the rest of the node (nice +10 on Linux, about a tenth of a normal
    /// thread's share of a busy core): work on behalf of clients (RPC simulations) that
    /// must never take the CPU from block production, however many clients queue it.
    Background,
}

/// Lowers the calling thread's priority (Linux: the nice value is per thread).
#[cfg(target_os = "linux")]
fn lower_this_threads_priority() {
    // SAFETY: setpriority only reads its integer arguments; `who = 0` with
    // PRIO_PROCESS is the calling thread on Linux.
    #[allow(unsafe_code)]
    let rc = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, BACKGROUND_NICE) };
    if rc != 0 {
        tracing::warn!(error = %std::io::Error::last_os_error(), "could not lower an execution thread's priority");
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_this_threads_priority() {}

/// The nice value of [`Priority::Background`] threads.
pub const BACKGROUND_NICE: i32 = 10;

impl ExecPool {
    /// `workers` threads (at least one) named `name-N`, each with `stack` bytes of
    /// stack (see [`required_stack`]), taking at most `capacity` waiting jobs.
    pub fn new(name: &str, workers: usize, capacity: usize, stack: usize) -> std::io::Result<Self> {
        Self::with_priority(name, workers, capacity, stack, Priority::Normal)
    }

    /// As [`ExecPool::new`], with the threads' scheduling priority.
    pub fn with_priority(name: &str, workers: usize, capacity: usize, stack: usize, priority: Priority) -> std::io::Result<Self> {
        let workers = workers.max(1);
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue { jobs: Default::default(), closed: false }),
            ready: Condvar::new(),
            capacity,
            workers,
            done: Default::default(),
            refused: Default::default(),
            running: Default::default(),
        });
        let mut threads = Vec::with_capacity(workers);
        for i in 0..workers {
            let shared = shared.clone();
            let handle = std::thread::Builder::new().name(format!("{name}-{i}")).stack_size(stack).spawn(move || {
                if priority == Priority::Background {
                    lower_this_threads_priority();
                }
                enter(stack, || {
                    loop {
                        let job = {
                            let mut q = shared.queue.lock();
                            loop {
                                if let Some(job) = q.jobs.pop_front() {
                                    shared.running.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                                    break job;
                                }
                                if q.closed {
                                    return;
                                }
                                shared.ready.wait(&mut q);
                            }
                        };
                        // A panicking job must not take the worker with it.
                        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(job)).is_err() {
                            tracing::error!("a job on an execution thread panicked");
                        }
                        shared.done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        shared.running.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                    }
                })
            })?;
            threads.push(handle);
        }
        Ok(Self { name: name.to_string(), shared, threads: Mutex::new(threads) })
    }

    /// Number of worker threads.
    pub fn workers(&self) -> usize {
        self.shared.workers
    }

    /// Most jobs that may wait for a worker.
    pub fn capacity(&self) -> usize {
        self.shared.capacity
    }

    /// Jobs run to completion and jobs refused because the queue was full, so far.
    pub fn counts(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        (self.shared.done.load(Relaxed), self.shared.refused.load(Relaxed))
    }

    /// Jobs waiting for a worker.
    pub fn queued(&self) -> usize {
        self.shared.queue.lock().jobs.len()
    }

    /// No job waiting and none running: what a test driving a paused clock waits for
    /// before it moves time on.
    pub fn is_idle(&self) -> bool {
        let q = self.shared.queue.lock();
        q.jobs.is_empty() && self.shared.running.load(std::sync::atomic::Ordering::SeqCst) == 0
    }

    /// Queues `job`, or refuses it when the queue is full.
    pub fn try_spawn(&self, job: impl FnOnce() + Send + 'static) -> Result<(), PoolError> {
        let mut q = self.shared.queue.lock();
        if q.closed {
            return Err(PoolError::Closed);
        }
        if q.jobs.len() >= self.shared.capacity {
            self.shared.refused.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return Err(PoolError::Busy { queued: q.jobs.len(), workers: self.shared.workers });
        }
        q.jobs.push_back(Box::new(job));
        drop(q);
        self.shared.ready.notify_one();
        Ok(())
    }

    /// Runs `f` on the pool and waits for its result (blocking this thread), or
    /// refuses when the queue is full. A panic in `f` is resumed here.
    pub fn try_run<R: Send + 'static>(&self, f: impl FnOnce() -> R + Send + 'static) -> Result<R, PoolError> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.try_spawn(move || {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
            let _ = tx.send(r);
        })?;
        match rx.recv() {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(panic)) => std::panic::resume_unwind(panic),
            Err(_) => Err(PoolError::Closed),
        }
    }

    /// Stops taking jobs; workers finish what is queued and exit.
    pub fn shutdown(&self) {
        self.shared.queue.lock().closed = true;
        self.shared.ready.notify_all();
        for t in self.threads.lock().drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for ExecPool {
    fn drop(&mut self) {
        self.shared.queue.lock().closed = true;
        self.shared.ready.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worst_case_is_tens_of_mib() {
        let need = required_stack(&Limits::default());
        assert!(need > 32 << 20 && need < 128 << 20, "{need}");
    }

    #[test]
    fn pool_threads_know_their_stack_and_others_do_not() {
        assert_eq!(remaining(), None, "a test thread is not an execution thread");
        let pool = ExecPool::new("t", 1, 4, 8 << 20).unwrap();
        let left = pool.try_run(remaining).unwrap().unwrap();
        assert!(left > 7 << 20 && left <= 8 << 20, "{left}");
        let hopped = on_vm_stack(4 << 20, remaining).unwrap();
        assert!(hopped > 3 << 20, "{hopped}");
        pool.shutdown();
        assert_eq!(pool.try_spawn(|| {}), Err(PoolError::Closed));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn background_pools_run_below_the_nodes_priority() {
        #[allow(unsafe_code)]
        let nice = || unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) };
        let base = nice();
        let normal = ExecPool::new("n", 1, 1, 1 << 20).unwrap();
        let background = ExecPool::with_priority("b", 1, 1, 1 << 20, Priority::Background).unwrap();
        assert_eq!(normal.try_run(nice).unwrap(), base);
        assert_eq!(background.try_run(nice).unwrap(), (base + BACKGROUND_NICE).min(19));
        assert_eq!(nice(), base, "the caller's priority is untouched");
    }

    #[test]
    fn a_full_queue_refuses_and_a_panic_does_not_kill_the_worker() {
        let pool = ExecPool::new("t", 1, 1, 1 << 20).unwrap();
        let (hold, release) = mpsc::channel::<()>();
        pool.try_spawn(move || {
            let _ = release.recv();
        })
        .unwrap();
        // The worker may not have taken the first job yet: fill the queue until refused.
        let mut refused = false;
        for _ in 0..3 {
            if let Err(PoolError::Busy { .. }) = pool.try_spawn(|| {}) {
                refused = true;
            }
        }
        assert!(refused);
        drop(hold);
        while pool.queued() > 0 {
            std::thread::yield_now();
        }
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| pool.try_run(|| panic!("boom"))));
        assert!(r.is_err(), "the panic reaches the caller");
        assert_eq!(pool.try_run(|| 7).unwrap(), 7, "the worker survived");
    }
}
