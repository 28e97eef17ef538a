// Tables for src/edit/form.ts (pure): the New app / Edit form as data -- the
// spec a form becomes (an edit keeps what the form does not show), hints, and
// a server 422 message split onto the fields it names. Run by `npm test`.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  createBody,
  editBody,
  emptyForm,
  fieldErrors,
  fieldOf,
  formFromApp,
  helmLookupNote,
  hints,
  rebase,
  specFromForm,
} from "../.test-build/edit/form.js";

const REPO = "https://git.example/team/app.git";

function form(fields) {
  return { ...emptyForm(), name: "web", repoURL: REPO, ...fields };
}

test("a new app's body: metadata and the spec the form asks for", () => {
  const body = createBody(form({
    namespace: "apps",
    path: "overlays/prod",
    targetRevision: "v1.2",
    destNamespace: "web",
    automated: true,
    selfHeal: true,
    createNamespace: true,
    interval: "5m",
  }));
  assert.deepEqual(body, {
    metadata: { name: "web", namespace: "apps" },
    spec: {
      project: "default",
      source: { repoURL: REPO, targetRevision: "v1.2", path: "overlays/prod" },
      destination: { namespace: "web" },
      syncPolicy: { automated: { prune: false, selfHeal: true }, syncOptions: ["CreateNamespace=true"] },
      interval: "5m",
    },
  });
  // No namespace: the server's default; spaces trimmed; defaults for empty fields.
  const plain = createBody(form({ name: " web ", repoURL: ` ${REPO} `, path: "", targetRevision: "" }));
  assert.deepEqual(plain.metadata, { name: "web" });
  assert.deepEqual(plain.spec.source, { repoURL: REPO, targetRevision: "HEAD", path: "." });
  assert.deepEqual(plain.spec.syncPolicy, { syncOptions: [] });
});

test("renderer options: only the chosen renderer's, as the CLI's flags make them", () => {
  const helm = specFromForm(form({
    renderer: "helm",
    helmParameters: "replicaCount=2\n\nimage.tag=1.0=x\n",
    helmValueFiles: "values-prod.yaml\n",
  }));
  assert.deepEqual(helm.source.helm, {
    parameters: [{ name: "replicaCount", value: "2" }, { name: "image.tag", value: "1.0=x" }],
    valueFiles: ["values-prod.yaml"],
  });
  const kustomize = specFromForm(form({ renderer: "kustomize", kustomizeImages: "nginx=nginx:1.27" }));
  assert.deepEqual(kustomize.source.kustomize, { images: ["nginx=nginx:1.27"] });
  assert.equal(kustomize.source.helm, undefined);
  const directory = specFromForm(form({ renderer: "directory", directoryRecurse: true }));
  assert.deepEqual(directory.source.directory, { recurse: true });
});

const STORED = {
  metadata: { name: "web", namespace: "apps", resourceVersion: "41", generation: 3 },
  spec: {
    project: "team",
    source: {
      repoURL: REPO,
      targetRevision: "main",
      path: "app",
      helm: {
        parameters: [{ name: "replicaCount", value: "2", forceString: true }],
        values: "debug: true\n",
      },
    },
    destination: { server: "https://kubernetes.default.svc", namespace: "web" },
    syncPolicy: {
      automated: { prune: true, selfHeal: false, allowEmpty: true },
      syncOptions: ["ServerSideApply=true", "CreateNamespace=true"],
      retry: { limit: 3 },
    },
    ignoreDifferences: [{ kind: "Deployment", jsonPointers: ["/spec/replicas"] }],
    futureField: { kept: 1 },
  },
};

