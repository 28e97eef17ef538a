// Tables for src/tree/layout.ts and src/tree/resourceRef.ts (pure): where the
// resource tree's nodes stand, and how a node's deep link reads and parses.
import assert from "node:assert/strict";
import { test } from "node:test";
import { layoutTree, SIZES } from "../.test-build/tree/layout.js";
import {
  appURL,
  eventsOf,
  parseResourceKey,
  resourceKey,
  resourceLabel,
  selectedResource,
} from "../.test-build/tree/resourceRef.js";
import { readableOrder } from "../.test-build/tree/manifest.js";

const node = (uid, kind, parents = [], name = uid) => ({ uid, kind, name, parents });
const COLUMN = SIZES.nodeWidth + SIZES.columnGap;
const ROW = SIZES.nodeHeight + SIZES.rowGap;

/** uid -> [column, row] of a layout, rows in units of ROW. */
function grid(layout) {
  return Object.fromEntries(layout.nodes.map((n) => [n.uid, [n.x / COLUMN, n.y / ROW]]));
}

const edges = (layout) => layout.edges.map((e) => `${e.from}>${e.to}`).sort();

const LAYOUTS = [
  ["nothing", [], {}, []],
  ["one node", [node("cm", "ConfigMap")], { cm: [0, 0] }, []],
  [
    "Deployment > ReplicaSet > two Pods; the Service beside it, first by kind",
    [
      node("pod-b", "Pod", ["rs"]),
      node("rs", "ReplicaSet", ["deploy"]),
      node("deploy", "Deployment"),
      node("pod-a", "Pod", ["rs"]),
      node("svc", "Service"),
    ],
    { svc: [0, 0], deploy: [0, 1.5], rs: [1, 1.5], "pod-a": [2, 1], "pod-b": [2, 2] },
    ["deploy>rs", "rs>pod-a", "rs>pod-b"],
  ],
  [
    "two parents: the node stands after the deeper one, with an edge from each",
    [node("a", "Deployment"), node("b", "ReplicaSet", ["a"]), node("c", "Pod", ["a", "b"])],
    { a: [0, 0], b: [1, 0], c: [2, 0] },
    ["a>b", "a>c", "b>c"],
  ],
  [
    "a cycle: one edge is cut, every node is placed once",
    [node("a", "Pod", ["b"]), node("b", "Pod", ["a"])],
    { a: [1, 0], b: [0, 0] },
    ["b>a"],
  ],
  [
    "unknown parents, self references and duplicate uids are ignored",
    [node("a", "Pod", ["a", "ghost"]), node("a", "Pod", ["x"]), node("b", "Pod", ["a", "a"])],
    { a: [0, 0], b: [1, 0] },
    ["a>b"],
  ],
];

for (const [what, nodes, expected, expectedEdges] of LAYOUTS) {
  test(`layoutTree: ${what}`, () => {
    const layout = layoutTree(nodes);
    assert.deepEqual(grid(layout), expected);
    assert.deepEqual(edges(layout), expectedEdges);
  });
}

test("layoutTree: a parent sits midway between its first and last child; rows never overlap", () => {
  const layout = layoutTree([
    node("deploy", "Deployment"),
    node("rs", "ReplicaSet", ["deploy"]),
    ...["p1", "p2", "p3"].map((p) => node(p, "Pod", ["rs"])),
    node("svc", "Service"),
  ]);
  const got = grid(layout);
  assert.deepEqual(got, {
    svc: [0, 0], deploy: [0, 2], rs: [1, 2], p1: [2, 1], p2: [2, 2], p3: [2, 3],
  });
  assert.equal(layout.width, 3 * SIZES.nodeWidth + 2 * SIZES.columnGap);
  assert.equal(layout.height, 4 * SIZES.nodeHeight + 3 * SIZES.rowGap);
  const rs = layout.nodes.find((n) => n.uid === "rs");
  const p1 = layout.nodes.find((n) => n.uid === "p1");
  const edge = layout.edges.find((e) => e.to === "p1");
  assert.ok(edge.path.startsWith(`M${rs.x + SIZES.nodeWidth},${rs.y + SIZES.nodeHeight / 2} `));
  assert.ok(edge.path.endsWith(` ${p1.x},${p1.y + SIZES.nodeHeight / 2}`));
});

