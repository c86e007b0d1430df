// Search the whole log, hidden lines too (part of the view's tools, tools.js): a box, match case
// and regex toggles, Enter / Shift+Enter to step, a count a screen reader reads out, and the match
// brought into sight and marked (CSS Custom Highlight API: no DOM is rewritten for it).
import { button, el, numbers } from "./dom.js";

function escapeRegExp(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * `ask(name, msg, note)` asks the kernel; `reveal(index)` brings line `index` into the page and
 * returns its node (or null); `stopFollowing()` stops the view following the tail.
 */
export function createSearch({ model, ask, reveal, stopFollowing }) {
  const input = el("input", { type: "search", className: "miosa-search-input", placeholder: "search the whole log", spellcheck: false });
  input.setAttribute("aria-label", "search the whole log, hidden lines too (Enter: next, Shift+Enter: previous)");
  const caseBox = el("input", { type: "checkbox" });
  const regexBox = el("input", { type: "checkbox" });
  const count = el("span", { className: "miosa-search-count" });
  count.setAttribute("role", "status");
  count.setAttribute("aria-live", "polite");
  const bar = el("div", { className: "miosa-search", hidden: true }, [
    input,
    el("label", { title: "match case" }, [caseBox, " Aa"]),
    el("label", { title: "regular expression (Python's re, one line at a time)" }, [regexBox, " .*"]),
    button("↑", "previous match (Shift+Enter)", () => step(-1)),
    button("↓", "next match (Enter)", () => step(1)),
    count,
    button("✕", "close the search (Escape)", () => closeSearch()),
  ]);
  // Keys typed in the search bar are the bar's (Enter, Shift+Enter, Escape), not JupyterLab's.
  bar.setAttribute("data-lm-suppress-shortcuts", "true");
  const search = { query: null, lines: [], more: false, at: -1, timer: 0, seq: 0 };

  function openSearch() {
    bar.hidden = false;
    input.focus();
    input.select();
  }
  function closeSearch() {
    bar.hidden = true;
    highlight(null);
    searchButton.focus();
  }

  async function runSearch() {
    const query = input.value;
    const seq = ++search.seq;
    if (!query) {
      Object.assign(search, { query: null, lines: [], more: false, at: -1 });
      count.textContent = "";
      highlight(null);
      return;
    }
    count.textContent = "searching…";
    try {
      const [answer] = await ask("log_search", { query, regex: regexBox.checked, case: caseBox.checked, start: 0 }, (w) => (count.textContent = w));
      if (seq !== search.seq) return; // a newer search went out
      Object.assign(search, { query, lines: answer.lines, more: answer.more, at: -1 });
      if (!answer.lines.length) {
        count.textContent = "no matches";
        highlight(null);
        return;
      }
      await step(1);
    } catch (err) {
      if (seq === search.seq) count.textContent = err.message;
    }
  }

  async function step(by) {
    if (search.query !== input.value) return runSearch();
    const n = search.lines.length;
    if (!n) return;
    let at = search.at + by;
    if (at >= n && (search.more || model.get("status") === "running")) {
      // past the last match known: ask for the ones after it (more than 10,000, or new output)
      const [answer] = await ask("log_search", {
        query: search.query, regex: regexBox.checked, case: caseBox.checked, start: search.lines[n - 1] + 1,
      }, (w) => (count.textContent = w));
      search.lines = search.lines.concat(answer.lines);
      search.more = answer.more;
    }
    const total = search.lines.length;
    search.at = ((at % total) + total) % total;
    const index = search.lines[search.at];
    count.textContent = `${numbers.format(search.at + 1)} of ${numbers.format(total)}${search.more ? "+" : ""} · line ${numbers.format(index + 1)}`;
    await show(index);
  }

  async function show(index) {
    const node = await reveal(index);
    if (!node) return;
    node.scrollIntoView({ block: "center" });
    stopFollowing();
    highlight(node);
  }

  let current = null;
  function highlight(node) {
    current?.classList.remove("miosa-current");
    current = node;
    if (globalThis.CSS?.highlights) CSS.highlights.delete("miosa-match");
    if (!node) return;
    node.classList.add("miosa-current");
    if (!globalThis.Highlight || !globalThis.CSS?.highlights) return;
    let pattern;
    try {
      const flags = caseBox.checked ? "g" : "gi";
      pattern = new RegExp(regexBox.checked ? search.query : escapeRegExp(search.query), flags);
    } catch {
      return; // Python's regex syntax that JS lacks: the line is marked, not the words
    }
    const texts = [];
    const walker = document.createTreeWalker(node, NodeFilter.SHOW_TEXT);
    let full = "";
    while (walker.nextNode()) {
      texts.push([walker.currentNode, full.length]);
      full += walker.currentNode.data;
    }
    const ranges = [];
    for (const m of full.matchAll(pattern)) {
      if (!m[0].length) break;
      const range = new Range();
      const at = (offset, setter) => {
        for (let k = texts.length - 1; k >= 0; k--) {
          if (texts[k][1] <= offset) return setter(texts[k][0], offset - texts[k][1]);
        }
      };
      at(m.index, (n, o) => range.setStart(n, o));
      at(m.index + m[0].length, (n, o) => range.setEnd(n, o));
      ranges.push(range);
      if (ranges.length > 50) break;
    }
    if (ranges.length) CSS.highlights.set("miosa-match", new Highlight(...ranges));
  }

  input.addEventListener("input", () => {
    clearTimeout(search.timer);
    search.timer = setTimeout(runSearch, 250);
  });
  for (const box of [caseBox, regexBox]) box.addEventListener("change", runSearch);
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      clearTimeout(search.timer);
      step(event.shiftKey ? -1 : 1).catch((err) => (count.textContent = err.message));
    } else if (event.key === "Escape") {
      event.preventDefault();
      closeSearch();
    }
  });
  const searchButton = button("search", "search the whole log (Ctrl+F in the view)", openSearch);

  return {
    bar,
    button: searchButton,
    open: openSearch,
    reset() {
      Object.assign(search, { query: null, lines: [], more: false, at: -1 });
      count.textContent = "";
      highlight(null);
    },
  };
}

