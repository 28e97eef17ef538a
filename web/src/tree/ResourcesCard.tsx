// The app page's Resources card: the resource tree as a graph, the managed
// resources as a list, or the app's Events (tabs kept in the URL as `?tab=`),
// with the selected object's panel (`?resource=`) beside it.

import type { KeyboardEvent } from "react";
import type { ResourceStatus, TreeNode } from "../api";
import { ErrorMessage, HealthBadge, SyncBadge } from "../components";
import { Link, navigate, useLocation } from "../router";
import { EventsTable } from "./EventsTable";
import { ResourceGraph } from "./ResourceGraph";
import { ResourcePanel } from "./ResourcePanel";
import { appURL, sameResource, selectedResource } from "./resourceRef";
import type { AppTree } from "./useAppTree";

const TABS = [
  { id: "tree", label: "Tree" },
  { id: "list", label: "List" },
  { id: "events", label: "Events" },
] as const;
type Tab = (typeof TABS)[number]["id"];

function tabOf(search: string): Tab {
  const tab = new URLSearchParams(search).get("tab");
  return TABS.find((t) => t.id === tab)?.id ?? "tree";
}

interface Props extends AppTree {
  namespace: string;
  name: string;
  resources: ResourceStatus[];
}

export function ResourcesCard(props: Props) {
  const { namespace, name, tree, treeError, events, eventsPartial, eventsError, generation } = props;
  const location = useLocation();
  const tab = tabOf(location.search);
  const selected = selectedResource(location.search);
  const nodes = tree?.nodes ?? [];
  const node = selected === null ? null : nodes.find((n) => sameResource(selected, n)) ?? null;

  function show(next: Tab): void {
    const params = new URLSearchParams(location.search);
    if (next === "tree") params.delete("tab");
    else params.set("tab", next);
    const query = params.toString();
    navigate(`${appURL(namespace, name)}${query === "" ? "" : `?${query}`}`, { replace: true });
  }

  function arrows(event: KeyboardEvent<HTMLDivElement>): void {
    const step = event.key === "ArrowRight" ? 1 : event.key === "ArrowLeft" ? -1 : 0;
    if (step === 0) return;
    const at = TABS.findIndex((t) => t.id === tab);
    const next = TABS[(at + step + TABS.length) % TABS.length] ?? TABS[0];
    show(next.id);
    document.getElementById(`tab-${next.id}`)?.focus();
  }

  return (
    <section aria-labelledby="resources-title" className="card">
      <div className="card-head">
        <h2 id="resources-title">Resources</h2>
        <div role="tablist" aria-label="Show resources as" className="toggle" onKeyDown={arrows}>
          {TABS.map((t) => (
            <button
              key={t.id}
              id={`tab-${t.id}`}
              type="button"
              role="tab"
              aria-selected={t.id === tab}
              aria-controls="resources-tabpanel"
              tabIndex={t.id === tab ? 0 : -1}
              onClick={() => show(t.id)}
            >
              {t.label}
            </button>
          ))}
        </div>
      </div>
      {tree?.partial && <p className="notice">Only part of the tree is shown: {tree.partial}</p>}
      <div className={selected === null ? "resources-body" : "resources-body with-panel"}>
        <div id="resources-tabpanel" role="tabpanel" aria-labelledby={`tab-${tab}`}>
          {tab === "tree" && (
            <>
              {treeError !== null && <ErrorMessage error={treeError} title="Cannot load the resource tree" />}
              {tree === null && treeError === null && <p className="muted" aria-busy="true">Loading…</p>}
              {tree !== null && nodes.length === 0 && <p className="muted">No resources yet.</p>}
              {nodes.length > 0 && (
                <ResourceGraph namespace={namespace} app={name} nodes={nodes} selected={selected} />
              )}
            </>
          )}
          {tab === "list" && (
            <ResourceList namespace={namespace} name={name} resources={props.resources} nodes={nodes} />
          )}
          {tab === "events" && (
            <>
              {eventsError !== null && <ErrorMessage error={eventsError} title="Cannot load the events" />}
              {eventsPartial && <p className="notice">Some events may be missing: {eventsPartial}</p>}
              {events === null && eventsError === null && <p className="muted" aria-busy="true">Loading…</p>}
              {events !== null && events.length === 0 && <p className="muted">No events.</p>}
              {events !== null && events.length > 0 && (
                <EventsTable events={events} caption={`Events of ${name}`}
                  app={{ namespace, name, nodes }} />
              )}
            </>
          )}
        </div>
        {selected !== null && tree !== null && (
          <ResourcePanel namespace={namespace} app={name} selected={selected} node={node}
            events={events} generation={generation} />
        )}
      </div>
    </section>
  );
}

interface ListProps {
  namespace: string;
  name: string;
  resources: ResourceStatus[];
  nodes: TreeNode[];
}

function ResourceList({ namespace, name, resources, nodes }: ListProps) {
  if (resources.length === 0) return <p className="muted">No managed resources reported yet.</p>;
  return (
    <table className="plain">
      <thead>
        <tr><th scope="col">Kind</th><th scope="col">Namespace</th><th scope="col">Name</th>
          <th scope="col">Sync</th><th scope="col">Health</th><th scope="col">Message</th></tr>
      </thead>
      <tbody>
        {resources.map((r) => {
          const ref = { group: r.group ?? "", kind: r.kind, namespace: r.namespace ?? "", name: r.name };
          const inTree = nodes.some((n) => sameResource(ref, n));
          return (
            <tr key={`${ref.group}/${r.kind}/${ref.namespace}/${r.name}`}>
              <td>{r.group ? `${r.kind}.${r.group}` : r.kind}</td>
              <td>{r.namespace || "—"}</td>
              <td>{inTree ? <Link to={appURL(namespace, name, ref)}>{r.name}</Link> : r.name}</td>
              <td><SyncBadge status={r.status} />{r.requiresPruning ? " (prune)" : ""}</td>
              <td>{r.health ? <HealthBadge status={r.health.status} /> : "—"}</td>
              <td className="message">{r.message ?? r.health?.message ?? ""}</td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}
