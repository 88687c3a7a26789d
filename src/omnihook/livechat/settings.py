"""Workspace settings that admins read and write at /api/v1/settings/:id, with their types and defaults."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy.ext.asyncio import AsyncConnection

from omnihook.domain.errors import InvalidInput, NotFound
from omnihook.domain.rooms import RoutingMethod
from omnihook.storage.database import Database
from omnihook.storage.settings_store import read_settings, write_settings


@dataclass(frozen=True)
class SettingSpec:
    type: type  # str, bool, int, or list (of strings among `choices`)
    default: Any
    choices: tuple[str, ...] = ()
    minimum: int = 0  # an int's lowest value (Rocket.Chat's -1 turns some limits off)
    pattern: bool = False  # a string that must be a regular expression Python can read
    # Rocket.Chat's setting type, as livechat/appearance shows it: string, boolean, int, color, select,
    # multiSelect. Empty: derived from `type`.
    rc_type: str = ""

    @property
    def kind(self) -> str:
        if self.rc_type:
            return self.rc_type
        if self.type is list:
            return "multiSelect"
        if self.choices:
            return "select"
        return {bool: "boolean", int: "int"}.get(self.type, "string")


# Rocket.Chat's ids, types and defaults (apps/meteor/server/settings/omnichannel.ts and the enterprise
# appearance settings). The CRM integration settings belong to the webhook engine (webhooks/settings.py).
SETTINGS: dict[str, SettingSpec] = {
    "Livechat_enabled": SettingSpec(bool, True),
    "Livechat_Routing_Method": SettingSpec(
        str, RoutingMethod.AUTO.value, tuple(m.value for m in RoutingMethod)
    ),
    # The widget's appearance (livechat/appearance; livechat/config shows them to the widget).
    "Livechat_title": SettingSpec(str, "Rocket.Chat"),
    "Livechat_title_color": SettingSpec(str, "#C1272D", rc_type="color"),
    "Livechat_enable_message_character_limit": SettingSpec(bool, False),
    "Livechat_message_character_limit": SettingSpec(int, 0),
    "Livechat_show_agent_info": SettingSpec(bool, True),
    "Livechat_show_agent_email": SettingSpec(bool, True),
    "Livechat_display_offline_form": SettingSpec(bool, True),
    "Livechat_offline_form_unavailable": SettingSpec(str, ""),
    "Livechat_offline_message": SettingSpec(str, ""),
    "Livechat_offline_success_message": SettingSpec(str, ""),
    "Livechat_offline_title": SettingSpec(str, "Leave a message"),
    "Livechat_offline_title_color": SettingSpec(str, "#666666", rc_type="color"),
    "Livechat_offline_email": SettingSpec(str, ""),
    "Livechat_conversation_finished_message": SettingSpec(str, ""),
    "Livechat_conversation_finished_text": SettingSpec(str, ""),
    "Livechat_registration_form": SettingSpec(bool, True),
    "Livechat_name_field_registration_form": SettingSpec(bool, True),
    "Livechat_email_field_registration_form": SettingSpec(bool, True),
    "Livechat_registration_form_message": SettingSpec(str, ""),
    "Livechat_hide_watermark": SettingSpec(bool, False),
    "Livechat_background": SettingSpec(str, ""),
    "Livechat_widget_position": SettingSpec(str, "right", ("left", "right")),
    "Livechat_hide_system_messages": SettingSpec(
        list, [], ("uj", "ul", "livechat-close", "livechat-started", "livechat_transfer_history")
    ),
    "Livechat_hide_expand_chat": SettingSpec(bool, False),
    "Omnichannel_allow_visitors_to_close_conversation": SettingSpec(bool, True),
    # The widget's behaviour.
    "Livechat_allow_switching_departments": SettingSpec(bool, True),
    "Livechat_clear_local_storage_when_chat_ended": SettingSpec(bool, False),
    "Livechat_history_monitor_type": SettingSpec(str, "url", ("url", "title")),
    "Livechat_Visitor_navigation_as_a_message": SettingSpec(bool, False),
    # Sites that may embed the widget: comma-separated hosts (`example.com`, `shop.example.com:8443`,
    # `*.example.com`, or with a scheme); empty, any site (web/widget.py turns it into frame-ancestors).
    "Livechat_AllowedDomainsList": SettingSpec(str, ""),
    # This server's public address; the widget is told to call it (OMNIHOOK_SITE_URL wins).
    "Site_Url": SettingSpec(str, ""),
}

# Accounts (livechat/accounts.py, login_throttle.py, passwords.py): Rocket.Chat's ids and defaults
# (apps/meteor/server/settings/accounts.ts), except the password policy's: 8 characters at least and no
# character classes required (length beats composition rules), so a password of 8 or more passes.
SETTINGS.update(
    {
        "Accounts_LoginExpiration": SettingSpec(int, 90, minimum=1),  # days a login token lives
        "Block_Multiple_Failed_Logins_Enabled": SettingSpec(bool, True),
        "Block_Multiple_Failed_Logins_By_User": SettingSpec(bool, True),
        "Block_Multiple_Failed_Logins_Attempts_Until_Block_by_User": SettingSpec(int, 10),
        "Block_Multiple_Failed_Logins_Time_To_Unblock_By_User_In_Minutes": SettingSpec(int, 5),
        "Block_Multiple_Failed_Logins_By_Ip": SettingSpec(bool, True),
        "Block_Multiple_Failed_Logins_Attempts_Until_Block_By_Ip": SettingSpec(int, 50),
        "Block_Multiple_Failed_Logins_Time_To_Unblock_By_Ip_In_Minutes": SettingSpec(int, 5),
        "Block_Multiple_Failed_Logins_Ip_Whitelist": SettingSpec(str, ""),  # comma-separated addresses
        "Accounts_Password_Policy_Enabled": SettingSpec(bool, True),
        "Accounts_Password_Policy_MinLength": SettingSpec(int, 8, minimum=-1),  # -1: no minimum
        "Accounts_Password_Policy_MaxLength": SettingSpec(int, -1, minimum=-1),  # -1: no maximum
        "Accounts_Password_Policy_ForbidRepeatingCharacters": SettingSpec(bool, True),
        "Accounts_Password_Policy_ForbidRepeatingCharactersCount": SettingSpec(int, 3, minimum=1),
        "Accounts_Password_Policy_AtLeastOneLowercase": SettingSpec(bool, False),
        "Accounts_Password_Policy_AtLeastOneUppercase": SettingSpec(bool, False),
        "Accounts_Password_Policy_AtLeastOneNumber": SettingSpec(bool, False),
        "Accounts_Password_Policy_AtLeastOneSpecialCharacter": SettingSpec(bool, False),
    }
)

# Lead capture (livechat/leads.py), in the CRM integration section of Rocket.Chat's settings: its patterns,
# which JavaScript and Python read alike (the e-mail one is matched ignoring case).
SETTINGS.update(
    {
        "Livechat_lead_email_regex": SettingSpec(
            str, r"\b[A-Z0-9._%+-]+@(?:[A-Z0-9-]+\.)+[A-Z]{2,4}\b", pattern=True
        ),
        "Livechat_lead_phone_regex": SettingSpec(
            str,
            r"((?:\([0-9]{1,3}\)|[0-9]{2})[ \-]*?[0-9]{4,5}(?:[\-\s\_]{1,2})?[0-9]{4}(?:(?=[^0-9])|$)"
            r"|[0-9]{4,5}(?:[\-\s\_]{1,2})?[0-9]{4}(?:(?=[^0-9])|$))",
            pattern=True,
        ),
    }
)

# Routing and accounts, for the REST that client libraries call (api/routes/users.py): Rocket.Chat's ids.
# Two defaults differ from Rocket.Chat's, on purpose: a chat opens and waits in the queue when no agent is
# available, and the widget offers it (Rocket.Chat refuses it and shows the offline form unless
# Livechat_accept_chats_with_no_agents is on, as omnihook always did before the setting), and nobody registers an account of their own unless an admin opens it (Public).
SETTINGS.update(
    {
        "Livechat_accept_chats_with_no_agents": SettingSpec(bool, True),
        "Accounts_RegistrationForm": SettingSpec(str, "Disabled", ("Public", "Disabled")),
    }
)

# What POST livechat/appearance may change, in Rocket.Chat's order (GET answers these too).
APPEARANCE_SETTINGS: tuple[str, ...] = (
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
    "Livechat_offline_email",
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
    "Omnichannel_allow_visitors_to_close_conversation",
    "Livechat_hide_expand_chat",
)


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
    if spec.type is list:
        if not all(isinstance(v, str) and v in spec.choices for v in value):
            raise InvalidInput("error-invalid-setting-value", f"value: a list of {list(spec.choices)}")
        return list(dict.fromkeys(value))
    if spec.choices and value not in spec.choices:
        raise InvalidInput("error-invalid-setting-value", f"value: one of {list(spec.choices)}")
    if spec.pattern:
        try:
            re.compile(value)
        except re.error as exc:
            raise InvalidInput(
                "error-invalid-setting-value", f"value: not a regular expression ({exc})"
            ) from None
    if spec.type is int and value < spec.minimum:
        raise InvalidInput("error-invalid-setting-value", f"value: at least {spec.minimum}")
    return value


async def read_with_defaults(conn: AsyncConnection, ids: Iterable[str]) -> dict[str, Any]:
    """The values of `ids`, each setting's default where none is stored (in the caller's connection)."""
    wanted = list(ids)
    stored = await read_settings(conn, wanted)
    return {setting_id: stored.get(setting_id, _spec(setting_id).default) for setting_id in wanted}


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


async def get_settings(db: Database, setting_ids: Iterable[str]) -> dict[str, Any]:
    """The values of `setting_ids` (each a known id), stored or default."""
    async with db.engine.connect() as conn:
        return await read_with_defaults(conn, setting_ids)


MAX_APPEARANCE_TEXT = 5000
MAX_APPEARANCE_INT = 1_000_000_000


class AppearanceChange(NamedTuple):
    setting_id: str
    value: Any


def _coerce_int(value: Any) -> int:
    """Rocket.Chat's coerceInt: numbers kept (truncated), numeric text parsed, anything else 0."""
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if math.isfinite(value) else 0
    if isinstance(value, str):
        match = re.match(r"\s*([+-]?\d+)", value)  # parseInt: leading digits
        return int(match.group(1)) if match else 0
    return 0


