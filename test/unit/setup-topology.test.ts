import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isBulwarkError } from '../../src/common/errors.ts';
import { buildChainConfig, parseAllocation } from '../../src/setup/genesis.ts';
import { parseEndpoint, resolveFaults, resolveTopology } from '../../src/setup/topology.ts';

const invalid = (fragment: string) => (e: unknown) => isBulwarkError(e, 'SETUP_INVALID_INPUT') && e.message.includes(fragment);

test('n ≥ 3f + 2c + 1 from whichever of n, f and c are given', () => {
  assert.deepEqual(resolveFaults({}), { f: 1, c: 0, n: 4 });
  assert.deepEqual(resolveFaults({ replicas: 7 }), { f: 2, c: 0, n: 7 });
  assert.deepEqual(resolveFaults({ f: 1, c: 1 }), { f: 1, c: 1, n: 6 });
  assert.deepEqual(resolveFaults({ replicas: 6, c: 1 }), { f: 1, c: 1, n: 6 });
  assert.deepEqual(resolveFaults({ replicas: 1 }), { f: 0, c: 0, n: 1 });
  // Replicas to spare: the largest f that fits, or the f given if it does.
  assert.deepEqual(resolveFaults({ replicas: 5 }), { f: 1, c: 0, n: 5 });
  assert.deepEqual(resolveFaults({ replicas: 5, f: 1 }), { f: 1, c: 0, n: 5 });
  assert.deepEqual(resolveFaults({ replicas: 6 }), { f: 1, c: 0, n: 6 });
  assert.deepEqual(resolveFaults({ replicas: 8, c: 1 }), { f: 1, c: 1, n: 8 });
  assert.deepEqual(resolveFaults({ replicas: 10, f: 1 }), { f: 1, c: 0, n: 10 });
  assert.deepEqual(resolveFaults({ replicas: 2 }), { f: 0, c: 0, n: 2 });
  assert.throws(() => resolveFaults({ replicas: 3, f: 1 }), invalid('contradicts f = 1, c = 0 (n ≥ 3f + 2c + 1 = 4)'));
  assert.throws(() => resolveFaults({ replicas: 4, f: 2 }), invalid('contradicts f = 2'));
  assert.throws(() => resolveFaults({ replicas: 5, f: 1, c: 1 }), invalid('contradicts f = 1, c = 1'));
  assert.throws(() => resolveFaults({ replicas: 2, c: 1 }), invalid('2 replicas do not fit n ≥ 3f + 2c + 1 with c = 1'));
  assert.throws(() => resolveFaults({ replicas: 4, c: 1 }), invalid('c = 1 needs f ≥ 1'));
  assert.throws(() => resolveFaults({ f: -1 }), invalid('f must be an integer'));
  assert.throws(() => resolveFaults({ replicas: 2.5 }), invalid('replicas must be an integer'));
});

test('endpoints: consecutive ports by default, explicit ones checked and never shared', () => {
  const t = resolveTopology({ clients: 2, basePort: 9000 });
  assert.deepEqual(t.replicas.map((e) => e.port), [9000, 9001, 9002, 9003]);
  assert.deepEqual(t.clients.map((e) => `${e.host}:${e.port}`), ['127.0.0.1:9004', '127.0.0.1:9005']);
  const explicit = resolveTopology({
    replicas: 1,
    clients: 1,
    replicaEndpoints: [{ host: 'replica.example.com', port: 7100 }],
    clientEndpoints: [{ host: '10.0.0.9', port: 7100 }],
  });
  assert.equal(explicit.replicas[0]!.host, 'replica.example.com');
  assert.throws(() => resolveTopology({ clients: 0, replicaEndpoints: [{ host: 'a', port: 1 }] }), invalid('1 replica endpoints given for 4'));
  assert.throws(
    () => resolveTopology({ replicas: 1, clients: 1, replicaEndpoints: [{ host: 'h', port: 5 }], clientEndpoints: [{ host: 'H', port: 5 }] }),
    invalid('endpoint h:5 is given to two nodes'),
  );
  assert.throws(() => resolveTopology({ clients: 1, basePort: 65533 }), invalid('leaves no room'));
  assert.throws(() => resolveTopology({ clients: 1, host: 'bad host' }), invalid('neither an IP address nor a host name'));
});

test('endpoint syntax', () => {
  assert.deepEqual(parseEndpoint('10.1.2.3:7100'), { host: '10.1.2.3', port: 7100 });
  assert.deepEqual(parseEndpoint('[::1]:7100'), { host: '::1', port: 7100 });
  assert.deepEqual(parseEndpoint(' node-1.example:80 '), { host: 'node-1.example', port: 80 });
  assert.deepEqual(parseEndpoint('node', 7000), { host: 'node', port: 7000 });
  assert.throws(() => parseEndpoint('node'), invalid('has no port'));
  assert.throws(() => parseEndpoint('node:0'), invalid('not in 1..65535'));
  assert.throws(() => parseEndpoint('node:99999'), invalid('not in 1..65535'));
  assert.throws(() => parseEndpoint('a:b:c'), invalid('cannot read endpoint'));
});

test('genesis: chain id from the flag or the document, allocations merged, conflicts refused', () => {
  const c = buildChainConfig({ chainId: 5n, alloc: [parseAllocation('0x00000000000000000000000000000000000000aa=0x10')] });
  assert.equal(c.chainId, 5n);
  assert.equal(c.alloc.get('0x00000000000000000000000000000000000000aa')?.balance, 16n);
  const doc = { chainId: 7, gasMode: 'market', alloc: { '0x00000000000000000000000000000000000000bb': { balance: '1' } } };
  const d = buildChainConfig({ document: doc, alloc: [parseAllocation('0x00000000000000000000000000000000000000aa=2')] });
  assert.equal(d.chainId, 7n);
  assert.equal(d.gasMode, 'market');
  assert.equal(d.alloc.size, 2);
  assert.throws(() => buildChainConfig({}), invalid('a chain id is needed'));
  assert.throws(() => buildChainConfig({ chainId: 8n, document: doc }), invalid('differs'));
  assert.throws(
    () => buildChainConfig({ document: doc, alloc: [parseAllocation('0x00000000000000000000000000000000000000BB=1')] }),
    invalid('allocated twice'),
  );
  assert.throws(() => buildChainConfig({ chainId: 1n, document: { gasMode: 'cheap' } }), invalid('gasMode'));
  assert.throws(() => buildChainConfig({ document: [] }), invalid('JSON object'));
  assert.throws(() => buildChainConfig({ chainId: 1n, document: { chainId: 'abc' } }), invalid('differs'));
  assert.throws(() => buildChainConfig({ document: { chainId: 'abc' } }), invalid('chainId'));
  assert.throws(() => parseAllocation('0x12=3'), invalid('cannot read allocation'));
  assert.throws(() => parseAllocation('0x00000000000000000000000000000000000000aa=-1'), invalid('cannot read allocation'));
});
