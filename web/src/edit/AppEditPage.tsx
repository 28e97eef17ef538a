// The "New app" and "Edit" pages (/applications/new, /applications/{ns}/{name}/edit):
// labelled fields, hints while typing, and the server's check shown next to
// the field it names. "Check" asks the server for a dry run (nothing is
// stored); "Cancel" goes back and changes nothing. An edit is sent with the
// resourceVersion and generation it was opened with, so a change someone
// made meanwhile is refused (409) instead of overwritten.

import { useEffect, useId, useState, type FormEvent, type ReactNode } from "react";
import { ApiError, api, type Application, type Project } from "../api";
import { ErrorMessage } from "../components";
import { Link, navigate } from "../router";
import { useSession } from "../session";
import {
  createBody,
  editBody,
  emptyForm,
  fieldErrors,
  formFromApp,
  helmLookupNote,
  hints,
  rebase,
  type AppForm,
  type FieldKey,
  type Renderer,
} from "./form";
import "./edit.css";

export type EditTarget = { mode: "new" } | { mode: "edit"; namespace: string; name: string };

type Errors = Partial<Record<FieldKey, string>>;
type Outcome =
  | { kind: "none" }
  | { kind: "checked" }
  | { kind: "failed"; error: unknown; stale: boolean };

export function AppEditPage({ target }: { target: EditTarget }) {
  const { expired } = useSession();
  const creating = target.mode === "new";
  const [read, setRead] = useState<Application | null>(null);
  const [loadError, setLoadError] = useState<unknown>(null);
  const [form, setForm] = useState<AppForm>(emptyForm);
  const [projects, setProjects] = useState<Project[]>([]);
  const [errors, setErrors] = useState<Errors>({});
  const [outcome, setOutcome] = useState<Outcome>({ kind: "none" });
  const [busy, setBusy] = useState(false);
  const namespace = target.mode === "edit" ? target.namespace : "";
  const name = target.mode === "edit" ? target.name : "";
  const back = creating ? "/applications" : appPath(namespace, name);

  useEffect(() => {
    const abort = new AbortController();
    document.title = creating ? "New application · driftless" : `Edit ${name} · driftless`;
    api.projects(abort.signal).then((p) => setProjects(p.items), () => setProjects([]));
    if (!creating) {
      api.application(namespace, name, abort.signal).then(
        (app) => {
          setRead(app);
          setForm(formFromApp(app));
        },
        (err: unknown) => {
          if (abort.signal.aborted) return;
          if (err instanceof ApiError && err.unauthorized) expired();
          setLoadError(err);
        },
      );
    }
    return () => abort.abort();
  }, [creating, namespace, name, expired]);

  const hinted = hints(form, creating);

  function set<K extends keyof AppForm>(key: K, value: AppForm[K]): void {
    setForm((f) => ({ ...f, [key]: value }));
    setErrors((e) => {
      const next = { ...e };
      delete next[key];
      return next;
    });
    setOutcome({ kind: "none" });
  }

  async function send(dryRun: boolean): Promise<void> {
    setBusy(true);
    setErrors({});
    setOutcome({ kind: "none" });
    try {
      let saved: Application;
      if (creating) {
        saved = await api.createApp(createBody(form), dryRun);
      } else {
        if (read === null) return;
        saved = await api.replaceApp(namespace, name, editBody(form, read), dryRun);
      }
      if (dryRun) {
        setOutcome({ kind: "checked" });
      } else {
        navigate(appPath(saved.metadata.namespace, saved.metadata.name));
      }
    } catch (err) {
      if (err instanceof ApiError && err.unauthorized) expired();
      if (err instanceof ApiError && err.status === 422) {
        const split = fieldErrors(err.message);
        setErrors(split);
        const general = split[""];
        setOutcome({
          kind: "failed",
          error: new Error(
            general ?? "The server refused some fields: see the messages next to them.",
          ),
          stale: false,
        });
      } else {
        const stale = !creating && err instanceof ApiError && err.status === 409;
        setOutcome({ kind: "failed", error: err, stale });
      }
    } finally {
      setBusy(false);
    }
  }

  /** Someone changed the app meanwhile: read it again, keeping what was typed. */
  async function reread(): Promise<void> {
    setBusy(true);
    try {
      const latest = await api.application(namespace, name);
      if (read !== null) setForm((typed) => rebase(typed, formFromApp(read), formFromApp(latest)));
      setRead(latest);
      setOutcome({ kind: "none" });
    } catch (err) {
      if (err instanceof ApiError && err.unauthorized) expired();
      setOutcome({ kind: "failed", error: err, stale: false });
    } finally {
      setBusy(false);
    }
  }

  function submit(event: FormEvent<HTMLFormElement>): void {
    event.preventDefault();
    void send(false);
  }

  if (loadError !== null) {
    return (
      <main className="page edit-page">
        <Crumbs target={target} />
        <ErrorMessage error={loadError} title="Cannot load the application" />
        <Link to={back}>Back</Link>
      </main>
    );
  }
  if (!creating && read === null) {
    return <main className="page edit-page" aria-busy="true"><p className="muted">Loading…</p></main>;
  }

  const field = (key: keyof AppForm) => ({ error: errors[key], hint: hinted[key] });
  return (
    <main className="page edit-page">
      <Crumbs target={target} />
      <h1>{creating ? "New application" : `Edit ${name}`}</h1>
      <form onSubmit={submit} noValidate aria-describedby="edit-outcome">
        <fieldset>
          <legend>Application</legend>
          <TextField label="Name" value={form.name} onChange={(v) => set("name", v)}
            readOnly={!creating} required {...field("name")}
            help="Lower-case letters, digits, '-' and '.'." />
          <TextField label="Namespace" value={form.namespace} onChange={(v) => set("namespace", v)}
            readOnly={!creating} {...field("namespace")}
            help="Where the Application object lives; empty: the server's default." />
          <TextField label="Project" value={form.project} onChange={(v) => set("project", v)}
            list={projects.map((p) => p.metadata.name)} {...field("project")} />
        </fieldset>
        <fieldset>
          <legend>Source</legend>
          <TextField label="Repository URL" value={form.repoURL} onChange={(v) => set("repoURL", v)}
            required {...field("repoURL")}
            help="https:// or ssh:// (credentials go in a repository Secret, never in the URL)." />
          <TextField label="Revision" value={form.targetRevision}
            onChange={(v) => set("targetRevision", v)} {...field("targetRevision")}
            help="Branch, tag, commit or semver range; HEAD: the default branch." />
          <TextField label="Path" value={form.path} onChange={(v) => set("path", v)}
            {...field("path")} help="Directory inside the repository." />
          <TextField label="Chart" value={form.chart} onChange={(v) => set("chart", v)}
            {...field("chart")} help="Only for a Helm repository: the chart's name." />
          <SelectField label="Renderer" value={form.renderer}
            onChange={(v) => set("renderer", v as Renderer)} error={errors.renderer}
            options={[["auto", "Detect from the files"], ["directory", "Plain YAML directory"],
              ["helm", "Helm chart"], ["kustomize", "Kustomize"], ["jsonnet", "Jsonnet"]]} />
          {form.renderer === "directory" && (
            <CheckField label="Read subdirectories too" checked={form.directoryRecurse}
              onChange={(v) => set("directoryRecurse", v)} error={errors.directoryRecurse} />
          )}
          {form.renderer === "helm" && (
            <>
              <TextField label="Helm values (one KEY=VALUE a line)" multiline
                value={form.helmParameters} onChange={(v) => set("helmParameters", v)}
                {...field("helmParameters")} />
              <TextField label="Helm values files (one a line)" multiline
                value={form.helmValueFiles} onChange={(v) => set("helmValueFiles", v)}
                {...field("helmValueFiles")} />
              <CheckField label="Let templates look up live objects (Helm lookup)"
                checked={form.helmLookup} onChange={(v) => set("helmLookup", v)}
                error={errors.helmLookup} hint={helmLookupNote(form, projects)}
                help={"Read-only, within the project's namespaces and kinds, never Secrets; " +
                  "the project must allow it (allowHelmLookup). Unticked, lookup returns empty maps."} />
            </>
          )}
          {form.renderer === "kustomize" && (
            <TextField label="Kustomize images (one a line, e.g. nginx=nginx:1.27)" multiline
              value={form.kustomizeImages} onChange={(v) => set("kustomizeImages", v)}
              {...field("kustomizeImages")} />
          )}
        </fieldset>
        <fieldset>
          <legend>Destination</legend>
          <TextField label="Cluster API server" value={form.destServer}
            onChange={(v) => set("destServer", v)} {...field("destServer")}
            help="Empty: the cluster driftless runs in." />
          <TextField label="Destination namespace" value={form.destNamespace}
            onChange={(v) => set("destNamespace", v)} {...field("destNamespace")} />
        </fieldset>
        <fieldset>
          <legend>Sync policy</legend>
          {errors.automated !== undefined && (
            <p className="field-error" role="alert">{errors.automated}</p>
          )}
          <CheckField label="Sync automatically" checked={form.automated}
            onChange={(v) => set("automated", v)} />
          <CheckField label="Prune objects removed from git" checked={form.prune}
            disabled={!form.automated} onChange={(v) => set("prune", v)} />
          <CheckField label="Self-heal changes made in the cluster" checked={form.selfHeal}
            disabled={!form.automated} onChange={(v) => set("selfHeal", v)} />
          <CheckField label="Create the destination namespace" checked={form.createNamespace}
            onChange={(v) => set("createNamespace", v)} />
          <TextField label="Re-check interval" value={form.interval}
            onChange={(v) => set("interval", v)} {...field("interval")}
            help="Such as 3m or 1h; empty: the controller's default." />
        </fieldset>
        <div id="edit-outcome" aria-live="polite">
          {outcome.kind === "checked" && (
            <p className="check-ok" role="status">
              The server accepts this application (checked with a dry run; nothing was saved).
            </p>
          )}
          {outcome.kind === "failed" && (
            <ErrorMessage error={outcome.error}
              title={creating ? "Cannot create the application" : "Cannot save the application"} />
          )}
          {outcome.kind === "failed" && outcome.stale && (
            <p>
              <button type="button" onClick={() => void reread()} disabled={busy}>
                Use the latest version, keeping my changes
              </button>{" "}
              <span className="hint">
                The fields you changed are put over what is stored now; check and save again.
              </span>
            </p>
          )}
        </div>
        <div className="edit-buttons">
          <button type="button" onClick={() => navigate(back)} disabled={busy}>Cancel</button>
          <button type="button" onClick={() => void send(true)} disabled={busy}>Check</button>
          <button type="submit" className="primary" disabled={busy}>
            {creating ? "Create" : "Save"}
          </button>
        </div>
      </form>
    </main>
  );
}

