"""Text to HTML, one renderer for the live view and the static record.

Command output is text: every line is escaped, and ANSI SGR colours become inline-styled spans
through ansi2html (inline, so the saved record needs no 50 KB colour stylesheet; lines without an
escape character skip it: ``html.escape`` is ~50x cheaper). SGR state does not carry across lines.
The header and the banner are rendered here too, so the widget's JavaScript only places HTML and the
record saved in the notebook looks the same as the live view.
"""

from __future__ import annotations

import functools
import html
import re
from pathlib import Path

from ansi2html import Ansi2HTMLConverter

__all__ = ["ICONS", "banner_html", "header_html", "line_html", "stylesheet"]

STATIC = Path(__file__).parent / "static"

# Words carry the meaning, icons repeat it, colour reinforces it (never colour alone).
ICONS = {
    "running": "\u25b6",  # ▶
    "success": "\u2714",  # ✔
    "failure": "\u2716",  # ✖
    "timeout": "\u25f7",  # ◷ (a clock face that common monospace fonts have; U+23F1 often is missing)
    "error": "\u26a0",  # ⚠
    "cancelled": "\u25a0",  # ■
}
LABELS = {
    "running": "running",
    "success": "succeeded",
    "failure": "failed",
    "timeout": "timed out",
    "error": "error",
    "cancelled": "cancelled",
}
# Other terminal controls (cursor moves, OSC titles, bells) are dropped, not shown as garbage.
_CONTROL = re.compile(
    r"\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b\[[0-9;?]*[A-Za-ln-z]|[\x00-\x08\x0b-\x1a\x1c-\x1f\x7f]"
)


@functools.cache
def _converter() -> Ansi2HTMLConverter:
    return Ansi2HTMLConverter(inline=True, scheme="xterm")


def line_html(text: str, stream: str) -> str:
    """One screen line (no trailing newline) as escaped, coloured HTML."""
    if "\x1b" in text or _has_control(text):
        text = _CONTROL.sub("", text)
        body = (
            _converter().convert(text, full=False, ensure_trailing_newline=False)
            if "\x1b" in text
            else (html.escape(text, quote=False))
        )
    else:
        body = html.escape(text, quote=False)
    return f'<span class="miosa-err">{body}</span>' if stream == "stderr" else body


def _has_control(text: str) -> bool:
    return not text.isprintable() and _CONTROL.search(text) is not None


def header_html(command: str, computer: str) -> str:
    """The header: the command (first line, escaped), the computer, elapsed time and line count.

    The elapsed and count spans are filled in by the live view and by ``meta_text`` in the record.
    """
    first, _, rest = command.strip().partition("\n")
    more = ' <span class="miosa-more">…</span>' if rest else ""
    return (
        f'<span class="miosa-prompt">$</span> <code class="miosa-cmd" title="{html.escape(command)}">'
        f"{html.escape(first, quote=False)}</code>{more}"
        f'<span class="miosa-meta"><span class="miosa-computer">{html.escape(computer)}</span>'
        ' · <span class="miosa-elapsed"></span> · <span class="miosa-count"></span></span>'
    )


def banner_html(status: str, words: str) -> str:
    """The banner at the end of a run: icon, outcome word, details. ``role=status`` for screen readers."""
    return (
        f'<div class="miosa-banner miosa-banner-{status}" role="status" data-status="{status}">'
        f'<span class="miosa-icon" aria-hidden="true">{ICONS[status]}</span>'
        f'<span class="miosa-outcome">{LABELS[status]}</span>'
        f'<span class="miosa-words">{html.escape(words, quote=False)}</span></div>'
    )


@functools.cache
def stylesheet() -> str:
    """The view's CSS, shared by the live view (``_css``) and the static record."""
    css_path = STATIC / "terminal.css"
    return css_path.read_text(encoding="utf-8") if css_path.exists() else ""
