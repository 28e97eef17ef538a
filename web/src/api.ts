// The driftless REST API (/api/v1) as the UI uses it: typed bodies and one error type.
//
// Every failure, whatever its cause (an error body from the server, a proxy's
// HTML page, a dropped connection), becomes an ApiError whose message a person
// can read; callers show `message` and never a stack trace.

export interface Destination {
  server?: string | null;
  name?: string | null;
  namespace?: string | null;
}

/** One row of the application list: only what a list shows. */
export interface AppRow {
  namespace: string;
  name: string;
  project: string;
  repoURL: string;
  path?: string | null;
  chart?: string | null;
  targetRevision?: string | null;
  destination: Destination;
  sync: string;
  health: string;
  revision?: string | null;
  operationPhase?: string | null;
  labels?: Record<string, string> | null;
  reconciledAt?: string | null;
}

export interface StatusCounts {
  sync: Record<string, number>;
  health: Record<string, number>;
}

export interface AppList {
  items: AppRow[];
  total: number;
  counts: StatusCounts;
  offset: number;
  limit: number;
}

export interface Condition {
  type: string;
  status: string;
  reason: string;
  message?: string;
  lastTransitionTime?: string;
}

export interface ResourceStatus {
  group?: string;
  version?: string;
  kind: string;
  namespace?: string;
  name: string;
  status?: string;
  health?: { status?: string; message?: string | null } | null;
  message?: string | null;
  requiresPruning?: boolean | null;
}

export interface InitiatedBy {
  username?: string | null;
  automated?: boolean;
}

export interface OperationState {
  phase?: string;
  message?: string;
  startedAt?: string;
  finishedAt?: string | null;
  revision?: string;
  operation?: { initiatedBy?: InitiatedBy };
  /** Where a running sync is (kept after it ended). */
  step?: OperationStep | null;
  resources?: OperationResource[];
  /** Plain synced results left out of `resources` to keep a large app's status small. */
  resourcesOmitted?: number | null;
}

export interface OperationStep {
  phase?: string;
  wave?: number | null;
  applied?: boolean;
  waitingSince?: string | null;
}

/** What a sync did to one object (`operationState.resources[]`). */
export interface OperationResource {
  group?: string;
  kind: string;
  namespace?: string;
  name: string;
  status?: string;
  message?: string | null;
  hookType?: string | null;
  hookPhase?: string | null;
  wave?: number | null;
}

export interface HistoryEntry {
  id: number;
  revision: string;
  deployedAt: string;
  startedAt?: string | null;
  initiatedBy?: InitiatedBy;
  result?: string;
}

/** A Helm source's options (`spec.source.helm`). */
export interface HelmSource {
  releaseName?: string | null;
  namespace?: string | null;
  valueFiles?: string[] | null;
  values?: string | null;
  parameters?: { name: string; value: string; forceString?: boolean }[] | null;
  skipCrds?: boolean | null;
  /** Templates' `lookup` reads live objects through a read-only proxy (never Secrets); the
   * app's Project must set `allowHelmLookup`. Absent or false: lookup returns empty maps. */
  lookup?: boolean | null;
}

export interface ApplicationSource {
  repoURL?: string;
  targetRevision?: string;
  path?: string;
  chart?: string;
  helm?: HelmSource | null;
}

export interface Application {
  metadata: {
    name: string;
    namespace: string;
    labels?: Record<string, string>;
    creationTimestamp?: string;
    resourceVersion?: string;
    generation?: number;
  };
  spec: {
    project?: string;
    source?: ApplicationSource;
    destination?: Destination;
    syncPolicy?: { automated?: { prune?: boolean; selfHeal?: boolean } | null } | null;
  };
  status?: {
    sync?: { status?: string; revision?: string | null };
    health?: { status?: string; message?: string | null };
    conditions?: Condition[];
    resources?: ResourceStatus[];
    operationState?: OperationState | null;
    lastSyncedAt?: string | null;
    history?: HistoryEntry[] | null;
  };
}

