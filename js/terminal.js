// The live view of a run. The kernel renders every piece of HTML (escaped lines, header, banner);
// this file only places them, keeps the bounded window, ticks the clock and scrolls. The tools that
// reach past the window (search, expand, copy, download...) are in tools.js.
import { numbers } from "./dom.js";
import { createTools } from "./tools.js";

/**
 * A span: [index of its first screen line, [html, ...]].
 * @typedef {[number, string[]]} Span
 *
 * Per-model state. It is made in `initialize` (once per model, before any view renders), so a
 * delta that reaches the page before the view exists is kept, and every view of the model (a late
 * one, a re-render, a second one) paints the same lines.
 * @typedef {{
 *   lines: Map<number, string>, // html of the screen lines in the window, by index
 *   seq: number,                // the newest delta (or snapshot) applied
 *   runId: number,              // which run of a panel this is
 *   lineCount: number,
 *   listeners: Set<() => void>,
 * }} Store
 */

/** @type {WeakMap<object, Store>} */
const stores = new WeakMap();

/** The window a view shows: the first `head_lines` lines and the last `tail_lines`. */
function windowOf(model, count) {
  const head = Math.min(count, model.get("head_lines"));
  const tailStart = Math.max(head, count - model.get("tail_lines"));
  return { head, tailStart, count };
}

/** @returns {Store} */
function createStore(model) {
  /** @type {Store} */
  const store = { lines: new Map(), seq: -1, runId: 0, lineCount: 0, listeners: new Set() };

  function apply(spans) {
    for (const [start, lines] of spans) {
      for (let i = 0; i < lines.length; i++) store.lines.set(start + i, lines[i]);
    }
  }

  function prune() {
    // Lines that left the window (the tail moved on) are forgotten: the store stays bounded.
    const w = windowOf(model, store.lineCount);
    if (store.lines.size <= w.head + (w.count - w.tailStart)) return;
    for (const i of store.lines.keys()) {
      if (i >= w.head && i < w.tailStart) store.lines.delete(i);
    }
  }

  function fromSnapshot() {
    const snap = model.get("window") || {};
    store.lines = new Map();
    apply(snap.spans || []);
    store.seq = snap.seq ?? -1;
    store.runId = model.get("run_id");
    store.lineCount = snap.line_count ?? model.get("line_count");
    prune();
  }

  function notify() {
    for (const fn of store.listeners) fn();
  }

  fromSnapshot();
  const onWindow = () => {
    const snap = model.get("window") || {};
    // A new run, or a snapshot at least as new as what we have (deltas missed, rendered late).
    if (model.get("run_id") !== store.runId || (snap.seq ?? -1) >= store.seq) {
      fromSnapshot();
      notify();
    }
  };
  // A panel starts a new run: forget the old one even when the new snapshot equals the default.
  const onRun = () => {
    fromSnapshot();
    notify();
  };
  const onCount = () => {
    store.lineCount = Math.max(store.lineCount, model.get("line_count"));
    prune();
    notify();
  };
  const onMessage = (msg) => {
    if (!msg || msg.type !== "lines" || msg.run_id !== store.runId || msg.seq <= store.seq) return;
    apply(msg.spans);
    store.seq = msg.seq;
    store.lineCount = Math.max(store.lineCount, msg.line_count);
    prune();
    notify();
  };
  model.on("change:window", onWindow);
  model.on("change:run_id", onRun);
  model.on("change:line_count", onCount);
  model.on("msg:custom", onMessage);
  store.dispose = () => {
    model.off("change:window", onWindow);
    model.off("change:run_id", onRun);
    model.off("change:line_count", onCount);
    model.off("msg:custom", onMessage);
    store.listeners.clear();
  };
  return store;
}

/** anywidget's `initialize`: the model's store, before any view; returns its cleanup. */
export function initializeTerminal({ model }) {
  if (!stores.has(model)) stores.set(model, createStore(model));
  return () => {
    stores.get(model)?.dispose();
    stores.delete(model);
  };
}

