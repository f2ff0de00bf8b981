/**
 * The development accounts `bulwark dev` funds: the standard mnemonic that Hardhat and Anvil use,
 * derived along m/44'/60'/0'/0/i (BIP-39 seed, BIP-32 keys), so wallets and scripts written for
 * those tools find the same funded accounts here. For development networks only: the mnemonic is
 * public.
 */
import { HDKey } from '@scure/bip32';
import { mnemonicToSeedSync, validateMnemonic } from '@scure/bip39';
import { wordlist } from '@scure/bip39/wordlists/english.js';
import { BulwarkError } from '../common/errors.ts';
import { createAddressFromPrivateKey, toChecksumAddress } from '@ethereumjs/util';
import { bytesToHex } from '../crypto/index.ts';

export const DEV_MNEMONIC = 'test test test test test test test test test test test junk';

export interface DevAccount {
  readonly index: number;
  /** EIP-55 checksummed. */
  readonly address: string;
  readonly privateKey: string;
}

export function devAccounts(count = 20, mnemonic = DEV_MNEMONIC): DevAccount[] {
  if (!validateMnemonic(mnemonic, wordlist)) throw new BulwarkError('SETUP_INVALID_INPUT', 'not a valid BIP-39 English mnemonic');
  if (!Number.isInteger(count) || count < 1 || count > 1000) throw new BulwarkError('SETUP_INVALID_INPUT', 'account count must be 1..1000', { count });
  const root = HDKey.fromMasterSeed(mnemonicToSeedSync(mnemonic));
  return Array.from({ length: count }, (_, index) => {
    const key = root.derive(`m/44'/60'/0'/0/${index}`).privateKey;
    if (key === null) throw new BulwarkError('SETUP_INVALID_INPUT', `no private key at index ${index}`);
    const address = toChecksumAddress(createAddressFromPrivateKey(key).toString());
    return { index, address, privateKey: `0x${bytesToHex(key)}` };
  });
}
