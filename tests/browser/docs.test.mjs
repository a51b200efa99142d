// GET /docs in a real browser (make browser-test; scripts/browser-test.sh
// starts snippetd and sets SNIPPETD_URL): Debian's Chromium, driven by
// playwright-core. Fails on any console error, page error, CSP violation,
// failed or >= 400 request, or request to a host other than loopback
// (aborted: the page must work offline); checks that every operation of
// /openapi.json is listed, and writes target/browser/docs.png.
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const base = process.env.SNIPPETD_URL;
if (!base) throw new Error("SNIPPETD_URL is not set (run scripts/browser-test.sh)");
const out = resolve(dirname(fileURLToPath(import.meta.url)), "../../target/browser");
mkdirSync(out, { recursive: true });

const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]"]);
const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];
const problems = [];
const fail = (what) => problems.push(what);

// The document, as the page will read it.
const doc = await (await fetch(`${base}/openapi.json`)).json();
const operations = Object.entries(doc.paths).flatMap(([path, item]) =>
  METHODS.filter((m) => item[m]).map((m) => ({ method: m.toUpperCase(), path, ...item[m] })),
);
if (operations.length === 0) throw new Error("the document has no operations");

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  // Without the background-networking flags Chromium calls Google's hosts
  // at start, which this machine's closed network refuses.
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
  ],
});
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  // Recorded by the page itself, CSP reports included even when a library
  // catches the error it causes. Init scripts are not subject to the CSP.
  await page.addInitScript(() => {
    window.__csp = [];
    document.addEventListener("securitypolicyviolation", (e) =>
      window.__csp.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"}`),
    );
  });
  page.on("console", (m) => m.type() === "error" && fail(`console error: ${m.text()}`));
  page.on("pageerror", (e) => fail(`page error: ${e.message}`));
  page.on("requestfailed", (r) => fail(`request failed: ${r.url()} ${r.failure()?.errorText}`));
  page.on("response", (r) => r.status() >= 400 && fail(`HTTP ${r.status()}: ${r.url()}`));
  await page.route("**/*", (route) => {
    const url = new URL(route.request().url());
    if (url.protocol === "data:" || LOOPBACK.has(url.hostname)) return route.continue();
    fail(`request to a non-loopback host: ${url.href}`);
    return route.abort("blockedbyclient");
  });

  const resp = await page.goto(`${base}/docs`, { waitUntil: "networkidle" });
  const h = resp.headers();
  if (resp.status() !== 200) fail(`/docs answered ${resp.status()}`);
  if (!h["content-type"]?.startsWith("text/html")) fail(`/docs content-type ${h["content-type"]}`);
  if (h["x-content-type-options"] !== "nosniff") fail("/docs: no nosniff");
  const csp = h["content-security-policy"] || "";
  if (!csp.includes("script-src 'self'") || csp.includes("unsafe-eval")) fail(`/docs CSP: ${csp}`);

  // Every operation rendered: one block per operation, each naming its id.
  await page.waitForSelector(".opblock", { timeout: 20_000 });
  await page.waitForFunction((n) => document.querySelectorAll(".opblock").length >= n, operations.length, {
    timeout: 20_000,
  });
  const blocks = await page.$$eval(".opblock", (els) => els.map((e) => e.innerText));
  if (blocks.length !== operations.length) {
    fail(`${blocks.length} operations rendered, the document has ${operations.length}`);
  }
  for (const op of operations) {
    const name = op.operationId || op.summary;
    const shown = blocks.some((t) => t.includes(name) && t.includes(op.path) && t.includes(op.method));
    if (!shown) fail(`operation not listed: ${op.method} ${op.path} (${name})`);
  }
  await page.screenshot({ path: `${out}/docs.png`, fullPage: true });

  // Open every operation: its parameters, bodies and highlighted examples
  // render only then, and must obey the CSP too. Clicked from the page in
  // one go: Playwright's own clicks (scroll, wait, click) took 40 s here.
  await page.$$eval(".opblock-summary-control", (els) => els.forEach((e) => e.click()));
  // Polled from here: page.waitForFunction never completed after the
  // full-page screenshot (its log stayed empty), though the blocks opened.
  const openBy = Date.now() + 20_000;
  let open = 0;
  while ((open = await page.$$eval(".opblock.is-open", (els) => els.length)) < operations.length) {
    if (Date.now() > openBy) {
      fail(`${open} of ${operations.length} operations opened`);
      break;
    }
    await page.waitForTimeout(100);
  }
  await page.waitForLoadState("networkidle");
  for (const v of await page.evaluate(() => window.__csp)) fail(`CSP violation: ${v}`);

  console.log(`browser-test: /docs lists all ${operations.length} operations; screenshot ${out}/docs.png`);
} finally {
  await browser.close();
}
if (problems.length) {
  console.error(`browser-test: ${problems.length} problem(s):\n  ${problems.join("\n  ")}`);
  process.exit(1);
}
console.log("browser-test: no console errors, no failed or non-loopback requests");
