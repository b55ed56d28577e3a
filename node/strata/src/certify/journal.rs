//! The pool journal's writer: certifications queued while the previous write ran go
//! into the next one (one synced write, one fsync, for many of them). A group of
//! certificates held here only (nobody waits to sign) is written without the fsync:
//! see [`Chain::journal_held`].

use std::sync::Arc;

use strata_chain::{Certified, Chain};
use tokio::sync::{mpsc, oneshot};

/// A journal entry to write: signed here (the waiter is told once it is durable, and
/// only then is the claim signed), or a transaction now held as certified.
pub(super) type JournalJob = (Certified, Option<oneshot::Sender<Result<(), String>>>);

/// Writes queued journal entries in groups, then tells each waiter.
pub(super) async fn journal_writer(chain: Arc<Chain>, mut queue: mpsc::UnboundedReceiver<JournalJob>) {
    while let Some(first) = queue.recv().await {
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
