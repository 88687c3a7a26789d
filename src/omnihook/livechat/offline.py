"""Offline messages: what a visitor leaves when no agent is online."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert

from omnihook.domain.clock import utcnow
from omnihook.domain.errors import InvalidInput
from omnihook.domain.events import OfflineMessageReceived
from omnihook.domain.ids import new_id
from omnihook.domain.rooms import MAX_MESSAGE_LENGTH
from omnihook.livechat.accounts import EMAIL_RE
from omnihook.livechat.departments import department_exists
from omnihook.storage.database import Database
from omnihook.storage.tables import offline_messages


@dataclass(frozen=True, kw_only=True)
class OfflineMessage:
    id: str
    name: str
    email: str
    message: str
    department_id: str | None
    host: str | None
    created_at: datetime


async def leave_offline_message(
    db: Database,
    *,
    name: str,
    email: str,
    message: str,
    department_id: str | None = None,
    host: str | None = None,
) -> OfflineMessage:
    if not name.strip():
        raise InvalidInput("error-invalid-name", "name: required")
    if not EMAIL_RE.match(email):
        raise InvalidInput("error-invalid-email", f"email: {email!r} is not an email address")
    if not message.strip():
        raise InvalidInput("error-invalid-message", "message: required")
    if len(message) > MAX_MESSAGE_LENGTH:
        raise InvalidInput("message-length-exceeds-character-limit", f"message: at most {MAX_MESSAGE_LENGTH}")
    async with db.transaction() as uow:
        if department_id and not await department_exists(uow.conn, department_id):
            raise InvalidInput("error-invalid-department", f"department: no department {department_id!r}")
        stored = OfflineMessage(
            id=new_id(),
            name=name.strip(),
            email=email,
            message=message,
            department_id=department_id or None,
            host=host,
            created_at=utcnow(),
        )
        await uow.conn.execute(
            insert(offline_messages).values(
                id=stored.id,
                name=stored.name,
                email=stored.email,
                message=stored.message,
                department_id=stored.department_id,
                host=stored.host,
                created_at=stored.created_at,
            )
        )
        uow.record(
            OfflineMessageReceived(
                offline_message_id=stored.id,
                name=stored.name,
                email=stored.email,
                message=stored.message,
                department_id=stored.department_id,
                occurred_at=stored.created_at,
            )
        )
        return stored
