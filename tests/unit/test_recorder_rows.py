"""Outcomes to rows, pure: whatever bytes a receiver sends, what reaches SQL is storable on both dialects."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from omnihook.livechat.crm import CRM_DATA_CAP
from omnihook.storage.storable import MAX_HEADER_VALUE, MAX_HEADERS
from omnihook.webhooks.recorder import ATTEMPT_BODY_CAP, outcome_rows
from omnihook.webhooks.retry import Dead, Delivered, RetryAt
from omnihook.webhooks.sender import Result, released
from omnihook.webhooks.transport import Outcome
from tests.unit.engine_parts import NOW, claimed, endpoint


def result(
    seq: int = 1,
    *,
    status: int | None = 500,
    body: str | None = "no",
    headers: dict[str, str] | None = None,
    decision: Any = None,
    error: str | None = None,
) -> Result:
    outcome = Outcome(
        started_at=NOW, duration_ms=3, status_code=status, body=body, headers=headers or {}, error=error
    )
    return Result(
        item=claimed(seq),
        endpoint=endpoint(),
        outcome=outcome,
        decision=decision or RetryAt(NOW + timedelta(seconds=10)),
        request_headers={"webhook-id": f"msg_{seq}"},
    )


def storable(text: str | None) -> bool:
    if text is None:
        return True
    text.encode("utf-8")  # raises on a lone surrogate
    return "\x00" not in text


def every_text(rows: Any, answers: dict[str, str]) -> list[str | None]:
    texts: list[str | None] = list(answers.values())
    for attempt in rows.attempts:
        texts += [attempt["error"], attempt["response_body"]]
        for name, value in (attempt["response_headers"] or {}).items():
            texts += [name, value]
    texts += [r.error for r in rows.retried] + [r.error for r in rows.dead]
    return texts


def aiohttp_text(raw: bytes) -> str:
    """What aiohttp makes of header bytes: undecodable ones become lone surrogates."""
    return raw.decode("utf-8", "surrogateescape")


def test_undecodable_header_bytes_and_nul_in_a_body_become_storable_text() -> None:
    bad = result(headers={aiohttp_text(b"X-\xff"): aiohttp_text(b"\xff\xfe")}, body="a\x00b")
    rows, _ = outcome_rows([bad])
    [attempt] = rows.attempts
    assert attempt["response_body"] == "ab"
    assert attempt["response_headers"] == {"X-\ufffd": "\ufffd\ufffd"}


def test_a_200s_body_becomes_the_rooms_crm_data_storable_and_capped_and_the_last_one_wins() -> None:
    first = result(1, status=200, body="first", decision=Delivered())
    last = result(2, status=200, body="x\x00" * CRM_DATA_CAP, decision=Delivered())
    rows, answers = outcome_rows([first, last])
    assert answers == {"r1": "x" * CRM_DATA_CAP}
    assert [d.seq for d in rows.delivered] == [1, 2]
    assert all(a["response_headers"] is None for a in rows.attempts)  # kept for failures only


def test_a_standard_endpoint_writes_no_crm_data() -> None:
    delivered = result(status=204, body="", decision=Delivered())
    delivered = Result(
        item=delivered.item,
        endpoint=endpoint(format="standard"),
        outcome=delivered.outcome,
        decision=Delivered(),
    )
    assert outcome_rows([delivered])[1] == {}


def test_a_dead_delivery_says_why_and_a_released_one_writes_no_attempt() -> None:
    rows, _ = outcome_rows([result(1, decision=Dead("no 200 after 4 attempts")), released(claimed(2))])
    assert [d.error for d in rows.dead] == ["HTTP 500 (no 200 after 4 attempts)"]
    assert rows.released == [2] and len(rows.attempts) == 1


def test_bodies_and_headers_are_capped() -> None:
    many = {f"h{n}": "v" * (MAX_HEADER_VALUE * 2) for n in range(MAX_HEADERS * 2)}
    rows, _ = outcome_rows([result(body="b" * (ATTEMPT_BODY_CAP * 10), headers=many)])
    [attempt] = rows.attempts
    assert len(attempt["response_body"]) == ATTEMPT_BODY_CAP
    assert len(attempt["response_headers"]) == MAX_HEADERS
    assert all(len(v) == MAX_HEADER_VALUE for v in attempt["response_headers"].values())


@settings(max_examples=300, deadline=None)
@given(
    headers=st.dictionaries(st.binary(max_size=40), st.binary(max_size=200), max_size=8),
    body=st.binary(max_size=600),
    error=st.one_of(st.none(), st.text(max_size=50)),
    status=st.one_of(st.none(), st.integers(100, 999)),
    delivered=st.booleans(),
)
def test_any_bytes_a_receiver_sends_give_rows_that_every_dialect_can_store(
    headers: dict[bytes, bytes], body: bytes, error: str | None, status: int | None, delivered: bool
) -> None:
    decoded = {aiohttp_text(k): aiohttp_text(v) for k, v in headers.items()}
    text_body = body.decode("utf-8", "replace") if delivered else aiohttp_text(body)
    decision = Delivered() if delivered else RetryAt(NOW)
    rows, answers = outcome_rows(
        [result(status=status, body=text_body, headers=decoded, decision=decision, error=error)]
    )
    assert all(storable(t) for t in every_text(rows, answers))
