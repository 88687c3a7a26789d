"""What the visitor widget needs to start: settings, departments, whether anyone is online."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from omnihook.domain.rooms import Department, Room, Visitor
from omnihook.domain.users import User
from omnihook.livechat.accounts import find_user
from omnihook.livechat.departments import list_departments
from omnihook.livechat.queries import visitor_from_row
from omnihook.livechat.rooms import open_room_of
from omnihook.livechat.routing import any_agent_available
from omnihook.livechat.settings import SETTINGS
from omnihook.storage.database import Database
from omnihook.storage.settings_store import read_settings
from omnihook.storage.tables import visitors

WIDGET_SETTINGS = [
    "Livechat_enabled",
    "Livechat_title",
    "Livechat_title_color",
    "Livechat_offline_title",
    "Livechat_offline_message",
    "Livechat_offline_success_message",
    "Livechat_registration_form",
    "Livechat_display_offline_form",
    "Livechat_history_monitor_type",
    "Livechat_conversation_finished_message",
    "Omnichannel_allow_visitors_to_close_conversation",
]


@dataclass(frozen=True, kw_only=True)
class WidgetConfig:
    settings: dict[str, Any]
    departments: list[Department]
    online: bool
    guest: Visitor | None = None
    room: Room | None = None
    agent: User | None = None


async def widget_config(
    db: Database, *, token: str | None = None, department_id: str | None = None
) -> WidgetConfig:
    """Public: an unknown token simply gets no guest, room or agent."""
    deps, _ = await list_departments(db, enabled=True, count=1000)
    async with db.engine.connect() as conn:
        stored = await read_settings(conn, WIDGET_SETTINGS)
        values = {k: stored.get(k, SETTINGS[k].default) for k in WIDGET_SETTINGS}
        online = await any_agent_available(conn, department_id or None)
        guest = room = agent = None
        if token:
            row = (await conn.execute(select(visitors).where(visitors.c.token == token))).first()
            if row is not None:
                guest = visitor_from_row(row)
                room = await open_room_of(conn, guest.id)
                if room is not None and room.served_by is not None:
                    agent = await find_user(conn, user_id=room.served_by.id)
    return WidgetConfig(settings=values, departments=deps, online=online, guest=guest, room=room, agent=agent)
