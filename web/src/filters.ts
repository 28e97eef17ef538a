// Pure: the app list's filters, as kept in the page URL (deep links) and as
// sent to GET /api/v1/applications and /api/v1/stream.
//
// The URL and the API use the same parameter names, so a link to a filtered
// list is also the query of that list. Anything a URL may hold is read
// defensively: unknown values of a closed set are dropped, free text is
// length-capped, and nothing from the URL is ever interpreted as markup.

export const SYNC_STATUSES = ["Synced", "OutOfSync", "Unknown"] as const;
export const HEALTH_STATUSES = [
  "Healthy",
  "Progressing",
  "Degraded",
  "Suspended",
  "Missing",
  "Unknown",
] as const;
export const SORTS = [
  { value: "name", label: "Name (A to Z)" },
  { value: "-name", label: "Name (Z to A)" },
  { value: "namespace", label: "Namespace" },
  { value: "project", label: "Project" },
  { value: "sync", label: "Sync status (out of sync first)" },
  { value: "health", label: "Health (worst first)" },
  { value: "-reconciledAt", label: "Recently reconciled" },
] as const;
export type View = "table" | "tiles";

export interface Filters {
  project: string[];
  sync: string[];
  health: string[];
  namespace: string[];
  /** Repository URLs (any of; the server compares them normalized). */
  repo: string[];
  /** Destination server URLs or cluster names (any of). */
  destination: string[];
  /** A label selector, `k=v,k!=v,k,!k` (all of); "" for none. */
  selector: string;
  search: string;
  sort: string;
  view: View;
}

export const DEFAULT_SORT = "name";
const MAX_TEXT = 253; // a Kubernetes name's length limit; longer text can match nothing
const MAX_LONG = 1024; // URLs and selectors: the list API's own limit on one value
const MAX_VALUES = 50;

export const EMPTY: Filters = {
  project: [],
  sync: [],
  health: [],
  namespace: [],
  repo: [],
  destination: [],
  selector: "",
  search: "",
  sort: DEFAULT_SORT,
  view: "table",
};

function texts(params: URLSearchParams, key: string, max = MAX_TEXT): string[] {
  const seen = new Set<string>();
  for (const raw of params.getAll(key)) {
    for (const part of raw.split(",")) {
      const value = part.trim().slice(0, max);
      if (value !== "" && seen.size < MAX_VALUES) seen.add(value);
    }
  }
  return [...seen];
}

function among(values: string[], allowed: readonly string[]): string[] {
  return values.filter((v) => allowed.includes(v));
}

/** Filters from a location's query string (`?sync=OutOfSync&view=tiles`). */
export function parseFilters(search: string): Filters {
  const params = new URLSearchParams(search);
  const sort = params.get("sort") ?? DEFAULT_SORT;
  return {
    project: texts(params, "project"),
    sync: among(texts(params, "sync"), SYNC_STATUSES),
    health: among(texts(params, "health"), HEALTH_STATUSES),
    namespace: texts(params, "namespace"),
    repo: texts(params, "repo", MAX_LONG),
    destination: texts(params, "destination", MAX_LONG),
    // Several selectors all hold, as one joined by commas does.
    selector: params.getAll("selector").map((s) => s.trim()).filter((s) => s !== "")
      .join(",").slice(0, MAX_LONG),
    search: (params.get("search") ?? "").trim().slice(0, MAX_TEXT),
    sort: SORTS.some((s) => s.value === sort) ? sort : DEFAULT_SORT,
    view: params.get("view") === "tiles" ? "tiles" : "table",
  };
}

function apiParams(filters: Filters): URLSearchParams {
  const params = new URLSearchParams();
  for (const key of ["project", "sync", "health", "namespace", "repo", "destination"] as const) {
    for (const value of filters[key]) params.append(key, value);
  }
  if (filters.selector !== "") params.set("selector", filters.selector);
  if (filters.search !== "") params.set("search", filters.search);
  if (filters.sort !== DEFAULT_SORT) params.set("sort", filters.sort);
  return params;
}

/** The list API's query for these filters, without paging (also the stream's query). */
export function apiQuery(filters: Filters): string {
  return apiParams(filters).toString();
}

/** The list API's query for one page. */
export function pageQuery(filters: Filters, offset: number, limit: number): string {
  const params = apiParams(filters);
  params.set("offset", String(offset));
  params.set("limit", String(limit));
  return params.toString();
}

/** The page URL's query string for these filters ("" when they are the defaults). */
export function urlQuery(filters: Filters): string {
  const params = apiParams(filters);
  if (filters.view !== "table") params.set("view", filters.view);
  const text = params.toString();
  return text === "" ? "" : `?${text}`;
}

export function isFiltered(filters: Filters): boolean {
  return (
    filters.project.length + filters.sync.length + filters.health.length +
      filters.namespace.length + filters.repo.length + filters.destination.length > 0 ||
    filters.selector !== "" || filters.search !== ""
  );
}

/** `values` with `value` added or removed. */
export function toggled(values: string[], value: string): string[] {
  return values.includes(value) ? values.filter((v) => v !== value) : [...values, value];
}