def coerce_appearance(setting_id: str, value: Any) -> Any | None:
    """The value POST livechat/appearance stores for `value`, as Rocket.Chat coerces it; None: skipped.

    Booleans: `true` or "true" is true, anything else false. Ints: parsed, else 0. A multi-select takes
    only a list of its own values (anything else leaves it unchanged). Text and colours take a string.
    """
    spec = _spec(setting_id)
    if spec.type is bool:
        return value is True or value == "true"
    if spec.type is int:
        return min(max(0, _coerce_int(value)), MAX_APPEARANCE_INT)
    if spec.type is list:
        if not isinstance(value, list) or not all(isinstance(v, str) and v in spec.choices for v in value):
            return None
        return list(dict.fromkeys(value))
    if not isinstance(value, str) or len(value) > MAX_APPEARANCE_TEXT:
        raise InvalidInput(
            "error-invalid-setting-value",
            f"value: {setting_id} takes a string of {MAX_APPEARANCE_TEXT} characters at most",
        )
    if spec.choices and value not in spec.choices:
        raise InvalidInput(
            "error-invalid-setting-value", f"value: {setting_id} is one of {list(spec.choices)}"
        )
    return value


async def save_appearance(db: Database, changes: list[AppearanceChange]) -> list[str]:
    """Store the appearance settings that change (one transaction); the ids written."""
    unknown = [c.setting_id for c in changes if c.setting_id not in APPEARANCE_SETTINGS]
    if unknown:
        raise InvalidInput(
            "invalid-setting", f"not an appearance setting: {unknown[0]!r}", error_type="invalid-setting"
        )
    coerced: dict[str, Any] = {}
    for change in changes:
        value = coerce_appearance(change.setting_id, change.value)
        if value is not None:
            coerced[change.setting_id] = value
    async with db.transaction() as uow:
        current = await read_settings(uow.conn, list(coerced))
        written = {k: v for k, v in coerced.items() if k not in current or current[k] != v}
        if written:
            await write_settings(uow.conn, written)
    return list(written)
