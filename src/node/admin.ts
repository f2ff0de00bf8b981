/**
 * The node's admin channel: a unix socket through which `bulwark backup` asks the running node,
 * because only the process holding RocksDB's lock can read its stores at one consistent moment.
 *
 * Where: `/tmp/bulwark-<uid>/<first 16 hex of SHA-256(real path of the node directory)>.sock`
 * (`BULWARK_RUNTIME_DIR` replaces `/tmp/bulwark-<uid>`), uid being the node directory's owner —
 * so `--dir`, which the operator names anyway, finds it, for root too. Not in the node directory:
 * a socket there broke every copy of a running node's directory made with Node's `fs.cp` (this
 * project's own tests made them), and a deep node directory could not hold one (a socket path has
 * at most 107 bytes). The runtime directory is made 0700; both sides refuse it unless it is a real
 * directory (no symlink) owned by that uid with no group or other access, and the client also
 * refuses a socket owned by anyone else — as tmux does with its /tmp directory — so another local
 * user can at worst keep the socket from being made (logged), never stand in for the node.
 *
 * Why a unix socket and not an HTTP route on the metrics port: who may connect is decided by the
 * filesystem — only the node's user (and root), who can already read its keys; nothing listens on
 * the network, so no address, token or TLS to get wrong; the metrics port is optional, often bound
 * beyond 127.0.0.1 for Prometheus, and serves unauthenticated GETs.
 *
 * Protocol: one JSON request line, one JSON reply line, then the server closes the connection.
 * `{"op":"backup","out":"/abs/path"}` → `{"ok":true,"manifest":{…}}` or `{"ok":false,"code":…,"message":…}`.
 * One operation at a time (`ADMIN_BUSY` otherwise); requests larger than 64 KiB or slower than
 * 10 s to arrive are dropped.
 */
import { createHash } from 'node:crypto';
import { chmod, lstat, mkdir, realpath, stat, unlink } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { isAbsolute, join } from 'node:path';
import type { Logger } from 'pino';
import { BulwarkError, isBulwarkError } from '../common/errors.ts';
import type { BackupManifest } from './backup.ts';

/** Linux's sun_path holds 108 bytes with the terminating zero. */
const MAX_SOCKET_PATH = 107;
const MAX_REQUEST_BYTES = 64 * 1024;
const REQUEST_TIMEOUT_MS = 10_000;

export type AdminRequest = { readonly op: 'backup'; readonly out: string };
export type AdminReply = { readonly ok: true; readonly manifest: BackupManifest } | { readonly ok: false; readonly code: string; readonly message: string };

export interface AdminHandlers {
  backup(out: string): Promise<BackupManifest>;
}

/** Where the admin socket of the node on `dir` is, and the uid that must own it and its directory. */
export async function adminSocketPath(dir: string): Promise<{ readonly path: string; readonly runtimeDir: string; readonly uid: number }> {
  const real = await realpath(dir);
  const { uid } = await stat(real);
  const runtimeDir = process.env.BULWARK_RUNTIME_DIR ?? `/tmp/bulwark-${uid}`;
  const path = join(runtimeDir, `${createHash('sha256').update(real).digest('hex').slice(0, 16)}.sock`);
  return { path, runtimeDir, uid };
}

/** The runtime directory is private to `uid`: a directory, not a link, owned by it, 0700 or narrower. */
async function checkRuntimeDir(runtimeDir: string, uid: number): Promise<void> {
  const st = await lstat(runtimeDir);
  if (!st.isDirectory() || st.uid !== uid || (st.mode & 0o077) !== 0) {
    throw new BulwarkError('ADMIN_RUNTIME_DIR_UNSAFE', `${runtimeDir} must be a directory owned by uid ${uid} with no group or other access`, { runtimeDir, uid });
  }
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
   * Listens on the node's admin socket (`adminSocketPath`). Call only while holding the node's
   * store lock: a socket already there is then a dead process's and is replaced. Null (logged)
   * when the runtime directory is not safe or the socket cannot be made: the node runs without
   * it, and backups need it stopped.
   */
  static async start(dir: string, handlers: AdminHandlers, log: Logger): Promise<AdminServer | null> {
    const { path, runtimeDir, uid } = await adminSocketPath(dir);
    try {
      if (process.getuid?.() !== uid) {
        throw new BulwarkError('ADMIN_NOT_OWNER', `this process (uid ${process.getuid?.()}) does not own the node directory (uid ${uid})`, { uid });
      }
      if (Buffer.byteLength(path) > MAX_SOCKET_PATH) throw new BulwarkError('ADMIN_PATH_TOO_LONG', `${path} is longer than ${MAX_SOCKET_PATH} bytes`, { path });
      await mkdir(runtimeDir, { mode: 0o700 }).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'EEXIST') throw err;
      });
      await checkRuntimeDir(runtimeDir, uid);
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
      log.info({ path }, 'admin socket listening');
      return admin;
    } catch (err) {
      log.warn({ err, path }, 'no admin socket: online backups unavailable (`bulwark backup` needs the node stopped)');
      return null;
    }
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
  const { path, runtimeDir, uid } = await adminSocketPath(dir);
  const socketStat = await lstat(path).catch(() => null);
  if (socketStat === null) return null;
  await checkRuntimeDir(runtimeDir, uid);
  if (!socketStat.isSocket() || socketStat.uid !== uid) {
    throw new BulwarkError('ADMIN_RUNTIME_DIR_UNSAFE', `${path} is not a socket owned by uid ${uid}`, { path, uid });
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
