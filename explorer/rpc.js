// JSON-RPC from the page to the node that served it: POST / for calls, a WebSocket on the same
// port for eth_subscribe. The bearer token (--rpc-auth) is kept in sessionStorage: it goes in the
// Authorization header, and in the WebSocket's subprotocol list (browsers cannot set headers on a
// WebSocket; the node picks `bulwark-rpc`, so the token is never echoed).
const TOKEN_KEY = 'bulwark.explorer.token';

export function token() {
  return sessionStorage.getItem(TOKEN_KEY) ?? '';
}

export function setToken(t) {
  if (t === '') sessionStorage.removeItem(TOKEN_KEY);
  else sessionStorage.setItem(TOKEN_KEY, t);
}

export class RpcError extends Error {
  constructor(code, message, status) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

let nextId = 1;

async function post(body) {
  const headers = { 'content-type': 'application/json' };
  if (token() !== '') headers.authorization = `Bearer ${token()}`;
  const res = await fetch('/', { method: 'POST', headers, body: JSON.stringify(body) });
  let json;
  try {
    json = await res.json();
  } catch {
    throw new RpcError(-1, `HTTP ${res.status}`, res.status);
  }
  if (!Array.isArray(json) && json.error !== undefined && res.status !== 200) throw new RpcError(json.error.code, json.error.message, res.status);
  return json;
}

export async function call(method, params = []) {
  const r = await post({ jsonrpc: '2.0', id: nextId++, method, params });
  if (r.error !== undefined) throw new RpcError(r.error.code, r.error.message, 200);
  return r.result;
}

/** Several calls in one request; each entry is its result or an RpcError. */
export async function batch(calls) {
  if (calls.length === 0) return [];
  const first = nextId;
  nextId += calls.length;
  const replies = await post(calls.map(([method, params], i) => ({ jsonrpc: '2.0', id: first + i, method, params })));
  if (!Array.isArray(replies)) throw new RpcError(replies.error?.code ?? -1, replies.error?.message ?? 'batch refused', 200);
  const byId = new Map(replies.map((r) => [r.id, r]));
  return calls.map((_, i) => {
    const r = byId.get(first + i);
    if (r === undefined) return new RpcError(-1, 'no answer', 200);
    return r.error !== undefined ? new RpcError(r.error.code, r.error.message, 200) : r.result;
  });
}

/**
 * New block headers as they come: eth_subscribe('newHeads') over a WebSocket, reconnecting; if
 * the socket cannot be had (a token that cannot travel as a subprotocol, a proxy), polling
 * eth_blockNumber every second. `onState(text)` says which.
 */
export function followHeads(onHead, onState) {
  let opened = false;
  let last = null;
  const poll = async () => {
    onState('polling (no WebSocket)');
    for (;;) {
      try {
        const n = Number(BigInt(await call('eth_blockNumber')));
        if (last === null) last = n - 1;
        const from = Math.max(last + 1, n - 50);
        if (n > last) {
          const heads = await batch(Array.from({ length: n - from + 1 }, (_, i) => ['eth_getBlockByNumber', [`0x${(from + i).toString(16)}`, false]]));
          for (const h of heads) if (!(h instanceof Error) && h !== null) onHead(h);
          last = n;
        }
      } catch {
        onState('polling: the node does not answer');
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  };
  const t = token();
  if (t !== '' && !/^[A-Za-z0-9._~+-]+$/.test(t)) return void poll();
  const open = () => {
    const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/`, t === '' ? ['bulwark-rpc'] : ['bulwark-rpc', `bulwark-token.${t}`]);
    ws.onopen = () => {
      opened = true;
      ws.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_subscribe', params: ['newHeads'] }));
      onState('live (eth_subscribe over WebSocket)');
    };
    ws.onmessage = (e) => {
      const m = JSON.parse(e.data);
      if (m.method === 'eth_subscription') onHead(m.params.result);
      else if (m.error !== undefined) onState(`subscription refused: ${m.error.message}`);
    };
    ws.onclose = () => {
      if (!opened) return void poll();
      onState('reconnecting…');
      setTimeout(open, 2000);
    };
  };
  open();
}
