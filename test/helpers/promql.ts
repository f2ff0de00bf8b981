/**
 * The metric names a PromQL expression reads, found with Prometheus's own grammar
 * (`@prometheus-io/lezer-promql`, the parser of Prometheus's web UI), and the metric names a
 * Prometheus text exposition serves. For checking that dashboards and alert rules query only
 * metrics that exist.
 */
import { parser } from '@prometheus-io/lezer-promql';

/** Grafana's built-in interval variables, replaced by a duration so the expression parses as PromQL. */
const GRAFANA_DURATIONS = /\$(__rate_interval|__interval|__range)\b|\$\{(__rate_interval|__interval|__range)\}/g;

export interface ParsedQuery {
  readonly names: readonly string[];
  /** Text around each syntax error; empty when the expression parsed. */
  readonly errors: readonly string[];
}

/**
 * Metric names in `expr`: each vector selector's name, or its `__name__="…"` matcher. Grafana
 * variables in label values stay (they are strings to PromQL); interval variables become `5m`.
 */
export function metricNamesOf(expr: string): ParsedQuery {
  const q = expr.replace(GRAFANA_DURATIONS, '5m');
  const names = new Set<string>();
  const errors: string[] = [];
  const cursor = parser.parse(q).cursor();
  do {
    const node = cursor.node;
    if (node.type.isError) errors.push(JSON.stringify(q.slice(Math.max(0, node.from - 20), node.to + 20)));
    if (node.name !== 'VectorSelector') continue;
    const id = node.getChild('Identifier');
    if (id !== null) names.add(q.slice(id.from, id.to));
    const matchers = node.getChild('LabelMatchers');
    for (const m of matchers?.getChildren('UnquotedLabelMatcher') ?? []) {
      const label = m.getChild('LabelName');
      const op = m.getChild('MatchOp');
      const value = m.getChild('StringLiteral');
      if (label === null || op === null || value === null || q.slice(label.from, label.to) !== '__name__') continue;
      if (q.slice(op.from, op.to) !== '=') throw new Error(`a __name__ matcher other than "=" cannot be checked: ${expr}`);
      names.add(JSON.parse(q.slice(value.from, value.to)) as string);
    }
  } while (cursor.next());
  return { names: [...names], errors };
}

/**
 * Every series name a text exposition can yield: each `# TYPE` family (served even while it has no
 * sample yet, as a labelled counter before its first increment), with a histogram's `_bucket`,
 * `_sum` and `_count` and a summary's `_sum` and `_count`, and every sample's name.
 */
export function servedNames(exposition: string): Set<string> {
  const names = new Set<string>();
  for (const line of exposition.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type !== null) {
      const [, name, kind] = type as unknown as [string, string, string];
      names.add(name);
      if (kind === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(name + s);
      if (kind === 'summary') for (const s of ['_sum', '_count']) names.add(name + s);
      continue;
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]/.exec(line);
    if (sample !== null) names.add(sample[1]!);
  }
  return names;
}

/** The value of the first sample of `name` whose labels include every one of `labels`; undefined if none. */
export function sampleValue(exposition: string, name: string, labels: Readonly<Record<string, string>> = {}): number | undefined {
  for (const line of exposition.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)/.exec(line);
    if (m === null || m[1] !== name) continue;
    const text = m[2] ?? '';
    if (Object.entries(labels).every(([k, v]) => text.includes(`${k}="${v}"`))) return Number(m[3]);
  }
  return undefined;
}
