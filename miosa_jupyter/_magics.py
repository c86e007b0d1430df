"""``%%miosa`` and ``%miosa``: run a cell's text as a command on a Miosa computer, live.

Like IPython's ``%%bash`` it blocks until the command ends and fails the cell on a non-zero exit;
unlike it, the output streams into a bounded live view that ends in a colour-coded banner, and the
cell keeps a static record of the result.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import sys
import threading
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class, no_var_expand
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from traitlets import Enum, Float, Int, Unicode

from ._client import Miosa, connect
from ._durable import list_runs
from ._errors import CommandFailedError, CommandTimeoutError, MiosaError, RunInterrupted
from ._present import first_line, runs_table
from ._runner import Run

__all__ = ["MiosaMagics", "load_ipython_extension", "unload_ipython_extension"]

# Flags of the line form, recognised at the start of the line; the rest is the command, verbatim.
# Words of the line form that are not commands: `%miosa runs`, `%miosa attach ID`.
_ACTIONS = ("runs", "attach", "log")
_FLAG = re.compile(r"\s*(--?[a-z-]*)(?:=(\S+)|\s+('[^']*'|\"[^\"]*\"|\S+))?")


@magics_class
class MiosaMagics(Magics):
    """The ``%miosa`` magics. Defaults are configurable: ``%config MiosaMagics.timeout = 120``."""

    computer = Unicode(
        None,
        allow_none=True,
        help="Computer to run on when the cell names none. Default: $MIOSA_COMPUTER_ID, else 'local' "
        "(the embedded local computer, used when MIOSA_API_KEY is not set).",
    ).tag(config=True)
    timeout = Int(
        None,
        allow_none=True,
        help="The run's time limit in seconds; default: none (--attached: the API's 30 s, at most 300).",
    ).tag(config=True)
    shell_path = Unicode(None, allow_none=True, help="Shell that runs the cell; default: /bin/bash.").tag(
        config=True
    )
    view = Enum(
        ["auto", "widget", "text"],
        "auto",
        help="auto: the live widget in a Jupyter kernel, plain text elsewhere (terminal IPython).",
    ).tag(config=True)
    head_lines = Int(20, help="Lines kept at the top of the view.").tag(config=True)
    tail_lines = Int(1000, help="Lines kept at the bottom of the view; those between are counted.").tag(
        config=True
    )
    update_interval = Float(0.05, help="Seconds between view updates (bounds traffic to the browser).").tag(
        config=True
    )
    notify_after = Float(
        0.0,
        help="Seconds: a run that lasts at least this long and ends while its tab is hidden shows a "
        "browser notification (the view asks for permission once). 0: never.",
    ).tag(config=True)
    reconnect_seconds = Float(
        120.0,
        help="How long a durable run's view keeps trying to reach its computer before it detaches "
        "(the run goes on there; `%miosa attach ID` picks it up again).",
    ).tag(config=True)

    @property
    def _namespace(self) -> dict[str, Any]:
        """The user's namespace (``--out VAR``); a magic always has its shell."""
        assert self.shell is not None
        return self.shell.user_ns  # type: ignore[no-any-return]  # IPython types user_ns as Any

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell, **kwargs)
        self._local_said = False
        self._is_local = False

    # -- the magic ----------------------------------------------------------------------------

    @no_var_expand
    @magic_arguments()
    @argument("computer_pos", nargs="?", metavar="COMPUTER", help="computer id (cell form only)")
    @argument("-c", "--computer", help="computer id")
    @argument(
        "--timeout", type=int, metavar="S", help="seconds before the command is killed (default: no limit)"
    )
    @argument("--shell", metavar="PATH", help="shell that runs the command, e.g. /bin/sh")
    @argument("--out", metavar="VAR", help="store the ExecResult in VAR (the output stays on screen)")
    @argument("--no-raise-error", action="store_true", help="don't fail the cell on a non-zero exit")
    @argument("--bg", action="store_true", help="return at once with a handle; the view keeps streaming")
    @argument("--python", action="store_true", help="run the text as Python on the computer")
    @argument(
        "--attached",
        action="store_true",
        help="one exec, ended by its stream (at most 300 s), instead of a durable run",
    )
    @line_cell_magic
    def miosa(self, line: str, cell: str | None = None) -> Any:
        """Run a command on a Miosa computer and stream its output live.

        Cell form: ``%%miosa [COMPUTER] [flags]`` then the command(s) on the following lines.
        Line form: ``%miosa [flags] COMMAND``.
        """
        if cell is None:
            action = line.split(None, 1)[0] if line.strip() else ""
            if action in _ACTIONS:
                return self._action(action, line.strip()[len(action) :])
            flags, command = _split_line(line)
            args = self._parse(flags)
            if args.computer_pos:
                raise UsageError("%miosa: name the computer with --computer in the line form.")
        else:
            args = self._parse(line)
            command = cell
        if not command.strip():
            raise UsageError(
                "%miosa: nothing to run. Put the command in the cell, e.g. `%%miosa` then `ls -l`."
            )
        if args.timeout is not None and args.timeout < 1:
            raise UsageError(f"%miosa: --timeout must be a whole number of seconds >= 1, got {args.timeout}.")
        if args.attached and args.timeout is not None and args.timeout > 300:
            raise UsageError(
                f"%miosa: an --attached run lasts at most 300 s (one exec), got --timeout {args.timeout}; "
                "drop --attached for a durable run, which has no such limit."
            )
        if args.out is not None and not args.out.isidentifier():
            raise UsageError(f"%miosa: --out needs a variable name, got {args.out!r}.")
        if args.python:
            command = f"python3 -u -c {shlex.quote(command)}"
        return self._run(args, command)

    def _parse(self, line: str) -> Any:
        try:
            return parse_argstring(self.miosa, line)
        except UsageError as exc:
            raise UsageError(f"%miosa: {exc}. Usage: {_USAGE}") from None
        except ValueError as exc:  # unbalanced quotes
            raise UsageError(f"%miosa: {exc}") from None

    def _run(self, args: Any, command: str) -> Any:
        client, computer = self._where(args.computer or args.computer_pos)
        timeout = args.timeout if args.timeout is not None else self.timeout
        if args.attached and timeout is not None and timeout > 300:
            timeout = 300
        run = self._new_run(
            client,
            computer,
            command,
            timeout=timeout,
            shell=args.shell or self.shell_path,
            durable=not args.attached,
        )
        return self._show(run, command, computer, out=args.out, bg=args.bg, no_raise=args.no_raise_error)

    def _new_run(
        self, client: Miosa, computer: str, command: str, *, view: Any = None, **options: Any
    ) -> Run:
        return Run(
            client,
            computer,
            command,
            view=view or self._make_view(),
            interval=self.update_interval,
            head=self.head_lines,
            tail=self.tail_lines,
            reconnect_for=self.reconnect_seconds,
            **options,
        )

    def _show(
        self, run: Run, command: str, computer: str, *, out: str | None, bg: bool, no_raise: bool
    ) -> Any:
        """Start the run and drive its view here (or in the background with ``bg``); fail the cell as
        ``%%bash`` does when it didn't succeed."""
        try:
            run.start()
        except MiosaError:
            if no_raise:
                return None
            raise
        if out:
            self._namespace[out] = _Pending(run, out) if bg else None
        if bg:
            if out:
                run.add_done_callback(_store_result(self._namespace, out))
            if _BACKGROUND is not None:  # (Colab only)
                _BACKGROUND.append(run)
            return run.start_background()
        try:
            run._drive()  # (not wait(): the result, with all the output, is built only for --out)
        except KeyboardInterrupt:
            # The view shows "cancelled"; one line says what happened to the command, and the
            # cell still fails, so the cells queued after it don't run.
            raise RunInterrupted(_cancel_note(command, computer, self._is_local, run.run_id)) from None
        result = run.summary
        assert result is not None
        if out:
            self._namespace[out] = run.result
        if no_raise or result.outcome == "success":
            return None
        words = run.words
        quoted = f"`{first_line(command, 60)}`"
        if result.outcome == "timeout":
            raise CommandTimeoutError(f"{quoted} timed out {words}", run=run)
        if result.outcome == "failure":
            raise CommandFailedError(f"{quoted} failed: {words}", run=run)
        raise MiosaError(words)

    # -- runs and attach ------------------------------------------------------------------------

    def _log(self, rest: str) -> None:
        """``%miosa log [KEY|last] [-c COMPUTER]``: the whole log of a run again, with its tools (search,
        expand, copy, download): this kernel's view of it, else a durable run's, read back from its
        computer."""
        from IPython.display import display

        from ._widget import WidgetView, kept

        usage = "%miosa log [ID|last] [-c COMPUTER]"
        words = rest.split()
        computer = None
        if len(words) >= 2 and words[-2] in ("-c", "--computer"):
            computer = words[-1]
            words = words[:-2]
        if len(words) > 1 or any(w.startswith("-") for w in words):
            raise UsageError(f"%miosa log: unexpected {' '.join(words)!r}. Usage: {usage}")
        key = words[0] if words else "last"
        widget = kept(key)
        if widget is not None:
            display(widget)
            return
        if not key.startswith("r") or key == "last":
            raise UsageError(
                f"%miosa log: this kernel has no finished run {key!r} (it keeps the newest 32 while it "
                "runs). `%miosa runs` lists the durable runs on the computer; `%miosa log ID` reads one back."
            )
        client, computer = self._where(computer)
        found = next((r for r in list_runs(client, computer) if r.id == key), None)
        if found is None:
            raise UsageError(f"%miosa log: no run {key!r} on {computer}; `%miosa runs` lists the runs there.")
        view = WidgetView(head=self.head_lines, tail=self.tail_lines, record_on_end=False)
        run = self._new_run(client, computer, found.command, attach=found.id, view=view)
        self._show(run, found.command, computer, out=None, bg=False, no_raise=True)

    def _action(self, action: str, rest: str) -> Any:
        if action == "log":
            return self._log(rest)
        try:
            words = shlex.split(rest)
        except ValueError as exc:
            raise UsageError(f"%miosa {action}: {exc}") from None
        computer, tail, run_id = None, None, None
        usage = (
            "%miosa runs [-c COMPUTER]" if action == "runs" else "%miosa attach ID [--tail N] [-c COMPUTER]"
        )
        it = iter(words)
        for word in it:
            if word in ("-c", "--computer", "--tail"):
                value = next(it, None)
                if value is None:
                    raise UsageError(f"%miosa {action}: {word} needs a value. Usage: {usage}")
                if word == "--tail":
                    if not value.isdigit():
                        raise UsageError(f"%miosa attach: --tail needs a number of lines, got {value!r}.")
                    tail = int(value)
                else:
                    computer = value
            elif action == "attach" and run_id is None and not word.startswith("-"):
                run_id = word
            else:
                raise UsageError(f"%miosa {action}: unexpected {word!r}. Usage: {usage}")
        client, computer = self._where(computer)
        runs = list_runs(client, computer)
        if action == "runs":
            print(runs_table(runs, computer))
            return None
        if run_id is None:
            raise UsageError(f"%miosa attach: which run? Usage: {usage}; `%miosa runs` lists them.")
        found = runs[0] if run_id == "last" and runs else next((r for r in runs if r.id == run_id), None)
        if found is None:
            raise UsageError(
                f"%miosa attach: no run {run_id!r} on {computer}; `%miosa runs` lists the runs there."
            )
        run = self._new_run(client, computer, found.command, attach=found.id, from_end=tail)  # Run.attach's
        return self._show(run, found.command, computer, out=None, bg=False, no_raise=False)

    def _where(self, named: str | None) -> tuple[Miosa, str]:
        client, default_computer = self._client_for_run()
        computer = named or self.computer or default_computer
        if not computer:
            raise UsageError(
                "%miosa: which computer? Name it (`%%miosa COMPUTER_ID`), set MIOSA_COMPUTER_ID, or "
                "`%config MiosaMagics.computer = '...'`."
            )
        return client, computer

    # -- choosing where to run ------------------------------------------------------------------

    def _client_for_run(self) -> tuple[Miosa, str]:
        """The cloud when MIOSA_API_KEY is set, else the embedded local computer (started once)."""
        client, computer, local = connect()
        self._is_local = local
        if local and not self._local_said:
            origin = client.base_url.rsplit("/api", 1)[0]
            print(f"miosa: no MIOSA_API_KEY set, running on the local computer (this machine, {origin}).")
            self._local_said = True
        return client, computer

    def _make_view(self) -> Any:
        from ._text import TextView
        from ._widget import WidgetView

        mode = self.view
        if mode == "auto":
            mode = "widget" if _in_jupyter_kernel(self.shell) else "text"
        if mode == "text":
            return TextView()
        return WidgetView(head=self.head_lines, tail=self.tail_lines, notify_after=self.notify_after)


