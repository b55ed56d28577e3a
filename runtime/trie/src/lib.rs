//! Ethereum's hexary Merkle-Patricia trie over a hash-addressed node store.
//!
//! Why our own: Strata needs three things at once that no single maintained crate
//! gives — (1) a trie *persisted* node by node (so roots of past blocks stay
//! queryable and proofs can be served for them), (2) *incremental* updates that
//! touch only the paths of changed keys, and (3) the exact Ethereum encoding.
//! `alloy-trie` (reth's choice) builds roots and proofs from sorted leaves but
//! stores nothing; `trie-db`/`eth_trie` carry their own storage models. This crate
//! is small, depends only on the RLP codec, and is checked against Ethereum's
//! vectors and against `alloy-trie` as an independent reference (see tests).
//!
//! Nodes whose RLP is 32 bytes or longer are stored under their Keccak-256 hash;
//! shorter ones are inlined in their parent; the root is always stored.
//! [`Trie::commit`] returns the new nodes and the hashes of nodes the new version
//! no longer references, so the caller can count references and prune.

mod node;

use std::collections::BTreeMap;

use strata_primitives::{B256, Bytes, EMPTY_ROOT_HASH, keccak256};

use node::{Child, Node, decode_node, encode_child, encode_node};
use strata_primitives::nibbles::{self, unpack};

/// Trie errors: all are node-side (missing or corrupt nodes), never user errors.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A node referenced by hash is not in the store (pruned or never written).
    #[error("trie node {0} missing from the store")]
    MissingNode(B256),
    /// A stored node does not decode as a trie node.
    #[error("corrupt trie node {hash}: {reason}")]
    CorruptNode {
        /// Hash of the node.
        hash: B256,
        /// What is wrong.
        reason: String,
    },
    /// The node store failed.
    #[error("node store: {0}")]
    Store(String),
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Where trie nodes live: `hash -> node RLP`.
pub trait NodeStore {
    /// The node with `hash`, if stored.
    fn node(&self, hash: &B256) -> Result<Option<Vec<u8>>>;
}

/// In-memory [`NodeStore`] for tests and the contract harness.
#[derive(Debug, Default, Clone)]
pub struct MemNodes {
    /// The nodes.
    pub nodes: BTreeMap<B256, Vec<u8>>,
}

impl MemNodes {
    /// Stores the new nodes of a commit.
    pub fn apply(&mut self, commit: &Commit) {
        for (h, rlp) in &commit.new_nodes {
            self.nodes.insert(*h, rlp.clone());
        }
    }
}

impl NodeStore for MemNodes {
    fn node(&self, hash: &B256) -> Result<Option<Vec<u8>>> {
        Ok(self.nodes.get(hash).cloned())
    }
}

/// What a commit produced.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Commit {
    /// The new root.
    pub root: B256,
    /// Nodes to store: `(hash, rlp)`.
    pub new_nodes: Vec<(B256, Vec<u8>)>,
    /// Stored nodes the new version no longer references (one entry per dropped reference).
    pub removed: Vec<B256>,
}

/// A trie being read or updated, rooted at a committed root.
#[derive(Debug, Clone)]
pub struct Trie {
    root: Option<Child>,
    removed: Vec<B256>,
}

fn load(store: &dyn NodeStore, hash: &B256) -> Result<Node> {
    let rlp = store.node(hash)?.ok_or(Error::MissingNode(*hash))?;
    decode_node(&rlp).map_err(|reason| Error::CorruptNode { hash: *hash, reason })
}

/// Resolves a child to a node, returning the hash it was stored under (if any).
fn open(store: &dyn NodeStore, child: Child) -> Result<(Node, Option<B256>)> {
    match child {
        Child::Hash(h) => Ok((load(store, &h)?, Some(h))),
        Child::Node(n) => Ok((*n, None)),
    }
}

fn restore(node: Node, hash: Option<B256>) -> Child {
    match hash {
        Some(h) => Child::Hash(h),
        None => Child::Node(Box::new(node)),
    }
}