test("an edit shows the stored app and keeps what the form does not show", () => {
  const shown = formFromApp(STORED);
  assert.equal(shown.renderer, "helm");
  assert.equal(shown.helmParameters, "replicaCount=2");
  assert.equal(shown.automated && shown.prune && !shown.selfHeal && shown.createNamespace, true);
  assert.equal(shown.project, "team");
  const before = JSON.stringify(STORED);
  // Opened and saved unchanged: the very spec that was read.
  assert.deepEqual(editBody(shown, STORED), {
    metadata: { resourceVersion: "41", generation: 3 },
    spec: STORED.spec,
  });
  const edited = editBody({ ...shown, path: "app2", createNamespace: false, helmParameters: "replicaCount=3" }, STORED);
  assert.equal(edited.spec.source.path, "app2");
  assert.deepEqual(edited.spec.source.helm, {
    parameters: [{ name: "replicaCount", value: "3", forceString: true }],
    values: "debug: true\n",
  });
  assert.deepEqual(edited.spec.syncPolicy.syncOptions, ["ServerSideApply=true"]);
  assert.deepEqual(edited.spec.syncPolicy.retry, { limit: 3 });
  assert.deepEqual(edited.spec.syncPolicy.automated, { prune: true, selfHeal: false, allowEmpty: true });
  assert.deepEqual(edited.spec.futureField, { kept: 1 });
  assert.equal(JSON.stringify(STORED), before, "the app read is not changed");
  const manual = editBody({ ...shown, automated: false, renderer: "auto" }, STORED);
  assert.equal(manual.spec.syncPolicy.automated, undefined);
  assert.equal(manual.spec.source.helm, undefined);
});

test("Helm lookup: sent only when asked, shown from the stored app, turned off on edit", () => {
  const on = specFromForm(form({ renderer: "helm", helmLookup: true }));
  assert.deepEqual(on.source.helm, { lookup: true });
  // Off is the default: not sent at all (a spec the CLI would make).
  assert.deepEqual(specFromForm(form({ renderer: "helm" })).source.helm, {});
  // Another renderer never carries it, even when the box was ticked before switching.
  assert.equal(specFromForm(form({ renderer: "kustomize", helmLookup: true })).source.helm, undefined);

  const stored = structuredClone(STORED);
  stored.spec.source.helm.lookup = true;
  const shown = formFromApp(stored);
  assert.equal(shown.helmLookup, true);
  assert.deepEqual(editBody(shown, stored).spec, stored.spec, "saved unchanged: still on");
  const off = editBody({ ...shown, helmLookup: false }, stored).spec.source.helm;
  assert.deepEqual(off, {
    parameters: [{ name: "replicaCount", value: "2", forceString: true }],
    values: "debug: true\n",
  });
  assert.equal(formFromApp(STORED).helmLookup, false);
});

test("Helm lookup from a hostile or odd stored app is off unless exactly true", () => {
  for (const lookup of ["true", 1, null, {}, ["true"]]) {
    const app = { metadata: {}, spec: { source: { repoURL: REPO, helm: { lookup } } } };
    assert.equal(formFromApp(app).helmLookup, false, JSON.stringify(lookup));
  }
  for (const helm of [null, "lookup", ["lookup"], 7]) {
    const app = { metadata: {}, spec: { source: { repoURL: REPO, helm } } };
    assert.equal(formFromApp(app).helmLookup, false, JSON.stringify(helm));
  }
});

