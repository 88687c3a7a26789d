"""chat.update and chat.delete for staff, in Rocket.Chat's shapes (apps/meteor/app/api/server/v1/chat.ts)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from omnihook.api import shapes
from omnihook.api.openapi import answers
from omnihook.api.presenters import message_json
from omnihook.http.deps import DB, Agent
from omnihook.livechat import messages

router = APIRouter(prefix="/api/v1", tags=["livechat agent"])


class UpdateBody(BaseModel):
    roomId: str = Field(min_length=1, max_length=32)
    msgId: str = Field(min_length=1, max_length=32)
    text: str


@router.post("/chat.update", responses=answers(shapes.MessageAnswer, 403, 404))
async def chat_update(body: UpdateBody, user: Agent, db: DB) -> dict[str, Any]:
    """An agent corrects its message in an open chat (admins: any text message, edit-message); the
    message goes out again, with editedAt, to the webhooks and the live streams."""
    message = await messages.edit_agent_message(
        db, user, rid=body.roomId, message_id=body.msgId, msg=body.text
    )
    return {"message": message_json(message, staff=True), "success": True}


class DeleteBody(BaseModel):
    roomId: str = Field(min_length=1, max_length=32)
    msgId: str = Field(min_length=1, max_length=32)
    asUser: bool | None = None


@router.post("/chat.delete", responses=answers(shapes.ChatDeleted, 403, 404))
async def chat_delete(body: DeleteBody, user: Agent, db: DB) -> dict[str, Any]:
    """An agent withdraws its message (admins: any, delete-message): no reader sees it any more, and the
    live streams are told (stream-notify-room's deleteMessage)."""
    message, when = await messages.delete_agent_message(db, user, rid=body.roomId, message_id=body.msgId)
    return {
        "_id": message.id,
        # Rocket.Chat answers Date.now().toString(): milliseconds since the epoch, as text.
        "ts": str(int(when.timestamp() * 1000)),
        "message": {
            "_id": message.id,
            "rid": message.room_id,
            "u": {"_id": message.u_id, "username": message.u_username, "name": message.u_name},
        },
        "success": True,
    }
