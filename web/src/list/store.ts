// The rows of one filtered, sorted app list, fetched page by page as they
// scroll into view: the list never asks the server for every app at once, so
// 10,000 apps cost what the visible ~30 rows cost.
//
// A store belongs to one query (filters + sort); a new query gets a new
// store, and answers for a disposed store are dropped, so a slow answer to an
// old filter can never overwrite the rows of the current one.

import { ApiError, api, type AppRow, type StatusCounts } from "../api";
import { pageQuery, type Filters } from "../filters";

export const PAGE_SIZE = 100;

export class PageStore {
  total: number | null = null;
  counts: StatusCounts | null = null;
  error: unknown = null;

  private readonly pages = new Map<number, AppRow[]>();
  private readonly inflight = new Set<number>();
  private readonly abort = new AbortController();
  private visible: [number, number] = [0, 0];

  constructor(
    private readonly filters: Filters,
    private readonly changed: () => void,
    private readonly unauthorized: () => void,
  ) {}

  dispose(): void {
    this.abort.abort();
  }

  /** The row at `index` of the whole list, if its page is loaded. */
  row(index: number): AppRow | undefined {
    return this.pages.get(Math.floor(index / PAGE_SIZE))?.[index % PAGE_SIZE];
  }

  /** Load the pages holding rows `first`..`last` (the visible range) if they are not loaded. */
  ensure(first: number, last: number): void {
    this.visible = [first, Math.max(first, last)];
    for (const page of this.pagesOf(first, last)) {
      if (!this.pages.has(page) && !this.inflight.has(page)) void this.load(page);
    }
  }

  /**
   * Fetch again what is on screen (after live changes: rows may have moved,
   * appeared or left the filter), and forget pages far from it.
   */
  refresh(): void {
    const wanted = new Set(this.pagesOf(...this.visible));
    for (const page of [...this.pages.keys()]) {
      if (!wanted.has(page)) this.pages.delete(page);
    }
    for (const page of wanted) void this.load(page);
  }

  /** Put a changed row in place where it is loaded; true if it was. */
  patch(row: AppRow): boolean {
    let found = false;
    for (const rows of this.pages.values()) {
      const at = rows.findIndex((r) => r.namespace === row.namespace && r.name === row.name);
      if (at >= 0) {
        rows[at] = row;
        found = true;
      }
    }
    if (found) this.changed();
    return found;
  }

  private pagesOf(first: number, last: number): number[] {
    const from = Math.floor(Math.max(0, first) / PAGE_SIZE);
    const to = Math.floor(Math.max(0, last) / PAGE_SIZE);
    const pages: number[] = [];
    for (let page = from; page <= to; page += 1) pages.push(page);
    return pages;
  }

  private async load(page: number): Promise<void> {
    this.inflight.add(page);
    this.changed();
    try {
      const list = await api.applications(
        pageQuery(this.filters, page * PAGE_SIZE, PAGE_SIZE),
        this.abort.signal,
      );
      if (this.abort.signal.aborted) return;
      this.pages.set(page, list.items);
      this.total = list.total;
      this.counts = list.counts;
      this.error = null;
    } catch (error) {
      if (this.abort.signal.aborted) return;
      if (error instanceof ApiError && error.unauthorized) this.unauthorized();
      this.error = error;
    } finally {
      this.inflight.delete(page);
      if (!this.abort.signal.aborted) this.changed();
    }
  }
}
