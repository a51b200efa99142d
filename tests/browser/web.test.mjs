// The pages for people (src/web/, issue 34) in a real browser (make
// browser-test; scripts/browser-test.sh starts snippetd, sets SNIPPETD_URL
// and SNIPPETD_TOKEN): Debian's Chromium, driven by playwright-core.
// Every page type at 1280, 375 and 360 px, JavaScript on and off; fails on any
// console error, page error, CSP violation, failed request, unexpected
// status, request to a host other than loopback, or sideways scrolling of
// the page. Checks copy-to-clipboard, #L5-L7 selection, the 303 from the
// API URL, the 404 for private and unknown ids, axe-core (no serious or
// critical violation, light and dark), and a hostile snippet (no dialog,
// no injected element). Screenshots: target/browser/web-*.png.
import { chromium } from "playwright-core";
import { mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { randomUUID } from "node:crypto";

const base = process.env.SNIPPETD_URL;
const token = process.env.SNIPPETD_TOKEN;
if (!base || !token) throw new Error("SNIPPETD_URL and SNIPPETD_TOKEN are not set (run scripts/browser-test.sh)");
const out = resolve(dirname(fileURLToPath(import.meta.url)), "../../target/browser");
mkdirSync(out, { recursive: true });
const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]"]);
const problems = [];
const fail = (what) => problems.push(what);
let checks = 0;
const check = (ok, what) => {
  checks++;
  if (!ok) fail(what);
};

// Seed through the API.
async function api(method, path, body) {
  const r = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: body && JSON.stringify(body),
  });
  if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${await r.text()}`);
  return r.json();
}
const hundred = Array.from({ length: 100 }, (_, i) => `    let x${i + 1} = ${i + 1}; // line ${i + 1}`);
const code = `fn main() {\n${hundred.slice(1, 99).join("\n")}\n}\n`;
const pub = await api("POST", "/snippets", {
  title: "A hundred lines of Rust",
  language: "rust",
  code,
  description: "One hundred lines, for the browser test.",
  tags: ["demo", "browser"],
});
await api("PATCH", `/snippets/${pub.id}`, { code: code.replace("line 50", "line fifty") });
const unlisted = await api("POST", "/snippets", {
  title: "Unlisted one", language: "python", code: "print('quiet')\n", visibility: "unlisted",
});
const priv = await api("POST", "/snippets", {
  title: "Private one", language: "go", code: "package main\n", visibility: "private",
});
const XSS = "</pre><script>alert(1)</script>";
const IMG = '"><img src=x onerror=alert(1)>';
const hostile = await api("POST", "/snippets", {
  title: `${XSS}${IMG}\u202Eevil\u200B`,
  language: XSS,
  description: `javascript:alert(1)\n${IMG}\n\u202Ertl`,
  code: `${XSS}\n${IMG}\n<a href="javascript:alert(1)">x</a>\n`,
  tags: ["xss"],
});
const unknown = randomUUID();

const pages = [
  { name: "browse", path: "/s", status: 200 },
  { name: "search", path: "/s?q=hundred&language=rust&tag=demo", status: 200 },
  { name: "snippet", path: `/s/${pub.id}`, status: 200, code: true },
  { name: "history", path: `/s/${pub.id}/revisions`, status: 200 },
  { name: "version", path: `/s/${pub.id}/revisions/2`, status: 200 },
  { name: "unlisted", path: `/s/${unlisted.id}`, status: 200, code: true },
  { name: "private", path: `/s/${priv.id}`, status: 404 },
  { name: "unknown", path: `/s/${unknown}`, status: 404 },
  { name: "hostile", path: `/s/${hostile.id}`, status: 200, code: true },
  { name: "hostile-version", path: `/s/${hostile.id}/revisions/1`, status: 200 },
];

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
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

