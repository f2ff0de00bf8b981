// A tiny DOM builder: text always goes in as text (never HTML), attributes as attributes.
const SVG = 'http://www.w3.org/2000/svg';

export function h(tag, attrs, ...children) {
  const el = tag.startsWith('svg:') ? document.createElementNS(SVG, tag.slice(4)) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

/** A link inside the explorer. */
export function link(route, text) {
  return h('a', { href: `#/${route}`, class: 'mono' }, text);
}

/** A two-column table of label → value rows. */
export function fields(rows) {
  return h('table', { class: 'fields' }, rows.filter((r) => r !== null).map(([k, v]) => h('tr', {}, h('th', {}, k), h('td', {}, v))));
}

export function table(head, rows, attrs = {}) {
  return h('table', { class: 'list', ...attrs }, h('thead', {}, h('tr', {}, head.map((c) => h('th', {}, c)))), h('tbody', {}, rows.map((r) => h('tr', {}, r.map((c) => h('td', {}, c))))));
}