/** One node of an app's resource tree (GET .../tree). */
export interface TreeNode {
  uid: string;
  group: string;
  version: string;
  kind: string;
  namespace: string;
  name: string;
  parents: string[];
  managed: boolean;
  health: { status?: string | null; message?: string | null } | null;
  sync: string | null;
  createdAt?: string | null;
}

export interface ResourceTree {
  nodes: TreeNode[];
  /** Why only part of the tree is shown (e.g. a remote cluster's objects are not watched). */
  partial?: string | null;
}

/** A Kubernetes Event about the app or an object of its tree (GET .../events). */
export interface KubeEvent {
  type?: string | null;
  reason?: string | null;
  message?: string | null;
  count?: number | null;
  firstTimestamp?: string | null;
  lastTimestamp?: string | null;
  object: { kind: string; namespace?: string | null; name: string };
}

export interface Project {
  metadata: { name: string; namespace?: string };
  spec?: ProjectSpec | null;
}

export interface GroupKind {
  group?: string;
  kind: string;
}

/** What a project allows (GET /api/v1/projects; the Project CRD's spec). */
export interface ProjectSpec {
  description?: string | null;
  sourceRepos?: string[] | null;
  destinations?: { server?: string; namespace?: string }[] | null;
  sourceNamespaces?: string[] | null;
  clusterResourceAllowList?: GroupKind[] | null;
  namespaceResourceDenyList?: GroupKind[] | null;
  /** Whether its apps may set `spec.source.helm.lookup`; absent: not allowed. */
  allowHelmLookup?: boolean | null;
}

/** A repository credential as the API lists it: never a secret value. */
export interface Repository {
  name: string;
  namespace: string;
  url: string;
  type: string;
  knownHosts: string;
  status: string;
  message: string;
  created: string | null;
}

/** A destination cluster as the API lists it: never a token or key. */
export interface Cluster {
  name: string;
  server: string;
  namespace: string | null;
  secret: string | null;
  auth: string;
  status: string;
  message: string;
  created: string | null;
}

export interface Session {
  user: string;
  /** The user's groups (single sign-on); empty for the local account. */
  groups?: string[];
  /** How the user logged in: "local", "oidc", or "none" (auth off). */
  method?: string;
}

/** How one may log in: "local" (the admin account) and/or "oidc" (single sign-on). */
export interface LoginMethods {
  methods: string[];
}

/** Where single sign-on starts: the server redirects the browser to the provider. */
export const SSO_LOGIN_PATH = "/api/v1/auth/oidc/login";

/** One object of a selective sync (empty group: the core group). */
export interface ResourceSelector {
  group: string;
  kind: string;
  namespace: string;
  name: string;
}

/** The options of a sync, as `driftless app sync` takes them. */
export interface SyncOptions {
  revision?: string;
  prune?: boolean;
  dryRun?: boolean;
  /** Only these objects (no hooks run); absent or empty: the whole app. */
  resources?: ResourceSelector[];
}

/** The error every API call throws; `message` is meant for people. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
  }

  get unauthorized(): boolean {
    return this.status === 401;
  }
}

const STATUS_WORDS: Record<number, string> = {
  400: "the request was refused",
  401: "you are not logged in",
  403: "you may not do that",
  404: "not found",
  409: "a conflicting operation is running",
  422: "the request is not valid",
  500: "the server failed",
  502: "the server cannot be reached",
  503: "the server is not ready yet",
  504: "the server did not answer in time",
};

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The readable error of a response that was not 2xx (the body's if it has the API's shape). */
async function errorOf(response: Response): Promise<ApiError> {
  let body: unknown = null;
  try {
    body = await response.json();
  } catch {
    // not JSON (a proxy's page, an empty body): fall back to the status below
  }
  if (isRecord(body) && isRecord(body.error)) {
    const { code, message } = body.error;
    if (typeof message === "string" && message !== "") {
      return new ApiError(response.status, typeof code === "string" ? code : "", message);
    }
  }
  const words = STATUS_WORDS[response.status] ?? "the server answered with an error";
  return new ApiError(response.status, "", `${words} (HTTP ${response.status})`);
}

