// The manifests the app's source renders at a revision (`?revision=`; empty:
// the app's target), as YAML: every one, or only the object `only` names (the
// node panel's view). Secret values come masked from the server.

import { useEffect, useState, type FormEvent } from "react";
import type { RenderedManifests } from "../api";
import { ErrorMessage, shortRevision } from "../components";
import { navigate, useLocation } from "../router";
import { readableOrder } from "../tree/manifest";
import { resourceKey, resourceLabel, type ResourceRef } from "../tree/resourceRef";
import { MAX_REVISION, isObject, revisionOf, withParams } from "./diffView";
import { useManifests } from "./useDiff";

interface Props {
  namespace: string;
  name: string;
  /** The app's resourceVersion: a new one renders again. */
  version: string;
  /** Only this object's manifest (the node panel), or every one. */
  only: ResourceRef | null;
}

export function ManifestsView({ namespace, name, version, only }: Props) {
  const location = useLocation();
  const revision = revisionOf(location.search);
  const [typed, setTyped] = useState(revision);
  const rendered = useManifests(namespace, name, revision, version);
  const field = only === null ? "manifests-revision" : "panel-manifests-revision";

  useEffect(() => setTyped(revision), [revision]);

  function submit(event: FormEvent<HTMLFormElement>): void {
    event.preventDefault();
    const query = withParams(location.search, { revision: typed.trim() || null });
    navigate(`${location.pathname}${query}`, { replace: true });
  }

  return (
    <div className="manifests-view">
      <form className="revision-form" onSubmit={submit}>
        <label htmlFor={field}>Revision</label>
        <input id={field} value={typed} maxLength={MAX_REVISION} placeholder="the app's target"
          onChange={(e) => setTyped(e.target.value)} spellCheck={false} autoComplete="off" />
        <button type="submit">Show manifests</button>
      </form>
      {rendered === null && <p className="muted" aria-busy="true">Rendering…</p>}
      {rendered !== null && "error" in rendered && (
        <ErrorMessage error={rendered.error} title="Cannot render the manifests" />
      )}
      {rendered !== null && "value" in rendered && <Rendered rendered={rendered.value} only={only} />}
    </div>
  );
}

function Rendered({ rendered, only }: { rendered: RenderedManifests; only: ResourceRef | null }) {
  const [yaml, setYaml] = useState<string[] | null>(null);
  const chosen = only === null ? rendered.manifests : rendered.manifests.filter((m) => isObject(m, only));
  const onlyKey = only === null ? "" : resourceKey(only);

  useEffect(() => {
    let current = true;
    setYaml(null);
    void import("yaml").then(({ stringify }) => {
      if (current) setYaml(chosen.map((m) => stringify(readableOrder(m), { lineWidth: 0 })));
    });
    return () => { current = false; };
    // `chosen` is derived from these two (`only` by its coordinates: a new object each render).
  }, [rendered, onlyKey]);

  const at = <span className="mono" title={rendered.revision}>{shortRevision(rendered.revision)}</span>;
  if (chosen.length === 0) {
    return (
      <p role="status">
        {only === null ? "No manifests" : `${resourceLabel(only)} is not in the manifests`} at
        revision {at}.
      </p>
    );
  }
  return (
    <>
      <p className="muted">
        {chosen.length === 1 ? "1 manifest" : `${chosen.length} manifests`} at revision {at}.
      </p>
      {yaml === null && <p className="muted" aria-busy="true">Loading…</p>}
      {yaml !== null && (
        <pre className="manifest" tabIndex={0}
          aria-label={only === null ? "Rendered manifests" : `Rendered manifest of ${resourceLabel(only)}`}>
          {yaml.join("---\n")}
        </pre>
      )}
    </>
  );
}
