"""Workspace settings that admins read and write at /api/v1/settings/:id, with their types and defaults."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from omnihook.domain.errors import InvalidInput, NotFound
from omnihook.domain.rooms import RoutingMethod
from omnihook.storage.database import Database
from omnihook.storage.settings_store import read_settings, write_settings


@dataclass(frozen=True)
class SettingSpec:
    type: type  # str, bool or int
    default: Any
    choices: tuple[str, ...] = ()


# Rocket.Chat's ids. The CRM integration settings belong to the webhook engine (webhooks/settings.py).
SETTINGS: dict[str, SettingSpec] = {
    "Livechat_enabled": SettingSpec(bool, True),
    "Livechat_Routing_Method": SettingSpec(
        str, RoutingMethod.AUTO.value, tuple(m.value for m in RoutingMethod)
    ),
    "Livechat_title": SettingSpec(str, "Rocket.Chat"),
    "Livechat_title_color": SettingSpec(str, "#C1272D"),
    "Livechat_offline_title": SettingSpec(str, "Leave a message"),
    "Livechat_offline_message": SettingSpec(str, ""),
    "Livechat_offline_success_message": SettingSpec(str, ""),
    "Livechat_registration_form": SettingSpec(bool, True),
    "Livechat_display_offline_form": SettingSpec(bool, True),
    "Livechat_Visitor_navigation_as_a_message": SettingSpec(bool, False),
    "Livechat_history_monitor_type": SettingSpec(str, "url", ("url", "title")),
    "Omnichannel_allow_visitors_to_close_conversation": SettingSpec(bool, True),
    "Livechat_conversation_finished_message": SettingSpec(str, ""),
}


def _spec(setting_id: str) -> SettingSpec:
    spec = SETTINGS.get(setting_id)
    if spec is None:
        raise NotFound("error-setting-not-found", f"no setting {setting_id!r}")
    return spec


def validate_value(setting_id: str, value: Any) -> Any:
    spec = _spec(setting_id)
    # bool is an int in Python: check it first so True is not accepted as a timeout.
    ok = isinstance(value, bool) if spec.type is bool else isinstance(value, spec.type)
    if spec.type is int and isinstance(value, bool):
        ok = False
    if not ok:
        raise InvalidInput("error-invalid-setting-value", f"value: {setting_id} takes a {spec.type.__name__}")
    if spec.choices and value not in spec.choices:
        raise InvalidInput("error-invalid-setting-value", f"value: one of {list(spec.choices)}")
    if spec.type is int and value < 0:
        raise InvalidInput("error-invalid-setting-value", "value: must not be negative")
    return value


async def get_setting(db: Database, setting_id: str) -> Any:
    spec = _spec(setting_id)
    async with db.engine.connect() as conn:
        stored = await read_settings(conn, [setting_id])
    return stored.get(setting_id, spec.default)


async def set_setting(db: Database, setting_id: str, value: Any) -> Any:
    value = validate_value(setting_id, value)
    async with db.transaction() as uow:
        await write_settings(uow.conn, {setting_id: value})
    return value
