//! How failures become JSON-RPC errors: bad parameters `-32602`, refused transactions
//! and failed executions `-32000` (a revert: code 3 with its data, as go-ethereum),
//! node failures `-32603` (logged), a full pool [`LIMIT_EXCEEDED_CODE`].

use jsonrpsee::types::{
    ErrorObjectOwned,
    error::{CALL_EXECUTION_FAILED_CODE, INTERNAL_ERROR_CODE, INVALID_PARAMS_CODE},
};
use strata_chain::SubmitError;
use strata_primitives::U256;

use crate::{LIMIT_EXCEEDED_CODE, logs};

/// `-32603`: the node failed (logged; the client sees the reason).
pub(crate) fn internal(e: impl std::fmt::Display) -> ErrorObjectOwned {
    tracing::error!(error = %e, "rpc internal error");
    ErrorObjectOwned::owned(INTERNAL_ERROR_CODE, format!("internal error: {e}"), None::<()>)
}

/// `-32000` with `msg`: the request cannot be served as asked (unknown block, pruned
/// state, failed execution).
pub(crate) fn exec_error(msg: impl Into<String>) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(CALL_EXECUTION_FAILED_CODE, msg.into(), None::<()>)
}

/// `-32602` with `msg`: a parameter is out of bounds.
pub(crate) fn invalid_params(msg: impl Into<String>) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(INVALID_PARAMS_CODE, msg.into(), None::<()>)
}

/// `-32005` ([`LIMIT_EXCEEDED_CODE`]): the threads for `what` are all busy and their queue is full.
pub(crate) fn busy(e: strata_vm::PoolError, what: &str) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(LIMIT_EXCEEDED_CODE, format!("{what}: {e}; retry later"), None::<()>)
}

/// JSON-RPC error of a failed call, as go-ethereum shapes it: a revert is code 3,
/// "execution reverted", with the revert data; other failures are -32000 with the reason.
pub(crate) fn execution_error(result: strata_executor::MessageResult) -> ErrorObjectOwned {
    match result.failure {
        None => {
            let reason = decode_revert_reason(&result.output).map(|r| format!(": {r}")).unwrap_or_default();
            let data = format!("0x{}", strata_primitives::hex::encode(&result.output));
            ErrorObjectOwned::owned(3, format!("execution reverted{reason}"), Some(data))
        }
        Some(reason) => exec_error(reason),
    }
}

/// The message of Solidity's `Error(string)` revert data, if that is what it is.
fn decode_revert_reason(data: &[u8]) -> Option<String> {
    let body = data.strip_prefix(&[0x08, 0xc3, 0x79, 0xa0][..])?;
    let len = usize::try_from(U256::from_be_slice(body.get(32..64)?)).ok()?;
    let bytes = body.get(64..64usize.checked_add(len)?)?;
    String::from_utf8(bytes.to_vec()).ok()
}

/// The error of a simulation that failed on the node's side: a timeout is the client's
/// to know about (go-ethereum's wording); anything else is internal.
pub(crate) fn simulation_error(e: strata_executor::Error, timeout: std::time::Duration) -> ErrorObjectOwned {
    match e {
        strata_executor::Error::Interrupted => exec_error(format!("execution aborted (timeout = {timeout:?})")),
        other => internal(other),
    }
}

/// A refused log query: the node's failure is internal, anything else a bad parameter.
pub(crate) fn log_error(e: logs::LogQueryError) -> ErrorObjectOwned {
    match e {
        logs::LogQueryError::Node(m) => internal(m),
        other => invalid_params(other.to_string()),
    }
}

/// A transaction the chain refused: `-32000` with the reason (internal if the node failed).
pub(crate) fn rejected(e: SubmitError) -> ErrorObjectOwned {
    match e {
        SubmitError::Node(e) => internal(e),
        other => exec_error(other.to_string()),
    }
}
