// The live view's per-model store, with a fake anywidget model: no browser, no kernel.
// Run: node --test js/test/ (pytest runs it too: tests/unit/test_js.py).
import assert from "node:assert/strict";
import { test } from "node:test";
import { initializeTerminal, shownLines, storeFor } from "../terminal.js";

function fakeModel(state = {}) {
  const values = { head_lines: 2, tail_lines: 3, run_id: 0, line_count: 0, window: { seq: -1, spans: [] }, ...state };
  const handlers = new Map();
  return {
    get: (k) => values[k],
    set(k, v) {
      values[k] = v;
      for (const fn of handlers.get(`change:${k}`) ?? []) fn();
    },
    on(name, fn) {
      if (!handlers.has(name)) handlers.set(name, new Set());
      handlers.get(name).add(fn);
    },
    off(name, fn) {
      handlers.get(name)?.delete(fn);
    },
    send(msg) {
      for (const fn of handlers.get("msg:custom") ?? []) fn(msg);
    },
    listeners: (name) => handlers.get(name)?.size ?? 0,
  };
}

const delta = (seq, line_count, spans, run_id = 0) => ({ type: "lines", run_id, seq, line_count, spans });

test("a delta that arrives before any view renders is kept", () => {
  const model = fakeModel();
  initializeTerminal({ model });
  model.send(delta(1, 1, [[0, ["Downloading..."]]]));
  // the view renders only now
  assert.deepEqual(shownLines(model), ["Downloading..."]);
});

test("head lines that arrive out of order are all shown", () => {
  const model = fakeModel({ head_lines: 5, tail_lines: 5 });
  initializeTerminal({ model });
  model.send(delta(1, 3, [[2, ["c"]]]));
  model.send(delta(2, 3, [[0, ["a", "b"]]]));
  assert.deepEqual(shownLines(model), ["a", "b", "c"]);
});

test("a line not received yet is a hole, filled by the next snapshot", () => {
  const model = fakeModel();
  initializeTerminal({ model });
  model.send(delta(1, 8, [[7, ["h"]]]));
  assert.deepEqual(shownLines(model), ["", "", "", "", "h"]);
  model.set("window", { seq: 1, line_count: 8, spans: [[0, ["a", "b"]], [5, ["f", "g", "h"]]] });
  assert.deepEqual(shownLines(model), ["a", "b", "f", "g", "h"]);
});

test("an older snapshot does not undo newer deltas", () => {
  const model = fakeModel();
  initializeTerminal({ model });
  model.send(delta(1, 1, [[0, ["one"]]]));
  model.send(delta(2, 2, [[1, ["two"]]]));
  model.set("window", { seq: 1, line_count: 1, spans: [[0, ["one"]]] });
  assert.deepEqual(shownLines(model), ["one", "two"]);
});

test("a model created late starts from its snapshot, and later deltas go on from it", () => {
  const spans = [[0, ["a", "b"]], [3, ["d", "e", "f"]]];
  const model = fakeModel({ window: { seq: 4, line_count: 6, spans } });
  initializeTerminal({ model });
  model.send(delta(4, 6, [[5, ["stale"]]])); // already in the snapshot: ignored
  model.send(delta(5, 7, [[6, ["g"]]]));
  assert.deepEqual(shownLines(model), ["a", "b", "e", "f", "g"]);
});

test("lines that leave the window are forgotten: the store stays bounded", () => {
  const model = fakeModel();
  initializeTerminal({ model });
  for (let i = 0; i < 1000; i++) model.send(delta(i + 1, i + 1, [[i, [`l${i}`]]]));
  assert.ok(storeFor(model).lines.size <= 5, `${storeFor(model).lines.size} lines kept`);
  assert.deepEqual(shownLines(model), ["l0", "l1", "l997", "l998", "l999"]);
});

test("a panel's next run starts empty, and messages of the old run are ignored", () => {
  const model = fakeModel();
  initializeTerminal({ model });
  model.send(delta(1, 1, [[0, ["old"]]]));
  model.set("window", { seq: -1, spans: [] });
  model.set("line_count", 0);
  model.set("run_id", 1);
  model.send(delta(2, 1, [[0, ["late old"]]], 0));
  model.send(delta(1, 1, [[0, ["new"]]], 1));
  assert.deepEqual(shownLines(model), ["new"]);
});

test("two views of one model read one store; cleanup removes every listener", () => {
  const model = fakeModel();
  const cleanup = initializeTerminal({ model });
  assert.equal(storeFor(model), storeFor(model));
  assert.equal(model.listeners("msg:custom"), 1);
  cleanup();
  assert.equal(model.listeners("msg:custom"), 0);
  assert.equal(model.listeners("change:window"), 0);
});
