/**
 * The Kubernetes manifests of a Bulwark network: for each node (replicas 0..n-1, client nodes
 * n..n+m-1, the ids `bulwark init` gives) a StatefulSet of one pod with its PersistentVolumeClaim
 * and a headless Service; a ClusterIP Service for JSON-RPC; NetworkPolicies that let only Bulwark's
 * own pods reach a replica's port; a PodDisruptionBudget that never lets more than f replicas be
 * evicted; a ServiceMonitor for the Prometheus Operator. Keys come from Secrets that
 * deploy/kubernetes/make-secrets.sh makes from `bulwark init`'s output (one `<node>-keys` per node
 * and `bulwark-passphrase`); an init container copies them once into the node's volume, where the
 * node keeps the keys it rotates itself.
 *
 *   node --import tsx scripts/k8s-manifests.ts [--replicas 4] [--faults 1] [--clients 1]
 *       [--namespace bulwark] [--image bulwark:0.1.0] [--storage 20Gi] [--monitoring-namespace monitoring]
 *       [--out DIR]            (default: print; DIR gets bulwark.yaml and kustomization.yaml)
 *       [--init-flags]         (print the endpoint flags of `bulwark init` for this layout instead)
 *
 * deploy/kubernetes/base is this script's output with the defaults (test/unit/deploy-kubernetes.test.ts
 * checks it is current, and validates every object against Kubernetes' schemas). Every object is
 * built against kubernetes-models' types, so a misspelt field fails `npm run typecheck`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import type { IStatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import type { INamespace } from 'kubernetes-models/v1/Namespace';
import type { IService } from 'kubernetes-models/v1/Service';
import type { IServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { ISecurityContext } from 'kubernetes-models/v1/SecurityContext';
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import type { IServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';

export interface Layout {
  readonly replicas: number;
  readonly faults: number;
  readonly clients: number;
  readonly namespace: string;
  readonly image: string;
  readonly storage: string;
  readonly monitoringNamespace: string;
  readonly clusterDomain: string;
}

export const DEFAULT_LAYOUT: Layout = {
  replicas: 4,
  faults: 1,
  clients: 1,
  namespace: 'bulwark',
  image: 'bulwark:0.1.0',
  storage: '20Gi',
  monitoringNamespace: 'monitoring',
  clusterDomain: 'cluster.local',
};

export const PEER_PORT = 7100;
export const RPC_PORT = 8545;
export const METRICS_PORT = 9100;
/** Where the PersistentVolumeClaim is mounted; the node directory is a folder of it (the volume's root may hold lost+found). */
export const DATA_MOUNT = '/var/lib/bulwark';
export const NODE_DIR = `${DATA_MOUNT}/node`;
export const KEYS_MOUNT = '/etc/bulwark/keys';
export const PASSPHRASE_FILE = '/etc/bulwark/passphrase/passphrase';
export const UID = 10001;

type Role = 'replica' | 'client';
export interface NodeRef {
  readonly role: Role;
  readonly id: number;
  /** `replica-0`: the StatefulSet, its headless Service, and the `bulwark init` directory. */
  readonly name: string;
}

export function nodesOf(l: Layout): NodeRef[] {
  const replicas = Array.from({ length: l.replicas }, (_, id): NodeRef => ({ role: 'replica', id, name: `replica-${id}` }));
  const clients = Array.from({ length: l.clients }, (_, i): NodeRef => ({ role: 'client', id: l.replicas + i, name: `client-${l.replicas + i}` }));
  return [...replicas, ...clients];
}

/** The endpoint `bulwark init` must give node `node`: its pod's own DNS name (in the pod's /etc/hosts too). */
export function endpointOf(l: Layout, node: NodeRef): string {
  return `${node.name}-0.${node.name}.${l.namespace}.svc.${l.clusterDomain}:${PEER_PORT}`;
}

export function initFlags(l: Layout): string[] {
  const nodes = nodesOf(l);
  return [
    '--replicas',
    String(l.replicas),
    '--faults',
    String(l.faults),
    '--clients',
    String(l.clients),
    '--replica-endpoints',
    nodes.filter((n) => n.role === 'replica').map((n) => endpointOf(l, n)).join(','),
    '--client-endpoints',
    nodes.filter((n) => n.role === 'client').map((n) => endpointOf(l, n)).join(','),
  ];
}

const PART_OF = { 'app.kubernetes.io/name': 'bulwark' } as const;
const labelsOf = (node: NodeRef) => ({ ...PART_OF, 'app.kubernetes.io/component': node.role, 'app.kubernetes.io/instance': node.name });

