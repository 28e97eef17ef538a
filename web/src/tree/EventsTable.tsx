// Kubernetes Events as a table: the app's Events tab and a node's panel.

import type { KubeEvent, TreeNode } from "../api";
import { Time } from "../components";
import { Link } from "../router";
import { appURL } from "./resourceRef";

interface Props {
  events: KubeEvent[];
  /** With the app's tree nodes, the Object column links to each object's node. */
  app?: { namespace: string; name: string; nodes: TreeNode[] };
  caption: string;
}

export function EventsTable({ events, app, caption }: Props) {
  return (
    <table className="plain events">
      <caption className="visually-hidden">{caption}</caption>
      <thead>
        <tr>
          <th scope="col">Type</th><th scope="col">Reason</th>
          {app !== undefined && <th scope="col">Object</th>}
          <th scope="col">Message</th><th scope="col">Count</th><th scope="col">Last seen</th>
        </tr>
      </thead>
      <tbody>
        {events.map((e, at) => (
          <tr key={`${at}/${e.object.kind}/${e.object.name}/${e.reason ?? ""}`}>
            <td className={e.type === "Warning" ? "event-warning" : undefined}>{e.type || "—"}</td>
            <td>{e.reason || "—"}</td>
            {app !== undefined && <td><EventObject event={e} app={app} /></td>}
            <td className="message">{e.message}</td>
            <td>{e.count ?? 1}</td>
            <td><Time value={e.lastTimestamp || e.firstTimestamp} /></td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function EventObject({ event, app }: { event: KubeEvent; app: NonNullable<Props["app"]> }) {
  const { kind, name } = event.object;
  const namespace = event.object.namespace ?? "";
  const text = `${kind} ${name}`;
  const node = app.nodes.find((n) =>
    n.kind === kind && n.namespace === namespace && n.name === name
  );
  if (node === undefined) return <>{text}</>;
  return <Link to={appURL(app.namespace, app.name, node)}>{text}</Link>;
}
