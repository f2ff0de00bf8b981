// What judging an introduction costs and what it checks, without sockets: a hostile introduction is
// refused after cheap checks (the old judge spent seconds on 1,024 records), and an introduction is
// held against the TLS records this node has from consensus, so a stolen retired key cannot pin a
// certificate of its own for an epoch this node knows (rotation does not revoke the old key).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeTlsIntroduction, encodeTlsIntroduction, verifyTlsIntroduction } from '../../src/consensus/node-key-scheme.ts';
import { decodeControl } from '../../src/net/frame.ts';
import { tlsIntroductions } from '../../src/setup/node-key-lifecycle.ts';
import { testNetwork } from '../helpers/net.ts';
import { attackerIdentity, forgedIntroduction, heavyIntroduction, rotations, tlsBook, tlsRecord } from '../helpers/hostile-net.ts';

const net = await testNetwork(4, 1, 'net-introduction-limits');
const PEER = 3;
const LIMITS = { maxRecords: 16 };
const original = { key: net.replicas[PEER]!.tls.key, certificate: net.replicas[PEER]!.tls.certificate };
const bytesOf = (frame: Buffer): Uint8Array => {
  const c = decodeControl(frame.subarray(8));
  assert.equal(c.kind, 'introduction');
  return c.kind === 'introduction' ? c.bytes : new Uint8Array();
};
/** Replica 0's judge, with a book that knows `known` of PEER's `records`. */
function judgeKnowing(records: ReturnType<typeof rotations>['records'], known: number) {
  const book = tlsBook(net);
  for (const r of records.slice(0, known)) assert.ok(book.add(r));
  const { introduce } = tlsIntroductions(book, 0);
  return { book, introduce: (presented: Uint8Array, bytes: Uint8Array) => introduce(PEER, presented, book.tlsPins(PEER, 0, 0), bytes, LIMITS) };
}
const timed = <T>(run: () => T): { value: T; ms: number } => {
  const t = performance.now();
  const value = run();
  return { value, ms: performance.now() - t };
};

test('an introduction of more records than the limit is refused before any is decoded', () => {
  const attacker = attackerIdentity();
  const heavy = heavyIntroduction(PEER, original, attacker);
  const { introduce } = judgeKnowing([], 0);
  const { value, ms } = timed(() => introduce(attacker.certificate.der, bytesOf(heavy)));
  assert.match(String(value), /more than 16 records/);
  assert.ok(ms < 50, `refused in ${ms.toFixed(1)} ms (the unbounded judge took over a second)`);
  // The pins-only check is bounded the same way.
  const plain = timed(() => verifyTlsIntroduction(PEER, attacker.certificate.der, [original.certificate.der], bytesOf(heavy)));
  assert.equal(plain.value, false);
  assert.ok(plain.ms < 50, `verifyTlsIntroduction refused in ${plain.ms.toFixed(1)} ms`);
  assert.equal(decodeTlsIntroduction(bytesOf(heavy), 16), null);
});

test('a forged introduction within the limit costs one failed endorsement check', () => {
  const attacker = attackerIdentity();
  const forged = bytesOf(forgedIntroduction(PEER, attacker, 16));
  const { introduce } = judgeKnowing([], 0);
  assert.match(String(introduce(attacker.certificate.der, forged)), /epoch 1: not endorsed by the previous certificate/);
  const { ms } = timed(() => {
    for (let i = 0; i < 20; i++) introduce(attacker.certificate.der, forged);
  });
  assert.ok(ms / 20 < 20, `${(ms / 20).toFixed(2)} ms each`);
  // Shapes refused before any signature: another certificate than the one presented, a gap.
  assert.match(String(introduce(attackerIdentity().certificate.der, forged)), /not the certificate presented/);
});

test("a node that knows a peer's epochs 0..2 refuses a different epoch-2 certificate endorsed by the retired epoch-1 key", () => {
  const { certs, records } = rotations(PEER, original, 2);
  const { book, introduce } = judgeKnowing(records, 2);
  // Whoever stole the retired epoch-1 key endorses a certificate of their own as epoch 2.
  const thief = attackerIdentity(`bulwark replica ${PEER}`);
  const forged = tlsRecord(PEER, 2, thief, certs[1]!.key);
  const stolen = (rs: typeof records) => introduce(thief.certificate.der, encodeTlsIntroduction(rs));
  assert.match(String(stolen([records[0]!, forged])), /epoch 2 record is not the one this node has from consensus/);
  assert.match(String(stolen([forged])), /epoch 2 record is not the one this node has from consensus/);
  // The chain alone would have passed: the endorsement by the epoch-1 key is genuine.
  const pins = book.tlsPins(PEER, 150, 100); // epoch 2 published, epoch 1 in effect: both pinned
  assert.equal(verifyTlsIntroduction(PEER, thief.certificate.der, pins, encodeTlsIntroduction([records[0]!, forged])), true);
  // The genuine epoch 2 is accepted; and a node that knows epoch 2 refuses epoch 1, which it superseded.
  assert.equal(introduce(certs[2]!.certificate.der, encodeTlsIntroduction(records)), true);
  assert.match(String(introduce(certs[1]!.certificate.der, encodeTlsIntroduction(records.slice(0, 1)))), /epoch 1 is older than epoch 2/);
  // A forged epoch 3, endorsed by the retired epoch-1 key rather than epoch 2's, fails its signature.
  const forged3 = tlsRecord(PEER, 3, thief, certs[1]!.key);
  assert.match(String(stolen([...records, forged3])), /epoch 3: not endorsed/);
});

test('a node that missed rotations accepts the chain from the newest certificate it knows, and nothing that skips it', () => {
  const { certs, records } = rotations(PEER, original, 3);
  const { introduce } = judgeKnowing(records, 1);
  assert.equal(introduce(certs[3]!.certificate.der, encodeTlsIntroduction(records)), true, 'the whole history');
  assert.equal(introduce(certs[3]!.certificate.der, encodeTlsIntroduction(records.slice(1))), true, 'from the first epoch it does not know');
  assert.match(String(introduce(certs[3]!.certificate.der, encodeTlsIntroduction(records.slice(2)))), /start after epoch 2/);
  // Not a record of this node's TLS key.
  const other = records.map((r) => ({ ...r, node: 2 }));
  assert.match(String(introduce(certs[3]!.certificate.der, encodeTlsIntroduction(other))), /node 2's tls key/);
});

test('a node introduces itself with its newest records only; a peer that far behind cannot be introduced', () => {
  const { certs, records } = rotations(PEER, original, 18);
  const sender = tlsBook(net);
  for (const r of records) assert.ok(sender.add(r));
  const intro = tlsIntroductions(sender, PEER).introduction(LIMITS)!;
  const sent = decodeTlsIntroduction(intro, 16)!;
  assert.deepEqual(sent.map((r) => r.epoch), Array.from({ length: 16 }, (_, i) => i + 3));
  assert.equal(judgeKnowing(records, 2).introduce(certs[18]!.certificate.der, intro), true, 'knows epoch 2: the chain starts at 3');
  assert.match(String(judgeKnowing(records, 1).introduce(certs[18]!.certificate.der, intro)), /start after epoch 2/);
});
