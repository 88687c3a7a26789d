"""Lead capture: e-mail addresses and phone numbers a visitor writes are kept on the visitor.

Rocket.Chat's `leadCapture` hook: each new visitor text message is searched with the
`Livechat_lead_email_regex` (case-insensitive) and `Livechat_lead_phone_regex` settings; what is found is
added to the visitor's contacts and `LeadCapture` is sent to the CRM. Rocket.Chat announces a lead after
every visitor message (its check compares two arrays, always true); omnihook only when the message held
a contact the visitor did not have, which is what the CRM acts on.
"""

from __future__ import annotations

import functools
import logging
import re
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from omnihook.livechat.settings import read_with_defaults
from omnihook.storage.tables import visitors

log = logging.getLogger(__name__)

# Their defaults are Rocket.Chat's (livechat/settings.py).
EMAIL_PATTERN_SETTING = "Livechat_lead_email_regex"
PHONE_PATTERN_SETTING = "Livechat_lead_phone_regex"
MAX_FOUND = 20  # contacts taken from one message: a pasted list is not a lead


@functools.lru_cache(maxsize=16)
def compiled(pattern: str, flags: int) -> re.Pattern[str] | None:
    """The setting's pattern, or None (logged once per pattern) when Python cannot read it."""
    try:
        return re.compile(pattern, flags)
    except re.error as exc:
        log.warning("lead capture: pattern %r is not a valid regular expression (%s); ignored", pattern, exc)
        return None


def found_in(pattern: re.Pattern[str] | None, text: str) -> list[str]:
    """Every whole match of `pattern` in `text`, as JavaScript's String.match with the g flag gives."""
    if pattern is None:
        return []
    return [m.group(0) for m in pattern.finditer(text) if m.group(0)][:MAX_FOUND]


async def capture_leads(conn: AsyncConnection, visitor_id: str, text: str) -> bool:
    """Add the contacts found in `text` to the visitor; True when any was new."""
    patterns = await read_with_defaults(conn, (EMAIL_PATTERN_SETTING, PHONE_PATTERN_SETTING))
    emails = found_in(compiled(str(patterns[EMAIL_PATTERN_SETTING]), re.IGNORECASE), text)
    phones = found_in(compiled(str(patterns[PHONE_PATTERN_SETTING]), 0), text)
    if not emails and not phones:
        return False
    row = (
        await conn.execute(select(visitors.c.emails, visitors.c.phones).where(visitors.c.id == visitor_id))
    ).first()
    if row is None:
        return False
    new_emails = _added(row.emails, "address", emails)
    new_phones = _added(row.phones, "phoneNumber", phones)
    if new_emails == row.emails and new_phones == row.phones:
        return False
    await conn.execute(
        update(visitors).where(visitors.c.id == visitor_id).values(emails=new_emails, phones=new_phones)
    )
    return True


def _added(entries: list[dict[str, Any]], key: str, values: list[str]) -> list[dict[str, Any]]:
    """`entries` with each value not yet among them appended ($addToSet)."""
    known = {str(e.get(key, "")).lower() for e in entries}
    result = list(entries)
    for value in values:
        if value.lower() not in known:
            known.add(value.lower())
            result.append({key: value})
    return result