async function call<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  const init: RequestInit = {
    method,
    credentials: "same-origin",
    headers: body === undefined ? { Accept: "application/json" } : {
      Accept: "application/json",
      "Content-Type": "application/json",
    },
  };
  if (body !== undefined) init.body = JSON.stringify(body);
  if (signal !== undefined) init.signal = signal;
  let response: Response;
  try {
    response = await fetch(path, init);
  } catch (err) {
    if (err instanceof DOMException && err.name === "AbortError") throw err;
    throw new ApiError(0, "Unavailable", "Cannot reach the driftless server; is it running?");
  }
  if (!response.ok) throw await errorOf(response);
  if (response.status === 204) return undefined as T;
  try {
    return (await response.json()) as T;
  } catch {
    throw new ApiError(response.status, "Internal", "The server's answer was not valid JSON.");
  }
}

const seg = encodeURIComponent;

export const api = {
  session: (): Promise<Session> => call("GET", "/api/v1/session"),
  login: (username: string, password: string): Promise<Session> =>
    call("POST", "/api/v1/session", { username, password }),
  /** Ends the session; a single sign-on one also names the provider's logout page. */
  logout: (): Promise<{ endSessionUrl?: string } | undefined> => call("DELETE", "/api/v1/session"),
  loginMethods: (): Promise<LoginMethods> => call("GET", "/api/v1/auth/methods"),
  applications: (query: string, signal?: AbortSignal): Promise<AppList> =>
    call("GET", `/api/v1/applications?${query}`, undefined, signal),
  application: (namespace: string, name: string, signal?: AbortSignal): Promise<Application> =>
    call("GET", `/api/v1/applications/${seg(namespace)}/${seg(name)}`, undefined, signal),
  history: (
    namespace: string,
    name: string,
    signal?: AbortSignal,
  ): Promise<{ items: HistoryEntry[] }> =>
    call("GET", `/api/v1/applications/${seg(namespace)}/${seg(name)}/history`, undefined, signal),
  tree: (namespace: string, name: string, signal?: AbortSignal): Promise<ResourceTree> =>
    call("GET", `/api/v1/applications/${seg(namespace)}/${seg(name)}/tree`, undefined, signal),
  events: (
    namespace: string,
    name: string,
    signal?: AbortSignal,
  ): Promise<{ items: KubeEvent[]; partial?: string | null }> =>
    call("GET", `/api/v1/applications/${seg(namespace)}/${seg(name)}/events`, undefined, signal),
  /** The live object `ref` of the app's tree (Secret values masked by the server). */
  resource: (
    namespace: string,
    name: string,
    ref: { group: string; version: string; kind: string; namespace: string; name: string },
    signal?: AbortSignal,
  ): Promise<{ live: unknown }> =>
    call(
      "GET",
      `/api/v1/applications/${seg(namespace)}/${seg(name)}/resource?${new URLSearchParams(ref)}`,
      undefined,
      signal,
    ),
  /** Every resource's diff, or only `ref`'s (404 when the app has no such resource). */
  diff: (
    namespace: string,
    name: string,
    ref: { group: string; kind: string; namespace: string; name: string } | null,
    signal?: AbortSignal,
  ): Promise<AppDiff> =>
    call(
      "GET",
      `/api/v1/applications/${seg(namespace)}/${seg(name)}/diff` +
        (ref === null ? "" : `?${new URLSearchParams(ref)}`),
      undefined,
      signal,
    ),
  /** The manifests at `revision` ("" for the app's target revision). */
  manifests: (
    namespace: string,
    name: string,
    revision: string,
    signal?: AbortSignal,
  ): Promise<RenderedManifests> =>
    call(
      "GET",
      `/api/v1/applications/${seg(namespace)}/${seg(name)}/manifests` +
        (revision === "" ? "" : `?${new URLSearchParams({ revision })}`),
      undefined,
      signal,
    ),
  projects: (signal?: AbortSignal): Promise<{ items: Project[] }> =>
    call("GET", "/api/v1/projects", undefined, signal),
  repositories: (signal?: AbortSignal): Promise<{ items: Repository[] }> =>
    call("GET", "/api/v1/repositories", undefined, signal),
  clusters: (signal?: AbortSignal): Promise<{ items: Cluster[] }> =>
    call("GET", "/api/v1/clusters", undefined, signal),
  sync: (namespace: string, name: string, options: SyncOptions): Promise<unknown> =>
    call("POST", `/api/v1/applications/${seg(namespace)}/${seg(name)}/sync`, options),
  /** `hard`: the controller also reads the repository now and renders again (its caches bypassed). */
  refresh: (namespace: string, name: string, hard = false): Promise<unknown> =>
    call(
      "POST",
      `/api/v1/applications/${seg(namespace)}/${seg(name)}/refresh${hard ? "?hard=true" : ""}`,
    ),
  /** Stop the running operation at its next safe point (409 when none runs). */
  terminate: (namespace: string, name: string): Promise<{ terminate: string }> =>
    call("POST", `/api/v1/applications/${seg(namespace)}/${seg(name)}/terminate`),
  deleteApp: (namespace: string, name: string, cascade: boolean): Promise<unknown> =>
    call(
      "DELETE",
      `/api/v1/applications/${seg(namespace)}/${seg(name)}?cascade=${cascade ? "true" : "false"}`,
    ),
  rollback: (
    namespace: string,
    name: string,
    id: number,
  ): Promise<{ revision: string; automationDisabled: boolean }> =>
    call("POST", `/api/v1/applications/${seg(namespace)}/${seg(name)}/rollback`, { id }),
  /** Create an application from a manifest body (`dryRun`: only check it, store nothing). */
  createApp: (body: unknown, dryRun: boolean): Promise<Application> =>
    call("POST", `/api/v1/applications${dryRun ? "?dryRun=true" : ""}`, body),
  /** Replace an application's spec, guarded by the resourceVersion (and generation) read. */
  replaceApp: (
    namespace: string,
    name: string,
    body: unknown,
    dryRun: boolean,
  ): Promise<Application> =>
    call(
      "PUT",
      `/api/v1/applications/${seg(namespace)}/${seg(name)}${dryRun ? "?dryRun=true" : ""}`,
      body,
    ),
};

