"""livechat/appearance: the widget's look and texts, in Rocket.Chat's shapes, for managers."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body
from pydantic import Field
from typing_extensions import TypedDict

from omnihook.api import shapes
from omnihook.api.openapi import answers, raw_body
from omnihook.domain.errors import InvalidInput
from omnihook.http.deps import DB, Manager
from omnihook.livechat import settings as workspace_settings
from omnihook.livechat.settings import APPEARANCE_SETTINGS, SETTINGS, AppearanceChange

router = APIRouter(prefix="/api/v1/livechat", tags=["livechat appearance"])


class AppearanceItem(TypedDict):
    """One change, for the OpenAPI document (the route reads the raw list)."""

    _id: Annotated[str, Field(description="an appearance setting, e.g. Livechat_title")]
    value: Annotated[Any, Field(description="coerced to the setting's type")]


AppearanceChanges = Annotated[list[AppearanceItem], Field(min_length=1)]


def _setting_json(setting_id: str, value: Any) -> dict[str, Any]:
    """One setting as Rocket.Chat's Settings collection holds it (the keys a client reads)."""
    spec = SETTINGS[setting_id]
    body: dict[str, Any] = {
        "_id": setting_id,
        "value": value,
        "type": spec.kind,
        "packageValue": spec.default,
        "public": True,
        "group": "Omnichannel",
        "section": "Livechat",
    }
    if spec.choices:
        body["values"] = [{"key": c, "i18nLabel": c} for c in spec.choices]
    return body


@router.get("/appearance", responses=answers(shapes.AppearanceAnswer))
async def get_appearance(_: Manager, db: DB) -> dict[str, Any]:
    values = await workspace_settings.get_settings(db, APPEARANCE_SETTINGS)
    return {"appearance": [_setting_json(i, values[i]) for i in APPEARANCE_SETTINGS], "success": True}


@router.post(
    "/appearance",
    responses=answers(shapes.Done),
    openapi_extra=raw_body("AppearanceChanges", AppearanceChanges),
)
async def save_appearance(_: Manager, db: DB, body: Annotated[Any, Body()] = None) -> dict[str, Any]:
    """A list of `{_id, value}`; every `_id` must be an appearance setting (else nothing is saved).
    Values are coerced to the setting's type as Rocket.Chat does; unchanged ones are left alone."""
    if not isinstance(body, list) or not body:
        raise InvalidInput("invalid-params", "body: a non-empty list of {_id, value}")
    changes = []
    for i, item in enumerate(body):
        if not isinstance(item, dict) or not isinstance(item.get("_id"), str) or "value" not in item:
            raise InvalidInput("invalid-params", f"[{i}]: an object with _id and value")
        changes.append(AppearanceChange(item["_id"], item["value"]))
    await workspace_settings.save_appearance(db, changes)
    return {"success": True}