/**
 * The init container's script: the Secret's files copied into the node directory once, key files
 * 0600 (the node refuses others), node.json last so that its presence means a complete copy. Later
 * starts find node.json and leave the directory alone: it holds the keys the node rotated since.
 */
export const COPY_KEYS_SCRIPT = [
  `dir=${NODE_DIR}`,
  'if [ -f "$dir/node.json" ]; then echo "bulwark: $dir is set up"; exit 0; fi',
  'mkdir -p "$dir"',
  'chmod 0700 "$dir"',
  `for f in ${KEYS_MOUNT}/*; do`,
  '  name=$(basename "$f")',
  '  [ "$name" = node.json ] && continue',
  '  cp "$f" "$dir/$name"',
  '  case "$name" in *.key) chmod 0600 "$dir/$name" ;; *) chmod 0644 "$dir/$name" ;; esac',
  'done',
  `cp ${KEYS_MOUNT}/node.json "$dir/node.json.tmp"`,
  'chmod 0644 "$dir/node.json.tmp"',
  'mv "$dir/node.json.tmp" "$dir/node.json"',
  'echo "bulwark: keys copied into $dir"',
].join('\n');

function nodeArgs(node: NodeRef): string[] {
  const common = ['--dir', NODE_DIR, '--passphrase-file', PASSPHRASE_FILE, '--metrics-host', '0.0.0.0', '--metrics-port', String(METRICS_PORT)];
  return node.role === 'replica' ? ['replica', ...common] : ['client', ...common, '--rpc-host', '0.0.0.0', '--rpc-port', String(RPC_PORT)];
}

const SECURITY: ISecurityContext = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  runAsNonRoot: true,
  capabilities: { drop: ['ALL'] },
};

function statefulSet(l: Layout, node: NodeRef): IStatefulSet {
  const health = { httpGet: { path: '/health', port: 'metrics' } } as const;
  const ports: NonNullable<IContainer['ports']> = [{ name: 'metrics', containerPort: METRICS_PORT, protocol: 'TCP' }];
  if (node.role === 'replica') ports.unshift({ name: 'peer', containerPort: PEER_PORT, protocol: 'TCP' });
  else ports.unshift({ name: 'rpc', containerPort: RPC_PORT, protocol: 'TCP' });
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name: node.name, namespace: l.namespace, labels: labelsOf(node) },
    spec: {
      serviceName: node.name,
      replicas: 1,
      podManagementPolicy: 'Parallel',
      selector: { matchLabels: { 'app.kubernetes.io/instance': node.name } },
      template: {
        metadata: { labels: labelsOf(node) },
        spec: {
          serviceAccountName: 'bulwark',
          automountServiceAccountToken: false,
          // A node stops cleanly on SIGTERM (the shell finishes its work, RocksDB closes).
          terminationGracePeriodSeconds: 60,
          securityContext: {
            runAsUser: UID,
            runAsGroup: UID,
            fsGroup: UID,
            runAsNonRoot: true,
            seccompProfile: { type: 'RuntimeDefault' },
          },
          // Replicas on different hosts where the cluster has them: one host's loss is one replica's.
          affinity: {
            podAntiAffinity: {
              preferredDuringSchedulingIgnoredDuringExecution: [
                {
                  weight: 100,
                  podAffinityTerm: {
                    topologyKey: 'kubernetes.io/hostname',
                    labelSelector: { matchLabels: { ...PART_OF, 'app.kubernetes.io/component': node.role } },
                  },
                },
              ],
            },
          },
          initContainers: [
            {
              name: 'keys',
              image: l.image,
              imagePullPolicy: 'IfNotPresent',
              command: ['/bin/sh', '-ec', COPY_KEYS_SCRIPT],
              securityContext: SECURITY,
              volumeMounts: [
                { name: 'data', mountPath: DATA_MOUNT },
                { name: 'keys', mountPath: KEYS_MOUNT, readOnly: true },
              ],
              resources: { requests: { cpu: '50m', memory: '64Mi' }, limits: { memory: '128Mi' } },
            },
          ],
          containers: [
            {
              name: node.role,
              image: l.image,
              imagePullPolicy: 'IfNotPresent',
              args: nodeArgs(node),
              ports,
              securityContext: SECURITY,
              volumeMounts: [
                { name: 'data', mountPath: DATA_MOUNT },
                { name: 'passphrase', mountPath: '/etc/bulwark/passphrase', readOnly: true },
                // tsx's compile cache; the root filesystem is read-only.
                { name: 'tmp', mountPath: '/tmp' },
              ],
              // The image starts V8 with a 768 MB old space (src/cli/node-process.ts); RocksDB's
              // memtables and caches come on top.
              resources: { requests: { cpu: '500m', memory: '1Gi' }, limits: { memory: '2Gi' } },
              // Start-up compiles the TypeScript sources (tsx) and unseals the keys (scrypt).
              startupProbe: { ...health, periodSeconds: 5, failureThreshold: 60 },
              livenessProbe: { ...health, periodSeconds: 15, timeoutSeconds: 5, failureThreshold: 4 },
              readinessProbe: { ...health, periodSeconds: 10, timeoutSeconds: 5 },
            },
          ],
          volumes: [
            { name: 'keys', secret: { secretName: `${node.name}-keys`, defaultMode: 0o400 } },
            { name: 'passphrase', secret: { secretName: 'bulwark-passphrase', defaultMode: 0o400 } },
            { name: 'tmp', emptyDir: { sizeLimit: '256Mi' } },
          ],
        },
      },
      volumeClaimTemplates: [
        {
          metadata: { name: 'data', labels: labelsOf(node) },
          spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: l.storage } } },
        },
      ],
    },
  };
}

