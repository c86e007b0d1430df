"""``miosa-jupyter serve``: the local computer as a command."""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import sys
import threading
from pathlib import Path

from ._errors import LocalServerError
from .local import LocalServer, LocalSettings
from .local._computer import LOOPBACK_HOSTS, TOKEN_ENV


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="miosa-jupyter", description="Tools for running commands on Miosa computers from Jupyter."
    )
    sub = parser.add_subparsers(dest="cmd", required=True)
    serve = sub.add_parser(
        "serve",
        help="serve a local computer that speaks the Miosa exec API",
        description="Serve a local computer that speaks the Miosa exec API, until Ctrl-C.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    serve.add_argument("--port", type=int, default=0, help="port (default: 0, the OS picks a free one)")
    serve.add_argument(
        "--token-file",
        metavar="PATH",
        help=f"read the bearer token clients must send from PATH (or set ${TOKEN_ENV}; "
        "default: a random one, printed)",
    )
    # A token on the command line is readable by every local user (/proc/PID/cmdline): refused.
    serve.add_argument("--token", help=argparse.SUPPRESS)
    serve.add_argument(
        "--cors-origin",
        metavar="ORIGIN",
        help="let web pages from ORIGIN (e.g. http://localhost:8888) use the API from a browser",
    )
    serve.add_argument("--cwd", help="directory commands run in (default: the current one)")
    # For LocalProcess: report URL and token as one JSON line on stdout, stop when stdin closes.
    serve.add_argument("--exit-with-stdin", action="store_true", help=argparse.SUPPRESS)
    sub.add_parser(
        "demo",
        help="open the quickstart notebook in JupyterLab, against the local computer",
        description="Open notebooks/01-quickstart.ipynb in JupyterLab (needs the [lab] extra). Other "
        "arguments go to `jupyter lab` (e.g. --no-browser --port=8899).",
    )
    return parser


QUICKSTART = "notebooks/01-quickstart.ipynb"


def demo(notebook: str, extra: list[str]) -> int:
    """``jupyter lab NOTEBOOK``, with ``--allow-root`` when run as root (as on a fresh cloud VM)."""
    if not Path(notebook).exists():
        print(
            f"miosa-jupyter: {notebook} not found; run this from the project's folder.",
            file=sys.stderr,
        )
        return 2
    if importlib.util.find_spec("jupyterlab") is None:
        print('miosa-jupyter: JupyterLab is missing: pip install -e ".[lab]"', file=sys.stderr)
        return 2
    args = [sys.executable, "-m", "jupyterlab", notebook, *extra]
    if os.geteuid() == 0 and "--allow-root" not in extra:
        args.append("--allow-root")  # Jupyter refuses root without it; nothing else changes
    os.execv(sys.executable, args)  # noqa: S606 (this process becomes JupyterLab)
    return 0  # not reached


def _given_token(args: argparse.Namespace) -> str | None:
    """The token from ``--token-file`` or ``$MIOSA_LOCAL_TOKEN`` (removed from the environment, so
    no command this server runs inherits it); None for a random one. ``SystemExit(2)`` if unusable."""
    if args.token is not None:
        _fail(
            "--token puts the token on the command line, where every local user can read it "
            f"(ps, /proc). Use --token-file PATH or set {TOKEN_ENV} instead."
        )
    from_env = os.environ.pop(TOKEN_ENV, None)
    token: str | None
    if args.token_file:
        try:
            token = Path(args.token_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            _fail(f"can't read --token-file {args.token_file}: {exc.strerror or exc}.")
    else:
        token = (from_env or "").strip() or None
    if token is not None and (len(token) < 16 or not token.isprintable() or " " in token):
        _fail("the token must be at least 16 printable characters, without spaces.")
    return token


def _fail(message: str) -> None:
    print(f"miosa-jupyter: {message}", file=sys.stderr)
    raise SystemExit(2)


def main(argv: list[str] | None = None) -> int:
    args, extra = _parser().parse_known_args(argv)
    if args.cmd == "demo":
        return demo(QUICKSTART, extra)
    if extra:
        _parser().parse_args(argv)  # the usual error for an unknown argument
    try:
        token = _given_token(args)
    except SystemExit as exc:
        return int(exc.code or 2)
    if args.host not in LOOPBACK_HOSTS and token is None:
        print(
            f"miosa-jupyter: refusing to serve on {args.host} with a random token: anyone who can reach "
            f"it could run commands. Give one with --token-file PATH or {TOKEN_ENV} (or keep --host "
            "127.0.0.1).",
            file=sys.stderr,
        )
        return 2
    # The kernel's embedded computer (--exit-with-stdin) ends durable runs with it; `serve` keeps them.
    settings = LocalSettings(cors_origin=args.cors_origin, cwd=args.cwd, keep_runs=not args.exit_with_stdin)
    if token is not None:
        settings.token = token
    try:
        server = LocalServer(settings, host=args.host, port=args.port)
    except LocalServerError as exc:
        print(f"miosa-jupyter: {exc}", file=sys.stderr)
        return 1
    if args.exit_with_stdin:
        ready = {"base_url": server.base_url, "token": server.token, "computer_id": server.computer_id}
        print(json.dumps(ready), flush=True)
        threading.Thread(target=_stop_at_eof, args=(server,), daemon=True).start()
    print(f"Miosa local computer at {server.base_url}", flush=True)
    print(f"  computer: {server.computer_id}", flush=True)
    if token is None:  # a random one: this banner is how the person learns it
        print(f"  token:    {server.token}", flush=True)
        print(f"  export MIOSA_BASE_URL={server.base_url} MIOSA_API_KEY={server.token}", flush=True)
    else:  # theirs: no need to write it anywhere
        print("  token:    the one you gave", flush=True)
        print(f"  export MIOSA_BASE_URL={server.base_url} MIOSA_API_KEY=<that token>", flush=True)
    print("Press Ctrl-C to stop.", flush=True)
    with contextlib.suppress(KeyboardInterrupt):  # uvicorn re-raises the Ctrl-C it handled
        server.serve_forever()
    print("Stopped; every command it ran has ended.", flush=True)
    return 0


def _stop_at_eof(server: LocalServer) -> None:
    # The parent (a kernel) holds our stdin: EOF means it has gone, however it ended.
    with contextlib.suppress(OSError, ValueError):
        while sys.stdin.buffer.read(4096):
            pass
    server.request_stop()


if __name__ == "__main__":
    sys.exit(main())
