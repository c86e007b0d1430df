"""The magic's flags come from one place, its parser (a new flag is one edit), and what people read
about them says the same; Colab's background views are refreshed from the cell's thread."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from miosa_jupyter import _magics
from miosa_jupyter._magics import MiosaMagics

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def parser_flags() -> set[str]:
    return {
        max(action.option_strings, key=len)
        for action in MiosaMagics.miosa.parser._actions  # type: ignore[attr-defined]
        if action.option_strings and "--help" not in action.option_strings
    }


def test_the_line_form_knows_every_flag_the_parser_has() -> None:
    flags = parser_flags()
    assert flags <= _magics._VALUE_FLAGS | _magics._BOOL_FLAGS
    assert "--attached" in _magics._BOOL_FLAGS and "--timeout" in _magics._VALUE_FLAGS


def test_the_usage_line_and_the_readme_name_every_flag() -> None:
    table = {m.group(1) for m in re.finditer(r"^\| `(--[a-z-]+)", README, re.MULTILINE)}
    for flag in parser_flags():
        assert flag in _magics._USAGE, flag
        assert flag in table or f"/ `{flag}`" in README, f"README's flag table lacks {flag}"


class _Events:
    def __init__(self) -> None:
        self.hooks: dict[str, list[Any]] = {}

    def register(self, name: str, hook: Any) -> None:
        self.hooks.setdefault(name, []).append(hook)


class _Shell:
    def __init__(self) -> None:
        self.events = _Events()

    def register_magics(self, magics: Any) -> None:
        pass


class _Widget:
    def __init__(self) -> None:
        self.sent = 0

    def send_state(self) -> None:
        self.sent += 1


class _Run:
    def __init__(self) -> None:
        self._view = types.SimpleNamespace(widget=_Widget())
        self.done = False


def test_in_colab_background_views_are_resent_after_each_cell(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    monkeypatch.setenv("MIOSA_API_KEY", "k")  # no local computer start for this
    monkeypatch.setattr(_magics, "_BACKGROUND", None)
    shell = _Shell()
    _magics.load_ipython_extension(shell)
    [hook] = shell.events.hooks["post_execute"]
    run = _Run()
    assert _magics._BACKGROUND is not None
    _magics._BACKGROUND.append(run)  # type: ignore[arg-type]
    hook()
    hook()
    run.done = True
    hook()  # the end, once more
    hook()
    assert run._view.widget.sent == 3
    assert _magics._BACKGROUND == []


def test_elsewhere_nothing_is_kept_or_hooked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    monkeypatch.setenv("MIOSA_API_KEY", "k")
    monkeypatch.setattr(_magics, "_BACKGROUND", None)
    shell = _Shell()
    _magics.load_ipython_extension(shell)
    assert "post_execute" not in shell.events.hooks and _magics._BACKGROUND is None
