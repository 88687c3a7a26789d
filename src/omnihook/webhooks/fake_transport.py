"""An in-memory `Transport` for tests: scripted outcomes per URL, every request kept.

Shipped beside the real transport so that the scheduler, sender and recorder can be tested without a
network, and so that a test can cause what a real receiver rarely does (a transport that raises).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

from omnihook.domain.clock import utcnow
from omnihook.webhooks.transport import Outcome, OutgoingRequest


@dataclass(frozen=True)
class Reply:
    """An answer: a status with a body and headers, or (status None) a transport error."""

    status: int | None = 200
    body: str = "ok"
    headers: Mapping[str, str] = field(default_factory=dict)
    error: str | None = None
    delay_s: float = 0.0


@dataclass(frozen=True)
class Raise:
    """The transport itself raises, as a bug would."""

    exception: BaseException


Script = Reply | Raise


class FakeTransport:
    def __init__(self, default: Script = Reply()) -> None:
        self.default = default
        self.requests: list[OutgoingRequest] = []
        self._scripts: dict[str, deque[Script]] = {}
        self.closed = False

    def script(self, url: str, *replies: Script) -> None:
        """Answer the next requests to `url` with `replies` in order, then with the default."""
        self._scripts.setdefault(url, deque()).extend(replies)

    def sent_to(self, url: str) -> list[OutgoingRequest]:
        return [r for r in self.requests if r.url == url]

    async def send(self, request: OutgoingRequest) -> Outcome:
        self.requests.append(request)
        queue = self._scripts.get(request.url)
        reply = queue.popleft() if queue else self.default
        if isinstance(reply, Raise):
            raise reply.exception
        started_at = utcnow()
        if reply.delay_s:
            await asyncio.sleep(reply.delay_s)
        if reply.error is not None or reply.status is None:
            return Outcome(started_at=started_at, duration_ms=int(reply.delay_s * 1000), error=reply.error)
        return Outcome(
            started_at=started_at,
            duration_ms=int(reply.delay_s * 1000),
            status_code=reply.status,
            body=reply.body,
            headers=dict(reply.headers),
        )

    async def close(self) -> None:
        self.closed = True
