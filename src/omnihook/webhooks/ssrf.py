"""Refuse webhook targets on loopback, private, link-local or reserved addresses.

Checked when a URL is saved and again when a request is sent: the transport resolves through
`GuardedResolver`, so a name that later resolves to an internal address (DNS rebinding) is refused too.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import socket
from typing import Any
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class TargetRefused(Exception):
    """The URL may not be called; the message says why (shown to the admin and in attempt records)."""


def parse_http_url(url: str) -> tuple[str, int]:
    """(host, port) of an http(s) URL, or TargetRefused saying what is wrong with it."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise TargetRefused(f"{url!r} is not a valid URL ({exc})") from exc
    if parts.scheme not in ("http", "https"):
        raise TargetRefused(f"{url!r} is not an http:// or https:// URL")
    if not parts.hostname:
        raise TargetRefused(f"{url!r} has no host")
    try:
        parts.hostname.encode("idna")  # the resolver's encoding: a label over 63 characters fails there
    except UnicodeError as exc:
        raise TargetRefused(f"{url!r} does not have a valid host name ({exc})") from exc
    return parts.hostname, port or (443 if parts.scheme == "https" else 80)


def is_forbidden_address(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    )


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def refuse_address(host: str, address: str) -> None:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if is_forbidden_address(ip):
        raise TargetRefused(
            f"{host} resolves to {ip}, a loopback, private, link-local or reserved address; "
            "set OMNIHOOK_ALLOW_PRIVATE_TARGETS=1 to allow it"
        )


async def check_url(url: str, *, allow_private: bool) -> None:
    """Refuse a URL that is not http(s) or whose host resolves to an internal address."""
    host, port = parse_http_url(url)
    if allow_private:
        return
    literal = _literal(host)
    if literal is not None:
        refuse_address(host, str(literal))
        return
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise TargetRefused(f"the host {host} does not resolve ({exc})") from exc
    for info in infos:
        refuse_address(host, str(info[4][0]))


def check_literal_host(url: str, *, allow_private: bool) -> None:
    """The send-time check for IP literals (aiohttp does not resolve those through the resolver)."""
    if allow_private:
        return
    refusal = _literal_refusal(url)
    if refusal is not None:
        raise TargetRefused(refusal)


@functools.lru_cache(maxsize=4096)
def _literal_refusal(url: str) -> str | None:
    # Cached: the same few URLs are checked on every send.
    try:
        host, _ = parse_http_url(url)
        literal = _literal(host)
        if literal is not None:
            refuse_address(host, str(literal))
    except TargetRefused as exc:
        return str(exc)
    return None


class GuardedResolver(AbstractResolver):
    """aiohttp resolver that fails for internal addresses: the check happens on what is connected to."""

    def __init__(self) -> None:
        self._inner = DefaultResolver()

    async def resolve(self, host: str, port: int = 0, family: Any = socket.AF_INET) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        for result in results:
            refuse_address(host, result["host"])
        return results

    async def close(self) -> None:
        await self._inner.close()
