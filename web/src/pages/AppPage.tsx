// One application: summary, operation progress, conditions, its resources
// (tree, list, events) and sync history, kept current by the app's own stream
// (one per page: useAppTree), polled while that stream is down.

import { useCallback, useEffect, useRef, useState } from "react";
import {
  ApiError,
  api,
  type Application,
  type HistoryEntry,
  type OperationState,
} from "../api";
import {
  ErrorMessage,
  Field,
  HealthBadge,
  SyncBadge,
  Time,
  shortRevision,
} from "../components";
import { Link } from "../router";
import {
  DeleteButton,
  RefreshButton,
  RollbackButton,
  SyncButton,
  TerminateButton,
} from "./AppActions";
import { useSession } from "../session";
import { AppViewTabs, useAppView } from "../diff/AppViewTabs";
import { DiffCard } from "../diff/DiffCard";
import { ManifestsView } from "../diff/ManifestsView";
import { ResourcesCard } from "../tree/ResourcesCard";
import { useAppTree, type AppTree } from "../tree/useAppTree";

interface Loaded {
  app: Application;
  history: HistoryEntry[];
  historyError: unknown;
}

/** The app's history as GET .../history answers it (`status.history`, entries only). */
function historyOf(app: Application): HistoryEntry[] {
  const history: unknown = app.status?.history;
  return Array.isArray(history)
    ? history.filter((h): h is HistoryEntry => typeof h === "object" && h !== null)
    : [];
}

export function AppPage({ namespace, name }: { namespace: string; name: string }) {
  const { expired } = useSession();
  const [loaded, setLoaded] = useState<Loaded | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [notice, setNotice] = useState<string>("");
  const abortRef = useRef<AbortController | null>(null);
  const view = useAppView();
  const tree = useAppTree(namespace, name);

  const load = useCallback(async () => {
    abortRef.current?.abort();
    const abort = new AbortController();
    abortRef.current = abort;
    try {
      const [app, history] = await Promise.all([
        api.application(namespace, name, abort.signal),
        api.history(namespace, name, abort.signal).then(
          (h) => ({ items: h.items, error: null as unknown }),
          (e: unknown) => ({ items: [] as HistoryEntry[], error: e }),
        ),
      ]);
      if (abort.signal.aborted) return;
      setLoaded({ app, history: history.items, historyError: history.error });
      setError(null);
    } catch (err) {
      if (abort.signal.aborted) return;
      if (err instanceof ApiError && err.unauthorized) expired();
      setError(err);
    }
  }, [namespace, name, expired]);

  useEffect(() => {
    setLoaded(null);
    setError(null);
    setNotice("");
    void load();
    document.title = `${name} · driftless`;
    return () => abortRef.current?.abort();
  }, [load, name]);

  // Live: the app as its stream sends it (or the poll loads it while the stream is down).
  const liveApp = tree.app;
  useEffect(() => {
    if (liveApp === null) return;
    abortRef.current?.abort(); // an older answer in flight must not overwrite it
    setLoaded({ app: liveApp, history: historyOf(liveApp), historyError: null });
    setError(null);
  }, [liveApp]);
  const liveError = tree.appError;
  useEffect(() => {
    if (liveError !== null) setError(liveError);
  }, [liveError]);

  return (
    <main className="page app-page">
      <nav aria-label="Breadcrumb" className="crumbs">
        <Link to="/applications">Applications</Link> / <span>{namespace}</span> /{" "}
        <span aria-current="page">{name}</span>
      </nav>
      <div className="title-bar">
        <h1>{name}</h1>
        {loaded !== null && (
          <div className="actions" role="group" aria-label="Actions">
            <SyncButton
              namespace={namespace}
              name={name}
              targetRevision={loaded.app.spec.source?.targetRevision || "HEAD"}
              onRequested={setNotice}
            />
            <RefreshButton namespace={namespace} name={name} onRequested={setNotice} />
            <Link to={`/applications/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}/edit`}
              className="button-link">Edit</Link>
            <DeleteButton namespace={namespace} name={name} />
          </div>
        )}
      </div>
      <p role="status" className="notice">{notice}</p>
      {tree.paused && (
        <p className="muted paused" aria-live="polite">Live updates paused, retrying…</p>
      )}
      {error !== null && (
        <ErrorMessage
          error={error}
          title={loaded === null ? `Cannot show ${namespace}/${name}` : "Cannot refresh"}
        />
      )}
      {loaded === null && error === null && <p className="muted" aria-busy="true">Loading…</p>}
      {loaded !== null && <AppViewTabs />}
      {loaded !== null && (
        <div id="app-view" role="tabpanel" aria-labelledby={`view-${view}`}>
          {view === "overview" && <AppDetails {...loaded} tree={tree} onRequested={setNotice} />}
          {view === "diff" && (
            <DiffCard namespace={namespace} name={name}
              version={loaded.app.metadata.resourceVersion ?? ""} />
          )}
          {view === "manifests" && (
            <section aria-labelledby="manifests-title" className="card">
              <h2 id="manifests-title">Manifests</h2>
              <ManifestsView namespace={namespace} name={name}
                version={loaded.app.metadata.resourceVersion ?? ""} only={null} />
            </section>
          )}
        </div>
      )}
    </main>
  );
}

