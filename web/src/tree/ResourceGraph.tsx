// The resource tree as a left-to-right graph: SVG edges under positioned
// nodes. Each node is a link to its own URL (so Tab reaches it, Enter opens
// it, and it can be opened in a new tab), its health and sync shown as text
// with their colour. Closing a node's panel gives the focus back to its node.

import { useEffect, useMemo, useRef } from "react";
import type { TreeNode } from "../api";
import { HealthBadge, SyncBadge } from "../components";
import { Link } from "../router";
import { SIZES, layoutTree } from "./layout";
import { appURL, resourceKey, sameResource, type ResourceRef } from "./resourceRef";

interface Props {
  namespace: string;
  app: string;
  nodes: TreeNode[];
  selected: ResourceRef | null;
}

export function ResourceGraph({ namespace, app, nodes, selected }: Props) {
  const layout = useMemo(() => layoutTree(nodes), [nodes]);
  const byUid = useMemo(() => new Map(nodes.map((n) => [n.uid, n])), [nodes]);
  const canvas = useRef<HTMLDivElement>(null);
  const lastSelected = useRef<string | null>(null);
  useEffect(() => {
    const key = selected === null ? null : resourceKey(selected);
    if (key === null && lastSelected.current !== null) {
      for (const link of canvas.current?.querySelectorAll<HTMLElement>("[data-key]") ?? []) {
        if (link.dataset.key === lastSelected.current) link.focus();
      }
    }
    lastSelected.current = key;
  }, [selected]);
  return (
    <div className="tree-graph" role="group" aria-label="Resource tree">
      <div className="tree-canvas" ref={canvas} style={{ width: layout.width, height: layout.height }}>
        <svg className="tree-edges" width={layout.width} height={layout.height} aria-hidden="true">
          {layout.edges.map((e) => <path key={`${e.from}>${e.to}`} d={e.path} />)}
        </svg>
        {layout.nodes.map((placed) => {
          const node = byUid.get(placed.uid) as TreeNode;
          const health = node.health?.status || null;
          const isSelected = selected !== null && sameResource(selected, node);
          return (
            <Link
              key={node.uid}
              to={appURL(namespace, app, node)}
              data-key={resourceKey(node)}
              className={`tree-node tree-health-${(health ?? "none").replace(/[^A-Za-z]/g, "")}`}
              style={{
                left: placed.x,
                top: placed.y,
                width: SIZES.nodeWidth,
                height: SIZES.nodeHeight,
              }}
              aria-current={isSelected ? "true" : undefined}
              title={node.health?.message || undefined}
            >
              <span className="tree-kind">{node.kind}</span>{" "}
              <span className="tree-name">{node.name}</span>{" "}
              <span className="tree-status">
                {health !== null && <HealthBadge status={health} />}
                {node.sync !== null && <> <SyncBadge status={node.sync} /></>}
              </span>
            </Link>
          );
        })}
      </div>
    </div>
  );
}
