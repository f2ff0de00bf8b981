#!/usr/bin/env node
/**
 * The container's health check: GET the node's /health (common/metrics-server.ts) and exit 0 on a
 * 200 answer with a JSON body, 1 otherwise. Node's own fetch, so the image needs no curl.
 * BULWARK_HEALTH_URL overrides the address (default http://127.0.0.1:9100/health, the metrics
 * port the image's nodes are started with).
 */
/* global fetch, AbortSignal */
const url = process.env.BULWARK_HEALTH_URL ?? 'http://127.0.0.1:9100/health';
try {
  const res = await fetch(url, { signal: AbortSignal.timeout(4000) });
  const body = await res.text();
  if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
  JSON.parse(body);
  process.exit(0);
} catch (err) {
  process.stderr.write(`unhealthy: ${url}: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
