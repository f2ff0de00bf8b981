// The soak harness (bench/soak.ts) on a real network for about 100 s: four replica processes and a
// client node, an open-loop mixed load at 40 transactions a second (ETH transfers, ERC-20
// transfers, deploys, with eth_call and eth_getLogs beside them), and one replica — the primary —
// killed with SIGKILL 30 s in and started again 15 s later. Nothing acknowledged may be lost,
// the balances must add up, no node may die on its own, and commits must resume after the kill.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runSoak } from '../../bench/soak.ts';

test('soak: 100 s of mixed load at 40 tx/s, the primary killed once and restarted; nothing lost, balances add up, commits resume', { timeout: 480_000 }, async (t) => {
  const out = mkdtempSync(join(tmpdir(), 'bulwark-soak-'));
  t.after(() => rmSync(out, { recursive: true, force: true }));
  const summary = await runSoak({
    durationSec: 100,
    rate: 40,
    senders: 100,
    callRate: 5,
    logsRate: 1,
    chaos: true,
    chaosFirstSec: 30,
    chaosDownSec: 15,
    chaosEverySec: 1_000,
    chaosMaxKills: 1,
    drainSec: 120,
    out,
    log: (line) => process.stderr.write(`  soak: ${line}\n`),
  });
  t.diagnostic(JSON.stringify(summary));

  assert.ok(summary.accepted > 0, 'transactions were accepted');
  assert.equal(summary.lost, 0, `accepted transactions without a receipt: ${summary.problems.join('; ')}`);
  assert.equal(summary.balancesOk, true, `balances: ${summary.problems.join('; ')}`);
  assert.equal(summary.nonceMismatches, 0, 'every sender\'s nonce moved by its accepted transactions');
  assert.deepEqual(summary.deaths, [], 'no node died on its own');
  assert.deepEqual(summary.aliveAtEnd, { replica0: true, replica1: true, replica2: true, replica3: true, client: true });
  assert.equal(summary.kills, 1);
  const [kill] = summary.killDetails;
  assert.equal(kill!.primary, true, 'the first kill takes the primary');
  assert.notEqual(kill!.restartedAtSec, null, 'the killed replica was started again');
  assert.notEqual(kill!.resumeMs, null, `commits resumed after replica ${kill!.replica} was killed`);
});
