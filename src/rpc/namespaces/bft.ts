/**
 * The `bft_` namespace: what is ours. `bft_status` tells where the replicas stand — each one's own
 * signed account (view, view change under way, last executed and stable sequence numbers, head
 * block), its link from this node, and the figures at least f + 1 of them report reaching.
 */
import type { Block } from '@ethereumjs/block';
import { reachedByFPlusOne, type NodeStatusClient } from '../../client/node-status.ts';
import { hexD } from '../format.ts';
import { method, type MethodDef } from '../method.ts';

export interface BftBackend {
  readonly clientId: number;
  readonly f: number;
  readonly status: NodeStatusClient;
  /** Link state per replica id. */
  links(): readonly { readonly peer: number; readonly connected: boolean }[];
  head(): Block;
}

export function bftMethods(b: BftBackend): Map<string, MethodDef> {
  return new Map<string, MethodDef>([
    [
      'bft_status',
      method([], [], async () => {
        const round = await b.status.query();
        const answered = round.replicas.filter((r) => r !== null);
        const view = reachedByFPlusOne(answered.map((r) => r.view), b.f);
        const links = new Map(b.links().map((l) => [l.peer, l.connected]));
        const head = b.head();
        return {
          client: b.clientId,
          replicas: round.replicas.length,
          f: b.f,
          view,
          primary: view % round.replicas.length,
          lastExecuted: reachedByFPlusOne(answered.map((r) => r.lastExecuted), b.f),
          stableCheckpoint: reachedByFPlusOne(answered.map((r) => r.lastStable), b.f),
          mirror: { block: Number(head.header.number), hash: hexD(head.hash()) },
          nodes: round.replicas.map((r, id) => ({
            replica: id,
            link: links.get(id) === true ? 'up' : 'down',
            ...(r === null
              ? { answered: false }
              : {
                  answered: true,
                  view: r.view,
                  viewChange: !r.active,
                  lastExecuted: r.lastExecuted,
                  stableCheckpoint: r.lastStable,
                  block: r.blockNumber,
                  blockHash: hexD(r.blockHash),
                }),
          })),
        };
      }),
    ],
  ]);
}
