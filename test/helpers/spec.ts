/**
 * The Ethereum execution-apis specification at test time: its method files (`eth/*.yaml`,
 * `debug/*.yaml`, `txpool/*.yaml`) and result schemas (`schemas/*.yaml`), read from the copy in
 * `../shared/reference/execution-apis/` beside the project root, and a validator of a method's
 * answer against the result schema the specification gives it (JSON Schema 2020-12, with the
 * specification's `#/components/schemas/…` references resolved against its schema files).
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import { parse } from 'yaml';

/** The specification's copy: `../shared/reference/execution-apis` from the project root. */
export const SPEC_DIR = fileURLToPath(new URL('../../../shared/reference/execution-apis/', import.meta.url));

/** The method groups this node answers for. */
export const SPEC_GROUPS = ['eth', 'debug', 'txpool'] as const;

export interface SpecParam {
  readonly name: string;
  readonly required?: boolean;
  readonly schema: unknown;
}

export interface SpecMethod {
  readonly name: string;
  /** The group's yaml file it is defined in, e.g. `eth/state.yaml`. */
  readonly file: string;
  readonly params: readonly SpecParam[];
  readonly result: { readonly name: string; readonly schema: unknown };
  readonly errors?: readonly { readonly code: number; readonly message: string }[];
}

const SCHEMA_BASE = 'https://execution-apis.test/components.json';

function yamlFiles(dir: string): string[] {
  return readdirSync(join(SPEC_DIR, dir))
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => join(dir, f));
}

/** Every method of the eth, debug and txpool groups, by name. */
export function specMethods(): Map<string, SpecMethod> {
  const out = new Map<string, SpecMethod>();
  for (const file of SPEC_GROUPS.flatMap(yamlFiles)) {
    for (const m of parse(readFileSync(join(SPEC_DIR, file), 'utf8')) as Omit<SpecMethod, 'file'>[]) out.set(m.name, { ...m, file });
  }
  return out;
}

/** `#/components/schemas/X` → the same pointer in the one document that holds every schema file. */
function absoluteRefs(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(absoluteRefs);
  if (typeof v !== 'object' || v === null) return v;
  return Object.fromEntries(
    Object.entries(v).map(([k, x]) => [k, k === '$ref' && typeof x === 'string' && x.startsWith('#/') ? `${SCHEMA_BASE}${x}` : absoluteRefs(x)]),
  );
}

export class SpecValidator {
  readonly methods = specMethods();
  readonly #ajv: Ajv2020;
  readonly #compiled = new Map<string, ValidateFunction>();

  constructor() {
    const schemas: Record<string, unknown> = {};
    for (const file of yamlFiles('schemas')) Object.assign(schemas, parse(readFileSync(join(SPEC_DIR, file), 'utf8')) as Record<string, unknown>);
    // Not strict: the specification's schemas carry OpenRPC's annotations and a few keywords of
    // another type's vocabulary (`properties` on an array), which JSON Schema ignores.
    this.#ajv = new Ajv2020({ strict: false, allErrors: true });
    this.#ajv.addSchema({ $id: SCHEMA_BASE, components: { schemas } });
  }

  /** The method's definition (throws for a name the specification does not have). */
  method(name: string): SpecMethod {
    const m = this.methods.get(name);
    assert.ok(m !== undefined, `${name} is not a method of the specification`);
    return m;
  }

  /** A named schema of `schemas/*.yaml` as a validator. */
  schema(name: string): ValidateFunction {
    return this.#compile(`schema ${name}`, { $ref: `${SCHEMA_BASE}#/components/schemas/${name}` });
  }

  /** Asserts that `result` (as it went over the wire) is what the specification says `method` returns. */
  assertResult(method: string, result: unknown): void {
    const validate = this.#compile(`result ${method}`, absoluteRefs(this.method(method).result.schema));
    assertValid(validate, result, `${method}'s result`);
  }

  /** Asserts that `params` match the specification's parameter schemas (what the tests send is what a spec client sends). */
  assertParams(method: string, params: readonly unknown[]): void {
    this.method(method).params.forEach((p, i) => {
      if (params[i] === undefined) {
        assert.ok(p.required !== true, `${method}: parameter ${i} (${p.name}) is required`);
        return;
      }
      assertValid(this.#compile(`param ${method} ${i}`, absoluteRefs(p.schema)), params[i], `${method}'s parameter ${i} (${p.name})`);
    });
  }

  #compile(key: string, schema: unknown): ValidateFunction {
    let v = this.#compiled.get(key);
    if (v === undefined) {
      v = this.#ajv.compile(schema as object);
      this.#compiled.set(key, v);
    }
    return v;
  }
}

export function assertValid(validate: ValidateFunction, value: unknown, what: string): void {
  if (validate(value)) return;
  assert.fail(`${what} does not match the specification:\n${describeErrors(validate.errors ?? [])}\nvalue: ${JSON.stringify(value).slice(0, 2_000)}`);
}

/** The deepest errors first: with `oneOf`/`anyOf`, the branch that came closest says the most. */
function describeErrors(errors: readonly ErrorObject[]): string {
  return [...errors]
    .sort((a, b) => b.instancePath.length - a.instancePath.length)
    .slice(0, 12)
    .map((e) => `  ${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)} (${e.schemaPath})`)
    .join('\n');
}
