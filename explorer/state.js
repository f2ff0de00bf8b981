// What the explorer holds between pages: recent blocks (for the charts and lists), the replicas'
// last status, how it follows the chain, and the element pages are drawn in.
export const state = {
  blocks: new Map(), // number → { number, hash, timestamp, txs }
  status: null,
  live: 'connecting…',
};

export const main = document.getElementById('main');

/** A number as a JSON-RPC quantity. */
export const hex = (n) => `0x${BigInt(n).toString(16)}`;

/** The page shown: `#/view/arg`. */
export function currentRoute() {
  const [view = 'home', arg] = location.hash.replace(/^#\/?/, '').split('/');
  return { view: view === '' ? 'home' : view, arg };
}
