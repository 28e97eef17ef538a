// Tables for src/diff/diffView.ts (pure): how a unified diff's lines are told
// apart, which resources are listed, and how the URL keeps the views.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  CLIENT_SIDE_NOTE,
  MAX_REVISION,
  appViewOf,
  diffLines,
  isObject,
  panelViewOf,
  predictionNote,
  revisionOf,
  showsUnchanged,
  statusSummary,
  visibleResources,
  withParams,
} from "../.test-build/diff/diffView.js";

const DIFF = [
  "--- live/ConfigMap/web/settings",
  "+++ desired/ConfigMap/web/settings",
  "@@ -3,3 +3,3 @@",
  " data:",
  "-  color: red",
  "+  color: green",
  "-  '--- not a header': x",
  "",
].join("\n");

test("each line of a unified diff is told apart; ---/+++ headers are not changes", () => {
  assert.deepEqual(diffLines(DIFF).map((l) => l.kind), [
    "header", "header", "hunk", "context", "remove", "add", "remove",
  ]);
  assert.deepEqual(diffLines(DIFF)[4], { kind: "remove", text: "-  color: red" });
  assert.deepEqual(diffLines(""), []);
  assert.deepEqual(diffLines("+a"), [{ kind: "add", text: "+a" }]);
});

const RESOURCES = [
  { kind: "ConfigMap", status: "changed" },
  { kind: "Secret", status: "unchanged" },
  { kind: "Deployment", status: "added" },
  { kind: "Service", status: "removed" },
  { kind: "Job", status: "unchanged" },
];

test("unchanged resources are listed only on request, in their order", () => {
  assert.deepEqual(visibleResources(RESOURCES, false).map((r) => r.kind),
    ["ConfigMap", "Deployment", "Service"]);
  assert.deepEqual(visibleResources(RESOURCES, true).map((r) => r.kind),
    RESOURCES.map((r) => r.kind));
});

test("the summary counts each status in a fixed order", () => {
  assert.equal(statusSummary(RESOURCES), "1 changed, 1 added, 1 removed, 2 unchanged");
  assert.equal(statusSummary([{ status: "unchanged" }, { status: "odd" }]), "1 unchanged, 1 odd");
  assert.equal(statusSummary([]), "");
});

const VIEWS = [
  ["", "overview", "live", "", false],
  ["?view=diff&unchanged=1", "diff", "live", "", true],
  ["?view=manifests&revision=%20v1.2%20", "manifests", "live", "v1.2", false],
  ["?view=evil&panel=<script>", "overview", "live", "", false],
  ["?resource=/ConfigMap/web/settings&panel=diff", "overview", "diff", "", false],
  ["?panel=manifests&revision=" + "x".repeat(MAX_REVISION + 1), "overview", "manifests", "", false],
  ["?unchanged=true", "overview", "live", "", false],
];

for (const [search, app, panel, revision, unchanged] of VIEWS) {
  test(`the URL ${search.slice(0, 60) || "(none)"} shows ${app}/${panel}`, () => {
    assert.equal(appViewOf(search), app);
    assert.equal(panelViewOf(search), panel);
    assert.equal(revisionOf(search), revision);
    assert.equal(showsUnchanged(search), unchanged);
  });
}

test("withParams sets, replaces and removes parameters, keeping the others", () => {
  assert.equal(withParams("", { view: "diff" }), "?view=diff");
  assert.equal(withParams("?resource=a%2Fb&view=diff", { view: null }), "?resource=a%2Fb");
  assert.equal(withParams("?view=diff", { view: null }), "");
  assert.equal(withParams("?a=1&revision=old", { revision: "v2" }), "?a=1&revision=v2");
  assert.equal(withParams("?revision=old", { revision: "" }), "");
  assert.equal(withParams("", { revision: "a&b=c" }), "?revision=a%26b%3Dc");
});

const REF = { group: "apps", kind: "Deployment", namespace: "web", name: "api" };

test("a rendered manifest is the object a node names (a render may leave the namespace out)", () => {
  const manifest = (apiVersion, kind, name, namespace) => ({
    apiVersion, kind, metadata: namespace === undefined ? { name } : { name, namespace },
  });
  assert.equal(isObject(manifest("apps/v1", "Deployment", "api", "web"), REF), true);
  assert.equal(isObject(manifest("apps/v1", "Deployment", "api"), REF), true);
  assert.equal(isObject(manifest("apps/v1", "Deployment", "api", "other"), REF), false);
  assert.equal(isObject(manifest("v1", "Deployment", "api", "web"), REF), false);
  assert.equal(isObject(manifest("apps/v1", "StatefulSet", "api", "web"), REF), false);
  assert.equal(isObject({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c" } },
    { group: "", kind: "ConfigMap", namespace: "web", name: "c" }), true);
  assert.equal(isObject(null, REF), false);
  assert.equal(isObject({ kind: "Deployment" }, REF), false);
});

test("a diff computed client-side carries the note, dry-run ones none", () => {
  assert.equal(predictionNote([{ predicted: "dry-run" }, { predicted: "dry-run" }]), null);
  assert.equal(predictionNote([]), null);
  assert.equal(predictionNote([{ predicted: "dry-run" }, { predicted: "client-side" }]), CLIENT_SIDE_NOTE);
  assert.match(CLIENT_SIDE_NOTE, /without a server-side dry run; values the API server defaults may show as changes/);
});