fn boxed(node: Node) -> Child {
    Child::Node(Box::new(node))
}

fn concat(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(a.len() + b.len());
    v.extend_from_slice(a);
    v.extend_from_slice(b);
    v
}

impl Trie {
    /// The trie with root `root` (`EMPTY_ROOT_HASH` for an empty trie).
    pub fn new(root: B256) -> Self {
        Self { root: (root != EMPTY_ROOT_HASH).then_some(Child::Hash(root)), removed: Vec::new() }
    }

    /// An empty trie.
    pub fn empty() -> Self {
        Self::new(EMPTY_ROOT_HASH)
    }

    /// The value at `key` (raw path bytes: hash the key first for a secure trie).
    pub fn get(&self, store: &dyn NodeStore, key: &[u8]) -> Result<Option<Vec<u8>>> {
        match &self.root {
            None => Ok(None),
            Some(c) => get_child(store, c, &unpack(key)),
        }
    }

    /// Sets `key` to `value`; an empty value removes the key (Ethereum semantics).
    pub fn insert(&mut self, store: &dyn NodeStore, key: &[u8], value: Vec<u8>) -> Result<()> {
        if value.is_empty() {
            return self.remove(store, key).map(|_| ());
        }
        let path = unpack(key);
        let existing = match self.root.take() {
            None => None,
            Some(c) => {
                let (node, hash) = open(store, c)?;
                self.removed.extend(hash);
                Some(node)
            }
        };
        let node = insert_at(store, &mut self.removed, existing, &path, value)?;
        self.root = Some(boxed(node));
        Ok(())
    }

    /// Removes `key`. Returns whether it was present.
    pub fn remove(&mut self, store: &dyn NodeStore, key: &[u8]) -> Result<bool> {
        let Some(root) = self.root.take() else {
            return Ok(false);
        };
        let (node, hash) = open(store, root)?;
        let (new, changed) = remove_at(store, &mut self.removed, node, &unpack(key))?;
        if !changed {
            self.root = new.map(|n| restore(n, hash));
            return Ok(false);
        }
        self.removed.extend(hash);
        self.root = new.map(boxed);
        Ok(true)
    }

    /// Hashes every changed node and returns the root, the nodes to store and the
    /// references dropped since the last commit. The trie stays usable.
    pub fn commit(&mut self) -> Commit {
        let removed = std::mem::take(&mut self.removed);
        let mut new_nodes = Vec::new();
        let root = match self.root.take() {
            None => EMPTY_ROOT_HASH,
            Some(Child::Hash(h)) => {
                self.root = Some(Child::Hash(h));
                h
            }
            Some(Child::Node(node)) => {
                let rlp = encode_node(&node, &mut new_nodes);
                let h = keccak256(&rlp);
                new_nodes.push((h, rlp));
                self.root = Some(Child::Hash(h));
                h
            }
        };
        Commit { root, new_nodes, removed }
    }

    /// The root the trie would have if committed now, without committing.
    pub fn root_hash(&self) -> B256 {
        match &self.root {
            None => EMPTY_ROOT_HASH,
            Some(Child::Hash(h)) => *h,
            Some(Child::Node(node)) => keccak256(encode_node(node, &mut Vec::new())),
        }
    }
}

fn get_child(store: &dyn NodeStore, child: &Child, path: &[u8]) -> Result<Option<Vec<u8>>> {
    match child {
        Child::Hash(h) => get_node(store, &load(store, h)?, path),
        Child::Node(n) => get_node(store, n, path),
    }
}

fn get_node(store: &dyn NodeStore, node: &Node, path: &[u8]) -> Result<Option<Vec<u8>>> {
    match node {
        Node::Leaf { path: p, value } => Ok((p.as_slice() == path).then(|| value.clone())),
        Node::Ext { path: p, child } => match path.strip_prefix(p.as_slice()) {
            Some(rest) => get_child(store, child, rest),
            None => Ok(None),
        },
        Node::Branch { children, value } => match path.split_first() {
            None => Ok(value.clone()),
            Some((i, rest)) => match &children[usize::from(*i)] {
                Some(c) => get_child(store, c, rest),
                None => Ok(None),
            },
        },
    }
}

