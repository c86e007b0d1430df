"""Driving a real ipykernel with jupyter_client, and reading what reaches iopub."""

from __future__ import annotations

import queue
import time
from dataclasses import dataclass, field
from typing import Any

from jupyter_client import KernelManager


@dataclass
class Execution:
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


class Kernel:
    """A started kernel and its client; ``run(code)`` executes and collects iopub until idle."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        self.km = KernelManager(kernel_name="python3")
        self.km.start_kernel(env=env)
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=60)

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

    def shutdown(self) -> None:
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)
