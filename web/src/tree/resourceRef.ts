// Pure: naming one object of an app's resource tree, as the page URL keeps it.
//
// A node's deep link is `/applications/<ns>/<app>?resource=<group>/<kind>/<ns>/<name>`
// (the core group and a cluster-scoped object's namespace are empty segments,
// e.g. `/Pod/web/web-1`, `rbac.authorization.k8s.io/ClusterRole//viewer`).
// What a URL holds is read defensively: anything that is not a well-formed
// reference is null, never a request built from it.

/** Which object: the four coordinates the tree, the resource API and Events share. */
export interface ResourceRef {
  group: string;
  kind: string;
  namespace: string;
  name: string;
}

const GROUP = /^$|^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/;
const KIND = /^[A-Za-z][A-Za-z0-9]{0,62}$/;
const NAMESPACE = /^$|^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
// Object names are DNS subdomains for most kinds; RBAC and a few others allow ':' and more.
const NAME = /^[A-Za-z0-9]([A-Za-z0-9._:@-]{0,251}[A-Za-z0-9])?$/;

/** The `resource` parameter's value: `<group>/<kind>/<namespace>/<name>`. */
export function resourceKey(ref: ResourceRef): string {
  return `${ref.group}/${ref.kind}/${ref.namespace}/${ref.name}`;
}

/** The reference a `resource` parameter names, or null when it is not one. */
export function parseResourceKey(key: string | null): ResourceRef | null {
  if (key === null || key.length > 600) return null;
  const parts = key.split("/");
  if (parts.length !== 4) return null;
  const [group = "", kind = "", namespace = "", name = ""] = parts;
  if (!GROUP.test(group) || !KIND.test(kind) || !NAMESPACE.test(namespace) || !NAME.test(name)) {
    return null;
  }
  return { group, kind, namespace, name };
}

/** The page URL of an app, with one of its objects selected when `ref` is given. */
export function appURL(namespace: string, app: string, ref?: ResourceRef | null): string {
  const page = `/applications/${encodeURIComponent(namespace)}/${encodeURIComponent(app)}`;
  if (ref === undefined || ref === null) return page;
  const key = [ref.group, ref.kind, ref.namespace, ref.name].map(encodeURIComponent).join("/");
  return `${page}?resource=${key}`;
}

/** The reference selected by a page URL's query (`?resource=...`), or null. */
export function selectedResource(search: string): ResourceRef | null {
  return parseResourceKey(new URLSearchParams(search).get("resource"));
}

export function sameResource(a: ResourceRef, b: ResourceRef): boolean {
  return a.group === b.group && a.kind === b.kind && a.namespace === b.namespace &&
    a.name === b.name;
}

/** How a person reads a reference: `Deployment web/api`, `ClusterRole viewer`. */
export function resourceLabel(ref: ResourceRef): string {
  return `${ref.kind} ${ref.namespace === "" ? "" : `${ref.namespace}/`}${ref.name}`;
}

/** The events about one object (an event names its object by kind, namespace and name). */
export function eventsOf<E extends { object: { kind: string; namespace?: string | null; name: string } }>(
  events: readonly E[],
  ref: ResourceRef,
): E[] {
  return events.filter((e) =>
    e.object.kind === ref.kind && (e.object.namespace ?? "") === ref.namespace &&
    e.object.name === ref.name
  );
}