fn insert_at(store: &dyn NodeStore, removed: &mut Vec<B256>, node: Option<Node>, path: &[u8], value: Vec<u8>) -> Result<Node> {
    let Some(node) = node else {
        return Ok(Node::Leaf { path: path.to_vec(), value });
    };
    Ok(match node {
        Node::Leaf { path: lp, value: lv } => {
            if lp == path {
                return Ok(Node::Leaf { path: lp, value });
            }
            let c = nibbles::common_prefix(&lp, path);
            let mut branch = Node::empty_branch();
            branch.place(&lp[c..], lv);
            branch.place(&path[c..], value);
            wrap_ext(&path[..c], branch)
        }
        Node::Ext { path: ep, child } => {
            let c = nibbles::common_prefix(&ep, path);
            if c == ep.len() {
                let (child_node, hash) = open(store, child)?;
                removed.extend(hash);
                let new_child = insert_at(store, removed, Some(child_node), &path[c..], value)?;
                return Ok(Node::Ext { path: ep, child: boxed(new_child) });
            }
            let mut branch = Node::empty_branch();
            let rest = &ep[c + 1..];
            let moved = if rest.is_empty() { child } else { boxed(Node::Ext { path: rest.to_vec(), child }) };
            branch.set_child(ep[c], moved);
            branch.place(&path[c..], value);
            wrap_ext(&path[..c], branch)
        }
        Node::Branch { mut children, value: bv } => match path.split_first() {
            None => Node::Branch { children, value: Some(value) },
            Some((i, rest)) => {
                let slot = &mut children[usize::from(*i)];
                let existing = match slot.take() {
                    None => None,
                    Some(c) => {
                        let (n, hash) = open(store, c)?;
                        removed.extend(hash);
                        Some(n)
                    }
                };
                *slot = Some(boxed(insert_at(store, removed, existing, rest, value)?));
                Node::Branch { children, value: bv }
            }
        },
    })
}

fn wrap_ext(prefix: &[u8], node: Node) -> Node {
    if prefix.is_empty() { node } else { Node::Ext { path: prefix.to_vec(), child: boxed(node) } }
}

/// Prepends `prefix` to `node`'s path, merging leaves and extensions.
fn join(prefix: &[u8], node: Node) -> Node {
    match node {
        Node::Leaf { path, value } => Node::Leaf { path: concat(prefix, &path), value },
        Node::Ext { path, child } => Node::Ext { path: concat(prefix, &path), child },
        branch => wrap_ext(prefix, branch),
    }
}

type Removal = (Option<Node>, bool);

fn remove_at(store: &dyn NodeStore, removed: &mut Vec<B256>, node: Node, path: &[u8]) -> Result<Removal> {
    match node {
        Node::Leaf { path: lp, value } => {
            if lp == path {
                Ok((None, true))
            } else {
                Ok((Some(Node::Leaf { path: lp, value }), false))
            }
        }
        Node::Ext { path: ep, child } => {
            let Some(rest) = path.strip_prefix(ep.as_slice()) else {
                return Ok((Some(Node::Ext { path: ep, child }), false));
            };
            let (child_node, hash) = open(store, child)?;
            let (new_child, changed) = remove_at(store, removed, child_node, rest)?;
            if !changed {
                let child = restore(new_child.expect("unchanged subtree is kept"), hash);
                return Ok((Some(Node::Ext { path: ep, child }), false));
            }
            removed.extend(hash);
            Ok((new_child.map(|n| join(&ep, n)), true))
        }
        Node::Branch { mut children, mut value } => {
            match path.split_first() {
                None => {
                    if value.take().is_none() {
                        return Ok((Some(Node::Branch { children, value }), false));
                    }
                }
                Some((i, rest)) => {
                    let slot = usize::from(*i);
                    let Some(child) = children[slot].take() else {
                        return Ok((Some(Node::Branch { children, value }), false));
                    };
                    let (child_node, hash) = open(store, child)?;
                    let (new_child, changed) = remove_at(store, removed, child_node, rest)?;
                    if !changed {
                        children[slot] = Some(restore(new_child.expect("unchanged subtree is kept"), hash));
                        return Ok((Some(Node::Branch { children, value }), false));
                    }
                    removed.extend(hash);
                    children[slot] = new_child.map(boxed);
                }
            }
            Ok((normalize_branch(store, removed, children, value)?, true))
        }
    }
}

