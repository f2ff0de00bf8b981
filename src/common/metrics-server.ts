/**
 * The /metrics (Prometheus text) and /health (JSON) endpoint every node serves on its own port;
 * everything else is 404. The transport's gauges, which every node registers too, are in
 * `net/metrics.ts` (common depends on nothing above it).
 */
import { createServer, type Server } from 'node:http';
import { Gauge, type Registry } from 'prom-client';

export async function serveMetrics(
  registry: Registry,
  health: () => Record<string, unknown>,
  listen: { readonly host: string; readonly port: number },
): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/metrics') {
      registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
        (err: unknown) => res.writeHead(500).end(String(err)),
      );
    } else if (req.method === 'GET' && req.url === '/health') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(health()));
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => resolve());
  });
  return server;
}

/**
 * Gauges whose values come from one snapshot of the node, taken once per scrape (not once per
 * gauge: a snapshot may walk the pool or ask the transport).
 */
export function registerSnapshotGauges<T>(registry: Registry, read: () => T, defs: readonly (readonly [name: string, help: string, value: (t: T) => number])[]): void {
  let snapshot: T | undefined;
  let takenAt = -Infinity;
  const current = (): T => {
    const now = performance.now();
    if (snapshot === undefined || now - takenAt > 100) {
      snapshot = read();
      takenAt = now;
    }
    return snapshot;
  };
  for (const [name, help, value] of defs) {
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(value(current()));
      },
    });
  }
}