function AppDetails({
  app,
  history,
  historyError,
  tree,
  onRequested,
}: Loaded & { tree: AppTree; onRequested: (what: string) => void }) {
  const { namespace, name } = app.metadata;
  const { spec, status = {} } = app;
  const source = spec.source ?? {};
  const destination = spec.destination ?? {};
  const operation = status.operationState;
  const automated = spec.syncPolicy?.automated;
  return (
    <>
      <section aria-labelledby="summary-title" className="card">
        <h2 id="summary-title">Summary</h2>
        <p className="badges">
          <SyncBadge status={status.sync?.status} />{" "}
          <HealthBadge status={status.health?.status} />
          {status.health?.message && <span className="muted"> {status.health.message}</span>}
        </p>
        <dl className="fields">
          <Field label="Project">{spec.project || "default"}</Field>
          <Field label="Repository">{source.repoURL || "—"}</Field>
          <Field label={source.chart ? "Chart" : "Path"}>{source.chart || source.path || "."}</Field>
          <Field label="Target revision">{source.targetRevision || "HEAD"}</Field>
          {(source.helm || source.chart) && (
            <Field label="Helm lookup">
              {source.helm?.lookup === true
                ? "on: templates read live objects (read-only, never Secrets; the project must allow it)"
                : "off: lookup returns empty maps"}
            </Field>
          )}
          <Field label="Compared revision">
            <span className="mono" title={status.sync?.revision ?? ""}>
              {shortRevision(status.sync?.revision) || "—"}
            </span>
          </Field>
          <Field label="Destination">
            {(destination.name || destination.server || "in-cluster") +
              (destination.namespace ? ` / ${destination.namespace}` : "")}
          </Field>
          <Field label="Sync policy">
            {automated
              ? `automated${automated.prune ? ", prune" : ""}${automated.selfHeal ? ", self-heal" : ""}`
              : "manual"}
          </Field>
          <Field label="Last synced">
            <Time value={status.lastSyncedAt || history[history.length - 1]?.deployedAt} />
          </Field>
          {operation && (
            <Field label="Operation">
              {operation.phase ?? "Running"}
              {operation.revision ? ` (${shortRevision(operation.revision)})` : ""}
              {operation.message ? `: ${operation.message}` : ""}
              {operation.phase === "Running" && (
                <>
                  {" "}
                  <TerminateButton namespace={namespace} name={name} onRequested={onRequested} />
                </>
              )}
            </Field>
          )}
        </dl>
      </section>

      {operation && <OperationCard operation={operation} />}

      <section aria-labelledby="conditions-title" className="card">
        <h2 id="conditions-title">Conditions</h2>
        {(status.conditions ?? []).length === 0
          ? <p className="muted">No conditions reported yet.</p>
          : (
            <table className="plain">
              <thead>
                <tr><th scope="col">Type</th><th scope="col">Status</th><th scope="col">Reason</th>
                  <th scope="col">Message</th><th scope="col">Since</th></tr>
              </thead>
              <tbody>
                {(status.conditions ?? []).map((c) => (
                  <tr key={c.type}>
                    <td>{c.type}</td>
                    <td className={`cond-${c.status}`}>{c.status}</td>
                    <td>{c.reason}</td>
                    <td className="message">{c.message}</td>
                    <td><Time value={c.lastTransitionTime} /></td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
      </section>

      <ResourcesCard namespace={namespace} name={name} resources={status.resources ?? []} {...tree} />

      <section aria-labelledby="history-title" className="card">
        <h2 id="history-title">History</h2>
        {historyError !== null && <ErrorMessage error={historyError} title="Cannot load the history" />}
        {historyError === null && history.length === 0 && <p className="muted">Never synced yet.</p>}
        {history.length > 0 && (
          <table className="plain">
            <thead>
              <tr><th scope="col">ID</th><th scope="col">Revision</th><th scope="col">Result</th>
                <th scope="col">Deployed</th><th scope="col">Initiated by</th>
                <th scope="col"><span className="visually-hidden">Actions</span></th></tr>
            </thead>
            <tbody>
              {[...history].reverse().map((h, at) => (
                <tr key={h.id}>
                  <td>{h.id}</td>
                  <td className="mono" title={h.revision}>{shortRevision(h.revision)}</td>
                  <td>{h.result ?? "Succeeded"}</td>
                  <td><Time value={h.deployedAt} /></td>
                  <td>
                    {h.initiatedBy?.automated ? "automated" : h.initiatedBy?.username || "—"}
                  </td>
                  <td>
                    {at > 0 && (
                      <RollbackButton namespace={namespace} name={name} entry={h}
                        onRequested={onRequested} />
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </>
  );
}

/** The current or last operation: its step and what it did to each object. */
function OperationCard({ operation }: { operation: OperationState }) {
  const { step, resources = [] } = operation;
  const omitted = operation.resourcesOmitted ?? 0;
  const running = operation.phase === undefined || operation.phase === "Running";
  return (
    <section aria-labelledby="operation-title" className="card">
      <h2 id="operation-title">Operation</h2>
      <p>
        {operation.phase ?? "Running"}
        {step && running && (
          <>
            {` — step ${step.phase ?? "PreSync"}`}
            {step.wave !== undefined && step.wave !== null ? `, wave ${step.wave}` : ""}
            {step.waitingSince && (
              <>, waiting since <Time value={step.waitingSince} /></>
            )}
          </>
        )}
        {operation.message ? `: ${operation.message}` : ""}
      </p>
      {omitted > 0 && (
        <p className="muted">
          {`${omitted}${resources.length > 0 ? " more" : ""} objects synced without note`
            + " are not listed, to keep the status small; each is under Resources."}
        </p>
      )}
      {resources.length === 0 && omitted === 0 && <p className="muted">No object applied yet.</p>}
      {resources.length > 0 && (
          <table className="plain" aria-label="Operation resources">
            <thead>
              <tr><th scope="col">Kind</th><th scope="col">Name</th><th scope="col">Status</th>
                <th scope="col">Hook phase</th><th scope="col">Message</th></tr>
            </thead>
            <tbody>
              {resources.map((r) => (
                <tr key={`${r.group ?? ""}/${r.kind}/${r.namespace ?? ""}/${r.name}`}>
                  <td>{r.kind}</td>
                  <td className="mono">{r.namespace ? `${r.namespace}/${r.name}` : r.name}</td>
                  <td>{r.status ?? "—"}</td>
                  <td>{r.hookPhase ?? "—"}</td>
                  <td className="message">{r.message ?? ""}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
    </section>
  );
}
