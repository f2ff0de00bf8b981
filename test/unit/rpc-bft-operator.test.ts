// bft_submitOperatorCommand: the client node orders an operator command only when it is signed with
// the operator key of network.json, for its chain id, and its nonce is above the last one f + 1
// replicas executed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bftMethods, type BftBackend } from '../../src/rpc/namespaces/bft.ts';
import { encodeOperatorCommand, encodeOperatorPayload } from '../../src/codec/operator-command.ts';
import { generateNodeAuthKeyPair, signNodeAuth, verifyNodeAuth } from '../../src/crypto/node-auth.ts';
import { RpcError } from '../../src/rpc/errors.ts';

const operator = generateNodeAuthKeyPair('ed25519');
const intruder = generateNodeAuthKeyPair('ed25519');

function setup(lastNonce: number) {
  const submitted: Uint8Array[] = [];
  const backend = {
    submitOperatorCommand: async (p: Uint8Array) => {
      submitted.push(p);
      return 'rotation: replica 1 to execution key epoch 1';
    },
    verifyOperator: (c: Uint8Array, s: Uint8Array) => verifyNodeAuth(operator.publicKey, c, s),
    operatorNonce: () => lastNonce,
    chainId: 1337n,
  } as unknown as BftBackend;
  const call = (payload: Uint8Array) => bftMethods(backend).get('bft_submitOperatorCommand')!.call([`0x${Buffer.from(payload).toString('hex')}`], { transport: 'http' });
  return { submitted, call };
}

const command = (nonce: number, chainId = 1337n) => encodeOperatorCommand({ kind: 'rotate-keys', consensus: [], execution: [1], auth: [], tls: [], nonce }, chainId);

async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'accepted';
  } catch (e) {
    assert.ok(e instanceof RpcError, String(e));
    return e.message;
  }
}

test('a command signed with another key is refused before it is ordered', async () => {
  const { submitted, call } = setup(0);
  const c = command(100);
  assert.equal(await refusal(call(encodeOperatorPayload(c, signNodeAuth(intruder.privateKey, c)))), 'operator command refused: not signed with the operator key of network.json');
  assert.equal(await refusal(call(encodeOperatorPayload(c, new Uint8Array(64)))), 'operator command refused: not signed with the operator key of network.json');
  assert.match(await refusal(call(new TextEncoder().encode('bulwark/operator/v1garbage'))), /invalid argument 0: not a valid operator command/);
  assert.equal(submitted.length, 0);
});

test('a replayed nonce is refused; a signed command above the last nonce is carried', async () => {
  const { submitted, call } = setup(100);
  const old = command(100);
  assert.equal(await refusal(call(encodeOperatorPayload(old, signNodeAuth(operator.privateKey, old)))), 'operator command refused: nonce 100 is not above the last one executed (100)');
  const next = command(101);
  assert.equal(await refusal(call(encodeOperatorPayload(next, signNodeAuth(operator.privateKey, next)))), 'accepted');
  assert.equal(submitted.length, 1);
});

test('a well-signed command for another chain id is refused before it is ordered', async () => {
  const { submitted, call } = setup(0);
  const c = command(100, 5n);
  assert.equal(
    await refusal(call(encodeOperatorPayload(c, signNodeAuth(operator.privateKey, c)))),
    'operator command refused: the command was signed for chain id 5, this network is chain id 1337',
  );
  assert.equal(submitted.length, 0);
});
