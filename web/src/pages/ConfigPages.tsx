// The configuration around applications: projects, repositories, clusters.
//
// Each is a table of every item (GET /api/v1/projects, /repositories,
// /clusters) and a page per item at a URL of its own (/projects/NAME,
// /repositories/NAME, /clusters/NAME) that can be linked to. What is shown is
// what the API sends, and the API never sends a credential: a repository is
// its URL (without userinfo), type and state; a cluster its server, auth
// method and state. Failures are shown as readable messages.

import { useEffect, useState, type ReactNode } from "react";
import { ApiError, api, type Cluster, type GroupKind, type Project, type Repository } from "../api";
import { ErrorMessage, Field, Time } from "../components";
import { Link } from "../router";
import { useSession } from "../session";

type Loaded<T> = { state: "loading" } | { state: "ok"; value: T } | { state: "error"; error: unknown };

/** `fetch` once per `key`; an answer for an old key (or after unmount) is dropped. */
function useLoaded<T>(key: string, fetch: (signal: AbortSignal) => Promise<T>): Loaded<T> {
  const { expired } = useSession();
  const [loaded, setLoaded] = useState<Loaded<T>>({ state: "loading" });
  useEffect(() => {
    const abort = new AbortController();
    setLoaded({ state: "loading" });
    fetch(abort.signal).then(
      (value) => {
        if (!abort.signal.aborted) setLoaded({ state: "ok", value });
      },
      (error: unknown) => {
        if (abort.signal.aborted) return;
        if (error instanceof ApiError && error.unauthorized) expired();
        setLoaded({ state: "error", error });
      },
    );
    return () => abort.abort();
    // `fetch` may be a new closure on every render: the key says when it asks for something else.
  }, [key, expired]);
  return loaded;
}

function useTitle(title: string): void {
  useEffect(() => {
    document.title = `${title} · driftless`;
  }, [title]);
}

/** The list or the one item of a config page, with loading and error states. */
function Frame<T>(props: {
  title: string;
  what: string;
  loaded: Loaded<T>;
  children: (value: T) => ReactNode;
}) {
  useTitle(props.title);
  const { loaded } = props;
  return (
    <main className="page config-page">
      <h1>{props.title}</h1>
      {loaded.state === "loading" && <p className="muted" aria-busy="true">Loading…</p>}
      {loaded.state === "error" && (
        <ErrorMessage error={loaded.error} title={`Cannot load ${props.what}`} />
      )}
      {loaded.state === "ok" && props.children(loaded.value)}
    </main>
  );
}

/** The page of one item: its fields, or a message naming what is missing. */
function ItemPage(props: {
  kind: string;
  listPath: string;
  listTitle: string;
  name: string;
  found: boolean;
  children: ReactNode;
}) {
  return (
    <>
      <p className="crumbs">
        <Link to={props.listPath}>{props.listTitle}</Link> / {props.name}
      </p>
      {props.found ? props.children : (
        <div role="alert" className="error-box">
          <strong>Not found: </strong>
          there is no {props.kind} named <code>{props.name}</code>.{" "}
          <Link to={props.listPath}>See all {props.listTitle.toLowerCase()}</Link>.
        </div>
      )}
    </>
  );
}

function StateText({ status, message }: { status: string; message: string }) {
  const ok = status === "Ok";
  return (
    <span className={ok ? "cond-True" : "cond-False"}>
      {ok ? "Ok" : `${status}: ${message || "unusable"}`}
    </span>
  );
}

function Lines({ values, empty }: { values: string[]; empty: string }) {
  if (values.length === 0) return <span className="muted">{empty}</span>;
  return (
    <ul>
      {values.map((value, index) => <li key={`${index}:${value}`}>{value}</li>)}
    </ul>
  );
}

const seg = encodeURIComponent;

// -- projects -------------------------------------------------------------

interface ProjectWithCount {
  project: Project;
  apps: number | null; // null: the count could not be read
}

function groupKinds(list: GroupKind[] | null | undefined): string[] {
  return (list ?? []).map((gk) => (gk.group ? `${gk.kind}.${gk.group}` : gk.kind));
}

function destinations(project: Project): string[] {
  return (project.spec?.destinations ?? []).map(
    (d) => `${d.server || "*"} → ${d.namespace || "*"}`,
  );
}

async function projectsWithCounts(signal: AbortSignal): Promise<ProjectWithCount[]> {
  const list = await api.projects(signal);
  // One page of one row per project: the server counts from memory, and projects are few.
  return Promise.all(
    list.items.map(async (project) => {
      const query = new URLSearchParams({ project: project.metadata.name, limit: "1" });
      try {
        return { project, apps: (await api.applications(query.toString(), signal)).total };
      } catch (error) {
        if (error instanceof ApiError && error.unauthorized) throw error;
        return { project, apps: null };
      }
    }),
  );
}

