// An app, its resource tree and Events, kept current by the app's own stream
// (GET /api/v1/applications/{ns}/{name}/stream, Server-Sent Events): it sends
// the app, the tree and the Events when it opens, then each again whenever it
// changes (a sync's step, a Pod replaced, a new Event), so nothing is polled
// while it is open and the app's page needs no other stream.
//
// While the stream is down (`paused`) they are loaded with GET .../{name},
// .../tree and .../events at once and every FALLBACK_POLL_MS: when the connection drops (the browser
// reconnects by itself, as the server's `retry` says) and when it is refused
// (503: too many streams; 401: logged out, which the GET then reports), in
// which case it is opened again after a delay doubling from RECONNECT_MIN_MS
// to RECONNECT_MAX_MS. Once it is open again the poll stops.

import { useCallback, useEffect, useState } from "react";
import {
  ApiError,
  api,
  appStreamURL,
  type Application,
  type KubeEvent,
  type ResourceTree,
} from "../api";
import { useSession } from "../session";

export const FALLBACK_POLL_MS = 15_000;
export const RECONNECT_MIN_MS = 1000;
export const RECONNECT_MAX_MS = 30_000;

export interface AppTree {
  /** The app as last sent or loaded (null until then). */
  app: Application | null;
  /** Why the app could not be loaded while the stream is down (a 404 once deleted). */
  appError: unknown;
  /** The stream is down: what is shown is polled every FALLBACK_POLL_MS. */
  paused: boolean;
  tree: ResourceTree | null;
  treeError: unknown;
  events: KubeEvent[] | null;
  /** Why some Events may be missing (a namespace's Events still listing). */
  eventsPartial: string | null;
  eventsError: unknown;
  /** Bumped on every new tree: what depends on it (a node's manifest) reloads too. */
  generation: number;
}

const EMPTY: AppTree = {
  app: null,
  appError: null,
  paused: false,
  tree: null,
  treeError: null,
  events: null,
  eventsPartial: null,
  eventsError: null,
  generation: 0,
};

type EventsBody = { items: KubeEvent[]; partial?: string | null };

function withTree(before: AppTree, tree: ResourceTree): AppTree {
  return { ...before, tree, treeError: null, generation: before.generation + 1 };
}

function withEvents(before: AppTree, body: EventsBody): AppTree {
  return { ...before, events: body.items, eventsPartial: body.partial ?? null, eventsError: null };
}

/** The JSON of a stream message, if it is an object holding `key` as an array. */
function parsed<T>(data: string, key: string): T | null {
  const value = object(data);
  return value !== null && Array.isArray(value[key]) ? (value as T) : null;
}

/** The app of an `app` message, if it looks like one (an object with metadata and spec). */
function parsedApp(data: string): Application | null {
  const value = object(data);
  const ok = value !== null && typeof value.metadata === "object" && value.metadata !== null &&
    typeof value.spec === "object" && value.spec !== null;
  return ok ? (value as unknown as Application) : null;
}

function object(data: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(data);
    return typeof value === "object" && value !== null ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

export function useAppTree(namespace: string, name: string): AppTree {
  const { expired } = useSession();
  const [state, setState] = useState<AppTree>(EMPTY);

  const load = useCallback(async (signal: AbortSignal) => {
    const settle = <T,>(promise: Promise<T>) =>
      promise.then(
        (value) => ({ value, error: null as unknown }),
        (error: unknown) => ({ value: null, error }),
      );
    const [app, tree, events] = await Promise.all([
      settle(api.application(namespace, name, signal)),
      settle(api.tree(namespace, name, signal)),
      settle(api.events(namespace, name, signal)),
    ]);
    if (signal.aborted) return;
    for (const error of [app.error, tree.error, events.error]) {
      if (error instanceof ApiError && error.unauthorized) expired();
    }
    setState((before) => {
      // A failed reload keeps what was shown, with the error beside it.
      let next: AppTree = app.value === null
        ? { ...before, appError: app.error }
        : { ...before, app: app.value, appError: null };
      next = tree.value === null ? { ...next, treeError: tree.error } : withTree(next, tree.value);
      next = events.value === null ? { ...next, eventsError: events.error } : withEvents(next, events.value);
      return next;
    });
  }, [namespace, name, expired]);

  useEffect(() => {
    setState(EMPTY);
    const abort = new AbortController();
    let source: EventSource | null = null;
    let poll: number | undefined;
    let reconnect: number | undefined;
    let backoff = RECONNECT_MIN_MS;

    const startPolling = (): void => {
      if (poll !== undefined) return;
      void load(abort.signal);
      poll = window.setInterval(() => void load(abort.signal), FALLBACK_POLL_MS);
    };
    const stopPolling = (): void => {
      window.clearInterval(poll);
      poll = undefined;
    };

    const connect = (): void => {
      const es = new EventSource(appStreamURL(namespace, name));
      source = es;
      es.onopen = () => {
        backoff = RECONNECT_MIN_MS;
        stopPolling();
        setState((before) => ({ ...before, paused: false }));
      };
      es.onerror = () => {
        if (abort.signal.aborted) return;
        setState((before) => ({ ...before, paused: true }));
        startPolling();
        if (es.readyState !== EventSource.CLOSED || abort.signal.aborted) return;
        // Refused (an error status): the browser gives up; try again later, slower each time.
        reconnect = window.setTimeout(connect, backoff);
        backoff = Math.min(backoff * 2, RECONNECT_MAX_MS);
      };
      es.addEventListener("app", (event: MessageEvent<string>) => {
        const app = parsedApp(event.data);
        if (app !== null) setState((before) => ({ ...before, app, appError: null }));
      });
      es.addEventListener("tree", (event: MessageEvent<string>) => {
        const tree = parsed<ResourceTree>(event.data, "nodes");
        if (tree !== null) setState((before) => withTree(before, tree));
      });
      es.addEventListener("events", (event: MessageEvent<string>) => {
        const body = parsed<EventsBody>(event.data, "items");
        if (body !== null) setState((before) => withEvents(before, body));
      });
      // The app is gone: loading it once more gives the page the reason (not found).
      es.addEventListener("deleted", () => {
        es.close();
        void load(abort.signal);
      });
    };

    connect();
    return () => {
      abort.abort();
      source?.close();
      stopPolling();
      window.clearTimeout(reconnect);
    };
  }, [namespace, name, load]);

  return state;
}
