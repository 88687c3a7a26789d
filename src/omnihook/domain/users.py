"""Users of the server (admins, managers, agents) and what their roles allow."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    MANAGER = "livechat-manager"
    AGENT = "livechat-agent"


ROLES = frozenset(r.value for r in Role)
# Rocket.Chat's role of every user: permissions may be given to it, and every user holds it.
EVERY_USER = "user"

# The permission (Rocket.Chat's id) that makes a user see and act on every chat, not only the ones
# they serve: what "a manager" means in the livechat rules.
SEE_EVERY_ROOM = "view-livechat-rooms"


@dataclass(frozen=True, kw_only=True)
class User:
    id: str
    username: str
    name: str | None
    email: str | None
    roles: tuple[str, ...]
    livechat_status: str
    active: bool = True
    status: str | None = None  # users.setStatus: online, away, busy, offline (None: never set)
    status_text: str | None = None
    # The permissions the user's roles hold now (livechat/permissions.py); None when not loaded, and
    # then the rules fall back to the roles' defaults.
    permissions: frozenset[str] | None = None

    @property
    def is_admin(self) -> bool:
        return Role.ADMIN in self.roles

    @property
    def is_manager(self) -> bool:
        """Managers (and admins) see every room and act on it: the view-livechat-rooms permission."""
        if self.permissions is not None:
            return SEE_EVERY_ROOM in self.permissions
        return self.is_admin or Role.MANAGER in self.roles

    def can(self, permission: str) -> bool:
        """Whether the user's roles hold `permission` (only when the permissions were loaded)."""
        return self.permissions is not None and permission in self.permissions

    @property
    def is_agent(self) -> bool:
        return Role.AGENT in self.roles

    def has_any_role(self, *roles: Role) -> bool:
        return any(r in self.roles for r in roles)
