/**
 * The node's admin channel: a unix socket, `admin.sock`, in the node directory. `bulwark backup`
 * asks the running node through it, because only the process holding RocksDB's lock can read its
 * stores at one consistent moment.
 *
 * Why a unix socket and not an HTTP route on the metrics port: who may connect is decided by the
 * filesystem — the node directory is 0700 and the socket 0600, so only the node's own user (and
 * root), who can already read its keys, can ask; nothing listens on the network, so no address,
 * token or TLS to get wrong; the metrics port is optional, often bound beyond 127.0.0.1 for
 * Prometheus, and serves unauthenticated GETs. And `--dir`, which an operator names anyway,
 * finds it.
 *
 * Protocol: one JSON request line, one JSON reply line, then the server closes the connection.
 * `{"op":"backup","out":"/abs/path"}` → `{"ok":true,"manifest":{…}}` or `{"ok":false,"code":…,"message":…}`.
 * One operation at a time (`ADMIN_BUSY` otherwise); requests larger than 64 KiB or slower than
 * 10 s to arrive are dropped.
 */
import { chmod, unlink } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { isAbsolute, join } from 'node:path';
import type { Logger } from 'pino';
import { BulwarkError, isBulwarkError } from '../common/errors.ts';
import { ADMIN_SOCKET, type BackupManifest } from './backup.ts';

/** Linux's sun_path holds 108 bytes with the terminating zero. */
const MAX_SOCKET_PATH = 107;
const MAX_REQUEST_BYTES = 64 * 1024;
const REQUEST_TIMEOUT_MS = 10_000;

export type AdminRequest = { readonly op: 'backup'; readonly out: string };
export type AdminReply = { readonly ok: true; readonly manifest: BackupManifest } | { readonly ok: false; readonly code: string; readonly message: string };

export interface AdminHandlers {
  backup(out: string): Promise<BackupManifest>;
}

export function adminSocketPath(dir: string): string {
  return join(dir, ADMIN_SOCKET);
}

export class AdminServer {
  readonly #server: Server;
  readonly #path: string;
  #busy = false;

  private constructor(server: Server, path: string) {
    this.#server = server;
    this.#path = path;
  }

  /**
   * Listens on `<dir>/admin.sock`. Call only while holding the node's store lock: a socket file
   * already there is then a dead process's and is replaced. Null (logged) when the path is too
   * long for a unix socket: the node runs without it, and backups need it stopped.
   */
  static async start(dir: string, handlers: AdminHandlers, log: Logger): Promise<AdminServer | null> {
    const path = adminSocketPath(dir);
    if (Buffer.byteLength(path) > MAX_SOCKET_PATH) {
      log.warn({ path }, `admin socket path longer than ${MAX_SOCKET_PATH} bytes: no admin socket (online backups unavailable; shorten the node directory's path)`);
      return null;
    }
    await unlink(path).catch(() => undefined);
    const admin: AdminServer = new AdminServer(
      createServer((socket) => admin.#serve(socket, handlers, log)),
      path,
    );
    await new Promise<void>((resolve, reject) => {
      admin.#server.once('error', reject);
      admin.#server.listen(path, () => resolve());
    });
    await chmod(path, 0o600);
    return admin;
  }

  /**
   * Stops accepting; does not wait for an operation in progress (a backup then fails when the node
   * closes its stores, and is removed), so a node stops as quickly with a backup running as without.
   */
  async close(): Promise<void> {
    this.#server.close();
    await unlink(this.#path).catch(() => undefined);
  }

  #serve(socket: Socket, handlers: AdminHandlers, log: Logger): void {
    let text = '';
    socket.setEncoding('utf8');
    socket.setTimeout(REQUEST_TIMEOUT_MS, () => socket.destroy());
    socket.on('error', () => undefined);
    const onData = (chunk: string) => {
      text += chunk;
      if (text.length > MAX_REQUEST_BYTES) return socket.destroy();
      const nl = text.indexOf('\n');
      if (nl < 0) return;
      socket.off('data', onData);
      socket.setTimeout(0);
      void this.#answer(text.slice(0, nl), handlers, log).then((reply) => socket.end(`${JSON.stringify(reply)}\n`));
    };
    socket.on('data', onData);
  }

  async #answer(line: string, handlers: AdminHandlers, log: Logger): Promise<AdminReply> {
    let req: unknown;
    try {
      req = JSON.parse(line);
    } catch {
      return { ok: false, code: 'ADMIN_BAD_REQUEST', message: 'the request is not JSON' };
    }
    const r = req as Partial<AdminRequest>;
    if (r.op !== 'backup' || typeof r.out !== 'string' || !isAbsolute(r.out)) {
      return { ok: false, code: 'ADMIN_BAD_REQUEST', message: 'expected {"op":"backup","out":"<absolute path>"}' };
    }
    if (this.#busy) return { ok: false, code: 'ADMIN_BUSY', message: 'another admin operation is running' };
    this.#busy = true;
    try {
      log.info({ out: r.out }, 'backup started');
      const manifest = await handlers.backup(r.out);
      log.info({ out: r.out, stores: manifest.stores }, 'backup written');
      return { ok: true, manifest };
    } catch (err) {
      log.warn({ err, out: r.out }, 'backup failed');
      return isBulwarkError(err) ? { ok: false, code: err.code, message: err.message } : { ok: false, code: 'ADMIN_FAILED', message: err instanceof Error ? err.message : String(err) };
    } finally {
      this.#busy = false;
    }
  }
}

/**
 * Sends one request to the node running on `dir`. Null when nothing listens there (no socket, or
 * a stale one): the node is not running, or runs without an admin socket.
 */
export async function adminRequest(dir: string, req: AdminRequest): Promise<AdminReply | null> {
  const path = adminSocketPath(dir);
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH) {
    throw new BulwarkError('ADMIN_PATH_TOO_LONG', `${path} is longer than a unix socket path may be (${MAX_SOCKET_PATH} bytes)`, { path });
  }
  return new Promise((resolve, reject) => {
    const socket = createConnection(path);
    let text = '';
    let connected = false;
    socket.setEncoding('utf8');
    socket.on('connect', () => {
      connected = true;
      socket.write(`${JSON.stringify(req)}\n`);
    });
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (!connected && (err.code === 'ENOENT' || err.code === 'ECONNREFUSED')) resolve(null);
      else reject(new BulwarkError('ADMIN_UNREACHABLE', `the node's admin socket ${path} failed: ${err.message}`, { path }, { cause: err }));
    });
    socket.on('end', () => {
      try {
        resolve(JSON.parse(text) as AdminReply);
      } catch (cause) {
        reject(new BulwarkError('ADMIN_UNREACHABLE', `the node closed its admin socket ${path} without an answer`, { path }, { cause }));
      }
    });
  });
}