/** The model's store (made on first use where the host has no `initialize`); tests read it too. */
export function storeFor(model) {
  if (!stores.has(model)) initializeTerminal({ model });
  return stores.get(model);
}

/** The html of the lines a view of `model` shows, in order (a hole is ""): what `render` paints. */
export function shownLines(model) {
  const store = storeFor(model);
  const w = windowOf(model, store.lineCount);
  const out = [];
  for (let i = 0; i < w.head; i++) out.push(store.lines.get(i) ?? "");
  for (let i = w.tailStart; i < w.count; i++) out.push(store.lines.get(i) ?? "");
  return out;
}

function seconds(ms) {
  // The same words as the kernel's seconds_text (_present.py), for the ticking clock.
  const s = ms / 1000;
  if (s < 10) return `${s.toFixed(2)} s`;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(Math.round(s) / 60);
  return `${m} min ${Math.round(s) % 60} s`;
}


function plural(n, word) {
  return `${numbers.format(n)} ${word}${n === 1 ? "" : "s"}`;
}

function lineDiv(html) {
  const div = document.createElement("div");
  div.className = "miosa-line";
  div.innerHTML = html; // already escaped by the kernel: command output is text
  div._html = html;
  return div;
}

// Renders the terminal (header, output, banner) of `model` into `el`; returns the cleanup function.
// The panel (panel.js) uses it too: one front end for both.
export function renderTerminal(model, el, invoke) {
  const store = storeFor(model);
  const root = document.createElement("div");

  const header = document.createElement("div");
  header.className = "miosa-header";
  // The output scrolls in a column-reverse box, as the static record does: both open at the end.
  const output = document.createElement("div");
  output.className = "miosa-output";
  output.tabIndex = 0;
  output.setAttribute("role", "log");
  output.setAttribute("aria-live", "off");
  const lines = document.createElement("div");
  lines.className = "miosa-lines";
  output.append(lines);
  const banner = document.createElement("div");
  banner.className = "miosa-banner-slot";
  const headBox = document.createElement("div");
  const tailBox = document.createElement("div");
  let domTailStart = 0;
  const tools = createTools({
    model,
    invoke,
    store,
    output,
    root,
    windowOf: () => windowOf(model, store.lineCount),
    lineDiv,
    nodeOf(index) {
      const w = windowOf(model, store.lineCount);
      if (index < w.head) return headBox.children[index] || null;
      if (index >= w.tailStart) return tailBox.children[index - domTailStart] || null;
      return null;
    },
    stopFollowing() {
      follow = false;
    },
    repaint: () => schedule(),
  });
  root.append(header, tools.bar, tools.status, output, banner);
  el.append(root);
  root.addEventListener("keydown", tools.keydown);

  // Autoscroll until the reader scrolls up. In a column-reverse box the end is scrollTop 0 and
  // stays in view as lines arrive, with no script (and no forced layout on every paint).
  let follow = true;
  output.addEventListener("scroll", () => {
    follow = output.scrollTop >= -4;
  });

  function paintMeta() {
    const elapsed = header.querySelector(".miosa-elapsed");
    const count = header.querySelector(".miosa-count");
    const running = model.get("status") === "running";
    const ms = running ? Date.now() - model.get("started_ms") : model.get("duration_ms") || 0;
    if (elapsed) elapsed.textContent = seconds(Math.max(0, ms));
    const n = running ? store.lineCount : model.get("line_count");
    if (count) count.textContent = plural(n, "line");
    // The run's pulse: a command that went quiet says for how long (the kernel says since when).
    const pulse = header.querySelector(".miosa-quiet");
    const since = running ? model.get("quiet_since_ms") : 0;
    const silent = since ? Date.now() - since : 0;
    if (pulse) pulse.textContent = silent >= 5000 ? ` · no output for ${Math.floor(silent / 1000)} s` : "";
  }

  function paintHeader() {
    root.className = `miosa-term miosa-status-${model.get("status")}`;
    header.innerHTML = model.get("header");
    header.append(tools.toolbar);
    banner.innerHTML = model.get("banner");
    paintMeta();
  }

  // The DOM mirrors the store incrementally: a repaint touches only lines that changed, arrived
  // or left, so its cost follows the update, not the window (up to a thousand lines).
  lines.append(headBox, tools.gap, tailBox);

  // Each frame rewrites at most this many lines, newest first (the ones in sight when following):
  // a snapshot that moves the whole tail then costs a few frames, not one long one.
  const LINES_PER_FRAME = 150;

  function sync(box, from, to, budget) {
    // Make box's children show lines from .. to-1, newest first; returns the budget left
    // (negative: more to do in the next frame).
    const nodes = box.children;
    while (nodes.length > to - from) box.lastChild.remove();
    while (nodes.length < to - from) box.append(lineDiv(""));
    for (let i = to - 1; i >= from; i--) {
      const html = store.lines.get(i) ?? "";
      const node = nodes[i - from];
      if (node._index !== i) {
        node._index = i;
        node.dataset.index = String(i);
        if (tools.times.on) changed.push(node);
      }
      if (node._html === html) continue;
      if (budget <= 0) return -1;
      node.innerHTML = html;
      node._html = html;
      budget--;
    }
    return budget;
  }

  const changed = []; // nodes that now show another line (their time label is asked for)

  function paintLines() {
    const w = windowOf(model, store.lineCount);
    if (w.tailStart < domTailStart) {
      tailBox.replaceChildren(); // a new run: start over
      domTailStart = w.tailStart;
    }
    // Lines that scrolled out of the window: their nodes move from the front to the end, where
    // the lines that arrived go (sync rewrites them, newest first); none is made or thrown away.
    const drop = Math.min(w.tailStart - domTailStart, tailBox.children.length);
    if (drop > 0 && drop < tailBox.children.length) {
      const range = document.createRange();
      range.setStartBefore(tailBox.firstChild);
      range.setEndAfter(tailBox.children[drop - 1]);
      tailBox.append(range.extractContents());
    }
    domTailStart = w.tailStart;
    const left = sync(tailBox, w.tailStart, w.count, LINES_PER_FRAME);
    const done = sync(headBox, 0, w.head, Math.max(left, 0)) >= 0 && left >= 0;
    tools.paint(w);
    if (changed.length) tools.times.want(changed.splice(0));
    output.classList.toggle("miosa-empty", w.count === 0);
    return done;
  }

  // Repaints are coalesced to one per animation frame, however many messages arrive.
  let pending = false;
  function schedule() {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      if (!paintLines()) schedule(); // more lines to write: the next frame goes on
      paintMeta();
    });
  }

  paintHeader();
  if (!paintLines()) schedule();
  store.listeners.add(schedule);
  const onChange = () => paintHeader();
  let lastStatus = model.get("status");
  const onStatus = () => {
    tools.ended(lastStatus);
    lastStatus = model.get("status");
    paintHeader();
  };
  const onRun = () => tools.reset();
  model.on("change:run_id", onRun);
  model.on("change:notify_after", tools.paintBell);
  model.on("change:status", onStatus);
  model.on("change:banner", onChange);
  model.on("change:header", onChange);
  model.on("change:quiet_since_ms", paintMeta);
  const clock = setInterval(() => {
    if (model.get("status") === "running") paintMeta();
  }, 100);

  return () => {
    clearInterval(clock);
    store.listeners.delete(schedule);
    model.off("change:status", onStatus);
    model.off("change:run_id", onRun);
    model.off("change:notify_after", tools.paintBell);
    model.off("change:banner", onChange);
    model.off("change:header", onChange);
    model.off("change:quiet_since_ms", paintMeta);
  };
}

export default {
  initialize: initializeTerminal,
  render({ model, el, experimental }) {
    return renderTerminal(model, el, experimental?.invoke);
  },
};
