// `bulwark verify-ledger` as a process: a copy of a replica's directory taken while the network runs
// and transactions flow (RocksDB's LOCK file and an open log copied with it) checks out (exit 0);
// a copy with one byte of a header changed exits 1 naming the block; bad usage exits 2.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initHashes } from '../../src/crypto/hash.ts';
import { buildCommon } from '../../src/execution/common.ts';
import { openRocksStore } from '../../src/storage/rocksdb.ts';
import { PREFIX } from '../../src/storage/prefixes.ts';
import { bytecode } from '../helpers/abi.ts';
import { CHAIN_ID, signTx, testKey } from '../helpers/chain.ts';
import { bulwark } from '../helpers/cli.ts';
import { startInProcessNetwork, type InProcessNetwork } from '../helpers/in-process-network.ts';
import { rpcClient, type Rpc } from '../helpers/rpc.ts';

await initHashes();

let net: InProcessNetwork;
let rpc: Rpc;
let scratch: string;
let live: string;

before(async () => {
  net = await startInProcessNetwork(0xd8, { consensus: { checkpointInterval: 4 } });
  rpc = rpcClient(net.url);
  scratch = await mkdtemp(join(tmpdir(), 'bulwark-verify-cli-'));
  const common = buildCommon(CHAIN_ID);
  await rpc.send(signTx(common, testKey(0), { nonce: 0n, data: bytecode('Token', 1_000n), gasLimit: 1_000_000n }));
  // Transactions keep flowing while the directory is copied.
  let stop = false;
  const flowing = (async () => {
    for (let nonce = 0n; !stop; nonce++) {
      await rpc.send(signTx(common, testKey(2), { nonce, to: '0x00000000000000000000000000000000000000c2', value: 1n, gasLimit: 21_000n }));
    }
  })();
  await new Promise((r) => setTimeout(r, 400));
  live = join(scratch, 'replica-2-live');
  await cp(join(net.root, 'replica-2'), live, { recursive: true });
  await new Promise((r) => setTimeout(r, 200));
  stop = true;
  await flowing;
});

after(async () => {
  await net?.stop();
  if (scratch !== undefined) await rm(scratch, { recursive: true, force: true });
});

test('a copy of a live replica directory verifies: exit 0 and a summary', { timeout: 60_000 }, async () => {
  const r = await bulwark(['verify-ledger', '--dir', live]);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.match(r.stdout, /^ledger consistent \(replica\): \d+ blocks, \d+ transactions, \d+ commit certificates, stable checkpoint (\d+|none); head \d+ 0x[0-9a-f]{64}\n$/);
  const json = await bulwark(['verify-ledger', '--dir', live, '--json']);
  assert.equal(json.code, 0, json.stderr);
  const result = JSON.parse(json.stdout) as { ok: boolean; role: string; counts: { blocks: number } };
  assert.equal(result.ok, true);
  assert.equal(result.role, 'replica');
  assert.ok(result.counts.blocks >= 3);
});

test('a copy with one header byte changed: exit 1, LEDGER_INCONSISTENT naming block 1', { timeout: 60_000 }, async () => {
  const dir = join(scratch, 'replica-2-corrupt');
  await cp(live, dir, { recursive: true });
  const kv = await openRocksStore(join(dir, 'data'), { createIfMissing: false });
  const [hash] = await kv.getMany([Uint8Array.of(PREFIX.canonicalHashByNumber, 0, 0, 0, 0, 0, 0, 0, 1)]);
  assert.ok(hash !== undefined);
  const key = Uint8Array.of(PREFIX.blockHeaderByHash, ...hash);
  const header = (await kv.get(key))!.slice();
  header[100]! ^= 0x01;
  await kv.write([{ type: 'put', key, value: header }], { sync: true });
  await kv.close();
  const r = await bulwark(['verify-ledger', '--dir', dir]);
  assert.equal(r.code, 1, r.stderr + r.stdout);
  const blockHash = `0x${Buffer.from(hash).toString('hex')}`;
  assert.match(r.stdout, new RegExp(`^LEDGER_INCONSISTENT: block 1 \\(${blockHash}\\): the stored header does not hash to its key \\(expected ${blockHash}, found 0x[0-9a-f]{64}\\)\\n$`));
  assert.match(r.stderr, /\[LEDGER_INCONSISTENT\]/);
});

test('bad usage exits 2', { timeout: 60_000 }, async () => {
  const missing = await bulwark(['verify-ledger']);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /--dir/);
  const nowhere = await bulwark(['verify-ledger', '--dir', join(scratch, 'no-such-dir')]);
  assert.equal(nowhere.code, 2);
  assert.match(nowhere.stderr, /is not a directory/);
  const notNode = await bulwark(['verify-ledger', '--dir', scratch]);
  assert.equal(notNode.code, 2);
  assert.match(notNode.stderr, /not a node directory/);
});
