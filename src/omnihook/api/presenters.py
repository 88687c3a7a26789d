"""JSON shapes of the Rocket.Chat REST API for our entities."""

from __future__ import annotations

from typing import Any

from omnihook.domain.users import User


def user_json(user: User) -> dict[str, Any]:
    return {
        "_id": user.id,
        "username": user.username,
        "name": user.name,
        "emails": [{"address": user.email, "verified": False}] if user.email else [],
        "roles": list(user.roles),
        "active": user.active,
        "statusLivechat": user.livechat_status,
        "type": "user",
    }
