// A Hardhat project (test/fixtures/hardhat-project) deploying to a real Bulwark network with
// `hardhat run --network bulwark`: Hardhat's provider signs with its configured account, estimates
// gas and fees, sends, and reads back through our JSON-RPC.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { initHashes } from '../../src/crypto/hash.ts';
import { addressOf, testKey } from '../helpers/chain.ts';
import { startNetwork } from '../helpers/network.ts';

await initHashes();
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

test('hardhat run --network bulwark deploys a contract and transacts', { timeout: 240_000 }, async () => {
  const net = await startNetwork(23);
  try {
    const key = `0x${Buffer.from(testKey(2)).toString('hex')}`;
    const child = spawn(process.execPath, [join(ROOT, 'node_modules/hardhat/internal/cli/cli.js'), 'run', '--no-compile', '--network', 'bulwark', 'scripts/deploy.cjs'], {
      cwd: join(ROOT, 'test/fixtures/hardhat-project'),
      env: { ...process.env, BULWARK_RPC_URL: net.url, BULWARK_DEPLOYER_KEY: key, HARDHAT_DISABLE_TELEMETRY_PROMPT: 'true' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    assert.equal(code, 0, `hardhat failed:\n${out}\n${err}`);
    const result = JSON.parse(out.trim().split('\n').pop()!) as { chainId: string; from: string; deployStatus: string; transferStatus: string; balance: string };
    assert.equal(result.chainId, '0x539');
    assert.equal(result.from.toLowerCase(), addressOf(testKey(2)).toLowerCase());
    assert.equal(result.deployStatus, '0x1');
    assert.equal(result.transferStatus, '0x1');
    assert.equal(BigInt(result.balance), 77n);
  } finally {
    await net.stop();
  }
});
