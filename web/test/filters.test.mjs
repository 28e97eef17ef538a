// Tables for src/filters.ts (pure): what a page URL's query means as filters,
// and the query the list API and the page URL get back. Run by `npm test`
// (node's own test runner on the compiled module; no test framework).
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  apiQuery, isFiltered, pageQuery, parseFilters, toggled, urlQuery,
} from "../.test-build/filters.js";

const DEFAULTS = {
  project: [],
  sync: [],
  health: [],
  namespace: [],
  repo: [],
  destination: [],
  selector: "",
  search: "",
  sort: "name",
  view: "table",
};

const PARSED = [
  ["", {}],
  ["?sync=OutOfSync&view=tiles", { sync: ["OutOfSync"], view: "tiles" }],
  ["?sync=Synced,OutOfSync&sync=Synced", { sync: ["Synced", "OutOfSync"] }],
  ["?health=Degraded&health=Missing", { health: ["Degraded", "Missing"] }],
  ["?project=team-a&project=team-b&namespace=apps", {
    project: ["team-a", "team-b"],
    namespace: ["apps"],
  }],
  ["?search=%20web%20&sort=-reconciledAt", { search: "web", sort: "-reconciledAt" }],
  // Deep links the API understands: kept, never silently dropped.
  ["?destination=in-cluster&destination=https://kube.example:6443", {
    destination: ["in-cluster", "https://kube.example:6443"],
  }],
  ["?repo=https%3A%2F%2Fgit.example.com%2Fteam%2Fr.git", { repo: ["https://git.example.com/team/r.git"] }],
  ["?selector=team%3Da,tier!%3Ddb&selector=%20canary%20", { selector: "team=a,tier!=db,canary" }],
  [`?repo=https://g.example/${"x".repeat(5000)}`, { repo: [`https://g.example/${"x".repeat(1024 - 18)}`] }],
  [`?selector=${"k".repeat(5000)}`, { selector: "k".repeat(1024) }],
  // Hostile or unknown values: dropped, never passed on.
  ["?sync=<script>alert(1)</script>&health=Fine", {}],
  ["?sort=evil&view=<b>", {}],
  ["?project=,,%20,", {}],
  [`?search=${"x".repeat(5000)}`, { search: "x".repeat(253) }],
  [`?project=${Array.from({ length: 500 }, (_, i) => `p${i}`).join(",")}`, {
    project: Array.from({ length: 50 }, (_, i) => `p${i}`),
  }],
];

for (const [search, expected] of PARSED) {
  test(`parseFilters(${JSON.stringify(search.slice(0, 60))})`, () => {
    assert.deepEqual(parseFilters(search), { ...DEFAULTS, ...expected });
  });
}

const QUERIES = [
  [{}, "", ""],
  [{ sync: ["OutOfSync"], view: "tiles" }, "sync=OutOfSync", "?sync=OutOfSync&view=tiles"],
  [{ project: ["a", "b"], search: "w b" }, "project=a&project=b&search=w+b",
    "?project=a&project=b&search=w+b"],
  [{ sort: "-name" }, "sort=-name", "?sort=-name"],
  [{ search: "a&b=c" }, "search=a%26b%3Dc", "?search=a%26b%3Dc"],
  [{ destination: ["prod"], repo: ["https://g.example/r.git"], selector: "team=a,!legacy" },
    "repo=https%3A%2F%2Fg.example%2Fr.git&destination=prod&selector=team%3Da%2C%21legacy",
    "?repo=https%3A%2F%2Fg.example%2Fr.git&destination=prod&selector=team%3Da%2C%21legacy"],
];

for (const [filters, api, url] of QUERIES) {
  test(`queries of ${JSON.stringify(filters)}`, () => {
    const all = { ...DEFAULTS, ...filters };
    assert.equal(apiQuery(all), api);
    assert.equal(urlQuery(all), url);
    assert.deepEqual(parseFilters(url), all, "the page URL reads back as the same filters");
  });
}

test("pageQuery adds the page", () => {
  assert.equal(pageQuery({ ...DEFAULTS, sync: ["Synced"] }, 200, 100), "sync=Synced&offset=200&limit=100");
});

test("toggled adds or removes one value", () => {
  assert.deepEqual(toggled(["a"], "b"), ["a", "b"]);
  assert.deepEqual(toggled(["a", "b"], "a"), ["b"]);
});

test("isFiltered counts every filter, and only filters", () => {
  assert.equal(isFiltered(DEFAULTS), false);
  assert.equal(isFiltered({ ...DEFAULTS, sort: "-name", view: "tiles" }), false);
  for (const extra of [{ repo: ["r"] }, { destination: ["d"] }, { selector: "a=b" }, { search: "s" },
    { namespace: ["n"] }]) {
    assert.equal(isFiltered({ ...DEFAULTS, ...extra }), true, JSON.stringify(extra));
  }
});