test("a note when the chosen project does not allow Helm lookup", () => {
  const projects = [
    { metadata: { name: "default" } },
    { metadata: { name: "team" }, spec: { allowHelmLookup: true } },
    { metadata: { name: "strict" }, spec: { allowHelmLookup: false } },
    { metadata: { name: "odd" }, spec: { allowHelmLookup: "true" } },
    { metadata: { name: "empty" }, spec: null },
  ];
  const asked = (fields) => helmLookupNote(form({ renderer: "helm", helmLookup: true, ...fields }), projects);
  assert.equal(asked({ project: "team" }), undefined);
  for (const project of ["default", "", "  ", "strict", "odd", "empty"]) {
    assert.match(asked({ project }), /does not allow Helm lookup \(allowHelmLookup/, project);
  }
  assert.match(asked({ project: "" }), /^Project default /);
  // A project the list does not have (not readable, not loaded yet): the server decides.
  assert.equal(asked({ project: "elsewhere" }), undefined);
  assert.equal(helmLookupNote(form({ renderer: "helm", helmLookup: true, project: "strict" }), []), undefined);
  // Not asked, or not a Helm app: no note.
  assert.equal(helmLookupNote(form({ renderer: "helm", project: "strict" }), projects), undefined);
  assert.equal(helmLookupNote(form({ renderer: "auto", helmLookup: true, project: "strict" }), projects), undefined);
});

const HINTS = [
  [{ name: "Web_App" }, "name"],
  [{ namespace: "Apps" }, "namespace"],
  [{ repoURL: "https://user:hunter2@git.example/x.git" }, "repoURL"],
  [{ repoURL: "file:///srv/git/x" }, "repoURL"],
  [{ repoURL: "/srv/git/x" }, "repoURL"],
  [{ targetRevision: "--upload-pack=x" }, "targetRevision"],
  [{ path: "/etc" }, "path"],
  [{ path: "apps/../../etc" }, "path"],
  [{ destNamespace: "a b" }, "destNamespace"],
  [{ interval: "soon" }, "interval"],
  [{ renderer: "helm", helmParameters: "novalue" }, "helmParameters"],
];

test("hints while typing name the field", () => {
  assert.deepEqual(hints(form({}), true), {});
  assert.deepEqual(hints(form({ repoURL: "git@git.example:team/app.git", interval: "1h30m" }), true), {});
  for (const [fields, key] of HINTS) {
    const found = hints(form(fields), true);
    assert.deepEqual(Object.keys(found), [key], JSON.stringify(fields));
  }
  // An edit cannot change the name or namespace: no hint for them.
  assert.deepEqual(hints(form({ name: "Web_App" }), false), {});
  // The hint never repeats a password.
  assert.ok(!hints(form({ repoURL: "https://u:hunter2@h/x" }), true).repoURL.includes("hunter2"));
});

const FIELDS = [
  ["metadata.name", "name"],
  ["metadata.namespace", "namespace"],
  ["spec.project", "project"],
  ["spec.source.repoURL", "repoURL"],
  ["spec.source.targetRevision", "targetRevision"],
  ["spec.source", "renderer"],
  ["spec.source.helm.parameters[0].name", "helmParameters"],
  ["spec.source.helm.lookup", "helmLookup"],
  ["spec.source.helm.lookupX", "helmParameters"],
  ["spec.source.kustomize.images", "kustomizeImages"],
  ["spec.destination", "destNamespace"],
  ["spec.destination.server", "destServer"],
  ["spec.syncPolicy.automated.prune", "automated"],
  ["spec.syncPolicyX", ""],
  ["spec.interval", "interval"],
  ["status", ""],
];

test("a server field path lands on its form field", () => {
  for (const [path, key] of FIELDS) assert.equal(fieldOf(path), key, path);
});

test("a 422 message is split onto the fields it names", () => {
  assert.deepEqual(
    fieldErrors("body.spec.source.repoURL: a password; body.metadata.name: not a valid name"),
    { repoURL: "a password", name: "not a valid name" },
  );
  assert.deepEqual(fieldErrors("body.status: Extra inputs are not permitted"), {
    "": "body.status: Extra inputs are not permitted",
  });
  assert.deepEqual(fieldErrors("application apps/web already exists"), {
    "": "application apps/web already exists",
  });
  assert.deepEqual(fieldErrors("body.spec.interval: a; body.spec.interval: b"), { interval: "a; b" });
});

test("after a conflict, the fields this person changed go over the latest app", () => {
  const opened = formFromApp(STORED);
  const typed = { ...opened, path: "mine", interval: "1m" };
  const latest = formFromApp({
    ...STORED,
    spec: { ...STORED.spec, source: { ...STORED.spec.source, targetRevision: "theirs" } },
  });
  const merged = rebase(typed, opened, latest);
  assert.equal(merged.path, "mine");
  assert.equal(merged.interval, "1m");
  assert.equal(merged.targetRevision, "theirs");
  assert.deepEqual(rebase(opened, opened, latest), latest);
});
