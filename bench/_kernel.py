"""A real ipykernel started by jupyter_client, with a lean iopub reader.

Requests go over jupyter_client's shell channel. iopub is read from a raw zmq SUB socket with an
unbounded receive queue (json of header and parent only, the content only where a section needs it;
no HMAC check, no date parsing), so the reader keeps up with ``%%bash``'s message flood and nothing is
dropped on our side. Message bytes are the sizes of the wire frames.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import zmq

from tests._support.kernels import KernelProcess, offline_env

DELIM = b"<IDS|MSG>"
# Parsed content for these types only; the rest are counted and sized.
CONTENT_TYPES = frozenset(
    {"stream", "comm_msg", "comm_open", "display_data", "update_display_data", "error", "status"}
)


@dataclass
class Msg:
    msg_type: str
    parent_id: str
    content: dict[str, Any] | None
    at: float  # seconds since the request was sent


@dataclass
class Execution:
    seconds: float  # request sent -> status idle
    msgs: int
    nbytes: int
    status: str  # the execute_reply's status
    watched: list[Msg] = field(default_factory=list)
    first_hit: float | None = None  # seconds to the first message `hit` matched
    capped: bool = False  # interrupted at the cap: ``seconds`` is a lower bound
    timeline: list[tuple[float, int, str]] = field(default_factory=list)  # (at, bytes, type), every msg


class Kernel(KernelProcess):
    """``KernelProcess`` (tests/_support/kernels.py) with the shell channel only and a raw SUB socket."""

    def __init__(self) -> None:
        super().__init__(offline_env(), shell=True, iopub=False, stdin=False, hb=False, control=False)

    def _ready(self, timeout: float = 60) -> None:
        """Connect the SUB socket, then kernel_info until its status reaches it (the subscription is live)."""
        info = self.km.get_connection_info()
        self.ctx = zmq.Context()
        self.sub = self.ctx.socket(zmq.SUB)
        self.sub.setsockopt(zmq.RCVHWM, 0)
        self.sub.setsockopt(zmq.SUBSCRIBE, b"")
        self.sub.connect(f"{info['transport']}://{info['ip']}:{info['iopub_port']}")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg_id = self.kc.kernel_info()
            end = time.monotonic() + 1
            while time.monotonic() < end:
                if not self.sub.poll(100):
                    continue
                _, parent, _ = _split(self.sub.recv_multipart())
                if json.loads(parent).get("msg_id") == msg_id:
                    self._drain_shell(msg_id)
                    return
        raise TimeoutError("kernel not ready")

    def _drain_shell(self, msg_id: str) -> dict[str, Any]:
        while True:
            reply = self.kc.get_shell_msg(timeout=60)
            if reply["parent_header"].get("msg_id") == msg_id:
                return reply

    def execute(
        self,
        code: str,
        *,
        timeout: float = 900,
        watch: Callable[[Msg], bool] | None = None,
        keep: bool = False,
        on_msg: Callable[[Msg], None] | None = None,
        cap: float | None = None,
    ) -> Execution:
        """Run ``code``; count every iopub message and byte until the kernel says idle.

        ``watch(msg)`` is called for messages with parsed content until it first returns True
        (``first_hit``); ``keep`` keeps those messages; ``on_msg`` sees each one. Past ``cap``
        seconds the kernel is interrupted once and the run reported as capped.
        """
        sub = self.sub
        while sub.poll(0):  # leftovers of earlier runs
            sub.recv_multipart()
        t0 = time.perf_counter()
        msg_id = self.kc.execute(code, store_history=False)
        msgs = nbytes = 0
        first_hit = None
        capped = False
        kept: list[Msg] = []
        timeline: list[tuple[float, int, str]] = []
        deadline = time.monotonic() + timeout
        while True:
            if cap is not None and not capped and time.perf_counter() - t0 > cap:
                self.km.interrupt_kernel()
                capped = True
            if not sub.poll(200):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"kernel not idle after {timeout} s: {code[:60]!r}")
                continue
            frames = sub.recv_multipart()
            at = time.perf_counter() - t0
            msgs += 1
            size = sum(map(len, frames))
            nbytes += size
            header, parent, content = _split(frames)
            msg_type = json.loads(header)["msg_type"]
            timeline.append((at, size, msg_type))
            if msg_type not in CONTENT_TYPES:
                continue
            msg = Msg(msg_type, json.loads(parent).get("msg_id", ""), json.loads(content), at)
            if on_msg is not None:
                on_msg(msg)
            if keep:
                kept.append(msg)
            if watch is not None and first_hit is None and watch(msg):
                first_hit = at
            if (
                msg_type == "status"
                and msg.parent_id == msg_id
                and msg.content
                and msg.content.get("execution_state") == "idle"
            ):
                seconds = at
                break
        reply = self._drain_shell(msg_id)
        seconds = cap if capped and cap is not None else seconds
        return Execution(seconds, msgs, nbytes, reply["content"]["status"], kept, first_hit, capped, timeline)

    def shutdown(self) -> None:
        self.sub.close(linger=0)
        super().shutdown()
        self.ctx.term()


def _split(frames: list[bytes]) -> tuple[bytes, bytes, bytes]:
    i = frames.index(DELIM)
    return frames[i + 2], frames[i + 3], frames[i + 5]