def _flags(parser: Any) -> tuple[frozenset[str], frozenset[str]]:
    """The parser's flags that take a value, and those that don't: a new ``@argument`` is one edit."""
    values: set[str] = set()
    switches: set[str] = set()
    for action in parser._actions:
        (switches if action.nargs == 0 else values).update(action.option_strings)
    return frozenset(values - {"-h", "--help"}), frozenset(switches - {"-h", "--help"})


def _usage(parser: Any) -> str:
    """``%%miosa [COMPUTER] [--computer COMPUTER] [--timeout S] ...``, from the parser."""
    parts = ["%%miosa [COMPUTER]"]
    for action in parser._actions:
        if not action.option_strings or "--help" in action.option_strings:
            continue
        flag = max(action.option_strings, key=len)
        parts.append(
            f"[{flag}]" if action.nargs == 0 else f"[{flag} {action.metavar or action.dest.upper()}]"
        )
    return " ".join(parts) + "; %miosa runs; %miosa attach ID|last [--tail N]; %miosa log [ID|last]"


_VALUE_FLAGS, _BOOL_FLAGS = _flags(MiosaMagics.miosa.parser)
_USAGE = _usage(MiosaMagics.miosa.parser)


class _Pending:
    """What ``--out VAR`` holds while a ``--bg`` run is still going."""

    def __init__(self, run: Run, name: str) -> None:
        self.run, self.name = run, name

    def __repr__(self) -> str:
        return f"<{self.name}: background run still going; call .wait() on its handle>"


