/**
 * Byzantine behaviours as decorators over an honest replica: each rewrites what the replica's
 * state machine sends, signing only with the replica's own keys (it has no others).
 */
import type { ReplicaMessage } from '../../../src/codec/messages.ts';
import { checkpointBytes, commitShareBytes, viewChangeBytes } from '../../../src/codec/signing.ts';
import type { Behaviour, Sent, SimReplica } from './node.ts';
import type { Prng } from './prng.ts';

const keep = (s: Sent): Sent[] => [s];

/** Sends nothing at all: a crashed-looking but connected replica. */
export const silent: Behaviour = { name: 'silent', onSend: () => [] };

/** As primary, proposes one batch to half the backups and a different one to the others. */
export const equivocatingPrimary: Behaviour = {
  name: 'equivocating-primary',
  onSend(_node, s) {
    if (s.message.type !== 'PrePrepare' || s.to.length < 2) return keep(s);
    const m = s.message;
    // The primary keeps the smaller side, so neither batch reaches a quorum honestly.
    const half = Math.floor(s.to.length / 2);
    const other = { ...m, batch: { ...m.batch, timestamp: m.batch.timestamp + 1 } };
    return [
      { to: s.to.slice(0, half), message: m },
      { to: s.to.slice(half), message: other },
    ];
  },
};

/** A primary that stops proposing (but otherwise takes part). */
export const silentPrimary: Behaviour = {
  name: 'silent-primary',
  onSend: (_node, s) => (s.message.type === 'PrePrepare' ? [] : keep(s)),
};

function flip(b: Uint8Array): Uint8Array {
  const out = b.slice();
  out[out.length - 1]! ^= 0xff;
  return out;
}

/** Signature shares that do not verify. */
export const badShares: Behaviour = {
  name: 'bad-shares',
  onSend(_node, s) {
    const m = s.message;
    if (m.type === 'CommitShare' || m.type === 'CommitPartial') return [{ to: s.to, message: { ...m, signature: flip(m.signature) } }];
    return keep(s);
  },
};

/** Valid signatures, over a digest that nobody proposed. */
export const wrongDigest: Behaviour = {
  name: 'wrong-digest',
  onSend(node, s) {
    const m = s.message;
    if (m.type !== 'CommitShare') return keep(s);
    const digest = flip(m.digest);
    const signature = node.crypto.sign('consensus', commitShareBytes(m.view, m.seq, digest), m.seq);
    return [{ to: s.to, message: { ...m, digest, signature } }];
  },
};

/** Certificates whose signer bit-vector claims replicas that did not sign. */
export const forgedBitVector: Behaviour = {
  name: 'forged-bitvector',
  onSend(_node, s) {
    const m = s.message;
    if (m.type !== 'FullCommitProof' && m.type !== 'PrepareFull' && m.type !== 'CommitFull') return keep(s);
    const signers = m.cert.signers.slice();
    signers[0] = signers[0]! ^ 0x01; // toggles replica 0's bit
    return [{ to: s.to, message: { ...m, cert: { ...m.cert, signers } } }];
  },
};

/** Checkpoints over a state it did not reach (properly signed), alternating with broken signatures. */
export function corruptCheckpoint(): Behaviour {
  let sent = 0;
  return {
    name: 'corrupt-checkpoint',
    onSend(node, s) {
      const m = s.message;
      if (m.type !== 'Checkpoint') return keep(s);
      if (sent++ % 2 === 1) return [{ to: s.to, message: { ...m, signature: flip(m.signature) } }];
      const summary = { ...m.summary, stateRoot: flip(m.summary.stateRoot) };
      return [{ to: s.to, message: { ...m, summary, signature: node.crypto.sign('checkpoint', checkpointBytes(m.seq, summary), m.seq) } }];
    },
  };
}

/** Re-sends messages it sent in earlier views, at random moments, to random replicas. */
export function replayer(prng: Prng, n: number): Behaviour {
  const old: ReplicaMessage[] = [];
  return {
    name: 'replayer',
    onSend(node, s) {
      const m = s.message;
      if (m.type !== 'Request' && m.type !== 'Reply' && m.type !== 'BlockNotice' && old.length < 500) old.push(m);
      if (old.length > 10 && prng.chance(0.2)) {
        const m = prng.pick(old);
        node.inject([prng.int(0, n - 1)].filter((r) => r !== node.id), m);
      }
      return keep(s);
    },
  };
}

/**
 * With every Status it sends, also asks every replica for a view far above the last one it asked
 * for: properly signed ViewChanges (empty, over its stable checkpoint) for ever-higher views. One
 * replica alone is never followed (f + 1 are needed); what this tests is that each costs its
 * victims one signature check and one message held, however many and however high.
 */
export function viewChangeFlood(): Behaviour {
  let asked = 0;
  return {
    name: 'view-change-flood',
    onSend(node, s) {
      const state = node.state;
      if (s.message.type !== 'Status' || state === null) return keep(s);
      asked = Math.max(asked, state.view) + 1_000;
      const body = { view: asked, replica: node.id, stable: state.stableCert, slots: [] };
      const signature = node.crypto.sign('consensus', viewChangeBytes(body), (body.stable?.seq ?? 0) + 1);
      node.inject(s.to, { type: 'ViewChange', ...body, signature });
      return keep(s);
    },
  };
}

/**
 * Asks every replica for catch-up help from the start of the ledger with every Status it sends,
 * several times over, and repeats its checkpoints with broken signatures: cheap to send, and
 * each once cost its victims a read of many batches or a signature check.
 */
export const helpAndCheckpointFlood: Behaviour = {
  name: 'help-and-checkpoint-flood',
  onSend(node, s) {
    const m = s.message;
    if (m.type === 'Status') {
      for (const victim of s.to) for (let i = 0; i < 5; i++) node.inject([victim], { ...m, lastExecuted: 0, helpFrom: victim });
      return [];
    }
    if (m.type === 'Checkpoint') {
      for (let i = 0; i < 5; i++) node.inject(s.to, { ...m, signature: flip(m.signature) });
      return keep(s);
    }
    return keep(s);
  },
};

export function byName(name: string, prng: Prng, n: number): Behaviour {
  switch (name) {
    case 'silent':
      return silent;
    case 'equivocating-primary':
      return equivocatingPrimary;
    case 'silent-primary':
      return silentPrimary;
    case 'bad-shares':
      return badShares;
    case 'wrong-digest':
      return wrongDigest;
    case 'forged-bitvector':
      return forgedBitVector;
    case 'corrupt-checkpoint':
      return corruptCheckpoint();
    case 'replayer':
      return replayer(prng, n);
    case 'view-change-flood':
      return viewChangeFlood();
    case 'help-and-checkpoint-flood':
      return helpAndCheckpointFlood;
    default:
      throw new Error(`unknown behaviour ${name}`);
  }
}

export const BEHAVIOURS = [
  'silent',
  'equivocating-primary',
  'silent-primary',
  'bad-shares',
  'wrong-digest',
  'forged-bitvector',
  'corrupt-checkpoint',
  'replayer',
] as const;

/** Load and flooding behaviours, drawn by the sweep on a draw of their own (random.ts). */
export const FLOODS = ['view-change-flood', 'help-and-checkpoint-flood'] as const;

export type { SimReplica };
