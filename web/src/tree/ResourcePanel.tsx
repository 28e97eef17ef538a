// The panel of one node of the tree: its status, live manifest (as YAML) and
// the Events about it. The manifest is loaded when the node is opened and again
// whenever the tree reloads; the YAML printer is loaded on first use only.

import { useEffect, useRef, useState } from "react";
import { ApiError, api, type KubeEvent, type TreeNode } from "../api";
import { ErrorMessage, HealthBadge, SyncBadge, Time } from "../components";
import { ManifestsView } from "../diff/ManifestsView";
import { PanelTabs } from "../diff/PanelTabs";
import { ResourceDiffView } from "../diff/ResourceDiffView";
import { panelViewOf } from "../diff/diffView";
import { Link, navigate, useLocation } from "../router";
import { useSession } from "../session";
import { EventsTable } from "./EventsTable";
import { readableOrder } from "./manifest";
import { appURL, eventsOf, resourceLabel, type ResourceRef } from "./resourceRef";

interface Props {
  namespace: string;
  app: string;
  selected: ResourceRef;
  /** The selected node, or null when the tree has no such object. */
  node: TreeNode | null;
  events: KubeEvent[] | null;
  generation: number;
}

type Manifest = { yaml: string } | { error: unknown } | null;

async function toYAML(live: unknown): Promise<string> {
  const { stringify } = await import("yaml");
  return stringify(readableOrder(live), { lineWidth: 0 });
}

export function ResourcePanel({ namespace, app, selected, node, events, generation }: Props) {
  const { expired } = useSession();
  const [manifest, setManifest] = useState<Manifest>(null);
  const heading = useRef<HTMLHeadingElement>(null);
  const label = resourceLabel(selected);
  const missing = node !== null && node.uid.startsWith("missing:");
  const location = useLocation();
  // Only what the app manages has a diff and a rendered manifest.
  const view = node?.managed ? panelViewOf(location.search) : "live";

  useEffect(() => {
    heading.current?.focus();
    setManifest(null);
  }, [label]);

  useEffect(() => {
    if (node === null || missing) return undefined;
    const abort = new AbortController();
    const ref = {
      group: node.group,
      version: node.version,
      kind: node.kind,
      namespace: node.namespace,
      name: node.name,
    };
    api.resource(namespace, app, ref, abort.signal)
      .then((answer) => toYAML(answer.live))
      .then(
        (yaml) => { if (!abort.signal.aborted) setManifest({ yaml }); },
        (error: unknown) => {
          if (abort.signal.aborted) return;
          if (error instanceof ApiError && error.unauthorized) expired();
          setManifest({ error });
        },
      );
    return () => abort.abort();
    // The node's identity is its coordinates; a reload (generation) fetches the object again.
  }, [namespace, app, node?.group, node?.version, node?.kind, node?.namespace, node?.name, missing,
    generation, expired]);

  const close = appURL(namespace, app);
  const own = events === null ? null : eventsOf(events, selected);
  return (
    <section className="tree-panel" aria-labelledby="panel-title"
      onKeyDown={(e) => { if (e.key === "Escape") navigate(close); }}>
      <div className="panel-head">
        <h3 id="panel-title" ref={heading} tabIndex={-1}>{label}</h3>
        <Link to={close} className="close" aria-label="Close details">✕</Link>
      </div>
      {node === null
        ? <p role="alert" className="error-box">{label} is not part of this application's tree.</p>
        : (
          <>
            <p className="badges">
              {node.health?.status && <HealthBadge status={node.health.status} />}{" "}
              {node.sync !== null && <SyncBadge status={node.sync} />}{" "}
              {!node.managed && <span className="muted">owned by another object of the app</span>}
            </p>
            {node.health?.message && <p className="message">{node.health.message}</p>}
            {node.createdAt && <p className="muted">Created <Time value={node.createdAt} /></p>}
            {node.managed && <PanelTabs label={label} />}
            <div id="panel-view" role={node.managed ? "tabpanel" : undefined}
              aria-labelledby={node.managed ? `panel-${view}` : undefined}>
              {view === "live" && (
                <>
                  <h4>Live manifest</h4>
                  {missing && <p className="muted">Not in the cluster: the app manages it, but it does not exist.</p>}
                  {!missing && manifest === null && <p className="muted" aria-busy="true">Loading…</p>}
                  {manifest !== null && "error" in manifest && (
                    <ErrorMessage error={manifest.error} title="Cannot load the manifest" />
                  )}
                  {manifest !== null && "yaml" in manifest && (
                    <pre className="manifest" aria-label={`Manifest of ${label}`} tabIndex={0}>
                      {manifest.yaml}
                    </pre>
                  )}
                </>
              )}
              {view === "diff" && (
                <>
                  <h4>Live vs git</h4>
                  <ResourceDiffView namespace={namespace} app={app} selected={selected}
                    version={String(generation)} />
                </>
              )}
              {view === "manifests" && (
                <>
                  <h4>Rendered manifest</h4>
                  <ManifestsView namespace={namespace} name={app} version={String(generation)}
                    only={selected} />
                </>
              )}
            </div>
          </>
        )}
      <h4>Events</h4>
      {own === null && <p className="muted">Events are not loaded.</p>}
      {own !== null && own.length === 0 && <p className="muted">No events about this object.</p>}
      {own !== null && own.length > 0 && <EventsTable events={own} caption={`Events of ${label}`} />}
    </section>
  );
}
