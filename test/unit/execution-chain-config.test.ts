import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BulwarkError, isBulwarkError } from '../../src/common/errors.ts';
import { chainConfigToJson, parseChainConfig } from '../../src/execution/chain-config.ts';

const ADDR = '0x00000000000000000000000000000000000000aa';

test('defaults are the permissioned ones, and the canonical JSON round-trips', () => {
  const c = parseChainConfig({ chainId: 7, alloc: { [ADDR]: { balance: '0x10', storage: { '0x1': '0x2' }, code: '0x6000' } } });
  assert.equal(c.gasMode, 'free');
  assert.equal(c.allowUnprotectedTxs, false);
  assert.equal(c.blockGasLimit, 30_000_000n);
  assert.equal(c.maxTxBytes, 128 * 1024);
  assert.equal(c.alloc.get(ADDR)?.balance, 16n);
  assert.equal(c.alloc.get(ADDR)?.storage.get(1n), 2n);
  assert.deepEqual(parseChainConfig(chainConfigToJson(c)), c);
});

test('every problem in a bad config is reported with its path', () => {
  try {
    parseChainConfig({ chainId: 'seven', gasMode: 'cheap', alloc: { '0x12': { balance: 1 } }, extra: true });
    assert.fail('accepted a bad config');
  } catch (e) {
    assert.ok(e instanceof BulwarkError && e.code === 'CHAIN_CONFIG_INVALID');
    for (const path of ['chainId', 'gasMode', 'alloc']) assert.match(e.message, new RegExp(path));
    assert.match(e.message, /extra/);
  }
});

test('chain id zero, a tiny block gas limit and odd-length code are refused', () => {
  for (const bad of [{ chainId: 0 }, { chainId: 1, blockGasLimit: 100 }, { chainId: 1, alloc: { [ADDR]: { balance: 0, code: '0x600' } } }]) {
    assert.throws(() => parseChainConfig(bad), (e) => isBulwarkError(e, 'CHAIN_CONFIG_INVALID'));
  }
});
