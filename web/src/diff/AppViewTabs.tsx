// The app page's views as tabs: Overview (summary, resources, history), Diff
// (what a sync would change) and Manifests (rendered at a revision), kept in
// the URL as `?view=` so each is a deep link. Arrow keys move between tabs.

import type { KeyboardEvent } from "react";
import { navigate, useLocation } from "../router";
import { appViewOf, withParams, type AppView } from "./diffView";

const VIEWS: readonly { id: AppView; label: string }[] = [
  { id: "overview", label: "Overview" },
  { id: "diff", label: "Diff" },
  { id: "manifests", label: "Manifests" },
];

/** The view the page URL asks for. */
export function useAppView(): AppView {
  return appViewOf(useLocation().search);
}

export function AppViewTabs() {
  const location = useLocation();
  const view = appViewOf(location.search);

  function show(next: AppView): void {
    // Another view's own parameters (a selected node, a revision) are not carried over.
    const query = withParams("", { view: next === "overview" ? null : next });
    navigate(`${location.pathname}${query}`);
  }

  function arrows(event: KeyboardEvent<HTMLDivElement>): void {
    const step = event.key === "ArrowRight" ? 1 : event.key === "ArrowLeft" ? -1 : 0;
    if (step === 0) return;
    const at = VIEWS.findIndex((v) => v.id === view);
    const next = VIEWS[(at + step + VIEWS.length) % VIEWS.length] ?? VIEWS[0];
    if (next === undefined) return;
    show(next.id);
    document.getElementById(`view-${next.id}`)?.focus();
  }

  return (
    <div role="tablist" aria-label="Application views" className="toggle view-tabs" onKeyDown={arrows}>
      {VIEWS.map((v) => (
        <button key={v.id} id={`view-${v.id}`} type="button" role="tab" aria-selected={v.id === view}
          aria-controls="app-view" tabIndex={v.id === view ? 0 : -1} onClick={() => show(v.id)}>
          {v.label}
        </button>
      ))}
    </div>
  );
}
