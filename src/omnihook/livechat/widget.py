"""What the visitor widget needs to start: its settings, departments, whether anyone is online, and
the visitor's own chat when it comes back with its token."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from omnihook.domain.rooms import Department, Room, Visitor
from omnihook.domain.users import User
from omnihook.livechat.accounts import find_user
from omnihook.livechat.departments import list_departments
from omnihook.livechat.queries import visitor_from_row
from omnihook.livechat.rooms import chat_offered, open_room_of
from omnihook.livechat.settings import SETTINGS
from omnihook.storage.database import Database
from omnihook.storage.settings_store import read_settings
from omnihook.storage.tables import visitors

# Rocket.Chat's Message_MaxAllowedSize default: the widget's text limit when the character limit is on
# without a number of its own.
MESSAGE_MAX_ALLOWED_SIZE = 5000

# The settings livechat/config reads (Rocket.Chat's getInitSettings, less what omnihook has not got).
WIDGET_SETTINGS = [
    "Livechat_enabled",
    "Livechat_title",
    "Livechat_title_color",
    "Livechat_enable_message_character_limit",
    "Livechat_message_character_limit",
    "Livechat_show_agent_info",
    "Livechat_show_agent_email",
    "Livechat_display_offline_form",
    "Livechat_offline_form_unavailable",
    "Livechat_offline_message",
    "Livechat_offline_success_message",
    "Livechat_offline_title",
    "Livechat_offline_title_color",
    "Livechat_conversation_finished_message",
    "Livechat_conversation_finished_text",
    "Livechat_registration_form",
    "Livechat_name_field_registration_form",
    "Livechat_email_field_registration_form",
    "Livechat_registration_form_message",
    "Livechat_hide_watermark",
    "Livechat_background",
    "Livechat_widget_position",
    "Livechat_hide_system_messages",
    "Livechat_hide_expand_chat",
    "Livechat_allow_switching_departments",
    "Livechat_clear_local_storage_when_chat_ended",
    "Livechat_history_monitor_type",
    "Omnichannel_allow_visitors_to_close_conversation",
]


@dataclass(frozen=True)
class AgentDisplay:
    """What a visitor is shown of the agent serving it (Livechat_show_agent_info / _email)."""

    show_info: bool = True
    show_email: bool = True


@dataclass(frozen=True, kw_only=True)
class WidgetConfig:
    settings: dict[str, Any]
    departments: list[Department]
    online: bool
    guest: Visitor | None = None
    room: Room | None = None
    agent: User | None = None

    @property
    def agent_display(self) -> AgentDisplay:
        return AgentDisplay(
            show_info=bool(self.settings["Livechat_show_agent_info"]),
            show_email=bool(self.settings["Livechat_show_agent_email"]),
        )

    @property
    def limit_text_length(self) -> int | bool:
        """Rocket.Chat's `limitTextLength`: false, or the number of characters a message may have."""
        if not self.settings["Livechat_enable_message_character_limit"]:
            return False
        return int(self.settings["Livechat_message_character_limit"]) or MESSAGE_MAX_ALLOWED_SIZE


async def agent_display(db: Database) -> AgentDisplay:
    ids = ["Livechat_show_agent_info", "Livechat_show_agent_email"]
    async with db.engine.connect() as conn:
        stored = await read_settings(conn, ids)
    values = {k: stored.get(k, SETTINGS[k].default) for k in ids}
    return AgentDisplay(
        show_info=bool(values["Livechat_show_agent_info"]),
        show_email=bool(values["Livechat_show_agent_email"]),
    )


async def widget_config(
    db: Database, *, token: str | None = None, department_id: str | None = None
) -> WidgetConfig:
    """Public: an unknown token simply gets no guest, room or agent."""
    deps, _ = await list_departments(db, enabled=True, count=1000)
    async with db.engine.connect() as conn:
        stored = await read_settings(conn, WIDGET_SETTINGS)
        values = {k: stored.get(k, SETTINGS[k].default) for k in WIDGET_SETTINGS}
        online = await chat_offered(conn, department_id or None)
        guest = room = agent = None
        if token:
            row = (await conn.execute(select(visitors).where(visitors.c.token == token))).first()
            if row is not None:
                guest = visitor_from_row(row)
                room = await open_room_of(conn, guest.id)
                if room is not None and room.served_by is not None:
                    agent = await find_user(conn, user_id=room.served_by.id)
    return WidgetConfig(settings=values, departments=deps, online=online, guest=guest, room=room, agent=agent)