function headlessService(l: Layout, node: NodeRef): IService {
  const ports = [{ name: 'metrics', port: METRICS_PORT, targetPort: 'metrics', protocol: 'TCP' as const }];
  if (node.role === 'replica') ports.unshift({ name: 'peer', port: PEER_PORT, targetPort: 'peer', protocol: 'TCP' });
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: node.name, namespace: l.namespace, labels: labelsOf(node) },
    spec: {
      clusterIP: 'None',
      // Peers must resolve a replica's name before it is ready: readiness needs its peers.
      publishNotReadyAddresses: true,
      selector: { 'app.kubernetes.io/instance': node.name },
      ports,
    },
  };
}

function rpcService(l: Layout): IService {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'bulwark-rpc', namespace: l.namespace, labels: { ...PART_OF, 'app.kubernetes.io/component': 'rpc' } },
    spec: {
      type: 'ClusterIP',
      selector: { ...PART_OF, 'app.kubernetes.io/component': 'client' },
      ports: [{ name: 'rpc', port: RPC_PORT, targetPort: 'rpc', protocol: 'TCP' }],
    },
  };
}

function networkPolicies(l: Layout): INetworkPolicy[] {
  const meta = (name: string) => ({ name, namespace: l.namespace, labels: { ...PART_OF } });
  const bulwarkPods = { podSelector: { matchLabels: { ...PART_OF } } };
  return [
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: meta('bulwark-default-deny'),
      // Nothing reaches or leaves a Bulwark pod unless a policy below allows it.
      spec: { podSelector: { matchLabels: { ...PART_OF } }, policyTypes: ['Ingress', 'Egress'] },
    },
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: meta('bulwark-replica-peers'),
      // A replica's TLS port: only the network's own pods (replicas and client nodes) may connect.
      spec: {
        podSelector: { matchLabels: { ...PART_OF, 'app.kubernetes.io/component': 'replica' } },
        policyTypes: ['Ingress'],
        ingress: [{ from: [bulwarkPods], ports: [{ port: PEER_PORT, protocol: 'TCP' }] }],
      },
    },
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: meta('bulwark-peer-egress'),
      // Nodes dial replicas, and resolve their names.
      spec: {
        podSelector: { matchLabels: { ...PART_OF } },
        policyTypes: ['Egress'],
        egress: [
          { to: [{ podSelector: { matchLabels: { ...PART_OF, 'app.kubernetes.io/component': 'replica' } } }], ports: [{ port: PEER_PORT, protocol: 'TCP' }] },
          {
            to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } } }],
            ports: [
              { port: 53, protocol: 'UDP' },
              { port: 53, protocol: 'TCP' },
            ],
          },
        ],
      },
    },
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: meta('bulwark-metrics'),
      // /metrics and /health: Prometheus from its namespace (probes come from the kubelet, on the node).
      spec: {
        podSelector: { matchLabels: { ...PART_OF } },
        policyTypes: ['Ingress'],
        ingress: [
          {
            from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': l.monitoringNamespace } } }],
            ports: [{ port: METRICS_PORT, protocol: 'TCP' }],
          },
        ],
      },
    },
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: meta('bulwark-rpc'),
      // JSON-RPC: from any pod of the cluster (narrow `from` to the applications that use it).
      spec: {
        podSelector: { matchLabels: { ...PART_OF, 'app.kubernetes.io/component': 'client' } },
        policyTypes: ['Ingress'],
        ingress: [{ from: [{ namespaceSelector: {} }], ports: [{ port: RPC_PORT, protocol: 'TCP' }] }],
      },
    },
  ];
}

