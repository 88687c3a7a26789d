"""The visitor side of the livechat (the widget's API). No login: the visitor's token authorizes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from pydantic import BaseModel, Field

from omnihook.api import shapes
from omnihook.api.openapi import OPTIONAL_LOGIN, answers
from omnihook.api.presenters import message_json, room_json, user_json, visitor_json
from omnihook.domain.clock import iso, utcnow
from omnihook.domain.errors import InvalidInput
from omnihook.domain.users import User
from omnihook.http.deps import DB, current_user
from omnihook.livechat import messages, offline, rooms, routing, visitors, widget
from omnihook.livechat.visitors import VisitorInput

router = APIRouter(prefix="/api/v1/livechat", tags=["livechat visitor"])

Token = Annotated[str, Field(min_length=1, max_length=200)]


async def optional_user(
    request: Request,
    x_user_id: Annotated[str | None, Header()] = None,
    x_auth_token: Annotated[str | None, Header()] = None,
) -> User | None:
    """Agent auth when the caller sends it; None for a visitor."""
    if not x_user_id and not x_auth_token:
        return None
    return await current_user(request, x_user_id, x_auth_token)


MaybeUser = Annotated[User | None, Depends(optional_user)]


@router.get("/config", responses=answers(shapes.ConfigAnswer))
async def config(db: DB, token: str | None = None, department: str | None = None) -> dict[str, Any]:
    """What the widget reads, in Rocket.Chat's shape (lib/livechat.ts `settings`), from the Livechat_*
    settings, and `online` (is an agent available, in the department when given)."""
    cfg = await widget.widget_config(db, token=token, department_id=department)
    s = cfg.settings
    if not s["Livechat_enabled"]:
        return {"config": {"enabled": False}, "success": True}
    body: dict[str, Any] = {
        "enabled": True,
        "settings": {
            "registrationForm": s["Livechat_registration_form"],
            "allowSwitchingDepartments": s["Livechat_allow_switching_departments"],
            "nameFieldRegistrationForm": s["Livechat_name_field_registration_form"],
            "emailFieldRegistrationForm": s["Livechat_email_field_registration_form"],
            "displayOfflineForm": s["Livechat_display_offline_form"],
            "videoCall": False,
            "fileUpload": False,  # uploads are refused (livechat/upload)
            "language": "en",
            "transcript": False,  # no email is sent (livechat/transcript)
            "historyMonitorType": s["Livechat_history_monitor_type"],
            "forceAcceptDataProcessingConsent": False,
            "showConnecting": False,
            "agentHiddenInfo": s["Livechat_show_agent_info"] is False,
            "clearLocalStorageWhenChatEnded": s["Livechat_clear_local_storage_when_chat_ended"],
            "limitTextLength": cfg.limit_text_length,
            "hiddenSystemMessages": s["Livechat_hide_system_messages"],
            "hideWatermark": s["Livechat_hide_watermark"],
            "hideExpandChat": s["Livechat_hide_expand_chat"],
            "visitorsCanCloseChat": s["Omnichannel_allow_visitors_to_close_conversation"],
        },
        "theme": {
            "title": s["Livechat_title"],
            "color": s["Livechat_title_color"],
            "offlineTitle": s["Livechat_offline_title"],
            "offlineColor": s["Livechat_offline_title_color"],
            "position": s["Livechat_widget_position"] or "right",
            "background": s["Livechat_background"],
            "actionLinks": [],
        },
        "messages": {
            "offlineMessage": s["Livechat_offline_message"],
            "offlineSuccessMessage": s["Livechat_offline_success_message"],
            "offlineUnavailableMessage": s["Livechat_offline_form_unavailable"],
            "conversationFinishedMessage": s["Livechat_conversation_finished_message"],
            "conversationFinishedText": s["Livechat_conversation_finished_text"],
            "transcriptMessage": "",
            "registrationFormMessage": s["Livechat_registration_form_message"],
            "dataProcessingConsentText": "",
        },
        "survey": {
            "items": ["satisfaction", "agentKnowledge", "agentResposiveness", "agentFriendliness"],
            "values": ["1", "2", "3", "4", "5"],
        },
        "triggers": [],
        "departments": [
            {
                "_id": d.id,
                "name": d.name,
                "showOnRegistration": d.show_on_registration,
                "showOnOfflineForm": d.show_on_offline_form,
            }
            for d in cfg.departments
        ],
        # Rocket.Chat names a notification sound here; omnihook has none, and the widget then plays none.
        "resources": {"emojis": []},
        "online": cfg.online,
    }
    if cfg.guest is not None:
        body["guest"] = visitor_json(cfg.guest)
    if cfg.room is not None:
        body["room"] = room_json(cfg.room)
    if cfg.agent is not None:
        body["agent"] = public_agent(cfg.agent, cfg.agent_display)
    return {"config": body, "success": True}


def public_agent(agent: User, display: widget.AgentDisplay) -> dict[str, Any]:
    """What a visitor may see of an agent (Rocket.Chat's normalizeAgent): `{hiddenInfo: true}` when
    Livechat_show_agent_info is off; no roles or status; emails only with Livechat_show_agent_email."""
    if not display.show_info:
        return {"hiddenInfo": True}
    data = user_json(agent)
    shown = {"_id": data["_id"], "username": data["username"], "name": data["name"]}
    if display.show_email:
        shown["emails"] = data["emails"]
    return shown


class CustomFieldIn(BaseModel):
    key: str = Field(min_length=1, max_length=100)
    value: str = Field(max_length=5000)
    overwrite: bool = True


class VisitorFields(BaseModel):
    token: Token
    name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=50)
    department: str | None = Field(default=None, max_length=32)
    username: str | None = Field(default=None, max_length=120)
    customFields: list[CustomFieldIn] | None = None


class VisitorBody(BaseModel):
    visitor: VisitorFields


@router.post("/visitor", responses=answers(shapes.VisitorAnswer))
async def register_visitor(body: VisitorBody, request: Request, db: DB) -> dict[str, Any]:
    """Create or update the visitor of `visitor.token` (the client makes up the token)."""
    v = body.visitor
    visitor = await visitors.register_visitor(
        db,
        VisitorInput(
            token=v.token,
            name=v.name,
            email=v.email or None,
            phone=v.phone or None,
            department=v.department or None,
            username=v.username or None,
            custom_fields=[(f.key, f.value, f.overwrite) for f in v.customFields or []],
            ip=request.client.host if request.client else None,
            user_agent=request.headers.get("user-agent"),
            host=request.headers.get("host"),
        ),
    )
    return {"visitor": visitor_json(visitor), "success": True}


@router.get("/visitor/{token}", responses=answers(shapes.VisitorAnswer, 404))
async def get_visitor(token: str, db: DB) -> dict[str, Any]:
    return {"visitor": visitor_json(await visitors.get_visitor(db, token)), "success": True}


@router.get("/room", responses=answers(shapes.VisitorRoom, 404))
async def room(
    db: DB,
    token: Annotated[str, Query(min_length=1)],
    rid: str | None = None,
    department: str | None = None,
) -> dict[str, Any]:
    """The visitor's open room; without `rid` a new one is created (and routed) when there is none."""
    found, created = await rooms.get_or_create_room(db, token=token, rid=rid, department_id=department)
    return {"room": room_json(found), "newRoom": created, "success": True}


class MessageBody(BaseModel):
    token: Token
    rid: str = Field(min_length=1, max_length=32)
    msg: str
    id: str | None = Field(default=None, alias="_id", min_length=1, max_length=32)


@router.post("/message", responses=answers(shapes.MessageAnswer, 404))
async def send_message(body: MessageBody, db: DB) -> dict[str, Any]:
    message = await messages.send_visitor_message(
        db, token=body.token, rid=body.rid, msg=body.msg, message_id=body.id
    )
    return {"message": message_json(message), "success": True}


@router.get("/message/{message_id}", responses=answers(shapes.MessageAnswer, 404))
async def get_message(
    message_id: str,
    db: DB,
    token: Annotated[str, Query(min_length=1)],
    rid: Annotated[str, Query(min_length=1)],
) -> dict[str, Any]:
    message = await messages.visitor_message(db, token=token, rid=rid, message_id=message_id)
    return {"message": message_json(message), "success": True}


@router.get(
    "/messages.history/{rid}",
    responses=answers(shapes.MessagesAnswer, 401, 403, 404),
    openapi_extra=OPTIONAL_LOGIN,
)
async def messages_history(
    rid: str,
    db: DB,
    user: MaybeUser,
    token: str | None = None,
    ls: datetime | None = None,
    end: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 20,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> dict[str, Any]:
    """Newest first. The visitor passes `token`; an agent of the room (or a manager) its auth headers."""
    if user is None and not token:
        raise InvalidInput("invalid-token", "token: required (or agent auth headers)")
    found = await messages.history(
        db, rid=rid, token=token, user=user, before=ls, after=end, limit=limit, offset=offset
    )
    return {"messages": [message_json(m, staff=user is not None) for m in found], "success": True}


class RoomCloseBody(BaseModel):
    token: Token
    rid: str = Field(min_length=1, max_length=32)


@router.post("/room.close", responses=answers(shapes.VisitorRoomClosed, 404))
async def visitor_close(body: RoomCloseBody, db: DB) -> dict[str, Any]:
    closed = await rooms.close_by_visitor(db, token=body.token, rid=body.rid)
    return {"rid": closed.id, "comment": closed.closing_comment, "success": True}


class TransferBody(BaseModel):
    token: Token
    rid: str = Field(min_length=1, max_length=32)
    department: str = Field(min_length=1, max_length=32)


@router.post("/room.transfer", responses=answers(shapes.RoomAnswer, 404))
async def visitor_transfer(body: TransferBody, db: DB) -> dict[str, Any]:
    """Move the chat to another department (deprecated in Rocket.Chat 7 for the next one, kept)."""
    moved = await routing.transfer_by_visitor(db, body.token, body.rid, body.department)
    return {"room": room_json(moved), "success": True}


@router.post("/visitor/department.transfer", responses=answers(shapes.Done, 404))
async def visitor_department_transfer(body: TransferBody, db: DB) -> dict[str, Any]:
    await routing.transfer_by_visitor(db, body.token, body.rid, body.department)
    return {"success": True}


class OfflineBody(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    email: str = Field(min_length=3, max_length=254)
    message: str = Field(min_length=1)
    department: str | None = Field(default=None, max_length=32)
    host: str | None = Field(default=None, max_length=255)


@router.post("/offline.message", responses=answers(shapes.OfflineMessageSent))
async def offline_message(body: OfflineBody, db: DB) -> dict[str, Any]:
    await offline.leave_offline_message(
        db,
        name=body.name,
        email=body.email,
        message=body.message,
        department_id=body.department or None,
        host=body.host,
    )
    return {"message": "Livechat offline message sent", "success": True}


class CustomFieldBody(CustomFieldIn):
    token: Token


@router.post("/custom.field", responses=answers(shapes.CustomFieldAnswer, 404))
async def custom_field(body: CustomFieldBody, db: DB) -> dict[str, Any]:
    await visitors.set_custom_fields(db, token=body.token, fields=[(body.key, body.value, body.overwrite)])
    return {"field": {"key": body.key, "value": body.value, "overwrite": body.overwrite}, "success": True}


class CustomFieldsBody(BaseModel):
    token: Token
    customFields: list[CustomFieldIn] = Field(min_length=1, max_length=100)


@router.post("/custom.fields", responses=answers(shapes.CustomFieldsAnswer, 404))
async def custom_fields(body: CustomFieldsBody, db: DB) -> dict[str, Any]:
    fields = [(f.key, f.value, f.overwrite) for f in body.customFields]
    await visitors.set_custom_fields(db, token=body.token, fields=fields)
    # Rocket.Chat really answers with a capital-K `Key`.
    return {"fields": [{"Key": k, "value": v, "overwrite": o} for k, v, o in fields], "success": True}


class PageLocation(BaseModel):
    href: str = Field(min_length=1, max_length=2000)


class PageInfo(BaseModel):
    title: str = Field(default="", max_length=500)
    change: str | None = Field(default=None, max_length=50)
    location: PageLocation


class PageVisitedBody(BaseModel):
    token: Token
    rid: str | None = Field(default=None, max_length=32)
    pageInfo: PageInfo


@router.post("/page.visited", responses=answers(shapes.PageVisited, 404))
async def page_visited(body: PageVisitedBody, db: DB) -> dict[str, Any]:
    message = await visitors.page_visited(
        db,
        token=body.token,
        rid=body.rid,
        title=body.pageInfo.title,
        href=body.pageInfo.location.href,
        change=body.pageInfo.change,
    )
    if message is None:
        return {"success": True}
    return {"page": message_json(message), "success": True}


@router.get("/agent.info/{rid}/{token}", responses=answers(shapes.AgentAnswer, 404))
async def agent_info(rid: str, token: str, db: DB) -> dict[str, Any]:
    """The agent serving the visitor's chat."""
    agent = await rooms.agent_of_room(db, token=token, rid=rid)
    return {"agent": public_agent(agent, await widget.agent_display(db)), "success": True}


@router.delete("/visitor/{token}", responses=answers(shapes.VisitorForgotten, 404))
async def delete_visitor(token: str, db: DB) -> dict[str, Any]:
    """Forget the visitor: personal data erased, token dead, closed chats kept anonymous."""
    visitor = await visitors.forget_visitor(db, token)
    return {"visitor": {"_id": visitor.id, "ts": iso(utcnow())}, "success": True}


@router.get("/visitor/{token}/room", responses=answers(shapes.RoomsAnswer))
async def visitor_open_rooms(token: str, db: DB) -> dict[str, Any]:
    return {"rooms": [room_json(r) for r in await rooms.open_rooms_of_token(db, token)], "success": True}


VISITOR_STATUSES = ("online", "away", "busy", "offline")


class VisitorStatusBody(BaseModel):
    token: Token
    status: str


@router.post("/visitor.status", responses=answers(shapes.VisitorStatus, 404))
async def visitor_status(body: VisitorStatusBody, db: DB) -> dict[str, Any]:
    """Accepted and echoed (presence is not kept: nothing routes on it)."""
    if body.status not in VISITOR_STATUSES:
        raise InvalidInput("error-invalid-status", f"status: one of {list(VISITOR_STATUSES)}")
    await visitors.check_visitor(db, body.token)
    return {"token": body.token, "status": body.status, "success": True}


@router.get("/agent.next/{token}", responses=answers(shapes.MaybeAgent, 404))
async def agent_next(token: str, db: DB, department: str | None = None) -> dict[str, Any]:
    """The agent of the visitor's chat, or the one who would get a new chat now (nothing when none)."""
    agent = await routing.next_agent(db, token, department)
    if agent is None:
        return {"success": True}
    return {"agent": public_agent(agent, await widget.agent_display(db)), "success": True}


class MessageEditBody(BaseModel):
    token: Token
    rid: str = Field(min_length=1, max_length=32)
    msg: str


@router.put("/message/{message_id}", responses=answers(shapes.MessageAnswer, 404))
async def edit_message(message_id: str, body: MessageEditBody, db: DB) -> dict[str, Any]:
    message = await messages.edit_visitor_message(
        db, token=body.token, rid=body.rid, message_id=message_id, msg=body.msg
    )
    return {"message": message_json(message), "success": True}


class MessageDeleteBody(BaseModel):
    token: Token
    rid: str = Field(min_length=1, max_length=32)


@router.delete("/message/{message_id}", responses=answers(shapes.VisitorMessageDeleted, 404))
async def delete_message(message_id: str, body: MessageDeleteBody, db: DB) -> dict[str, Any]:
    message = await messages.delete_visitor_message(db, token=body.token, rid=body.rid, message_id=message_id)
    return {"message": {"_id": message.id, "ts": iso(message.ts)}, "success": True}


class SurveyAnswer(BaseModel):
    name: str = Field(min_length=1, max_length=50)
    value: str = Field(max_length=5000)


class SurveyBody(BaseModel):
    token: Token
    rid: str = Field(min_length=1, max_length=32)
    data: list[SurveyAnswer] = Field(min_length=1, max_length=10)


@router.post("/room.survey", responses=answers(shapes.SurveySaved, 404))
async def room_survey(body: SurveyBody, db: DB) -> dict[str, Any]:
    """The visitor's ratings of the chat, kept on the room (`surveyFeedback`)."""
    saved = await rooms.save_survey(
        db, token=body.token, rid=body.rid, answers=[(a.name, a.value) for a in body.data]
    )
    return {"rid": body.rid, "data": saved, "success": True}


@router.post(
    "/transcript", responses=answers(shapes.Done, description="Never: transcripts by e-mail are refused")
)
async def transcript() -> dict[str, Any]:
    """Refused: omnihook sends no email (the widget's config says `transcript: false`)."""
    raise InvalidInput("error-transcript-not-enabled", "transcripts by email are not enabled on this server")


@router.post("/upload/{rid}", responses=answers(shapes.Done, description="Never: file uploads are refused"))
async def upload(rid: str) -> dict[str, Any]:
    """Refused: file uploads are off (the widget's config says `fileUpload: false`)."""
    raise InvalidInput("error-file-upload-disabled", "file uploads are not enabled on this server")
