// The monitoring files of deploy/ against a real network: four replica processes and a client
// node serving /metrics, some transactions and JSON-RPC calls, then every metric the Grafana
// dashboards and the Prometheus alert rules query must be one some node serves. The queries are
// parsed with Prometheus's own PromQL grammar; alerts.yml and prometheus.yml are checked for shape.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { buildCommon } from '../../src/execution/common.ts';
import { signTx, testConfig, testKey } from '../helpers/chain.ts';
import { startNetwork, type TestNetwork } from '../helpers/network.ts';
import { metricNamesOf, sampleValue, servedNames } from '../helpers/promql.ts';
import { rpcClient } from '../helpers/rpc.ts';

const DEPLOY = join(import.meta.dirname, '..', '..', 'deploy');
const DASHBOARDS = join(DEPLOY, 'grafana', 'dashboards');
/** Series Prometheus makes itself for each target; no node serves them. */
const SYNTHETIC = new Set(['up']);
const SINK = '0x00000000000000000000000000000000000000d5';

let net: TestNetwork;
/** Each node's /metrics text after the traffic, by node id. */
const scraped = new Map<number, string>();

before(async () => {
  net = await startNetwork(0x5d);
  const config = testConfig();
  const common = buildCommon(config.chainId, config.hardfork);
  const rpc = rpcClient(net.url);
  for (let nonce = 0n; nonce < 4n; nonce++) await rpc.send(signTx(common, testKey(0), { nonce, to: SINK, value: 1n }));
  await rpc.call('eth_getBalance', [SINK, 'latest']);
  await rpc.call('eth_blockNumber');
  await rpc.rejects('eth_getBalance', ['0x12', 'latest'], -32602, /invalid argument 0/);
  await rpc.rejects('no_suchMethod', [], -32601, /does not exist/);
  for (const id of [...net.replicas, net.clientId]) {
    const res = await fetch(net.metricsUrl(id));
    assert.equal(res.status, 200);
    scraped.set(id, await res.text());
  }
});
after(async () => {
  await net?.stop();
});

/** Every query of a dashboard: panel targets and the `label_values(metric, label)` of its variables. */
function dashboardQueries(file: string): { where: string; expr: string }[] {
  const d = JSON.parse(readFileSync(join(DASHBOARDS, file), 'utf8')) as {
    uid: string;
    panels: { title: string; targets: { expr: string }[] }[];
    templating: { list: { name: string; definition?: string }[] };
  };
  assert.ok(d.uid.startsWith('bulwark-'), `${file}: uid`);
  const out = d.panels.flatMap((p) => p.targets.map((t) => ({ where: `${file}: ${p.title}`, expr: t.expr })));
  for (const v of d.templating.list) {
    if (v.definition === undefined) continue;
    const m = /^label_values\((.+), *([a-zA-Z_]+)\)$/.exec(v.definition);
    assert.ok(m !== null, `${file}: variable ${v.name}: ${v.definition}`);
    out.push({ where: `${file}: variable ${v.name}`, expr: m[1]! });
  }
  return out;
}

interface Rule {
  alert?: unknown;
  expr?: unknown;
  for?: unknown;
  labels?: { severity?: unknown };
  annotations?: { summary?: unknown };
}

function alertRules(): Rule[] {
  const doc = parseYaml(readFileSync(join(DEPLOY, 'prometheus', 'alerts.yml'), 'utf8')) as { groups?: { name?: unknown; rules?: Rule[] }[] };
  assert.ok(Array.isArray(doc.groups) && doc.groups.length > 0, 'alerts.yml: groups');
  return doc.groups.flatMap((g) => {
    assert.equal(typeof g.name, 'string', 'alerts.yml: a group without a name');
    assert.ok(Array.isArray(g.rules) && g.rules.length > 0, `alerts.yml: group ${String(g.name)} has no rules`);
    return g.rules;
  });
}

test('the PromQL check finds names, including __name__ matchers, and reports syntax errors', () => {
  const q = metricNamesOf('histogram_quantile(0.99, sum by (le) (rate(a_bucket{x=~"$instance"}[$__rate_interval]))) / on() group_left {__name__="b"} + c offset 5m');
  assert.deepEqual([...q.names].sort(), ['a_bucket', 'b', 'c']);
  assert.deepEqual(q.errors, []);
  assert.notDeepEqual(metricNamesOf('rate(a[5m]').errors, []);
  const served = servedNames('# HELP h x\n# TYPE h histogram\nh_bucket{le="1"} 0\n# TYPE c counter\n');
  assert.ok(served.has('h_sum') && served.has('h_count') && served.has('c') && !served.has('d'));
});

test('every metric the dashboards and alert rules query is served by a running node', () => {
  const served = new Set<string>([...SYNTHETIC]);
  for (const text of scraped.values()) for (const n of servedNames(text)) served.add(n);
  const files = readdirSync(DASHBOARDS).filter((f) => f.endsWith('.json'));
  assert.deepEqual(files.sort(), ['bulwark-consensus.json', 'bulwark-execution.json', 'bulwark-nodes.json', 'bulwark-rpc.json']);
  const queries = [
    ...files.flatMap(dashboardQueries),
    ...alertRules().map((r) => ({ where: `alerts.yml: ${String(r.alert)}`, expr: String(r.expr) })),
  ];
  const missing: string[] = [];
  let names = 0;
  for (const { where, expr } of queries) {
    const q = metricNamesOf(expr);
    assert.deepEqual(q.errors, [], `${where}: ${expr} does not parse`);
    assert.ok(q.names.length > 0, `${where}: ${expr} names no metric`);
    names += q.names.length;
    for (const n of q.names) if (!served.has(n)) missing.push(`${where}: ${n}`);
  }
  assert.deepEqual(missing, [], 'queried but served by no node');
  console.log(`${queries.length} queries, ${names} metric references, ${served.size} series names served`);
});

