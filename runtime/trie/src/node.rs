//! Trie nodes and their RLP encoding.

use alloy_rlp::{Encodable, Header};
use strata_primitives::{B256, keccak256};

use strata_primitives::nibbles::{decode_hex_prefix, hex_prefix};

/// A reference from a parent to a child node.
#[derive(Debug, Clone)]
pub(crate) enum Child {
    /// A stored node, not loaded.
    Hash(B256),
    /// A node in memory (loaded and modified, or inline).
    Node(Box<Node>),
}

/// A trie node in memory. Paths are nibbles.
#[derive(Debug, Clone)]
pub(crate) enum Node {
    Leaf { path: Vec<u8>, value: Vec<u8> },
    Ext { path: Vec<u8>, child: Child },
    Branch { children: Box<[Option<Child>; 16]>, value: Option<Vec<u8>> },
}

impl Node {
    pub(crate) fn empty_branch() -> Node {
        Node::Branch { children: Box::default(), value: None }
    }

    /// In a branch: puts `value` at the remaining path `rest` (value slot if empty).
    pub(crate) fn place(&mut self, rest: &[u8], value: Vec<u8>) {
        let Node::Branch { children, value: slot } = self else { unreachable!("place on a branch only") };
        match rest.split_first() {
            None => *slot = Some(value),
            Some((i, tail)) => children[usize::from(*i)] = Some(Child::Node(Box::new(Node::Leaf { path: tail.to_vec(), value }))),
        }
    }

    pub(crate) fn set_child(&mut self, i: u8, child: Child) {
        let Node::Branch { children, .. } = self else { unreachable!("set_child on a branch only") };
        children[usize::from(i)] = Some(child);
    }
}

fn list(payload: Vec<u8>) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 3);
    Header { list: true, payload_length: payload.len() }.encode(&mut out);
    out.extend_from_slice(&payload);
    out
}

/// How a node appears inside its parent: inline if its RLP is under 32 bytes,
/// else the RLP string of its hash.
pub(crate) fn encode_child(node_rlp: &[u8]) -> Vec<u8> {
    if node_rlp.len() < 32 {
        node_rlp.to_vec()
    } else {
        let mut out = Vec::with_capacity(33);
        keccak256(node_rlp).as_slice().encode(&mut out);
        out
    }
}

fn child_ref(child: &Child, new_nodes: &mut Vec<(B256, Vec<u8>)>, out: &mut Vec<u8>) {
    match child {
        Child::Hash(h) => h.as_slice().encode(out),
        Child::Node(n) => {
            let rlp = encode_node(n, new_nodes);
            if rlp.len() < 32 {
                out.extend_from_slice(&rlp);
            } else {
                let h = keccak256(&rlp);
                h.as_slice().encode(out);
                new_nodes.push((h, rlp));
            }
        }
    }
}

/// RLP of `node`; nodes of 32+ bytes below it are hashed and appended to `new_nodes`.
pub(crate) fn encode_node(node: &Node, new_nodes: &mut Vec<(B256, Vec<u8>)>) -> Vec<u8> {
    let mut payload = Vec::new();
    match node {
        Node::Leaf { path, value } => {
            hex_prefix(path, true).as_slice().encode(&mut payload);
            value.as_slice().encode(&mut payload);
        }
        Node::Ext { path, child } => {
            hex_prefix(path, false).as_slice().encode(&mut payload);
            child_ref(child, new_nodes, &mut payload);
        }
        Node::Branch { children, value } => {
            for c in children.iter() {
                match c {
                    Some(c) => child_ref(c, new_nodes, &mut payload),
                    None => payload.push(alloy_rlp::EMPTY_STRING_CODE),
                }
            }
            value.as_deref().unwrap_or_default().encode(&mut payload);
        }
    }
    list(payload)
}

/// One RLP item of a node's list: whether it is a list, its full encoding, its payload.
type Item<'a> = (bool, &'a [u8], &'a [u8]);

fn child_from(item: Item<'_>) -> Result<Option<Child>, String> {
    match item {
        (true, full, payload) => {
            if full.len() >= 32 {
                return Err("inline child of 32 bytes or more".into());
            }
            Ok(Some(Child::Node(Box::new(node_from_payload(payload)?))))
        }
        (false, _, []) => Ok(None),
        (false, _, payload) if payload.len() == 32 => Ok(Some(Child::Hash(B256::from_slice(payload)))),
        (false, _, payload) => Err(format!("child reference of {} bytes", payload.len())),
    }
}

/// Decodes the payload of a node's RLP list, borrowing from the input (no intermediate tree).
fn node_from_payload(mut p: &[u8]) -> Result<Node, String> {
    let mut items: [Item<'_>; 17] = [(false, &[], &[]); 17];
    let mut count = 0usize;
    while !p.is_empty() {
        if count == 17 {
            return Err("node with more than 17 items".into());
        }
        let start = p;
        let h = Header::decode(&mut p).map_err(|e| e.to_string())?;
        let (payload, rest) = p.split_at(h.payload_length);
        p = rest;
        items[count] = (h.list, &start[..start.len() - p.len()], payload);
        count += 1;
    }
    match count {
        2 => {
            let (list, _, hp) = items[0];
            if list {
                return Err("node path is a list".into());
            }
            let (path, leaf) = decode_hex_prefix(hp).ok_or("bad hex-prefix path")?;
            if leaf {
                let (list, _, value) = items[1];
                if list {
                    return Err("leaf value is a list".into());
                }
                Ok(Node::Leaf { path, value: value.to_vec() })
            } else {
                if path.is_empty() {
                    return Err("extension with an empty path".into());
                }
                let child = child_from(items[1])?.ok_or("extension without a child")?;
                Ok(Node::Ext { path, child })
            }
        }
        17 => {
            let mut children: Box<[Option<Child>; 16]> = Box::default();
            for (slot, item) in children.iter_mut().zip(items.iter()) {
                *slot = child_from(*item)?;
            }
            let (list, _, v) = items[16];
            if list {
                return Err("branch value is a list".into());
            }
            Ok(Node::Branch { children, value: (!v.is_empty()).then(|| v.to_vec()) })
        }
        n => Err(format!("node with {n} items")),
    }
}

/// Decodes a stored node.
pub(crate) fn decode_node(rlp: &[u8]) -> Result<Node, String> {
    let mut buf = rlp;
    let payload = Header::decode_bytes(&mut buf, true).map_err(|e| e.to_string())?;
    if !buf.is_empty() {
        return Err(format!("{} trailing bytes after the node", buf.len()));
    }
    node_from_payload(payload)
}
