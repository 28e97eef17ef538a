// The app page's Diff view: what a sync would change, resource by resource
// (live vs git, as `driftless app diff` shows it; Secret values masked by the
// server), the differing ones first-class and the unchanged ones on request
// (`?unchanged=1`). Planned again whenever the app changes.

import type { ResourceDiff } from "../api";
import { ErrorMessage, shortRevision } from "../components";
import { Link, navigate, useLocation } from "../router";
import { appURL, resourceLabel } from "../tree/resourceRef";
import { predictionNote, showsUnchanged, statusSummary, visibleResources, withParams } from "./diffView";
import { UnifiedDiff } from "./UnifiedDiff";
import { useDiff } from "./useDiff";

interface Props {
  namespace: string;
  name: string;
  /** The app's resourceVersion: a new one plans again. */
  version: string;
}

export function DiffCard({ namespace, name, version }: Props) {
  const location = useLocation();
  const unchanged = showsUnchanged(location.search);
  const diff = useDiff(namespace, name, null, version);

  function toggle(on: boolean): void {
    const query = withParams(location.search, { unchanged: on ? "1" : null });
    navigate(`${location.pathname}${query}`, { replace: true });
  }

  return (
    <section aria-labelledby="diff-title" className="card">
      <div className="card-head">
        <h2 id="diff-title">Diff</h2>
        <label className="inline-check">
          <input type="checkbox" checked={unchanged} onChange={(e) => toggle(e.target.checked)} />
          {" "}Show unchanged
        </label>
      </div>
      {diff === null && <p className="muted" aria-busy="true">Planning… (rendering and comparing every resource)</p>}
      {diff !== null && "error" in diff && <ErrorMessage error={diff.error} title="Cannot show the diff" />}
      {diff !== null && "value" in diff && (
        <DiffList namespace={namespace} name={name} revision={diff.value.revision}
          resources={diff.value.resources} unchanged={unchanged} />
      )}
    </section>
  );
}

interface ListProps {
  namespace: string;
  name: string;
  revision: string;
  resources: ResourceDiff[];
  unchanged: boolean;
}

function DiffList({ namespace, name, revision, resources, unchanged }: ListProps) {
  const shown = visibleResources(resources, unchanged);
  const differing = resources.some((r) => r.status !== "unchanged");
  const note = predictionNote(resources);
  return (
    <>
      <p className="muted">
        Live objects against revision{" "}
        <span className="mono" title={revision}>{shortRevision(revision)}</span>
        {resources.length > 0 ? `: ${statusSummary(resources)}.` : "."}
      </p>
      {note !== null && <p className="field-note" role="note">{note}</p>}
      {!differing && <p role="status">No differences: the cluster matches git.</p>}
      {shown.map((r) => {
        const label = resourceLabel(r);
        return (
          <article key={`${r.group}/${r.kind}/${r.namespace}/${r.name}`} className="diff-item"
            aria-label={`${label}: ${r.status}`}>
            <h3>
              <Link to={appURL(namespace, name, r)}>{r.group ? `${r.kind}.${r.group}` : r.kind}{" "}
                {r.namespace ? `${r.namespace}/` : ""}{r.name}</Link>{" "}
              <span className={`diff-status diff-status-${r.status}`}>{r.status}</span>
            </h3>
            {r.message !== undefined && <p className="muted">{r.message}</p>}
            {r.status !== "unchanged" && r.diff !== "" && <UnifiedDiff text={r.diff} label={`Diff of ${label}`} />}
          </article>
        );
      })}
    </>
  );
}
