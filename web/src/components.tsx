// Small shared pieces: status badges, readable errors, timestamps.

import type { ReactNode } from "react";
import { ApiError } from "./api";

const SYNC_ICON: Record<string, string> = { Synced: "✓", OutOfSync: "↻", Unknown: "?" };
const HEALTH_ICON: Record<string, string> = {
  Healthy: "♥",
  Progressing: "◌",
  Degraded: "✕",
  Suspended: "❚❚",
  Missing: "∅",
  Unknown: "?",
};

function statusClass(kind: string, value: string): string {
  return `badge ${kind}-${value.replace(/[^A-Za-z]/g, "") || "Unknown"}`;
}

/** A sync status (Synced, OutOfSync, Unknown) with its colour and icon; the text is always there. */
export function SyncBadge({ status }: { status: string | null | undefined }) {
  const value = status || "Unknown";
  return (
    <span className={statusClass("sync", value)}>
      <span aria-hidden="true">{SYNC_ICON[value] ?? "?"}</span> {value}
    </span>
  );
}

export function HealthBadge({ status }: { status: string | null | undefined }) {
  const value = status || "Unknown";
  return (
    <span className={statusClass("health", value)}>
      <span aria-hidden="true">{HEALTH_ICON[value] ?? "?"}</span> {value}
    </span>
  );
}

/** The message of anything thrown, as a person should read it. */
export function messageOf(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  if (error instanceof Error && error.message !== "") return error.message;
  return "Something unexpected happened.";
}

export function ErrorMessage({ error, title }: { error: unknown; title?: string }) {
  return (
    <div role="alert" className="error-box">
      {title !== undefined && <strong>{title}: </strong>}
      {messageOf(error)}
    </div>
  );
}

/** An RFC 3339 time shown in the reader's locale, the exact value on hover. */
export function Time({ value }: { value: string | null | undefined }) {
  if (!value) return <span className="muted">never</span>;
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return <span>{value}</span>;
  return (
    <time dateTime={value} title={value}>
      {date.toLocaleString()}
    </time>
  );
}

export function shortRevision(revision: string | null | undefined): string {
  if (!revision) return "";
  return /^[0-9a-f]{40}$/.test(revision) ? revision.slice(0, 8) : revision;
}

export function Field({ label, children }: { label: string; children: ReactNode }) {
  return (
    <>
      <dt>{label}</dt>
      <dd>{children}</dd>
    </>
  );
}
