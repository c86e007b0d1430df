"""Every word, icon, duration and HTML fragment a person sees: one module for the live view, the text
view and the static record, so they can't drift.

Command output is text: every line is escaped here once, and SGR colours become spans. The 16 basic
colours are classes (``ansi-red-fg``, JupyterLab's names) so the stylesheet can give them a palette
that stays readable in the light and the dark theme; 256-colour and true colour are inline styles.
ansi2html, used before, can only do all-inline (no theming) or all-classes (no true colour).
"""

from __future__ import annotations

import functools
import html
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING

from ._models import ExecResult

if TYPE_CHECKING:
    from ._durable import RunInfo

__all__ = [
    "ICONS",
    "LABELS",
    "banner_html",
    "banner_text",
    "banner_words",
    "count_text",
    "cut_html",
    "cut_text",
    "detached_words",
    "header_html",
    "hidden_text",
    "input_hint",
    "line_html",
    "line_text",
    "reconnecting_words",
    "running_words",
    "runs_table",
    "seconds_text",
    "stylesheet",
]

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
_HINTS = {
    126: "not executable",
    127: "command not found",
    130: "interrupted (SIGINT)",
    137: "killed (SIGKILL, often out of memory)",
    143: "terminated (SIGTERM)",
}

# -- words -------------------------------------------------------------------------------------------


def seconds_text(s: float) -> str:
    """``0.25 s``, ``45.3 s``, ``2 min 5 s``: as precise as a reader needs."""
    if s < 10:
        return f"{s:.2f} s"
    if s < 60:
        return f"{s:.1f} s"
    m, sec = divmod(round(s), 60)
    return f"{m} min {sec} s"


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def count_text(n: int) -> str:
    """``1 line``, ``4,000 lines``."""
    return _plural(n, "line")


def hidden_text(n: int) -> str:
    """The marker between the head and the tail: ``… 3,980 lines hidden …``."""
    return f"… {_plural(n, 'line')} hidden …"


def left_out_text(n: int, key: str) -> str:
    """The static record's marker: how many lines it leaves out, and how to see them."""
    how = f" · `%miosa log {key}` shows them all" if key else ""
    if key and not key.startswith("r"):  # an attached run's log lives in the kernel only
        how += " while this kernel runs"
    return f"… {_plural(n, 'line')} not shown{how} …"


def cut_text(cut: int) -> str:
    """What a line too long to show says at its end: `` … 12,345 more characters``."""
    return f" … {cut:,} more characters"


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


def running_words(computer: str, run_id: str | None = None) -> str:
    """The running banner's words: ``on local``, ``on local · run r1a2b3c4d``."""
    return f"on {computer}" + (f" · run {run_id}" if run_id else "")


def reconnecting_words(computer: str) -> str:
    return f"reconnecting to {computer}…"


def detached_words(computer: str, run_id: str, why: str) -> str:
    """Why following stopped, and how to pick it up again: the run may still be going."""
    return (
        f"detached: still running on {computer}, as far as is known ({why}); re-attach with "
        f"`%miosa attach {run_id}`"
    )


RUNS_SHOWN = 20  # the newest; `list_runs()` has them all


def runs_table(runs: list[RunInfo], computer: str) -> str:
    """``%miosa runs``: one line per durable run, newest first, and how to attach."""
    if not runs:
        return f"No durable runs on {computer}."
    rows = [("ID", "STATUS", "STARTED", "DURATION", "COMMAND")]
    for r in runs[:RUNS_SHOWN]:
        started = time.strftime("%m-%d %H:%M:%S", time.localtime(r.started)) if r.started else "?"
        took = seconds_text(r.duration) if r.duration is not None else ("…" if r.status == "running" else "?")
        label = LABELS.get(r.status, r.status)
        code = f" ({r.exit_code})" if r.status == "failure" else ""
        rows.append((r.id, label + code, started, took, first_line(r.command, 48)))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row[:4], widths, strict=True)) + "  " + row[4]
        for row in rows
    ]
    more = len(runs) - RUNS_SHOWN
    if more > 0:
        lines.append(f"… and {_plural(more, 'older run')}")
    return "\n".join([*lines, f"Re-attach: %miosa attach ID [--tail N]   ({len(runs)} on {computer})"])


# The last line of a command that went quiet because it waits for an answer: apt's "[Y/n]", pip's
# "Proceed (Y/n)?", conda's "([y]/n)?", ssh's "(yes/no/[fingerprint])?", sudo's and git's passwords.
_PROMPT = re.compile(
    r"(\[y/n\]|\(y/n\)|\(\[y\]/n\)|\(yes/no[^)]*\)|password[^:]*:|passphrase[^:]*:|username[^:]*:"
    r"|continue\?|proceed\b[^?]*\?|are you sure[^?]*\?)\s*$",
    re.IGNORECASE,
)


