"""A real ipykernel started by jupyter_client: the kernel tier drives it, ``bench/`` measures it."""

from __future__ import annotations

import os
import queue
import time
from dataclasses import dataclass, field
from typing import Any

from jupyter_client import KernelManager


def offline_env(**extra: str) -> dict[str, str]:
    """This process's environment without any ``MIOSA_`` setting but the session's run directory
    (``tests/conftest.py``): a kernel started with it uses its embedded local computer."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MIOSA_") or k == "MIOSA_RUNS"}
    env.update(extra)
    return env


class KernelProcess:
    """A started ``python3`` kernel and its client (only the ``channels`` asked for are started).

    ``_ready()`` waits until the kernel answers; subclasses that read iopub their own way override it.
    """

    def __init__(self, env: dict[str, str] | None = None, **channels: bool) -> None:
        self.km = KernelManager(kernel_name="python3")
        self.km.start_kernel(env=env)
        self.kc = self.km.client()
        self.kc.start_channels(**channels)
        self._ready()

    def _ready(self) -> None:
        self.kc.wait_for_ready(timeout=60)

    @property
    def pid(self) -> int:
        return self.km.provisioner.process.pid  # type: ignore[union-attr]

    def shutdown(self) -> None:
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)


@dataclass
class Execution:
    """One ``execute_request``: its reply and every iopub message of it (and comm messages) until idle."""

    reply: dict[str, Any]
    iopub: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    def of_type(self, *types: str) -> list[dict[str, Any]]:
        return [m for m in self.iopub if m["msg_type"] in types]

    @property
    def stdout(self) -> str:
        return "".join(
            m["content"]["text"] for m in self.of_type("stream") if m["content"]["name"] == "stdout"
        )

    @property
    def error(self) -> dict[str, Any] | None:
        errors = self.of_type("error")
        return errors[-1]["content"] if errors else None

    def final_record(self) -> dict[str, Any] | None:
        updates = self.of_type("update_display_data")
        return updates[-1]["content"]["data"] if updates else None


class Kernel(KernelProcess):
    """A kernel with every channel; ``run(code)`` executes and collects iopub until idle."""

    def send(self, code: str, **kwargs: Any) -> str:
        return self.kc.execute(code, **kwargs)

    def collect(self, msg_id: str, timeout: float = 60) -> Execution:
        start = time.monotonic()
        deadline = start + timeout
        iopub: list[dict[str, Any]] = []
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"kernel not idle after {timeout} s")
            try:
                msg = self.kc.get_iopub_msg(timeout=left)
            except queue.Empty:
                continue
            if msg["parent_header"].get("msg_id") != msg_id and msg["msg_type"] not in ("comm_msg",):
                continue
            iopub.append(msg)
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                break
        seconds = time.monotonic() - start
        reply = self.kc.get_shell_msg(timeout=10)
        while reply["parent_header"].get("msg_id") != msg_id:
            reply = self.kc.get_shell_msg(timeout=10)
        return Execution(reply["content"], iopub, seconds)

    def run(self, code: str, timeout: float = 60, **kwargs: Any) -> Execution:
        return self.collect(self.send(code, **kwargs), timeout)

    def wait_for_iopub(self, predicate: Any, timeout: float = 30) -> list[dict[str, Any]]:
        """Read iopub until a message satisfies ``predicate``; return everything read."""
        seen: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                msg = self.kc.get_iopub_msg(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                continue
            seen.append(msg)
            if predicate(msg):
                return seen
        raise TimeoutError("no matching iopub message")
