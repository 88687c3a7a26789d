"""The OpenAPI document: each route's answer and body typed, Rocket.Chat's error envelope documented once,
the login headers as security schemes, and the event catalog in the `webhooks` section.

Everything here is documentation: routes declare their answer with `responses=answers(Shape, ...)`,
never `response_model=`, so no answer is validated or filtered on the way out and the bytes stay the
presenters'. A route that reads its body as raw JSON on purpose (to refuse hostile input with its own
messages) keeps doing so and documents the body with `openapi_extra=raw_body(...)`.
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired

import fastapi.routing
from fastapi import FastAPI
from fastapi.routing import APIRoute
from pydantic import TypeAdapter
from typing_extensions import TypedDict

from omnihook.http.deps import PermissionCheck
from omnihook.livechat.permissions import PERMISSIONS
from omnihook.webhooks.catalog import EventType
from omnihook.webhooks.schemas import DESCRIPTIONS, rocketchat_schema, standard_schema

USER_ID_SCHEME = "RocketChatUserId"
AUTH_TOKEN_SCHEME = "RocketChatAuthToken"
# Both headers together: OpenAPI reads one requirement object as "all of these".
LOGIN: dict[str, list[str]] = {USER_ID_SCHEME: [], AUTH_TOKEN_SCHEME: []}
# For the routes that serve a visitor (no login) or staff (their login), and answer each differently.
OPTIONAL_LOGIN: dict[str, Any] = {"security": [{}, LOGIN]}

COMPONENTS = "#/components/schemas/"


class ErrorBody(TypedDict):
    """Rocket.Chat's error envelope."""

    success: Literal[False]
    error: str
    errorType: str
    details: NotRequired[str]
    status: NotRequired[Literal["error"]]
    message: NotRequired[str]


# status -> (component name, description): each refusal documented once, referred to by every route.
ERRORS: dict[int, tuple[str, str]] = {
    400: ("BadRequest", "Refused input or state (`errorType` says which; nothing was changed)."),
    401: ("Unauthorized", "No login, or X-User-Id / X-Auth-Token that do not match a session."),
    403: ("Forbidden", "The user's roles do not hold the permission the route requires."),
    404: ("NotFound", "No such object (or none that this caller may see)."),
    413: ("TooLarge", "The request body is over the server's limit (OMNIHOOK_MAX_BODY_BYTES)."),
    503: ("Unavailable", "The database is unavailable; `Retry-After` says when to ask again."),
}

_BODIES: dict[str, Any] = {}


def answers(shape: Any, *errors: int, description: str = "Success") -> dict[int | str, dict[str, Any]]:
    """`responses=` of a route: its answer's shape, and the refusals beyond those every route may give
    (400 and 503 always; 401 and 403 on routes that need a login, 413 on those with a body: added
    from the route itself when the document is built)."""
    documented: dict[int | str, dict[str, Any]] = {200: {"model": shape, "description": description}}
    for status in sorted({400, 503, *errors}):
        documented[status] = _error_ref(status)
    return documented


def raw_body(name: str, shape: Any, description: str = "") -> dict[str, Any]:
    """`openapi_extra=` of a route that parses its JSON body itself: the body's schema, from `shape` (a
    type, or a JSON Schema as a dict)."""
    _BODIES[name] = shape
    body: dict[str, Any] = {"content": {"application/json": {"schema": {"$ref": COMPONENTS + name}}}}
    if description:
        body["description"] = description
    return {"requestBody": body}


def _error_ref(status: int) -> dict[str, Any]:
    name, description = ERRORS[status]
    return {"$ref": f"#/components/responses/{name}", "description": description}