test('the metrics added for the dashboards carry real values after the traffic', () => {
  const replica = scraped.get(0)!;
  const client = scraped.get(net.clientId)!;
  assert.ok(sampleValue(replica, 'bulwark_execution_transactions_total')! >= 4, 'transactions executed');
  assert.ok(sampleValue(replica, 'bulwark_execution_gas_used_total')! >= 4 * 21_000, 'gas used');
  assert.ok(sampleValue(replica, 'bulwark_execution_blocks_total')! >= 1, 'blocks');
  assert.ok(sampleValue(replica, 'bulwark_execution_batch_duration_seconds_count')! >= 1, 'execution timed');
  assert.ok(sampleValue(replica, 'bulwark_consensus_committed_total', { path: 'fast' })! >= 1, 'fast-path commits');
  assert.ok(sampleValue(replica, 'bulwark_store_disk_bytes', { store: 'data' })! > 0, 'replica data on disk');
  assert.ok(sampleValue(client, 'bulwark_store_disk_bytes', { store: 'state' })! > 0, 'client state on disk');
  assert.ok(sampleValue(replica, 'bulwark_disk_free_bytes')! > 0 && sampleValue(replica, 'bulwark_disk_size_bytes')! > 0, 'filesystem figures');
  assert.equal(sampleValue(replica, 'bulwark_node_info', { role: 'replica', node_id: '0', chain_id: '1337' }), 1);
  assert.equal(sampleValue(client, 'bulwark_node_info', { role: 'client', node_id: String(net.clientId) }), 1);
  assert.ok(sampleValue(client, 'bulwark_rpc_call_duration_seconds_count', { method: 'eth_sendRawTransaction' })! >= 4, 'rpc latency by method');
  assert.ok(sampleValue(client, 'bulwark_rpc_call_duration_seconds_count', { method: 'unknown' })! >= 1, 'unknown methods timed too');
  assert.ok(sampleValue(client, 'bulwark_rpc_calls_total', { method: 'eth_getBalance', outcome: '-32602' })! >= 1, 'errors by code');
});

test('alerts.yml: every rule has alert, expr, for, labels.severity and annotations.summary; prometheus.yml loads it and scrapes both jobs', () => {
  const rules = alertRules();
  const seen = new Set<string>();
  for (const r of rules) {
    assert.match(String(r.alert), /^Bulwark[A-Za-z]+$/, 'alert name');
    assert.ok(!seen.has(String(r.alert)), `${String(r.alert)} twice`);
    seen.add(String(r.alert));
    assert.equal(typeof r.expr, 'string', `${String(r.alert)}: expr`);
    assert.match(String(r.for), /^\d+[smh]$/, `${String(r.alert)}: for`);
    assert.ok(['critical', 'warning', 'info'].includes(String(r.labels?.severity)), `${String(r.alert)}: labels.severity`);
    assert.equal(typeof r.annotations?.summary, 'string', `${String(r.alert)}: annotations.summary`);
  }
  for (const wanted of ['BulwarkReplicaDown', 'BulwarkViewChangesFrequent', 'BulwarkCheckpointLag', 'BulwarkClientNodeNotCertifying', 'BulwarkDiskFilling']) {
    assert.ok(seen.has(wanted), `alerts.yml has ${wanted}`);
  }
  const prom = parseYaml(readFileSync(join(DEPLOY, 'prometheus', 'prometheus.yml'), 'utf8')) as {
    rule_files: string[];
    scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[];
  };
  assert.deepEqual(prom.rule_files, ['alerts.yml']);
  const jobs = new Map(prom.scrape_configs.map((s) => [s.job_name, s.static_configs.flatMap((c) => c.targets)]));
  // `bulwark dev --metrics-port 9100`: replicas on 9100..9103, the client node on 9104.
  assert.deepEqual(jobs.get('bulwark-replica'), ['127.0.0.1:9100', '127.0.0.1:9101', '127.0.0.1:9102', '127.0.0.1:9103']);
  assert.deepEqual(jobs.get('bulwark-client'), ['127.0.0.1:9104']);
  // Grafana's provisioning files parse and point at the dashboards.
  const provider = parseYaml(readFileSync(join(DEPLOY, 'grafana', 'provisioning', 'dashboards', 'bulwark.yaml'), 'utf8')) as { providers: { type: string; options: { path: string } }[] };
  assert.equal(provider.providers[0]!.type, 'file');
  const sources = parseYaml(readFileSync(join(DEPLOY, 'grafana', 'provisioning', 'datasources', 'prometheus.yaml'), 'utf8')) as { datasources: { type: string }[] };
  assert.equal(sources.datasources[0]!.type, 'prometheus');
});

// Prometheus's own checker, where installed (Debian: `apt-get install prometheus`); CI without it skips.
const promtool = spawnSync('promtool', ['--version']).status === 0;
test('promtool accepts prometheus.yml and alerts.yml', { skip: promtool ? false : 'promtool is not installed' }, () => {
  const r = spawnSync('promtool', ['check', 'config', join(DEPLOY, 'prometheus', 'prometheus.yml')], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /SUCCESS: \d+ rules found/);
});
