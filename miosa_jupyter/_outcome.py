"""A run's end in words: the banner's ``exit 2 · 1.2 s · command not found``, ``after 300 s``..."""

from __future__ import annotations

from ._models import ExecResult

__all__ = ["banner_words", "seconds_text"]

_HINTS = {
    126: "not executable",
    127: "command not found",
    130: "interrupted (SIGINT)",
    137: "killed (SIGKILL, often out of memory)",
    143: "terminated (SIGTERM)",
}


def banner_words(result: ExecResult, timeout: int | None = None) -> str:
    """The banner's words after its outcome word: ``exit 0 · 45.3 s``, ``after 300 s`` (timed out),
    the error message..."""
    outcome = result.outcome
    took = seconds_text((result.duration_ms or 0) / 1000)
    if outcome == "timeout":
        return f"after {timeout or '?'} s"
    if outcome == "cancelled":
        return f"after {took}"
    if outcome == "error":
        return result.error or "error"
    hint = _HINTS.get(result.exit_code or 0)
    return f"exit {result.exit_code} · {took}" + (f" · {hint}" if hint else "")


def seconds_text(s: float) -> str:
    """``0.25 s``, ``45.3 s``, ``2 min 5 s``: as precise as a reader needs."""
    if s < 10:
        return f"{s:.2f} s"
    if s < 60:
        return f"{s:.1f} s"
    m, sec = divmod(round(s), 60)
    return f"{m} min {sec} s"
