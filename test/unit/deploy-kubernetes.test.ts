// The Kubernetes manifests, checked offline: deploy/kubernetes/base is scripts/k8s-manifests.ts's
// current output; every object validates against Kubernetes' schemas (kubernetes-models, generated
// from the Kubernetes OpenAPI document; the ServiceMonitor from the Prometheus Operator's CRD by
// @kubernetes-models/prometheus-operator); the objects fit together (Services, ports, probes,
// budgets, policies); make-secrets.sh turns a real `bulwark init` output into Secrets whose
// files, copied by the init container's own script, load as node directories; and where kubectl
// is installed, `kubectl kustomize` renders the base and the example overlay, whose output
// validates too.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { StatefulSet } from 'kubernetes-models/apps/v1';
import { Namespace, Secret, Service, ServiceAccount } from 'kubernetes-models/v1';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import type { IStatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import type { IService } from 'kubernetes-models/v1/Service';
import type { ISecret } from 'kubernetes-models/v1/Secret';
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import type { IServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import { initHashes } from '../../src/crypto/hash.ts';
import { runInit } from '../../src/setup/init.ts';
import { loadNodeDirectory } from '../../src/setup/node-directory.ts';
import { parseEndpoint } from '../../src/setup/topology.ts';
import { COPY_KEYS_SCRIPT, DATA_MOUNT, DEFAULT_LAYOUT, initFlags, KEYS_MOUNT, KUSTOMIZATION, nodesOf, renderYaml } from '../../scripts/k8s-manifests.ts';
import { bulwark, REPO } from '../helpers/cli.ts';
import { testConfig } from '../helpers/chain.ts';

await initHashes();

const BASE = join(REPO, 'deploy', 'kubernetes', 'base');
const MODELS: Record<string, { validate(o: unknown): void }> = {
  'v1/Namespace': { validate: (o) => new Namespace(o as never).validate() },
  'v1/ServiceAccount': { validate: (o) => new ServiceAccount(o as never).validate() },
  'v1/Service': { validate: (o) => new Service(o as never).validate() },
  'v1/Secret': { validate: (o) => new Secret(o as never).validate() },
  'apps/v1/StatefulSet': { validate: (o) => new StatefulSet(o as never).validate() },
  'networking.k8s.io/v1/NetworkPolicy': { validate: (o) => new NetworkPolicy(o as never).validate() },
  'policy/v1/PodDisruptionBudget': { validate: (o) => new PodDisruptionBudget(o as never).validate() },
  'monitoring.coreos.com/v1/ServiceMonitor': { validate: (o) => new ServiceMonitor(o as never).validate() },
};

interface Obj {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
}

function objectsOf(text: string): Obj[] {
  return parseAllDocuments(text)
    .map((d) => {
      assert.deepEqual(d.errors, []);
      return d.toJS() as Obj | null;
    })
    .filter((o): o is Obj => o !== null);
}

/** Validates each object against its kind's schema; returns the problems, one line each. */
function schemaProblems(objects: readonly Obj[]): string[] {
  const problems: string[] = [];
  for (const o of objects) {
    const model = MODELS[`${o.apiVersion}/${o.kind}`];
    if (model === undefined) {
      problems.push(`${o.kind} ${o.metadata.name}: no schema for ${o.apiVersion}/${o.kind}`);
      continue;
    }
    try {
      model.validate(o);
    } catch (err) {
      problems.push(`${o.kind} ${o.metadata.name}: ${(err as Error).message}`);
    }
  }
  return problems;
}

const baseText = readFileSync(join(BASE, 'bulwark.yaml'), 'utf8');
const objects = objectsOf(baseText);
const ofKind = <T>(kind: string) => objects.filter((o) => o.kind === kind) as unknown as T[];
const statefulSets = ofKind<IStatefulSet & Obj>('StatefulSet');
const services = ofKind<IService & Obj>('Service');
const layout = DEFAULT_LAYOUT;

test('deploy/kubernetes/base is the current output of scripts/k8s-manifests.ts', () => {
  assert.equal(baseText, renderYaml(layout), 'regenerate: node --import tsx scripts/k8s-manifests.ts --out deploy/kubernetes/base');
  assert.equal(readFileSync(join(BASE, 'kustomization.yaml'), 'utf8'), KUSTOMIZATION);
});

test("every object validates against Kubernetes' schemas, and a broken one does not", () => {
  assert.deepEqual(schemaProblems(objects), []);
  assert.deepEqual(objects.map((o) => o.kind).filter((k, i, all) => all.indexOf(k) === i), [
    'Namespace',
    'ServiceAccount',
    'Service',
    'StatefulSet',
    'NetworkPolicy',
    'PodDisruptionBudget',
    'ServiceMonitor',
  ]);
  const broken = structuredClone(statefulSets[0]!) as unknown as { spec: { replicas: unknown; template: { spec: { containers: { ports: { containerPort: unknown }[] }[] } } } };
  broken.spec.replicas = 'one';
  broken.spec.template.spec.containers[0]!.ports[0]!.containerPort = 'peer';
  const problems = schemaProblems([broken as unknown as Obj]);
  assert.equal(problems.length, 1);
  assert.match(problems[0]!, /replicas must be integer/);
  assert.match(problems[0]!, /containerPort must be integer/);
});

test('one StatefulSet per node, each with its volume claim, headless Service, key Secret and probes on /health', async () => {
  const nodes = nodesOf(layout);
  assert.deepEqual(statefulSets.map((s) => s.metadata.name), nodes.map((n) => n.name));
  const helps: Record<string, string> = {};
  for (const node of nodes) {
    const sts = statefulSets.find((s) => s.metadata.name === node.name)!;
    const spec = sts.spec!;
    assert.equal(spec.replicas, 1);
    assert.deepEqual(spec.volumeClaimTemplates?.map((v) => [v.metadata?.name, v.spec?.accessModes, v.spec?.resources?.requests?.storage]), [['data', ['ReadWriteOnce'], layout.storage]]);
    const pod = spec.template.spec!;
    const podLabels = spec.template.metadata!.labels!;
    for (const [k, v] of Object.entries(spec.selector.matchLabels!)) assert.equal(podLabels[k], v);
    // Its headless Service selects exactly its pod and names its container ports.
    const svc = services.find((s) => s.metadata.name === spec.serviceName)!;
    assert.ok(svc, `no Service ${spec.serviceName}`);
    assert.equal(svc.spec!.clusterIP, 'None');
    assert.equal(svc.spec!.publishNotReadyAddresses, true);
    for (const [k, v] of Object.entries(svc.spec!.selector!)) assert.equal(podLabels[k], v);
    const container = pod.containers[0]!;
    const portNames = new Set(container.ports!.map((p) => p.name));
    for (const p of svc.spec!.ports!) assert.ok(portNames.has(String(p.targetPort)), `${svc.metadata.name}: targetPort ${p.targetPort}`);
    for (const probe of [container.startupProbe, container.livenessProbe, container.readinessProbe]) {
      assert.deepEqual(probe?.httpGet, { path: '/health', port: 'metrics' });
    }
    assert.deepEqual(container.ports!.find((p) => p.name === 'metrics')?.containerPort, 9100);
    // Runs as the image's user, read-only, with the keys from its own Secret.
    assert.equal(pod.securityContext?.runAsUser, 10001);
    assert.equal(pod.securityContext?.fsGroup, 10001);
    for (const c of [...pod.initContainers!, container]) {
      assert.equal(c.securityContext?.readOnlyRootFilesystem, true);
      assert.equal(c.securityContext?.allowPrivilegeEscalation, false);
    }
    assert.equal(pod.volumes!.find((v) => v.name === 'keys')?.secret?.secretName, `${node.name}-keys`);
    assert.equal(pod.volumes!.find((v) => v.name === 'passphrase')?.secret?.secretName, 'bulwark-passphrase');
    // The node runs as its role, and every option it is given is one that role takes.
    const args = container.args!;
    assert.equal(args[0], node.role);
    helps[node.role] ??= (await bulwark([node.role, '--help'])).stdout;
    for (const flag of args.filter((a) => a.startsWith('--'))) assert.match(helps[node.role]!, new RegExp(`${flag}\\b`), `${node.name}: no ${flag}`);
  }
  const rpc = services.find((s) => s.metadata.name === 'bulwark-rpc')!;
  assert.deepEqual(rpc.spec!.ports!.map((p) => [p.port, p.targetPort]), [[8545, 'rpc']]);
});

test('the disruption budget never lets more than f replicas be evicted, and selects exactly the replicas', () => {
  const [pdb] = ofKind<IPodDisruptionBudget & Obj>('PodDisruptionBudget');
  const replicaPods = statefulSets.filter((s) => s.spec!.template.metadata!.labels!['app.kubernetes.io/component'] === 'replica');
  assert.equal(replicaPods.length, layout.replicas);
  const selected = statefulSets.filter((s) => Object.entries(pdb!.spec!.selector!.matchLabels!).every(([k, v]) => s.spec!.template.metadata!.labels![k] === v));
  assert.deepEqual(selected, replicaPods);
  assert.equal(layout.replicas - Number(pdb!.spec!.minAvailable), layout.faults);
});

test('network policies: default deny; a replica port is reachable only from the network own pods; ServiceMonitor scrapes the metrics ports', () => {
  const policies = ofKind<INetworkPolicy & Obj>('NetworkPolicy');
  const deny = policies.find((p) => p.metadata.name === 'bulwark-default-deny')!;
  assert.deepEqual(deny.spec!.policyTypes, ['Ingress', 'Egress']);
  assert.equal(deny.spec!.ingress, undefined);
  // Every ingress rule that opens port 7100 admits only Bulwark's pods of this namespace.
  const peerRules = policies.flatMap((p) => (p.spec!.ingress ?? []).filter((r) => r.ports?.some((port) => port.port === 7100)));
  assert.equal(peerRules.length, 1);
  assert.deepEqual(peerRules[0]!.from, [{ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'bulwark' } } }]);
  for (const p of policies) {
    for (const rule of p.spec!.ingress ?? []) {
      assert.ok(rule.ports !== undefined && rule.ports.length > 0, `${p.metadata.name}: an ingress rule without ports opens every port`);
    }
  }
  const [monitor] = ofKind<IServiceMonitor & Obj>('ServiceMonitor');
  const scraped = services.filter((s) => Object.entries(monitor!.spec.selector.matchLabels!).every(([k, v]) => s.metadata.labels?.[k] === v) && ['replica', 'client'].includes(s.metadata.labels!['app.kubernetes.io/component']!));
  assert.equal(scraped.length, layout.replicas + layout.clients);
  for (const s of scraped) assert.ok(s.spec!.ports!.some((p) => p.name === monitor!.spec.endpoints![0]!.port));
});

