"""The static record of a finished run: ``text/html`` + ``text/plain``, the same window, header and
banner as the live view. It replaces the live view when a ``%%miosa`` run ends, so a saved notebook,
a reload, nbconvert and GitHub show the result (a widget alone shows "model not found" there).

Its output box scrolls in a ``column-reverse`` flexbox, like the live view's: with no script at all
(nbconvert HTML, GitHub) it opens at the end, where the last lines and the error are.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from ._present import (
    banner_html,
    banner_text,
    count_text,
    cut_text,
    first_line,
    header_html,
    left_out_text,
    line_text,
    seconds_text,
    stylesheet,
)

if TYPE_CHECKING:
    from ._view import Snapshot

__all__ = ["Record"]


_BOX = "display:flex;flex-direction:column-reverse;max-height:24em;overflow:auto"


class Record:
    """What a run looked like when it ended; displays as HTML in notebooks and as text elsewhere.

    ``rendered`` is the window's HTML as the live view got it (``[[start, [html, ...]], ...]``).
    """

    def __init__(
        self, command: str, computer: str, final: Snapshot, rendered: list[list[Any]], log_key: str = ""
    ) -> None:
        assert final.summary is not None
        self.status = final.summary.outcome
        self._command, self._computer, self._final = command, computer, final
        self._rendered = rendered
        self._log_key = log_key  # ``%miosa log KEY`` shows the lines the record leaves out

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, str]:
        return {"text/plain": self.text(), "text/html": self.html()}

    def __repr__(self) -> str:
        return self.text()

    def html(self) -> str:
        final = self._final
        header = header_html(
            self._command,
            self._computer,
            elapsed=seconds_text((final.summary.duration_ms or 0) / 1000) if final.summary else "",
            count=count_text(final.line_count),
        )
        head, tail = self._parts()
        lines = [f'<div class="miosa-line">{h}</div>' for h in head]
        if final.hidden > 0:
            lines.append(f'<div class="miosa-hidden">{html.escape(self._hidden())}</div>')
        lines += [f'<div class="miosa-line">{h}</div>' for h in tail]
        # The box's scrolling is inline too: where a page strips <style> (GitHub's notebook view), it
        # still opens at the end.
        output = (
            f'<div class="miosa-output" role="log" tabindex="0" style="{_BOX}">'
            f'<div class="miosa-lines">{"".join(lines)}</div></div>'
            if lines
            else ""
        )
        return (
            f"<style>{stylesheet()}</style>"
            f'<div class="miosa-term miosa-status-{html.escape(self.status)} miosa-record">'
            f'<div class="miosa-header">{header}</div>{output}'
            f'<div class="miosa-banner-slot">{banner_html(self.status, final.words)}</div></div>'
        )

    def _parts(self) -> tuple[list[str], list[str]]:
        head: list[str] = []
        tail: list[str] = []
        first_tail = self._final.spans[-1][0] if len(self._final.spans) > 1 else None
        for start, htmls in self._rendered:
            if first_tail is not None and start >= first_tail:
                tail = htmls
            else:
                head = htmls
        return head, tail

    def _hidden(self) -> str:
        """The marker of the lines left out, and how to get them."""
        return left_out_text(self._final.hidden, self._log_key)

    def text(self) -> str:
        final = self._final
        out = [f"$ {first_line(self._command)}    [{self._computer}]"]
        for i, (start, lines) in enumerate(final.spans):
            if i == 1 and final.hidden > 0:
                out.append(self._hidden())
            for j, (text, _) in enumerate(lines):
                cut = final.cuts.get(start + j, 0)
                out.append(line_text(text) + (cut_text(cut) if cut else ""))
        out.append(banner_text(self.status, final.words))
        return "\n".join(out)
