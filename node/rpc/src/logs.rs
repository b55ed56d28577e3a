//! Logs and filters: `eth_getLogs`, the polling filters (`eth_newFilter`,
//! `eth_newBlockFilter`, `eth_newPendingTransactionFilter`, `eth_getFilterChanges`,
//! `eth_getFilterLogs`, `eth_uninstallFilter`) and the matching used by the `logs`
//! subscription.
//!
//! The index is each header's `logsBloom`: a block whose bloom cannot contain the
//! filter's address and topics is skipped without reading its receipts (go-ethereum
//! does the same, block by block, before its bloombits). A query may span at most
//! [`MAX_LOG_RANGE`] blocks and return at most [`MAX_LOGS`] logs; beyond, the answer is
//! a clear error asking for a narrower range.
//!
//! The RPC methods over these are in `filter` (and `pubsub` for the subscription).

use std::{
    collections::{BTreeMap, VecDeque},
    time::{Duration, Instant},
};

use alloy_primitives::{BloomInput, U64};
use parking_lot::Mutex;
use serde::{Deserialize, Deserializer};
use strata_chain::Chain;
use strata_primitives::{Address, B256, Header, Log, SealedBlock};

use crate::{
    block_id::BlockIdReader,
    types::{BlockId, BlockTag, RpcLog},
};

/// Most blocks one log query may span.
pub const MAX_LOG_RANGE: u64 = 10_000;
/// Most logs one answer may carry.
pub const MAX_LOGS: usize = 10_000;
/// A filter nobody polled for this long is removed.
pub const FILTER_EXPIRY: Duration = Duration::from_secs(300);
/// Most filters alive at once (per node).
pub const MAX_FILTERS: usize = 1_000;
/// Most pending entries a filter buffers between polls.
const MAX_BUFFERED: usize = 10_000;

/// One value or a list (Ethereum filter fields accept both).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OneOrMany<T>(pub Vec<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either<T> {
            One(T),
            Many(Vec<T>),
        }
        Ok(match Option::<Either<T>>::deserialize(d)? {
            None => Self(Vec::new()),
            Some(Either::One(t)) => Self(vec![t]),
            Some(Either::Many(v)) => Self(v),
        })
    }
}

/// An Ethereum log filter.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LogFilter {
    /// First block (default latest).
    #[serde(default)]
    pub from_block: Option<BlockTag>,
    /// Last block (default latest).
    #[serde(default)]
    pub to_block: Option<BlockTag>,
    /// One block by hash (instead of a range).
    #[serde(default)]
    pub block_hash: Option<B256>,
    /// Emitting contracts (any of them; empty: any).
    #[serde(default)]
    pub address: OneOrMany<Address>,
    /// Per position: any of these topics (`null`/empty: any).
    #[serde(default)]
    pub topics: Vec<OneOrMany<B256>>,
}

impl LogFilter {
    /// Whether `log` matches.
    pub fn matches(&self, log: &Log) -> bool {
        if !self.address.0.is_empty() && !self.address.0.contains(&log.address) {
            return false;
        }
        let topics = log.topics();
        // As go-ethereum: a filter with k topic positions only matches logs with at least k topics.
        if self.topics.len() > topics.len() {
            return false;
        }
        self.topics.iter().enumerate().all(|(i, want)| want.0.is_empty() || want.0.contains(&topics[i]))
    }

    /// Whether a block with this header may hold a matching log (bloom test).
    pub fn may_match(&self, header: &Header) -> bool {
        let bloom = &header.logs_bloom;
        let addr_ok = self.address.0.is_empty() || self.address.0.iter().any(|a| bloom.contains_input(BloomInput::Raw(a.as_slice())));
        addr_ok
            && self
                .topics
                .iter()
                .all(|want| want.0.is_empty() || want.0.iter().any(|t| bloom.contains_input(BloomInput::Raw(t.as_slice()))))
    }
}

/// Why a log query is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogQueryError {
    /// The range is too wide.
    #[error("block range of {0} blocks exceeds the limit of {MAX_LOG_RANGE}: query a narrower range")]
    RangeTooWide(u64),
    /// Too many results.
    #[error("query returned more than {MAX_LOGS} logs: query a narrower range or add filters")]
    TooManyLogs,
    /// `fromBlock` after `toBlock`.
    #[error("fromBlock {0} is after toBlock {1}")]
    Inverted(u64, u64),
    /// Unknown block hash.
    #[error("unknown block {0}")]
    UnknownBlock(B256),
    /// The node failed.
    #[error("internal error: {0}")]
    Node(String),
}

