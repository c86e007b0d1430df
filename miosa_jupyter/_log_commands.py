"""The page's side door to the whole log: anywidget commands (``invoke`` in ``js/tools.js``) that
answer with pages of lines, search results, plain text and 1 MB binary pieces of the raw output.

``LogCommands`` is mixed into ``TerminalView``; ``WidgetView.begin`` gives it the run's ``Log``.
JupyterLab >= 4.4 sends comm messages on a kernel subshell, which ipykernel 7 runs beside a cell
that holds the main shell, so these answer while the run's own cell still blocks. Every answer is
bounded (500 lines, about 1 MB) and a bad or stale request gets an ``error`` in words, never silence.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from anywidget.experimental import command

from ._log import SEARCH_LIMIT
from ._present import line_html

if TYPE_CHECKING:
    from ._log import Log

__all__ = ["PAGE_MAX", "RAW_PIECE", "TEXT_PIECE", "LogCommands"]

RAW_PIECE = 1 << 20  # a download travels in pieces of this many bytes, one message each
PAGE_MAX = 500  # lines a page of the log holds at most
TEXT_PIECE = 1 << 20  # characters of plain text a "copy all" message carries, about

Answer = tuple[Any, list[bytes]]


class LogCommands:
    """The commands; the widget they are mixed into has ``run_id`` and a ``comm``."""

    _log: Log | None = None  # the run it shows (set by WidgetView.begin)
    run_id: int

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        _commands_where_sent(getattr(self, "comm", None))

    def _log_for(self, msg: Any) -> Log:
        if self._log is None or not isinstance(msg, dict) or msg.get("run_id") != self.run_id:
            raise LookupError("This view shows another run now.")
        return self._log

    @command
    def log_lines(self, msg: Any, buffers: list[bytes]) -> Answer:
        """``{start, count, stream?}``: up to 500 lines (as HTML) from ``start``."""
        return _answer(lambda: (_lines(self._log_for(msg), msg), []))

    @command
    def log_search(self, msg: Any, buffers: list[bytes]) -> Answer:
        """``{query, regex, case, start}``: the indexes of the lines that match, first 10,000."""
        return _answer(lambda: (_search(self._log_for(msg), msg), []))

    @command
    def log_text(self, msg: Any, buffers: list[bytes]) -> Answer:
        """``{start}``: about 1 MB of plain text from line ``start``, and where to go on from."""
        return _answer(lambda: (_text(self._log_for(msg), msg), []))

    @command
    def log_raw(self, msg: Any, buffers: list[bytes]) -> Answer:
        """``{offset}``: the next 1 MB of the raw output, as a binary buffer (never a string)."""

        def piece() -> Answer:
            log = self._log_for(msg)
            data = log.raw(max(0, int(msg.get("offset", 0))), RAW_PIECE)
            return {"size": len(data), "total": log.raw_size()}, [data]

        return _answer(piece)

    @command
    def log_times(self, msg: Any, buffers: list[bytes]) -> Answer:
        """``{indexes}``: when each line arrived, in ms from the run's start (null: not known)."""

        def times() -> Answer:
            stamps = self._log_for(msg).stamps
            return {"times": [stamps.of(int(i)) for i in msg.get("indexes", [])[:5000]]}, []

        return _answer(times)


def _commands_where_sent(comm: Any) -> None:
    """Answer the page's commands on the kernel subshell it sent them to.

    ipykernel routes a comm's incoming messages to the shell that last *published* on it
    (``BaseComm._reply_subshell_for``): the cell that drives this view publishes from the main
    shell, so without this a search would wait for the cell to end.
    """
    route = getattr(comm, "_reply_subshell_for", None)
    if route is None:  # another kernel, or ipykernel < 7: commands wait for the main shell
        return

    def where_sent(data: Any, default: Any) -> Any:
        content = data.get("content") if isinstance(data, dict) else None
        if isinstance(content, dict) and content.get("kind") == "anywidget-command":
            return default  # the subshell named in the message's header (None: the main shell)
        return route(data, default)

    comm._reply_subshell_for = where_sent


def _answer(make: Callable[[], Answer]) -> Answer:
    """A command's answer; a run that is gone or a bad pattern is an ``error`` the page shows."""
    try:
        return make()
    except LookupError as exc:
        return {"error": str(exc)}, []
    except re.error as exc:
        return {"error": f"not a regular expression: {exc}"}, []
    except (TypeError, ValueError, AttributeError) as exc:  # a message this kernel's page didn't send
        return {"error": f"a request the kernel can't read ({exc})"}, []


def _start(msg: dict[str, Any]) -> int:
    return max(0, int(msg.get("start", 0)))


def _lines(log: Log, msg: dict[str, Any]) -> dict[str, Any]:
    count = max(0, min(int(msg.get("count", PAGE_MAX)), PAGE_MAX))
    stream = msg.get("stream") if msg.get("stream") in ("stdout", "stderr") else None
    lines = log.lines(_start(msg), count, stream=stream)
    return {
        "lines": [[line.index, line_html(line.text, line.stream, line.cut)] for line in lines],
        "line_count": log.line_count,
    }


def _search(log: Log, msg: dict[str, Any]) -> dict[str, Any]:
    query = str(msg.get("query", ""))
    if not query:
        return {"lines": [], "more": False}
    regex, case = bool(msg.get("regex")), bool(msg.get("case"))
    found = log.search(query, regex=regex, case=case, start=_start(msg))
    return {"lines": found, "more": len(found) >= SEARCH_LIMIT}


def _text(log: Log, msg: dict[str, Any]) -> dict[str, Any]:
    text, after = log.plain(_start(msg), TEXT_PIECE)
    return {"text": text, "next": after, "line_count": log.line_count}
