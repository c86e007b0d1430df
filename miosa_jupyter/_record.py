"""The static record of a finished run: ``text/html`` + ``text/plain``, the same window and banner as
the live view. It replaces the live view when a ``%%miosa`` run ends, so a saved notebook, a reload,
nbconvert and GitHub show the result (a widget alone shows "model not found" after a reload)."""

from __future__ import annotations

import html
from typing import Any

from ._outcome import seconds_text
from ._render import ICONS, LABELS, stylesheet

__all__ = ["Record"]


class Record:
    """What a run looked like when it ended; displays as HTML in notebooks and as text elsewhere."""

    def __init__(
        self,
        *,
        status: str,
        header: str,
        banner: str,
        head: list[str],
        tail: list[str],
        hidden: int,
        line_count: int,
        duration_ms: int | None,
        text_lines: list[str],
        command: str,
        computer: str,
        words: str,
    ) -> None:
        self.status = status
        self._header, self._banner = header, banner
        self._head, self._tail, self._hidden = head, tail, hidden
        self._count, self._duration = line_count, duration_ms
        self._text_lines = text_lines
        self._command, self._computer, self._words = command, computer, words

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, str]:
        return {"text/plain": self.text(), "text/html": self.html()}

    def __repr__(self) -> str:
        return self.text()

    def html(self) -> str:
        n = self._count
        meta = self._header.replace(
            '<span class="miosa-elapsed"></span>',
            f'<span class="miosa-elapsed">{seconds_text((self._duration or 0) / 1000)}</span>',
        ).replace(
            '<span class="miosa-count"></span>',
            f'<span class="miosa-count">{n:,} line{"" if n == 1 else "s"}</span>',
        )
        lines = [f'<div class="miosa-line">{h}</div>' for h in self._head]
        if self._hidden > 0:
            h = self._hidden
            lines.append(f'<div class="miosa-hidden">… {h:,} line{"" if h == 1 else "s"} hidden …</div>')
        lines += [f'<div class="miosa-line">{h}</div>' for h in self._tail]
        output = f'<div class="miosa-output" role="log">{"".join(lines)}</div>' if lines else ""
        return (
            f"<style>{stylesheet()}</style>"
            f'<div class="miosa-term miosa-status-{html.escape(self.status)} miosa-record">'
            f'<div class="miosa-header">{meta}</div>{output}'
            f'<div class="miosa-banner-slot">{self._banner}</div></div>'
        )

    def text(self) -> str:
        first = self._command.strip().partition("\n")[0]
        out = [f"$ {first}    [{self._computer}]", *self._text_lines]
        out.append(f"{ICONS[self.status]} {LABELS[self.status]} · {self._words}")
        return "\n".join(out)
