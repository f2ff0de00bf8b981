// Decodes the logs of well-known events (ERC-20, ERC-721, ERC-1155, Ownable, WETH): each event's
// topic is computed here from its signature, and only logs whose topics and data have exactly the
// event's shape are decoded; anything else is shown raw.
import { keccak256 } from './hash.js';
import { bytesToHex } from './hex.js';

const EVENTS = [
  'Transfer(address indexed from, address indexed to, uint256 value)',
  'Transfer(address indexed from, address indexed to, uint256 indexed tokenId)',
  'Approval(address indexed owner, address indexed spender, uint256 value)',
  'Approval(address indexed owner, address indexed approved, uint256 indexed tokenId)',
  'ApprovalForAll(address indexed owner, address indexed operator, bool approved)',
  'TransferSingle(address indexed operator, address indexed from, address indexed to, uint256 id, uint256 value)',
  'OwnershipTransferred(address indexed previousOwner, address indexed newOwner)',
  'Deposit(address indexed dst, uint256 wad)',
  'Withdrawal(address indexed src, uint256 wad)',
].map(parse);

function parse(text) {
  const [, name, args] = /^(\w+)\((.*)\)$/.exec(text);
  const params = args.split(',').map((a) => {
    const [type, ...rest] = a.trim().split(/\s+/);
    return { type, indexed: rest.includes('indexed'), name: rest[rest.length - 1] };
  });
  const signature = `${name}(${params.map((p) => p.type).join(',')})`;
  return { name, params, signature, topic: bytesToHex(keccak256(new TextEncoder().encode(signature))) };
}

function word(type, hex) {
  if (type === 'address') return `0x${hex.slice(24)}`;
  if (type === 'bool') return BigInt(`0x${hex}`) === 0n ? 'false' : 'true';
  return BigInt(`0x${hex}`).toString();
}

/** `{ name, args: [[name, value]] }` for a known event, else null. */
export function decodeLog(log) {
  const data = log.data.slice(2);
  for (const e of EVENTS) {
    if (log.topics[0]?.toLowerCase() !== e.topic) continue;
    const indexed = e.params.filter((p) => p.indexed);
    const plain = e.params.filter((p) => !p.indexed);
    if (log.topics.length !== indexed.length + 1 || data.length !== 64 * plain.length) continue;
    let t = 1;
    let d = 0;
    const args = e.params.map((p) => [p.name, word(p.type, p.indexed ? log.topics[t++].slice(2) : data.slice(64 * d, 64 * ++d))]);
    return { name: e.signature, args };
  }
  return null;
}
