// The live view of a run. The kernel renders every piece of HTML (escaped lines, header, banner);
// this file only places them, keeps the bounded window, ticks the clock and scrolls.
//
// State: traits hold a snapshot (`window`: {seq, runs}), custom messages carry deltas
// ({type: "lines", seq, line_count, runs}); a run is [index of its first line, [html, ...]].
// Applying a run is idempotent, so a view that renders late, re-renders, or a second view of the
// same model shows the same window.

function createStore(model) {
  const store = {
    head: [], // html of lines 0 .. head.length-1
    tail: [], // html of lines tailStart .. tailStart+tail.length-1
    tailStart: 0,
    seq: -1,
    runId: 0,
    lineCount: 0,
    listeners: new Set(),
  };

  function place(index, html) {
    const H = model.get("head_lines");
    const T = model.get("tail_lines");
    if (index < H) {
      if (index <= store.head.length) store.head[index] = html;
      return;
    }
    const end = store.tailStart + store.tail.length;
    if (store.tail.length === 0 || index > end) {
      store.tail = [html];
      store.tailStart = index;
    } else if (index === end) {
      store.tail.push(html);
    } else if (index >= store.tailStart) {
      store.tail[index - store.tailStart] = html;
    }
    if (store.tail.length > T) {
      const extra = store.tail.length - T;
      store.tail.splice(0, extra);
      store.tailStart += extra;
    }
  }

  function apply(runs) {
    for (const [start, lines] of runs) {
      for (let i = 0; i < lines.length; i++) place(start + i, lines[i]);
    }
  }

  function fromSnapshot() {
    const w = model.get("window") || {};
    store.head = [];
    store.tail = [];
    store.tailStart = 0;
    apply(w.runs || []);
    store.seq = w.seq ?? -1;
    store.runId = model.get("run_id");
    store.lineCount = model.get("line_count");
  }

  function notify() {
    for (const fn of store.listeners) fn();
  }

  fromSnapshot();
  model.on("change:window", () => {
    const w = model.get("window") || {};
    // A new run, or a snapshot newer than what we have (we missed deltas, rendered late): take it.
    if (model.get("run_id") !== store.runId || (w.seq ?? -1) >= store.seq) {
      fromSnapshot();
      notify();
    }
  });
  // A panel starts a new run: forget the old one even when the new snapshot equals the default.
  model.on("change:run_id", () => {
    fromSnapshot();
    notify();
  });
  model.on("change:line_count", () => {
    store.lineCount = Math.max(store.lineCount, model.get("line_count"));
    notify();
  });
  model.on("msg:custom", (msg) => {
    if (!msg || msg.type !== "lines" || msg.run_id !== store.runId || msg.seq <= store.seq) return;
    apply(msg.runs);
    store.seq = msg.seq;
    store.lineCount = msg.line_count;
    notify();
  });
  return store;
}

const stores = new WeakMap();

function storeFor(model) {
  let store = stores.get(model);
  if (!store) {
    store = createStore(model);
    stores.set(model, store);
  }
  return store;
}

function seconds(ms) {
  const s = ms / 1000;
  if (s < 10) return `${s.toFixed(2)} s`;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(Math.round(s) / 60);
  return `${m} min ${Math.round(s) % 60} s`;
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
export function renderTerminal(model, el) {
  const store = storeFor(model);
  const root = document.createElement("div");
  const header = document.createElement("div");
  header.className = "miosa-header";
  const output = document.createElement("div");
  output.className = "miosa-output";
  output.tabIndex = 0;
  output.setAttribute("role", "log");
  output.setAttribute("aria-live", "off");
  const banner = document.createElement("div");
  banner.className = "miosa-banner-slot";
  root.append(header, output, banner);
  el.append(root);

  let follow = true; // autoscroll until the reader scrolls up
  output.addEventListener("scroll", () => {
    follow = output.scrollTop + output.clientHeight >= output.scrollHeight - 4;
  });

  function paintMeta() {
    const elapsed = header.querySelector(".miosa-elapsed");
    const count = header.querySelector(".miosa-count");
    const running = model.get("status") === "running";
    const ms = running ? Date.now() - model.get("started_ms") : model.get("duration_ms") || 0;
    if (elapsed) elapsed.textContent = seconds(Math.max(0, ms));
    const n = model.get("status") === "running" ? store.lineCount : model.get("line_count");
    if (count) count.textContent = `${n.toLocaleString("en-US")} line${n === 1 ? "" : "s"}`;
  }

  function paintHeader() {
    root.className = `miosa-term miosa-status-${model.get("status")}`;
    header.innerHTML = model.get("header");
    banner.innerHTML = model.get("banner");
    paintMeta();
  }

  // The DOM mirrors the store incrementally: a repaint touches only lines that changed, arrived
  // or left, so its cost follows the update, not the window (up to a thousand lines).
  const headBox = document.createElement("div");
  const gap = document.createElement("div");
  gap.className = "miosa-hidden";
  const tailBox = document.createElement("div");
  output.append(headBox, gap, tailBox);
  let domTailStart = 0;

  function sync(box, lines, from) {
    // Make box's children show lines[from ...]: update changed nodes, add or drop the rest.
    const nodes = box.children;
    for (let i = 0; i < lines.length - from; i++) {
      const html = lines[from + i];
      const node = nodes[i];
      if (!node) box.append(lineDiv(html));
      else if (node._html !== html) {
        node.innerHTML = html;
        node._html = html;
      }
    }
    while (nodes.length > lines.length - from) box.lastChild.remove();
  }

  function paintLines() {
    sync(headBox, store.head, 0);
    const start = store.tailStart;
    if (store.tail.length === 0 || start < domTailStart) {
      tailBox.replaceChildren(); // a new run or an older snapshot: start over
      domTailStart = start;
    }
    // Lines that scrolled out of the window leave from the front.
    const drop = Math.min(start - domTailStart, tailBox.children.length);
    for (let i = 0; i < drop; i++) tailBox.firstChild.remove();
    domTailStart = start;
    sync(tailBox, store.tail, 0);
    const hidden = store.tail.length ? store.tailStart - store.head.length : 0;
    gap.hidden = hidden <= 0;
    if (hidden > 0) {
      gap.textContent = `… ${hidden.toLocaleString("en-US")} line${hidden === 1 ? "" : "s"} hidden …`;
    }
    output.classList.toggle("miosa-empty", store.head.length + store.tail.length === 0);
    if (follow) output.scrollTop = output.scrollHeight;
  }

  // Repaints are coalesced to one per animation frame, however many messages arrive.
  let pending = false;
  function schedule() {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      paintLines();
      paintMeta();
    });
  }

  paintHeader();
  paintLines();
  store.listeners.add(schedule);
  const onChange = () => paintHeader();
  model.on("change:status", onChange);
  model.on("change:banner", onChange);
  model.on("change:header", onChange);
  const clock = setInterval(() => {
    if (model.get("status") === "running") paintMeta();
  }, 100);

  return () => {
    clearInterval(clock);
    store.listeners.delete(schedule);
    model.off("change:status", onChange);
    model.off("change:banner", onChange);
    model.off("change:header", onChange);
  };
}

export default {
  render({ model, el }) {
    return renderTerminal(model, el);
  },
};