/// A page with every listener that turns a problem into a failure.
async function open(ctx, label, expected) {
  const page = await ctx.newPage();
  await page.addInitScript(() => {
    window.__csp = [];
    document.addEventListener("securitypolicyviolation", (e) =>
      window.__csp.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"}`),
    );
  });
  page.on("console", (m) => {
    if (m.type() !== "error") return;
    // The browser logs the expected 404 of the document itself.
    if (expected === 404 && /status of 404/.test(m.text())) return;
    fail(`${label}: console error: ${m.text()}`);
  });
  page.on("pageerror", (e) => fail(`${label}: page error: ${e.message}`));
  page.on("dialog", (d) => {
    fail(`${label}: a dialog opened: ${d.message()}`);
    d.dismiss();
  });
  page.on("requestfailed", (r) => fail(`${label}: request failed: ${r.url()} ${r.failure()?.errorText}`));
  page.on("response", (r) => {
    const doc = r.request().isNavigationRequest();
    if (r.status() >= 400 && !(doc && r.status() === expected)) fail(`${label}: HTTP ${r.status()}: ${r.url()}`);
  });
  await page.route("**/*", (route) => {
    const url = new URL(route.request().url());
    if (LOOPBACK.has(url.hostname)) return route.continue();
    fail(`${label}: request to a non-loopback host: ${url.href}`);
    return route.abort("blockedbyclient");
  });
  return page;
}

async function noInjection(page, label) {
  const found = await page.evaluate(() => ({
    scripts: Array.from(document.scripts).map((s) => s.src),
    imgs: document.images.length,
    handlers: Array.from(document.querySelectorAll("*")).filter((e) =>
      Array.from(e.attributes).some((a) => a.name.startsWith("on")),
    ).length,
    jsLinks: Array.from(document.querySelectorAll("a[href]")).filter((a) =>
      a.getAttribute("href").trim().toLowerCase().startsWith("javascript:"),
    ).length,
  }));
  check(found.scripts.length === 2 && found.scripts.every((s) => s.includes("/static/")), `${label}: scripts ${found.scripts}`);
  check(found.imgs === 0, `${label}: ${found.imgs} images`);
  check(found.handlers === 0, `${label}: ${found.handlers} elements with on* attributes`);
  check(found.jsLinks === 0, `${label}: ${found.jsLinks} javascript: links`);
}

// Pages are read once "load" has fired: scripts and styles hold it, and
// nothing is fetched after it (no XHR) but the icon, which Chromium may
// ask for later (tests/api/web/ checks it is served). Waiting for
// "networkidle" (500 ms without a request) on each of ~100 pages made this
// test 124 s instead of 50 s.
//
// Each page is loaded once per width and JavaScript setting; what else is
// checked is checked on that load: 360 px by narrowing the 375 px page,
// axe-core light and dark by switching prefers-color-scheme on the pages
// with JavaScript on. Loading them again for each (100 loads, not 40) made
// this test 77 s instead of 45 s.
async function axe(page, label) {
  const backgrounds = new Set();
  for (const colorScheme of ["light", "dark"]) {
    await page.emulateMedia({ colorScheme });
    backgrounds.add(await page.evaluate(() => getComputedStyle(document.body).backgroundColor));
    const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ["violations"] }));
    for (const v of result.violations) {
      if (v.impact === "serious" || v.impact === "critical") {
        fail(`axe ${label} ${colorScheme}: ${v.impact} ${v.id}: ${v.help} (${v.nodes.map((n) => n.target).join(" ")})`);
      }
    }
    checks++;
  }
  check(backgrounds.size === 2, `${label}: the same background light and dark: ${[...backgrounds]}`);
}

const sideways = (page) => page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);

