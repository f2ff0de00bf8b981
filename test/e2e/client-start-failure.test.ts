// A client node whose start fails part-way (its JSON-RPC port taken) closes what it had opened: its
// databases are not left locked, its TLS listener not left bound, so the next start on the same
// directory succeeds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { initHashes } from '../../src/crypto/hash.ts';
import { ClientNode } from '../../src/node/client.ts';
import { runInit } from '../../src/setup/init.ts';
import { testConfig } from '../helpers/chain.ts';
import { freePorts } from '../helpers/net.ts';

await initHashes();

test('a failed start releases the databases and the listener; the next start on the directory succeeds', { timeout: 60_000 }, async () => {
  const root = mkdtempSync(join(tmpdir(), 'bulwark-client-start-'));
  const taken = createServer();
  try {
    const ports = await freePorts(6);
    await runInit({
      outDir: join(root, 'net'),
      topology: { replicas: 4, clients: 1, replicaEndpoints: ports.slice(0, 4).map((port) => ({ host: '127.0.0.1', port })), clientEndpoints: [{ host: '127.0.0.1', port: ports[4]! }] },
      chainConfig: testConfig(),
      seed: new Uint8Array(32).fill(0x7a),
    });
    const dir = join(root, 'net', 'client-4');
    const logger = pino({ level: 'silent' });
    await new Promise<void>((resolve) => taken.listen(ports[5]!, '127.0.0.1', resolve));
    await assert.rejects(ClientNode.start({ dir, logger, rpc: { host: '127.0.0.1', port: ports[5]! } }), /EADDRINUSE|in use/i);
    const [free] = await freePorts(1);
    const node = await ClientNode.start({ dir, logger, rpc: { host: '127.0.0.1', port: free! } });
    await node.stop();
  } finally {
    taken.close();
    rmSync(root, { recursive: true, force: true });
  }
});
