import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NodeKeyBook } from '../../src/consensus/node-keys.ts';
import { decodeNodeKeyPublication, encodeNodeKeyPublication } from '../../src/codec/key-requests.ts';
import { decodeNodeKeyRecord, encodeNodeKeyRecord, type NodeKeyRecord } from '../../src/codec/reserved-pages.ts';
import { GENESIS_CONFIGURATION, NO_OPERATOR_STATE, decodeOperatorState, encodeOperatorState } from '../../src/codec/reserved-pages.ts';
import { encodeOperatorCommand } from '../../src/codec/operator-command.ts';
import { encodeTlsIntroduction, nodeKeyScheme, signNodeKeyPublication, verifyTlsIntroduction } from '../../src/consensus/node-key-scheme.ts';
import { exportNodeAuthPublicKey, generateNodeAuthKeyPair, nodeAuthPublicKeyOf, signNodeAuth, type NodeAuthPrivateKey } from '../../src/crypto/node-auth.ts';
import { executionKeysOf } from '../../src/client/execution-keys.ts';
import { generateTlsIdentity } from '../../src/setup/tls-identity.ts';

const ed = () => generateNodeAuthKeyPair('ed25519').privateKey;
const spki = (k: NodeAuthPrivateKey) => exportNodeAuthPublicKey(nodeAuthPublicKeyOf(k));
const tls = () => generateTlsIdentity({ commonName: 'bulwark replica 0', host: '127.0.0.1' });
const p384 = (key: ReturnType<typeof tls>['key']): NodeAuthPrivateKey => ({ algorithm: 'p384', type: 'private', key });

function book(exec0: NodeAuthPrivateKey, tls0: ReturnType<typeof tls>) {
  return new NodeKeyBook(nodeKeyScheme, [
    { kind: 'execution', node: 0, publicKey: spki(exec0), key: nodeAuthPublicKeyOf(exec0) },
    { kind: 'tls', node: 0, publicKey: tls0.certificate.der, key: nodeKeyScheme.parse('tls', tls0.certificate.der)! },
  ]);
}

const record = (p: ReturnType<typeof signNodeKeyPublication>, effectiveSeq: number): NodeKeyRecord => ({ ...p, effectiveSeq, publishedSeq: effectiveSeq - 31 });

test('a publication possessed by the new key and endorsed by the old one follows; the key in effect moves at its sequence number', () => {
  const exec0 = ed();
  const exec1 = ed();
  const b = book(exec0, tls());
  const p = signNodeKeyPublication({ kind: 'execution', node: 0, epoch: 1, publicKey: spki(exec1) }, exec1, exec0);
  assert.deepEqual(decodeNodeKeyPublication(encodeNodeKeyPublication(p)), p);
  assert.equal(b.problem(p), null);
  const r = record(p, 41);
  assert.deepEqual(decodeNodeKeyRecord(encodeNodeKeyRecord(r)), r);
  assert.ok(b.add(r));
  assert.equal(b.recordAt('execution', 0, 40)!.epoch, 0);
  assert.equal(b.recordAt('execution', 0, 41)!.epoch, 1);
  assert.equal(b.lastSwitch, 41);
  assert.equal(b.published().length, 1);
  // The previous key is still accepted for requests during the grace after the switch, not after it.
  assert.equal(b.keysFor('execution', 0, 41, 10).length, 2);
  assert.equal(b.keysFor('execution', 0, 51, 10).length, 1);
  assert.equal(b.keysFor('execution', 0, 40, 10).length, 1);
  // Adding the same record again is harmless; a regression or a gap is not taken.
  assert.ok(b.add(r));
  assert.equal(b.add({ ...r, epoch: 3 }), false);
});

