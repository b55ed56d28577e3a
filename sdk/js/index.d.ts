/** A trust root: a genesis.json as validators share it, or the short form. */
export type Genesis = { chainId: number | string; validators: string[] } | { chain_id: number; validators: { address: string }[] } | string;

/** Why something is not verified. */
export interface NotVerified {
  verified: false;
  reason: string;
}

export interface ReceiptVerified {
  verified: true;
  kind: 'receipt';
  chainId: number;
  blockNumber: number;
  blockHash: string;
  transactionIndex: number;
  transactionHash: string;
  success: boolean;
  timestamp: number;
  cumulativeGasUsed: number;
  /** The proven receipt's logs. */
  logs: { address: string; topics: string[]; data: string }[];
  /** Whether a shown receipt was checked against the proven one. */
  shownChecked: boolean;
  /** Validator indices whose signatures finalized the block. */
  signers: number[];
  validators: number;
  quorum: number;
  receiptsRoot: string;
  transactionsRoot: string;
  receiptProofNodes: number;
  transactionProofNodes: number;
}

export interface CertificateVerified {
  verified: true;
  kind: 'storageCertificate';
  chainId: number;
  transactionHash: string;
  sender: string;
  nonce: number;
  height: number;
  expiry: number;
  signers: number[];
  validators: number;
  quorum: number;
  batched: boolean;
}

export type StorageEntry =
  | { key: string; absent: true }
  | { key: string; value: string }
  | { key: string; tombstone: { valueHash: string; size: number; retentionEnd: number; payer: string; purged: boolean } };

export interface StateVerified {
  verified: true;
  kind: 'state';
  chainId: number;
  blockNumber: number;
  blockHash: string;
  timestamp: number;
  stateRoot: string;
  signers: number[];
  address: string;
  exists: boolean;
  /** Decimal wei. */
  balance: string;
  nonce: number;
  codeHash: string;
  /** Whether the code given in the query hashes to the proven code hash. */
  codeChecked: boolean;
  storageHash: string;
  /** One entry per key asked, in order. */
  storage: StorageEntry[];
}

export interface Decoded {
  name: string;
  signature: string;
  args: { name: string; type: string; value: string }[];
}

export type Rpc = (method: string, params?: unknown[]) => Promise<any>;

/** What was asked of the node: the answer must be for exactly this. */
export interface StateQuery {
  address: string;
  keys?: string[];
  block?: number;
  /** Code shown for the account (hex): must hash to the proven code hash. */
  code?: string;
}

export function load(source?: string | URL | Response | BufferSource | WebAssembly.Module): Promise<void>;
export function verifyReceipt(answer: object | string, genesis: Genesis, transactionHash?: string, shown?: object | string): Promise<ReceiptVerified | NotVerified>;
export function verifyStorageCertificate(certificate: object | string, genesis: Genesis): Promise<CertificateVerified | NotVerified>;
export function verifyState(proof: object | string, query: StateQuery, header: string, certificate: string, setProof: string, genesis: Genesis): Promise<StateVerified | NotVerified>;
export function moduleAbi(code: string): Promise<object[]>;
export function decodeCall(abi: object[] | string, input: string): Promise<Decoded | null>;
export function decodeLog(abi: object[] | string, topics: string[], data: string): Promise<Decoded | null>;
export function decodeRevert(abi: object[] | string | null, data: string): Promise<string>;
export function rpcClient(url: string): Rpc;
export function fetchAndVerifyReceipt(node: string | Rpc, transactionHash: string, genesis: Genesis): Promise<ReceiptVerified | NotVerified>;
export function fetchAndVerifyState(
  node: string | Rpc,
  address: string,
  keys: string[] | null,
  /** A number, a hex or decimal string, or `'latest'` (the newest certified block). */
  block: number | string,
  genesis: Genesis,
): Promise<StateVerified | NotVerified>;
export function newestCertifiedBlock(node: string | Rpc): Promise<number | null>;
export function version(): Promise<string>;
