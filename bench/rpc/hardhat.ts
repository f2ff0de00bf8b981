/**
 * The reference: a single-node Hardhat network (`hardhat node`, interval mining every 200 ms,
 * block gas limit 30 M as ours, base fee from 0), funded from the same mnemonic as `bulwark dev`.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEV_MNEMONIC } from '../../src/setup/dev-accounts.ts';
import { freePorts } from '../../test/helpers/net.ts';
import { rssMb } from '../soak/nodes.ts';
import { Rpc } from './client.ts';
import { ROOT, tmpUnderRoot, waitForExit, waitForRpc, type System } from './system.ts';

export async function startHardhat(o: { accounts: number }): Promise<System> {
  // Hardhat runs only from a project that has it installed: the directory sits inside ours.
  const dir = mkdtempSync(join(tmpUnderRoot(), 'bench-hardhat-'));
  const [port] = await freePorts(1);
  const config = join(dir, 'hardhat.config.cjs');
  writeFileSync(
    config,
    `module.exports = { networks: { hardhat: {
      chainId: 31337, hardfork: 'cancun', initialBaseFeePerGas: 0, blockGasLimit: 30000000,
      mining: { auto: false, interval: 200 },
      accounts: { mnemonic: ${JSON.stringify(DEV_MNEMONIC)}, count: ${o.accounts}, accountsBalance: '10000000000000000000000' },
    } } };\n`,
  );
  const proc = spawn(process.execPath, [join(ROOT, 'node_modules/hardhat/internal/cli/cli.js'), 'node', '--config', config, '--hostname', '127.0.0.1', '--port', String(port)], {
    cwd: dir,
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, HARDHAT_DISABLE_TELEMETRY_PROMPT: 'true' },
  });
  const rpc = new Rpc(`http://127.0.0.1:${port}`);
  const stop = async () => {
    await rpc.close();
    proc.kill('SIGTERM');
    await waitForExit(proc);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitForRpc(rpc, [proc]);
    return {
      name: 'hardhat',
      rpc,
      chainId: BigInt(await rpc.call<string>('eth_chainId')),
      // Full blocks raise the base fee from 0 by 12.5 % each: a fixed 10 gwei stays above it for the run.
      gasPrice: 10n ** 10n,
      probe: async () => [{ name: 'hardhat', rssMb: rssMb(proc.pid), viewChanges: null }],
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
