/**
 * The genesis chain config of a new network, from what the operator gives: a chain id, an optional
 * chain config document (gas mode, limits, allocations, …; see execution/chain-config.ts) and extra
 * allocations. Conflicts are refused rather than resolved silently.
 */
import { BulwarkError } from '../common/errors.ts';
import { parseChainConfig, type ChainConfig } from '../execution/chain-config.ts';

export interface GenesisInput {
  readonly chainId?: bigint;
  /** A chain config JSON document, as read from a file. */
  readonly document?: unknown;
  readonly alloc?: ReadonlyArray<{ readonly address: string; readonly balance: bigint }>;
}

function invalid(message: string, details: Record<string, unknown> = {}): BulwarkError {
  return new BulwarkError('SETUP_INVALID_INPUT', message, details);
}

export function buildChainConfig(input: GenesisInput): ChainConfig {
  const doc = input.document ?? {};
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw invalid('the genesis document must be a JSON object');
  const fields = { ...(doc as Record<string, unknown>) };
  const docChainId = fields['chainId'];
  if (input.chainId !== undefined) {
    if (docChainId !== undefined && quantity(docChainId) !== input.chainId) {
      throw invalid(`chain id ${input.chainId} differs from the genesis document's ${String(docChainId)}`);
    }
    fields['chainId'] = input.chainId.toString();
  } else if (docChainId === undefined) {
    throw invalid('a chain id is needed (give one, or put chainId in the genesis document)');
  }
  const alloc: Record<string, unknown> = { ...((fields['alloc'] as Record<string, unknown> | undefined) ?? {}) };
  const lowerKeys = new Set(Object.keys(alloc).map((a) => a.toLowerCase()));
  for (const { address, balance } of input.alloc ?? []) {
    if (lowerKeys.has(address.toLowerCase())) throw invalid(`account ${address} is allocated twice`, { address });
    lowerKeys.add(address.toLowerCase());
    alloc[address] = { balance: balance.toString() };
  }
  fields['alloc'] = alloc;
  try {
    return parseChainConfig(fields);
  } catch (cause) {
    if (cause instanceof BulwarkError) throw invalid(`genesis: ${cause.message}`, cause.details);
    throw cause;
  }
}

function quantity(v: unknown): bigint | undefined {
  if ((typeof v !== 'string' && typeof v !== 'number') || !/^(0x[0-9a-fA-F]+|[0-9]+)$/.test(String(v))) return undefined;
  return BigInt(v);
}

/** `0xADDRESS=WEI` with the amount in decimal or 0x-hex. */
export function parseAllocation(text: string): { address: string; balance: bigint } {
  const m = /^(0x[0-9a-fA-F]{40})=(0x[0-9a-fA-F]+|[0-9]+)$/.exec(text.trim());
  if (m === null || m[1] === undefined || m[2] === undefined) {
    throw invalid(`cannot read allocation "${text}" (expected 0x<40 hex digits>=<wei>)`, { alloc: text });
  }
  return { address: m[1], balance: BigInt(m[2]) };
}
