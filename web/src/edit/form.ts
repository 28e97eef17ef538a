// The "New app" / "Edit" form as data (pure): the fields a person fills in,
// the Application spec they become, hints shown while typing, and the
// server's 422 message split onto the fields it names.
//
// The server decides (pipeline.app_spec, the checks `driftless app create`
// makes); the hints only catch the obvious early. An edit overlays the form
// on the spec it was opened with, so fields the form does not show
// (ignoreDifferences, retry, Helm inline values, ...) are kept as they were.

export type Renderer = "auto" | "directory" | "helm" | "kustomize" | "jsonnet";

export interface AppForm {
  name: string;
  namespace: string;
  project: string;
  repoURL: string;
  targetRevision: string;
  path: string;
  chart: string;
  renderer: Renderer;
  directoryRecurse: boolean;
  /** Helm `--set` values, one `KEY=VALUE` a line. */
  helmParameters: string;
  /** Helm values files, one a line. */
  helmValueFiles: string;
  /** Helm `lookup` reads live objects (`spec.source.helm.lookup`); the Project must allow it. */
  helmLookup: boolean;
  /** Kustomize image overrides, one a line (`nginx=nginx:1.27`). */
  kustomizeImages: string;
  destServer: string;
  destNamespace: string;
  automated: boolean;
  prune: boolean;
  selfHeal: boolean;
  createNamespace: boolean;
  interval: string;
}

/** A form field's key, or "" for what belongs to no field (shown above the form). */
export type FieldKey = keyof AppForm | "";

type JSON = Record<string, unknown>;

export function emptyForm(): AppForm {
  return {
    name: "",
    namespace: "",
    project: "default",
    repoURL: "",
    targetRevision: "HEAD",
    path: ".",
    chart: "",
    renderer: "auto",
    directoryRecurse: false,
    helmParameters: "",
    helmValueFiles: "",
    helmLookup: false,
    kustomizeImages: "",
    destServer: "",
    destNamespace: "",
    automated: false,
    prune: false,
    selfHeal: false,
    createNamespace: false,
    interval: "",
  };
}

function record(value: unknown): JSON {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as JSON)
    : {};
}

function text(value: unknown): string {
  return typeof value === "string" ? value : "";
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
}

const RENDERERS: Renderer[] = ["directory", "helm", "kustomize", "jsonnet"];
const CREATE_NAMESPACE = "CreateNamespace";

/** The form showing `app` (an Application as GET .../applications/{ns}/{name} gives it). */
export function formFromApp(app: { metadata: object; spec: object }): AppForm {
  const metadata = record(app.metadata);
  const spec = record(app.spec);
  const source = record(spec.source);
  const destination = record(spec.destination);
  const policy = record(spec.syncPolicy);
  const automated = policy.automated === null || policy.automated === undefined
    ? null
    : record(policy.automated);
  const helm = record(source.helm);
  const renderer = RENDERERS.find((r) => source[r] !== undefined && source[r] !== null) ?? "auto";
  return {
    ...emptyForm(),
    name: text(metadata.name),
    namespace: text(metadata.namespace),
    project: text(spec.project) || "default",
    repoURL: text(source.repoURL),
    targetRevision: text(source.targetRevision) || "HEAD",
    path: text(source.path) || ".",
    chart: text(source.chart),
    renderer,
    directoryRecurse: record(source.directory).recurse === true,
    helmParameters: (Array.isArray(helm.parameters) ? helm.parameters : [])
      .map((p) => `${text(record(p).name)}=${text(record(p).value)}`)
      .join("\n"),
    helmValueFiles: strings(helm.valueFiles).join("\n"),
    helmLookup: helm.lookup === true,
    kustomizeImages: strings(record(source.kustomize).images).join("\n"),
    destServer: text(destination.server),
    destNamespace: text(destination.namespace),
    automated: automated !== null,
    prune: automated?.prune === true,
    selfHeal: automated?.selfHeal === true,
    createNamespace: strings(policy.syncOptions).some((o) => isCreateNamespace(o)),
    interval: text(spec.interval),
  };
}

function isCreateNamespace(option: string): boolean {
  const [key, value] = option.split("=", 2);
  return key?.trim() === CREATE_NAMESPACE && value?.trim().toLowerCase() === "true";
}

function lines(value: string): string[] {
  return value.split("\n").map((l) => l.trim()).filter((l) => l !== "");
}

function setOrDrop(target: JSON, key: string, value: unknown): void {
  if (value === "" || value === undefined) delete target[key];
  else target[key] = value;
}

/**
 * The spec the form asks for. `base` (an edit: the spec the form was opened
 * with) keeps what the form does not show; it is not changed.
 */
