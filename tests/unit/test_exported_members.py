"""Pins the public API, as httpx's tests/test_exported_members.py does."""

import types

import miosa_jupyter

EXPECTED = [
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


def _isort_key(name: str) -> tuple[int, str]:
    # ruff's RUF022 order: SCREAMING_CASE constants, then CamelCase classes, then everything else.
    if name.isupper() and len(name) > 1:
        return (0, name)
    if name[:1].isupper():
        return (1, name)
    return (2, name)


def test_all_is_pinned():
    # Miosa is the main entry point: `from miosa_jupyter import *` must give it.
    assert miosa_jupyter.__all__ == EXPECTED


def test_all_is_sorted_without_duplicates():
    assert miosa_jupyter.__all__ == sorted(set(miosa_jupyter.__all__), key=_isort_key)


def test_every_exported_name_is_importable():
    for name in miosa_jupyter.__all__:
        namespace: dict[str, object] = {}
        exec(f"from miosa_jupyter import {name}", namespace)  # noqa: S102
        assert namespace[name] is getattr(miosa_jupyter, name)


def test_every_public_member_is_exported():
    for name in miosa_jupyter.__all__:  # members are imported on first use (PEP 562)
        getattr(miosa_jupyter, name)
    public = {
        name
        for name, value in vars(miosa_jupyter).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public | {"__version__"} == set(miosa_jupyter.__all__)


def test_every_exported_error_is_a_miosa_error():
    for name in miosa_jupyter.__all__:
        member = getattr(miosa_jupyter, name)
        if (
            member is miosa_jupyter.RunInterrupted
        ):  # an interrupt, not an error: `except MiosaError` lets it by
            assert issubclass(member, KeyboardInterrupt)
        elif isinstance(member, type) and issubclass(member, BaseException):
            assert issubclass(member, miosa_jupyter.MiosaError), name