test("layoutTree: a large flat app stays linear (1000 pods under one ReplicaSet)", () => {
  const pods = Array.from({ length: 1000 }, (_, i) => node(`p${i}`, "Pod", ["rs"]));
  const layout = layoutTree([node("rs", "ReplicaSet"), ...pods]);
  assert.equal(layout.nodes.length, 1001);
  // Every pod a row of its own; the ReplicaSet midway (row 499.5).
  assert.equal(new Set(layout.nodes.map((n) => n.y)).size, 1001);
  assert.equal(layout.height, 1000 * SIZES.nodeHeight + 999 * SIZES.rowGap);
});

const REFS = [
  [{ group: "apps", kind: "Deployment", namespace: "web", name: "api" },
    "apps/Deployment/web/api", "/applications/apps/shop?resource=apps/Deployment/web/api"],
  [{ group: "", kind: "Pod", namespace: "web", name: "api-7d9-x2" },
    "/Pod/web/api-7d9-x2", "/applications/apps/shop?resource=/Pod/web/api-7d9-x2"],
  [{ group: "rbac.authorization.k8s.io", kind: "ClusterRole", namespace: "", name: "system:viewer" },
    "rbac.authorization.k8s.io/ClusterRole//system:viewer",
    "/applications/apps/shop?resource=rbac.authorization.k8s.io/ClusterRole//system%3Aviewer"],
];

for (const [ref, key, url] of REFS) {
  test(`resource reference ${key}: key, URL and back`, () => {
    assert.equal(resourceKey(ref), key);
    assert.deepEqual(parseResourceKey(key), ref);
    assert.equal(appURL("apps", "shop", ref), url);
    assert.deepEqual(selectedResource(url.slice(url.indexOf("?"))), ref);
  });
}

const NOT_REFS = [
  null,
  "",
  "apps/Deployment/web",
  "apps/Deployment/web/api/extra",
  "apps/Deployment/web/",
  "apps/<script>/web/api",
  "apps/Deployment/Web/api",
  "APPS/Deployment/web/api",
  "apps/Deployment/web/..",
  "apps/Deployment/web/a b",
  `apps/Deployment/web/${"a".repeat(300)}`,
  "x".repeat(10_000),
];

for (const key of NOT_REFS) {
  test(`parseResourceKey(${JSON.stringify(key?.slice(0, 40) ?? null)}) is null`, () => {
    assert.equal(parseResourceKey(key), null);
  });
}

test("selectedResource: no parameter, or a hostile one, selects nothing", () => {
  assert.equal(selectedResource(""), null);
  assert.equal(selectedResource("?tab=events"), null);
  assert.equal(selectedResource("?resource=%2FPod%2Fweb%2F%3Cimg%20src%3Dx%3E"), null);
  assert.deepEqual(selectedResource("?resource=%2FPod%2Fweb%2Fp1"), {
    group: "", kind: "Pod", namespace: "web", name: "p1",
  });
});

test("appURL: the app's segments are encoded, no resource gives the bare page", () => {
  assert.equal(appURL("a b", "x/y"), "/applications/a%20b/x%2Fy");
  assert.equal(appURL("apps", "shop", null), "/applications/apps/shop");
});

test("resourceLabel and eventsOf", () => {
  const pod = { group: "", kind: "Pod", namespace: "web", name: "p1" };
  const role = { group: "rbac.authorization.k8s.io", kind: "ClusterRole", namespace: "", name: "r" };
  assert.equal(resourceLabel(pod), "Pod web/p1");
  assert.equal(resourceLabel(role), "ClusterRole r");
  const events = [
    { reason: "a", object: { kind: "Pod", namespace: "web", name: "p1" } },
    { reason: "b", object: { kind: "Pod", namespace: "other", name: "p1" } },
    { reason: "c", object: { kind: "ClusterRole", namespace: null, name: "r" } },
    { reason: "d", object: { kind: "Pod", namespace: "web", name: "p1" } },
  ];
  assert.deepEqual(eventsOf(events, pod).map((e) => e.reason), ["a", "d"]);
  assert.deepEqual(eventsOf(events, role).map((e) => e.reason), ["c"]);
});

test("readableOrder: apiVersion, kind, metadata, spec first, status last, the rest kept", () => {
  const live = { status: { a: 1 }, zeta: 1, spec: {}, metadata: { name: "x" }, kind: "K", alpha: 2,
    apiVersion: "v1" };
  const ordered = readableOrder(live);
  assert.deepEqual(Object.keys(ordered),
    ["apiVersion", "kind", "metadata", "spec", "zeta", "alpha", "status"]);
  assert.deepEqual(ordered, live);
  for (const other of [null, "text", 3, [1, 2]]) assert.deepEqual(readableOrder(other), other);
});