function AppsOfProject({ item }: { item: ProjectWithCount }) {
  if (item.apps === null) return <span className="muted">unknown</span>;
  const to = `/applications?${new URLSearchParams({ project: item.project.metadata.name })}`;
  return <Link to={to}>{item.apps} {item.apps === 1 ? "application" : "applications"}</Link>;
}

export function ProjectsPage({ name }: { name?: string | undefined }) {
  const loaded = useLoaded("projects", projectsWithCounts);
  return (
    <Frame title={name ?? "Projects"} what="projects" loaded={loaded}>
      {(items) => {
        if (name !== undefined) {
          const item = items.find((i) => i.project.metadata.name === name);
          return (
            <ItemPage kind="project" listPath="/projects" listTitle="Projects" name={name}
              found={item !== undefined}>
              {item !== undefined && <ProjectFields item={item} />}
            </ItemPage>
          );
        }
        if (items.length === 0) return <p className="empty">There are no projects yet.</p>;
        return (
          <table className="plain card" aria-label="Projects">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Description</th>
                <th scope="col">Source repositories allowed</th>
                <th scope="col">Destinations allowed</th>
                <th scope="col">Applications</th>
              </tr>
            </thead>
            <tbody>
              {items.map((item) => (
                <tr key={item.project.metadata.name}>
                  <th scope="row">
                    <Link to={`/projects/${seg(item.project.metadata.name)}`}>
                      {item.project.metadata.name}
                    </Link>
                  </th>
                  <td>{item.project.spec?.description ?? ""}</td>
                  <td><Lines values={item.project.spec?.sourceRepos ?? []} empty="none" /></td>
                  <td><Lines values={destinations(item.project)} empty="none" /></td>
                  <td><AppsOfProject item={item} /></td>
                </tr>
              ))}
            </tbody>
          </table>
        );
      }}
    </Frame>
  );
}

function ProjectFields({ item }: { item: ProjectWithCount }) {
  const spec = item.project.spec ?? {};
  return (
    <section className="card" aria-label="Project">
      <dl className="fields">
        <Field label="Description">{spec.description ?? ""}</Field>
        <Field label="Applications"><AppsOfProject item={item} /></Field>
        <Field label="Source repositories allowed">
          <Lines values={spec.sourceRepos ?? []} empty="none" />
        </Field>
        <Field label="Destinations allowed (server → namespace)">
          <Lines values={destinations(item.project)} empty="none" />
        </Field>
        <Field label="Application namespaces allowed">
          <Lines values={spec.sourceNamespaces ?? []} empty="the controller's namespace only" />
        </Field>
        <Field label="Cluster-scoped kinds allowed">
          <Lines values={groupKinds(spec.clusterResourceAllowList)} empty="none" />
        </Field>
        <Field label="Namespaced kinds denied">
          <Lines values={groupKinds(spec.namespaceResourceDenyList)} empty="none" />
        </Field>
        <Field label="Helm lookup">
          {spec.allowHelmLookup === true
            ? "allowed: its apps' charts may read live objects (read-only, never Secrets)"
            : "not allowed"}
        </Field>
      </dl>
    </section>
  );
}

// -- repositories ---------------------------------------------------------

interface RepositoryWithCount {
  repository: Repository;
  apps: number | null;
}

async function repositoriesWithCounts(signal: AbortSignal): Promise<RepositoryWithCount[]> {
  const list = await api.repositories(signal);
  return Promise.all(
    list.items.map(async (repository) => {
      const query = new URLSearchParams({ repo: repository.url, limit: "1" });
      try {
        return { repository, apps: (await api.applications(query.toString(), signal)).total };
      } catch (error) {
        if (error instanceof ApiError && error.unauthorized) throw error;
        return { repository, apps: null };
      }
    }),
  );
}

/** The repository's count, linking to the app list filtered to it. */
function AppsOfRepository({ item }: { item: RepositoryWithCount }) {
  if (item.apps === null) return <span className="muted">unknown</span>;
  const to = `/applications?${new URLSearchParams({ repo: item.repository.url })}`;
  return <Link to={to}>{appCount(item.apps)}</Link>;
}