def input_hint(last_line: str) -> str | None:
    """What to say when a quiet command's last line looks like a prompt: there is no stdin to answer."""
    text = line_text(last_line).strip()
    if not text or not _PROMPT.search(text):
        return None
    return (
        f"waiting for input? ({first_line(text, 40)}) The command has no stdin here: answer ahead "
        "(`-y`, `yes |`, `DEBIAN_FRONTEND=noninteractive`), or Stop it"
    )


def log_file_name(command: str, started: float) -> str:
    """``<command>-<date>.log``: the command's first word (letters, digits, ``._-``), the start time."""
    words = first_line(command).split()
    program = words[0].rsplit("/", 1)[-1] if words else ""
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", program).strip("-.") or "miosa"
    return f"{name[:40]}-{time.strftime('%Y%m%d-%H%M%S', time.localtime(started))}.log"


def banner_text(status: str, words: str) -> str:
    """The banner as one line of text: ``✔ succeeded · exit 0 · 1.20 s``."""
    return f"{ICONS[status]} {LABELS[status]} · {words}"


def first_line(command: str, limit: int | None = None) -> str:
    """The command's first line (``…`` when it has more lines or is cut at ``limit``)."""
    first, _, rest = command.strip().partition("\n")
    if limit is not None and len(first) > limit:
        return first[: limit - 1] + "…"
    return first + (" …" if rest else "")


# -- HTML --------------------------------------------------------------------------------------------


def header_html(command: str, computer: str, elapsed: str = "", count: str = "") -> str:
    """The header: the command (first line, escaped), the computer, elapsed time and line count.

    The live view fills the empty elapsed and count spans as the run goes; the record passes them.
    """
    first, _, rest = command.strip().partition("\n")
    more = '<span class="miosa-more" aria-label="more lines">…</span>' if rest else ""
    return (
        f'<span class="miosa-prompt">$</span><code class="miosa-cmd" title="{html.escape(command)}">'
        f"{html.escape(first, quote=False)}</code>{more}"
        f'<span class="miosa-meta"><span class="miosa-computer">{html.escape(computer)}</span>'
        f' · <span class="miosa-elapsed">{elapsed}</span> · <span class="miosa-count">{count}</span>'
        '<span class="miosa-quiet"></span></span>'
    )


def banner_html(status: str, words: str) -> str:
    """The banner at the end of a run: icon, outcome word, details. ``role=status`` for screen readers."""
    return (
        f'<div class="miosa-banner miosa-banner-{status}" role="status" data-status="{status}">'
        f'<span class="miosa-icon" aria-hidden="true">{ICONS[status]}</span>'
        f'<span class="miosa-outcome">{LABELS[status]}</span>'
        f'<span class="miosa-words">{html.escape(words, quote=False)}</span></div>'
    )


def cut_html(cut: int) -> str:
    return f'<span class="miosa-cut">{cut_text(cut)}</span>'


# SGR (group 1) or any other escape sequence / control character, which is dropped, never shown.
_ESCAPE = re.compile(
    r"\x1b\[([0-9;:]*)m"  # SGR
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC (titles, hyperlinks)
    r"|\x1b[P^_X][^\x1b]*(?:\x1b\\)?"  # DCS, PM, APC, SOS strings
    r"|\x1b\[[0-?]*[ -/]*[@-~]?"  # other CSI (cursor moves, modes), or a cut one
    r"|\x1b[ -/]*[0-~]?"  # other ESC sequences (charsets, keypad), or a lone ESC
    r"|[\x00-\x08\x0b-\x1a\x1c-\x1f\x7f]"  # C0 controls but tab and newline
)
_NAMES = ("black", "red", "green", "yellow", "blue", "magenta", "cyan", "white")
_FG = [f"ansi-{n}-fg" for n in _NAMES] + [f"ansi-{n}-intense-fg" for n in _NAMES]
_BG = [f"ansi-{n}-bg" for n in _NAMES] + [f"ansi-{n}-intense-bg" for n in _NAMES]


