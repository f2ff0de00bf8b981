import { test } from 'node:test';
import assert from 'node:assert/strict';
import { devAccounts } from '../../src/setup/dev-accounts.ts';
import { isBulwarkError } from '../../src/common/errors.ts';

test('the standard development mnemonic gives Hardhat\'s and Anvil\'s accounts', () => {
  const accounts = devAccounts(20);
  assert.equal(accounts.length, 20);
  // Published by Hardhat (`npx hardhat node`) and Foundry (`anvil`) for this mnemonic.
  assert.equal(accounts[0]!.address, "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266", "EIP-55 checksummed");
  assert.equal(accounts[0]!.privateKey, '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80');
  assert.equal(accounts[1]!.address.toLowerCase(), '0x70997970c51812dc3a010c7d01b50e0d17dc79c8');
  assert.equal(accounts[19]!.address.toLowerCase(), '0x8626f6940e2eb28930efb4cef49b2d1f2c9c1199');
  assert.equal(new Set(accounts.map((a) => a.address)).size, 20);
});

test('an invalid mnemonic or count is refused', () => {
  assert.throws(() => devAccounts(2, 'test test test'), (e) => isBulwarkError(e, 'SETUP_INVALID_INPUT'));
  assert.throws(() => devAccounts(0), (e) => isBulwarkError(e, 'SETUP_INVALID_INPUT'));
});
