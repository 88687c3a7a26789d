"""Identifiers in Rocket.Chat's style (17 characters of an unambiguous alphabet)."""

from __future__ import annotations

import secrets

_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTWXYZabcdefghijkmnopqrstuvwxyz"


def new_id(length: int = 17) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def new_token() -> str:
    """A secret token (auth tokens, visitor tokens generated for the caller)."""
    return secrets.token_urlsafe(32)
