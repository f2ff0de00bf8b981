/**
 * The client node's Ethereum method table: the namespaces that answer the standard JSON-RPC API
 * (the execution-apis specification's `eth`, `debug` and `txpool` groups, and `web3_`/`net_`),
 * composed once, so the client node and the specification's conformance suite
 * (`test/unit/rpc-spec-*.test.ts`) serve the very same table. Filters, subscriptions and `bft_`
 * keep state or links of their own and are added beside it by the client node.
 */
import type { Block } from '@ethereumjs/block';
import type { ChainConfig } from '../execution/chain-config.ts';
import { ChainReader, type ChainSource } from '../execution/reader.ts';
import type { BlockStore } from '../ledger/block-store.ts';
import type { EvmGate } from './evm-gate.ts';
import type { MethodDef } from './method.ts';
import type { PoolPort } from './ports.ts';
import { debugMethods } from './namespaces/debug.ts';
import { debugRawMethods } from './namespaces/debug-raw.ts';
import { ethChainMethods } from './namespaces/eth-chain.ts';
import { ethCoreMethods, type EthBackend } from './namespaces/eth-core.ts';
import { ethExecuteMethods } from './namespaces/eth-execute.ts';
import { ethLogsMethods } from './namespaces/eth-logs.ts';
import { ethNodeMethods } from './namespaces/eth-node.ts';
import { txpoolMethods } from './namespaces/txpool.ts';
import { unavailableMethods } from './namespaces/unavailable.ts';
import { identityMethods } from './namespaces/web3-net.ts';

export interface EthereumMethodsDeps {
  readonly chainId: bigint;
  readonly config: Pick<ChainConfig, 'gasMode' | 'feeRecipient'>;
  readonly clientVersion: string;
  /** Replica links up (net_peerCount). */
  readonly peerCount: () => number;
  /** The verified blocks (the client node's ledger mirror) and their head. */
  readonly chain: () => ChainSource;
  readonly blocks: BlockStore;
  readonly genesisHash: Uint8Array;
  /** State reads at a block (`ReadClient.read`: the local state, else f + 1 replicas). */
  readonly read: EthBackend['read'];
  readonly evm: EvmGate;
  readonly pool: PoolPort;
  /** The pool, the submitter and the mirror as eth_sendRawTransaction and the receipt waits need them. */
  readonly submit: EthBackend['submit'];
  readonly accepted?: EthBackend['accepted'];
  readonly nextBlock: EthBackend['nextBlock'];
  readonly landed: EthBackend['landed'];
  /** The node's own executed state (tracing, access lists, simulations); undefined while it has none. */
  readonly localSource: () => ChainSource | undefined;
  /** Wraps the methods that run on the local state (the client node lets it reach the mirror's head first). */
  readonly onLocalState?: (methods: Map<string, MethodDef>) => Map<string, MethodDef>;
}

export function ethereumMethods(d: EthereumMethodsDeps): Map<string, MethodDef> {
  const freeGas = d.config.gasMode === 'free';
  const head = (): Block => d.chain().head;
  const reader = new ChainReader(d.chain());
  const receipts = (h: Uint8Array) => d.blocks.receipts(h);
  const local = d.onLocalState ?? ((m: Map<string, MethodDef>) => m);
  const core: EthBackend = {
    chainId: d.chainId,
    freeGas,
    reader,
    head,
    read: d.read,
    evm: d.evm,
    pool: d.pool,
    submit: d.submit,
    ...(d.accepted === undefined ? {} : { accepted: d.accepted }),
    nextBlock: d.nextBlock,
    landed: d.landed,
  };
  return new Map<string, MethodDef>([
    ...identityMethods({ chainId: d.chainId, clientVersion: d.clientVersion, peerCount: d.peerCount }),
    ...ethCoreMethods(core),
    ...ethChainMethods({ freeGas, reader, head, receipts, header: (n) => d.blocks.headerByNumber(n) }),
    ...ethLogsMethods({ reader, head }),
    ...ethNodeMethods({ chainId: d.chainId, feeRecipient: d.config.feeRecipient, genesisHash: d.genesisHash, head }),
    ...txpoolMethods(d.pool),
    // Tracing, access lists and simulations run the EVM on this node's own state; without it (or
    // once it stopped) they say so.
    ...local(debugMethods({ source: d.localSource, evm: d.evm })),
    ...local(ethExecuteMethods({ source: d.localSource, evm: d.evm })),
    ...debugRawMethods({ reader, head, receipts, pooled: (h) => d.pool.get(h)?.raw }),
    ...unavailableMethods(),
  ]);
}
