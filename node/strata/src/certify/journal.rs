//! The pool journal's writer: certifications queued while the previous write ran go
//! into the next one (one synced write, one fsync, for many of them). A group of
//! certificates held here only (nobody waits to sign) is written without the fsync:
//! see [`Chain::journal_held`].
//!
//! Under load (the previous synced write ended less than [`BUSY`] ago) a synced write
//! also waits [`GROUP_WINDOW`] for the batches arriving meanwhile — every validator
//! journals every receiving validator's batches, each on its own schedule — so that
//! they share its fsync: the fsyncs were a sixth of what certification costs a
//! validator's CPU, and a couple of milliseconds is little beside a certificate's tens.
//! A lone certification waits for nothing.

use std::{sync::Arc, time::Duration};

use strata_chain::{Certified, Chain};
use tokio::{
    sync::{mpsc, oneshot},
    time::Instant,
};

/// How long a synced write under load waits for more entries to share its fsync.
pub(super) const GROUP_WINDOW: Duration = Duration::from_millis(2);

/// A synced write that starts within this of the previous one's end is under load.
pub(super) const BUSY: Duration = Duration::from_millis(10);

/// A journal entry to write: signed here (the waiter is told once it is durable, and
/// only then is the claim signed), or a transaction now held as certified.
pub(super) type JournalJob = (Certified, Option<oneshot::Sender<Result<(), String>>>);

/// Writes queued journal entries in groups, then tells each waiter.
pub(super) async fn journal_writer(chain: Arc<Chain>, mut queue: mpsc::UnboundedReceiver<JournalJob>) {
    let mut last_synced: Option<Instant> = None;
    while let Some(first) = queue.recv().await {
        if first.1.is_some() && last_synced.is_some_and(|at| at.elapsed() < BUSY) {
            tokio::time::sleep(GROUP_WINDOW).await;
        }
        let mut group = vec![first];
        while group.len() < 4096 {
            match queue.try_recv() {
                Ok(next) => group.push(next),
                Err(_) => break,
            }
        }
        let entries: Vec<Certified> = group.iter().map(|(e, _)| e.clone()).collect();
        let signing = group.iter().any(|(_, waiter)| waiter.is_some());
        let c = chain.clone();
        let write = move || if signing { c.journal(&entries) } else { c.journal_held(&entries) };
        let outcome = match tokio::task::spawn_blocking(write).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        if signing {
            last_synced = Some(Instant::now());
        }
        if let Err(e) = &outcome {
            tracing::error!(error = %e, entries = group.len(), "pool journal write failed: nothing signed");
        }
        for (_, waiter) in group {
            if let Some(waiter) = waiter {
                let _ = waiter.send(outcome.clone());
            }
        }
    }
}