/** One resource's live vs desired diff (GET .../diff); Secret values masked by the server. */
export interface ResourceDiff {
  group: string;
  kind: string;
  namespace: string;
  name: string;
  /** "changed", "added" (not live yet), "removed" (pruning would delete it), "unchanged",
   * "unreadable" (the server may not read the live object). */
  status: string;
  /** A unified diff, "" when unchanged. */
  diff: string;
  /** "dry-run", or "client-side" where the server may not dry-run (its least-privilege RBAC). */
  predicted: string;
  /** Why, for an "unreadable" resource (one the server may not read). */
  message?: string;
}

export interface AppDiff {
  /** The revision planned (a commit, or chart@version). */
  revision: string;
  resources: ResourceDiff[];
}

/** The app's source rendered at a revision (GET .../manifests); Secrets masked. */
export interface RenderedManifests {
  revision: string;
  manifests: Record<string, unknown>[];
}

/** The URL of one app's live stream: its tree and Events, pushed when they change. */
export function appStreamURL(namespace: string, name: string): string {
  return `/api/v1/applications/${seg(namespace)}/${seg(name)}/stream`;
}

/** The URL of the live stream of app changes, filtered like the list. */
export function streamURL(query: string): string {
  return query === "" ? "/api/v1/stream" : `/api/v1/stream?${query}`;
}
