"""What can be sent: Rocket.Chat's event types, which domain event maps to which, and the settings.

An endpoint subscribes to *keys*: a type name (``"Message"`` means every message) or, for messages,
``"Message.visitor"`` / ``"Message.agent"``, which is how Rocket.Chat's two message toggles are kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from omnihook.domain.events import (
    DomainEvent,
    LeadCaptured,
    MessageSent,
    OfflineMessageReceived,
    RoomClosed,
    RoomForwarded,
    RoomInfoEdited,
    RoomQueued,
    RoomStarted,
    RoomTaken,
)


class EventType(StrEnum):
    SESSION_START = "LivechatSessionStart"
    SESSION_QUEUED = "LivechatSessionQueued"
    SESSION_TAKEN = "LivechatSessionTaken"
    SESSION_FORWARDED = "LivechatSessionForwarded"
    SESSION = "LivechatSession"  # the room was closed
    EDIT = "LivechatEdit"
    MESSAGE = "Message"
    LEAD_CAPTURE = "LeadCapture"
    OFFLINE_MESSAGE = "LivechatOfflineMessage"


VISITOR_MESSAGE = "Message.visitor"
AGENT_MESSAGE = "Message.agent"

# Every key an endpoint may subscribe to.
SUBSCRIPTION_KEYS: frozenset[str] = frozenset({*(t.value for t in EventType), VISITOR_MESSAGE, AGENT_MESSAGE})

_ROOM_EVENTS: dict[type[DomainEvent], EventType] = {
    RoomStarted: EventType.SESSION_START,
    RoomQueued: EventType.SESSION_QUEUED,
    RoomTaken: EventType.SESSION_TAKEN,
    RoomForwarded: EventType.SESSION_FORWARDED,
    RoomClosed: EventType.SESSION,
    RoomInfoEdited: EventType.EDIT,
    LeadCaptured: EventType.LEAD_CAPTURE,
    OfflineMessageReceived: EventType.OFFLINE_MESSAGE,
}


def event_type_of(event: DomainEvent) -> EventType | None:
    """The Rocket.Chat type a domain event is sent as (None: not a webhook event)."""
    if isinstance(event, MessageSent):
        return EventType.MESSAGE
    return _ROOM_EVENTS.get(type(event))


def subscription_keys(event: DomainEvent) -> tuple[str, ...]:
    """The keys an endpoint can hold to receive `event`."""
    if isinstance(event, MessageSent):
        return (EventType.MESSAGE.value, VISITOR_MESSAGE if event.by_visitor else AGENT_MESSAGE)
    kind = _ROOM_EVENTS.get(type(event))
    return (kind.value,) if kind is not None else ()


# --- the CRM integration settings (Rocket.Chat's "Webhooks" page) -------------------------------

SettingKind = Literal["url", "secret", "int", "bool"]


@dataclass(frozen=True, kw_only=True)
class IntegrationSetting:
    field: str  # the key of POST omnichannel/integrations
    setting_id: str  # the id in GET livechat/integrations.settings and the settings table
    kind: SettingKind
    default: str | int | bool
    minimum: int | None = None
    maximum: int | None = None
    subscribes: str | None = None  # the subscription key a toggle turns on
    i18n_label: str = ""


ROCKETCHAT_ENDPOINT_ID = "rocketchat"

INTEGRATION_SETTINGS: tuple[IntegrationSetting, ...] = (
    IntegrationSetting(
        field="LivechatWebhookUrl",
        setting_id="Livechat_webhookUrl",
        kind="url",
        default="",
        i18n_label="Webhook_URL",
    ),
    IntegrationSetting(
        field="LivechatSecretToken",
        setting_id="Livechat_secret_token",
        kind="secret",
        default="",
        i18n_label="Secret_token",
    ),
    IntegrationSetting(
        field="LivechatHttpTimeout",
        setting_id="Livechat_http_timeout",
        kind="int",
        default=5000,
        minimum=100,
        maximum=600_000,
        i18n_label="Livechat_http_timeout",
    ),
    IntegrationSetting(
        field="LivechatWebhookOnStart",
        setting_id="Livechat_webhook_on_start",
        kind="bool",
        default=False,
        subscribes=EventType.SESSION_START.value,
        i18n_label="Send_request_on_chat_start",
    ),
    IntegrationSetting(
        field="LivechatWebhookOnClose",
        setting_id="Livechat_webhook_on_close",
        kind="bool",
        default=False,
        subscribes=EventType.SESSION.value,
        i18n_label="Send_request_on_chat_close",
    ),
    IntegrationSetting(
        field="LivechatWebhookOnChatTaken",
        setting_id="Livechat_webhook_on_chat_taken",
        kind="bool",
        default=False,
        subscribes=EventType.SESSION_TAKEN.value,
        i18n_label="Send_request_on_chat_taken",
    ),
    IntegrationSetting(
        field="LivechatWebhookOnChatQueued",
        setting_id="Livechat_webhook_on_chat_queued",
        kind="bool",
        default=False,
        subscribes=EventType.SESSION_QUEUED.value,
        i18n_label="Send_request_on_chat_queued",
    ),
    IntegrationSetting(
        field="LivechatWebhookOnForward",
        setting_id="Livechat_webhook_on_forward",
        kind="bool",
        default=False,
        subscribes=EventType.SESSION_FORWARDED.value,
        i18n_label="Send_request_on_forwarding",
    ),
    IntegrationSetting(
        field="LivechatWebhookOnOfflineMsg",
        setting_id="Livechat_webhook_on_offline_msg",
        kind="bool",
        default=False,
        subscribes=EventType.OFFLINE_MESSAGE.value,
        i18n_label="Send_request_on_offline_messages",
    ),
    IntegrationSetting(
        field="LivechatWebhookOnCapture",
        setting_id="Livechat_webhook_on_capture",
        kind="bool",
        default=False,
        subscribes=EventType.LEAD_CAPTURE.value,
        i18n_label="Send_request_on_lead_capture",
    ),
    IntegrationSetting(
        field="LivechatWebhookSendNavigation",
        setting_id="Send_visitor_navigation_history_livechat_webhook_request",
        kind="bool",
        default=False,
        i18n_label="Send_visitor_navigation_history_on_request",
    ),
    IntegrationSetting(
        field="LivechatWebhookOnVisitorMessage",
        setting_id="Livechat_webhook_on_visitor_message",
        kind="bool",
        default=False,
        subscribes=VISITOR_MESSAGE,
        i18n_label="Send_request_on_visitor_message",
    ),
    IntegrationSetting(
        field="LivechatWebhookOnAgentMessage",
        setting_id="Livechat_webhook_on_agent_message",
        kind="bool",
        default=False,
        subscribes=AGENT_MESSAGE,
        i18n_label="Send_request_on_agent_message",
    ),
    # Ours: Rocket.Chat's retry count and delay are fixed; here they are settings.
    IntegrationSetting(
        field="LivechatWebhookRetries",
        setting_id="Livechat_webhook_retries",
        kind="int",
        default=10,
        minimum=0,
        maximum=100,
        i18n_label="Livechat_webhook_retries",
    ),
    IntegrationSetting(
        field="LivechatWebhookRetryDelay",
        setting_id="Livechat_webhook_retry_delay",
        kind="int",
        default=10_000,
        minimum=10,
        maximum=86_400_000,
        i18n_label="Livechat_webhook_retry_delay",
    ),
)

BY_FIELD: dict[str, IntegrationSetting] = {s.field: s for s in INTEGRATION_SETTINGS}
BY_SETTING_ID: dict[str, IntegrationSetting] = {s.setting_id: s for s in INTEGRATION_SETTINGS}
