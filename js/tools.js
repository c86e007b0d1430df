// The whole log at hand, in the live view: search (hidden lines too), expand what is hidden, copy
// all, download, timestamps, stderr only, and a notification when a long run ends unseen.
//
// Everything past the window is fetched from the kernel on demand with anywidget's `invoke`
// (commands in _widget.py), in pages: the DOM holds at most MAX_LOADED lines of the hidden part,
// and a download travels as 1 MB binary buffers into a Blob, never one string or one message.

import { button, el, numbers } from "./dom.js";
import { createSearch } from "./search.js";

const PAGE = 500; // lines per request (the kernel's PAGE_MAX)
const MAX_LOADED = 2000; // hidden lines held in the DOM at once
const AROUND = 100; // lines shown on each side of a match found in the hidden part
const WAIT_NOTE_MS = 1000; // after this long without an answer, say the kernel is busy
const ANSWER_MS = 120_000; // give up on an answer after this long (anywidget's default is 3 s)
const COPY_MAX = 64 << 20; // characters: past this, the clipboard is the wrong tool

function megabytes(n) {
  return `${(n / 1e6).toFixed(n < 1e7 ? 1 : 0)} MB`;
}

function stamp(ms) {
  // mm:ss.s from the run's start (h:mm:ss past an hour): one width, so the lines stay aligned
  if (ms == null) return "";
  const t = Math.max(0, ms) / 1000;
  const h = Math.floor(t / 3600);
  const m = Math.floor((t % 3600) / 60);
  const s = t % 60;
  const pad = (x, n) => String(x).padStart(n, "0");
  return h ? `${h}:${pad(m, 2)}:${pad(Math.floor(s), 2)}` : `${pad(m, 2)}:${s.toFixed(1).padStart(4, "0")}`;
}


// Ctrl+F (Cmd+F) inside a view searches its log, not the notebook: JupyterLab's shortcuts run in
// the capture phase at the document, so the view is marked for that one keystroke from the window's
// capture phase, which comes first. Every other key (Shift+Enter...) stays JupyterLab's.
function isFind(event) {
  return (event.ctrlKey || event.metaKey) && !event.altKey && event.key.toLowerCase() === "f";
}
if (!globalThis.__miosaFindKey) {
  globalThis.__miosaFindKey = true;
  globalThis.addEventListener?.(
    "keydown",
    (event) => {
      const view = isFind(event) && event.target instanceof Element ? event.target.closest(".miosa-term") : null;
      if (!view) return;
      view.setAttribute("data-lm-suppress-shortcuts", "true");
      setTimeout(() => view.removeAttribute("data-lm-suppress-shortcuts"));
    },
    true,
  );
}

/**
 * The tools of one rendered view. `view` gives what they need of it: the model, `invoke`, the
 * store, the output box and its head / tail boxes, `windowOf`, `lineDiv` and `nodeOf(index)`.
 */
