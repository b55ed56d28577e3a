//! Several chains in one process: each with its own database directory, RPC port, spec
//! and (for a validator) peers, all running contracts on one Wasm engine — one
//! compiled-module cache, one set of limits. What a chain hierarchy's operator runs (a
//! parent chain and its children side by side).

use std::{path::PathBuf, sync::Arc};

use crate::{DevConfig, Node, Result, config::ValidatorConfig, shared_engine};

/// What one chain of a [`MultiNode`] is.
#[derive(Debug, Clone)]
pub enum ChainRole {
    /// A dev chain (`strata dev`).
    Dev(DevConfig),
    /// One validator of a network (`strata run`).
    Validator(ValidatorConfig),
}

/// A process running several chains on one Wasm engine.
pub struct MultiNode {
    engine: Arc<strata_vm::Vm>,
    nodes: Vec<Node>,
}

impl MultiNode {
    /// Starts every chain of `chains`, sharing an engine whose compiled modules are
    /// cached under `cache_dir`. Must be called inside a tokio runtime.
    pub async fn start(cache_dir: PathBuf, chains: Vec<ChainRole>) -> Result<Self> {
        let engine = shared_engine(cache_dir)?;
        let mut nodes = Vec::with_capacity(chains.len());
        for role in chains {
            let node = match role {
                ChainRole::Dev(config) => Node::start_on(config, Some(engine.clone())).await,
                ChainRole::Validator(config) => Node::start_validator_on(config, Some(engine.clone())).await,
            };
            match node {
                Ok(n) => nodes.push(n),
                Err(e) => {
                    for n in nodes {
                        n.stop().await;
                    }
                    return Err(e);
                }
            }
        }
        Ok(Self { engine, nodes })
    }

    /// The shared engine.
    pub fn engine(&self) -> &Arc<strata_vm::Vm> {
        &self.engine
    }

    /// The chains, in the order they were given.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// Stops every chain.
    pub async fn stop(self) {
        for n in self.nodes {
            n.stop().await;
        }
    }
}
