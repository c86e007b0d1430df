"""The seam between the local computer's HTTP side and what runs its commands.

A ``Backend`` runs a command and gives back an ``Execution``: its events, and the means to end it.
The app and ``LocalComputer`` (the registry, limits, tickets, status) see only these two protocols;
what is host-specific (a shell in a new session, the watchdog, the environment, which Python runs
``exec.python``) is the backend's own. ``_subprocess.py`` is the one backend today.

The queue contract, which ``_replay.py`` (the event stream) and ``_result.py`` (``POST /exec``) read:

- ``execution.queue`` holds ``OutputChunk`` items (``_wire.py``: lines of one stream), then exactly one
  ``Ending``, which is the last item; nothing follows it.
- The queue is bounded in bytes of memory (``_queue.py``): past ``max_pending`` a backend's ``put``
  waits, so a slow or absent reader stops the command's output (back-pressure, never loss).
- The ending always fits (``put_nowait``): ``abort(message)`` can end a stream whose queue is full.
- A reader may take items out and ``put_back`` the rest of one; ``poke()`` wakes a reader that was
  superseded by a reconnection.
"""

from __future__ import annotations

import asyncio
from typing import Any, NamedTuple, Protocol

from .._wire import OutputChunk
from ._queue import OutputQueue

__all__ = ["Backend", "Ending", "Events", "Execution"]


class Ending(NamedTuple):
    """The last event of an execution: ``exit`` (``exit_code``, ``duration_ms``), ``timeout``
    (``timeout_seconds``) or ``error`` (``message``), with its data as the wire carries it."""

    event: str
    data: dict[str, Any]


Events = OutputQueue[OutputChunk | Ending]


class Execution(Protocol):
    """A command a backend started: read ``queue`` until its ``Ending``."""

    queue: Events
    finished: asyncio.Event  # set once the command and everything it started are gone
    # Set once a reader has taken the output (ticket redeemed) or none ever will (expired): until
    # then a finished command's output still holds memory, and its slot.
    claimed: asyncio.Event

    @property
    def pid(self) -> int | None:
        """The process that runs the command, if there is one on this host (tests, diagnostics)."""
        ...

    def cancel(self) -> None:
        """Kill the command now (no one will read its events). Safe to call more than once."""
        ...

    def abort(self, message: str) -> None:
        """Kill the command and end its stream with an ``error`` ending carrying ``message``."""
        ...

    async def wait_closed(self, timeout: float = 10.0) -> None:
        """Wait until the command and what it started are gone (bounded by ``timeout``)."""
        ...


class Backend(Protocol):
    """What runs the local computer's commands: "run a command, give me its events"."""

    async def start(self, command: str, *, timeout: float, shell: str) -> Execution:
        """Start ``command`` now with ``shell -c``, ending it after ``timeout`` seconds.

        Raises ``OSError`` if it can't start (the app answers 502).
        """
        ...

    def python(self, code: str) -> tuple[str, str]:
        """The command and the shell that run Python source ``code`` (``POST /exec/python``)."""
        ...

    def close(self) -> None:
        """The server is stopping: release what the backend holds (whatever is left ends)."""
        ...
