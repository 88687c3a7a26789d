"""Configuration from the environment (prefix OMNIHOOK_)."""

from __future__ import annotations

from functools import lru_cache

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OMNIHOOK_", extra="ignore")

    database_url: str = "sqlite:///./omnihook.db"
    host: str = "127.0.0.1"
    port: int = 3000
    admin_username: str | None = None
    admin_password: str | None = None
    admin_email: str | None = None
    # Webhook targets on loopback, private or link-local addresses are refused unless allowed.
    allow_private_targets: bool = False
    # Run the webhook dispatcher inside `serve` (workers run it on their own).
    dispatcher_in_server: bool = True
    # How long a dispatcher holds a claimed delivery (plus the request timeout) before others may take it.
    dispatcher_lease_seconds: float = 30.0
    # Delivered webhook deliveries (with their attempts) are deleted after this many days; 0 keeps them.
    delivery_retention_days: float = 30.0
    # An endpoint whose every attempt has failed for this many days is disabled (its new deliveries are
    # held until it is enabled again); 0 never disables.
    endpoint_disable_after_days: float = 5.0
    # A request body larger than this is refused with 413 before the app reads it.
    max_body_bytes: int = 1024 * 1024
    # This server's public address (https://chat.example.com), which the livechat widget is told to call.
    # Unset: Rocket.Chat's Site_Url setting, else the address each request was sent to.
    site_url: str | None = None
    # The official widget's build folder; unset, node_modules/@rocket.chat/livechat/build.
    widget_dir: str | None = None
    # The realtime API (/websocket): a larger client frame is refused with a DDP error; a socket holds at
    # most this many subscriptions; a client that leaves this many frames unread is disconnected.
    realtime_max_frame_bytes: int = 64 * 1024
    realtime_max_subscriptions: int = 100
    realtime_send_queue: int = 512
    realtime_ping_seconds: float = 25.0
    # How often a realtime socket's login token is checked again (it may have expired meanwhile).
    realtime_login_recheck_seconds: float = 60.0
    # An agent whose last live connection (realtime socket, agent stream) has been gone this long
    # becomes not available, so auto-assignment stops giving it chats.
    agent_offline_grace_seconds: float = 60.0
    log_level: str = "info"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