test('a rogue key (possession or endorsement missing or by another key) and a wrong epoch are refused, naming why', () => {
  const exec0 = ed();
  const exec1 = ed();
  const other = ed();
  const b = book(exec0, tls());
  const publicKey = spki(exec1);
  assert.match(b.problem(signNodeKeyPublication({ kind: 'execution', node: 0, epoch: 1, publicKey }, other, exec0))!, /possession/);
  assert.match(b.problem(signNodeKeyPublication({ kind: 'execution', node: 0, epoch: 1, publicKey }, exec1, other))!, /not endorsed by execution key epoch 0/);
  assert.match(b.problem(signNodeKeyPublication({ kind: 'execution', node: 0, epoch: 2, publicKey }, exec1, exec0))!, /epoch 2 is not the next one/);
  assert.match(b.problem(signNodeKeyPublication({ kind: 'execution', node: 5, epoch: 1, publicKey }, exec1, exec0))!, /no execution key/);
  assert.match(b.problem({ kind: 'execution', node: 0, epoch: 1, publicKey: new Uint8Array([1, 2, 3]), possession: new Uint8Array(64), endorsement: new Uint8Array(64) })!, /not a valid execution key/);
  // A signature over another node's statement does not carry over.
  const forOne = signNodeKeyPublication({ kind: 'execution', node: 1, epoch: 1, publicKey }, exec1, exec0);
  assert.notEqual(b.problem({ ...forOne, node: 0 }), null);
});

test('TLS certificates: a P-384 certificate rotates; anything else is not a TLS key; pins follow the switch', () => {
  const tls0 = tls();
  const tls1 = tls();
  const b = book(ed(), tls0);
  const p = signNodeKeyPublication({ kind: 'tls', node: 0, epoch: 1, publicKey: tls1.certificate.der }, p384(tls1.key), p384(tls0.key));
  assert.equal(b.problem(p), null);
  // Not a certificate, or a key of another kind: not a TLS key.
  assert.equal(nodeKeyScheme.parse('tls', spki(ed())), null);
  assert.equal(nodeKeyScheme.parse('tls', new Uint8Array(300)), null);
  assert.equal(nodeKeyScheme.parse('execution', tls1.certificate.der), null);
  assert.ok(b.add(record(p, 61)));
  const der = (pins: Uint8Array[]) => pins.map((x) => Buffer.from(x).toString('hex'));
  const old = Buffer.from(tls0.certificate.der).toString('hex');
  const fresh = Buffer.from(tls1.certificate.der).toString('hex');
  // Before the switch: the old one in effect, the new one already accepted.
  assert.deepEqual(der(b.tlsPins(0, 30, 20)), [old, fresh]);
  // After it, until a stable checkpoint is past it: the new one, and the old one for laggards.
  assert.deepEqual(der(b.tlsPins(0, 70, 50)), [fresh, old]);
  // Then only the new one.
  assert.deepEqual(der(b.tlsPins(0, 80, 70)), [fresh]);
});

test('operator state: node key targets and the wedge point round-trip, and a state written before them still decodes', () => {
  const state = { nonce: 7, lastRotationAt: 1000, targets: new Map([[1, 2]]), nodeTargets: new Map([['tls:4', 1], ['execution:0', 3]]), wedgeAt: 0, configuration: GENESIS_CONFIGURATION, reconfiguration: null };
  assert.deepEqual(decodeOperatorState(encodeOperatorState(state)), state);
  // Wedged: the point is written after the lists; not wedged, nothing is (the bytes of before).
  const wedged = { ...state, wedgeAt: 160 };
  assert.deepEqual(decodeOperatorState(encodeOperatorState(wedged)), wedged);
  assert.equal(encodeOperatorState(wedged).length, encodeOperatorState(state).length + 8);
  const before = encodeOperatorState({ ...state, nodeTargets: new Map() }).subarray(0, -4); // no trailing list
  assert.deepEqual(decodeOperatorState(before), { ...state, nodeTargets: new Map() });
  // A reconfiguration under way, then taken up: the configuration part follows the wedge point
  // (written even when 0), and only one encoding of each state decodes.
  const digest = (b: number) => new Uint8Array(32).fill(b);
  const reconfiguring = { ...wedged, reconfiguration: digest(0xaa) };
  assert.deepEqual(decodeOperatorState(encodeOperatorState(reconfiguring)), reconfiguring);
  const epoch1 = { ...state, configuration: { epoch: 1, network: digest(0xaa), fromSeq: 301 } };
  assert.deepEqual(decodeOperatorState(encodeOperatorState(epoch1)), epoch1);
  assert.equal(encodeOperatorState(epoch1).length, encodeOperatorState(state).length + 8 + 4 + 32 + 8 + 1);
  const again = { ...epoch1, wedgeAt: 300, reconfiguration: digest(0xbb) };
  assert.deepEqual(decodeOperatorState(encodeOperatorState(again)), again);
  const zeroWedge = Uint8Array.from([...encodeOperatorState(state), 0, 0, 0, 0, 0, 0, 0, 0]);
  assert.throws(() => decodeOperatorState(zeroWedge), /a wedge point of 0 is written as none/);
  const genesisNothing = Uint8Array.from([...zeroWedge, 0, 0, 0, 0, 0]);
  assert.throws(() => decodeOperatorState(genesisNothing), /written as none/);
  assert.deepEqual(decodeOperatorState(encodeOperatorState(NO_OPERATOR_STATE)), NO_OPERATOR_STATE);
  // A consensus-only command keeps its original encoding (kind 1).
  const legacy = encodeOperatorCommand({ kind: 'rotate-consensus-keys', replicas: [1], nonce: 5 }, 1337n);
  const general = encodeOperatorCommand({ kind: 'rotate-keys', consensus: [1], execution: [], auth: [], tls: [], nonce: 5 }, 1337n);
  assert.notDeepEqual(legacy, general);
});

