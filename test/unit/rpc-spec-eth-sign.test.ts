// eth/sign.yaml: refused — a client node holds no Ethereum keys; wallets sign.
import { ADDR } from '../helpers/rpc-context.ts';
import { runSpecTable } from '../helpers/spec-table.ts';

const NO_KEYS = /^unknown account: a client node holds no Ethereum keys/;

runSpecTable('eth/sign.yaml', {
  eth_sign: {
    refused: 'a client node holds no Ethereum keys (eth_accounts is empty): sign in the wallet',
    async check({ error }) {
      await error([ADDR.A, '0xdeadbeef'], -32000, NO_KEYS);
      await error([ADDR.A, 'deadbeef'], -32602, /invalid argument 1: hex string without 0x prefix/);
    },
  },
  eth_signTransaction: {
    refused: 'a client node holds no Ethereum keys (eth_accounts is empty): sign in the wallet',
    async check({ error }) {
      await error([{ from: ADDR.A, to: ADDR.B, value: '0x1' }], -32000, NO_KEYS);
      await error(['0x1'], -32602, /invalid argument 0: expected a transaction object/);
    },
  },
});