/// A branch left with fewer than two entries collapses into a leaf or extension.
fn normalize_branch(
    store: &dyn NodeStore,
    removed: &mut Vec<B256>,
    mut children: Box<[Option<Child>; 16]>,
    value: Option<Vec<u8>>,
) -> Result<Option<Node>> {
    let used: Vec<usize> = (0..16).filter(|i| children[*i].is_some()).collect();
    match (used.len(), value) {
        (0, None) => Ok(None),
        (0, Some(v)) => Ok(Some(Node::Leaf { path: Vec::new(), value: v })),
        (1, None) => {
            let i = used[0];
            let child = children[i].take().expect("slot is used");
            let (node, hash) = open(store, child)?;
            removed.extend(hash);
            Ok(Some(join(&[i as u8], node)))
        }
        (_, value) => Ok(Some(Node::Branch { children, value })),
    }
}

/// Proof of `key` in the trie with root `root`: the stored nodes on its path, root first.
/// Proves presence (the leaf is in the last node) or absence (the path ends early).
pub fn prove(store: &dyn NodeStore, root: B256, key: &[u8]) -> Result<Vec<Bytes>> {
    let mut proof = Vec::new();
    if root == EMPTY_ROOT_HASH {
        return Ok(proof);
    }
    let path = unpack(key);
    let mut rest: &[u8] = &path;
    let mut hash = root;
    loop {
        let rlp = store.node(&hash)?.ok_or(Error::MissingNode(hash))?;
        let mut node = decode_node(&rlp).map_err(|reason| Error::CorruptNode { hash, reason })?;
        proof.push(Bytes::from(rlp));
        // Follow inline children inside this stored node until a hashed child or the end.
        loop {
            let next = match node {
                Node::Leaf { .. } => return Ok(proof),
                Node::Ext { path: p, child } => match rest.strip_prefix(p.as_slice()) {
                    Some(r) => {
                        rest = r;
                        child
                    }
                    None => return Ok(proof),
                },
                Node::Branch { mut children, .. } => match rest.split_first() {
                    None => return Ok(proof),
                    Some((i, r)) => match children[usize::from(*i)].take() {
                        Some(c) => {
                            rest = r;
                            c
                        }
                        None => return Ok(proof),
                    },
                },
            };
            match next {
                Child::Hash(h) => {
                    hash = h;
                    break;
                }
                Child::Node(n) => node = *n,
            }
        }
    }
}

/// The root of the ordered trie of `items` (item `i` under key `rlp(i)`, as Ethereum's
/// transactions and receipts roots) and the proof of item `index`: what a receipt or
/// transaction proof is built from.
pub fn ordered_proof(items: &[Vec<u8>], index: usize) -> Result<(B256, Vec<Bytes>)> {
    let key = |i: usize| alloy_rlp::encode(i as u64);
    let mut nodes = MemNodes::default();
    let mut trie = Trie::empty();
    for (i, item) in items.iter().enumerate() {
        trie.insert(&nodes, &key(i), item.clone())?;
    }
    let commit = trie.commit();
    nodes.apply(&commit);
    Ok((commit.root, prove(&nodes, commit.root, &key(index))?))
}

/// Encodes the reference to `child` as it appears inside its parent (for tests and tools).
pub fn child_reference(node_rlp: &[u8]) -> Vec<u8> {
    encode_child(node_rlp)
}

#[cfg(test)]
mod tests;