test('another layout (f = 2, two client nodes, another namespace) validates, with its budget at f', () => {
  const other = { ...layout, faults: 2, replicas: 7, clients: 2, namespace: 'ledger' };
  const rendered = objectsOf(renderYaml(other));
  assert.deepEqual(schemaProblems(rendered), []);
  assert.equal(rendered.filter((o) => o.kind === 'StatefulSet').length, 9);
  assert.ok(rendered.every((o) => o.kind === 'Namespace' || o.metadata.namespace === 'ledger'));
  const pdb = rendered.find((o) => o.kind === 'PodDisruptionBudget') as unknown as IPodDisruptionBudget;
  assert.equal(7 - Number(pdb.spec!.minAvailable), 2);
  assert.match(initFlags(other).join(' '), /--client-endpoints client-7-0\.client-7\.ledger\.svc\.cluster\.local:7100,client-8-0\.client-8\.ledger\.svc\.cluster\.local:7100$/);
});

const work = mkdtempSync(join(tmpdir(), 'bulwark-k8s-'));
after(() => rmSync(work, { recursive: true, force: true }));

test("make-secrets.sh turns bulwark init's output into Secrets; the init container's script makes node directories that load", async () => {
  const out = join(work, 'network');
  const flags = initFlags(layout);
  const endpoints = (flag: string) => flags[flags.indexOf(flag) + 1]!.split(',').map((e) => parseEndpoint(e));
  const passphrase = 'k8s test passphrase';
  await runInit({
    outDir: out,
    topology: { replicas: layout.replicas, f: layout.faults, clients: layout.clients, replicaEndpoints: endpoints('--replica-endpoints'), clientEndpoints: endpoints('--client-endpoints') },
    chainConfig: testConfig(),
    passphrase,
    scryptCost: { logN: 10, r: 8, p: 1 },
  });
  const passFile = join(work, 'passphrase');
  writeFileSync(passFile, passphrase + '\n', { mode: 0o600 });
  const made = spawnSync('sh', [join(REPO, 'deploy/kubernetes/make-secrets.sh'), '--passphrase-file', passFile, out], { encoding: 'utf8' });
  assert.equal(made.status, 0, made.stderr);
  const secrets = objectsOf(made.stdout) as unknown as (ISecret & Obj)[];
  assert.deepEqual(schemaProblems(secrets), []);
  const nodes = nodesOf(layout);
  assert.deepEqual(secrets.map((s) => s.metadata.name), [...nodes.map((n) => `${n.name}-keys`), 'bulwark-passphrase']);
  assert.equal(Buffer.from(secrets.at(-1)!.data!.passphrase!, 'base64').toString(), passphrase);
  assert.ok(!made.stdout.includes('operator'), 'the operator key must stay offline');

  for (const node of nodes) {
    const sts = statefulSets.find((s) => s.metadata.name === node.name)!;
    // The endpoint bulwark init gave this node is its pod's DNS name, on the port it listens on.
    const network = JSON.parse(readFileSync(join(out, node.name, 'network.json'), 'utf8')) as { replicas: { id: number; host: string; port: number }[]; clients: { id: number; host: string; port: number }[] };
    const info = [...network.replicas, ...network.clients].find((x) => x.id === node.id)!;
    assert.equal(info.host, `${sts.metadata.name}-0.${sts.spec!.serviceName}.${sts.metadata.namespace}.svc.cluster.local`);
    if (node.role === 'replica') assert.equal(info.port, sts.spec!.template.spec!.containers[0]!.ports!.find((p) => p.name === 'peer')!.containerPort);
    // The Secret as the kubelet mounts it (group-readable under fsGroup), then the init container's script.
    const secret = secrets.find((s) => s.metadata.name === `${node.name}-keys`)!;
    const mount = join(work, 'mounts', node.name);
    mkdirSync(mount, { recursive: true });
    for (const [file, b64] of Object.entries(secret.data!)) {
      writeFileSync(join(mount, file), Buffer.from(b64, 'base64'));
      chmodSync(join(mount, file), 0o440);
    }
    const volume = join(work, 'volumes', node.name);
    mkdirSync(volume, { recursive: true });
    const script = COPY_KEYS_SCRIPT.replaceAll(DATA_MOUNT, volume).replaceAll(KEYS_MOUNT, mount);
    const copied = spawnSync('sh', ['-ec', script], { encoding: 'utf8' });
    assert.equal(copied.status, 0, copied.stderr);
    const material = await loadNodeDirectory(join(volume, 'node'), { passphrase });
    assert.equal(material.role, node.role);
    assert.equal('id' in material ? material.id : undefined, node.id);
    // A restart leaves the directory (and the keys the node rotated since) alone.
    const again = spawnSync('sh', ['-ec', script], { encoding: 'utf8' });
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stdout, /is set up/);
  }
  // A directory a node has already run from is refused.
  mkdirSync(join(out, 'replica-0', 'data'));
  const used = spawnSync('sh', [join(REPO, 'deploy/kubernetes/make-secrets.sh'), out], { encoding: 'utf8' });
  assert.equal(used.status, 1);
  assert.match(used.stderr, /has been used by a running node/);
});