/// The logs of `block` matching `filter`, with their positions.
pub fn block_logs(chain: &Chain, block: &SealedBlock, filter: &LogFilter, out: &mut Vec<RpcLog>) -> Result<(), LogQueryError> {
    if !filter.may_match(block.header()) {
        return Ok(());
    }
    let receipts = chain.store().receipts(block.number()).map_err(|e| LogQueryError::Node(e.to_string()))?.unwrap_or_default();
    let mut log_index = 0u64;
    for (i, (r, tx)) in receipts.iter().zip(&block.block.transactions).enumerate() {
        for log in &r.logs {
            if filter.matches(log) {
                if out.len() >= MAX_LOGS {
                    return Err(LogQueryError::TooManyLogs);
                }
                out.push(RpcLog::new(log, block.hash, block.number(), block.header().timestamp, tx.hash(), i as u64, log_index));
            }
            log_index = log_index.saturating_add(1);
        }
    }
    Ok(())
}

/// `eth_getLogs`.
pub fn get_logs(chain: &Chain, filter: &LogFilter) -> Result<Vec<RpcLog>, LogQueryError> {
    let mut out = Vec::new();
    if let Some(hash) = filter.block_hash {
        let n = chain
            .block_number_for_id(Some(BlockId::Hash(hash)))
            .map_err(|e| LogQueryError::Node(e.to_string()))?
            .ok_or(LogQueryError::UnknownBlock(hash))?;
        let block = chain.store().block(n).map_err(|e| LogQueryError::Node(e.to_string()))?.ok_or(LogQueryError::UnknownBlock(hash))?;
        block_logs(chain, &block, filter, &mut out)?;
        return Ok(out);
    }
    let head = chain.head().1.number;
    let (from, to) = (chain.block_number_for_tag(filter.from_block), chain.block_number_for_tag(filter.to_block));
    // The limit applies to the range asked for, not only to the blocks that exist yet.
    let span = to.saturating_sub(from).saturating_add(1);
    if to >= from && span > MAX_LOG_RANGE {
        return Err(LogQueryError::RangeTooWide(span));
    }
    logs_in_range(chain, filter, from.min(head.saturating_add(1)), to.min(head), &mut out)?;
    Ok(out)
}

fn logs_in_range(chain: &Chain, filter: &LogFilter, from: u64, to: u64, out: &mut Vec<RpcLog>) -> Result<(), LogQueryError> {
    if from > to {
        // An empty range at the head (from = head + 1) is a normal poll result.
        return if from > to.saturating_add(1) { Err(LogQueryError::Inverted(from, to)) } else { Ok(()) };
    }
    let span = to.saturating_sub(from).saturating_add(1);
    if span > MAX_LOG_RANGE {
        return Err(LogQueryError::RangeTooWide(span));
    }
    for n in from..=to {
        let Some(header) = chain.store().header(n).map_err(|e| LogQueryError::Node(e.to_string()))? else { continue };
        if !filter.may_match(&header) {
            continue;
        }
        if let Some(block) = chain.store().block(n).map_err(|e| LogQueryError::Node(e.to_string()))? {
            block_logs(chain, &block, filter, out)?;
        }
    }
    Ok(())
}

enum FilterKind {
    Logs { filter: LogFilter, next: u64 },
    Blocks { next: u64 },
    Pending { hashes: VecDeque<B256> },
}

struct Installed {
    kind: FilterKind,
    polled: Instant,
}

/// What `eth_getFilterChanges` returns.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(untagged)]
pub enum FilterChanges {
    /// New logs.
    Logs(Vec<RpcLog>),
    /// New block hashes, or new pending transaction hashes.
    Hashes(Vec<B256>),
}

/// The installed polling filters of one node.
#[derive(Default)]
pub struct Filters {
    next_id: Mutex<u64>,
    installed: Mutex<BTreeMap<u64, Installed>>,
}

impl Filters {
    fn install(&self, kind: FilterKind) -> Result<U64, LogQueryError> {
        let mut installed = self.installed.lock();
        let now = Instant::now();
        installed.retain(|_, f| now.duration_since(f.polled) < FILTER_EXPIRY);
        if installed.len() >= MAX_FILTERS {
            return Err(LogQueryError::Node(format!("too many filters installed (limit {MAX_FILTERS}); uninstall some")));
        }
        let mut next = self.next_id.lock();
        *next = next.wrapping_add(1);
        installed.insert(*next, Installed { kind, polled: now });
        Ok(U64::from(*next))
    }

    /// `eth_newFilter`.
    pub fn new_log_filter(&self, chain: &Chain, filter: LogFilter) -> Result<U64, LogQueryError> {
        // Changes start at `fromBlock` if it names a block, else with the next block.
        let next = match filter.from_block {
            None | Some(BlockTag::Latest | BlockTag::Pending) => chain.head().1.number.saturating_add(1),
            named => chain.block_number_for_tag(named),
        };
        self.install(FilterKind::Logs { filter, next })
    }

