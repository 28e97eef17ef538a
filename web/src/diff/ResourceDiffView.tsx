// The node panel's Diff view: one managed object, live vs git.

import { ErrorMessage, shortRevision } from "../components";
import { resourceLabel, type ResourceRef } from "../tree/resourceRef";
import { predictionNote } from "./diffView";
import { UnifiedDiff } from "./UnifiedDiff";
import { useDiff } from "./useDiff";

interface Props {
  namespace: string;
  app: string;
  selected: ResourceRef;
  /** Changes when the app or its tree reloads: planned again. */
  version: string;
}

export function ResourceDiffView({ namespace, app, selected, version }: Props) {
  const diff = useDiff(namespace, app, selected, version);
  const label = resourceLabel(selected);
  if (diff === null) return <p className="muted" aria-busy="true">Planning…</p>;
  if ("error" in diff) return <ErrorMessage error={diff.error} title="Cannot show the diff" />;
  const [resource] = diff.value.resources;
  if (resource === undefined) return <p className="muted">No diff for {label}.</p>;
  return (
    <>
      <p>
        <span className={`diff-status diff-status-${resource.status}`}>{resource.status}</span>{" "}
        <span className="muted">
          against revision{" "}
          <span className="mono" title={diff.value.revision}>{shortRevision(diff.value.revision)}</span>
        </span>
      </p>
      {predictionNote([resource]) !== null && <p className="field-note" role="note">{predictionNote([resource])}</p>}
      {resource.message !== undefined && <p className="muted">{resource.message}</p>}
      {resource.status !== "unchanged" && resource.diff !== "" && (
        <UnifiedDiff text={resource.diff} label={`Diff of ${label}`} />
      )}
    </>
  );
}
