//! The date a validator stamps blocks with, apart from the driver: the machine's clock
//! for running nodes, tokio's (virtual, pausable) clock for deterministic tests.

use tokio::time::Instant;

/// The date the driver stamps blocks with. Its timers (block time, view changes, sync)
/// run on tokio's clock, which a test pauses and moves on; a test gives the driver a
/// [`RuntimeClock`] so that timestamps follow that clock too.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Seconds since the Unix epoch.
    fn unix_secs(&self) -> u64;
}

/// The machine's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn unix_secs(&self) -> u64 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
    }
}

/// Tokio's clock, counted from a given date: virtual, so deterministic, on a runtime
/// whose time is paused.
#[derive(Debug, Clone, Copy)]
pub struct RuntimeClock {
    start_unix: u64,
    start: Instant,
}

impl RuntimeClock {
    /// Reads `start_unix` now, and from here on as much later as tokio's clock says.
    pub fn new(start_unix: u64) -> Self {
        Self { start_unix, start: Instant::now() }
    }
}

impl Clock for RuntimeClock {
    fn unix_secs(&self) -> u64 {
        self.start_unix.saturating_add(self.start.elapsed().as_secs())
    }
}
