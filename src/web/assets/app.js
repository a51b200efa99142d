// snippetd's pages (src/web/): only enhances what the server wrote.
// Highlighting (highlight.js, vendored), a copy button, and #L5-L7 line
// selection; with this script off the page is the same text.
"use strict";
(() => {
  const block = document.querySelector("pre.code:not(.diff) code[data-lang]");
  if (!block) return;
  const lines = Array.from(block.querySelectorAll(".line"));
  const text = () => lines.map((l) => l.querySelector(".c").textContent).join("\n");

  // Highlighting: the whole text at once (a comment may span lines),
  // then cut back into the server's lines, closing and reopening the
  // spans open at each newline. highlight.js escapes what it returns.
  const hljs = window.hljs;
  const lang = block.dataset.lang;
  if (hljs && lang && hljs.getLanguage(lang) && lines.length <= 5000) {
    const html = hljs.highlight(text(), { language: lang, ignoreIllegals: true }).value;
    const out = [];
    let open = [];
    let cur = "";
    for (const tok of html.split(/(<span[^>]*>|<\/span>|\n)/)) {
      if (tok === "\n") {
        out.push(cur + "</span>".repeat(open.length));
        cur = open.join("");
      } else {
        if (tok.startsWith("<span")) open.push(tok);
        else if (tok === "</span>") open.pop();
        cur += tok;
      }
    }
    out.push(cur);
    if (out.length === lines.length) {
      lines.forEach((l, i) => {
        l.querySelector(".c").innerHTML = out[i];
      });
      block.classList.add("hljs");
    }
  }

  // Copy: the code as the server has it, one line per line.
  const actions = document.querySelector("nav.actions");
  if (actions && navigator.clipboard) {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = "Copy";
    button.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(text() + (block.dataset.eol === "1" ? "\n" : ""));
        button.textContent = "Copied";
      } catch {
        button.textContent = "Copy failed";
      }
      setTimeout(() => (button.textContent = "Copy"), 2000);
    });
    button.setAttribute("aria-live", "polite");
    actions.prepend(button);
  }

  // Selection: #L5 or #L5-L7 marks those lines and scrolls to the first;
  // shift-click on a line number extends from the marked line.
  let anchor = null;
  const select = () => {
    const m = /^#L(\d+)(?:-L(\d+))?$/.exec(location.hash);
    for (const l of lines) l.classList.remove("sel");
    if (!m) return;
    let a = Number(m[1]);
    let b = Number(m[2] || m[1]);
    if (a > b) [a, b] = [b, a];
    for (let i = a; i <= Math.min(b, lines.length); i++) lines[i - 1].classList.add("sel");
    anchor = a;
    const first = lines[a - 1];
    if (!first) return;
    const r = first.getBoundingClientRect();
    if (r.top < 0 || r.bottom > window.innerHeight) first.scrollIntoView({ block: "center" });
  };
  block.addEventListener("click", (e) => {
    const n = e.target.closest("a.n");
    if (!n || !e.shiftKey || anchor === null) return;
    e.preventDefault();
    const to = Number(n.getAttribute("href").slice(2));
    const [a, b] = anchor <= to ? [anchor, to] : [to, anchor];
    history.replaceState(null, "", a === b ? `#L${a}` : `#L${a}-L${b}`);
    select();
    anchor = a;
  });
  window.addEventListener("hashchange", select);
  select();
})();