try {
  for (const js of [true, false]) {
    for (const width of [1280, 375]) {
      const ctx = await browser.newContext({
        javaScriptEnabled: js,
        colorScheme: "light",
        viewport: { width, height: 900 },
      });
      for (const p of pages) {
        const label = `${p.name} @${width} js=${js ? "on" : "off"}`;
        const page = await open(ctx, label, p.status);
        const resp = await page.goto(`${base}${p.path}`, { waitUntil: "load" });
        check(resp.status() === p.status, `${label}: status ${resp.status()}`);
        const h = resp.headers();
        check(h["content-security-policy"]?.includes("frame-ancestors 'none'"), `${label}: CSP ${h["content-security-policy"]}`);
        check(h["x-content-type-options"] === "nosniff", `${label}: nosniff`);
        if (js) {
          const csp = await page.evaluate(() => window.__csp);
          for (const v of csp) fail(`${label}: CSP violation: ${v}`);
        }
        const wide = await sideways(page);
        check(wide <= 0, `${label}: the page scrolls sideways by ${wide}px`);
        if (p.status === 404) {
          check((await page.textContent("h1")) === "Not found", `${label}: not the 404 page`);
        }
        if (p.code) {
          const lines = await page.$$eval("pre.code .line", (ls) => ls.length);
          check(lines > 0, `${label}: no code lines`);
          if (js && !p.name.startsWith("hostile")) {
            const spans = await page.$$eval("pre.code .hljs-keyword, pre.code .hljs-string", (s) => s.length);
            check(spans > 0, `${label}: not highlighted`);
          }
        }
        if (p.name.startsWith("hostile")) {
          await noInjection(page, label);
          const title = await page.title();
          check(title.includes("</pre><script>alert(1)</script>"), `${label}: the title is not shown as text: ${title}`);
        }
        await page.screenshot({ path: `${out}/web-${p.name}-${width}-js-${js ? "on" : "off"}.png`, fullPage: width === 375 });
        if (js) {
          // Through the debugging protocol, not an inline script the CSP
          // would block; at the width of the screenshot.
          await page.evaluate(axeSource);
          await axe(page, `${p.name} @${width}`);
        }
        if (width === 375) {
          // 360 px: the narrowest phone the design is for (no screenshot).
          await page.setViewportSize({ width: 360, height: 900 });
          const narrow = await sideways(page);
          check(narrow <= 0, `${p.name} @360 js=${js ? "on" : "off"}: the page scrolls sideways by ${narrow}px`);
        }
        await page.close();
      }
      await ctx.close();
    }
  }

  // Copy, and #L5-L7 selection (JavaScript on).
  {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    await ctx.grantPermissions(["clipboard-read", "clipboard-write"], { origin: base });
    const page = await open(ctx, "copy", 200);
    await page.goto(`${base}/s/${pub.id}#L5-L7`, { waitUntil: "load" });
    const selected = await page.$$eval("pre.code .line.sel", (ls) => ls.map((l) => l.id));
    check(JSON.stringify(selected) === '["L5","L6","L7"]', `#L5-L7 selected ${selected}`);
    await page.click("nav.actions button");
    const copied = await page.evaluate(() => navigator.clipboard.readText());
    const current = await (await fetch(`${base}/snippets/${pub.id}/raw`)).text();
    check(copied === current, `copied ${copied.length} characters, the code has ${current.length}`);
    check((await page.textContent("nav.actions button")) === "Copied", "the button does not say Copied");
    // Shift-click on line 9's number extends the selection from line 5.
    await page.click('a.n[href="#L9"]', { modifiers: ["Shift"] });
    const extended = await page.$$eval("pre.code .line.sel", (ls) => ls.map((l) => l.id).join(","));
    check(extended === "L5,L6,L7,L8,L9", `shift-click selected ${extended}`);
    check(new URL(page.url()).hash === "#L5-L9", `hash ${page.url()}`);
    await page.screenshot({ path: `${out}/web-selection.png` });

    // The languages highlighted: the 20 most common and then some, by
    // the names src/web/code.rs writes (an unknown one stays plain).
    const langs = [
      "bash", "c", "cpp", "csharp", "css", "dart", "dockerfile", "elixir", "go", "haskell", "java",
      "javascript", "json", "kotlin", "lua", "markdown", "php", "powershell", "python", "r", "ruby",
      "rust", "scala", "sql", "swift", "typescript", "xml", "yaml", "ini", "c++", "c#", "js", "ts", "py",
    ];
    const missing = await page.evaluate((ls) => ls.filter((l) => !window.hljs.getLanguage(l)), langs);
    check(missing.length === 0, `highlight.js lacks ${missing}`);
    check(await page.evaluate(() => !window.hljs.getLanguage("no-such-language")), "an unknown language is known");

    // The API URL opened in a browser: 303 to the page.
    const resp = await page.goto(`${base}/snippets/${pub.id}`, { waitUntil: "load" });
    const from = resp.request().redirectedFrom();
    check(from && (await from.response()).status() === 303, "no 303 from the API URL");
    check(new URL(page.url()).pathname === `/s/${pub.id}`, `the API URL led to ${page.url()}`);
    await ctx.close();
  }
} finally {
  await browser.close();
}

if (problems.length) {
  console.error(`web pages: ${problems.length} problem(s):\n  ${problems.join("\n  ")}`);
  process.exit(1);
}
console.log(`web pages: ${pages.length} pages x 3 widths (1280, 375, 360) x JS on/off, axe light/dark: ${checks} checks passed, screenshots in ${out}`);