    /// `eth_newBlockFilter`.
    pub fn new_block_filter(&self, chain: &Chain) -> Result<U64, LogQueryError> {
        self.install(FilterKind::Blocks { next: chain.head().1.number.saturating_add(1) })
    }

    /// `eth_newPendingTransactionFilter`.
    pub fn new_pending_filter(&self) -> Result<U64, LogQueryError> {
        self.install(FilterKind::Pending { hashes: VecDeque::new() })
    }

    /// `eth_uninstallFilter`.
    pub fn uninstall(&self, id: U64) -> bool {
        self.installed.lock().remove(&id.to::<u64>()).is_some()
    }

    /// A transaction entered the pool: pending filters note it.
    pub fn on_pooled(&self, hash: B256) {
        for f in self.installed.lock().values_mut() {
            if let FilterKind::Pending { hashes } = &mut f.kind {
                if hashes.len() >= MAX_BUFFERED {
                    hashes.pop_front();
                }
                hashes.push_back(hash);
            }
        }
    }

    /// `eth_getFilterChanges`: what happened since the last poll. `None`: no such filter.
    pub fn changes(&self, chain: &Chain, id: U64) -> Result<Option<FilterChanges>, LogQueryError> {
        let mut installed = self.installed.lock();
        let Some(f) = installed.get_mut(&id.to::<u64>()) else { return Ok(None) };
        f.polled = Instant::now();
        let head = chain.head().1.number;
        Ok(Some(match &mut f.kind {
            FilterKind::Logs { filter, next } => {
                let mut out = Vec::new();
                let to = chain.block_number_for_tag(filter.to_block).min(head);
                let from = *next;
                // Poll at most the allowed range at a time; the rest comes next poll.
                let to = to.min(from.saturating_add(MAX_LOG_RANGE - 1));
                logs_in_range(chain, filter, from, to, &mut out)?;
                *next = to.saturating_add(1).max(from);
                FilterChanges::Logs(out)
            }
            FilterKind::Blocks { next } => {
                let mut out = Vec::new();
                for n in *next..=head {
                    if let Some(h) = chain.store().header(n).map_err(|e| LogQueryError::Node(e.to_string()))? {
                        out.push(h.hash_slow());
                    }
                }
                *next = head.saturating_add(1);
                FilterChanges::Hashes(out)
            }
            FilterKind::Pending { hashes } => FilterChanges::Hashes(hashes.drain(..).collect()),
        }))
    }

    /// `eth_getFilterLogs`: every log the (log) filter matches now. `None`: no such log filter.
    pub fn all_logs(&self, chain: &Chain, id: U64) -> Result<Option<Vec<RpcLog>>, LogQueryError> {
        let filter = {
            let mut installed = self.installed.lock();
            let Some(f) = installed.get_mut(&id.to::<u64>()) else { return Ok(None) };
            f.polled = Instant::now();
            match &f.kind {
                FilterKind::Logs { filter, .. } => filter.clone(),
                _ => return Ok(None),
            }
        };
        get_logs(chain, &filter).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_primitives::Bytes;

    #[test]
    fn filters_parse_like_clients_send_them_and_match_topics_by_position() {
        let f: LogFilter = serde_json::from_value(serde_json::json!({
            "fromBlock": "0x1",
            "address": "0x0000000000000000000000000000000000000042",
            "topics": [null, ["0x00000000000000000000000000000000000000000000000000000000000000aa", "0x00000000000000000000000000000000000000000000000000000000000000bb"]]
        }))
        .unwrap();
        assert_eq!(f.address.0.len(), 1);
        let log = |t: Vec<B256>| Log::new_unchecked(Address::with_last_byte(0x42), t, Bytes::new());
        assert!(f.matches(&log(vec![B256::ZERO, B256::with_last_byte(0xbb)])));
        assert!(!f.matches(&log(vec![B256::ZERO, B256::with_last_byte(0xcc)])));
        assert!(!f.matches(&log(vec![B256::ZERO])), "a missing topic never matches a constraint");
        let many: LogFilter = serde_json::from_value(
            serde_json::json!({"address": ["0x0000000000000000000000000000000000000001", "0x0000000000000000000000000000000000000042"]}),
        )
        .unwrap();
        assert!(many.matches(&log(vec![])));
        assert!(serde_json::from_value::<LogFilter>(serde_json::json!({"frmBlock": "0x1"})).is_err(), "typos are errors, not ignored");
    }
}