export function specFromForm(form: AppForm, base: JSON = {}): JSON {
  const spec: JSON = structuredClone(base);
  spec.project = form.project.trim() || "default";

  const source: JSON = { ...record(spec.source) };
  source.repoURL = form.repoURL.trim();
  source.targetRevision = form.targetRevision.trim() || "HEAD";
  source.path = form.path.trim() || ".";
  setOrDrop(source, "chart", form.chart.trim());
  for (const renderer of RENDERERS) {
    if (renderer !== form.renderer) delete source[renderer];
  }
  if (form.renderer === "directory") {
    source.directory = { ...record(source.directory), recurse: form.directoryRecurse };
  } else if (form.renderer === "helm") {
    source.helm = helmFromForm(form, record(source.helm));
  } else if (form.renderer === "kustomize") {
    const kustomize = { ...record(source.kustomize) };
    setOrDrop(kustomize, "images", lines(form.kustomizeImages).length
      ? lines(form.kustomizeImages) : undefined);
    source.kustomize = kustomize;
  } else if (form.renderer === "jsonnet") {
    source.jsonnet = record(source.jsonnet);
  }
  spec.source = source;

  const destination: JSON = { ...record(spec.destination) };
  setOrDrop(destination, "server", form.destServer.trim());
  setOrDrop(destination, "namespace", form.destNamespace.trim());
  spec.destination = destination;

  const policy: JSON = { ...record(spec.syncPolicy) };
  if (form.automated) {
    policy.automated = { ...record(policy.automated), prune: form.prune, selfHeal: form.selfHeal };
  } else {
    delete policy.automated;
  }
  const options = strings(policy.syncOptions).filter(
    (o) => o.split("=", 1)[0]?.trim() !== CREATE_NAMESPACE,
  );
  if (form.createNamespace) options.push(`${CREATE_NAMESPACE}=true`);
  policy.syncOptions = options;
  spec.syncPolicy = policy;

  setOrDrop(spec, "interval", form.interval.trim());
  return spec;
}

function helmFromForm(form: AppForm, helm: JSON): JSON {
  const before = new Map(
    (Array.isArray(helm.parameters) ? helm.parameters : []).map((p) => [text(record(p).name), p]),
  );
  const parameters = lines(form.helmParameters).map((line) => {
    const at = line.indexOf("=");
    const name = at < 0 ? line : line.slice(0, at).trim();
    const value = at < 0 ? "" : line.slice(at + 1);
    // Keep forceString (and anything else) of a parameter that was there.
    return { ...record(before.get(name)), name, value };
  });
  const result: JSON = { ...helm };
  setOrDrop(result, "parameters", parameters.length ? parameters : undefined);
  const files = lines(form.helmValueFiles);
  setOrDrop(result, "valueFiles", files.length ? files : undefined);
  // Off is the default: left out rather than sent as false, like the CLI's specs.
  setOrDrop(result, "lookup", form.helmLookup ? true : undefined);
  return result;
}

/** The body of POST /api/v1/applications. */
export function createBody(form: AppForm): JSON {
  const metadata: JSON = { name: form.name.trim() };
  if (form.namespace.trim() !== "") metadata.namespace = form.namespace.trim();
  return { metadata, spec: specFromForm(form) };
}

/** The body of PUT /api/v1/applications/{ns}/{name}: the edit, guarded by what was read. */
export function editBody(form: AppForm, read: { metadata: object; spec: object }): JSON {
  const meta = record(read.metadata);
  const metadata: JSON = { resourceVersion: text(meta.resourceVersion) };
  if (typeof meta.generation === "number") metadata.generation = meta.generation;
  return { metadata, spec: specFromForm(form, record(read.spec)) };
}

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DURATION = /^([0-9]+h)?([0-9]+m)?([0-9]+s)?$/;
const PASSWORD_IN_URL = /^[a-z][a-z0-9+.-]*:\/\/[^/@]*:[^/]*@/i;

/**
 * Early hints while typing (the server's check is the one that counts); only
 * fields that have a problem are in the result.
 */
