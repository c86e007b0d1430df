"""``MiosaTerminal``: an interactive panel (command box, Run, Stop) over the same live view.

Each run streams in the background, so the kernel stays free; the panel refuses a second Run while
one is going (it says so in the panel) rather than queueing commands the user may have forgotten.
Run and Stop arrive as comm messages: JupyterLab >= 4.4 with ipykernel >= 7 delivers them on a
kernel subshell even while a cell runs; older front ends hold them until the cell finishes.
"""

from __future__ import annotations

import threading
from typing import Any

import traitlets

from ._client import Miosa, connect
from ._errors import MiosaError
from ._models import ExecResult
from ._present import STATIC
from ._runner import Run
from ._widget import TerminalView

__all__ = ["MiosaTerminal"]

_STILL_RUNNING = "A command is still running: press Stop, or wait for it to finish."


class MiosaTerminal(TerminalView):
    """A terminal panel for a notebook: type a command, press Enter, watch it run; Stop cancels.

    Parameters
    ----------
    computer
        Computer to run on; default: ``MIOSA_COMPUTER_ID``, else the embedded local computer.
    timeout
        Seconds before a command is killed; 0 (the default): no limit. Each command is a durable run
        (it outlives the stream, the 300 s of one exec and a dropped connection); ``attached=True``
        runs each as one exec instead (1-300 s, the API's default 30).
    client
        A ``Miosa`` client; default: the cloud when ``MIOSA_API_KEY`` is set, else the local computer.

    ``panel.run("cmd")`` does what the Run button does and returns the ``Run`` (``wait()``, ``cancel()``,
    ``result``); ``panel.attach("r1a2b3c4d")`` shows a durable run started elsewhere;
    ``panel.results`` keeps the ``ExecResult`` of every finished run. ``notify_after=60``: a run of a
    minute or more that ends while the tab is hidden shows a browser notification.
    """

    _esm = STATIC / "panel.js"

    computer = traitlets.Unicode("").tag(sync=True)
    timeout = traitlets.Int(0).tag(sync=True)
    history = traitlets.List(traitlets.Unicode()).tag(sync=True)
    busy = traitlets.Bool(False).tag(sync=True)
    message = traitlets.Unicode("").tag(sync=True)

    def __init__(
        self,
        computer: str | None = None,
        timeout: int = 0,
        *,
        attached: bool = False,
        client: Miosa | None = None,
        head: int = 20,
        tail: int = 1000,
        **kwargs: Any,
    ) -> None:
        super().__init__(timeout=timeout, head_lines=head, tail_lines=tail, **kwargs)
        if client is None:
            client, default_computer, _ = connect()
        else:
            default_computer = "local"
        self._client = client
        self._attached = attached
        self.computer = computer or default_computer
        self._runs: list[Run] = []
        self.current: Run | None = None
        self._lock = threading.Lock()
        self.on_msg(self._on_front_end)

    def run(self, command: str, *, computer: str | None = None, timeout: int | None = None) -> Run | None:
        """Start ``command`` in the background; returns the ``Run``, or None if one is still going."""
        if not command.strip():
            self.message = "Type a command first."
            return None
        timeout = timeout if timeout is not None else self.timeout
        if timeout < 0 or (self._attached and not 1 <= (timeout or 30) <= 300):
            self.message = (
                f"Timeout must be 1-300 seconds for an attached run, got {timeout}."
                if self._attached
                else f"Timeout must be a number of seconds (0: no limit), got {timeout}."
            )
            return None
        return self._start(
            command, computer, timeout=timeout or (30 if self._attached else None), durable=not self._attached
        )

    def attach(self, run_id: str, *, computer: str | None = None, tail: int | None = None) -> Run | None:
        """Show a durable run started elsewhere (another kernel, before a restart) in this panel."""
        return self._start(f"%miosa attach {run_id}", computer, attach=run_id, from_end=tail)

    def _start(self, command: str, computer: str | None, **options: Any) -> Run | None:
        from ._widget import WidgetView

        with self._lock:
            if self.current is not None and not self.current.done:
                self.message = _STILL_RUNNING
                return None
            view = WidgetView(
                head=self.head_lines,
                tail=self.tail_lines,
                widget=self,
                display=False,
                record_on_end=False,
                notify_after=self.notify_after,
            )
            run = Run(self._client, computer or self.computer, command, view=view, **options)
            self.current = run
            with self.hold_sync():
                self.busy = True
                self.message = ""
                if "attach" not in options and (not self.history or self.history[-1] != command):
                    self.history = [*self.history[-199:], command]
        run.add_done_callback(self._finished)
        try:
            run.start()
        except MiosaError:  # refused (stopped computer, bad key): the view shows the error banner
            return run
        from . import _magics

        if _magics._BACKGROUND is not None:  # Colab: re-sent from the cell's thread (see there)
            _magics._BACKGROUND.append(run)
        return run.start_background()

    def stop(self) -> None:
        """Cancel the running command: its process group on the computer is killed."""
        run = self.current
        if run is not None and not run.done:
            run.cancel()

    def _finished(self, run: Run) -> None:
        self._runs.append(run)
        with self.hold_sync():
            self.busy = False
            if self.message == _STILL_RUNNING:  # it was about the run that just ended
                self.message = ""

    @property
    def results(self) -> list[ExecResult]:
        """The ``ExecResult`` of every finished run of this panel, oldest first."""
        return [run.result for run in self._runs if run.result is not None]

    def _on_front_end(self, _: Any, content: dict[str, Any], buffers: list[Any]) -> None:
        # Runs on the kernel's comm thread: only start or cancel, never print.
        kind = content.get("type")
        if kind == "stop":
            self.stop()
        elif kind == "run":
            if content.get("computer"):
                self.computer = str(content["computer"])
            timeout = content.get("timeout")
            if isinstance(timeout, int | float) and not isinstance(timeout, bool):
                self.timeout = int(timeout)
            self.run(str(content.get("command", "")))
