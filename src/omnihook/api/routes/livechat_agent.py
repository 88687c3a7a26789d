"""The agent side of the livechat: the queue, taking, answering, forwarding, closing, listing rooms."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field, model_validator

from omnihook.api import shapes
from omnihook.api.openapi import answers
from omnihook.api.presenters import (
    department_agent_json,
    inquiry_json,
    message_json,
    room_json,
    visitor_json,
)
from omnihook.domain.clock import iso
from omnihook.domain.errors import Forbidden
from omnihook.http.deps import DB, Agent, CloseRoom, TransferGuest
from omnihook.livechat import departments, messages, rooms, routing, visitors
from omnihook.livechat.rooms import GuestData, RoomData, RoomFilter

router = APIRouter(prefix="/api/v1", tags=["livechat agent"])

Offset = Annotated[int, Query(ge=0, le=1_000_000_000)]
Count = Annotated[int, Query(ge=1, le=500)]
Id = Annotated[str, Field(min_length=1, max_length=32)]


@router.get("/livechat/inquiries.queued", responses=answers(shapes.InquiriesPage))
@router.get("/livechat/inquiries.queuedForUser", responses=answers(shapes.InquiriesPage))
async def inquiries_queued(
    user: Agent, db: DB, department: str | None = None, offset: Offset = 0, count: Count = 50
) -> dict[str, Any]:
    """The chats waiting in the queue that this agent may take (managers: all), oldest first."""
    found, total = await routing.queued_inquiries(
        db, user, department_id=department, offset=offset, count=count
    )
    return {
        "inquiries": [inquiry_json(i, staff=True) for i in found],
        "count": len(found),
        "offset": offset,
        "total": total,
        "success": True,
    }


class TakeBody(BaseModel):
    inquiryId: Id
    userId: str | None = Field(default=None, max_length=32)


@router.post("/livechat/inquiries.take", responses=answers(shapes.InquiryAnswer, 404))
async def inquiries_take(body: TakeBody, user: Agent, db: DB) -> dict[str, Any]:
    inquiry = await routing.take_inquiry(db, user, body.inquiryId, for_user_id=body.userId)
    return {"inquiry": inquiry_json(inquiry, staff=True), "success": True}


class OutgoingMessage(BaseModel):
    rid: Id
    msg: str
    id: str | None = Field(default=None, alias="_id", min_length=1, max_length=32)


class SendMessageBody(BaseModel):
    message: OutgoingMessage


@router.post("/chat.sendMessage", responses=answers(shapes.MessageAnswer, 404))
async def send_message(body: SendMessageBody, user: Agent, db: DB) -> dict[str, Any]:
    m = body.message
    message = await messages.send_agent_message(db, user, rid=m.rid, msg=m.msg, message_id=m.id)
    return {"message": message_json(message, staff=True), "success": True}


class ForwardBody(BaseModel):
    roomId: Id
    userId: str | None = Field(default=None, max_length=32)
    departmentId: str | None = Field(default=None, max_length=32)
    comment: str | None = Field(default=None, max_length=5000)
    clientAction: bool | None = None

    @model_validator(mode="after")
    def one_target(self) -> ForwardBody:
        if bool(self.userId) == bool(self.departmentId):
            raise ValueError("give exactly one of userId (an agent) or departmentId")
        return self


@router.post("/livechat/room.forward", responses=answers(shapes.Done, 404))
async def room_forward(body: ForwardBody, user: TransferGuest, db: DB) -> dict[str, Any]:
    """Hand the chat to another agent, or to a department (routed again: an agent or the queue)."""
    if body.userId:
        await routing.forward_to_agent(db, user, body.roomId, body.userId, body.comment)
    else:
        assert body.departmentId is not None
        await routing.forward_to_department(db, user, body.roomId, body.departmentId, body.comment)
    return {"success": True}


class CloseByUserBody(BaseModel):
    rid: Id
    comment: str | None = Field(default=None, max_length=5000)
    tags: list[str] | None = None


@router.post("/livechat/room.closeByUser", responses=answers(shapes.Done, 404))
async def room_close_by_user(body: CloseByUserBody, user: CloseRoom, db: DB) -> dict[str, Any]:
    await rooms.close_by_user(db, user, rid=body.rid, comment=body.comment, tags=body.tags)
    return {"success": True}


@router.get("/livechat/rooms", responses=answers(shapes.RoomsPage))
async def list_rooms(
    user: Agent,
    db: DB,
    open: bool | None = None,
    agents: Annotated[list[str] | None, Query(alias="agents[]")] = None,
    agent: str | None = None,
    departmentId: str | None = None,
    roomName: str | None = None,
    offset: Offset = 0,
    count: Count = 50,
) -> dict[str, Any]:
    """Filters: `open=true|false`, `agents[]` (or `agent`), `departmentId`, `roomName` (the visitor's
    name contains it). Managers see every room, agents the rooms they serve. Newest first."""
    agent_ids = [*(agents or []), *([agent] if agent else [])]
    found, total = await rooms.list_rooms(
        db,
        user,
        RoomFilter(
            open=open,
            agent_ids=agent_ids,
            department_id=departmentId,
            room_name=roomName,
            offset=offset,
            count=count,
        ),
    )
    return {
        "rooms": [room_json(r, staff=True) for r in found],
        "count": len(found),
        "offset": offset,
        "total": total,
        "success": True,
    }


@router.get("/rooms.info", responses=answers(shapes.RoomAnswer, 404))
async def rooms_info(user: Agent, db: DB, roomId: Annotated[str, Query(min_length=1)]) -> dict[str, Any]:
    return {"room": room_json(await rooms.room_info(db, user, roomId), staff=True), "success": True}


@router.get("/chat.syncMessages", responses=answers(shapes.SyncAnswer, 404))
async def sync_messages(
    user: Agent, db: DB, roomId: Annotated[str, Query(min_length=1)], lastUpdate: datetime | None = None
) -> dict[str, Any]:
    """Messages changed after `lastUpdate` (all without it) and those withdrawn since, oldest first."""
    changed, withdrawn = await messages.sync(db, user, rid=roomId, since=lastUpdate)
    return {
        "result": {
            "updated": [message_json(m, staff=True) for m in changed],
            "deleted": [{"_id": m.id, "_deletedAt": iso(m.updated_at)} for m in withdrawn],
        },
        "success": True,
    }


class GuestDataIn(BaseModel):
    id: Id = Field(alias="_id")
    name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=50)
    livechatData: dict[str, Any] | None = None


class RoomDataIn(BaseModel):
    id: Id = Field(alias="_id")
    topic: str | None = Field(default=None, max_length=1000)
    tags: list[str] | None = None
    livechatData: dict[str, Any] | None = None


class SaveInfoBody(BaseModel):
    guestData: GuestDataIn
    roomData: RoomDataIn


@router.post("/livechat/room.saveInfo", responses=answers(shapes.Done, 404))
async def room_save_info(body: SaveInfoBody, user: Agent, db: DB) -> dict[str, Any]:
    g, r = body.guestData, body.roomData
    await rooms.save_info(
        db,
        user,
        GuestData(id=g.id, name=g.name, email=g.email, phone=g.phone, custom_fields=g.livechatData),
        RoomData(id=r.id, topic=r.topic, tags=r.tags, custom_fields=r.livechatData),
    )
    return {"success": True}


@router.get("/livechat/inquiries.getOne", responses=answers(shapes.MaybeInquiry, 404))
async def inquiries_get_one(
    user: Agent, db: DB, roomId: Annotated[str, Query(min_length=1)]
) -> dict[str, Any]:
    inquiry = await routing.inquiry_of_room(db, user, roomId)
    return {"inquiry": inquiry_json(inquiry, staff=True) if inquiry else None, "success": True}


@router.get(
    "/livechat/department/{department_id}/agents", responses=answers(shapes.DepartmentAgentsPage, 404)
)
async def department_agents(
    department_id: str, _: Agent, db: DB, offset: Offset = 0, count: Count = 50
) -> dict[str, Any]:
    dep = await departments.get_department(db, department_id)
    page = dep.agents[offset : offset + count]
    return {
        "agents": [department_agent_json(a, dep) for a in page],
        "count": len(page),
        "offset": offset,
        "total": len(dep.agents),
        "success": True,
    }


@router.get("/livechat/agents/{agent_id}/departments", responses=answers(shapes.AgentDepartments))
async def agent_departments(
    agent_id: str, user: Agent, db: DB, enabledDepartmentsOnly: bool = False
) -> dict[str, Any]:
    if agent_id != user.id and not user.is_manager:
        raise Forbidden("error-not-allowed", "agents see their own departments")
    found = await departments.departments_of_agent(db, agent_id, enabled_only=enabledDepartmentsOnly)
    rows = []
    for dep in found:
        mine = next(a for a in dep.agents if a.agent_id == agent_id)
        rows.append({**department_agent_json(mine, dep), "departmentName": dep.name})
    return {"departments": rows, "success": True}


@router.get("/livechat/visitors.info", responses=answers(shapes.VisitorAnswer, 404))
async def visitors_info(
    user: Agent, db: DB, visitorId: Annotated[str, Query(min_length=1)]
) -> dict[str, Any]:
    """The visitor of a chat this agent may see (as for rooms.info); managers: every visitor."""
    visitor = await visitors.visitor_for_staff(db, user, visitorId)
    return {"visitor": visitor_json(visitor, staff=True), "success": True}


@router.get("/livechat/transfer.history/{rid}", responses=answers(shapes.TransferHistoryPage, 404))
async def transfer_history(
    rid: str, user: Agent, db: DB, offset: Offset = 0, count: Count = 50
) -> dict[str, Any]:
    """Each forward or transfer: by whom, from which agent and department, to whom, with the comment."""
    found = await messages.transfer_history(db, user, rid=rid)
    page = found[offset : offset + count]
    return {
        "history": [{**(m.transfer_data or {}), "ts": iso(m.ts)} for m in page],
        "count": len(page),
        "offset": offset,
        "total": len(found),
        "success": True,
    }
