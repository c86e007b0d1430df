"""A local computer in a subprocess with chosen settings (the CLI fixes some, e.g. the concurrency limit).

Usage: ``python serve.py '{"token": "T", "max_concurrent": 64}'``; prints ``URL <base_url>`` once it listens,
then serves until SIGINT/SIGTERM (uvicorn's own signal handling, as ``miosa-jupyter serve`` does).
"""

from __future__ import annotations

import contextlib
import json
import sys

from miosa_jupyter import LocalServer, LocalSettings


def main() -> None:
    settings = LocalSettings(**json.loads(sys.argv[1] if len(sys.argv) > 1 else "{}"))
    server = LocalServer(settings)
    print(f"URL {server.base_url}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    print("STOPPED", flush=True)


if __name__ == "__main__":
    main()
