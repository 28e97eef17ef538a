// The application list: filters kept in the URL, status counts, a table or
// tiles, live updates.

import { useEffect, useRef, useState } from "react";
import { api } from "../api";
import { ErrorMessage, messageOf } from "../components";
import {
  EMPTY,
  HEALTH_STATUSES,
  SORTS,
  SYNC_STATUSES,
  isFiltered,
  parseFilters,
  toggled,
  urlQuery,
  type Filters,
} from "../filters";
import { AppTable } from "../list/AppTable";
import { AppTiles } from "../list/AppTiles";
import { useAppList, type LiveState } from "../list/useAppList";
import { markListInteractive } from "../perf";
import { Link, navigate, useLocation } from "../router";
import { useSession } from "../session";

const TYPING_DELAY_MS = 300;

export function AppListPage() {
  const location = useLocation();
  const filters = parseFilters(location.search);
  const { expired } = useSession();
  const { store, live } = useAppList(filters, expired);

  const setFilters = (next: Filters, replace = false): void =>
    navigate(`/applications${urlQuery(next)}`, { replace });

  useEffect(() => {
    if (store.total !== null && store.row(0) !== undefined || store.total === 0) {
      markListInteractive();
    }
  });

  useEffect(() => {
    document.title = "Applications · driftless";
  }, []);

  const total = store.total;
  return (
    <main className="page list-page">
      <div className="list-head">
        <h1>Applications</h1>
        <p className="total" aria-live="polite">
          {total === null ? "Loading…" : `${total} ${total === 1 ? "application" : "applications"}`}
          {isFiltered(filters) && total !== null && (total === 1 ? " matches the filters" : " match the filters")}
        </p>
        <LiveIndicator live={live} />
        <button type="button" onClick={() => store.refresh()}>Refresh</button>
        <Link to="/applications/new" className="button-link">New app</Link>
        <ViewToggle filters={filters} setFilters={setFilters} />
      </div>
      <FilterBar filters={filters} setFilters={setFilters} counts={store.counts} />
      {store.error !== null && <ErrorMessage error={store.error} title="Cannot load applications" />}
      {total === 0 && (
        <p className="empty">
          {isFiltered(filters)
            ? "No application matches these filters."
            : "There are no applications yet. Create one with New app or driftless app create."}
        </p>
      )}
      {total !== null && total > 0 && (filters.view === "tiles"
        ? <AppTiles store={store} />
        : <AppTable store={store} />)}
    </main>
  );
}

function LiveIndicator({ live }: { live: LiveState }) {
  const text = {
    live: "Live",
    connecting: "Connecting to live updates…",
    off: "Live updates unavailable; use Refresh",
  }[live];
  return (
    <span className={`live live-${live}`} role="status">
      {text}
    </span>
  );
}

interface FilterProps {
  filters: Filters;
  setFilters: (next: Filters, replace?: boolean) => void;
}

function ViewToggle({ filters, setFilters }: FilterProps) {
  return (
    <div className="toggle" role="group" aria-label="Show as">
      {(["table", "tiles"] as const).map((view) => (
        <button
          key={view}
          type="button"
          aria-pressed={filters.view === view}
          onClick={() => setFilters({ ...filters, view })}
        >
          {view === "table" ? "Table" : "Tiles"}
        </button>
      ))}
    </div>
  );
}

/** A text box whose value reaches the URL once the user pauses typing. */
function useTyped(value: string, commit: (text: string) => void): [string, (t: string) => void] {
  const [text, setText] = useState(value);
  const commitRef = useRef(commit);
  commitRef.current = commit;
  useEffect(() => setText(value), [value]);
  useEffect(() => {
    if (text.trim() === value) return undefined;
    const timer = window.setTimeout(() => commitRef.current(text.trim()), TYPING_DELAY_MS);
    return () => window.clearTimeout(timer);
  }, [text, value]);
  return [text, setText];
}

/** Comma-separated text as values ("" : none). */
function listOf(text: string): string[] {
  return text.split(",").map((s) => s.trim()).filter((s) => s !== "");
}

