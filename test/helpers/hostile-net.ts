/**
 * Material for attacks on the transport: books of TLS records as consensus would hold them, TLS
 * records and introductions (honest, forged, oversized), raw frames, and sockets from chosen
 * loopback addresses (127.0.0.2, 127.0.0.3, … all reach a listener on 127.0.0.1 on Linux).
 */
import { connect as netConnect, type Socket } from 'node:net';
import type { KeyObject } from 'node:crypto';
import { NodeKeyBook } from '../../src/consensus/node-keys.ts';
import type { NodeKeyRecord } from '../../src/codec/reserved-pages.ts';
import type { NodeAuthPublicKey } from '../../src/crypto/node-auth.ts';
import { encodeTlsIntroduction, nodeKeyScheme, signNodeKeyPublication } from '../../src/consensus/node-key-scheme.ts';
import { encodeIntroduction, encodeFrames } from '../../src/net/frame.ts';
import type { NodeId } from '../../src/net/transport.ts';
import type { GeneratedNetwork } from '../../src/setup/generate.ts';
import type { TlsIdentity } from '../../src/setup/node-keys.ts';
import { generateTlsIdentity } from '../../src/setup/tls-identity.ts';

/** The TLS part of a node key book as the network file starts it: epoch 0 for every node. */
export function tlsBook(net: GeneratedNetwork): NodeKeyBook<NodeAuthPublicKey> {
  const nodes = [...net.network.replicas, ...net.network.clients];
  const secrets = [...net.replicas, ...net.clients];
  return new NodeKeyBook(
    nodeKeyScheme,
    nodes.map((n) => {
      const der = secrets.find((s) => s.id === n.id)!.tls.certificate.der;
      return { kind: 'tls' as const, node: n.id, publicKey: der, key: nodeKeyScheme.parse('tls', der)! };
    }),
  );
}

/** `node`'s TLS record for `epoch`: `cert`, possessed by its key and endorsed by `endorser`. */
export function tlsRecord(node: NodeId, epoch: number, cert: TlsIdentity, endorser: KeyObject, effectiveSeq = 100 * epoch): NodeKeyRecord {
  const p = signNodeKeyPublication(
    { kind: 'tls', node, epoch, publicKey: cert.certificate.der },
    { algorithm: 'p384', type: 'private', key: cert.key },
    { algorithm: 'p384', type: 'private', key: endorser },
  );
  return { ...p, effectiveSeq, publishedSeq: effectiveSeq - 10 };
}

/** A node's rotations: `count` fresh certificates, each record endorsed by the key before (from `start`). */
export function rotations(node: NodeId, start: TlsIdentity, count: number, role: 'replica' | 'client' = 'replica'): { certs: TlsIdentity[]; records: NodeKeyRecord[] } {
  const certs = [start];
  const records: NodeKeyRecord[] = [];
  for (let epoch = 1; epoch <= count; epoch++) {
    const cert = generateTlsIdentity({ commonName: `bulwark ${role} ${node}`, host: '127.0.0.1' });
    records.push(tlsRecord(node, epoch, cert, certs[epoch - 1]!.key));
    certs.push(cert);
  }
  return { certs, records };
}

/** An introduction as it travels (the control frame), claiming `node`, carrying `records`. */
export function introductionFrame(node: NodeId, records: readonly NodeKeyRecord[]): Buffer {
  return encodeIntroduction(node, encodeTlsIntroduction(records), 0xffff_fffd)!;
}

/**
 * The cheapest introduction to forge that passes every check short of a signature: `count` records
 * of `node`'s epochs 1…count, the last one the attacker's own certificate, each possessed by the
 * attacker's key and "endorsed" by it too (not by the key of the certificate before).
 */
export function forgedIntroduction(node: NodeId, attacker: TlsIdentity, count: number): Buffer {
  const records = Array.from({ length: count }, (_, i) => tlsRecord(node, i + 1, attacker, attacker.key));
  return introductionFrame(node, records);
}

/** The introduction the old judge spent a second on: 1,024 records whose key is a pinned certificate. */
export function heavyIntroduction(node: NodeId, pinned: TlsIdentity, attacker: TlsIdentity): Buffer {
  const one = tlsRecord(node, 1, pinned, attacker.key);
  return introductionFrame(node, Array.from({ length: 1024 }, (_, i) => ({ ...one, epoch: i + 1 })));
}

export function attackerIdentity(commonName = 'intruder'): TlsIdentity {
  return generateTlsIdentity({ commonName, host: '127.0.0.1' });
}

export function appFrames(frames: readonly Uint8Array[]): Buffer {
  return encodeFrames(frames);
}

/** A TCP connection to 127.0.0.1:`port` from `localAddress`; it never says anything. */
export function idleSocket(port: number, localAddress: string): Socket {
  const s = netConnect({ port, host: '127.0.0.1', localAddress });
  s.on('error', () => {});
  return s;
}

/** Polls `check` every 10 ms until it holds (for counters, which raise no event); rejects after `ms`. */
export async function eventually(check: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
