/* tslint:disable */
/* eslint-disable */

/**
 * Calldata decoded by `abi_json`: `{name, signature, args}`, or `null`.
 */
export function decodeCall(abi_json: string, input: string): string;

/**
 * A log (topics as a JSON array of hex) decoded by `abi_json`, or `null`.
 */
export function decodeLog(abi_json: string, topics: string, data: string): string;

/**
 * Revert data as people read it (`Error("…")`, `Panic(…)`, a custom error of `abi_json`).
 */
export function decodeRevert(abi_json: string, data: string): string;

/**
 * The ABI (a JSON array) a module carries; `{"error": …}` if the code is not a module.
 */
export function moduleAbi(code: string): string;

/**
 * Verifies a `strata_getReceiptProof` answer (JSON) against the pinned genesis (JSON);
 * with `transaction_hash`, the receipt must be that transaction's; with `shown` (the
 * node's `eth_getTransactionReceipt` JSON), what it says must be the proven receipt.
 */
export function verifyReceipt(answer: string, genesis: string, transaction_hash?: string | null, shown?: string | null): string;

/**
 * Verifies a `strata_getProof` answer (JSON) to `query` (JSON: `{address, keys?, block?,
 * code?}`, what was asked) at a block, given that block's RLP header
 * (`debug_getRawHeader`), commit certificate (`strata_getCommitCertificate`'s `raw`) and
 * validator-set proof (`strata_getValidatorSetProof`'s `proof`), hex.
 */
export function verifyState(answer: string, query: string, header: string, certificate: string, set_proof: string, genesis: string): string;

/**
 * Verifies a storage certificate: a `strata_sendRawTransactionCertified` answer (JSON),
 * or its RLP certificate as a JSON string of hex.
 */
export function verifyStorageCertificate(answer: string, genesis: string): string;

/**
 * This crate's version.
 */
export function version(): string;

export type InitInput = RequestInfo | URL | Response | BufferSource | WebAssembly.Module;

export interface InitOutput {
    readonly memory: WebAssembly.Memory;
    readonly decodeCall: (a: number, b: number, c: number, d: number) => [number, number];
    readonly decodeLog: (a: number, b: number, c: number, d: number, e: number, f: number) => [number, number];
    readonly decodeRevert: (a: number, b: number, c: number, d: number) => [number, number];
    readonly moduleAbi: (a: number, b: number) => [number, number];
    readonly verifyReceipt: (a: number, b: number, c: number, d: number, e: number, f: number, g: number, h: number) => [number, number];
    readonly verifyState: (a: number, b: number, c: number, d: number, e: number, f: number, g: number, h: number, i: number, j: number, k: number, l: number) => [number, number];
    readonly verifyStorageCertificate: (a: number, b: number, c: number, d: number) => [number, number];
    readonly version: () => [number, number];
    readonly __wbindgen_externrefs: WebAssembly.Table;
    readonly __wbindgen_malloc: (a: number, b: number) => number;
    readonly __wbindgen_realloc: (a: number, b: number, c: number, d: number) => number;
    readonly __wbindgen_free: (a: number, b: number, c: number) => void;
    readonly __wbindgen_start: () => void;
}

export type SyncInitInput = BufferSource | WebAssembly.Module;

/**
 * Instantiates the given `module`, which can either be bytes or
 * a precompiled `WebAssembly.Module`.
 *
 * @param {{ module: SyncInitInput }} module - Passing `SyncInitInput` directly is deprecated.
 *
 * @returns {InitOutput}
 */
export function initSync(module: { module: SyncInitInput } | SyncInitInput): InitOutput;

/**
 * If `module_or_path` is {RequestInfo} or {URL}, makes a request and
 * for everything else, calls `WebAssembly.instantiate` directly.
 *
 * @param {{ module_or_path: InitInput | Promise<InitInput> }} module_or_path - Passing `InitInput` directly is deprecated.
 *
 * @returns {Promise<InitOutput>}
 */
export default function __wbg_init (module_or_path?: { module_or_path: InitInput | Promise<InitInput> } | InitInput | Promise<InitInput>): Promise<InitOutput>;