function FilterBar({
  filters,
  setFilters,
  counts,
}: FilterProps & { counts: { sync: Record<string, number>; health: Record<string, number> } | null }) {
  const [search, setSearch] = useTyped(filters.search, (text) =>
    setFilters({ ...filters, search: text }, true));
  const [namespace, setNamespace] = useTyped(filters.namespace.join(","), (text) =>
    setFilters({ ...filters, namespace: listOf(text) }, true));
  const [repo, setRepo] = useTyped(filters.repo.join(","), (text) =>
    setFilters({ ...filters, repo: listOf(text) }, true));
  const [destination, setDestination] = useTyped(filters.destination.join(","), (text) =>
    setFilters({ ...filters, destination: listOf(text) }, true));
  const [selector, setSelector] = useTyped(filters.selector, (text) =>
    setFilters({ ...filters, selector: text }, true));
  const projects = useProjects();

  return (
    <form className="filters" role="search" aria-label="Filter applications"
      onSubmit={(e) => e.preventDefault()}>
      <div className="field">
        <label htmlFor="filter-search">Search by name</label>
        <input id="filter-search" type="search" value={search} placeholder="name contains…"
          onChange={(e) => setSearch(e.target.value)} />
      </div>
      <div className="field">
        <label htmlFor="filter-project">Project</label>
        <select
          id="filter-project"
          value={filters.project.length === 1 ? filters.project[0] : filters.project.length > 1 ? "\u0000several" : ""}
          onChange={(e) => setFilters({ ...filters, project: e.target.value === "" ? [] : [e.target.value] })}
        >
          <option value="">All projects</option>
          {filters.project.length > 1 && (
            <option value={"\u0000several"} disabled>{filters.project.join(", ")}</option>
          )}
          {[...new Set([...projects.names, ...filters.project])].sort().map((name) => (
            <option key={name} value={name}>{name}</option>
          ))}
        </select>
        {projects.error !== null && (
          <span className="field-note">Project names unavailable: {messageOf(projects.error)}</span>
        )}
      </div>
      <div className="field">
        <label htmlFor="filter-namespace">App namespace</label>
        <input id="filter-namespace" value={namespace} placeholder="any"
          onChange={(e) => setNamespace(e.target.value)} />
      </div>
      <div className="field">
        <label htmlFor="filter-repo">Repository</label>
        <input id="filter-repo" value={repo} placeholder="any URL"
          onChange={(e) => setRepo(e.target.value)} />
      </div>
      <div className="field">
        <label htmlFor="filter-destination">Destination cluster</label>
        <input id="filter-destination" value={destination} placeholder="any name or server"
          onChange={(e) => setDestination(e.target.value)} />
      </div>
      <div className="field">
        <label htmlFor="filter-selector">Labels</label>
        <input id="filter-selector" value={selector} placeholder="team=a,tier!=db"
          onChange={(e) => setSelector(e.target.value)} />
      </div>
      <div className="field">
        <label htmlFor="filter-sort">Sort by</label>
        <select id="filter-sort" value={filters.sort}
          onChange={(e) => setFilters({ ...filters, sort: e.target.value })}>
          {SORTS.map((s) => <option key={s.value} value={s.value}>{s.label}</option>)}
        </select>
      </div>
      <StatusChoices legend="Sync status" name="sync" values={SYNC_STATUSES} chosen={filters.sync}
        counts={counts?.sync}
        onToggle={(v) => setFilters({ ...filters, sync: toggled(filters.sync, v) })} />
      <StatusChoices legend="Health" name="health" values={HEALTH_STATUSES} chosen={filters.health}
        counts={counts?.health}
        onToggle={(v) => setFilters({ ...filters, health: toggled(filters.health, v) })} />
      {isFiltered(filters) && (
        <button type="button" className="link-button"
          onClick={() => setFilters({ ...EMPTY, sort: filters.sort, view: filters.view })}>
          Clear filters
        </button>
      )}
    </form>
  );
}

function StatusChoices(props: {
  legend: string;
  name: string;
  values: readonly string[];
  chosen: string[];
  counts: Record<string, number> | undefined;
  onToggle: (value: string) => void;
}) {
  return (
    <fieldset className="choices">
      <legend>{props.legend}</legend>
      {props.values.map((value) => {
        const id = `filter-${props.name}-${value}`;
        return (
          <span key={value} className={`choice ${props.name}-${value}`}>
            <input id={id} type="checkbox" checked={props.chosen.includes(value)}
              onChange={() => props.onToggle(value)} />
            <label htmlFor={id}>
              {value} <span className="count">{props.counts?.[value] ?? 0}</span>
            </label>
          </span>
        );
      })}
    </fieldset>
  );
}

function useProjects(): { names: string[]; error: unknown } {
  const [state, setState] = useState<{ names: string[]; error: unknown }>({ names: [], error: null });
  useEffect(() => {
    const abort = new AbortController();
    api.projects(abort.signal).then(
      (list) => setState({ names: list.items.map((p) => p.metadata.name), error: null }),
      (error: unknown) => {
        if (!abort.signal.aborted) setState({ names: [], error });
      },
    );
    return () => abort.abort();
  }, []);
  return state;
}
