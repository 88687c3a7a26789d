"""Sending one webhook request. `Transport` is the interface; `AiohttpTransport` the real one.

One aiohttp ClientSession with keep-alive is shared by every send; redirects are not followed; the
response body is read up to a cap; every outcome (status, error, duration) is returned, never raised.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

import aiohttp

from omnihook.domain.clock import utcnow
from omnihook.webhooks.ssrf import GuardedResolver, TargetRefused, check_literal_host

RESPONSE_BODY_CAP = 64 * 1024
USER_AGENT = "omnihook-webhooks/1"


@dataclass(frozen=True, kw_only=True)
class OutgoingRequest:
    url: str
    headers: dict[str, str]
    body: bytes
    timeout_s: float


@dataclass(frozen=True, kw_only=True)
class Outcome:
    started_at: datetime
    duration_ms: int
    status_code: int | None = None
    error: str | None = None
    body: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def retry_after(self) -> str | None:
        return next((v for k, v in self.headers.items() if k.lower() == "retry-after"), None)


class Transport(Protocol):
    async def send(self, request: OutgoingRequest) -> Outcome: ...

    async def close(self) -> None: ...


class AiohttpTransport:
    def __init__(self, *, allow_private_targets: bool, limit: int = 512) -> None:
        self.allow_private_targets = allow_private_targets
        self.limit = limit
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=self.limit,
                limit_per_host=0,
                keepalive_timeout=30,
                resolver=None if self.allow_private_targets else GuardedResolver(),
            )
            self._session = aiohttp.ClientSession(
                connector=connector, headers={"User-Agent": USER_AGENT}, auto_decompress=True
            )
        return self._session

    async def send(self, request: OutgoingRequest) -> Outcome:
        started_at = utcnow()
        start = time.perf_counter()

        def done(**kwargs: object) -> Outcome:
            elapsed = int((time.perf_counter() - start) * 1000)
            return Outcome(started_at=started_at, duration_ms=elapsed, **kwargs)  # type: ignore[arg-type]

        try:
            check_literal_host(request.url, allow_private=self.allow_private_targets)
            async with self._client().post(
                request.url,
                data=request.body,
                headers=request.headers,
                allow_redirects=False,
                timeout=_timeout(request.timeout_s),
            ) as response:
                body = await _read_capped(response, RESPONSE_BODY_CAP)
                return done(
                    status_code=response.status,
                    body=body.decode("utf-8", errors="replace"),
                    headers=response.headers,  # read-only; copied only where it is kept
                )
        except TargetRefused as exc:
            return done(error=f"refused: {exc}")
        except TimeoutError:
            return done(error=f"timeout after {int(request.timeout_s * 1000)} ms")
        except aiohttp.ClientConnectorError as exc:
            return done(error=f"connection error: {exc}")
        except aiohttp.ClientError as exc:
            return done(error=f"{type(exc).__name__}: {exc}")
        except (OSError, ValueError) as exc:
            return done(error=f"{type(exc).__name__}: {exc}")

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


@functools.lru_cache(maxsize=64)
def _timeout(seconds: float) -> aiohttp.ClientTimeout:
    return aiohttp.ClientTimeout(total=seconds)


async def _read_capped(response: aiohttp.ClientResponse, cap: int) -> bytes:
    length = response.content_length
    if length is not None and length <= cap:
        return await response.read()  # small and announced: one read
    chunks: list[bytes] = []
    size = 0
    while size < cap:
        chunk = await response.content.read(cap - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)
