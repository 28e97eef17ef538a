// Pure: a live object's fields in the order people read a manifest
// (apiVersion, kind, metadata, spec, ..., status last), whatever order the
// server's JSON had. Only the top level is reordered; nothing is dropped.

const FIRST = ["apiVersion", "kind", "metadata", "spec", "type", "data", "stringData"];
const LAST = ["status"];

export function readableOrder(live: unknown): unknown {
  if (typeof live !== "object" || live === null || Array.isArray(live)) return live;
  const entries = Object.entries(live);
  const rank = (key: string): number => {
    const first = FIRST.indexOf(key);
    if (first !== -1) return first;
    return LAST.includes(key) ? FIRST.length + 1 : FIRST.length;
  };
  // Array.prototype.sort is stable: other fields keep their order.
  return Object.fromEntries(entries.sort(([a], [b]) => rank(a) - rank(b)));
}
