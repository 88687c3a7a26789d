"""Passwords: argon2 hashing and checking off the event loop, and Rocket.Chat's password policy.

A password is stored as argon2 of its SHA-256 hex digest (as Meteor stores bcrypt of it), so that the
digest Rocket.Chat's clients send as `currentPassword` can be checked too. Hashes made before that
(argon2 of the password itself) still verify and are replaced at the next login.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.ext.asyncio import AsyncConnection

from omnihook.domain.errors import InvalidInput
from omnihook.livechat.settings import read_with_defaults

_hasher = PasswordHasher()
DIGESTED = "sha256:"  # prefix of a hash whose input is the password's SHA-256 hex digest
_HEX_DIGEST = re.compile(r"^[0-9a-fA-F]{64}$")


def password_digest(password: str) -> str:
    """What Rocket.Chat's client sends for a password: its SHA-256, in lower-case hex."""
    return hashlib.sha256(password.encode()).hexdigest()


def _hash_now(password: str) -> str:
    return DIGESTED + _hasher.hash(password_digest(password))


def _verify_now(stored: str, candidate: str) -> bool:
    try:
        return _hasher.verify(stored, candidate)
    except (VerificationError, InvalidHashError):
        return False


def _matches_now(stored: str, password: str, *, digest_too: bool) -> bool:
    if not stored.startswith(DIGESTED):  # made before digests: argon2 of the password itself
        return _verify_now(stored, password)
    argon = stored.removeprefix(DIGESTED)
    if _verify_now(argon, password_digest(password)):
        return True
    # A digest given for the password (Rocket.Chat's client does so when it asks for the current one).
    return digest_too and _HEX_DIGEST.match(password) is not None and _verify_now(argon, password.lower())


# Checked for unknown or inactive users, so that they take as long as a real check.
_DUMMY_HASH = _hash_now(secrets.token_urlsafe(16))


async def hash_password(password: str) -> str:
    """argon2 in a worker thread: it takes tens of milliseconds that the event loop must not wait."""
    return await asyncio.to_thread(_hash_now, password)


async def password_matches(stored: str | None, password: str, *, digest_too: bool = False) -> bool:
    """Whether `password` is the one behind `stored`, checked in a worker thread, outside any transaction.

    With no stored hash (an unknown user) a dummy hash is checked, so the answer takes as long.
    `digest_too` also accepts the password's SHA-256 hex digest.
    """
    if stored is None:
        await asyncio.to_thread(_matches_now, _DUMMY_HASH, password, digest_too=digest_too)
        return False
    return await asyncio.to_thread(_matches_now, stored, password, digest_too=digest_too)


def needs_rehash(stored: str) -> bool:
    return not stored.startswith(DIGESTED) or _hasher.check_needs_rehash(stored.removeprefix(DIGESTED))


# Rocket.Chat's Accounts_Password_Policy_* settings (their ids and error names).
POLICY_SETTINGS = (
    "Accounts_Password_Policy_Enabled",
    "Accounts_Password_Policy_MinLength",
    "Accounts_Password_Policy_MaxLength",
    "Accounts_Password_Policy_ForbidRepeatingCharacters",
    "Accounts_Password_Policy_ForbidRepeatingCharactersCount",
    "Accounts_Password_Policy_AtLeastOneLowercase",
    "Accounts_Password_Policy_AtLeastOneUppercase",
    "Accounts_Password_Policy_AtLeastOneNumber",
    "Accounts_Password_Policy_AtLeastOneSpecialCharacter",
)


@dataclass(frozen=True)
class PasswordPolicy:
    enabled: bool = True
    min_length: int = 8  # below 1: no minimum
    max_length: int = -1  # below 1: no maximum
    forbid_repeating: bool = True
    repeating_count: int = 3  # more than this many of one character in a row is refused
    lowercase: bool = False
    uppercase: bool = False
    number: bool = False
    special: bool = False

    @classmethod
    def from_settings(cls, values: dict[str, Any]) -> PasswordPolicy:
        prefix = "Accounts_Password_Policy_"
        return cls(
            enabled=values[prefix + "Enabled"],
            min_length=values[prefix + "MinLength"],
            max_length=values[prefix + "MaxLength"],
            forbid_repeating=values[prefix + "ForbidRepeatingCharacters"],
            repeating_count=values[prefix + "ForbidRepeatingCharactersCount"],
            lowercase=values[prefix + "AtLeastOneLowercase"],
            uppercase=values[prefix + "AtLeastOneUppercase"],
            number=values[prefix + "AtLeastOneNumber"],
            special=values[prefix + "AtLeastOneSpecialCharacter"],
        )

    def violations(self, password: str) -> list[tuple[str, str]]:
        """Rocket.Chat's reasons (error name, message) why `password` is refused, in its order."""
        if not password.strip():
            return [("error-password-policy-not-met", "The password is empty.")]
        if not self.enabled:
            return []
        rules = [
            (
                self.min_length > 0 and len(password) < self.min_length,
                "minLength",
                f"The password is shorter than {self.min_length} characters.",
            ),
            (
                0 < self.max_length < len(password),
                "maxLength",
                f"The password is longer than {self.max_length} characters.",
            ),
            (
                self.forbid_repeating
                and re.search(rf"(.)\1{{{self.repeating_count},}}", password, re.DOTALL) is not None,
                "repeatingCharacters",
                f"The password repeats a character more than {self.repeating_count} times in a row.",
            ),
            (
                self.lowercase and re.search("[a-z]", password) is None,
                "oneLowercase",
                "The password has no lowercase letter.",
            ),
            (
                self.uppercase and re.search("[A-Z]", password) is None,
                "oneUppercase",
                "The password has no uppercase letter.",
            ),
            (self.number and re.search("[0-9]", password) is None, "oneNumber", "The password has no digit."),
            (
                self.special and re.search("[^A-Za-z0-9 ]", password) is None,
                "oneSpecial",
                "The password has no special character.",
            ),
        ]
        return [
            (f"error-password-policy-not-met-{name}", message) for failed, name, message in rules if failed
        ]

    def check(self, password: str) -> None:
        """Refuse `password` with the first reason as the error and every reason in the details."""
        reasons = self.violations(password)
        if reasons:
            raise InvalidInput(
                reasons[0][0],
                "password: " + "; ".join(f"{message} [{name}]" for name, message in reasons),
                error_type="error-password-policy-not-met",
            )

    def generate(self) -> str:
        """A random password this policy accepts (for a first admin whose password was not given)."""
        length = max(24, self.min_length)
        if self.max_length > 0:
            length = min(length, self.max_length)
        for _ in range(100):
            candidate = secrets.token_urlsafe(length)[:length]
            if self.lowercase or self.uppercase or self.number or self.special:
                candidate = candidate[:-4] + "aA1!"  # one of each class, whatever the random part holds
            if not self.violations(candidate):
                return candidate
        raise InvalidInput("error-password-policy-not-met", "password: the policy admits none: give one")


async def current_policy(conn: AsyncConnection) -> PasswordPolicy:
    return PasswordPolicy.from_settings(await read_with_defaults(conn, POLICY_SETTINGS))
