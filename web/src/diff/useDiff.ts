// Loading an app's diff (or one resource's) and its rendered manifests: the
// request is made when what it depends on changes (`version`: the app's
// resourceVersion, which every status write moves on) and aborted when the
// view goes away. A 401 ends the session (the login page is shown).

import { useEffect, useState } from "react";
import { ApiError, api, type AppDiff, type RenderedManifests } from "../api";
import { useSession } from "../session";

export type Loading<T> = { value: T } | { error: unknown } | null;

interface Ref {
  group: string;
  kind: string;
  namespace: string;
  name: string;
}

function useLoaded<T>(
  load: (signal: AbortSignal) => Promise<T>,
  deps: readonly unknown[],
): Loading<T> {
  const { expired } = useSession();
  const [state, setState] = useState<Loading<T>>(null);
  useEffect(() => {
    const abort = new AbortController();
    setState(null);
    load(abort.signal).then(
      (value) => { if (!abort.signal.aborted) setState({ value }); },
      (error: unknown) => {
        if (abort.signal.aborted) return;
        if (error instanceof ApiError && error.unauthorized) expired();
        setState({ error });
      },
    );
    return () => abort.abort();
    // `load` is a new closure each render; what it reads is in `deps`.
  }, [...deps, expired]);
  return state;
}

/** The app's diff (every resource, or only `only`'s), again whenever `version` changes. */
export function useDiff(
  namespace: string,
  app: string,
  only: Ref | null,
  version: string,
): Loading<AppDiff> {
  return useLoaded(
    (signal) => api.diff(namespace, app, only, signal),
    [namespace, app, only?.group, only?.kind, only?.namespace, only?.name, version],
  );
}

/** The app's manifests at `revision` ("" for its target), again whenever `version` changes. */
export function useManifests(
  namespace: string,
  app: string,
  revision: string,
  version: string,
): Loading<RenderedManifests> {
  return useLoaded(
    (signal) => api.manifests(namespace, app, revision, signal),
    [namespace, app, revision, version],
  );
}
