/**
 * `txpool_*`: the client node's transaction pool as go-ethereum shows its own. "pending" are the
 * transactions ready or being ordered (consecutive nonces from the sender's committed one),
 * "queued" those waiting behind a nonce gap; senders are keyed by their checksummed address and
 * transactions by their decimal nonce, formatted as pending transactions (null block fields).
 */
import { toChecksumAddress } from '@ethereumjs/util';
import { formatTx, hexQ } from '../format.ts';
import { method, type MethodDef } from '../method.ts';
import { address } from '../params.ts';
import type { PoolPort, PooledTx } from '../ports.ts';

type Group = 'pending' | 'queued';

function byNonce<T>(txs: readonly PooledTx[], f: (t: PooledTx) => T): Record<string, T> {
  const out: Record<string, T> = {};
  for (const t of txs) out[t.nonce.toString()] = f(t);
  return out;
}

function bySender<T>(groups: ReadonlyMap<string, readonly PooledTx[]>, f: (t: PooledTx) => T): Record<string, Record<string, T>> {
  const out: Record<string, Record<string, T>> = {};
  for (const [sender, txs] of groups) out[toChecksumAddress(sender)] = byNonce(txs, f);
  return out;
}

const pendingTx = (t: PooledTx) => formatTx(t.tx, null, null);

/** go-ethereum's one-line summary: `to: value wei + gas gas × price wei` (the fee cap for EIP-1559). */
function summary(t: PooledTx): string {
  const tx = t.tx;
  const price = 'maxFeePerGas' in tx ? tx.maxFeePerGas : tx.gasPrice;
  const rest = `${tx.value} wei + ${tx.gasLimit} gas × ${price} wei`;
  return tx.to === undefined ? `contract creation: ${rest}` : `${toChecksumAddress(tx.to.toString())}: ${rest}`;
}

export function txpoolMethods(pool: PoolPort): Map<string, MethodDef> {
  const grouped = <T>(f: (t: PooledTx) => T): Record<Group, Record<string, Record<string, T>>> => {
    const { pending, queued } = pool.content();
    return { pending: bySender(pending, f), queued: bySender(queued, f) };
  };
  return new Map<string, MethodDef>([
    [
      'txpool_status',
      method([], [], () => {
        const { pending, queued } = pool.status();
        return { pending: hexQ(pending), queued: hexQ(queued) };
      }),
    ],
    ['txpool_content', method([], [], () => grouped(pendingTx))],
    [
      'txpool_contentFrom',
      method([address], [], ([a]) => {
        const { pending, queued } = pool.content();
        return { pending: byNonce(pending.get(a) ?? [], pendingTx), queued: byNonce(queued.get(a) ?? [], pendingTx) };
      }),
    ],
    ['txpool_inspect', method([], [], () => grouped(summary))],
  ]);
}
