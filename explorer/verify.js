// What the explorer checks in the browser, with WebCrypto's Ed25519 (replicas' execution keys):
//  - the execution keys in effect: each replica's key of epoch 0 (network.json's, as the node
//    reports it, or as a network.json the viewer loads says) and every later key, possessed by
//    itself and endorsed by the key before it (src/consensus/node-keys.ts's statement);
//  - a block certificate: f + 1 distinct replicas' signatures, each under that replica's key in
//    effect at the certificate's sequence number, over bytes built here from the fields shown
//    (src/codec/signing.ts replyBytes: tag ‖ seq ‖ block number, hash, state root, reserved
//    digest ‖ results root), which name the block's hash and state root;
//  - that the block's raw header hashes to the signed block hash, so its fields are the signed ones.
import { keccak256 } from './hash.js';
import { bytesToBigInt, bytesToHex, concat, hexToBytes, u32be, u64be, u8 } from './hex.js';
import { rlpDecode } from './rlp.js';

const enc = new TextEncoder();
const REPLY_TAG = enc.encode('bulwark/reply/v1');
const STATEMENT_TAG = enc.encode('bulwark/node-key-statement/v1');
const KIND_EXECUTION = 1;
const POSSESSION = enc.encode('possession');
const ENDORSEMENT = enc.encode('endorsement');

/** Why this page cannot verify anything here, or null: WebCrypto exists only in secure contexts. */
export function cannotVerify() {
  if (globalThis.crypto?.subtle === undefined) {
    return 'this page is not in a secure context, so the browser gives it no WebCrypto: open it over HTTPS (--rpc-tls) or from localhost';
  }
  return null;
}

async function ed25519(spkiHex) {
  return crypto.subtle.importKey('spki', hexToBytes(spkiHex), { name: 'Ed25519' }, false, ['verify']);
}

async function verifySig(key, message, signatureHex) {
  const sig = hexToBytes(signatureHex);
  if (sig.length !== 64) return false;
  try {
    return await crypto.subtle.verify({ name: 'Ed25519' }, key, sig, message);
  } catch {
    return false;
  }
}

/** The bytes a node key publication's possession or endorsement signature covers. */
function keySigningBytes(domain, node, epoch, publicKey) {
  const statement = concat(STATEMENT_TAG, u8(KIND_EXECUTION), u32be(node), u32be(epoch), u32be(publicKey.length), publicKey);
  return concat(u32be(domain.length), domain, statement);
}

/**
 * Checks the key history `bft_getExecutionKeys` answered. `anchor` (optional): epoch-0 keys from a
 * network.json the viewer loaded, `{ f, keys: [hex, …] }`. Returns `{ ok, problems, f, source,
 * replicas: [[{ epoch, effectiveSeq, key }]] }` with only the keys whose chain holds.
 */
export async function verifyKeyHistory(history, anchor) {
  const problems = [];
  const replicas = [];
  if (anchor !== null && anchor.keys.length !== history.replicas.length) {
    problems.push(`the node reports ${history.replicas.length} replicas, the loaded network.json ${anchor.keys.length}`);
  }
  for (const [i, r] of history.replicas.entries()) {
    const chain = [];
    const first = r.keys[0];
    if (r.replica !== i || first === undefined || first.epoch !== 0) {
      problems.push(`replica ${i}: no epoch-0 key`);
      replicas.push(chain);
      continue;
    }
    if (anchor !== null && anchor.keys[i]?.toLowerCase() !== first.publicKey.toLowerCase()) {
      problems.push(`replica ${i}: the node's epoch-0 key is not the one in the loaded network.json`);
      replicas.push(chain);
      continue;
    }
    chain.push({ epoch: 0, effectiveSeq: 0, key: await ed25519(first.publicKey) });
    for (const k of r.keys.slice(1)) {
      const prev = chain[chain.length - 1];
      const why = await keyStepProblem(i, k, prev);
      if (why !== null) {
        problems.push(`replica ${i} execution key epoch ${k.epoch}: ${why}`);
        break;
      }
      chain.push({ epoch: k.epoch, effectiveSeq: k.effectiveSeq, key: await ed25519(k.publicKey) });
    }
    replicas.push(chain);
  }
  const f = anchor?.f ?? history.f;
  if (anchor !== null && history.f !== anchor.f) problems.push(`the node says f = ${history.f}, the loaded network.json ${anchor.f}`);
  return { ok: problems.length === 0, problems, f, source: anchor === null ? 'as this node reports network.json' : 'the network.json you loaded', replicas };
}

async function keyStepProblem(node, k, prev) {
  if (k.epoch !== prev.epoch + 1) return `epoch ${k.epoch} does not follow ${prev.epoch}`;
  if (!(k.effectiveSeq > prev.effectiveSeq)) return 'takes effect no later than the key before it';
  let key;
  try {
    key = await ed25519(k.publicKey);
  } catch {
    return 'not an Ed25519 key';
  }
  const pk = hexToBytes(k.publicKey);
  if (!(await verifySig(key, keySigningBytes(POSSESSION, node, k.epoch, pk), k.possession))) return 'invalid proof of possession';
  if (!(await verifySig(prev.key, keySigningBytes(ENDORSEMENT, node, k.epoch, pk), k.endorsement))) return `not endorsed by epoch ${prev.epoch}`;
  return null;
}