export function createTools(view) {
  const { model, invoke, store, output } = view;
  const runId = () => model.get("run_id");

  // -- asking the kernel --------------------------------------------------------------------
  const status = el("div", { className: "miosa-toolstatus" });
  status.setAttribute("role", "status");
  status.setAttribute("aria-live", "polite");
  function say(words) {
    status.textContent = words;
    status.hidden = !words;
  }
  say("");

  async function ask(name, msg, note = say) {
    if (!invoke) throw new Error("this page can't reach the kernel (no anywidget commands here)");
    const waiting = setTimeout(() => note("waiting for the kernel… (busy with a cell?)"), WAIT_NOTE_MS);
    try {
      const [answer, buffers] = await invoke(name, { run_id: runId(), ...msg }, { signal: AbortSignal.timeout(ANSWER_MS) });
      if (answer && answer.error) throw new Error(answer.error);
      return [answer, buffers];
    } catch (err) {
      if (err && err.name === "TimeoutError") throw new Error("the kernel did not answer in 2 minutes");
      throw err;
    } finally {
      clearTimeout(waiting);
    }
  }

  // -- the hidden part: what is loaded of it, and its markers ---------------------------------
  /** @type {null | {start: number, end: number}} */
  let loaded = null;
  let stderrOnly = false;
  let stderrNext = null; // where the stderr listing goes on from (null: it is complete)
  const gap = el("div", { className: "miosa-gap-box" });
  const above = el("div", { className: "miosa-hidden" });
  const box = el("div", { className: "miosa-loaded" });
  const below = el("div", { className: "miosa-hidden" });
  gap.append(above, box, below);

  function marker(node, count, buttons) {
    node.hidden = count <= 0;
    if (count <= 0) return;
    const keep = node.contains(document.activeElement) ? document.activeElement.dataset.role : null;
    node.replaceChildren(el("span", { textContent: `… ${numbers.format(count)} line${count === 1 ? "" : "s"} hidden …` }), ...buttons);
    if (keep) node.querySelector(`[data-role="${keep}"]`)?.focus(); // focus stays on the button pressed
  }

  function moreButton(label, title, role, load) {
    const b = button(label, title, () => load().catch((err) => say(`couldn't load the lines: ${err.message}`)));
    b.dataset.role = role;
    return b;
  }

  function paint(w) {
    if (stderrOnly) {
      above.hidden = false;
      above.replaceChildren(el("span", { textContent: `only the lines written to stderr (the hidden ones: ${numbers.format(box.children.length)}${stderrNext != null ? "+" : ""})` }));
      below.hidden = stderrNext == null;
      if (stderrNext != null) {
        below.replaceChildren(
          el("span", { textContent: "more stderr lines may be hidden " }),
          moreButton("show more", "show the next 500 stderr lines", "stderr-more", () => loadStderr(false)),
        );
      }
      return;
    }
    const hidden = w.tailStart - w.head;
    if (loaded && (loaded.start < w.head || loaded.end > w.tailStart || loaded.start >= loaded.end)) clear();
    if (!loaded) {
      marker(above, hidden, [
        moreButton("↓ show 500", "show the 500 hidden lines after the first ones", "down", () => load(w.head, w.head + PAGE)),
        moreButton("↑ show 500", "show the 500 hidden lines before the last ones", "up", () => load(w.tailStart - PAGE, w.tailStart)),
      ]);
      below.hidden = true;
      return;
    }
    marker(above, loaded.start - w.head, [
      moreButton("↑ 500 more", "show 500 more hidden lines above these", "up", () => load(loaded.start - PAGE, loaded.end)),
    ]);
    marker(below, w.tailStart - loaded.end, [
      moreButton("↓ 500 more", "show 500 more hidden lines below these", "down", () => load(loaded.start, loaded.end + PAGE)),
      button("hide", "hide the lines shown here again", () => {
        clear();
        view.repaint();
        output.focus();
      }),
    ]);
  }

  function clear() {
    loaded = null;
    box.replaceChildren();
  }

  async function fetchLines(start, end, stream) {
    // [index, html] pairs from start (up to end), a page per request
    const out = [];
    let at = start;
    while (at < end) {
      const [answer] = await ask("log_lines", { start: at, count: Math.min(PAGE, end - at), stream });
      const lines = answer.lines || [];
      if (!lines.length) break;
      out.push(...lines);
      at = lines[lines.length - 1][0] + 1;
      if (stream) break; // (a listing: one page at a time)
    }
    return out;
  }

  /** Show hidden lines start .. end-1 (kept within the hidden part and MAX_LOADED lines). */
  async function load(start, end) {
    const w = view.windowOf();
    start = Math.max(w.head, start);
    end = Math.min(w.tailStart, end);
    if (end - start > MAX_LOADED) {
      // drop what is far from where the reader went: keep the side that grew
      if (loaded && start < loaded.start) end = start + MAX_LOADED;
      else start = end - MAX_LOADED;
    }
    if (start >= end) return;
    const have = loaded && !stderrOnly ? loaded : { start: end, end: end };
    const missing = [];
    if (start < have.start) missing.push([start, Math.min(have.start, end)]);
    if (end > have.end) missing.push([Math.max(have.end, start), end]);
    const fetched = new Map();
    say("loading lines…");
    for (const [a, b] of missing) for (const [i, html] of await fetchLines(a, b)) fetched.set(i, html);
    say("");
    const nodes = [];
    for (let i = start; i < end; i++) {
      const old = loaded && i >= loaded.start && i < loaded.end ? box.children[i - loaded.start] : null;
      const node = old || view.lineDiv(fetched.get(i) ?? "");
      node.dataset.index = String(i);
      nodes.push(node);
    }
    if (stderrOnly) setStderr(false);
    box.replaceChildren(...nodes);
    loaded = { start, end };
    times.want(nodes);
    view.repaint();
  }

  // -- stderr only ----------------------------------------------------------------------------
  async function loadStderr(first) {
    const w = view.windowOf();
    const from = first ? w.head : stderrNext;
    const lines = (await fetchLines(from, w.tailStart, "stderr")).filter(([i]) => i < w.tailStart);
    if (first) box.replaceChildren();
    const nodes = lines.map(([i, html]) => {
      const node = view.lineDiv(html);
      node.dataset.index = String(i);
      return node;
    });
    box.append(...nodes);
    stderrNext = lines.length >= PAGE ? lines[lines.length - 1][0] + 1 : null;
    times.want(nodes);
    view.repaint();
  }

  function setStderr(on) {
    stderrOnly = on;
    stderrButton.setAttribute("aria-pressed", String(on));
    view.root.classList.toggle("miosa-only-stderr", on);
    loaded = null;
    stderrNext = null;
    box.replaceChildren();
    if (on) loadStderr(true).catch((err) => say(`couldn't list the stderr lines: ${err.message}`));
    else view.repaint();
  }
  const stderrButton = button("stderr only", "show only the lines written to stderr", () => setStderr(!stderrOnly));
  stderrButton.setAttribute("aria-pressed", "false");

  // -- timestamps -----------------------------------------------------------------------------
  const times = {
    on: false,
    known: new Map(), // index -> label
    queued: new Set(),
    timer: 0,
    want(nodes) {
      if (!this.on) return;
      for (const node of nodes) {
        const i = Number(node.dataset.index);
        if (this.known.has(i)) node.dataset.t = this.known.get(i);
        else this.queued.add(i);
      }
      if (this.queued.size && !this.timer) this.timer = setTimeout(() => this.fetch(), 50);
    },
    async fetch() {
      this.timer = 0;
      const indexes = [...this.queued].slice(0, 5000);
      for (const i of indexes) this.queued.delete(i);
      try {
        const [answer] = await ask("log_times", { indexes });
        answer.times.forEach((ms, k) => this.known.set(indexes[k], stamp(ms)));
      } catch (err) {
        say(`couldn't get the times: ${err.message}`);
        return;
      }
      if (this.known.size > 4 * MAX_LOADED) {
        const keep = new Set([...view.root.querySelectorAll(".miosa-line[data-index]")].map((n) => Number(n.dataset.index)));
        for (const i of this.known.keys()) if (!keep.has(i)) this.known.delete(i);
      }
      this.label();
      if (this.queued.size) this.timer = setTimeout(() => this.fetch(), 50);
    },
    label() {
      for (const node of view.root.querySelectorAll(".miosa-line[data-index]")) {
        const t = this.known.get(Number(node.dataset.index));
        if (t !== undefined) node.dataset.t = t;
      }
    },
  };
  const timesButton = button("times", "show when each line arrived (time from the start)", () => {
    times.on = !times.on;
    timesButton.setAttribute("aria-pressed", String(times.on));
    view.root.classList.toggle("miosa-times", times.on);
    if (times.on) times.want(view.root.querySelectorAll(".miosa-line[data-index]"));
  });
  timesButton.setAttribute("aria-pressed", "false");

  // -- search (search.js) ------------------------------------------------------------------------
  /** Bring line `index` into the page (loading it from the kernel if it is hidden); its node. */
  async function reveal(index) {
    const w = view.windowOf();
    if (index >= w.head && index < w.tailStart && (stderrOnly || !loaded || index < loaded.start || index >= loaded.end)) {
      if (stderrOnly) setStderr(false);
      await load(index - AROUND, index + AROUND);
    }
    return view.nodeOf(index) || box.querySelector(`[data-index="${index}"]`);
  }
  const search = createSearch({ model, ask, reveal, stopFollowing: view.stopFollowing });
  const searchButton = search.button;

  // -- copy all, download -------------------------------------------------------------------------
  async function allText() {
    const parts = [];
    let start = 0;
    let size = 0;
    for (;;) {
      const [answer] = await ask("log_text", { start });
      parts.push(answer.text);
      size += answer.text.length;
      if (size > COPY_MAX) throw new Error(`the log is over ${megabytes(COPY_MAX)}, too big for the clipboard: use download`);
      say(`copying… ${megabytes(size)}`);
      if (answer.next <= start || answer.next >= answer.line_count) break;
      start = answer.next;
    }
    return parts;
  }

  async function copyAll() {
    say("copying…");
    try {
      if (globalThis.ClipboardItem && navigator.clipboard?.write) {
        // The write starts now, in the click (browsers want that); its text arrives as it comes.
        let size = 0;
        const blob = allText().then((parts) => {
          size = parts.reduce((n, p) => n + p.length, 0);
          return new Blob(parts, { type: "text/plain" });
        });
        await navigator.clipboard.write([new ClipboardItem({ "text/plain": blob })]);
        say(`copied ${megabytes(size)}: every line, as plain text`);
      } else {
        const parts = await allText();
        await navigator.clipboard.writeText(parts.join(""));
        say("copied every line, as plain text");
      }
    } catch (err) {
      say(`couldn't copy: ${err.message}`);
    }
  }

  async function download() {
    say("downloading…");
    try {
      const parts = [];
      let offset = 0;
      let total = null;
      for (;;) {
        const [answer, buffers] = await ask("log_raw", { offset });
        total ??= answer.total; // a running log: what it holds now
        if (!answer.size) break;
        parts.push(buffers[0]);
        offset += answer.size;
        say(`downloading… ${megabytes(offset)} of ${megabytes(total)}`);
        if (offset >= total) break;
      }
      const url = URL.createObjectURL(new Blob(parts, { type: "text/plain" }));
      const a = el("a", { href: url, download: model.get("log_name") });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
      say(`downloaded ${model.get("log_name")} (${megabytes(offset)}, as the command wrote it)`);
    } catch (err) {
      say(`couldn't download: ${err.message}`);
    }
  }

  // -- a notification when a long run ends while the tab is hidden ---------------------------------
  const bell = button("notify me", "allow a notification when a long run ends while this tab is hidden", async () => {
    await Notification.requestPermission();
    paintBell();
  });
  function paintBell() {
    bell.hidden = !(model.get("notify_after") > 0 && globalThis.Notification && Notification.permission === "default");
  }
  function ended(before) {
    const after = model.get("status");
    if (before !== "running" || after === "running" || store.notified === runId()) return;
    store.notified = runId(); // one notice per run, however many views it has
    const limit = model.get("notify_after");
    if (!(limit > 0) || !document.hidden || !globalThis.Notification || Notification.permission !== "granted") return;
    if ((model.get("duration_ms") || 0) < limit * 1000) return;
    const words = { success: "succeeded", failure: "failed", timeout: "timed out", error: "ended in an error", cancelled: "was cancelled" };
    const command = new DOMParser().parseFromString(model.get("header"), "text/html").querySelector(".miosa-cmd")?.textContent || "the command";
    new Notification(`miosa: ${command} ${words[after] || after}`, { body: new DOMParser().parseFromString(model.get("banner"), "text/html").body.textContent.trim() });
  }
  paintBell();

  const copyButton = button("copy all", "copy every line of the log, as plain text", copyAll);
  const downloadButton = button("download", "download the whole log as a file (as the command wrote it)", download);
  const toolbar = el("span", { className: "miosa-tools" }, [searchButton, copyButton, downloadButton, timesButton, stderrButton, bell]);
  toolbar.setAttribute("role", "toolbar");
  toolbar.setAttribute("aria-label", "the whole log");

  function keydown(event) {
    if (isFind(event)) {
      event.preventDefault();
      event.stopPropagation();
      search.open();
    }
  }

  return {
    toolbar,
    bar: search.bar,
    status,
    gap,
    paint,
    keydown,
    ended,
    paintBell,
    times,
    reset() {
      clear();
      if (stderrOnly) setStderr(false);
      times.known.clear();
      search.reset();
      say("");
    },
  };
}
