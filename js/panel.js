// The interactive panel: a command box with history, computer and timeout fields, Run and Stop,
// above the same terminal view as %%miosa (imported, not copied).
//
// Run and Stop are custom messages ({type: "run" | "stop"}), never trait toggles: ipywidgets merges
// pending state syncs, and a message is what the kernel's comm handler acts on at once.
import { el } from "./dom.js";
import { initializeTerminal, renderTerminal } from "./terminal.js";


function render({ model, el: host, experimental }) {
  const command = el("input", {
    className: "miosa-command",
    type: "text",
    placeholder: "command — Enter runs, ↑/↓ history",
    spellcheck: false,
  });
  command.setAttribute("aria-label", "command");
  const computer = el("input", { className: "miosa-computer", type: "text", size: 10 });
  computer.setAttribute("aria-label", "computer");
  // Empty (0 in the model): no limit, the durable run's default.
  const timeout = el("input", { className: "miosa-timeout", type: "number", min: 0, placeholder: "none" });
  timeout.setAttribute("aria-label", "time limit in seconds (empty: none)");
  const run = el("button", { className: "miosa-run", type: "button", textContent: "▶ Run" });
  const stop = el("button", { className: "miosa-stop", type: "button", textContent: "■ Stop" });
  const message = el("div", { className: "miosa-message" });
  message.setAttribute("role", "alert");
  const slot = el("div", { className: "miosa-terminal-slot" });
  const controls = el("div", { className: "miosa-controls" }, [
    command,
    el("label", {}, ["on ", computer]),
    el("label", {}, ["timeout ", timeout, " s"]),
    run,
    stop,
  ]);
  host.append(el("div", { className: "miosa-panel" }, [controls, message, slot]));

  let cursor = null; // position in the history while walking it with ↑/↓
  let submitted = null;
  function accepted() {
    const history = model.get("history");
    if (submitted !== null && history[history.length - 1] === submitted && command.value === submitted) {
      command.value = "";
    }
    submitted = null;
  }
  function sync() {
    const busy = model.get("busy");
    // One of Run and Stop at a time, the other hidden, not disabled: clicking a disabled button
    // took the editor's focus in VS Code (vscode-jupyter#17000).
    run.hidden = busy;
    stop.hidden = !busy;
    message.textContent = model.get("message");
    computer.value = model.get("computer");
    timeout.value = model.get("timeout") || "";
    slot.hidden = model.get("run_id") === 0;
  }

  function submit() {
    const text = command.value;
    if (!text.trim()) return;
    model.send({
      type: "run",
      command: text,
      computer: computer.value.trim(),
      timeout: Number(timeout.value) || 0,
    });
    cursor = null;
    submitted = text; // cleared from the box once the kernel accepts it (it lands in the history)
  }

  command.addEventListener("keydown", (event) => {
    const history = model.get("history");
    if (event.key === "Enter") {
      event.preventDefault();
      submit();
    } else if (event.key === "ArrowUp" && history.length) {
      event.preventDefault();
      cursor = cursor === null ? history.length - 1 : Math.max(0, cursor - 1);
      command.value = history[cursor];
    } else if (event.key === "ArrowDown" && cursor !== null) {
      event.preventDefault();
      cursor += 1;
      if (cursor >= history.length) {
        cursor = null;
        command.value = "";
      } else {
        command.value = history[cursor];
      }
    }
    // Keep JupyterLab's notebook shortcuts out of the text box.
    event.stopPropagation();
  });
  run.addEventListener("click", () => {
    submit();
    command.focus(); // the Run button hides while the command runs: keep the keyboard here
  });
  stop.addEventListener("click", () => {
    model.send({ type: "stop" });
    command.focus(); // Stop hides once the run ends: focus must not fall to the page
  });

  const names = ["busy", "message", "computer", "timeout", "run_id"];
  for (const name of names) model.on(`change:${name}`, sync);
  model.on("change:run_id", accepted);
  model.on("change:message", () => {
    if (model.get("message")) submitted = null; // refused: the text stays in the box
  });
  sync();
  const cleanupTerminal = renderTerminal(model, slot, experimental?.invoke);
  return () => {
    for (const name of names) model.off(`change:${name}`, sync);
    model.off("change:run_id", accepted);
    cleanupTerminal();
  };
}

export default { initialize: initializeTerminal, render };
