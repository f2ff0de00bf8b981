/**
 * From a loaded node directory to the TLS transport's options: every node of the network with its
 * endpoint and pinned certificate, and this node's own key and certificate.
 */
import type { TlsNode, TlsTransportOptions, TlsTuning } from '../net/tls-options.ts';
import type { NetworkConfig } from './network-file.ts';
import type { ClientMaterial, ReplicaMaterial } from './node-directory.ts';

export function tlsNodesOf(network: NetworkConfig): TlsNode[] {
  return [...network.replicas, ...network.clients].map((node) => ({
    id: node.id,
    role: node.role,
    host: node.host,
    port: node.port,
    certificate: node.tlsCertificate.der,
  }));
}

export function tlsTransportOptions(
  material: ReplicaMaterial | ClientMaterial,
  extra: { listen?: { host?: string; port?: number }; tuning?: Partial<TlsTuning> } = {},
): TlsTransportOptions {
  return {
    self: material.id,
    nodes: tlsNodesOf(material.network),
    key: material.tls.key,
    certificate: material.tls.certificate.pem,
    ...(extra.listen === undefined ? {} : { listen: extra.listen }),
    ...(extra.tuning === undefined ? {} : { tuning: extra.tuning }),
  };
}
