// The app list as tiles, virtualised by rows of tiles: as many tiles a row as
// the width holds, and only the rows in view are in the DOM.

import { useVirtualizer } from "@tanstack/react-virtual";
import { useEffect, useRef, useState } from "react";
import { HealthBadge, SyncBadge } from "../components";
import { AppLink, OperationMark, destinationText, revisionText, sourceText } from "./rows";
import type { PageStore } from "./store";

const TILE_MIN_WIDTH = 300;
const TILE_ROW_HEIGHT = 150;

function useColumns(element: HTMLElement | null): number {
  const [columns, setColumns] = useState(1);
  useEffect(() => {
    if (element === null) return undefined;
    const measure = (): void =>
      setColumns(Math.max(1, Math.floor(element.clientWidth / TILE_MIN_WIDTH)));
    measure();
    const observer = new ResizeObserver(measure);
    observer.observe(element);
    return () => observer.disconnect();
  }, [element]);
  return columns;
}

export function AppTiles({ store }: { store: PageStore }) {
  const [scroller, setScroller] = useState<HTMLDivElement | null>(null);
  const scrollerRef = useRef<HTMLDivElement | null>(null);
  scrollerRef.current = scroller;
  const columns = useColumns(scroller);
  const total = store.total ?? 0;
  const virtualizer = useVirtualizer({
    count: Math.ceil(total / columns),
    getScrollElement: () => scrollerRef.current,
    estimateSize: () => TILE_ROW_HEIGHT,
    overscan: 3,
  });
  const items = virtualizer.getVirtualItems();
  const first = (items[0]?.index ?? 0) * columns;
  const last = ((items[items.length - 1]?.index ?? 0) + 1) * columns - 1;
  useEffect(() => store.ensure(first, Math.min(last, total - 1)), [store, first, last, total]);

  return (
    <div ref={setScroller} className="scroller tiles" tabIndex={0} role="list"
      aria-label="Applications (scroll with the arrow keys)">
      <div className="sizer" style={{ height: virtualizer.getTotalSize() }}>
        {items.map((item) => (
          <div
            key={item.key}
            className="tile-row"
            style={{
              height: item.size,
              transform: `translateY(${item.start}px)`,
              gridTemplateColumns: `repeat(${columns}, minmax(0, 1fr))`,
            }}
          >
            {Array.from({ length: columns }, (_, column) => {
              const index = item.index * columns + column;
              if (index >= total) return null;
              const row = store.row(index);
              return (
                <div role="listitem" key={index} className="tile" aria-setsize={total}
                  aria-posinset={index + 1}>
                  {row === undefined
                    ? <p className="muted">Loading…</p>
                    : (
                      <>
                        <h2><AppLink row={row} /></h2>
                        <p className="badges">
                          <SyncBadge status={row.sync} /> <HealthBadge status={row.health} />{" "}
                          <OperationMark row={row} />
                        </p>
                        <dl className="tile-fields">
                          <dt>Project</dt>
                          <dd>{row.project}</dd>
                          <dt>Source</dt>
                          <dd title={sourceText(row)}>{sourceText(row)}</dd>
                          <dt>Destination</dt>
                          <dd>{destinationText(row)}</dd>
                          <dt>Revision</dt>
                          <dd className="mono">{revisionText(row) || "—"}</dd>
                        </dl>
                      </>
                    )}
                </div>
              );
            })}
          </div>
        ))}
      </div>
    </div>
  );
}
