/**
 * Revert data decoded as go-ethereum's `abi.UnpackRevert` does (`Error(string)`, `Panic(uint256)`):
 * the callTracer's `revertReason`, and the reason in a reverted call's error in `eth_simulateV1`
 * (rpc/namespaces/eth-execute.ts). A module of its own because it is not tracing: the RPC layer
 * uses it on simulated calls too.
 */
import { toHex } from '../../common/bytes.ts';
import { quantity } from './format.ts';

/** go-ethereum's panic codes (accounts/abi: `panicReasons`). */
const PANIC_REASONS: Record<string, string> = {
  '0x0': 'generic panic',
  '0x1': 'assert(false)',
  '0x11': 'arithmetic underflow or overflow',
  '0x12': 'division or modulo by zero',
  '0x21': 'enum overflow',
  '0x22': 'invalid encoded storage byte array accessed',
  '0x31': 'out-of-bounds array access; popping on an empty array',
  '0x32': 'out-of-bounds access of an array or bytesN',
  '0x41': 'out of memory',
  '0x51': 'uninitialized function',
};

const utf8 = new TextDecoder();

/** go-ethereum's `abi.UnpackRevert`: the text of `Error(string)` or `Panic(uint256)` revert data. */
export function unpackRevert(data: Uint8Array): string | undefined {
  if (data.length < 4) return undefined;
  const selector = toHex(data.subarray(0, 4));
  const body = data.subarray(4);
  const wordAt = (at: number): bigint | undefined => (at + 32 <= body.length ? BigInt(toHex(body.subarray(at, at + 32))) : undefined);
  if (selector === '0x08c379a0') {
    const offset = wordAt(0);
    if (offset === undefined || offset > BigInt(body.length)) return undefined;
    const length = wordAt(Number(offset));
    const start = Number(offset) + 32;
    if (length === undefined || BigInt(start) + length > BigInt(body.length)) return undefined;
    return utf8.decode(body.subarray(start, start + Number(length)));
  }
  if (selector === '0x4e487b71') {
    const code = wordAt(0);
    if (code === undefined) return undefined;
    return PANIC_REASONS[quantity(code)] ?? `unknown panic code: ${quantity(code)}`;
  }
  return undefined;
}
