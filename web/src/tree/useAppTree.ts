// An app's resource tree and Events, loaded together and reloaded on demand
// (the app page calls `changed()` on every live change of the app), at most
// once per THROTTLE_MS however often it is called: the first change loads at
// once, later ones within the window fold into a single load at its end.
// Owned objects (Pods, ReplicaSets) change without the app changing, so the
// tree is also reloaded every POLL_MS, and every PARTIAL_POLL_MS while the
// server says the tree or the Events are partial (e.g. a kind still listing).

import { useCallback, useEffect, useRef, useState } from "react";
import { ApiError, api, type KubeEvent, type ResourceTree } from "../api";
import { useSession } from "../session";

export const THROTTLE_MS = 2000;
export const POLL_MS = 15_000;
export const PARTIAL_POLL_MS = 5000;

export interface AppTree {
  tree: ResourceTree | null;
  treeError: unknown;
  events: KubeEvent[] | null;
  /** Why some Events may be missing (a namespace's Events still listing). */
  eventsPartial: string | null;
  eventsError: unknown;
  /** Bumped on every completed load: what depends on the tree (a node's manifest) reloads too. */
  generation: number;
}

const EMPTY: AppTree = {
  tree: null,
  treeError: null,
  events: null,
  eventsPartial: null,
  eventsError: null,
  generation: 0,
};

export function useAppTree(namespace: string, name: string): AppTree & { changed: () => void } {
  const { expired } = useSession();
  const [state, setState] = useState<AppTree>(EMPTY);
  const abortRef = useRef<AbortController | null>(null);
  const lastLoad = useRef(0);
  const timer = useRef<number | undefined>(undefined);
  const poll = useRef<number | undefined>(undefined);

  const load = useCallback(async () => {
    abortRef.current?.abort();
    const abort = new AbortController();
    abortRef.current = abort;
    lastLoad.current = Date.now();
    const settle = <T,>(promise: Promise<T>) =>
      promise.then(
        (value) => ({ value, error: null as unknown }),
        (error: unknown) => ({ value: null, error }),
      );
    const [tree, events] = await Promise.all([
      settle(api.tree(namespace, name, abort.signal)),
      settle(api.events(namespace, name, abort.signal)),
    ]);
    if (abort.signal.aborted) return;
    window.clearTimeout(poll.current);
    poll.current = window.setTimeout(
      () => void load(),
      tree.value?.partial || events.value?.partial ? PARTIAL_POLL_MS : POLL_MS,
    );
    for (const error of [tree.error, events.error]) {
      if (error instanceof ApiError && error.unauthorized) expired();
    }
    setState((before) => ({
      // A failed reload keeps what was shown, with the error beside it.
      tree: tree.value ?? before.tree,
      treeError: tree.error,
      events: events.value?.items ?? before.events,
      eventsPartial: events.value === null ? before.eventsPartial : events.value.partial ?? null,
      eventsError: events.error,
      generation: before.generation + 1,
    }));
  }, [namespace, name, expired]);

  useEffect(() => {
    setState(EMPTY);
    void load();
    return () => {
      abortRef.current?.abort();
      window.clearTimeout(timer.current);
      window.clearTimeout(poll.current);
      timer.current = undefined;
    };
  }, [load]);

  const changed = useCallback(() => {
    if (timer.current !== undefined) return; // a load is already due
    const wait = Math.max(0, lastLoad.current + THROTTLE_MS - Date.now());
    timer.current = window.setTimeout(() => {
      timer.current = undefined;
      void load();
    }, wait);
  }, [load]);

  return { ...state, changed };
}
