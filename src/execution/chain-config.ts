/**
 * The chain configuration every replica must agree on byte for byte: it fixes genesis, the fee
 * model and the transaction rules, so it is validated strictly at the boundary (JSON in, typed out).
 */
import { z } from 'zod';
import { BulwarkError } from '../common/errors.ts';

/**
 * `free`: the permissioned default. The base fee is always zero, a gas price of zero is accepted and
 * costs nothing; gas is still metered and limited per transaction and per block.
 * `market`: Ethereum's EIP-1559 base fee, burned, with tips to the fee recipient.
 */
export type GasMode = 'free' | 'market';

export interface GenesisAccount {
  readonly balance: bigint;
  readonly nonce: bigint;
  readonly code: Uint8Array;
  readonly storage: ReadonlyMap<bigint, bigint>;
}

export interface ChainConfig {
  readonly chainId: bigint;
  readonly hardfork: 'cancun';
  readonly gasMode: GasMode;
  readonly blockGasLimit: bigint;
  /** Legacy transactions without EIP-155 replay protection are refused unless this is true. */
  readonly allowUnprotectedTxs: boolean;
  /** Largest accepted raw transaction, in bytes (go-ethereum's pool uses 128 KiB). */
  readonly maxTxBytes: number;
  /** The block's coinbase: receives tips in `market` mode. */
  readonly feeRecipient: Uint8Array;
  /** Base fee of the first block in `market` mode. */
  readonly initialBaseFee: bigint;
  readonly genesisTimestamp: bigint;
  readonly alloc: ReadonlyMap<string, GenesisAccount>;
}

const hex = z.string().regex(/^0x[0-9a-fA-F]*$/, 'must be 0x-prefixed hex');
const evenHex = hex.refine((s) => s.length % 2 === 0, 'must be whole bytes');
const address = z.string().regex(/^0x[0-9a-fA-F]{40}$/, 'must be a 20-byte 0x address');
const quantity = z.union([z.number().int().nonnegative(), z.string().regex(/^(0x[0-9a-fA-F]+|[0-9]+)$/)]);

const accountSchema = z.strictObject({
  balance: quantity,
  nonce: quantity.optional(),
  code: evenHex.optional(),
  storage: z.record(hex, hex).optional(),
});

export const chainConfigSchema = z.strictObject({
  chainId: quantity,
  hardfork: z.literal('cancun').default('cancun'),
  gasMode: z.enum(['free', 'market']).default('free'),
  blockGasLimit: quantity.default('30000000'),
  allowUnprotectedTxs: z.boolean().default(false),
  maxTxBytes: z.number().int().positive().max(4 * 1024 * 1024).default(128 * 1024),
  feeRecipient: address.default('0x0000000000000000000000000000000000000000'),
  initialBaseFee: quantity.default('1000000000'),
  genesisTimestamp: quantity.default(0),
  alloc: z.record(address, accountSchema).default({}),
});

export type ChainConfigJson = z.input<typeof chainConfigSchema>;

function toBigInt(q: string | number): bigint {
  return BigInt(q);
}

function hexBytes(h: string): Uint8Array {
  return new Uint8Array(Buffer.from(h.slice(2), 'hex'));
}

/** Parses and validates a chain configuration; every problem is reported with its path. */
export function parseChainConfig(json: unknown): ChainConfig {
  const r = chainConfigSchema.safeParse(json);
  if (!r.success) {
    const problems = r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new BulwarkError('CHAIN_CONFIG_INVALID', `invalid chain config: ${problems.join('; ')}`, { problems });
  }
  const c = r.data;
  const chainId = toBigInt(c.chainId);
  if (chainId === 0n) throw new BulwarkError('CHAIN_CONFIG_INVALID', 'invalid chain config: chainId must be positive');
  const blockGasLimit = toBigInt(c.blockGasLimit);
  if (blockGasLimit < 21000n) {
    throw new BulwarkError('CHAIN_CONFIG_INVALID', 'invalid chain config: blockGasLimit below 21000');
  }
  const alloc = new Map<string, GenesisAccount>();
  for (const [addr, a] of Object.entries(c.alloc)) {
    const storage = new Map<bigint, bigint>();
    for (const [k, v] of Object.entries(a.storage ?? {})) storage.set(BigInt(k), BigInt(v));
    alloc.set(addr.toLowerCase(), {
      balance: toBigInt(a.balance),
      nonce: toBigInt(a.nonce ?? 0),
      code: hexBytes(a.code ?? '0x'),
      storage,
    });
  }
  return {
    chainId,
    hardfork: c.hardfork,
    gasMode: c.gasMode,
    blockGasLimit,
    allowUnprotectedTxs: c.allowUnprotectedTxs,
    maxTxBytes: c.maxTxBytes,
    feeRecipient: hexBytes(c.feeRecipient),
    initialBaseFee: toBigInt(c.initialBaseFee),
    genesisTimestamp: toBigInt(c.genesisTimestamp),
    alloc,
  };
}

/** The canonical JSON form, stored in the database so a restart cannot silently change the chain. */
export function chainConfigToJson(c: ChainConfig): ChainConfigJson {
  const alloc: Record<string, z.input<typeof accountSchema>> = {};
  for (const [addr, a] of c.alloc) {
    const storage: Record<string, string> = {};
    for (const [k, v] of a.storage) storage[`0x${k.toString(16)}`] = `0x${v.toString(16)}`;
    alloc[addr] = {
      balance: a.balance.toString(),
      nonce: a.nonce.toString(),
      code: `0x${Buffer.from(a.code).toString('hex')}`,
      storage,
    };
  }
  return {
    chainId: c.chainId.toString(),
    hardfork: c.hardfork,
    gasMode: c.gasMode,
    blockGasLimit: c.blockGasLimit.toString(),
    allowUnprotectedTxs: c.allowUnprotectedTxs,
    maxTxBytes: c.maxTxBytes,
    feeRecipient: `0x${Buffer.from(c.feeRecipient).toString('hex')}`,
    initialBaseFee: c.initialBaseFee.toString(),
    genesisTimestamp: c.genesisTimestamp.toString(),
    alloc,
  };
}
