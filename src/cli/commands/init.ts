/**
 * `bulwark init`: the trusted setup. Reads and checks the options, then hands everything to
 * `setup/init.ts`; nothing about keys or files is decided here.
 */
import { readFile } from 'node:fs/promises';
import { Option, type Command } from 'commander';
import { BulwarkError } from '../../common/errors.ts';
import { hexToBytes } from '../../crypto/hex.ts';
import { DEFAULT_SCRYPT_COST } from '../../crypto/key-seal.ts';
import { buildChainConfig, parseAllocation } from '../../setup/genesis.ts';
import { DEFAULT_CERT_VALIDITY_DAYS, runInit, type InitResult } from '../../setup/init.ts';
import { MIN_SEED_BYTES } from '../../setup/key-source.ts';
import { DEFAULT_BASE_PORT, DEFAULT_HOST, parseEndpoint } from '../../setup/topology.ts';
import type { CliIo } from '../io.ts';
import { readPassphrase } from '../passphrase.ts';
import { collect, integer, UsageError } from '../usage.ts';

interface InitFlags {
  out: string;
  replicas?: number;
  faults?: number;
  slowReplicas?: number;
  clients: number;
  maxReplicas?: number;
  host: string;
  basePort: number;
  replicaEndpoints?: string;
  clientEndpoints?: string;
  chainId?: string;
  genesis?: string;
  alloc?: string[];
  passphraseFile?: string;
  passphraseEnv?: string;
  kdfCost: number;
  certDays: number;
  seed?: string;
  json?: boolean;
}

export function registerInit(program: Command, io: CliIo): void {
  program
    .command('init')
    .summary('the trusted setup: keys, certificates and the network file for every node')
    .description(
      [
        'Generates the trusted setup of a new network. Each replica gets a TLS key and self-signed certificate ' +
          '(ECDSA P-384), a bootstrap BLS12-381 consensus key with its proof of possession, and an Ed25519 ' +
          'execution key; each client node a TLS key and certificate and an Ed25519 authentication key; the ' +
          'operator an Ed25519 key.',
        'Writes <out>/network.json (everyone\'s public material and the genesis) and one directory per node ' +
          '(replica-<id>/, client-<id>/, operator/) with its private keys (mode 0600) and a copy of the network ' +
          'file. Copy each node directory to the host that runs that node; keep operator/ offline.',
        'Replicas: n ≥ 3f + 2c + 1. Give --replicas (f is then the largest that fits), or --faults (and ' +
          '--slow-replicas; n is then 3f + 2c + 1), or both if they fit. ' +
          'Ids: replicas 0..n-1, client nodes n..n+m-1 — or from --max-replicas, which keeps replica ids free ' +
          'so that replicas can be added later (bulwark reconfigure). Each replica listens on its endpoint for the replicas ' +
          'with higher ids and for client nodes; client nodes only dial.',
      ].join('\n\n'),
    )
    .addOption(new Option('-o, --out <dir>', 'directory to create; must not exist or be empty').default('network'))
    .addOption(new Option('-n, --replicas <n>', 'number of replicas, n ≥ 3f + 2c + 1 (default: 3f + 2c + 1 from -f and -c; 4)').argParser(integer(1)))
    .addOption(new Option('-f, --faults <f>', 'Byzantine replicas tolerated, f (default: 1, or from --replicas)').argParser(integer(0)))
    .addOption(
      new Option('-c, --slow-replicas <c>', 'replicas that may be slow or down while the fast path still commits, c').default(0).argParser(integer(0)),
    )
    .addOption(
      new Option('--max-replicas <k>', 'keep replica ids 0..k-1 for replicas added later; client node ids start at k (default: n)').argParser(integer(1)),
    )
    .addOption(new Option('-m, --clients <m>', 'number of client nodes (JSON-RPC servers)').default(1).argParser(integer(0)))
    .addOption(new Option('--host <host>', 'host of every node without an explicit endpoint').default(DEFAULT_HOST))
    .addOption(new Option('--base-port <port>', 'node i listens on base-port + i unless given an endpoint').default(DEFAULT_BASE_PORT).argParser(integer(1, 65535)))
    .addOption(new Option('--replica-endpoints <list>', 'host:port of each replica in id order, comma-separated (overrides --host/--base-port)'))
    .addOption(new Option('--client-endpoints <list>', 'host:port of each client node in id order, comma-separated'))
    .addOption(new Option('--chain-id <id>', 'Ethereum chain id (EIP-155); required unless the genesis file has chainId'))
    .addOption(new Option('--genesis <file>', 'chain config JSON: chainId, gasMode (free|market), blockGasLimit, alloc, …'))
    .addOption(new Option('--alloc <address=wei>', 'fund an account at genesis (wei in decimal or 0x-hex); repeatable').argParser(collect))
    .addOption(new Option('--passphrase-file <file>', 'encrypt every private key under the passphrase in this file (its first line)'))
    .addOption(new Option('--passphrase-env <name>', 'encrypt every private key under the passphrase in environment variable <name>'))
    .addOption(
      new Option('--kdf-cost <log2N>', 'scrypt cost of encrypted keys: N = 2^log2N, memory 128·N·8 bytes (10..20)')
        .default(DEFAULT_SCRYPT_COST.logN)
        .argParser(integer(10, 20)),
    )
    .addOption(
      new Option('--cert-days <days>', 'validity of the TLS certificates (peers pin exact certificates; dates are informative)')
        .default(DEFAULT_CERT_VALIDITY_DAYS)
        .argParser(integer(1, 36_500)),
    )
    .addOption(new Option('--seed <hex>', `TESTS ONLY: derive every key from this seed (≥ ${MIN_SEED_BYTES} bytes of hex); anyone with it holds every key`))
    .addOption(new Option('--json', 'print the result as JSON'))
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        '  bulwark init --chain-id 1337 --alloc 0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266=1000000000000000000000',
        '  bulwark init -f 1 -m 2 --chain-id 5150 --genesis genesis.json --passphrase-file ./pass \\',
        '      --replica-endpoints 10.0.0.1:7100,10.0.0.2:7100,10.0.0.3:7100,10.0.0.4:7100 \\',
        '      --client-endpoints 10.0.1.1:7100,10.0.1.2:7100 --out ./prod-network',
      ].join('\n'),
    )
    .action(async (flags: InitFlags) => {
      if (flags.seed !== undefined) io.err('bulwark: warning: --seed makes every key derivable from the seed; use it for tests only\n');
      const result = await runInit(await initOptions(flags));
      io.out(flags.json ? JSON.stringify(summary(result), null, 2) + '\n' : describe(result));
    });
}