function disruptionBudget(l: Layout): IPodDisruptionBudget {
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: { name: 'bulwark-replicas', namespace: l.namespace, labels: { ...PART_OF } },
    // n - f replicas stay up: a drain never takes more than f down, so the network keeps committing.
    spec: {
      minAvailable: l.replicas - l.faults,
      selector: { matchLabels: { ...PART_OF, 'app.kubernetes.io/component': 'replica' } },
    },
  };
}

function serviceMonitor(l: Layout): IServiceMonitor {
  return {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'ServiceMonitor',
    metadata: { name: 'bulwark', namespace: l.namespace, labels: { ...PART_OF } },
    spec: {
      selector: { matchExpressions: [{ key: 'app.kubernetes.io/component', operator: 'In', values: ['replica', 'client'] }], matchLabels: { ...PART_OF } },
      namespaceSelector: { matchNames: [l.namespace] },
      endpoints: [{ port: 'metrics', path: '/metrics', interval: '15s', scrapeTimeout: '10s' }],
    },
  };
}

export type Manifest = INamespace | IServiceAccount | IService | IStatefulSet | INetworkPolicy | IPodDisruptionBudget | IServiceMonitor;

export function manifests(l: Layout): Manifest[] {
  if (l.replicas < 3 * l.faults + 1) throw new Error(`${l.replicas} replicas cannot tolerate f = ${l.faults}`);
  const nodes = nodesOf(l);
  return [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: l.namespace, labels: { ...PART_OF } } },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'bulwark', namespace: l.namespace, labels: { ...PART_OF } }, automountServiceAccountToken: false },
    ...nodes.map((n) => headlessService(l, n)),
    rpcService(l),
    ...nodes.map((n) => statefulSet(l, n)),
    ...networkPolicies(l),
    disruptionBudget(l),
    serviceMonitor(l),
  ];
}

export function renderYaml(l: Layout): string {
  const header = `# Generated by scripts/k8s-manifests.ts (${l.replicas} replicas, f = ${l.faults}, ${l.clients} client node(s), namespace ${l.namespace}); do not edit.\n`;
  return header + manifests(l).map((m) => '---\n' + stringify(m, { lineWidth: 0, aliasDuplicateObjects: false })).join('');
}

export const KUSTOMIZATION = `# kubectl apply -k deploy/kubernetes/base (after the Secrets: deploy/kubernetes/make-secrets.sh).
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - bulwark.yaml
`;

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      replicas: { type: 'string' },
      faults: { type: 'string' },
      clients: { type: 'string' },
      namespace: { type: 'string' },
      image: { type: 'string' },
      storage: { type: 'string' },
      'monitoring-namespace': { type: 'string' },
      'cluster-domain': { type: 'string' },
      out: { type: 'string' },
      'init-flags': { type: 'boolean' },
    },
  });
  const faults = values.faults === undefined ? DEFAULT_LAYOUT.faults : Number(values.faults);
  const layout: Layout = {
    replicas: values.replicas === undefined ? 3 * faults + 1 : Number(values.replicas),
    faults,
    clients: values.clients === undefined ? DEFAULT_LAYOUT.clients : Number(values.clients),
    namespace: values.namespace ?? DEFAULT_LAYOUT.namespace,
    image: values.image ?? DEFAULT_LAYOUT.image,
    storage: values.storage ?? DEFAULT_LAYOUT.storage,
    monitoringNamespace: values['monitoring-namespace'] ?? DEFAULT_LAYOUT.monitoringNamespace,
    clusterDomain: values['cluster-domain'] ?? DEFAULT_LAYOUT.clusterDomain,
  };
  if (values['init-flags'] === true) {
    process.stdout.write(initFlags(layout).join(' ') + '\n');
  } else if (values.out === undefined) {
    process.stdout.write(renderYaml(layout));
  } else {
    mkdirSync(values.out, { recursive: true });
    writeFileSync(join(values.out, 'bulwark.yaml'), renderYaml(layout));
    writeFileSync(join(values.out, 'kustomization.yaml'), KUSTOMIZATION);
  }
}
