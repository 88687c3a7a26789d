"""Races between agents and visitors resolve to one consistent outcome, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select

from omnihook.domain.errors import Conflict
from omnihook.domain.users import Role, User
from omnihook.livechat.accounts import create_user
from omnihook.livechat.agents import set_status
from omnihook.livechat.messages import send_visitor_message
from omnihook.livechat.rooms import close_by_user, get_or_create_room
from omnihook.livechat.routing import queued_inquiries, take_inquiry
from omnihook.livechat.settings import set_setting
from omnihook.livechat.visitors import VisitorInput, register_visitor
from omnihook.storage.database import Database
from omnihook.storage.tables import domain_events, messages, visitors


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    try:
        yield database
    finally:
        await database.dispose()


async def _agent(db: Database, name: str) -> User:
    return await create_user(db, username=name, password="agent-password", roles=[Role.AGENT])


async def test_of_agents_racing_for_one_chat_exactly_one_takes_it(db: Database) -> None:
    await set_setting(db, "Livechat_Routing_Method", "Manual_Selection")
    agents = [await _agent(db, f"agent{i}") for i in range(4)]
    await register_visitor(db, VisitorInput(token="tok-1", name="James"))
    room, _ = await get_or_create_room(db, token="tok-1")
    queue, _ = await queued_inquiries(db, agents[0])
    inquiry_id = queue[0].id
    results = await asyncio.gather(*(take_inquiry(db, a, inquiry_id) for a in agents), return_exceptions=True)
    winners = [r for r in results if not isinstance(r, BaseException)]
    losers = [r for r in results if isinstance(r, BaseException)]
    assert len(winners) == 1
    assert all(isinstance(e, Conflict) for e in losers), losers
    async with db.engine.connect() as conn:
        taken = await conn.execute(
            select(func.count()).where(
                domain_events.c.kind == "room.taken", domain_events.c.room_id == room.id
            )
        )
        assert taken.scalar_one() == 1


async def test_a_message_racing_a_close_is_either_stored_before_it_or_refused(db: Database) -> None:
    agent = await _agent(db, "alice")
    await set_status(db, actor=agent, status="available")
    await register_visitor(db, VisitorInput(token="tok-1", name="James"))
    room, _ = await get_or_create_room(db, token="tok-1")
    results = await asyncio.gather(
        *(send_visitor_message(db, token="tok-1", rid=room.id, msg=f"m{i}") for i in range(5)),
        close_by_user(db, agent, rid=room.id, comment="bye"),
        *(send_visitor_message(db, token="tok-1", rid=room.id, msg=f"n{i}") for i in range(5)),
        return_exceptions=True,
    )
    refused = [r for r in results if isinstance(r, BaseException)]
    assert all(isinstance(e, Conflict) and e.error == "room-closed" for e in refused), refused
    async with db.engine.connect() as conn:
        rows = (
            await conn.execute(select(messages).where(messages.c.room_id == room.id).order_by(messages.c.seq))
        ).all()
    # Whatever got in, the closing message is the last one.
    assert rows[-1].closing_message is True
    assert len(rows) == 1 + (10 - len(refused))


async def test_a_visitor_opening_the_widget_in_several_tabs_at_once_gets_one_room(db: Database) -> None:
    await register_visitor(db, VisitorInput(token="tok-1", name="James"))
    results = await asyncio.gather(*(get_or_create_room(db, token="tok-1") for _ in range(6)))
    assert len({room.id for room, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    async with db.engine.connect() as conn:
        started = await conn.execute(select(func.count()).where(domain_events.c.kind == "room.started"))
        assert started.scalar_one() == 1


async def test_concurrent_first_registrations_of_one_token_make_one_visitor(db: Database) -> None:
    results = await asyncio.gather(
        *(register_visitor(db, VisitorInput(token="tok-1", name=f"James {i}")) for i in range(6))
    )
    assert len({v.id for v in results}) == 1
    async with db.engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(visitors))).scalar_one() == 1
