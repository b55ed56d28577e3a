//! The challenge-response handshake that authenticates a connection: each side sends
//! a [`Hello`] (version, chain id, index, nonce), signs the other's nonce with its
//! validator key ([`Auth`]) and checks that the other's signature recovers to the
//! validator address at the claimed index.

use alloy_rlp::{RlpDecodable, RlpEncodable};
use strata_primitives::{B256, Bytes, Signature, keccak256};
use tokio::net::TcpStream;

use crate::{
    Error, MAX_HANDSHAKE_FRAME, NetworkConfig, Result,
    frame::{read_frame_within, write_frame},
};

/// Handshake protocol version.
pub(crate) const VERSION: u8 = 1;

#[derive(Debug, RlpEncodable, RlpDecodable)]
pub(crate) struct Hello {
    pub(crate) version: u8,
    pub(crate) chain_id: u64,
    pub(crate) index: u32,
    pub(crate) nonce: B256,
}

#[derive(Debug, RlpEncodable, RlpDecodable)]
pub(crate) struct Auth {
    pub(crate) signature: Bytes,
}

/// What a validator signs to prove its key: the peer's nonce, bound to the chain and
/// to both indices, under a domain tag no other Strata signature uses.
pub(crate) fn handshake_digest(chain_id: u64, peer_nonce: &B256, signer: u32, peer: u32) -> B256 {
    let mut buf = Vec::with_capacity(64);
    buf.extend_from_slice(b"strata/p2p/handshake/v1");
    buf.extend_from_slice(&chain_id.to_be_bytes());
    buf.extend_from_slice(peer_nonce.as_slice());
    buf.extend_from_slice(&signer.to_be_bytes());
    buf.extend_from_slice(&peer.to_be_bytes());
    keccak256(buf)
}

pub(crate) fn random_nonce() -> B256 {
    let mut b = [0u8; 32];
    // The OS RNG only fails on broken systems; a fixed nonce then still authenticates
    // (signatures bind both indices and the chain), it only loses replay protection.
    if let Err(e) = getrandom::fill(&mut b) {
        tracing::error!(error = %e, "no OS randomness for the handshake nonce");
    }
    B256::from(b)
}

/// Proves our key to the peer on `stream` and checks its proof; returns its index.
/// `expected`: the peer dialled (None for an inbound connection).
pub(crate) async fn handshake(cfg: &NetworkConfig, stream: &mut TcpStream, expected: Option<u32>) -> Result<u32> {
    let nonce = random_nonce();
    let hello = Hello { version: VERSION, chain_id: cfg.chain_id, index: cfg.me, nonce };
    write_frame(stream, &alloy_rlp::encode(&hello)).await?;
    let theirs: Hello = decode(&read_frame_within(stream, MAX_HANDSHAKE_FRAME).await?)?;
    let refuse = |why: String| Err::<u32, _>(Error::Connection(format!("handshake refused: {why}")));
    if theirs.version != VERSION || theirs.chain_id != cfg.chain_id {
        return refuse(format!("version {} chain {} (want {VERSION}, {})", theirs.version, theirs.chain_id, cfg.chain_id));
    }
    let Some(peer) = cfg.validators.iter().find(|p| p.index == theirs.index && p.index != cfg.me) else {
        return refuse(format!("unknown validator index {}", theirs.index));
    };
    if expected.is_some_and(|e| e != theirs.index) || (expected.is_none() && theirs.index < cfg.me) {
        return refuse(format!("validator {} connected in the wrong direction", theirs.index));
    }
    let sig = cfg
        .key
        .sign_hash(&handshake_digest(cfg.chain_id, &theirs.nonce, cfg.me, theirs.index))
        .map_err(|e| Error::Connection(format!("signing: {e}")))?;
    write_frame(stream, &alloy_rlp::encode(Auth { signature: sig.as_bytes().to_vec().into() })).await?;
    let auth: Auth = decode(&read_frame_within(stream, MAX_HANDSHAKE_FRAME).await?)?;
    let sig = Signature::try_from(&auth.signature[..]).map_err(|e| Error::Connection(format!("bad signature: {e}")))?;
    let digest = handshake_digest(cfg.chain_id, &nonce, theirs.index, cfg.me);
    match sig.recover_address_from_prehash(&digest) {
        Ok(a) if a == peer.address => Ok(theirs.index),
        _ => refuse(format!("validator {} did not prove its key", theirs.index)),
    }
}

pub(crate) fn decode<T: alloy_rlp::Decodable>(bytes: &[u8]) -> Result<T> {
    strata_primitives::rlp_item::decode_exact(bytes).map_err(|e| Error::Connection(format!("malformed handshake: {e}")))
}
