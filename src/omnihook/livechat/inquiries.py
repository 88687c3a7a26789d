"""The queue as managers list it (Rocket.Chat's livechat/inquiries.list): every waiting chat, newest first."""

from __future__ import annotations

from sqlalchemy import func, or_, select

from omnihook.domain.rooms import Inquiry, InquiryStatus
from omnihook.livechat.queries import inquiry_from_row, inquiry_query
from omnihook.storage.database import Database
from omnihook.storage.tables import departments, inquiries


async def list_queued(
    db: Database, *, department: str | None = None, offset: int = 0, count: int = 50
) -> tuple[list[Inquiry], int]:
    """Queued inquiries, newest first; `department` is a department's id or name (unknown: no filter, as
    Rocket.Chat does)."""
    query = inquiry_query().where(inquiries.c.status == InquiryStatus.QUEUED)
    async with db.engine.connect() as conn:
        if department:
            found = (
                await conn.execute(
                    select(departments.c.id).where(
                        or_(departments.c.id == department, departments.c.name == department)
                    )
                )
            ).first()
            if found is not None:
                query = query.where(inquiries.c.department_id == found.id)
        total = (await conn.execute(select(func.count()).select_from(query.subquery()))).scalar_one()
        rows = await conn.execute(
            query.order_by(inquiries.c.created_at.desc(), inquiries.c.id).offset(offset).limit(count)
        )
        return [inquiry_from_row(r) for r in rows], int(total)
