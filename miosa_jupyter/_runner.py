"""One run of a command, from POST to banner; the same runner serves the magic and the panel.

A reader thread consumes the event stream batch by batch (one network read each) into the transcript
and the screen; the driver (the cell's main thread, or a thread for background runs) wakes at most
``1 / interval`` times a second and hands the view what changed. So the view's traffic is bounded
whatever the command prints, and the last line of a burst still shows within one interval.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from itertools import groupby, repeat
from typing import TYPE_CHECKING, Any, Protocol

from ._errors import MiosaError
from ._models import TERMINAL_EVENTS, ExecResult
from ._outcome import banner_words
from ._screen import Run as LineRun
from ._screen import Screen
from ._stream import OutputRun
from ._transcript import Transcript

if TYPE_CHECKING:
    from ._client import Miosa
    from ._stream import Batch, ExecStream

__all__ = ["Run", "View"]

_GET = dict.get


def itemgetter_stream(payload: dict[str, Any]) -> Any:
    return payload.get("stream")


class View(Protocol):
    """Where a run shows itself: the widget, or plain text."""

    def begin(self, run: Run) -> None: ...
    def update(self, run: Run, changes: list[LineRun], texts: list[tuple[str, str]]) -> None: ...
    def end(self, run: Run) -> None: ...


class Run:
    """A command on a computer: ``start()`` it, then ``wait()`` (blocking) or ``start_background()``.

    ``result`` is an ``ExecResult`` once it has ended; ``cancel()`` works from any thread.
    """

    def __init__(
        self,
        client: Miosa,
        computer_id: str,
        command: str,
        *,
        timeout: int | None = None,
        shell: str | None = None,
        view: View | None = None,
        interval: float = 0.05,
        head: int = 20,
        tail: int = 1000,
        memory_cap: int = 16 << 20,
    ) -> None:
        self.client = client
        self.computer_id = computer_id
        self.command = command
        self.timeout = timeout
        self.shell = shell
        self.view = view
        self.interval = interval
        self.screen = Screen(head, tail)
        self.transcript = Transcript(memory_cap)
        self.terminal: dict[str, Any] | None = None
        self.summary: ExecResult | None = None  # how it ended, without the text
        self._result: ExecResult | None = None
        self.started = time.time()
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._wake = threading.Event()  # the reader has fed something since the last flush
        self._opened = threading.Event()  # the reader has opened the stream (or failed to)
        self._start_error: MiosaError | None = None
        self._ended = threading.Event()
        self._cancelled = False
        self._stream: ExecStream | None = None
        self._driver: threading.Thread | None = None
        self._callbacks: list[Any] = []
        self._error: str | None = None
        # Plain-text views want every byte, not just the window: then the reader keeps what's new.
        self._texts: list[tuple[str, str]] | None = [] if getattr(view, "wants_text", False) else None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Run:
        """Start the command and the reader; a refused start (bad key, stopped computer) ends the run
        at once with an ``error`` outcome and re-raises.

        The reader thread opens the stream (POST, then the events GET: ~12 ms) while this thread
        shows the view (~8 ms): the first line arrives sooner than doing one after the other.
        """
        threading.Thread(target=self._read, name="miosa-run-reader", daemon=True).start()
        try:
            if self.view is not None:
                self.view.begin(self)
            self._opened.wait()
        except KeyboardInterrupt:  # Ctrl-C while connecting: the reader hangs up once it can
            self._cancelled = True
            self._done.wait(5)
            self._finish()
            raise
        if self._start_error is not None:
            self._done.wait(5)
            self._finish()
            raise self._start_error
        return self

    def drive(self) -> ExecResult:
        """Drive the view on this thread until the run ends; returns ``summary`` (no output text).

        Ctrl-C (KeyboardInterrupt) cancels the run, shows it as cancelled, then re-raises so queued
        cells don't run.
        """
        try:
            while not self._done.is_set():
                # Sleep until the reader has something (the first line goes out at once), then
                # flush and hold off for one interval: at most 1/interval updates a second.
                if not self._wake.wait(self.interval * 2):
                    continue
                self._wake.clear()
                self._flush()
                self._done.wait(self.interval)
        except KeyboardInterrupt:
            self.cancel()
            self._done.wait(5)
            self._finish()
            raise
        self._finish()
        assert self.summary is not None
        return self.summary

    def start_background(self) -> Run:
        """Drive the view from a thread; the caller gets the run back at once."""
        self._driver = threading.Thread(target=self._drive_quietly, name="miosa-run-driver", daemon=True)
        self._driver.start()
        return self

    def _drive_quietly(self) -> None:
        try:
            self.drive()
        except BaseException:  # a background thread has no one to raise to; the view shows it
            self._finish()

    def wait(self, timeout: float | None = None) -> ExecResult | None:
        """Block until the run ends and return its ``ExecResult`` (None if ``timeout`` passes first)."""
        if self._driver is None:
            self.drive()
        else:
            self._ended.wait(timeout)
        return self.result

    def add_done_callback(self, callback: Any) -> None:
        """Call ``callback(run)`` when the run ends, before ``wait()`` returns."""
        self._callbacks.append(callback)

    def __repr__(self) -> str:
        first = self.command.strip().partition("\n")[0][:40]
        return f"<Run {first!r} on {self.computer_id}: {self.status}>"

    def cancel(self) -> None:
        """Stop the command: cut the stream (the local computer then kills the process group)."""
        if self._done.is_set():
            return
        self._cancelled = True
        if self._stream is not None:
            self._stream.abort()

    @property
    def done(self) -> bool:
        return self._ended.is_set()

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    # -- reading (reader thread) ----------------------------------------------------------------

    def _read(self) -> None:
        try:
            self._stream = self.client.exec.stream(
                self.computer_id, command=self.command, timeout=self.timeout, shell=self.shell
            )
        except MiosaError as exc:
            self._error = str(exc)
            self._start_error = exc
            self._done.set()
            return
        except BaseException as exc:  # never leave start() waiting on a dead reader
            self._error = f"{type(exc).__name__}: {exc}"
            self._done.set()
            return
        finally:
            self._opened.set()
        try:
            if self._cancelled:  # Ctrl-C came while connecting: hang up, the computer ends it
                return
            for batch in self._stream.batches():
                self._apply(batch)
                self._wake.set()
        except MiosaError as exc:
            if not self._cancelled:
                self._error = str(exc)
        except Exception as exc:  # never leave the driver waiting on a dead reader
            self._error = f"{type(exc).__name__}: {exc}"
        finally:
            self._stream.close()
            self._done.set()
            self._wake.set()

    def _apply(self, batch: Batch) -> None:
        if len(batch) == 1 and type(batch[0]) is OutputRun:  # the common case: one bulk-decoded run
            run = batch[0]
            with self._lock:
                self._feed(run.stream, "".join(run.lines))
            return
        outputs: list[dict[str, Any]] = []
        with self._lock:
            for part in batch:
                if type(part) is OutputRun:
                    self._feed_payloads(outputs)
                    self._feed(part.stream, "".join(part.lines))
                elif part.get("type") == "output":
                    outputs.append(part)
                elif part.get("type") in TERMINAL_EVENTS:
                    self.terminal = part
            self._feed_payloads(outputs)

    def _feed_payloads(self, outputs: list[dict[str, Any]]) -> None:
        """Feed output payloads, grouped into runs of one stream (C-level joins, no per-line work)."""
        if not outputs:
            return
        try:
            for stream, group in groupby(outputs, itemgetter_stream):
                self._feed(stream or "stdout", "".join(map(_GET, group, repeat("line"))))
        except TypeError:  # a payload without a string "line": keep what can be kept
            for p in outputs:
                self._feed(str(p.get("stream") or "stdout"), str(p.get("line") or ""))
        outputs.clear()

    def _feed(self, stream: str, text: str) -> None:
        self.transcript.add(stream, text)
        self.screen.feed(text, stream)
        if self._texts is not None:
            self._texts.append((stream, text))

    # -- driving the view --------------------------------------------------------------------

    def _flush(self) -> None:
        with self._lock:
            changes = self.screen.changes()
            texts: list[tuple[str, str]] = []
            if self._texts:
                texts, self._texts = self._texts, []
        if (changes or texts) and self.view is not None:
            self.view.update(self, changes, texts)

    def window(self) -> tuple[list[LineRun], int]:
        """The screen's whole window and line count, taken consistently."""
        with self._lock:
            return self.screen.window(), self.screen.count

    def _finish(self) -> None:
        if self._ended.is_set():
            return
        self._flush()
        self.summary = self._summary()
        if self.view is not None:
            self.view.end(self)
        for callback in self._callbacks:
            callback(self)
        self._ended.set()

    def _summary(self) -> ExecResult:
        """How the run ended, without its text (cheap: the views need only this)."""
        t = self.terminal or {}
        kind = t.get("type")
        elapsed = round((time.time() - self.started) * 1000)
        if kind == "exit":
            return ExecResult(exit_code=t.get("exit_code"), duration_ms=t.get("duration_ms", elapsed))
        if kind == "timeout":
            return ExecResult(exit_code=None, timed_out=True, duration_ms=elapsed)
        if self._cancelled:
            return ExecResult(exit_code=None, cancelled=True, duration_ms=elapsed)
        message = t.get("message") if kind == "error" else None
        return ExecResult(
            exit_code=None,
            error=message or self._error or "The run ended without a result.",
            duration_ms=elapsed,
        )

    @property
    def result(self) -> ExecResult | None:
        """The ``ExecResult`` with the whole output, once the run has ended (None before).

        Built on first use: the transcript may be large (and spilled to disk), and a run whose
        result no one asks for (``%%miosa`` without ``--out``) never copies it.
        """
        if self.summary is None:
            return None
        if self._result is None:
            self._result = dataclasses.replace(
                self.summary,
                stdout=self.transcript.text("stdout"),
                stderr=self.transcript.text("stderr"),
                output=self.transcript.text(),
            )
        return self._result

    @property
    def status(self) -> str:
        """``running`` until the end, then the outcome (``success``, ``failure``, ...)."""
        return self.summary.outcome if self.summary is not None else "running"

    @property
    def words(self) -> str:
        """The banner's words for how the run ended (``exit 0 · 1.2 s``, ``after 30 s``...)."""
        assert self.summary is not None
        return banner_words(self.summary, (self.terminal or {}).get("timeout_seconds") or self.timeout)

    @property
    def elapsed(self) -> float:
        return time.time() - self.started
