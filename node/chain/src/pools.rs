//! The threads contracts run on: [`ExecPools`], one pool per kind of work, and
//! [`run_on`], which awaits a job on one of them from async code.

use strata_vm::{ExecPool, Priority};

use crate::ChainConfig;

/// The threads contracts run on (each with a stack for the worst-case transaction; see
/// `strata_vm::stack`), one pool per kind of work so that none can starve another:
/// RPC simulations can never delay block validation.
#[derive(Debug)]
pub struct ExecPools {
    /// Block production, validation, commit and sync: one thread, in order.
    pub block: ExecPool,
    /// Admission of transactions from clients and peers (signature recovery, fee quote).
    pub admission: ExecPool,
    /// RPC simulations, at [`Priority::Background`]: on a machine whose cores are all
    /// busy, they get what block production leaves.
    pub simulation: ExecPool,
}

impl ExecPools {
    /// Nothing queued or running on any pool (a job finished has woken its waiter).
    pub fn is_idle(&self) -> bool {
        self.block.is_idle() && self.admission.is_idle() && self.simulation.is_idle()
    }

    pub(crate) fn new(config: &ChainConfig, stack: usize) -> std::io::Result<Self> {
        Ok(Self {
            block: ExecPool::new("strata-block", 1, usize::MAX, stack)?,
            admission: ExecPool::new("strata-admit", 1, config.admission_queue, stack)?,
            simulation: ExecPool::with_priority(
                "strata-sim",
                config.simulation_workers,
                config.simulation_queue,
                stack,
                Priority::Background,
            )?,
        })
    }
}

/// Runs `f` on `pool` and awaits its result without blocking the async runtime; refused
/// with [`strata_vm::PoolError::Busy`] when the pool's queue is full. A panic in `f` is
/// resumed here.
pub async fn run_on<R: Send + 'static>(pool: &ExecPool, f: impl FnOnce() -> R + Send + 'static) -> Result<R, strata_vm::PoolError> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    pool.try_spawn(move || {
        let _ = tx.send(std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)));
    })?;
    match rx.await {
        Ok(Ok(r)) => Ok(r),
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        Err(_) => Err(strata_vm::PoolError::Closed),
    }
}