export function hints(form: AppForm, creating: boolean): Partial<Record<keyof AppForm, string>> {
  const found: Partial<Record<keyof AppForm, string>> = {};
  const name = form.name.trim();
  if (creating && name !== "" && (name.length > 253 || !DNS_SUBDOMAIN.test(name))) {
    found.name = "Lower-case letters, digits, '-' and '.', starting and ending with a letter or digit.";
  }
  const namespace = form.namespace.trim();
  if (creating && namespace !== "" && (namespace.length > 63 || !DNS_LABEL.test(namespace))) {
    found.namespace = "Lower-case letters, digits and '-' (at most 63).";
  }
  const repo = form.repoURL.trim();
  if (PASSWORD_IN_URL.test(repo)) {
    found.repoURL = "Do not put a password in the URL: add the repository's credentials " +
      "with `driftless repo add` instead.";
  } else if (repo.startsWith("file:") || repo.startsWith("/")) {
    found.repoURL = "Use an https:// or ssh:// URL: the server does not take local repositories.";
  }
  if (form.targetRevision.trim().startsWith("-")) {
    found.targetRevision = "A revision may not start with '-'.";
  }
  const path = form.path.trim();
  if (path.startsWith("/") || path.split("/").includes("..")) {
    found.path = "A directory inside the repository, relative to its root, without '..'.";
  }
  const destNamespace = form.destNamespace.trim();
  if (destNamespace !== "" && !DNS_LABEL.test(destNamespace)) {
    found.destNamespace = "Lower-case letters, digits and '-' (at most 63).";
  }
  if (form.interval.trim() !== "" && !DURATION.test(form.interval.trim())) {
    found.interval = "A duration such as 30s, 3m or 1h30m.";
  }
  if (lines(form.helmParameters).some((l) => !/^[^=\s]+=/.test(l))) {
    found.helmParameters = "One KEY=VALUE a line.";
  }
  return found;
}

/** What the form knows of a Project: its name and whether it allows Helm lookup. */
export interface ProjectLookupGrant {
  metadata: { name: string };
  spec?: { allowHelmLookup?: boolean | null } | null;
}

/**
 * A note when the form asks for Helm lookup but the chosen Project (as listed
 * by the server) does not allow it: the controller would refuse to render the
 * app. A Project missing from `projects` (not readable, not loaded) gets no
 * note: the server's check is the one that counts.
 */
export function helmLookupNote(form: AppForm, projects: ProjectLookupGrant[]): string | undefined {
  if (form.renderer !== "helm" || !form.helmLookup) return undefined;
  const name = form.project.trim() || "default";
  const project = projects.find((p) => p.metadata.name === name);
  if (project === undefined || project.spec?.allowHelmLookup === true) return undefined;
  return `Project ${name} does not allow Helm lookup (allowHelmLookup: false): ` +
    "the app will not render until an administrator allows it.";
}

/** Which form field a server field path (`spec.source.repoURL`) belongs to. */
export function fieldOf(path: string): FieldKey {
  const exact: Record<string, keyof AppForm> = {
    "metadata.name": "name",
    "metadata.namespace": "namespace",
    "spec.project": "project",
    "spec.source.repoURL": "repoURL",
    "spec.source.targetRevision": "targetRevision",
    "spec.source.path": "path",
    "spec.source.chart": "chart",
    "spec.source.helm.lookup": "helmLookup",
    "spec.source": "renderer",
    "spec.destination.server": "destServer",
    "spec.destination.name": "destServer",
    "spec.destination": "destNamespace",
    "spec.destination.namespace": "destNamespace",
    "spec.interval": "interval",
  };
  const found = exact[path];
  if (found !== undefined) return found;
  const prefixes: [string, keyof AppForm][] = [
    ["spec.source.helm", "helmParameters"],
    ["spec.source.kustomize", "kustomizeImages"],
    ["spec.source.directory", "directoryRecurse"],
    ["spec.source.jsonnet", "renderer"],
    ["spec.syncPolicy", "automated"],
  ];
  for (const [prefix, key] of prefixes) {
    if (path === prefix || path.startsWith(`${prefix}.`) || path.startsWith(`${prefix}[`)) {
      return key;
    }
  }
  return "";
}

/**
 * A 422 message (`body.spec.source.repoURL: problem; body.x: other`) split
 * onto the form's fields; what names no field of the form is under "".
 */
export function fieldErrors(message: string): Partial<Record<FieldKey, string>> {
  const errors: Partial<Record<FieldKey, string>> = {};
  for (const part of message.split("; ")) {
    const match = /^body\.([A-Za-z0-9_.[\]-]+): (.*)$/s.exec(part);
    const key = match === null ? "" : fieldOf(match[1] ?? "");
    const said = match === null || key === "" ? part : (match[2] ?? part);
    errors[key] = errors[key] === undefined ? said : `${errors[key]}; ${said}`;
  }
  return errors;
}

/**
 * The form after someone else saved the app meanwhile: the fields this person
 * changed (`form` against `opened`, what they started from) over `latest`,
 * the form of the app as stored now.
 */
export function rebase(form: AppForm, opened: AppForm, latest: AppForm): AppForm {
  const result: AppForm = { ...latest };
  for (const key of Object.keys(form) as (keyof AppForm)[]) {
    if (form[key] !== opened[key]) (result as unknown as Record<string, unknown>)[key] = form[key];
  }
  return result;
}
