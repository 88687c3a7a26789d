"""The schema, as SQLAlchemy Core tables. Alembic migrations in storage/migrations follow it."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    text,
)

from omnihook.storage.types import BigSerial, UtcDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

ID = 32  # length of id columns (ours are 17 characters; room for imported ids)

users = Table(
    "users",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("username", String(120), nullable=False, unique=True),
    Column("name", String(200), nullable=True),
    Column("email", String(254), nullable=True, unique=True),
    Column("password_hash", String(200), nullable=False),
    Column("roles", JSON, nullable=False),
    # Omnichannel availability: 'available' | 'not-available'
    Column("livechat_status", String(20), nullable=False, default="not-available"),
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", UtcDateTime, nullable=False),
    # Rocket.Chat's user status set by users.setStatus ('online' | 'away' | 'busy' | 'offline'; NULL:
    # never set, shown as 'offline') and its status message
    Column("status", String(20), nullable=True),
    Column("status_text", String(120), nullable=True),
)

auth_tokens = Table(
    "auth_tokens",
    metadata,
    # sha256 of the token handed to the client; the token itself is never stored
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", String(ID), ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("created_at", UtcDateTime, nullable=False),
)

# Login attempts, for blocking repeated failures (livechat/login_throttle.py); rows are kept only as
# long as the longest block window.
login_attempts = Table(
    "login_attempts",
    metadata,
    Column("id", BigSerial, primary_key=True, autoincrement=True),
    Column("account", String(64), nullable=False),  # a user id, or "?" + a hash of an unknown name
    Column("client_address", String(64), nullable=False),
    Column("succeeded", Boolean, nullable=False),
    Column("attempted_at", UtcDateTime, nullable=False),
    Index("ix_login_attempts_account", "account", "attempted_at"),
    Index("ix_login_attempts_client_address", "client_address", "attempted_at"),
    Index("ix_login_attempts_attempted_at", "attempted_at"),
)

# Rocket.Chat's permissions that omnihook enforces, as permissions.update left them (livechat/permissions.py
# holds each one's default roles; a permission without a row has its default).
permissions = Table(
    "permissions",
    metadata,
    Column("id", String(120), primary_key=True),
    Column("roles", JSON, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

settings = Table(
    "settings",
    metadata,
    Column("id", String(120), primary_key=True),
    Column("value", JSON, nullable=True),
    Column("updated_at", UtcDateTime, nullable=False),
)

departments = Table(
    "departments",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("description", Text, nullable=True),
    Column("email", String(254), nullable=True),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("show_on_registration", Boolean, nullable=False, default=True),
    Column("show_on_offline_form", Boolean, nullable=False, default=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

department_agents = Table(
    "department_agents",
    metadata,
    Column("department_id", String(ID), ForeignKey("departments.id", ondelete="CASCADE"), primary_key=True),
    Column("agent_id", String(ID), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_department_agents_agent", "agent_id"),
)

visitors = Table(
    "visitors",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("token", String(200), nullable=False, unique=True),
    Column("username", String(120), nullable=False, unique=True),
    Column("name", String(200), nullable=True),
    Column("emails", JSON, nullable=False),  # [{"address": ...}]
    Column("phones", JSON, nullable=False),  # [{"phoneNumber": ...}]
    Column("department_id", String(ID), nullable=True),
    Column("custom_fields", JSON, nullable=False),
    Column("ip", String(64), nullable=True),
    Column("user_agent", Text, nullable=True),
    Column("host", String(255), nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    # 'online' while a realtime connection of this visitor is up, 'offline' once the last one closed
    Column("status", String(20), nullable=True),
)

rooms = Table(
    "rooms",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("visitor_id", String(ID), ForeignKey("visitors.id"), nullable=False),
    Column("visitor_token", String(200), nullable=False),
    # 'queued' | 'served' | 'closed' (a new room is routed in the same transaction that opens it)
    Column("status", String(20), nullable=False),
    Column("department_id", String(ID), nullable=True),
    Column("served_by_id", String(ID), nullable=True),
    Column("served_by_username", String(120), nullable=True),
    Column("served_by_ts", UtcDateTime, nullable=True),
    Column("fname", String(200), nullable=True),  # the room's label: the visitor's name
    Column("topic", Text, nullable=True),
    Column("tags", JSON, nullable=False),
    Column("custom_fields", JSON, nullable=False),
    Column("crm_data", Text, nullable=True),  # body of the CRM's last 200 answer, verbatim
    Column("source", String(20), nullable=False, default="api"),
    Column("message_count", Integer, nullable=False, default=0),
    Column("created_at", UtcDateTime, nullable=False),
    Column("last_message_at", UtcDateTime, nullable=True),
    Column("closed_at", UtcDateTime, nullable=True),
    Column("closed_by_id", String(ID), nullable=True),
    Column("closed_by_username", String(120), nullable=True),
    Column("closer", String(10), nullable=True),  # 'user' | 'visitor'
    Column("closing_comment", Text, nullable=True),
    Column("survey_feedback", JSON, nullable=True),  # livechat/room.survey answers
    Column("updated_at", UtcDateTime, nullable=False),
    Index("ix_rooms_visitor_status", "visitor_token", "status"),
    Index("ix_rooms_status", "status"),
    Index("ix_rooms_served_by", "served_by_id", "status"),
)

inquiries = Table(
    "inquiries",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("room_id", String(ID), ForeignKey("rooms.id", ondelete="CASCADE"), nullable=False, unique=True),
    Column("status", String(20), nullable=False),  # 'queued' | 'taken' | 'closed'
    Column("department_id", String(ID), nullable=True),
    Column("visitor_name", String(200), nullable=True),
    Column("visitor_token", String(200), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("taken_at", UtcDateTime, nullable=True),
    Index("ix_inquiries_status", "status", "department_id"),
)

messages = Table(
    "messages",
    metadata,
    Column("seq", BigSerial, primary_key=True, autoincrement=True),  # total order within a room
    Column("id", String(ID), nullable=False, unique=True),
    Column("room_id", String(ID), ForeignKey("rooms.id", ondelete="CASCADE"), nullable=False),
    Column("msg", Text, nullable=False),
    Column("ts", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("u_id", String(ID), nullable=False),
    Column("u_username", String(120), nullable=False),
    Column("u_name", String(200), nullable=True),
    Column("token", String(200), nullable=True),  # set on visitor messages
    Column("agent_id", String(ID), nullable=True),  # set on agent messages
    # Rocket.Chat system message type: None for text, 'livechat-close', 'livechat-started', ...
    Column("t", String(60), nullable=True),
    Column("closing_message", Boolean, nullable=False, default=False),
    Column("hidden", Boolean, nullable=False, default=False),
    # page.visited: {"page": {"title", "location": {"href"}, "token"}} on livechat_navigation_history
    Column("navigation", JSON, nullable=True),
    Column("edited_at", UtcDateTime, nullable=True),  # the last edit (editedAt)
    # livechat_transfer_history: who moved the chat, from which agent/department, to whom
    Column("transfer_data", JSON, nullable=True),
    Index("ix_messages_room_seq", "room_id", "seq"),
)

# Named sequences that must grow by one on both dialects (visitor usernames guest-N).
counters = Table(
    "counters",
    metadata,
    Column("name", String(60), primary_key=True),
    Column("value", BigInteger, nullable=False),
)

offline_messages = Table(
    "offline_messages",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("email", String(254), nullable=False),
    Column("message", Text, nullable=False),
    Column("department_id", String(ID), nullable=True),
    Column("host", String(255), nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
)

domain_events = Table(
    "domain_events",
    metadata,
    Column("seq", BigSerial, primary_key=True, autoincrement=True),
    Column("kind", String(60), nullable=False),
    Column("room_id", String(ID), nullable=True, index=True),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("data", JSON, nullable=False),
)

# --- webhooks -------------------------------------------------------------------------------

webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("url", Text, nullable=False),
    Column("format", String(20), nullable=False),  # 'rocketchat' | 'standard'
    Column("secret", Text, nullable=True),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("event_types", JSON, nullable=False),  # Rocket.Chat types this endpoint receives
    Column("timeout_ms", Integer, nullable=False),
    Column("max_retries", Integer, nullable=False),
    Column("retry_delay_ms", Integer, nullable=False),
    # Standard format: seconds before each retry (NULL: the default schedule).
    Column("retry_schedule", JSON, nullable=True),
    Column("max_in_flight", Integer, nullable=False, default=16),
    Column("ordered", Boolean, nullable=False, default=True),
    Column("disabled_reason", Text, nullable=True),
    # The first failed attempt after the last success (NULL: not failing); auto-disable reads it.
    Column("failing_since", UtcDateTime, nullable=True),
    # After a rotation the replaced secret still signs (a second signature) until it expires.
    Column("previous_secret", Text, nullable=True),
    Column("previous_secret_expires_at", UtcDateTime, nullable=True),
    Column("deleted_at", UtcDateTime, nullable=True),  # deleted endpoints keep their delivery log
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

webhook_events = Table(
    "webhook_events",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("type", String(60), nullable=False),  # Rocket.Chat type, e.g. 'LivechatSession'
    Column("room_id", String(ID), nullable=True, index=True),
    Column("payload", Text, nullable=False),  # rendered JSON, once, at event time
    Column("created_at", UtcDateTime, nullable=False),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("seq", BigSerial, primary_key=True, autoincrement=True),
    Column("id", String(40), nullable=False, unique=True),  # sent as webhook-id on every attempt
    Column("event_id", String(ID), ForeignKey("webhook_events.id"), nullable=False, index=True),
    Column("endpoint_id", String(ID), ForeignKey("webhook_endpoints.id"), nullable=False),
    Column("event_type", String(60), nullable=False),
    Column("room_id", String(ID), nullable=True),
    Column("ordering_key", String(ID), nullable=True),  # the room, when the endpoint is ordered
    Column("status", String(20), nullable=False),  # 'pending' | 'delivered' | 'dead'
    Column("attempts", Integer, nullable=False, default=0),
    # `attempts` when the retry budget last started (0, or where a manual redelivery restarted it)
    Column("budget_start", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", UtcDateTime, nullable=False),
    Column("lease_until", UtcDateTime, nullable=True),
    Column("lease_owner", String(64), nullable=True),
    Column("last_status_code", Integer, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("delivered_at", UtcDateTime, nullable=True),
    Index("ix_deliveries_due", "status", "next_attempt_at"),
    Index("ix_deliveries_order", "endpoint_id", "ordering_key", "seq"),
    Index("ix_deliveries_room", "room_id"),
    # The dispatcher's claim: the head of each (endpoint, ordering key) queue among pending rows only.
    Index(
        "ix_deliveries_queue",
        "endpoint_id",
        "ordering_key",
        "seq",
        sqlite_where=text("status = 'pending'"),
        postgresql_where=text("status = 'pending'"),
    ),
    # The claim walks each endpoint's pending rows in due order.
    Index(
        "ix_deliveries_pending_due",
        "endpoint_id",
        "next_attempt_at",
        sqlite_where=text("status = 'pending'"),
        postgresql_where=text("status = 'pending'"),
    ),
)

delivery_attempts = Table(
    "delivery_attempts",
    metadata,
    Column("id", BigSerial, primary_key=True, autoincrement=True),
    Column("delivery_id", String(40), ForeignKey("deliveries.id", ondelete="CASCADE"), nullable=False),
    Column("attempt_no", Integer, nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("duration_ms", Integer, nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("error", Text, nullable=True),
    Column("request_headers", JSON, nullable=False),  # never holds the secret
    Column("response_headers", JSON, nullable=True),
    Column("response_body", Text, nullable=True),  # capped
    Index("ix_delivery_attempts_delivery", "delivery_id", "attempt_no"),
    Index("ix_delivery_attempts_started_at", "started_at"),
)

# The live connections (realtime sockets, agent streams) of every server process: an agent whose last
# one has been gone for a grace period stops taking chats; a visitor whose last one closed is offline.
live_connections = Table(
    "live_connections",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("server_id", String(ID), nullable=False),  # the process holding it, which refreshes seen_at
    Column("user_id", String(ID), ForeignKey("users.id", ondelete="CASCADE"), nullable=True),
    Column("visitor_token", String(200), nullable=True),
    Column("seen_at", UtcDateTime, nullable=False),
    Column("closed_at", UtcDateTime, nullable=True),  # an agent's: kept until its grace period is over
    Index("ix_live_connections_user", "user_id"),
    Index("ix_live_connections_visitor", "visitor_token"),
    Index("ix_live_connections_server", "server_id"),
)

# Bulk replay: a job sends again every delivery that matched its filter when it was created (or, a
# backfill, creates deliveries of past events for an endpoint created after them), throttled per
# endpoint; leased like deliveries, so one process at a time runs it and another resumes it.
replay_jobs = Table(
    "replay_jobs",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("kind", String(20), nullable=False),  # 'replay' | 'backfill'
    Column("status", String(20), nullable=False),  # 'running' | 'finished' | 'cancelled'
    Column("filter", JSON, nullable=False),  # the delivery filter, in the API's names
    Column("backfill_endpoint_id", String(ID), nullable=True),  # a backfill's endpoint
    Column("rate_per_second", Integer, nullable=False),  # per endpoint
    Column("total", Integer, nullable=False),
    Column("replayed", Integer, nullable=False, default=0),
    Column("skipped", Integer, nullable=False, default=0),  # no longer replayable when reached
    Column("endpoints", JSON, nullable=False),  # endpoint id -> how many of the job are for it
    Column("cursors", JSON, nullable=False),  # endpoint id -> seq of the last item released
    Column("created_by_id", String(ID), nullable=True),
    Column("created_by", String(120), nullable=False),  # a username, or "cli:<system user>"
    Column("cancelled_by", String(120), nullable=True),
    Column("lease_owner", String(64), nullable=True),
    Column("lease_until", UtcDateTime, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime, nullable=True),  # finished or cancelled
    Index("ix_replay_jobs_status", "status", "created_at"),
)

# What a job sends, fixed when it is created: one row per matching delivery (a backfill: per event).
replay_job_items = Table(
    "replay_job_items",
    metadata,
    Column("job_id", String(ID), ForeignKey("replay_jobs.id", ondelete="CASCADE"), primary_key=True),
    Column("seq", BigInteger, primary_key=True),  # the matched delivery's seq: the order of release
    Column("endpoint_id", String(ID), nullable=False),
    Column("event_id", String(ID), nullable=False),
    Column("delivery_id", String(40), nullable=True),  # a backfill's: set when it is created
    # 'waiting' | 'sent' (released, not yet tried: counts against the rate) | 'done' | 'skipped'
    Column("state", String(10), nullable=False),
    Index("ix_replay_job_items_release", "job_id", "endpoint_id", "seq"),
    Index("ix_replay_job_items_state", "job_id", "state"),
)
