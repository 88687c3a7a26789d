"""Identifiers in Rocket.Chat's style (17 characters of an unambiguous alphabet)."""

from __future__ import annotations

import secrets

_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTWXYZabcdefghijkmnopqrstuvwxyz"
# Bytes below this multiple of the alphabet's size map onto it without bias; the rest are drawn again.
_UNBIASED = 256 - 256 % len(_ALPHABET)


def new_id(length: int = 17) -> str:
    # One urandom read per id instead of a secrets.choice per character (a hot path: several ids a message).
    chars: list[str] = []
    while len(chars) < length:
        chars.extend(_ALPHABET[b % len(_ALPHABET)] for b in secrets.token_bytes(length + 8) if b < _UNBIASED)
    return "".join(chars[:length])


def new_token() -> str:
    """A secret token (auth tokens, visitor tokens generated for the caller)."""
    return secrets.token_urlsafe(32)
