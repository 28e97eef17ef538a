// The app list of the current filters: a PageStore plus the live stream
// (GET /api/v1/stream, Server-Sent Events, filtered by the same query).
//
// A changed row is patched in place at once; at most once a second the
// visible pages and the counts are then fetched again, so a burst of changes
// across thousands of apps costs a few page requests, not one per change.
// The stream has no snapshot, so each time it opens (first or again) the
// visible pages are listed again too.

import { useEffect, useMemo, useReducer, useRef, useState } from "react";
import { streamURL, type AppRow } from "../api";
import { apiQuery, type Filters } from "../filters";
import { PageStore } from "./store";

export type LiveState = "connecting" | "live" | "off";

const REFRESH_EVERY_MS = 1000;
const RECONNECT_MIN_MS = 2000;
const RECONNECT_MAX_MS = 30000;

export interface LiveList {
  store: PageStore;
  live: LiveState;
}

export function useAppList(filters: Filters, unauthorized: () => void): LiveList {
  const [, rerender] = useReducer((n: number) => n + 1, 0);
  const query = apiQuery(filters);
  const unauthorizedRef = useRef(unauthorized);
  unauthorizedRef.current = unauthorized;

  // The store is keyed by the query alone: `filters` is a new object on every render.
  const store = useMemo(
    () => new PageStore(filters, rerender, () => unauthorizedRef.current()),
    [query],
  );
  useEffect(() => {
    store.ensure(0, 0); // the first page says how many rows there are; views ask for the rest
    return () => store.dispose();
  }, [store]);

  const [live, setLive] = useState<LiveState>("connecting");
  useEffect(() => {
    let source: EventSource | null = null;
    let refreshTimer: number | undefined;
    let reconnectTimer: number | undefined;
    let backoff = RECONNECT_MIN_MS;
    let closed = false;

    const scheduleRefresh = (): void => {
      if (refreshTimer !== undefined) return;
      refreshTimer = window.setTimeout(() => {
        refreshTimer = undefined;
        store.refresh();
      }, REFRESH_EVERY_MS);
    };

    const connect = (): void => {
      setLive("connecting");
      const es = new EventSource(streamURL(query));
      source = es;
      es.onopen = () => {
        backoff = RECONNECT_MIN_MS;
        setLive("live");
        // The stream sends no snapshot: what changed while it was not open
        // (before it first opened, or while it reconnected) is listed again.
        if (store.total !== null || store.error !== null) scheduleRefresh();
      };
      es.onerror = () => {
        if (es.readyState !== EventSource.CLOSED) {
          setLive("connecting"); // the browser reconnects by itself
          return;
        }
        // Refused (an error status): try again later, slower each time.
        setLive("off");
        if (!closed) {
          reconnectTimer = window.setTimeout(connect, backoff);
          backoff = Math.min(backoff * 2, RECONNECT_MAX_MS);
        }
      };
      es.addEventListener("app", (event: MessageEvent<string>) => {
        const row = parseRow(event.data);
        if (row !== null) store.patch(row);
        scheduleRefresh();
      });
      es.addEventListener("deleted", scheduleRefresh);
    };

    connect();
    return () => {
      closed = true;
      source?.close();
      window.clearTimeout(refreshTimer);
      window.clearTimeout(reconnectTimer);
    };
  }, [store, query]);

  return { store, live };
}

function parseRow(data: string): AppRow | null {
  try {
    const value: unknown = JSON.parse(data);
    if (typeof value !== "object" || value === null) return null;
    const row = value as Partial<AppRow>;
    return typeof row.namespace === "string" && typeof row.name === "string"
      ? (value as AppRow)
      : null;
  } catch {
    return null;
  }
}
