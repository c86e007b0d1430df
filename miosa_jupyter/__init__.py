"""Run commands on a Miosa computer from a Jupyter notebook and watch the output arrive live."""

from typing import TYPE_CHECKING as _TYPE_CHECKING
from typing import Any as _Any

if _TYPE_CHECKING:
    from IPython.core.interactiveshell import InteractiveShell as _InteractiveShell

    from ._client import DEFAULT_BASE_URL, AsyncMiosa, Miosa, __version__
    from ._durable import RunInfo, list_runs
    from ._errors import (
        APIConnectionError,
        APIStatusError,
        AuthenticationError,
        BadRequestError,
        CommandFailedError,
        CommandTimeoutError,
        ComputerNotRunningError,
        LocalServerError,
        MiosaError,
        NotFoundError,
        RateLimitError,
        RunInterrupted,
        ServerError,
        StreamError,
        TicketError,
    )
    from ._log import LogLine
    from ._models import Event, ExecResult
    from ._panel import MiosaTerminal
    from ._runner import Run
    from ._stream import AsyncExecStream, ExecStream
    from .local import LocalProcess, LocalServer, LocalSettings, local_server

# Imported on first use (PEP 562): the local computer's child process and plain scripts then skip
# the widget stack, and `import miosa_jupyter` stays cheap (0.45 s eager, measured).
_LAZY = {
    "APIConnectionError": "._errors",
    "APIStatusError": "._errors",
    "AsyncExecStream": "._stream",
    "AsyncMiosa": "._client",
    "AuthenticationError": "._errors",
    "BadRequestError": "._errors",
    "CommandFailedError": "._errors",
    "CommandTimeoutError": "._errors",
    "ComputerNotRunningError": "._errors",
    "DEFAULT_BASE_URL": "._client",
    "Event": "._models",
    "ExecResult": "._models",
    "ExecStream": "._stream",
    "LocalProcess": ".local",
    "LocalServer": ".local",
    "LocalServerError": "._errors",
    "LocalSettings": ".local",
    "LogLine": "._log",
    "Miosa": "._client",
    "MiosaError": "._errors",
    "MiosaTerminal": "._panel",
    "NotFoundError": "._errors",
    "RateLimitError": "._errors",
    "RunInterrupted": "._errors",
    "Run": "._runner",
    "RunInfo": "._durable",
    "ServerError": "._errors",
    "StreamError": "._errors",
    "TicketError": "._errors",
    "__version__": "._client",
    "list_runs": "._durable",
    "local_server": ".local",
}


def __getattr__(name: str) -> _Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'miosa_jupyter' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "DEFAULT_BASE_URL",
    "APIConnectionError",
    "APIStatusError",
    "AsyncExecStream",
    "AsyncMiosa",
    "AuthenticationError",
    "BadRequestError",
    "CommandFailedError",
    "CommandTimeoutError",
    "ComputerNotRunningError",
    "Event",
    "ExecResult",
    "ExecStream",
    "LocalProcess",
    "LocalServer",
    "LocalServerError",
    "LocalSettings",
    "LogLine",
    "Miosa",
    "MiosaError",
    "MiosaTerminal",
    "NotFoundError",
    "RateLimitError",
    "Run",
    "RunInfo",
    "RunInterrupted",
    "ServerError",
    "StreamError",
    "TicketError",
    "__version__",
    "list_runs",
    "load_ipython_extension",
    "local_server",
    "unload_ipython_extension",
]


def load_ipython_extension(ipython: "_InteractiveShell") -> None:
    """``%load_ext miosa_jupyter``: register ``%miosa`` and ``%%miosa``."""
    from ._magics import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython: "_InteractiveShell") -> None:
    from ._magics import unload_ipython_extension as unload

    unload(ipython)