def _store_result(namespace: dict[str, Any], name: str) -> Any:
    """A done-callback that puts the result in ``name`` (before ``wait()`` returns), unless the user
    has put something else there meanwhile."""

    def store(run: Run) -> None:
        if isinstance(namespace.get(name), _Pending):
            namespace[name] = run.result

    return store


def _split_line(line: str) -> tuple[str, str]:
    """Split ``%miosa [flags] COMMAND`` into the flags and the command (kept verbatim)."""
    pos = 0
    while True:
        m = _FLAG.match(line, pos)
        if not m:
            break
        flag = m.group(1)
        if flag == "--":
            return line[:pos], line[m.start(1) + 2 :].strip()
        if flag not in _VALUE_FLAGS and flag not in _BOOL_FLAGS:
            if flag.startswith("--"):
                raise UsageError(
                    f"%miosa: unknown flag {flag}. Put `--` before a command that starts with --."
                )
            break
        if flag in _BOOL_FLAGS:
            pos = m.start(1) + len(flag)
            continue
        if m.group(2) is None and m.group(3) is None:
            raise UsageError(f"%miosa: {flag} needs a value.")
        pos = m.end()
    return line[:pos], line[pos:].strip()


def _in_jupyter_kernel(shell: Any) -> bool:
    # A ZMQ kernel has a front end that may render widgets; terminal IPython has none.
    return type(shell).__name__ == "ZMQInteractiveShell" or hasattr(shell, "kernel")