def _xterm256(n: int) -> str:
    if n < 232:
        n -= 16
        r, g, b = (0 if v == 0 else 55 + 40 * v for v in (n // 36, n // 6 % 6, n % 6))
        return f"rgb({r},{g},{b})"
    v = 8 + 10 * (n - 232)
    return f"rgb({v},{v},{v})"


class _Style:
    """SGR state while rendering one line (lines are self-contained: the screen starts each anew)."""

    __slots__ = ("bg", "bold", "dim", "fg", "inverse", "italic", "strike", "underline")

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.fg: int | str | None = None  # 0-15 (a class), a CSS colour, or None (default)
        self.bg: int | str | None = None
        self.bold = self.dim = self.italic = self.underline = self.inverse = self.strike = False

    def apply(self, params: str) -> None:
        codes = [int(p) if p.isdigit() else 0 for p in params.replace(":", ";").split(";")]
        i = 0
        while i < len(codes):
            c = codes[i]
            i += 1
            if c == 0:
                self.reset()
            elif c in (38, 48) and i < len(codes):
                colour, i = _extended(codes, i)
                if colour is not None:
                    if c == 38:
                        self.fg = colour
                    else:
                        self.bg = colour
            elif 30 <= c <= 37 or 90 <= c <= 97:
                self.fg = c - 30 if c < 90 else c - 82
            elif 40 <= c <= 47 or 100 <= c <= 107:
                self.bg = c - 40 if c < 100 else c - 92
            elif c == 39:
                self.fg = None
            elif c == 49:
                self.bg = None
            elif c in _FLAGS:
                name, value = _FLAGS[c]
                setattr(self, name, value)
                if c == 22:
                    self.dim = False

    def span(self) -> str | None:
        """The opening ``<span>`` for this state, or None for the default."""
        fg, bg = (self.bg, self.fg) if self.inverse else (self.fg, self.bg)
        classes: list[str] = []
        styles: list[str] = []
        for colour, names, prop in ((fg, _FG, "color"), (bg, _BG, "background-color")):
            if isinstance(colour, int):
                classes.append(names[colour])
            elif colour is not None:
                styles.append(f"{prop}:{colour}")
        if self.inverse:  # a default colour swapped: the theme's inverse colours
            if fg is None:
                classes.append("ansi-default-inverse-fg")
            if bg is None:
                classes.append("ansi-default-inverse-bg")
        for flag, name in (
            (self.bold, "ansi-bold"),
            (self.dim, "ansi-dim"),
            (self.italic, "ansi-italic"),
            (self.underline, "ansi-underline"),
            (self.strike, "ansi-strike"),
        ):
            if flag:
                classes.append(name)
        if not classes and not styles:
            return None
        attrs = f' class="{" ".join(classes)}"' if classes else ""
        if styles:
            attrs += f' style="{";".join(styles)}"'
        return f"<span{attrs}>"


_FLAGS = {
    1: ("bold", True),
    2: ("dim", True),
    3: ("italic", True),
    4: ("underline", True),
    7: ("inverse", True),
    9: ("strike", True),
    21: ("underline", True),
    22: ("bold", False),
    23: ("italic", False),
    24: ("underline", False),
    27: ("inverse", False),
    29: ("strike", False),
}


def _extended(codes: list[int], i: int) -> tuple[int | str | None, int]:
    """``5;n`` or ``2;r;g;b`` after a 38/48; returns the colour and the next index."""
    kind = codes[i]
    if kind == 5 and i + 1 < len(codes):
        n = codes[i + 1]
        return (n if n < 16 else _xterm256(min(n, 255))), i + 2
    if kind == 2 and i + 3 < len(codes):
        r, g, b = (min(v, 255) for v in codes[i + 1 : i + 4])
        return f"rgb({r},{g},{b})", i + 4
    return None, i + 1


def _sgr_html(text: str) -> str:
    out: list[str] = []
    style = _Style()
    opened = False
    pos = 0
    for m in _ESCAPE.finditer(text):
        if m.start() > pos:
            out.append(html.escape(text[pos : m.start()], quote=False))
        pos = m.end()
        params = m.group(1)
        if params is None:  # not SGR: dropped
            continue
        style.apply(params)
        if opened:
            out.append("</span>")
        tag = style.span()
        opened = tag is not None
        if tag is not None:
            out.append(tag)
    if pos < len(text):
        out.append(html.escape(text[pos:], quote=False))
    if opened:
        out.append("</span>")
    return "".join(out).replace("<span></span>", "")


def line_html(text: str, stream: str, cut: int = 0) -> str:
    """One screen line (no newline) as escaped, coloured HTML; other controls are dropped. ``cut``:
    the columns written past ``LINE_CAP`` (the screen keeps no more), said at the line's end."""
    if cut:
        return line_html(text, stream) + cut_html(cut)
    if text.isprintable():
        body = html.escape(text, quote=False)
    elif "\x1b" in text:
        body = _sgr_html(text)
    else:
        body = html.escape(_ESCAPE.sub("", text), quote=False)
    return f'<span class="miosa-err">{body}</span>' if stream == "stderr" else body


def line_text(text: str) -> str:
    """One screen line as plain text: escape sequences and controls dropped."""
    return text if text.isprintable() else _ESCAPE.sub("", text)


@functools.cache
def stylesheet() -> str:
    """The view's CSS, shared by the live view (``_css``) and the static record."""
    css_path = STATIC / "terminal.css"
    return css_path.read_text(encoding="utf-8") if css_path.exists() else ""
