"""Stream tickets: random, single-use, short-lived, bound to one computer.

A ticket exists because a browser ``EventSource`` cannot send a bearer token: the POST (with the
token) buys a ticket, and the ticket alone opens the event stream, once.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["TicketBook", "TicketRejected"]

T = TypeVar("T")


class TicketRejected(Exception):
    """Why a ticket can't be redeemed: ``status`` and ``code`` for the error body."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass
class _Entry(Generic[T]):
    computer_id: str
    value: T
    expires_at: float


class TicketBook(Generic[T]):
    """Issues and redeems tickets; calls ``on_expire(value)`` for a ticket never redeemed."""

    def __init__(self, ttl: float, on_expire: Callable[[T], object]) -> None:
        self.ttl = ttl
        self._on_expire = on_expire
        self._open: dict[str, _Entry[T]] = {}
        self._spent: dict[str, str] = {}  # ticket -> "used" | "expired", forgotten after a while

    def issue(self, computer_id: str, value: T) -> tuple[str, float]:
        ticket = "exec_" + secrets.token_urlsafe(24)
        expires_at = time.time() + self.ttl
        self._open[ticket] = _Entry(computer_id, value, expires_at)
        asyncio.get_running_loop().call_later(self.ttl, self._expire, ticket)
        return ticket, expires_at

    def redeem(self, ticket: str, computer_id: str) -> T:
        entry = self._open.get(ticket)
        if entry is None:
            spent = self._spent.get(ticket)
            if spent == "used":
                raise TicketRejected(410, "TICKET_USED", "This ticket was already used; POST the exec again.")
            if spent == "expired":
                raise TicketRejected(
                    410, "TICKET_EXPIRED", "This ticket expired (tickets live 60 s); POST the exec again."
                )
            raise TicketRejected(401, "invalid_ticket", "Unknown ticket; POST the exec to get one.")
        if entry.computer_id != computer_id:
            raise TicketRejected(401, "invalid_ticket", f"This ticket is not for computer {computer_id!r}.")
        del self._open[ticket]
        self._remember(ticket, "used")
        return entry.value

    def _expire(self, ticket: str) -> None:
        entry = self._open.pop(ticket, None)
        if entry is not None:
            self._remember(ticket, "expired")
            self._on_expire(entry.value)

    def _remember(self, ticket: str, why: str) -> None:
        self._spent[ticket] = why
        asyncio.get_running_loop().call_later(10 * self.ttl, self._spent.pop, ticket, None)