const shellcheck = spawnSync('shellcheck', ['--version'], { encoding: 'utf8' });
test("shellcheck passes make-secrets.sh and the init container's script", { skip: shellcheck.status !== 0 && 'shellcheck is not installed' }, () => {
  const file = spawnSync('shellcheck', ['-s', 'sh', join(REPO, 'deploy/kubernetes/make-secrets.sh')], { encoding: 'utf8' });
  assert.equal(file.status, 0, file.stdout + file.stderr);
  const script = spawnSync('shellcheck', ['-s', 'sh', '-'], { input: COPY_KEYS_SCRIPT, encoding: 'utf8' });
  assert.equal(script.status, 0, script.stdout + script.stderr);
});

const kubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' });
test('kubectl kustomize renders the base and the example overlay; the overlay output validates', { skip: kubectl.status !== 0 && 'kubectl is not installed' }, () => {
  const base = spawnSync('kubectl', ['kustomize', BASE], { encoding: 'utf8' });
  assert.equal(base.status, 0, base.stderr);
  assert.equal(objectsOf(base.stdout).length, objects.length);
  const overlayDir = join(REPO, 'deploy', 'kubernetes', 'overlays');
  for (const overlay of readdirSync(overlayDir)) {
    const rendered = spawnSync('kubectl', ['kustomize', join(overlayDir, overlay)], { encoding: 'utf8' });
    assert.equal(rendered.status, 0, rendered.stderr);
    const out = objectsOf(rendered.stdout);
    assert.equal(out.length, objects.length);
    assert.deepEqual(schemaProblems(out), [], overlay);
  }
});
