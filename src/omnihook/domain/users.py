"""Users of the server (admins, managers, agents) and what their roles allow."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    MANAGER = "livechat-manager"
    AGENT = "livechat-agent"


ROLES = frozenset(r.value for r in Role)


@dataclass(frozen=True, kw_only=True)
class User:
    id: str
    username: str
    name: str | None
    email: str | None
    roles: tuple[str, ...]
    livechat_status: str
    active: bool = True

    @property
    def is_admin(self) -> bool:
        return Role.ADMIN in self.roles

    @property
    def is_manager(self) -> bool:
        """Managers (and admins) see every room and change omnichannel settings."""
        return self.is_admin or Role.MANAGER in self.roles

    @property
    def is_agent(self) -> bool:
        return Role.AGENT in self.roles

    def has_any_role(self, *roles: Role) -> bool:
        return any(r in self.roles for r in roles)
