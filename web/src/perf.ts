// Performance marks the browser tests read: `driftless:list-interactive` is
// set once per page load, when the app list first shows rows (or says it has
// none) with its handlers attached. Its startTime is the time from navigation.

const LIST_INTERACTIVE = "driftless:list-interactive";
let marked = false;

export function markListInteractive(): void {
  if (marked) return;
  marked = true;
  performance.mark(LIST_INTERACTIVE);
}
