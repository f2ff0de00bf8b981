import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ALPN, dials, linked, PinSet } from '../../src/net/pinning.ts';
import type { TlsNode } from '../../src/net/tls-options.ts';

const cert = (id: number): Uint8Array => Uint8Array.from([0x30, id, 1, 2, 3]);
const node = (id: number, role: 'replica' | 'client'): TlsNode => ({ id, role, host: '127.0.0.1', port: 1000 + id, certificate: cert(id) });
// Four replicas and two client nodes.
const nodes = [node(0, 'replica'), node(1, 'replica'), node(2, 'replica'), node(3, 'replica'), node(4, 'client'), node(5, 'client')];
const [r0, r1, , r3, c4, c5] = nodes as [TlsNode, TlsNode, TlsNode, TlsNode, TlsNode, TlsNode];

test('one link per pair: the higher id dials; client nodes dial replicas and never each other', () => {
  for (const a of nodes) {
    for (const b of nodes) {
      if (a === b) continue;
      const expectLinked = a.role === 'replica' || b.role === 'replica';
      assert.equal(linked(a, b), expectLinked, `${a.id}-${b.id}`);
      if (expectLinked) assert.equal(dials(a, b) !== dials(b, a), true, `exactly one of ${a.id}, ${b.id} dials`);
    }
  }
  assert.equal(dials(r3, r0), true);
  assert.equal(dials(r0, r3), false);
  assert.equal(dials(c4, r3), true);
  assert.equal(dials(c5, c4), false);
});

test('an inbound connection is the node whose pinned certificate it presented, and nothing else', () => {
  const pins = new PinSet(nodes);
  assert.equal(pins.lookup(cert(2))?.id, 2);
  assert.equal(pins.lookup(Uint8Array.from([0x30, 2, 1, 2])), undefined, 'a prefix is not the pin');
  assert.equal(pins.lookup(Uint8Array.from([0x30, 2, 1, 2, 3, 0])), undefined, 'an extension is not the pin');
  assert.equal(pins.lookup(undefined), undefined);

  assert.deepEqual(pins.judgeInbound(r1, cert(3), ALPN.replica), { ok: true, node: r3 });
  assert.deepEqual(pins.judgeInbound(r1, cert(4), ALPN.client), { ok: true, node: c4 });
  const reason = (self: TlsNode, der: Uint8Array | undefined, alpn: string | false) => {
    const v = pins.judgeInbound(self, der, alpn);
    return v.ok ? 'ok' : v.reason;
  };
  assert.equal(reason(r1, undefined, ALPN.replica), 'no-certificate');
  assert.equal(reason(r1, Uint8Array.of(9, 9), ALPN.replica), 'unknown-certificate');
  assert.equal(reason(r1, cert(4), ALPN.replica), 'wrong-role', 'a client certificate on a replica link');
  assert.equal(reason(r1, cert(3), ALPN.client), 'wrong-role', 'a replica certificate on a client link');
  assert.equal(reason(r1, cert(3), false), 'wrong-role', 'no ALPN at all');
  assert.equal(reason(r1, cert(0), ALPN.replica), 'wrong-direction', 'a lower replica never dials a higher one');
  assert.equal(reason(r1, cert(1), ALPN.replica), 'wrong-direction', 'itself');
  assert.equal(reason(r1, cert(2), ALPN.replica), 'ok');
});