/** The key of a verified chain in effect at `seq` (the last one whose effectiveSeq ≤ seq). */
function keyAt(chain, seq) {
  let at = null;
  for (const k of chain) if (k.effectiveSeq <= seq || k.epoch === 0) at = k;
  return at;
}

/** The statement the certificate's signatures cover, built from its fields. */
export function certificateMessage(c) {
  return concat(
    REPLY_TAG,
    u64be(BigInt(c.seq)),
    u64be(BigInt(c.blockNumber)),
    hexToBytes(c.blockHash),
    hexToBytes(c.stateRoot),
    hexToBytes(c.reservedDigest),
    hexToBytes(c.resultsRoot),
  );
}

/**
 * Checks a `bft_getBlockCertificate` answer for block `expect` ({ number, hash }) against verified
 * keys. Returns `{ ok, reasons, signers: [{ replica, epoch, ok, why }] }`.
 */
export async function verifyCertificate(cert, expect, keys) {
  const reasons = [];
  if (cert === null) return { ok: false, reasons: ['the node has no certificate for this block'], signers: [] };
  let message;
  try {
    message = certificateMessage(cert);
    if (hexToBytes(cert.blockHash).length !== 32 || hexToBytes(cert.stateRoot).length !== 32) throw new Error('a hash that is not 32 bytes');
  } catch (err) {
    return { ok: false, reasons: [`malformed certificate: ${err.message}`], signers: [] };
  }
  if (BigInt(cert.blockNumber) !== BigInt(expect.number)) reasons.push(`it certifies block ${BigInt(cert.blockNumber)}, not ${expect.number}`);
  if (expect.hash !== undefined && cert.blockHash.toLowerCase() !== expect.hash.toLowerCase()) reasons.push('it certifies another block hash than the one shown');
  if (cert.signedMessage !== undefined && cert.signedMessage.toLowerCase() !== bytesToHex(message)) reasons.push("the node's signedMessage is not the statement its fields make");
  const seq = Number(BigInt(cert.seq));
  const seen = new Set();
  const signers = [];
  for (const s of cert.signatures) {
    const chain = keys.replicas[s.replica];
    if (!Number.isInteger(s.replica) || chain === undefined) {
      signers.push({ replica: s.replica, ok: false, why: 'no such replica' });
      continue;
    }
    if (seen.has(s.replica)) {
      signers.push({ replica: s.replica, ok: false, why: 'a second signature from the same replica' });
      continue;
    }
    const k = keyAt(chain, seq);
    if (k === null) {
      signers.push({ replica: s.replica, ok: false, why: 'no verified key for this replica' });
      continue;
    }
    const ok = await verifySig(k.key, message, s.signature);
    if (ok) seen.add(s.replica);
    signers.push({ replica: s.replica, epoch: k.epoch, ok, why: ok ? 'valid signature' : `signature invalid under its execution key epoch ${k.epoch}` });
  }
  const need = keys.f + 1;
  if (seen.size < need) reasons.push(`${seen.size} valid signature${seen.size === 1 ? '' : 's'} from distinct replicas, f + 1 = ${need} needed`);
  return { ok: reasons.length === 0, reasons, signers, need, valid: seen.size };
}

/** A raw header's (debug_getRawHeader) hash and the fields the explorer shows. */
export function decodeHeader(rawHex) {
  const raw = hexToBytes(rawHex);
  const h = rlpDecode(raw);
  if (!Array.isArray(h) || h.length < 15 || h.slice(0, 15).some((x) => !(x instanceof Uint8Array))) throw new Error('the raw header is not a header');
  return {
    hash: bytesToHex(keccak256(raw)),
    parentHash: bytesToHex(h[0]),
    stateRoot: bytesToHex(h[3]),
    transactionsRoot: bytesToHex(h[4]),
    receiptsRoot: bytesToHex(h[5]),
    number: bytesToBigInt(h[8]),
    gasUsed: bytesToBigInt(h[10]),
    timestamp: bytesToBigInt(h[11]),
  };
}

/**
 * Whether a raw header is the certified block's: it hashes to the signed block hash and names the
 * signed number and state root. Returns its fields, or throws why not.
 */
export function checkHeader(rawHex, cert) {
  const header = decodeHeader(rawHex);
  if (header.hash !== cert.blockHash.toLowerCase()) throw new Error('the raw header does not hash to the signed block hash');
  if (header.number !== BigInt(cert.blockNumber)) throw new Error('the header names another block number than the signed one');
  if (header.stateRoot !== cert.stateRoot.toLowerCase()) throw new Error('the header names another state root than the signed one');
  return header;
}

/** The fields of a block as the node showed it (eth_getBlockBy*) that differ from its verified header. */
export function headerMismatches(block, header) {
  const out = [];
  for (const k of ['hash', 'parentHash', 'stateRoot', 'transactionsRoot', 'receiptsRoot']) if (block[k].toLowerCase() !== header[k]) out.push(k);
  for (const k of ['number', 'gasUsed', 'timestamp']) if (BigInt(block[k]) !== header[k]) out.push(k);
  return out;
}