async function initOptions(flags: InitFlags): Promise<Parameters<typeof runInit>[0]> {
  if (flags.passphraseFile !== undefined && flags.passphraseEnv !== undefined) {
    throw new UsageError('give --passphrase-file or --passphrase-env, not both');
  }
  const split = (list: string | undefined) => list?.split(',').filter((s) => s.trim() !== '').map((s) => parseEndpoint(s));
  const replicaEndpoints = split(flags.replicaEndpoints);
  const clientEndpoints = split(flags.clientEndpoints);
  const passphrase = await readPassphrase(flags);
  return {
    outDir: flags.out,
    topology: {
      clients: flags.clients,
      host: flags.host,
      basePort: flags.basePort,
      c: flags.slowReplicas ?? 0,
      ...(flags.faults === undefined ? {} : { f: flags.faults }),
      ...(flags.replicas === undefined ? {} : { replicas: flags.replicas }),
      ...(flags.maxReplicas === undefined ? {} : { maxReplicas: flags.maxReplicas }),
      ...(replicaEndpoints === undefined ? {} : { replicaEndpoints }),
      ...(clientEndpoints === undefined ? {} : { clientEndpoints }),
    },
    chainConfig: buildChainConfig({
      ...(flags.chainId === undefined ? {} : { chainId: parseChainId(flags.chainId) }),
      ...(flags.genesis === undefined ? {} : { document: await readJson(flags.genesis) }),
      alloc: (flags.alloc ?? []).map(parseAllocation),
    }),
    ...(passphrase === undefined ? {} : { passphrase, scryptCost: { ...DEFAULT_SCRYPT_COST, logN: flags.kdfCost } }),
    ...(flags.seed === undefined ? {} : { seed: parseSeed(flags.seed) }),
    certValidityDays: flags.certDays,
  };
}

function parseChainId(text: string): bigint {
  if (!/^(0x[0-9a-fA-F]+|[0-9]+)$/.test(text)) throw new UsageError(`--chain-id must be a positive integer, got "${text}"`);
  const id = BigInt(text);
  if (id === 0n) throw new UsageError('--chain-id must be positive');
  return id;
}

function parseSeed(text: string): Uint8Array {
  let seed: Uint8Array;
  try {
    seed = hexToBytes(text);
  } catch {
    throw new UsageError('--seed must be hex');
  }
  if (seed.length < MIN_SEED_BYTES) throw new UsageError(`--seed must be at least ${MIN_SEED_BYTES} bytes (${2 * MIN_SEED_BYTES} hex digits)`);
  return seed;
}

async function readJson(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new BulwarkError('SETUP_INVALID_INPUT', `cannot read genesis file ${path}`, { path }, { cause });
  }
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new BulwarkError('SETUP_INVALID_INPUT', `genesis file ${path} is not JSON`, { path }, { cause });
  }
}

function summary(r: InitResult): Record<string, unknown> {
  return {
    outDir: r.outDir,
    networkFile: r.networkFile,
    digest: r.network.digest,
    chainId: r.network.chainId.toString(),
    f: r.network.f,
    c: r.network.c,
    n: r.network.n,
    directories: r.directories,
  };
}

function describe(r: InitResult): string {
  const { network } = r;
  const lines = [
    `network written to ${r.outDir}`,
    `  network file  ${r.networkFile} (sha256 ${network.digest})`,
    `  chain id ${network.chainId}; f = ${network.f}, c = ${network.c}, n = ${network.n} replicas, ${network.clients.length} client node(s)`,
  ];
  for (const d of r.directories) {
    const node = [...network.replicas, ...network.clients].find((x) => x.id === d.id && d.role !== 'operator');
    lines.push(`  ${d.path}${node ? `  (${node.host}:${node.port})` : '  (keep offline: signs operator commands)'}`);
  }
  lines.push('Copy each node directory to its host; keep the operator directory off the network.');
  return lines.join('\n') + '\n';
}
