// The verifications the page offers, drawn as verdicts: a block's certificate (and the headers
// that tie a block without one to a later certificate), an account's state proof. The checks
// themselves are in verify.js and proof.js.
import { fields, h, link } from './dom.js';
import { keccak256 } from './hash.js';
import { bytesToHex, ether, hexToBytes, num } from './hex.js';
import { EMPTY_CODE_HASH, verifyAccountProof } from './proof.js';
import { RpcError, batch, call } from './rpc.js';
import { hex } from './state.js';
import { cannotVerify, checkHeader, decodeHeader, headerMismatches, verifyCertificate, verifyKeyHistory } from './verify.js';

export const ANCHOR_KEY = 'bulwark.explorer.anchor';
/** How far past a block without a certificate of its own the page looks for one that covers it. */
const COVER_SEARCH = 64;

/** The epoch-0 execution keys of a network.json the viewer loaded, or null. */
export function anchor() {
  try {
    return JSON.parse(localStorage.getItem(ANCHOR_KEY) ?? 'null');
  } catch {
    return null;
  }
}

/** The execution key history, its chain checked; asked for each time (keys rotate). */
async function keys() {
  return verifyKeyHistory(await call('bft_getExecutionKeys'), anchor());
}

function verdict(id, ok, headline, reasons, details = []) {
  return h('div', { id, class: `verdict ${ok ? 'ok' : 'bad'}`, 'data-verdict': ok ? 'verified' : 'refused' }, h('strong', {}, ok ? `✔ ${headline}` : `✘ not verified: ${headline}`), reasons.length === 0 ? null : h('ul', {}, reasons.map((r) => h('li', {}, r))), details);
}

/** The certificate that covers block `n`: its own, or a later block's that reaches it through parent hashes. */
async function coveringCertificate(n) {
  for (let m = n; m <= n + COVER_SEARCH; m++) {
    try {
      const cert = await call('bft_getBlockCertificate', [hex(m)]);
      if (cert === null) return { cert: null, number: m };
      return { cert, number: m };
    } catch (err) {
      if (!(err instanceof RpcError) || !/no certificate kept/.test(err.message)) throw err;
    }
  }
  return { cert: null, number: n };
}

/**
 * Checks block `n` — as shown, `block` (eth_getBlockBy*), when given — against its certificate or
 * a later one's; `{ ok, reasons, signers, header, cert }`.
 */
async function checkBlock(n, block) {
  const hash = block?.hash;
  const why = cannotVerify();
  if (why !== null) return { ok: false, reasons: [why], signers: [] };
  const k = await keys();
  const { cert, number: m } = await coveringCertificate(n);
  if (cert === null) return { ok: false, reasons: [`no certificate found for block ${n} nor the ${COVER_SEARCH} after it`], signers: [] };
  const r = await verifyCertificate(cert, { number: m, hash: m === n ? hash : undefined }, k);
  r.reasons.unshift(...k.problems.map((p) => `key history: ${p}`));
  if (k.problems.length > 0) r.ok = false;
  r.cert = cert;
  r.keySource = k.source;
  try {
    // The raw headers from n up to the certified block: each hashes to its child's parent hash.
    const raws = await batch(Array.from({ length: m - n + 1 }, (_, i) => ['debug_getRawHeader', [hex(n + i)]]));
    if (raws[raws.length - 1] instanceof Error) throw raws[raws.length - 1];
    let header = checkHeader(raws[raws.length - 1], cert);
    for (let i = raws.length - 2; i >= 0; i--) {
      if (raws[i] instanceof Error) throw raws[i];
      if (bytesToHex(keccak256(hexToBytes(raws[i]))) !== header.parentHash) throw new Error(`block ${n + i}'s header is not the parent of block ${n + i + 1}`);
      header = decodeHeader(raws[i]);
    }
    r.header = header;
    const differ = block === undefined ? [] : headerMismatches(block, header);
    if (differ.length > 0) throw new Error(`the block shown differs from its certified header in: ${differ.join(', ')}`);
  } catch (err) {
    r.ok = false;
    r.reasons.push(err instanceof RpcError ? `debug_getRawHeader: ${err.message}` : err.message);
  }
  if (m !== n) r.reasons.unshift(`block ${n} has no certificate of its own; block ${m}'s covers it through parent hashes`);
  r.coveredBy = m;
  return r;
}

