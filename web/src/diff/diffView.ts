// Pure: what the diff and manifests views show and which URL keeps them.
//
// The app page's view is `?view=diff|manifests` (none: the overview); the
// node panel's is `?panel=diff|manifests` (none: the live manifest); the
// revision asked for is `?revision=`, and `?unchanged=1` shows unchanged
// resources too. A URL is read defensively: an unknown value is the default,
// a revision longer than MAX_REVISION is none.

export type AppView = "overview" | "diff" | "manifests";
export type PanelView = "live" | "diff" | "manifests";
export type LineKind = "header" | "hunk" | "add" | "remove" | "context";

export interface DiffLine {
  kind: LineKind;
  text: string;
}

/** The longest revision the UI sends, as the API takes (pipeline.requests.MAX_REVISION). */
export const MAX_REVISION = 1024;

const APP_VIEWS: readonly AppView[] = ["overview", "diff", "manifests"];
const PANEL_VIEWS: readonly PanelView[] = ["live", "diff", "manifests"];

export function appViewOf(search: string): AppView {
  const view = new URLSearchParams(search).get("view");
  return APP_VIEWS.find((v) => v === view) ?? "overview";
}

export function panelViewOf(search: string): PanelView {
  const view = new URLSearchParams(search).get("panel");
  return PANEL_VIEWS.find((v) => v === view) ?? "live";
}

/** The revision a URL asks for ("" for the app's target). */
export function revisionOf(search: string): string {
  const revision = (new URLSearchParams(search).get("revision") ?? "").trim();
  return revision.length > MAX_REVISION ? "" : revision;
}

export function showsUnchanged(search: string): boolean {
  return new URLSearchParams(search).get("unchanged") === "1";
}

/**
 * `search` with some parameters set (a string) or removed (null), as `?a=b` or
 * "" when nothing is left. Other parameters keep their order.
 */
export function withParams(search: string, changes: Record<string, string | null>): string {
  const params = new URLSearchParams(search);
  for (const [key, value] of Object.entries(changes)) {
    if (value === null || value === "") params.delete(key);
    else params.set(key, value);
  }
  const query = params.toString();
  return query === "" ? "" : `?${query}`;
}

/** Each line of a unified diff with what it is (the `---`/`+++` headers are not changes). */
export function diffLines(text: string): DiffLine[] {
  const lines = text.endsWith("\n") ? text.slice(0, -1).split("\n") : text.split("\n");
  if (text === "") return [];
  return lines.map((line) => {
    if (line.startsWith("+++") || line.startsWith("---")) return { kind: "header", text: line };
    if (line.startsWith("@@")) return { kind: "hunk", text: line };
    if (line.startsWith("+")) return { kind: "add", text: line };
    if (line.startsWith("-")) return { kind: "remove", text: line };
    return { kind: "context", text: line };
  });
}

/** The resources to list: those that differ, or every one when `unchanged` is on. */
export function visibleResources<T extends { status: string }>(
  resources: readonly T[],
  unchanged: boolean,
): T[] {
  return unchanged ? [...resources] : resources.filter((r) => r.status !== "unchanged");
}

/** How many resources have each status, in a fixed order: `2 changed, 1 added`. */
export function statusSummary(resources: readonly { status: string }[]): string {
  const order = ["changed", "added", "removed", "unchanged"];
  const counts = new Map<string, number>();
  for (const r of resources) counts.set(r.status, (counts.get(r.status) ?? 0) + 1);
  const known = order.filter((s) => counts.has(s));
  const others = [...counts.keys()].filter((s) => !order.includes(s)).sort();
  return [...known, ...others].map((s) => `${counts.get(s)} ${s}`).join(", ");
}

/** Is the rendered `manifest` the object `ref` names? (A render may leave the namespace out.) */
export function isObject(
  manifest: unknown,
  ref: { group: string; kind: string; namespace: string; name: string },
): boolean {
  if (typeof manifest !== "object" || manifest === null) return false;
  const m = manifest as { apiVersion?: unknown; kind?: unknown; metadata?: unknown };
  const meta = (typeof m.metadata === "object" && m.metadata !== null ? m.metadata : {}) as {
    name?: unknown;
    namespace?: unknown;
  };
  const apiVersion = typeof m.apiVersion === "string" ? m.apiVersion : "";
  const group = apiVersion.includes("/") ? apiVersion.slice(0, apiVersion.indexOf("/")) : "";
  const namespace = typeof meta.namespace === "string" ? meta.namespace : "";
  return group === ref.group && m.kind === ref.kind && meta.name === ref.name &&
    (namespace === "" || namespace === ref.namespace);
}

/** The note a diff computed without a server-side dry run carries (the API's `predicted`). */
export const CLIENT_SIDE_NOTE =
  "Computed without a server-side dry run; values the API server defaults may show as changes.";

/** The note to show over `resources`, or null when every diff came from a dry run. */
export function predictionNote(resources: readonly { predicted?: string }[]): string | null {
  return resources.some((r) => r.predicted === "client-side") ? CLIENT_SIDE_NOTE : null;
}
