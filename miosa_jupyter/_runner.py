"""One run of a command, from POST to banner; the same runner serves the magic and the panel.

A reader thread consumes the event stream batch by batch (one network read each) into the transcript
and the screen; the driver (the cell's main thread, or a thread for background runs) wakes at most
``1 / interval`` times a second and hands the view a ``Delta``: what changed. So the view's traffic is
bounded whatever the command prints, and the last line of a burst still shows within one interval.
Now and then (at most once a second, and as soon as the output goes quiet) the delta also carries a
``Snapshot`` of the whole window, which is what a view that renders late, a second view or a
reloaded page starts from: a command that prints a line and then works quietly is shown whole.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from itertools import groupby, repeat
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._durable import Follow
from ._errors import MiosaError
from ._following import Following
from ._log import Log, LogLine, Stamps
from ._models import ExecResult
from ._present import banner_words, input_hint, reconnecting_words, running_words
from ._screen import Screen
from ._scrollback import Scrollback
from ._stream import StreamLines
from ._transcript import Transcript
from ._view import Delta, Snapshot, View
from ._wire import TERMINAL_EVENTS

if TYPE_CHECKING:
    from collections.abc import Callable

    from ._client import Miosa
    from ._stream import Batch, ExecStream

__all__ = ["Run"]

SCROLLBACK_MEMORY = 1 << 20  # characters of lines that left the window kept in memory; past it, disk
PROMPT_AFTER = 2.0  # seconds of quiet on a prompt-like last line before the banner says so

_GET: Callable[[dict[str, Any], str], Any] = dict.get


def itemgetter_stream(payload: dict[str, Any]) -> Any:
    return payload.get("stream")


class Run(Following):
    """A command on a computer, as the magic and the panel run it: ``wait()`` for its ``ExecResult``,
    ``cancel()`` it from any thread, or look at ``status`` / ``done`` / ``result`` as it goes.

    ``%%miosa --bg`` and ``MiosaTerminal.run()`` hand these out.
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
        snapshot_every: float = 1.0,
        durable: bool = False,
        attach: str | None = None,
        from_end: int | None = None,
        follow_seconds: int = 300,
        reconnect_for: float = 120.0,
    ) -> None:
        self.client = client
        self.computer_id = computer_id
        self.command = command
        self.timeout = timeout
        self.shell = shell
        self.started = time.time()
        self._view = view
        self._interval = interval
        self._snapshot_every = snapshot_every
        # The scrollback holds little in memory: lines kept there are fresh allocations the reader
        # would touch for the first time, while lines let go of early are reused (measured: a 16 MB
        # cap cost the screen 2.6x, 1 MB 1.8x, on 100 MB of plain text; bench/README.md).
        self._screen = Screen(head, tail, scrollback=Scrollback(min(memory_cap, SCROLLBACK_MEMORY)))
        self._transcript = Transcript(memory_cap)
        self._stamps = Stamps(self.started)
        self._texts: list[tuple[str, str]] = []  # output text since the last delta
        self._terminal: dict[str, Any] | None = None  # the exit / timeout / error event
        self._summary: ExecResult | None = None  # how it ended, without the text
        self._result: ExecResult | None = None
        self._words = ""
        self._lock = threading.Lock()
        self._read_done = threading.Event()  # the reader has stopped
        self._wake = threading.Event()  # the reader has fed something since the last flush
        self._opened = threading.Event()  # the reader has opened the stream (or failed to)
        self._ended = threading.Event()  # the view has shown the end: the run is done
        self._start_error: MiosaError | None = None
        self._error: str | None = None
        self._cancelled = False
        self._stream: ExecStream | None = None
        self._driver: threading.Thread | None = None
        self._callbacks: list[Callable[[Run], None]] = []
        self._snapshot_seq = 0  # the screen's change count when the last snapshot went out
        self._changes = 0
        self._snapshot_at = 0.0
        # A durable run (``_durable.py``): detached on the computer, followed exec after exec.
        self._follow = Follow(attach) if durable or attach else None
        self._attach = attach is not None
        self._from_end = from_end
        self._follow_seconds = follow_seconds
        self._reconnect_for = reconnect_for
        self._control_seconds = min(10, follow_seconds)  # a kill, a count: short execs
        self._kill_error: str | None = None
        self._phase = running_words(computer_id, self.run_id)  # the running banner's words
        self._phase_shown = self._phase
        self._quiet_since: float | None = None  # when the command last printed, while it is quiet
        self._pulse_seen = 0  # the change count at the last pulse
        self._hinted = False  # the banner says it may wait for input
        self.log = Log(self._lock, self._screen, self._transcript, self._stamps)
        """Every screen line of the run (the view's search, pages, copy and download read it)."""

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Run:
        """Start the command and the reader; a refused start (bad key, stopped computer) ends the run
        at once with an ``error`` outcome and re-raises.

        The reader thread opens the stream (POST, then the events GET: ~12 ms) while this thread
        shows the view (~8 ms): the first line arrives sooner than doing one after the other.
        """
        threading.Thread(target=self._read, name="miosa-run-reader", daemon=True).start()
        try:
            if self._view is not None:
                self._view.begin(self)
            self._snapshot_at = time.monotonic()
            self._opened.wait()
        except KeyboardInterrupt:  # Ctrl-C while connecting: the reader hangs up once it can
            self._cancelled = True
            self._read_done.wait(5)
            self._finish()
            raise
        if self._start_error is not None:
            self._read_done.wait(5)
            self._finish()
            raise self._start_error
        return self

    def _drive(self) -> None:
        """Drive the view on this thread until the run ends.

        Ctrl-C (KeyboardInterrupt) cancels the run, shows it as cancelled, then re-raises so queued
        cells don't run.
        """
        try:
            while not self._read_done.is_set():
                # Sleep until the reader has something (the first line goes out at once), then
                # flush and hold off for one interval: at most 1/interval updates a second. A
                # quiet interval is a tick: the view gets the snapshot it may be missing.
                if not self._wake.wait(self._interval * 2):
                    self._flush(quiet=True)
                    self._pulse()
                    continue
                self._wake.clear()
                self._flush(quiet=False)
                self._pulse()
                self._read_done.wait(self._interval)
        except KeyboardInterrupt:
            self.cancel()
            self._read_done.wait(5)
            self._finish()
            raise
        self._finish()

    def start_background(self) -> Run:
        """Drive the view from a thread; the caller gets the run back at once."""
        self._driver = threading.Thread(target=self._drive_quietly, name="miosa-run-driver", daemon=True)
        self._driver.start()
        return self

    def _drive_quietly(self) -> None:
        try:
            self._drive()
        except BaseException:  # a background thread has no one to raise to; the view shows it
            self._finish()

    def wait(self, timeout: float | None = None) -> ExecResult | None:
        """Block until the run ends and return its ``ExecResult`` (None if ``timeout`` passes first).

        A run that nothing drives yet (``start()`` only) is driven on this thread.
        """
        if self._driver is None and not self._ended.is_set():
            self._drive()
        else:
            self._ended.wait(timeout)
        return self.result

    def add_done_callback(self, callback: Callable[[Run], None]) -> None:
        """Call ``callback(run)`` when the run ends, before ``wait()`` returns."""
        self._callbacks.append(callback)

    def __repr__(self) -> str:
        first = self.command.strip().partition("\n")[0][:40]
        return f"<Run {first!r} on {self.computer_id}: {self.status}>"

    @classmethod
    def attach(
        cls, client: Miosa, computer_id: str, run_id: str, *, tail: int | None = None, **options: Any
    ) -> Run:
        """A run that follows durable run ``run_id`` (started by another kernel, before a restart...)
        from its first line, or its last ``tail`` lines of each stream; ``start()`` it as any run.

        ``list_runs(client, computer_id)`` lists the runs there.
        """
        return cls(client, computer_id, f"%miosa attach {run_id}", attach=run_id, from_end=tail, **options)

    def cancel(self) -> None:
        """Stop the command: a durable run's process group is killed on the computer; an attached
        run's stream is cut (the local computer then kills its process group)."""
        if self._read_done.is_set() or self._cancelled:
            return
        self._cancelled = True
        if self._follow is None:
            if self._stream is not None:
                self._stream.abort()
        elif self._stream is not None:  # (else the reader kills it once its first exec is open)
            threading.Thread(target=self._kill, name="miosa-run-cancel", daemon=True).start()

    @property
    def run_id(self) -> str | None:
        """The durable run's id on its computer (``%miosa attach ID``); None for an attached run."""
        return self._follow.run_id if self._follow is not None else None

    @property
    def done(self) -> bool:
        """True once the run has ended and its view shows the end (``result`` is ready)."""
        return self._ended.is_set()

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    # -- reading (reader thread) ----------------------------------------------------------------

    def _read(self) -> None:
        if self._follow is not None:
            self._read_durable(self._follow)
        else:
            self._read_attached(self.timeout)

    def _read_attached(self, timeout: int | None) -> None:
        try:
            self._stream = self.client.exec.stream(
                self.computer_id, command=self.command, timeout=timeout, shell=self.shell
            )
        except MiosaError as exc:
            self._error = str(exc)
            self._start_error = exc
            self._read_done.set()
            return
        except BaseException as exc:  # never leave start() waiting on a dead reader
            self._error = f"{type(exc).__name__}: {exc}"
            self._read_done.set()
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
            self._read_done.set()
            self._wake.set()

    def _note(self, text: str) -> None:
        """A line of ours in the view (not in the transcript: it is not the command's output)."""
        with self._lock:
            self._screen.feed(text, "stderr")
            self._texts.append(("stderr", text))
            self._changes += 1
        self._wake.set()

    def _apply(self, batch: Batch) -> None:
        if len(batch) == 1 and type(batch[0]) is StreamLines:  # the common case: one bulk-decoded group
            group = batch[0]
            with self._lock:
                self._feed(group.stream, "".join(group.lines))
            return
        outputs: list[dict[str, Any]] = []
        with self._lock:
            for part in batch:
                if type(part) is StreamLines:
                    self._feed_payloads(outputs)
                    self._feed(part.stream, "".join(part.lines))
                elif part.get("type") == "output":
                    outputs.append(part)
                elif part.get("type") in TERMINAL_EVENTS:
                    self._terminal = part
            self._feed_payloads(outputs)

    def _feed_payloads(self, outputs: list[dict[str, Any]]) -> None:
        """Feed output payloads, grouped by stream (C-level joins, no per-line work)."""
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
        if self._follow is not None:
            text = self._follow.feed(stream, text)
            if not text:
                return
        self._transcript.add(stream, text)
        self._stamps.mark(self._screen.count)
        self._screen.feed(text, stream)
        self._texts.append((stream, text))
        self._changes += 1

    # -- driving the view --------------------------------------------------------------------

    def _flush(self, *, quiet: bool) -> None:
        if self._view is not None and not self._view.ready():
            return  # the changes stay in the screen and go out with the next flush
        phase = self._phase
        if getattr(self._stream, "reconnecting", False):  # the client resumes the stream itself
            phase = reconnecting_words(self.computer_id)
        if phase != self._phase_shown:
            self._phase_shown = phase
            if self._view is not None:
                self._view.note(phase)
        now = time.monotonic()
        with self._lock:
            stale = self._changes != self._snapshot_seq
            if not self._texts and not (quiet and stale):
                return
            spans = self._screen.changes()
            texts, self._texts = self._texts, []
            snapshot = None
            if stale and (quiet or now - self._snapshot_at >= self._snapshot_every):
                snapshot = self._take_snapshot()
                self._snapshot_seq, self._snapshot_at = self._changes, now
            count = self._screen.count
            cuts = self._screen.cuts(spans)
        if self._view is not None and (spans or texts or snapshot):
            self._view.update(Delta(spans, texts, count, snapshot, cuts))

    def _pulse(self) -> None:
        """Tell the view when the command goes quiet (and when it prints again); after a couple of
        quiet seconds on a line that looks like a prompt, say there is no stdin to answer it."""
        now = time.time()
        if self._changes != self._pulse_seen:  # it printed since the last look
            self._pulse_seen = self._changes
            if self._quiet_since is not None:
                self._quiet_since = None
                if self._view is not None:
                    self._view.pulse(None)
                if self._hinted:
                    self._hinted = False
                    self._phase = running_words(self.computer_id, self.run_id)
            return
        if self._quiet_since is None:
            self._quiet_since = now - 2 * self._interval
            if self._view is not None:
                self._view.pulse(self._quiet_since)
        elif not self._hinted and now - self._quiet_since >= PROMPT_AFTER:
            with self._lock:
                hint = input_hint(self._screen.last_line()) if self._screen.open else None
            if hint is not None:
                self._hinted = True
                self._phase = hint  # (shown by the next flush)

    def _take_snapshot(self, summary: ExecResult | None = None, words: str = "") -> Snapshot:
        screen = self._screen
        spans = screen.window()
        return Snapshot(spans, screen.count, screen.open, summary, words, screen.cuts(spans))

    def _finish(self) -> None:
        if self._ended.is_set():
            return
        self._flush(quiet=False)  # (skipped when the view is over budget: its end() has it all)
        self._summary = summary = self._make_summary()
        timeout = (self._terminal or {}).get("timeout_seconds") or self.timeout
        if timeout is None and summary.timed_out:  # an attached-to run's limit: what it ran for
            timeout = round((summary.duration_ms or 0) / 1000)
        self._words = banner_words(summary, timeout)
        with self._lock:
            final = self._take_snapshot(summary, self._words)
        if self._view is not None:
            self._view.end(final)
        self.log.settle()  # (after the banner: it may write megabytes)
        self._ended.set()
        for callback in self._callbacks:
            callback(self)

    def _make_summary(self) -> ExecResult:
        """How the run ended, without its text (cheap: the views need only this)."""
        t = self._terminal or {}
        kind = t.get("type")
        elapsed = round((time.time() - self.started) * 1000)
        follow = self._follow
        if follow is not None and follow.status is not None:
            status = follow.status
            if self._attach and follow.started is not None:  # it started before this kernel saw it
                elapsed = round(max(0.0, status.ended - follow.started) * 1000)
            if status.reason == "timeout":
                return ExecResult(exit_code=None, timed_out=True, duration_ms=elapsed)
            if status.reason == "cancelled":
                return ExecResult(exit_code=None, cancelled=True, duration_ms=elapsed)
            return ExecResult(exit_code=status.exit_code, duration_ms=elapsed)
        if self._kill_error is not None and follow is not None and follow.status is None:
            return ExecResult(exit_code=None, duration_ms=elapsed, error=self._kill_error)
        if follow is not None and follow.lost and not self._cancelled:
            return ExecResult(
                exit_code=None,
                duration_ms=elapsed,
                error=f"Run {follow.run_id} on {self.computer_id} ended without a status: it was killed "
                "from outside (its computer restarted, or the local computer that ran it stopped).",
            )
        if kind == "exit":
            code = t.get("exit_code")
            return ExecResult(
                exit_code=code if isinstance(code, int) else None,
                duration_ms=t.get("duration_ms", elapsed),
                error=None if isinstance(code, int) else "The exit event had no exit code.",
            )
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
    def summary(self) -> ExecResult | None:
        """How the run ended (exit code, outcome, duration) without its output; None while running."""
        return self._summary

    @property
    def result(self) -> ExecResult | None:
        """The ``ExecResult`` with the whole output, once the run has ended (None before).

        Built on first use: the transcript may be large (and spilled to disk), and a run whose
        result no one asks for (``%%miosa`` without ``--out``) never copies it.
        """
        if self._summary is None:
            return None
        if self._result is None:
            self._result = dataclasses.replace(
                self._summary,
                stdout=self._transcript.text("stdout"),
                stderr=self._transcript.text("stderr"),
                output=self._transcript.text(),
            )
        return self._result

    # -- the whole log ---------------------------------------------------------------------------

    def lines(self, start: int = 0, count: int = 500, *, stream: str | None = None) -> list[LogLine]:
        """Screen lines ``start ..`` as the view shows them (``LogLine.text`` with its colours,
        ``LogLine.plain`` without), of one stream if given; works while the run goes on."""
        return self.log.lines(start, count, stream=stream)

    def search(
        self, query: str, *, regex: bool = False, case: bool = False, limit: int = 1000
    ) -> list[LogLine]:
        """The screen lines that hold ``query`` (plain text, case-insensitive by default; ``regex``: a
        Python regular expression, matched a line at a time), first ``limit`` of them.

        The view's search box asks the same, over every line, the hidden ones too.
        """
        return self.log.pick(self.log.search(query, regex=regex, case=case, limit=limit))

    def save(self, path: str | os.PathLike[str], *, plain: bool = False) -> Path:
        """Write the whole output to ``path``: its bytes as they arrived (both streams, colour codes in),
        or with ``plain`` the screen lines as text. Read from the spill file in 1 MB pieces, so a
        100 MB log never sits in memory whole. Returns the path."""
        target = Path(path)
        with target.open("wb") as file:
            if plain:
                at = 0
                while at < self.log.line_count:
                    text, at = self.log.plain(at, 1 << 20)
                    if not text:
                        break
                    file.write(text.encode("utf-8", "surrogatepass"))
            else:
                offset = 0
                while piece := self.log.raw(offset, 1 << 20):
                    file.write(piece)
                    offset += len(piece)
        return target

    @property
    def status(self) -> str:
        """``running`` until the end, then the outcome (``success``, ``failure``, ...)."""
        return self._summary.outcome if self._summary is not None else "running"

    @property
    def words(self) -> str:
        """The banner's words for how the run ended (``exit 0 · 1.2 s``, ``after 30 s``...); "" before."""
        return self._words
