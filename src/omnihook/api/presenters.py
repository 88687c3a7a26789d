"""JSON shapes of the Rocket.Chat REST API for our entities.

A visitor's token is their password: whoever holds it reads the chat and writes as the visitor. The
visitor's own API answers with it; JSON for staff (`staff=True`) never carries it. Webhook payloads
are rendered elsewhere (`webhooks/payloads.py`) and keep it, as Rocket.Chat sends it to the CRM.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from omnihook.domain.clock import iso
from omnihook.domain.rooms import Department, DepartmentAgent, Inquiry, Message, Room, Visitor
from omnihook.domain.users import User


def user_json(user: User, *, emails: bool = True, status: str | None = None) -> dict[str, Any]:
    """A user as Rocket.Chat's REST API shows one. `emails=False` for someone who may not see another's
    addresses (view-full-other-user-info); `status` as users.info works it out (else the one chosen)."""
    body: dict[str, Any] = {
        "_id": user.id,
        "username": user.username,
        "name": user.name,
        "emails": [{"address": user.email, "verified": False}] if user.email else [],
        "roles": list(user.roles),
        "active": user.active,
        "status": status or user.status or "offline",
        "statusLivechat": user.livechat_status,
        "type": "user",
    }
    if not emails:
        del body["emails"]
    if user.status_text:
        body["statusText"] = user.status_text
    return body


# --- livechat -----------------------------------------------------------------------------------


def _maybe_iso(ts: datetime | None) -> str | None:
    return iso(ts) if ts is not None else None


def visitor_json(v: Visitor, *, staff: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {
        "_id": v.id,
        "token": v.token,
        "username": v.username,
        "name": v.name,
        "ts": iso(v.created_at),
        "_updatedAt": iso(v.updated_at),
        "department": v.department_id,
        "visitorEmails": v.emails,
        "phone": v.phones or None,
        "livechatData": v.custom_fields,
        "ip": v.ip,
        "host": v.host,
        "userAgent": v.user_agent,
        # Kept by the realtime API (online from livechat:setUpConnection until the socket closes).
        "status": v.status or "online",
    }
    if staff:
        del body["token"]
    return body


def _visitor_ref(visitor_id: str, username: str, token: str, *, staff: bool) -> dict[str, Any]:
    ref = {"_id": visitor_id, "username": username, "token": token, "status": "online"}
    if staff:
        del ref["token"]
    return ref


def room_json(r: Room, *, staff: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {
        "_id": r.id,
        "t": "l",
        "fname": r.fname,
        "ts": iso(r.created_at),
        "lm": _maybe_iso(r.last_message_at),
        "msgs": r.message_count,
        "open": r.is_open,
        "status": r.status.value,
        "v": _visitor_ref(r.visitor_id, r.visitor_username, r.visitor_token, staff=staff),
        "departmentId": r.department_id,
        "tags": r.tags,
        "livechatData": r.custom_fields,
        "topic": r.topic,
        "source": {"type": r.source},
        "_updatedAt": iso(r.updated_at),
    }
    if r.served_by is not None:
        body["servedBy"] = {
            "_id": r.served_by.id,
            "username": r.served_by.username,
            "ts": iso(r.served_by.ts),
        }
    if r.crm_data is not None:
        body["crmData"] = r.crm_data
    if r.survey_feedback:
        body["surveyFeedback"] = r.survey_feedback
    if r.closed_at is not None:
        body["closedAt"] = iso(r.closed_at)
        body["closedBy"] = {"_id": r.closed_by_id, "username": r.closed_by_username}
        body["closer"] = r.closer
        body["closingComment"] = r.closing_comment
    return body


def _staff_navigation(navigation: dict[str, Any]) -> dict[str, Any]:
    """A page visit as staff see it: the page without the visitor's token Rocket.Chat records in it."""
    cleaned = {k: v for k, v in navigation.items() if k != "token"}
    page = navigation.get("page")
    if isinstance(page, dict):
        cleaned["page"] = {k: v for k, v in page.items() if k != "token"}
    return cleaned


def message_json(m: Message, *, staff: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {
        "_id": m.id,
        "rid": m.room_id,
        "msg": m.msg,
        "ts": iso(m.ts),
        "u": {"_id": m.u_id, "username": m.u_username, "name": m.u_name},
        "_updatedAt": iso(m.updated_at),
    }
    if m.token is not None and not staff:
        body["token"] = m.token
    if m.agent_id is not None:
        body["agentId"] = m.agent_id
    if m.t is not None:
        body["t"] = m.t
    if m.closing_message:
        body["closingMessage"] = True
    if m.navigation is not None:
        body["navigation"] = _staff_navigation(m.navigation) if staff else m.navigation
    if m.transfer_data is not None:
        body["transferData"] = m.transfer_data
    if m.edited_at is not None:
        body["editedAt"] = iso(m.edited_at)
        body["editedBy"] = {"_id": m.u_id, "username": m.u_username}
    return body


def inquiry_json(i: Inquiry, *, staff: bool = False) -> dict[str, Any]:
    return {
        "_id": i.id,
        "rid": i.room_id,
        "t": "l",
        "name": i.visitor_name,
        "message": i.last_message,
        "status": i.status.value,
        "department": i.department_id,
        "ts": iso(i.created_at),
        "queuedAt": iso(i.created_at),
        "takenAt": _maybe_iso(i.taken_at),
        "v": _visitor_ref(i.visitor_id, i.visitor_username, i.visitor_token, staff=staff),
        "_updatedAt": iso(i.taken_at or i.created_at),
    }


def department_json(d: Department) -> dict[str, Any]:
    return {
        "_id": d.id,
        "name": d.name,
        "description": d.description,
        "email": d.email,
        "enabled": d.enabled,
        "showOnRegistration": d.show_on_registration,
        "showOnOfflineForm": d.show_on_offline_form,
        "numAgents": len(d.agents),
        "type": "d",
        "_updatedAt": iso(d.updated_at),
    }


def department_agent_json(a: DepartmentAgent, department: Department) -> dict[str, Any]:
    return {
        "_id": f"{department.id}:{a.agent_id}",
        "agentId": a.agent_id,
        "departmentId": department.id,
        "departmentEnabled": department.enabled,
        "username": a.username,
        "name": a.name,
        "statusLivechat": a.livechat_status,
        "count": 0,
        "order": 0,
    }