test('a TLS introduction proves a certificate by its endorsement chain back to a pinned one, and nothing else', () => {
  const certs = [tls(), tls(), tls()];
  const records = [1, 2].map((epoch) =>
    record(signNodeKeyPublication({ kind: 'tls', node: 3, epoch, publicKey: certs[epoch]!.certificate.der }, p384(certs[epoch]!.key), p384(certs[epoch - 1]!.key)), 40 * epoch),
  );
  const der = (i: number) => certs[i]!.certificate.der;
  const intro = encodeTlsIntroduction(records);
  assert.ok(verifyTlsIntroduction(3, der(2), [der(0)], intro), 'from the network file certificate');
  assert.ok(verifyTlsIntroduction(3, der(2), [der(1)], intro), 'from a later one');
  assert.ok(verifyTlsIntroduction(3, der(1), [der(0)], encodeTlsIntroduction(records.slice(0, 1))));
  assert.equal(verifyTlsIntroduction(3, der(1), [der(0)], intro), false, 'the chain must end at the certificate presented');
  assert.equal(verifyTlsIntroduction(3, der(2), [tls().certificate.der], intro), false, 'no pinned anchor');
  assert.equal(verifyTlsIntroduction(4, der(2), [der(0)], intro), false, "another node's chain");
  const stranger = tls();
  const forged = record(signNodeKeyPublication({ kind: 'tls', node: 3, epoch: 2, publicKey: stranger.certificate.der }, p384(stranger.key), p384(stranger.key)), 80);
  assert.equal(verifyTlsIntroduction(3, stranger.certificate.der, [der(0)], encodeTlsIntroduction([records[0]!, forged])), false, 'an endorsement by the wrong key');
  assert.equal(verifyTlsIntroduction(3, der(2), [der(0)], encodeTlsIntroduction([records[1]!])), false, 'a gap');
  assert.equal(verifyTlsIntroduction(3, der(2), [der(0)], new Uint8Array([1, 2, 3])), false);
});

test("a client node's execution-key check remembers a verified signature only for the same replica, sequence number and message", () => {
  const exec0 = ed();
  const exec1 = ed();
  const b = book(exec0, tls());
  assert.ok(b.add(record(signNodeKeyPublication({ kind: 'execution', node: 0, epoch: 1, publicKey: spki(exec1) }, exec1, exec0), 41)));
  const keys = executionKeysOf(b, 1);
  const message = new TextEncoder().encode('reply bytes of seq 7');
  const signature = signNodeAuth(exec0, message);
  assert.ok(keys.verify(0, message, signature, 7));
  assert.ok(keys.verify(0, message, signature, 7), 'again (the block notice): remembered');
  assert.ok(!keys.verify(0, new TextEncoder().encode('other bytes'), signature, 7), 'the same signature on other bytes');
  assert.ok(!keys.verify(0, message, signature, 41), 'at a sequence number where another key is in effect');
  assert.ok(!keys.verify(1, message, signature, 7), 'from a replica that does not exist');
  const forged = Uint8Array.from(signature, (x, i) => (i === 0 ? x ^ 1 : x));
  assert.ok(!keys.verify(0, message, forged, 7));
  const signature1 = signNodeAuth(exec1, message);
  assert.ok(keys.verify(0, message, signature1, 41) && !keys.verify(0, message, signature1, 7), 'each key at its own sequence numbers');
});