export function RepositoriesPage({ name }: { name?: string | undefined }) {
  const loaded = useLoaded("repositories", repositoriesWithCounts);
  return (
    <Frame title={name ?? "Repositories"} what="repositories" loaded={loaded}>
      {(counted) => {
        if (name !== undefined) {
          const found = counted.find((r) => r.repository.name === name);
          const item = found?.repository;
          return (
            <ItemPage kind="repository credential" listPath="/repositories"
              listTitle="Repositories" name={name} found={found !== undefined}>
              {found !== undefined && item !== undefined && (
                <section className="card" aria-label="Repository">
                  <dl className="fields">
                    <Field label="URL"><code>{item.url}</code></Field>
                    <Field label="Type">{item.type}</Field>
                    <Field label="SSH known hosts">{item.knownHosts}</Field>
                    <Field label="State"><StateText status={item.status} message={item.message} /></Field>
                    <Field label="Credential Secret">{item.namespace}/{item.name}</Field>
                    <Field label="Applications from it"><AppsOfRepository item={found} /></Field>
                    <Field label="Created"><Time value={item.created} /></Field>
                  </dl>
                </section>
              )}
            </ItemPage>
          );
        }
        if (counted.length === 0) {
          return (
            <p className="empty">
              No repository credentials. Public repositories need none; add one with
              {" "}<code>driftless repo add</code>.
            </p>
          );
        }
        return (
          <table className="plain card" aria-label="Repositories">
            <thead>
              <tr>
                <th scope="col">URL</th>
                <th scope="col">Type</th>
                <th scope="col">SSH known hosts</th>
                <th scope="col">State</th>
                <th scope="col">Credential Secret</th>
                <th scope="col">Applications</th>
              </tr>
            </thead>
            <tbody>
              {counted.map(({ repository: item, apps }) => (
                <tr key={`${item.namespace}/${item.name}`}>
                  <th scope="row">
                    <Link to={`/repositories/${seg(item.name)}`}>{item.url}</Link>
                  </th>
                  <td>{item.type}</td>
                  <td>{item.knownHosts}</td>
                  <td className="message"><StateText status={item.status} message={item.message} /></td>
                  <td>{item.namespace}/{item.name}</td>
                  <td><AppsOfRepository item={{ repository: item, apps }} /></td>
                </tr>
              ))}
            </tbody>
          </table>
        );
      }}
    </Frame>
  );
}

// -- clusters -------------------------------------------------------------

interface ClusterWithCount {
  cluster: Cluster;
  apps: number | null;
}

async function clustersWithCounts(signal: AbortSignal): Promise<ClusterWithCount[]> {
  const list = await api.clusters(signal);
  return Promise.all(
    list.items.map(async (cluster) => {
      const query = destinationQuery(cluster);
      query.set("limit", "1");
      try {
        return { cluster, apps: (await api.applications(query.toString(), signal)).total };
      } catch (error) {
        if (error instanceof ApiError && error.unauthorized) throw error;
        return { cluster, apps: null };
      }
    }),
  );
}

/** Apps name their destination by server URL or by cluster name: either counts. */
function destinationQuery(cluster: Cluster): URLSearchParams {
  const query = new URLSearchParams();
  if (cluster.server !== "-") query.append("destination", cluster.server);
  query.append("destination", cluster.name);
  return query;
}

/** The cluster's count, linking to the app list filtered to the same destinations. */
function AppsOfCluster({ cluster, apps }: ClusterWithCount) {
  if (apps === null) return <span className="muted">unknown</span>;
  return <Link to={`/applications?${destinationQuery(cluster)}`}>{appCount(apps)}</Link>;
}

function secretOf(cluster: Cluster): string {
  return cluster.secret === null ? "built in" : `${cluster.namespace ?? ""}/${cluster.secret}`;
}

function appCount(apps: number | null): string {
  return apps === null ? "unknown" : `${apps} ${apps === 1 ? "application" : "applications"}`;
}

export function ClustersPage({ name }: { name?: string | undefined }) {
  const loaded = useLoaded("clusters", clustersWithCounts);
  return (
    <Frame title={name ?? "Clusters"} what="clusters" loaded={loaded}>
      {(items) => {
        if (name !== undefined) {
          const found = items.filter((c) => c.cluster.name === name);
          return (
            <ItemPage kind="cluster" listPath="/clusters" listTitle="Clusters" name={name}
              found={found.length > 0}>
              {found.map(({ cluster, apps }) => (
                <section className="card" aria-label="Cluster" key={secretOf(cluster)}>
                  <dl className="fields">
                    <Field label="Server"><code>{cluster.server}</code></Field>
                    <Field label="Authentication">{cluster.auth}</Field>
                    <Field label="State">
                      <StateText status={cluster.status} message={cluster.message} />
                    </Field>
                    <Field label="Applications deploying to it">
                      <AppsOfCluster cluster={cluster} apps={apps} />
                    </Field>
                    <Field label="Cluster Secret">{secretOf(cluster)}</Field>
                    <Field label="Created"><Time value={cluster.created} /></Field>
                  </dl>
                </section>
              ))}
            </ItemPage>
          );
        }
        return (
          <table className="plain card" aria-label="Clusters">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Server</th>
                <th scope="col">Authentication</th>
                <th scope="col">State</th>
                <th scope="col">Applications</th>
                <th scope="col">Cluster Secret</th>
              </tr>
            </thead>
            <tbody>
              {items.map(({ cluster, apps }) => (
                <tr key={secretOf(cluster)}>
                  <th scope="row">
                    <Link to={`/clusters/${seg(cluster.name)}`}>{cluster.name}</Link>
                  </th>
                  <td><code>{cluster.server}</code></td>
                  <td>{cluster.auth}</td>
                  <td className="message">
                    <StateText status={cluster.status} message={cluster.message} />
                  </td>
                  <td><AppsOfCluster cluster={cluster} apps={apps} /></td>
                  <td>{secretOf(cluster)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        );
      }}
    </Frame>
  );
}
