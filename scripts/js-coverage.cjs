// Instruments the pages' script with istanbul, and merges and reports the counters the
// browser tests saved (see scripts/js-coverage).
"use strict";
const fs = require("fs");
const path = require("path");

// Added to the instrumented script: before a page goes away (a reload, a link, a redirect the
// script makes), its counters are kept in localStorage, where the test harness collects them.
const KEEP_ON_LEAVE = `
window.addEventListener("pagehide", () => {
  try { localStorage.setItem("__coverage__" + Date.now() + Math.random(), JSON.stringify(window.__coverage__)); } catch (e) {}
});
`;

function instrument(input, output) {
  const { createInstrumenter } = require("istanbul-lib-instrument");
  const source = fs.readFileSync(input, "utf8");
  // Reported under the source's path, so the summary names src/ui/assets/app.js.
  // No `new Function(...)` to find the global object: the pages' CSP forbids eval.
  const code = createInstrumenter({
    coverageVariable: "__coverage__", esModules: false,
    coverageGlobalScope: "window", coverageGlobalScopeFunc: false,
  })
    .instrumentSync(source, path.resolve(input));
  fs.writeFileSync(output, code + KEEP_ON_LEAVE);
}

function report(dir, minimum) {
  const libCoverage = require("istanbul-lib-coverage");
  const libReport = require("istanbul-lib-report");
  const reports = require("istanbul-reports");
  const map = libCoverage.createCoverageMap({});
  const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith(".json")) : [];
  for (const file of files) map.merge(JSON.parse(fs.readFileSync(path.join(dir, file), "utf8")));
  if (files.length === 0) {
    console.error("js coverage: no counters were saved; did the browser tests run with the instrumented script?");
    process.exit(1);
  }
  const context = libReport.createContext({ dir: path.join(dir, "..", "report"), coverageMap: map });
  reports.create("text").execute(context);
  reports.create("html").execute(context);
  const lines = map.getCoverageSummary().lines.pct;
  console.log(`js coverage: ${lines}% of the lines of the page script (${files.length} page loads), minimum ${minimum}%`);
  if (lines < minimum) process.exit(1);
}

const [command, a, b] = process.argv.slice(2);
if (command === "instrument") instrument(a, b);
else if (command === "report") report(a, Number(b));
else { console.error("usage: js-coverage.cjs instrument IN OUT | report DIR MINIMUM"); process.exit(2); }
