// How one app is shown in the list: its link, destination and source, shared
// by the table and the tiles.

import type { AppRow } from "../api";
import { shortRevision } from "../components";
import { Link } from "../router";

export function appPath(row: { namespace: string; name: string }): string {
  return `/applications/${encodeURIComponent(row.namespace)}/${encodeURIComponent(row.name)}`;
}

export function AppLink({ row }: { row: AppRow }) {
  return (
    <Link to={appPath(row)} className="app-link">
      {row.name}
    </Link>
  );
}

export function destinationText(row: AppRow): string {
  const cluster = row.destination.name || row.destination.server || "in-cluster";
  return row.destination.namespace ? `${cluster} / ${row.destination.namespace}` : cluster;
}

export function sourceText(row: AppRow): string {
  const where = row.chart ? `chart ${row.chart}` : row.path || ".";
  const at = row.targetRevision ? ` @ ${row.targetRevision}` : "";
  return `${row.repoURL} ${where}${at}`;
}

export function revisionText(row: AppRow): string {
  return shortRevision(row.revision);
}

/** "syncing" while an operation runs on the app (the row's operationPhase is Running). */
export function OperationMark({ row }: { row: AppRow }) {
  if (row.operationPhase !== "Running") return null;
  return <span className="badge op-running" title="An operation is running">syncing</span>;
}
