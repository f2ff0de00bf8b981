// A client node following a reconfiguration (node/configuration.ts `ConfigurationFollower`): it
// asks the replicas for the network file f + 1 of them name by digest, takes only an answer with
// that digest and that lists this node as it is, writes it as network.json and asks for a restart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { decodeMessage } from '../../src/codec/message-codec.ts';
import type { ConfigurationFile } from '../../src/codec/messages.ts';
import { parseChainConfig } from '../../src/execution/chain-config.ts';
import { ConfigurationFollower } from '../../src/node/configuration.ts';
import { generateNetwork } from '../../src/setup/generate.ts';
import { parseNetworkFile, serializeNetworkFile } from '../../src/setup/network-file.ts';
import { planReconfiguration } from '../../src/setup/reconfigure.ts';

const chainConfig = parseChainConfig({ chainId: 1337 });
const current = generateNetwork({ topology: { f: 1, clients: 2, maxReplicas: 7 }, chainConfig, seed: new Uint8Array(32).fill(4) });
const joiner = generateNetwork({ topology: { replicas: 5, clients: 0 }, chainConfig, seed: new Uint8Array(32).fill(5) }).network.json.replicas[4]!;
const next = planReconfiguration(current.network, { add: [{ ...joiner, port: 7299 }], remove: [] });
const self = 7;

function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'bulwark-follow-'));
  writeFileSync(join(dir, 'network.json'), current.text);
  const sent: { to: number; type: string; id: number; epoch: number }[] = [];
  let restarts = 0;
  const follower = new ConfigurationFollower({
    dir,
    network: current.network,
    self,
    log: pino({ level: 'silent' }),
    send: (to, frame) => {
      const m = decodeMessage(frame);
      assert.equal(m.type, 'ConfigurationRequest');
      if (m.type === 'ConfigurationRequest') sent.push({ to, type: m.type, id: m.id, epoch: m.epoch });
    },
    onReconfigured: () => restarts++,
  });
  const answer = (text: string, id = sent[sent.length - 1]!.id): ConfigurationFile => ({ type: 'ConfigurationFile', id, epoch: 1, network: new TextEncoder().encode(text) });
  return { dir, sent, follower, answer, restarts: () => restarts, done: () => rmSync(dir, { recursive: true, force: true }) };
}

const settle = () => new Promise((r) => setTimeout(r, 50));

test('asks every replica it knows once f + 1 name a later configuration, and again only after 5 s', () => {
  const t = setup();
  try {
    t.follower.consider(undefined);
    t.follower.consider({ epoch: 0, network: 'aa' });
    assert.equal(t.sent.length, 0, 'nothing asked for the configuration it runs');
    t.follower.consider({ epoch: 1, network: next.next.digest }, 1_000);
    assert.deepEqual(t.sent.map((s) => [s.to, s.epoch]), [[0, 1], [1, 1], [2, 1], [3, 1]]);
    t.follower.consider({ epoch: 1, network: next.next.digest }, 3_000);
    assert.equal(t.sent.length, 4);
    t.follower.consider({ epoch: 1, network: next.next.digest }, 7_000);
    assert.equal(t.sent.length, 8);
  } finally {
    t.done();
  }
});

test('an answer with another digest, another request id or that does not load is ignored; the agreed file is written and a restart asked', async () => {
  const t = setup();
  try {
    t.follower.consider({ epoch: 1, network: next.next.digest });
    const other = planReconfiguration(current.network, { add: [{ ...joiner, port: 7298 }], remove: [] });
    t.follower.onMessage(1, t.answer(other.text));
    t.follower.onMessage(1, t.answer(next.text, 12345));
    t.follower.onMessage(2, t.answer('{ not json'));
    await settle();
    assert.equal(t.restarts(), 0);
    assert.equal(readFileSync(join(t.dir, 'network.json'), 'utf8'), current.text);
    t.follower.onMessage(3, t.answer(next.text));
    await settle();
    assert.equal(t.restarts(), 1);
    assert.equal(readFileSync(join(t.dir, 'network.json'), 'utf8'), next.text);
    t.follower.onMessage(0, t.answer(next.text));
    await settle();
    assert.equal(t.restarts(), 1, 'one restart');
  } finally {
    t.done();
  }
});

test('a file that lists this client node otherwise is not taken, even when it is the one the replicas name', async () => {
  const t = setup();
  try {
    const json = structuredClone(next.next.json);
    json.clients[0]!.port = 7399; // this node (id 7) moved: the operator's call, not the node's
    const moved = parseNetworkFile(json, 'moved');
    t.follower.consider({ epoch: 1, network: moved.digest });
    t.follower.onMessage(0, t.answer(serializeNetworkFile(moved.json)));
    await settle();
    assert.equal(t.restarts(), 0);
    assert.equal(readFileSync(join(t.dir, 'network.json'), 'utf8'), current.text);
  } finally {
    t.done();
  }
});