def _cancel_note(command: str, computer: str, local: bool, run_id: str | None = None) -> str:
    what = f"`{first_line(command, 60)}` cancelled"
    if run_id is not None:
        return f"{what}: its process group on {computer} was killed."
    if local:
        return f"{what}: the local computer stopped it."
    # The API has no cancel call: closing the stream is all a client can do.
    return f"{what}: the stream to {computer} is closed; the command may run on there until its timeout."


# Background runs whose views the cell's thread refreshes after each cell, where widget updates from
# other threads don't render (Colab: googlecolab/colabtools#3373; it has no comm subshells either).
_BACKGROUND: list[Run] | None = None  # None where background updates render


def _refresh_background_views() -> None:
    """Re-send the state of background runs' views from the cell's thread; a finished one once more."""
    for run in list(_BACKGROUND or ()):
        widget = getattr(run._view, "widget", None)
        if widget is not None:
            with contextlib.suppress(Exception):
                widget.send_state()
        if run.done and _BACKGROUND is not None:
            _BACKGROUND.remove(run)


def load_ipython_extension(ipython: Any) -> None:
    ipython.register_magics(MiosaMagics)
    global _BACKGROUND
    if "google.colab" in sys.modules and _BACKGROUND is None:
        _BACKGROUND = []
        ipython.events.register("post_execute", _refresh_background_views)
    if not os.environ.get("MIOSA_API_KEY"):
        # Start the local computer now, while the person types the first %%miosa (it takes ~0.8 s);
        # that cell then waits only for what is left of the start, if anything.
        threading.Thread(target=_start_local, name="miosa-local-start", daemon=True).start()


def _start_local() -> None:
    with contextlib.suppress(Exception):  # the first %%miosa starts it again and says what failed
        client, computer, _ = connect()
        # One `true` through the stream path warms the local computer (its first command costs
        # ~25 ms more than the next: process spawning, first-use code paths) and the connection.
        for _ in client.exec.stream(computer, command="true", timeout=5):
            pass
        from . import _widget  # noqa: F401  (anywidget and ipywidgets: ~0.1 s of imports)


def unload_ipython_extension(ipython: Any) -> None:
    magics = ipython.magics_manager.registry.pop("MiosaMagics", None)
    if magics is not None:
        for kind in ("line", "cell"):
            ipython.magics_manager.magics[kind].pop("miosa", None)
