"""Refuse webhook targets on loopback, private, link-local or reserved addresses.

Checked when a URL is saved and again when a request is sent: the transport resolves through
`GuardedResolver`, so a name that later resolves to an internal address (DNS rebinding) is refused too.

Before the check a host is normalised: every IPv4 spelling that a resolver accepts (`127.1`, `2130706433`,
`0177.0.0.1`, `0x7f.1`) is read as the address it means, and an IPv6 address that carries an IPv4 one
(IPv4-mapped, 6to4, NAT64, Teredo) is judged by the address inside as well. A URL that the transport's
parser (yarl) would read differently from `urllib` (a backslash, whitespace or a control character,
a different host) is refused, so the host checked is the host connected to.
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
from yarl import URL

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class TargetRefused(Exception):
    """The URL may not be called; the message says why (shown to the admin and in attempt records)."""


NAT64_PREFIXES = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))


def parse_http_url(url: str) -> tuple[str, int]:
    """(host, port) of an http(s) URL, or TargetRefused saying what is wrong with it."""
    if any(ch == "\\" or ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        # Parsers disagree on these (a backslash before @ is a path to one, userinfo to another).
        raise TargetRefused(f"{url!r} has a backslash, whitespace or a control character")
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
    _same_as_transport(url, parts.hostname, port)
    return parts.hostname, port or (443 if parts.scheme == "https" else 80)


def _same_as_transport(url: str, host: str, port: int | None) -> None:
    """Refuse a URL whose host or port aiohttp's parser reads otherwise than the one checked here."""
    try:
        parsed = URL(url)
        theirs = parsed.host
        their_port = parsed.explicit_port
    except (ValueError, TypeError) as exc:
        raise TargetRefused(f"{url!r} is not a valid URL ({exc})") from exc
    if theirs is None or _comparable(theirs) != _comparable(host) or their_port != port:
        raise TargetRefused(f"{url!r} is ambiguous: its host is read differently by the HTTP client")


def _comparable(host: str) -> str:
    literal = _literal(host)
    if literal is not None:
        return str(literal)
    try:
        return host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return host.lower()


def _ipv4_part(part: str) -> int | None:
    """One part of an inet_aton spelling: decimal, octal (leading 0) or hex (0x); None if not a number."""
    text = part.lower()
    try:
        if text.startswith("0x"):
            return int(text[2:], 16) if text[2:] else 0
        if len(text) > 1 and text.startswith("0"):
            return int(text[1:], 8)
        return int(text, 10) if text.isdigit() else None
    except ValueError:
        return None


def _ipv4_spelling(host: str) -> ipaddress.IPv4Address | None:
    """The address an inet_aton-style host means (`127.1`, `2130706433`, `0177.0.0.1`, `0x7f.1`)."""
    parts = host.split(".")
    if parts and parts[-1] == "":
        parts = parts[:-1]  # a trailing dot: "127.0.0.1." is still 127.0.0.1 to a resolver
    if not 1 <= len(parts) <= 4 or not all(part.isascii() for part in parts):
        return None
    numbers = [_ipv4_part(part) for part in parts]
    if any(number is None for number in numbers):
        return None
    values = [number for number in numbers if number is not None]
    *head, last = values
    if any(value > 255 for value in head) or last >= 256 ** (5 - len(values)):
        raise TargetRefused(f"{host} is not a valid IPv4 address")
    number = 0
    for value in head:
        number = number * 256 + value
    return ipaddress.IPv4Address(number * 256 ** (5 - len(values)) + last)


def normalise_host(host: str) -> IPAddress | None:
    """The address an IP-literal host means, in any spelling; None for a name that must be resolved."""
    text = host.strip("[]").split("%", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        pass
    return _ipv4_spelling(text)


def embedded_addresses(address: IPAddress) -> list[IPAddress]:
    """The address and every IPv4 address it carries (IPv4-mapped, 6to4, NAT64, Teredo)."""
    found: list[IPAddress] = [address]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            found.append(address.ipv4_mapped)
        if address.sixtofour is not None:
            found.append(address.sixtofour)
        if address.teredo is not None:
            found.extend(address.teredo)  # (server, client)
        if any(address in network for network in NAT64_PREFIXES):
            found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return found


def _forbidden(address: IPAddress) -> bool:
    return (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    )


def is_forbidden_address(address: IPAddress) -> bool:
    found = embedded_addresses(address)
    if isinstance(address, ipaddress.IPv6Address) and (
        address.ipv4_mapped is not None or any(address in network for network in NAT64_PREFIXES)
    ):
        # A translation prefix (reserved in itself) stands for the IPv4 address: judge that alone.
        found = found[1:]
    return any(_forbidden(inner) for inner in found)


def _literal(host: str) -> IPAddress | None:
    try:
        return normalise_host(host)
    except TargetRefused:
        return None


def refuse_address(host: str, address: str) -> None:
    ip = normalise_host(address)
    if ip is None:
        raise TargetRefused(f"{host} resolves to {address!r}, which is not an IP address")
    inner = [str(found) for found in embedded_addresses(ip)[1:]]
    if is_forbidden_address(ip):
        carried = f" (carrying {', '.join(inner)})" if inner else ""
        raise TargetRefused(
            f"{host} is {ip}{carried}, a loopback, private, link-local or reserved address; "
            "set OMNIHOOK_ALLOW_PRIVATE_TARGETS=1 to allow it"
        )


async def check_url(url: str, *, allow_private: bool) -> None:
    """Refuse a URL that is not http(s) or whose host resolves to an internal address."""
    host, port = parse_http_url(url)
    if allow_private:
        return
    literal = normalise_host(host)
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
        literal = normalise_host(host)
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