function appPath(namespace: string, name: string): string {
  return `/applications/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}`;
}

function Crumbs({ target }: { target: EditTarget }) {
  return (
    <nav aria-label="Breadcrumb" className="crumbs">
      <Link to="/applications">Applications</Link>
      {target.mode === "edit" && (
        <>
          {" / "}
          <Link to={appPath(target.namespace, target.name)}>{target.name}</Link>
        </>
      )}
      {" / "}
      <span>{target.mode === "new" ? "New" : "Edit"}</span>
    </nav>
  );
}

function Described(props: {
  id: string;
  help: string | undefined;
  hint: string | undefined;
  error: string | undefined;
}): { node: ReactNode; describedBy: string | undefined } {
  const parts: ReactNode[] = [];
  const ids: string[] = [];
  if (props.error !== undefined) {
    ids.push(`${props.id}-error`);
    parts.push(
      <p key="e" id={`${props.id}-error`} className="field-error">{props.error}</p>,
    );
  } else if (props.hint !== undefined) {
    ids.push(`${props.id}-hint`);
    parts.push(<p key="h" id={`${props.id}-hint`} className="field-note">{props.hint}</p>);
  }
  if (props.help !== undefined) {
    ids.push(`${props.id}-help`);
    parts.push(<p key="help" id={`${props.id}-help`} className="hint">{props.help}</p>);
  }
  return { node: parts, describedBy: ids.length ? ids.join(" ") : undefined };
}

