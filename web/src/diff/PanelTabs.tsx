// The node panel's views of a managed object: its live manifest, its diff
// (live vs git) and its rendered manifest at a revision, kept in the URL as
// `?panel=` beside `?resource=`. Arrow keys move between tabs.

import type { KeyboardEvent } from "react";
import { navigate, useLocation } from "../router";
import { panelViewOf, withParams, type PanelView } from "./diffView";

const VIEWS: readonly { id: PanelView; label: string }[] = [
  { id: "live", label: "Live" },
  { id: "diff", label: "Diff" },
  { id: "manifests", label: "Manifests" },
];

export function PanelTabs({ label }: { label: string }) {
  const location = useLocation();
  const view = panelViewOf(location.search);

  function show(next: PanelView): void {
    const query = withParams(location.search, { panel: next === "live" ? null : next });
    navigate(`${location.pathname}${query}`, { replace: true });
  }

  function arrows(event: KeyboardEvent<HTMLDivElement>): void {
    const step = event.key === "ArrowRight" ? 1 : event.key === "ArrowLeft" ? -1 : 0;
    if (step === 0) return;
    const at = VIEWS.findIndex((v) => v.id === view);
    const next = VIEWS[(at + step + VIEWS.length) % VIEWS.length] ?? VIEWS[0];
    if (next === undefined) return;
    show(next.id);
    document.getElementById(`panel-${next.id}`)?.focus();
  }

  return (
    <div role="tablist" aria-label={`Show ${label} as`} className="toggle panel-tabs" onKeyDown={arrows}>
      {VIEWS.map((v) => (
        <button key={v.id} id={`panel-${v.id}`} type="button" role="tab" aria-selected={v.id === view}
          aria-controls="panel-view" tabIndex={v.id === view ? 0 : -1} onClick={() => show(v.id)}>
          {v.label}
        </button>
      ))}
    </div>
  );
}
