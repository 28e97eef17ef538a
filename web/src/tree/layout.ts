// Pure: a left-to-right layered layout of an app's resource tree.
//
// Layer (column) of a node = the length of the longest chain of parents above
// it, so a Deployment, its ReplicaSets and their Pods stand in three columns.
// Rows: each node hangs under one "primary" parent (the parent in the column
// just before it, or its deepest parent); walking those trees depth first, a
// leaf takes the next free row and a parent sits midway between its first and
// last child, so primary edges never cross. A node's other parents still get
// edges. Parents that are not in the tree, self-references and cycles are
// ignored (a cycle's back edge is dropped), so any input gives a layout.

/** What the layout needs of a node. */
export interface LayoutInput {
  uid: string;
  kind: string;
  name: string;
  parents: readonly string[];
}

export interface Placed {
  uid: string;
  /** The column, 0 for roots. */
  layer: number;
  /** Top-left corner, in pixels. */
  x: number;
  y: number;
}

export interface Edge {
  from: string;
  to: string;
  /** An SVG path from the parent's right side to the child's left side. */
  path: string;
}

export interface Layout {
  nodes: Placed[];
  edges: Edge[];
  width: number;
  height: number;
}

export interface Sizes {
  nodeWidth: number;
  nodeHeight: number;
  columnGap: number;
  rowGap: number;
}

export const SIZES: Sizes = { nodeWidth: 240, nodeHeight: 64, columnGap: 72, rowGap: 14 };

/** Kinds in the order a reader expects them among siblings; others follow by name. */
const KIND_ORDER = [
  "Namespace", "CustomResourceDefinition", "ServiceAccount", "ClusterRole", "ClusterRoleBinding",
  "Role", "RoleBinding", "ConfigMap", "Secret", "PersistentVolumeClaim", "Service", "Deployment",
  "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Pod", "Ingress",
];

function kindRank(kind: string): number {
  const at = KIND_ORDER.indexOf(kind);
  return at === -1 ? KIND_ORDER.length : at;
}

/** Siblings' order: by kind as above, then kind name, then name, then uid (a total order). */
export function compareNodes(a: LayoutInput, b: LayoutInput): number {
  return kindRank(a.kind) - kindRank(b.kind) || cmp(a.kind, b.kind) || cmp(a.name, b.name) ||
    cmp(a.uid, b.uid);
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The layout of `nodes`; duplicate uids after the first are ignored. */
export function layoutTree(nodes: readonly LayoutInput[], sizes: Sizes = SIZES): Layout {
  const byUid = new Map<string, LayoutInput>();
  for (const node of nodes) if (!byUid.has(node.uid)) byUid.set(node.uid, node);
  const parentsOf = (node: LayoutInput): string[] =>
    [...new Set(node.parents)].filter((p) => p !== node.uid && byUid.has(p));

  // Layers: longest chain of parents, following each edge once (a back edge of a cycle is cut).
  const layer = new Map<string, number>();
  const cut = new Set<string>(); // "parent\0child" edges that close a cycle
  const visiting = new Set<string>();
  const layerOf = (uid: string): number => {
    const known = layer.get(uid);
    if (known !== undefined) return known;
    visiting.add(uid);
    let deepest = -1;
    for (const parent of parentsOf(byUid.get(uid) as LayoutInput)) {
      if (visiting.has(parent)) {
        cut.add(`${parent}\0${uid}`);
        continue;
      }
      deepest = Math.max(deepest, layerOf(parent));
    }
    visiting.delete(uid);
    layer.set(uid, deepest + 1);
    return deepest + 1;
  };
  const sorted = [...byUid.values()].sort(compareNodes);
  for (const node of sorted) layerOf(node.uid);

  // Primary parent: one in the column just before, else the deepest one.
  const children = new Map<string, LayoutInput[]>();
  const roots: LayoutInput[] = [];
  for (const node of sorted) {
    const own = layer.get(node.uid) ?? 0;
    const parents = parentsOf(node).filter((p) => !cut.has(`${p}\0${node.uid}`));
    let primary: string | undefined;
    for (const parent of parents) {
      const theirs = layer.get(parent) ?? 0;
      if (theirs >= own) continue;
      if (primary === undefined || theirs > (layer.get(primary) ?? 0)) primary = parent;
    }
    if (primary === undefined) roots.push(node);
    else children.set(primary, [...(children.get(primary) ?? []), node]);
  }

  // Rows, depth first.
  const row = new Map<string, number>();
  let next = 0;
  const place = (node: LayoutInput): number => {
    const kids = children.get(node.uid) ?? [];
    let at: number;
    if (kids.length === 0) {
      at = next;
      next += 1;
    } else {
      const rows = kids.map(place);
      at = ((rows[0] ?? 0) + (rows[rows.length - 1] ?? 0)) / 2;
    }
    row.set(node.uid, at);
    return at;
  };
  for (const root of roots) place(root);

  const { nodeWidth, nodeHeight, columnGap, rowGap } = sizes;
  const placed: Placed[] = sorted.map((node) => {
    const column = layer.get(node.uid) ?? 0;
    return {
      uid: node.uid,
      layer: column,
      x: column * (nodeWidth + columnGap),
      y: (row.get(node.uid) ?? 0) * (nodeHeight + rowGap),
    };
  });
  const where = new Map(placed.map((p) => [p.uid, p]));
  const edges: Edge[] = [];
  for (const node of sorted) {
    for (const parent of parentsOf(node)) {
      if (cut.has(`${parent}\0${node.uid}`)) continue;
      const from = where.get(parent) as Placed;
      const to = where.get(node.uid) as Placed;
      edges.push({ from: parent, to: node.uid, path: edgePath(from, to, sizes) });
    }
  }
  const columns = Math.max(0, ...placed.map((p) => p.layer + 1));
  return {
    nodes: placed,
    edges,
    width: columns === 0 ? 0 : columns * nodeWidth + (columns - 1) * columnGap,
    height: next === 0 ? 0 : next * nodeHeight + (next - 1) * rowGap,
  };
}

/** A smooth curve from the middle of the parent's right side to the middle of the child's left. */
function edgePath(from: Placed, to: Placed, sizes: Sizes): string {
  const x1 = from.x + sizes.nodeWidth;
  const y1 = from.y + sizes.nodeHeight / 2;
  const x2 = to.x;
  const y2 = to.y + sizes.nodeHeight / 2;
  const bend = (x2 - x1) / 2;
  return `M${x1},${y1} C${x1 + bend},${y1} ${x2 - bend},${y2} ${x2},${y2}`;
}
