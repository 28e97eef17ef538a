// The app list as a table whose rows are virtualised: only the rows in view
// (plus a few) are in the DOM, and their pages are fetched as they come into
// view, so 10,000 apps scroll like 30.

import { useVirtualizer } from "@tanstack/react-virtual";
import { useEffect, useRef } from "react";
import { HealthBadge, SyncBadge, Time } from "../components";
import { AppLink, OperationMark, destinationText, revisionText, sourceText } from "./rows";
import type { PageStore } from "./store";

const ROW_HEIGHT = 40;
const COLUMNS = [
  "Name",
  "Project",
  "Sync",
  "Health",
  "Source",
  "Destination",
  "Revision",
  "Reconciled",
];

export function AppTable({ store }: { store: PageStore }) {
  const scroller = useRef<HTMLDivElement>(null);
  const count = store.total ?? 0;
  const virtualizer = useVirtualizer({
    count,
    getScrollElement: () => scroller.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 10,
  });
  const items = virtualizer.getVirtualItems();
  const first = items[0]?.index ?? 0;
  const last = items[items.length - 1]?.index ?? 0;
  useEffect(() => store.ensure(first, last), [store, first, last]);

  return (
    <div role="table" aria-label="Applications" aria-rowcount={count + 1} className="app-table">
      <div role="rowgroup" className="thead">
        <div role="row" aria-rowindex={1} className="tr">
          {COLUMNS.map((title) => (
            <div role="columnheader" key={title} className={`td col-${title.toLowerCase()}`}>
              {title}
            </div>
          ))}
        </div>
      </div>
      <div ref={scroller} className="scroller" tabIndex={0} role="rowgroup"
        aria-label="Application rows (scroll with the arrow keys)">
        <div className="sizer" style={{ height: virtualizer.getTotalSize() }}>
          {items.map((item) => {
            const row = store.row(item.index);
            return (
              <div
                role="row"
                aria-rowindex={item.index + 2}
                key={item.key}
                className="tr"
                style={{ height: item.size, transform: `translateY(${item.start}px)` }}
              >
                {row === undefined
                  ? <div role="cell" className="td loading-row">Loading…</div>
                  : (
                    <>
                      <div role="cell" className="td col-name"><AppLink row={row} /></div>
                      <div role="cell" className="td col-project">{row.project}</div>
                      <div role="cell" className="td col-sync">
                        <SyncBadge status={row.sync} /> <OperationMark row={row} />
                      </div>
                      <div role="cell" className="td col-health">
                        <HealthBadge status={row.health} />
                      </div>
                      <div role="cell" className="td col-source" title={sourceText(row)}>
                        {sourceText(row)}
                      </div>
                      <div role="cell" className="td col-destination">{destinationText(row)}</div>
                      <div role="cell" className="td col-revision mono">{revisionText(row)}</div>
                      <div role="cell" className="td col-reconciled">
                        <Time value={row.reconciledAt} />
                      </div>
                    </>
                  )}
              </div>
            );
          })}
        </div>
      </div>
    </div>
  );
}