function signerList(signers) {
  return h('ul', { class: 'signers' }, signers.map((s) => h('li', { class: s.ok ? 'ok' : 'bad' }, `replica ${s.replica}${s.epoch === undefined ? '' : ` (execution key epoch ${s.epoch})`}: ${s.why}`)));
}

export async function verifyBlockInto(box, n, block) {
  box.replaceChildren(h('p', { class: 'muted' }, 'verifying…'));
  try {
    const r = await checkBlock(n, block);
    const headline = r.ok ? `block ${n} is certified by ${r.valid} replicas (f + 1 = ${r.need})` : r.reasons[r.reasons.length - 1] ?? 'refused';
    box.replaceChildren(
      verdict('cert-result', r.ok, headline, r.ok ? r.reasons.filter((x) => /covers it/.test(x)) : r.reasons, [
        r.cert === undefined
          ? null
          : fields([
              ['sequence number', String(num(r.cert.seq))],
              ['signed block hash', h('span', { class: 'mono' }, r.cert.blockHash)],
              ['signed state root', h('span', { class: 'mono' }, r.cert.stateRoot)],
              r.header === undefined ? null : ['header', `hashes to the signed block hash${r.coveredBy === n ? '' : ` through the parent hashes up to block ${r.coveredBy}`}; the fields shown above are its own`],
              ['keys', r.keySource],
            ]),
        signerList(r.signers),
      ]),
    );
  } catch (err) {
    box.replaceChildren(verdict('cert-result', false, err.message, []));
  }
}

export async function verifyAccountInto(box, address) {
  box.replaceChildren(h('p', { class: 'muted' }, 'verifying…'));
  try {
    const why = cannotVerify();
    if (why !== null) return void box.replaceChildren(verdict('proof-result', false, why, []));
    const latest = await call('bft_getBlockCertificate', ['latest']);
    const n = num(latest.blockNumber);
    const block = await checkBlock(n);
    const [proof, code] = await batch([
      ['eth_getProof', [address, [], hex(n)]],
      ['eth_getCode', [address, hex(n)]],
    ]);
    if (proof instanceof Error) throw proof;
    const p = verifyAccountProof(proof, block.cert.stateRoot);
    const reasons = [...(block.ok ? [] : block.reasons.map((r) => `block ${n}: ${r}`)), ...p.reasons];
    const codeHash = p.account?.codeHash ?? EMPTY_CODE_HASH;
    if (!(code instanceof Error) && bytesToHex(keccak256(hexToBytes(code))) !== codeHash) reasons.push('the code answered does not hash to the proved code hash');
    const ok = block.ok && p.ok && reasons.length === 0;
    const a = p.account;
    const headline = ok ? `the account's state at block ${n} is proved against the state root f + 1 replicas signed` : reasons[0] ?? 'refused';
    box.replaceChildren(
      verdict('proof-result', ok, headline, ok ? [] : reasons, [
        fields([
          ['block', link(`block/${n}`, String(n))],
          ['state root (signed)', h('span', { class: 'mono' }, block.cert.stateRoot)],
          ['proof', `${proof.accountProof.length} trie nodes`],
          ['balance', a === null ? 'no account (proved absent)' : ether(a.balance)],
          ['nonce', a === null ? '0' : String(a.nonce)],
          ['code hash', h('span', { class: 'mono' }, codeHash)],
        ]),
        signerList(block.signers),
      ]),
    );
  } catch (err) {
    box.replaceChildren(verdict('proof-result', false, err.message, []));
  }
}

