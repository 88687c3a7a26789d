"""The SSRF guard normalises a host before judging it: every IPv4 spelling, IPv4 inside IPv6, ambiguous URLs."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from omnihook.webhooks.ssrf import (
    TargetRefused,
    check_literal_host,
    check_url,
    parse_http_url,
    refuse_address,
)

# Spellings of 127.0.0.1 that resolvers (inet_aton) accept; none is an address to `ipaddress`.
LOOPBACK_SPELLINGS = ["127.1", "2130706433", "0177.0.0.1", "0x7f.1", "0x7f000001", "127.0.0.1."]

# IPv6 addresses that carry a private IPv4 one, with the address they carry.
CARRIERS = [
    ("::ffff:127.0.0.1", "127.0.0.1"),  # IPv4-mapped
    ("2002:7f00:1::", "127.0.0.1"),  # 6to4
    ("2002:a00:1::", "10.0.0.1"),  # 6to4
    ("64:ff9b::7f00:1", "127.0.0.1"),  # NAT64 (RFC 6052)
    ("64:ff9b::a9fe:a9fe", "169.254.169.254"),  # NAT64 to the cloud metadata address
    ("2001:0:4136:e378:8000:63bf:f5ff:fffe", "10.0.0.1"),  # Teredo, client 10.0.0.1 (stored inverted)
]


@pytest.fixture
def no_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    """The checks below must not need a resolver: a literal is judged as written."""

    def refuse(*_: Any, **__: Any) -> Any:
        raise OSError("no DNS in this test")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)


@pytest.mark.parametrize("host", LOOPBACK_SPELLINGS)
def test_every_ipv4_spelling_is_refused_at_send_time(host: str) -> None:
    with pytest.raises(TargetRefused, match=r"is 127\.0\.0\.1"):
        check_literal_host(f"http://{host}:8080/hook", allow_private=False)
    check_literal_host(f"http://{host}:8080/hook", allow_private=True)


@pytest.mark.parametrize("host", LOOPBACK_SPELLINGS)
async def test_every_ipv4_spelling_is_refused_at_save_time_without_resolving(host: str, no_dns: None) -> None:
    with pytest.raises(TargetRefused, match=r"is 127\.0\.0\.1"):
        await check_url(f"http://{host}/hook", allow_private=False)


@pytest.mark.parametrize(("address", "carried"), CARRIERS)
def test_an_ipv6_address_is_judged_by_the_ipv4_address_it_carries(address: str, carried: str) -> None:
    with pytest.raises(TargetRefused, match=rf"carrying [^)]*\b{carried.replace('.', '[.]')}\b"):
        check_literal_host(f"http://[{address}]/hook", allow_private=False)
    # The same when a name resolves to it (DNS rebinding through an AAAA record).
    with pytest.raises(TargetRefused, match=rf"carrying [^)]*\b{carried.replace('.', '[.]')}\b"):
        refuse_address("rebind.example", address)


@pytest.mark.parametrize(("address", "carried"), CARRIERS)
async def test_ipv6_carriers_are_refused_at_save_time(address: str, carried: str, no_dns: None) -> None:
    with pytest.raises(TargetRefused, match=carried.replace(".", "[.]")):
        await check_url(f"https://[{address}]:8443/hook", allow_private=False)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1\\@crm.example.com/hook",  # urllib: host crm.example.com; aiohttp/browsers: 127.0.0.1
        "http://crm.example.com\\@127.0.0.1/hook",
        "http://127.0.0.1\\.crm.example.com/",
        "http://crm.exa\tmple.com/",  # tabs and newlines are dropped by some parsers, not others
        "http://crm.example.com\n.internal/",
        "http://crm.example.com /",
    ],
)
def test_a_url_the_transport_would_parse_differently_is_refused(url: str) -> None:
    with pytest.raises(TargetRefused, match="backslash, whitespace or a control character"):
        parse_http_url(url)
    with pytest.raises(TargetRefused):
        check_literal_host(url, allow_private=False)


def test_an_ipv4_spelling_out_of_range_is_refused() -> None:
    with pytest.raises(TargetRefused, match="not a valid IPv4 address"):
        check_literal_host("http://256.1/", allow_private=False)


@pytest.mark.parametrize(
    "url",
    [
        "https://93.184.215.14/hook",
        "https://1572395790/hook",  # 93.184.215.14 spelled as one number
        "http://[2606:4700:4700::1111]:8443/hook",
        "http://[2002:5db8:d70e::]/hook",  # 6to4 of a public address
        "http://[64:ff9b::5db8:d70e]/hook",  # NAT64 of a public address
        "https://crm.example.com/hook",  # a name: judged by what it resolves to
        "https://bücher.example/hook",
        "http://1.2.3.4.5/",  # not an address in any spelling: a name
    ],
)
def test_public_targets_are_still_allowed(url: str) -> None:
    check_literal_host(url, allow_private=False)
    parse_http_url(url)
