"""Text from outside made storable on both dialects: valid UTF-8, no NUL, capped.

A receiver's headers arrive with undecodable bytes as lone surrogates (aiohttp decodes them with
`surrogateescape`), and PostgreSQL refuses NUL in text: either would make the statement fail.
"""

from __future__ import annotations

from collections.abc import Mapping

MAX_HEADERS = 64
MAX_HEADER_NAME = 256
MAX_HEADER_VALUE = 2048


def storable_text(value: str, cap: int) -> str:
    """`value` with lone surrogates replaced (U+FFFD), NUL removed, at most `cap` characters."""
    if not value.isascii():
        try:  # the bytes aiohttp escaped, back as they came, each bad one shown as U+FFFD
            raw = value.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:  # other lone surrogates
            raw = value.encode("utf-8", "surrogatepass")
        value = raw.decode("utf-8", "replace")
    if "\x00" in value:
        value = value.replace("\x00", "")
    return value[:cap]


def storable_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The first MAX_HEADERS headers, names and values made storable and capped."""
    kept: dict[str, str] = {}
    for name, value in headers.items():
        if len(kept) >= MAX_HEADERS:
            break
        kept[storable_text(str(name), MAX_HEADER_NAME)] = storable_text(str(value), MAX_HEADER_VALUE)
    return kept
