// What a person asks of one app from its page: a sync (with the options of
// `driftless app sync`, selected resources included), a refresh (hard or
// not), the termination of the running operation, a rollback to a history
// entry, and its deletion (with or without its objects). Each request goes
// to the API, which writes it as the CLI does; the controller serves it, and
// the page shows its progress through the live stream. A refused request
// keeps its dialog open with the server's reason, and changes nothing.

import {
  useEffect,
  useId,
  useRef,
  useState,
  type FormEvent,
  type KeyboardEvent,
  type ReactNode,
} from "react";
import { ApiError, api, type HistoryEntry, type ResourceSelector, type TreeNode } from "../api";
import { ErrorMessage, shortRevision } from "../components";
import { navigate } from "../router";
import { useSession } from "../session";

/**
 * A modal `<dialog>`: focus stays inside, Escape closes it, and the browser gives
 * the focus back to what opened it. `aria-modal` says so to assistive technology
 * explicitly (older screen readers do not infer it from `showModal()`).
 */
function Modal(props: {
  open: boolean;
  onClose: () => void;
  title: string;
  children: ReactNode;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  useEffect(() => {
    const dialog = ref.current;
    if (dialog === null) return;
    if (props.open && !dialog.open) dialog.showModal();
    if (!props.open && dialog.open) dialog.close();
  }, [props.open]);
  return (
    <dialog ref={ref} aria-labelledby={titleId} aria-modal="true" onClose={props.onClose}
      onKeyDown={keepTabInside} className="modal">
      <h2 id={titleId}>{props.title}</h2>
      {props.children}
    </dialog>
  );
}

const FOCUSABLE = "a[href], button, input, select, textarea, [tabindex]:not([tabindex='-1'])";

/**
 * Tab on a modal dialog's last control goes to its first, Shift+Tab on the first
 * to the last. The browser's own trap lets the focus leave for its toolbar, where
 * a keyboard user loses the dialog.
 */
function keepTabInside(event: KeyboardEvent<HTMLDialogElement>): void {
  if (event.key !== "Tab") return;
  const controls = [...event.currentTarget.querySelectorAll<HTMLElement>(FOCUSABLE)].filter(
    (e) => !e.matches(":disabled") && e.getClientRects().length > 0,
  );
  const first = controls[0];
  const last = controls[controls.length - 1];
  if (first === undefined || last === undefined) return;
  const at = document.activeElement;
  if (event.shiftKey ? at === first || !event.currentTarget.contains(at) : at === last) {
    event.preventDefault();
    (event.shiftKey ? last : first).focus();
  }
}

/** Run `request`; on failure keep the error (and log out on 401). */
function useRequest(): {
  busy: boolean;
  error: unknown;
  reset: () => void;
  run: (request: () => Promise<unknown>) => Promise<boolean>;
} {
  const { expired } = useSession();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  async function run(request: () => Promise<unknown>): Promise<boolean> {
    setBusy(true);
    setError(null);
    try {
      await request();
      return true;
    } catch (err) {
      if (err instanceof ApiError && err.unauthorized) expired();
      setError(err);
      return false;
    } finally {
      setBusy(false);
    }
  }
  return { busy, error, reset: () => setError(null), run };
}

export function SyncButton(props: {
  namespace: string;
  name: string;
  targetRevision: string;
  onRequested: (what: string) => void;
}) {
  const [open, setOpen] = useState(false);
  const [revision, setRevision] = useState("");
  const [prune, setPrune] = useState(false);
  const [dryRun, setDryRun] = useState(false);
  const [all, setAll] = useState(true);
  const [hard, setHard] = useState(false);
  const [chosen, setChosen] = useState<Set<string>>(new Set());
  const managed = useManaged(props.namespace, props.name, open);
  const request = useRequest();
  const noneChosen = !all && chosen.size === 0;

  async function submit(event: FormEvent<HTMLFormElement>): Promise<void> {
    event.preventDefault();
    if (noneChosen) return;
    const wanted = revision.trim();
    const resources = all
      ? []
      : (managed.nodes ?? []).filter((n) => chosen.has(n.uid)).map(selector);
    const ok = await request.run(async () => {
      // Written first, so the pass that serves the sync reads the repository anew.
      if (hard) await api.refresh(props.namespace, props.name, true);
      await api.sync(props.namespace, props.name, {
        ...(wanted === "" ? {} : { revision: wanted }),
        prune,
        dryRun,
        ...(resources.length === 0 ? {} : { resources }),
      });
    });
    if (ok) {
      setOpen(false);
      const what = resources.length === 0 ? "" : ` of ${resources.length} resource(s)`;
      props.onRequested(
        `${dryRun ? "Dry run" : "Sync"}${what} at ${shortRevision(wanted) || props.targetRevision} requested; its progress shows here.`,
      );
    }
  }

  function toggle(uid: string, on: boolean): void {
    setChosen((before) => {
      const next = new Set(before);
      if (on) next.add(uid);
      else next.delete(uid);
      return next;
    });
  }

  return (
    <>
      <button type="button" className="primary" onClick={() => {
        request.reset();
        setAll(true);
        setHard(false);
        setChosen(new Set());
        setOpen(true);
      }}>
        Sync…
      </button>
      <Modal open={open} onClose={() => setOpen(false)} title={`Sync ${props.name}`}>
        <form onSubmit={(e) => void submit(e)} className="dialog-form">
          <label htmlFor="sync-revision">Revision</label>
          <input
            id="sync-revision"
            value={revision}
            placeholder={props.targetRevision}
            aria-describedby="sync-revision-hint"
            onChange={(e) => setRevision(e.target.value)}
          />
          <span id="sync-revision-hint" className="hint">
            A commit, branch or tag; empty: the app's target revision ({props.targetRevision}).
          </span>
          <span className="check">
            <input id="sync-prune" type="checkbox" checked={prune}
              onChange={(e) => setPrune(e.target.checked)} />
            <label htmlFor="sync-prune">Prune: delete objects git no longer has</label>
          </span>
          <span className="check">
            <input id="sync-dry-run" type="checkbox" checked={dryRun}
              onChange={(e) => setDryRun(e.target.checked)} />
            <label htmlFor="sync-dry-run">Dry run: report what would change, change nothing</label>
          </span>
          <span className="check">
            <input id="sync-hard" type="checkbox" checked={hard}
              onChange={(e) => setHard(e.target.checked)} />
            <label htmlFor="sync-hard">
              Hard refresh first: read the repository now and render again (caches bypassed)
            </label>
          </span>
          <span className="check">
            <input id="sync-all" type="checkbox" checked={all}
              onChange={(e) => setAll(e.target.checked)} />
            <label htmlFor="sync-all">All resources (hooks run)</label>
          </span>
          {!all && (
            <fieldset className="sync-resources" aria-describedby="sync-resources-hint">
              <legend>Resources to sync</legend>
              <span id="sync-resources-hint" className="hint">
                Only these objects are applied; no hook runs.
              </span>
              {managed.error !== null && (
                <ErrorMessage error={managed.error} title="Cannot list the app's resources" />
              )}
              {managed.nodes === null && managed.error === null && (
                <p className="muted" aria-busy="true">Loading the resources…</p>
              )}
              {managed.nodes !== null && managed.nodes.length === 0 && (
                <p className="muted">The app manages no resources yet.</p>
              )}
              {(managed.nodes ?? []).map((node) => {
                const id = `sync-resource-${node.uid}`;
                return (
                  <span className="check" key={node.uid}>
                    <input id={id} type="checkbox" checked={chosen.has(node.uid)}
                      onChange={(e) => toggle(node.uid, e.target.checked)} />
                    <label htmlFor={id}>{resourceName(node)}</label>
                  </span>
                );
              })}
              {noneChosen && <p className="hint">Pick at least one resource.</p>}
            </fieldset>
          )}
          {request.error !== null && <ErrorMessage error={request.error} title="Cannot sync" />}
          <div className="dialog-buttons">
            <button type="button" onClick={() => setOpen(false)}>Cancel</button>
            <button type="submit" className="primary" disabled={request.busy || noneChosen}>
              {request.busy ? "Asking…" : "Start sync"}
            </button>
          </div>
        </form>
      </Modal>
    </>
  );
}

export function RollbackButton(props: {
  namespace: string;
  name: string;
  entry: HistoryEntry;
  onRequested: (what: string) => void;
}) {
  const [open, setOpen] = useState(false);
  const request = useRequest();
  const revision = shortRevision(props.entry.revision);

  async function confirm(): Promise<void> {
    const ok = await request.run(() => api.rollback(props.namespace, props.name, props.entry.id));
    if (ok) {
      setOpen(false);
      props.onRequested(`Rollback to ${revision} (history ${props.entry.id}) requested.`);
    }
  }

  return (
    <>
      <button type="button" onClick={() => {
        request.reset();
        setOpen(true);
      }}>
        Roll back to {revision}
      </button>
      <Modal open={open} onClose={() => setOpen(false)} title={`Roll back ${props.name}`}>
        <p>
          Sync <strong>{props.name}</strong> to revision <code>{revision}</code> (history{" "}
          {props.entry.id}) and prune what that revision does not have. Automated sync is turned
          off, so the app stays there until you sync it again.
        </p>
        {request.error !== null && <ErrorMessage error={request.error} title="Cannot roll back" />}
        <div className="dialog-buttons">
          <button type="button" onClick={() => setOpen(false)}>Cancel</button>
          <button type="button" className="primary" disabled={request.busy}
            onClick={() => void confirm()}>
            {request.busy ? "Asking…" : "Roll back"}
          </button>
        </div>
      </Modal>
    </>
  );
}

export function RefreshButton(props: {
  namespace: string;
  name: string;
  onRequested: (what: string) => void;
}) {
  const [hard, setHard] = useState(false);
  const request = useRequest();
  async function refresh(): Promise<void> {
    if (await request.run(() => api.refresh(props.namespace, props.name, hard))) {
      props.onRequested(
        hard
          ? "Hard refresh requested: the controller reads the repository now and renders the app again."
          : "Refresh requested: the controller compares the app with git again.",
      );
    }
  }
  return (
    <>
      <button type="button" disabled={request.busy} onClick={() => void refresh()}>
        Refresh
      </button>
      <span className="check">
        <input id="refresh-hard" type="checkbox" checked={hard}
          aria-describedby="refresh-hard-hint" onChange={(e) => setHard(e.target.checked)} />
        <label htmlFor="refresh-hard">Hard</label>
        <span id="refresh-hard-hint" className="visually-hidden">
          A hard refresh bypasses the controller's caches: it reads the repository now and
          renders the app again.
        </span>
      </span>
      {request.error !== null && <ErrorMessage error={request.error} title="Cannot refresh" />}
    </>
  );
}

export function TerminateButton(props: {
  namespace: string;
  name: string;
  onRequested: (what: string) => void;
}) {
  const [open, setOpen] = useState(false);
  const request = useRequest();

  async function confirm(): Promise<void> {
    if (await request.run(() => api.terminate(props.namespace, props.name))) {
      setOpen(false);
      props.onRequested("Termination requested: the operation stops at its next safe point.");
    }
  }

  return (
    <>
      <button type="button" className="danger" onClick={() => {
        request.reset();
        setOpen(true);
      }}>
        Terminate…
      </button>
      <Modal open={open} onClose={() => setOpen(false)} title={`Terminate the operation of ${props.name}`}>
        <p>
          Stop the running operation of <strong>{props.name}</strong> at its next safe point. What
          it already applied stays; hooks still running are left as they are.
        </p>
        {request.error !== null && (
          <ErrorMessage error={request.error} title="Cannot terminate" />
        )}
        <div className="dialog-buttons">
          <button type="button" onClick={() => setOpen(false)}>Cancel</button>
          <button type="button" className="danger" disabled={request.busy}
            onClick={() => void confirm()}>
            {request.busy ? "Asking…" : "Terminate"}
          </button>
        </div>
      </Modal>
    </>
  );
}

/** The app's managed objects (from its tree), loaded when `wanted` (the dialog opens). */
function useManaged(
  namespace: string,
  name: string,
  wanted: boolean,
): { nodes: TreeNode[] | null; error: unknown } {
  const { expired } = useSession();
  const [state, setState] = useState<{ nodes: TreeNode[] | null; error: unknown }>({
    nodes: null,
    error: null,
  });
  useEffect(() => {
    if (!wanted) return;
    const abort = new AbortController();
    setState({ nodes: null, error: null });
    api.tree(namespace, name, abort.signal).then(
      (tree) => setState({ nodes: tree.nodes.filter((n) => n.managed), error: null }),
      (error: unknown) => {
        if (abort.signal.aborted) return;
        if (error instanceof ApiError && error.unauthorized) expired();
        setState({ nodes: null, error });
      },
    );
    return () => abort.abort();
  }, [namespace, name, wanted, expired]);
  return state;
}

function selector(node: TreeNode): ResourceSelector {
  return { group: node.group, kind: node.kind, namespace: node.namespace, name: node.name };
}

function resourceName(node: TreeNode): string {
  const kind = node.group ? `${node.kind}.${node.group}` : node.kind;
  return `${kind} ${node.namespace ? `${node.namespace}/` : ""}${node.name}`;
}

export function DeleteButton(props: { namespace: string; name: string }) {
  const [open, setOpen] = useState(false);
  const [cascade, setCascade] = useState(true);
  const request = useRequest();

  async function confirm(): Promise<void> {
    if (await request.run(() => api.deleteApp(props.namespace, props.name, cascade))) {
      setOpen(false);
      navigate("/applications");
    }
  }

  return (
    <>
      <button type="button" className="danger" onClick={() => {
        request.reset();
        setOpen(true);
      }}>
        Delete…
      </button>
      <Modal open={open} onClose={() => setOpen(false)} title={`Delete ${props.name}`}>
        <p>
          Delete the application <strong>{props.namespace}/{props.name}</strong>. Git is not
          changed.
        </p>
        <span className="check">
          <input id="delete-cascade" type="checkbox" checked={cascade}
            onChange={(e) => setCascade(e.target.checked)} />
          <label htmlFor="delete-cascade">
            Also delete the objects it manages in the cluster (cascade)
          </label>
        </span>
        {request.error !== null && <ErrorMessage error={request.error} title="Cannot delete" />}
        <div className="dialog-buttons">
          <button type="button" onClick={() => setOpen(false)}>Cancel</button>
          <button type="button" className="danger" disabled={request.busy}
            onClick={() => void confirm()}>
            {request.busy ? "Asking…" : "Delete"}
          </button>
        </div>
      </Modal>
    </>
  );
}