function TextField(props: {
  label: string;
  value: string;
  onChange: (value: string) => void;
  error?: string | undefined;
  hint?: string | undefined;
  help?: string;
  readOnly?: boolean;
  required?: boolean;
  multiline?: boolean;
  list?: string[];
}) {
  const id = useId();
  const listId = `${id}-list`;
  const described = Described({ id, help: props.help, hint: props.hint, error: props.error });
  const common = {
    id,
    value: props.value,
    readOnly: props.readOnly ?? false,
    required: props.required ?? false,
    "aria-invalid": props.error !== undefined,
    "aria-describedby": described.describedBy,
  };
  return (
    <div className="edit-field">
      <label htmlFor={id}>{props.label}</label>
      {props.multiline === true
        ? <textarea {...common} rows={3} onChange={(e) => props.onChange(e.target.value)} />
        : (
          <input {...common} type="text" spellCheck={false} autoComplete="off"
            list={props.list !== undefined ? listId : undefined}
            onChange={(e) => props.onChange(e.target.value)} />
        )}
      {props.list !== undefined && (
        <datalist id={listId}>
          {props.list.map((item) => <option key={item} value={item} />)}
        </datalist>
      )}
      {described.node}
    </div>
  );
}

function SelectField(props: {
  label: string;
  value: string;
  onChange: (value: string) => void;
  options: [string, string][];
  error?: string | undefined;
}) {
  const id = useId();
  const described = Described({ id, help: undefined, hint: undefined, error: props.error });
  return (
    <div className="edit-field">
      <label htmlFor={id}>{props.label}</label>
      <select id={id} value={props.value} aria-invalid={props.error !== undefined}
        aria-describedby={described.describedBy} onChange={(e) => props.onChange(e.target.value)}>
        {props.options.map(([value, label]) => <option key={value} value={value}>{label}</option>)}
      </select>
      {described.node}
    </div>
  );
}

function CheckField(props: {
  label: string;
  checked: boolean;
  onChange: (value: boolean) => void;
  disabled?: boolean;
  error?: string | undefined;
  hint?: string | undefined;
  help?: string;
}) {
  const id = useId();
  const described = Described({ id, help: props.help, hint: props.hint, error: props.error });
  return (
    <div className="edit-check">
      <input id={id} type="checkbox" checked={props.checked} disabled={props.disabled ?? false}
        aria-invalid={props.error !== undefined} aria-describedby={described.describedBy}
        onChange={(e) => props.onChange(e.target.checked)} />
      <label htmlFor={id}>{props.label}</label>
      {described.node}
    </div>
  );
}

/** Where a path of the UI asks for this page, or `null` (`/applications/new`, `.../edit`). */
export function editTarget(pathname: string): EditTarget | null {
  if (/^\/applications\/new\/?$/.test(pathname)) return { mode: "new" };
  const match = /^\/applications\/([^/]+)\/([^/]+)\/edit\/?$/.exec(pathname);
  if (match === null) return null;
  return { mode: "edit", namespace: decode(match[1] ?? ""), name: decode(match[2] ?? "") };
}

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