def install_openapi(app: FastAPI) -> None:
    """Build the document once, on first request of /openapi.json, with the additions above."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = complete(generate(), app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def complete(document: dict[str, Any], app: FastAPI) -> dict[str, Any]:
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    _add_schema(schemas, "ErrorBody", ErrorBody)
    for name, shape in _BODIES.items():
        _add_schema(schemas, name, shape)
    components["responses"] = {
        name: {
            "description": description,
            "content": {"application/json": {"schema": {"$ref": COMPONENTS + "ErrorBody"}}},
        }
        for name, description in ERRORS.values()
    }
    components.setdefault("securitySchemes", {})
    routes = _routes(app)
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            route = routes.get((path, method))
            visitor = route is not None and "livechat visitor" in route.tags
            _complete_operation(
                operation, visitor=visitor, permissions=_permissions(route) if route is not None else []
            )
            if visitor:
                _describe_token_fields(operation.get("requestBody", {}), schemas)
    document["info"]["description"] = DESCRIPTION
    document["webhooks"] = _webhooks()
    return document


def _add_schema(schemas: dict[str, Any], name: str, shape: Any) -> None:
    if isinstance(shape, dict):  # a JSON Schema already
        schemas[name] = shape
        return
    schema = TypeAdapter(shape).json_schema(ref_template=COMPONENTS + "{model}", mode="validation")
    for def_name, definition in schema.pop("$defs", {}).items():
        schemas.setdefault(def_name, definition)
    schema.setdefault("title", name)
    schemas[name] = schema


def _complete_operation(operation: dict[str, Any], *, visitor: bool, permissions: list[str]) -> None:
    responses = operation.setdefault("responses", {})
    security = operation.get("security")
    if security and any(USER_ID_SCHEME in s or AUTH_TOKEN_SCHEME in s for s in security):
        # FastAPI lists the two headers as alternatives; Rocket.Chat needs both.
        optional = {} in security
        operation["security"] = [{}, LOGIN] if optional else [LOGIN]
        if not optional:
            responses.setdefault("401", _error_ref(401))
    if permissions:
        responses.setdefault("403", _error_ref(403))
        held = "; ".join(f"`{p}` (by default: {', '.join(PERMISSIONS[p][0])})" for p in permissions)
        needs = f"Requires the permission {held}."
        operation["description"] = (
            f"{operation['description']}\n\n{needs}" if operation.get("description") else needs
        )
    if "requestBody" in operation:
        responses.setdefault("413", _error_ref(413))
        for media in operation["requestBody"].get("content", {}).values():
            _drop_inferred(media)
    for status, response in responses.items():
        if status.startswith("2"):
            content = response.get("content", {})
            for media in content.values():
                _drop_inferred(media)
            if len(content) > 1 and content.get("application/json", {}).get("schema") == {}:
                del content["application/json"]  # a stream's: FastAPI's default beside the real one
    # The handler's `-> dict[str, Any]` yields no 422: validation errors are Rocket.Chat's 400.
    responses.pop("422", None)
    if visitor:
        for parameter in operation.get("parameters", []):
            if parameter.get("name") == "token":
                parameter.setdefault("description", VISITOR_TOKEN)


def _describe_token_fields(node: Any, schemas: dict[str, Any], seen: set[str] | None = None) -> None:
    """The visitor's `token` in a body (at any depth of its component schemas) says what it is for."""
    seen = set() if seen is None else seen
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(COMPONENTS) and ref not in seen:
            seen.add(ref)
            _describe_token_fields(schemas.get(ref.removeprefix(COMPONENTS)), schemas, seen)
        token = node.get("properties", {}).get("token") if node.get("type") == "object" else None
        if isinstance(token, dict):
            token.setdefault("description", VISITOR_TOKEN)
        for value in node.values():
            _describe_token_fields(value, schemas, seen)
    elif isinstance(node, list):
        for value in node:
            _describe_token_fields(value, schemas, seen)


def _drop_inferred(media: dict[str, Any]) -> None:
    """Keep the documented schema alone where FastAPI merged it with the one of `-> dict[str, Any]`."""
    schema = media.get("schema")
    if isinstance(schema, dict) and "$ref" in schema:
        media["schema"] = {"$ref": schema["$ref"]}


def _routes(app: FastAPI) -> dict[tuple[str, str], Any]:
    """Each operation's route (as FastAPI sees it once included: full path, tags, dependencies)."""
    # FastAPI from 0.16x keeps included routers nested and walks them with iter_route_contexts.
    walk = getattr(fastapi.routing, "iter_route_contexts", iter)
    routes: list[Any] = list(walk(app.routes))
    return {
        (route.path_format, method.lower()): route
        for route in routes
        if isinstance(getattr(route, "original_route", route), APIRoute)
        for method in route.methods
    }


def _permissions(route: Any) -> list[str]:
    """The permissions a route's dependencies check (http/deps.py's PermissionCheck)."""
    found: set[str] = set()
    pending = [route.dependant]
    while pending:
        dependant = pending.pop()
        if isinstance(dependant.call, PermissionCheck):
            found.add(dependant.call.permission)
        pending.extend(dependant.dependencies)
    return sorted(found)


def _webhooks() -> dict[str, Any]:
    """Every event type, once per format: what omnihook POSTs to a receiver."""
    return {
        name: {
            "post": {
                "summary": name,
                "description": DESCRIPTIONS[kind],
                "tags": ["event catalog"],
                "requestBody": {"content": {"application/json": {"schema": body}}},
                "responses": {"200": {"description": "received (anything else is retried)"}},
            }
        }
        for kind in EventType
        for name, body in (
            (kind.value, rocketchat_schema(kind)),
            (f"{kind.value} (Standard Webhooks)", standard_schema(kind)),
        )
    }


VISITOR_TOKEN = "The visitor's token: it authorizes the call (the visitor's API has no login)."

DESCRIPTION = """Omnichannel livechat with durable, Rocket.Chat-compatible CRM webhooks.

**Authentication.** Staff routes take Rocket.Chat's login headers, `X-User-Id` and `X-Auth-Token`, both
from `POST /api/v1/login` (`data.userId`, `data.authToken`). The visitor's routes (`livechat visitor`)
have no login: the visitor's `token` authorizes them, in the JSON body, the query or the path as
Rocket.Chat's widget sends it; a token reaches only its own visitor's chats.

**Errors** come in Rocket.Chat's envelope, `{"success": false, "error": ..., "errorType": ...}`.

**Webhooks.** The `webhooks` section lists the body of every event omnihook sends, in both formats
(also at `GET /api/v1/omnihook/event-types`, and with an example of each on the
[event catalog page](/event-types)).
"""
