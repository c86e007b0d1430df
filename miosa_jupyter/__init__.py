"""Run commands on a Miosa computer from a Jupyter notebook and watch the output arrive live."""

from ._client import DEFAULT_BASE_URL, AsyncMiosa, Miosa, __version__
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
    ServerError,
    StreamError,
    TicketError,
)
from ._models import Event, ExecResult
from ._panel import MiosaTerminal
from ._runner import Run
from ._stream import AsyncExecStream, ExecStream
from .local import LocalServer, LocalSettings, local_server

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
    "LocalServer",
    "LocalServerError",
    "LocalSettings",
    "Miosa",
    "MiosaError",
    "MiosaTerminal",
    "NotFoundError",
    "RateLimitError",
    "Run",
    "ServerError",
    "StreamError",
    "TicketError",
    "__version__",
    "load_ipython_extension",
    "local_server",
    "unload_ipython_extension",
]


def load_ipython_extension(ipython):  # type: ignore[no-untyped-def]
    """``%load_ext miosa_jupyter``: register ``%miosa`` and ``%%miosa``."""
    from ._magics import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython):  # type: ignore[no-untyped-def]
    from ._magics import unload_ipython_extension as unload

    unload(ipython)
