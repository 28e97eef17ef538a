// What a person asks of one app from its page: a sync (with the options of
// `driftless app sync`), a refresh, a rollback to a history entry, and its
// deletion (with or without its objects). Each request goes
// to the API, which writes it as the CLI does; the controller serves it, and
// the page shows its progress through the live stream. A refused request
// keeps its dialog open with the server's reason, and changes nothing.

import { useEffect, useId, useRef, useState, type FormEvent, type ReactNode } from "react";
import { ApiError, api, type HistoryEntry } from "../api";
import { ErrorMessage, shortRevision } from "../components";
import { navigate } from "../router";
import { useSession } from "../session";

/** A modal `<dialog>`: focus stays inside, Escape closes it. */
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
    <dialog ref={ref} aria-labelledby={titleId} onClose={props.onClose} className="modal">
      <h2 id={titleId}>{props.title}</h2>
      {props.children}
    </dialog>
  );
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
  const request = useRequest();

  async function submit(event: FormEvent<HTMLFormElement>): Promise<void> {
    event.preventDefault();
    const wanted = revision.trim();
    const ok = await request.run(() =>
      api.sync(props.namespace, props.name, {
        ...(wanted === "" ? {} : { revision: wanted }),
        prune,
        dryRun,
      })
    );
    if (ok) {
      setOpen(false);
      props.onRequested(
        `${dryRun ? "Dry run" : "Sync"} of ${shortRevision(wanted) || props.targetRevision} requested; its progress shows here.`,
      );
    }
  }

  return (
    <>
      <button type="button" className="primary" onClick={() => {
        request.reset();
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
          {request.error !== null && <ErrorMessage error={request.error} title="Cannot sync" />}
          <div className="dialog-buttons">
            <button type="button" onClick={() => setOpen(false)}>Cancel</button>
            <button type="submit" className="primary" disabled={request.busy}>
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
  const request = useRequest();
  async function refresh(): Promise<void> {
    if (await request.run(() => api.refresh(props.namespace, props.name))) {
      props.onRequested("Refresh requested: the controller compares the app with git again.");
    }
  }
  return (
    <>
      <button type="button" disabled={request.busy} onClick={() => void refresh()}>
        Refresh
      </button>
      {request.error !== null && <ErrorMessage error={request.error} title="Cannot refresh" />}
    </>
  );
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
