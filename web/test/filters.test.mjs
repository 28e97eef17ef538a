// Tables for src/filters.ts (pure): what a page URL's query means as filters,
// and the query the list API and the page URL get back. Run by `npm test`
// (node's own test runner on the compiled module; no test framework).
import assert from "node:assert/strict";
import { test } from "node:test";
import { apiQuery, pageQuery, parseFilters, toggled, urlQuery } from "../.test-build/filters.js";

const DEFAULTS = {
  project: [],
  sync: [],
  health: [],
  namespace: [],
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
