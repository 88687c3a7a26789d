"""Hostile webhook receivers: a raw asyncio TCP server on loopback that speaks HTTP by hand, so that it
can misbehave at byte level (bytes no decoder accepts, a reset, a body that never ends).

The first segment of a request's path picks the behaviour (`/hang/<label>`); the rest is free, so each
test gives its endpoints paths of their own and reads back only its requests. Every request that arrives
is recorded (time, headers, body) before the behaviour runs. The server runs in a thread with its own
event loop, as `tests.receiver.Receiver` does, and records in the same `Received` shape.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum

from tests.receiver import Received

HUGE_BODY_BYTES = 50 * 1024 * 1024
WRITE_CHUNK = 64 * 1024
MAX_HEAD_BYTES = 64 * 1024


class Behaviour(StrEnum):
    BAD_HEADER_500 = "bad-header-500"  # 500 with a header holding the bytes \xff\xfe
    NUL_BODY_200 = "nul-body-200"  # 200 whose body holds a NUL byte
    HANG = "hang"  # reads the request, never answers, holds the socket until the client gives up
    RESET = "reset"  # reads the request, then resets the connection (SO_LINGER 0, close)
    ENDLESS_BODY_200 = "endless-body-200"  # 200, chunked, writing for ever
    HUGE_BODY_200 = "huge-body-200"  # 200 with a 50 MB body
    RETRY_AFTER_429 = "retry-after-429"  # 429; the Retry-After value is the path's second segment
    REDIRECT_302 = "redirect-302"  # 302 to REDIRECT_TARGET with the same label
    REDIRECT_TARGET = "redirect-target"  # answers 200: reaching it means a redirect was followed
    BAD_STATUS_LINE = "bad-status-line"  # "HTTP/1.1 abc nope"
    HTTP10_CLOSE_500 = "http10-close-500"  # HTTP/1.0, Connection: close, 500, body ends at close


# Retry-After values by the name a test uses in its path (the value itself may be unusable in a URL).
RETRY_AFTER_VALUES: dict[str, bytes] = {
    "huge": b"99999999999999999999",
    "negative": b"-5",
    "fractional": b"1.5",
    "superscript-two": "²".encode(),
    "arabic-indic-three": "٣".encode(),
    "garbage-date": b"Someday, 32 Smarch 20xx 25:61:61 GMT",
    "zoneless-date": b"Mon, 01 Jan 2024 00:00:00",  # an HTTP date says GMT; this one says nothing
}


class _Request:
    def __init__(self, method: str, path: str, headers: dict[str, str], body: bytes) -> None:
        self.method, self.path, self.headers, self.body = method, path, headers, body

    @property
    def segments(self) -> list[str]:
        return self.path.split("?", 1)[0].strip("/").split("/")


Handler = Callable[[_Request, asyncio.StreamReader, asyncio.StreamWriter], Awaitable[bool]]


def _response(status_line: bytes, headers: list[tuple[bytes, bytes]], body: bytes = b"") -> bytes:
    head = [status_line, *(name + b": " + value for name, value in headers), b"", b""]
    return b"\r\n".join(head) + body


def _plain(status_line: bytes, body: bytes, *extra: tuple[bytes, bytes]) -> bytes:
    headers = [(b"Content-Type", b"text/plain"), (b"Content-Length", str(len(body)).encode()), *extra]
    return _response(status_line, headers, body)


class HostileReceiver:
    """Misbehaving HTTP receivers on one loopback port, one per behaviour (the path's first segment)."""

    def __init__(self) -> None:
        self.port = 0
        self.requests: list[tuple[str, Received]] = []  # (behaviour, request), in arrival order
        self.bytes_sent: dict[str, int] = {}  # body bytes written, by path (the big bodies)
        self._cond = threading.Condition()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._connections: dict[asyncio.Task[None], asyncio.StreamWriter] = {}
        self._thread: threading.Thread | None = None
        self._handlers: dict[str, Handler] = {
            Behaviour.BAD_HEADER_500: self._bad_header_500,
            Behaviour.NUL_BODY_200: self._nul_body_200,
            Behaviour.HANG: self._hang,
            Behaviour.RESET: self._reset,
            Behaviour.ENDLESS_BODY_200: self._endless_body_200,
            Behaviour.HUGE_BODY_200: self._huge_body_200,
            Behaviour.RETRY_AFTER_429: self._retry_after_429,
            Behaviour.REDIRECT_302: self._redirect_302,
            Behaviour.REDIRECT_TARGET: self._redirect_target,
            Behaviour.BAD_STATUS_LINE: self._bad_status_line,
            Behaviour.HTTP10_CLOSE_500: self._http10_close_500,
        }

    def url(self, behaviour: Behaviour, *label: str) -> str:
        return f"http://127.0.0.1:{self.port}/{'/'.join((behaviour.value, *label))}"

    def received(self, url: str) -> list[Received]:
        """The requests that arrived at this URL, oldest first."""
        path = _path(url)
        with self._cond:
            return [r for _, r in self.requests if r.path == path]

    def sent(self, url: str) -> int:
        """How many body bytes the big-body behaviours wrote to the client at this URL."""
        with self._cond:
            return self.bytes_sent.get(_path(url), 0)

    def received_by(self, behaviour: Behaviour) -> list[Received]:
        with self._cond:
            return [r for b, r in self.requests if b == behaviour]

    def wait_for(self, url: str, count: int, timeout: float = 30.0) -> list[Received]:
        """Blocks until `count` requests arrived at `url` (fails the test after `timeout`)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(got := self.received(url)) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"expected {count} requests at {url}, got {len(got)}")
                self._cond.wait(left)
            return got

    async def arrived(self, url: str, count: int, within: float = 30.0) -> list[Received]:
        return await asyncio.to_thread(self.wait_for, url, count, within)

    # --- the server ----------------------------------------------------------------------------

    def start(self) -> None:
        ready = threading.Event()

        async def serve() -> None:
            self._stop = asyncio.Event()
            server = await asyncio.start_server(self._connection, "127.0.0.1", 0, limit=MAX_HEAD_BYTES)
            self.port = server.sockets[0].getsockname()[1]
            ready.set()
            await self._stop.wait()
            server.close()
            # Aborting ends every behaviour's read or write; cancelling the tasks would log each one.
            for writer in list(self._connections.values()):
                writer.transport.abort()
            if self._connections:
                await asyncio.wait(list(self._connections), timeout=5)

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(serve())
            finally:
                loop.close()

        self._thread = threading.Thread(target=run, name="hostile-receiver", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the hostile receiver did not start")

    def stop(self) -> None:
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(stop.set)
        if self._thread is not None:
            self._thread.join(10)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections[task] = writer
        try:
            keep_alive = True
            while keep_alive:  # one connection may carry several requests (aiohttp keeps them alive)
                request = await _read_request(reader)
                if request is None:
                    return
                behaviour = request.segments[0]
                received = Received(
                    request.method, request.path, request.headers, request.body, time.monotonic()
                )
                with self._cond:
                    self.requests.append((behaviour, received))
                    self._cond.notify_all()
                handler = self._handlers.get(behaviour, self._not_found)
                keep_alive = await handler(request, reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            pass  # the client went away or sent nonsense: nothing to answer
        finally:
            self._connections.pop(task, None)
            with contextlib.suppress(Exception):
                writer.close()

    # --- behaviours: each returns whether the connection may carry another request ---------------

    async def _not_found(self, _r: _Request, _rd: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        writer.write(_plain(b"HTTP/1.1 404 Not Found", b"no such behaviour"))
        await writer.drain()
        return True

    async def _bad_header_500(
        self, _r: _Request, _rd: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        writer.write(_plain(b"HTTP/1.1 500 Internal Server Error", b"error", (b"X-Bad", b"\xff\xfe")))
        await writer.drain()
        return True

    async def _nul_body_200(
        self, _r: _Request, _rd: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        writer.write(_plain(b"HTTP/1.1 200 OK", b"ok\x00then"))
        await writer.drain()
        return True

    async def _hang(self, _r: _Request, reader: asyncio.StreamReader, _w: asyncio.StreamWriter) -> bool:
        await reader.read()  # holds the socket until the client closes it
        return False

    async def _reset(self, _r: _Request, _rd: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()  # with a zero linger, closing sends RST instead of FIN
        return False

    async def _endless_body_200(
        self, request: _Request, _rd: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        writer.write(_response(b"HTTP/1.1 200 OK", [(b"Transfer-Encoding", b"chunked")]))
        chunk = b"%x\r\n%s\r\n" % (WRITE_CHUNK, b"x" * WRITE_CHUNK)
        while True:  # until the client stops reading and closes
            writer.write(chunk)
            await writer.drain()
            self._count(request.path, WRITE_CHUNK)

    async def _huge_body_200(
        self, request: _Request, _rd: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        headers = [(b"Content-Type", b"text/plain"), (b"Content-Length", str(HUGE_BODY_BYTES).encode())]
        writer.write(_response(b"HTTP/1.1 200 OK", headers))
        block = b"y" * WRITE_CHUNK
        for _ in range(HUGE_BODY_BYTES // WRITE_CHUNK):
            writer.write(block)
            await writer.drain()
            self._count(request.path, WRITE_CHUNK)
        return True

    async def _retry_after_429(
        self, request: _Request, _rd: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        value = RETRY_AFTER_VALUES[request.segments[1]]
        writer.write(_plain(b"HTTP/1.1 429 Too Many Requests", b"slow down", (b"Retry-After", value)))
        await writer.drain()
        return True

    async def _redirect_302(
        self, request: _Request, _rd: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        target = self.url(Behaviour.REDIRECT_TARGET, *request.segments[1:]).encode()
        writer.write(_plain(b"HTTP/1.1 302 Found", b"moved", (b"Location", target)))
        await writer.drain()
        return True

    async def _redirect_target(
        self, _r: _Request, _rd: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        writer.write(_plain(b"HTTP/1.1 200 OK", b"followed"))
        await writer.drain()
        return True

    async def _bad_status_line(
        self, _r: _Request, _rd: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        writer.write(_plain(b"HTTP/1.1 abc nope", b"what"))
        await writer.drain()
        return False

    async def _http10_close_500(
        self, _r: _Request, _rd: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        # No Content-Length: an HTTP/1.0 body ends where the connection does.
        headers = [(b"Content-Type", b"text/plain"), (b"Connection", b"close")]
        writer.write(_response(b"HTTP/1.0 500 Internal Server Error", headers, b"broken, and closing"))
        await writer.drain()
        return False

    def _count(self, path: str, size: int) -> None:
        with self._cond:
            self.bytes_sent[path] = self.bytes_sent.get(path, 0) + size


def _path(url: str) -> str:
    return "/" + url.split("/", 3)[3]


async def _read_request(reader: asyncio.StreamReader) -> _Request | None:
    """One HTTP/1.1 request (Content-Length or chunked body); None at a clean end of the connection."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if exc.partial.strip():
            raise
        return None
    lines = head.decode("latin-1").split("\r\n")
    method, path, _version = lines[0].split(" ", 2)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip()] = value.strip()
    lowered = {k.lower(): v for k, v in headers.items()}
    if lowered.get("transfer-encoding", "").lower() == "chunked":
        body = await _read_chunked(reader)
    else:
        body = await reader.readexactly(int(lowered.get("content-length", "0")))
    return _Request(method, path, headers, body)


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0], 16)
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":  # trailers
                pass
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)


@contextmanager
def running_hostile_receiver() -> Iterator[HostileReceiver]:
    receiver = HostileReceiver()
    receiver.start()
    try:
        yield receiver
    finally:
        receiver.stop()
