"""The livechat API documents itself at /docs."""

from __future__ import annotations

import httpx

DOCUMENTED = [
    ("post", "/api/v1/livechat/visitor"),
    ("get", "/api/v1/livechat/room"),
    ("post", "/api/v1/livechat/message"),
    ("get", "/api/v1/livechat/messages.history/{rid}"),
    ("post", "/api/v1/livechat/room.close"),
    ("post", "/api/v1/livechat/offline.message"),
    ("get", "/api/v1/livechat/inquiries.queued"),
    ("post", "/api/v1/livechat/inquiries.take"),
    ("post", "/api/v1/chat.sendMessage"),
    ("post", "/api/v1/livechat/room.forward"),
    ("post", "/api/v1/livechat/room.closeByUser"),
    ("get", "/api/v1/livechat/rooms"),
    ("get", "/api/v1/rooms.info"),
    ("post", "/api/v1/livechat/department"),
    ("post", "/api/v1/livechat/agent.status"),
    ("post", "/api/v1/settings/{setting_id}"),
]


async def test_docs_page_and_openapi_describe_the_livechat_endpoints(client: httpx.AsyncClient) -> None:
    page = await client.get("/docs")
    assert page.status_code == 200
    assert "swagger" in page.text.lower()
    schema = (await client.get("/openapi.json")).json()
    for method, path in DOCUMENTED:
        assert method in schema["paths"].get(path, {}), (method, path)
    message_body = schema["paths"]["/api/v1/livechat/message"]["post"]["requestBody"]
    ref = message_body["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert set(schema["components"]["schemas"][ref]["required"]) == {"token", "rid", "msg"}
