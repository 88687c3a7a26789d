"""The room's life cycle and message rules, as pure domain code."""

from __future__ import annotations

import pytest

from omnihook.domain.errors import Conflict, InvalidInput
from omnihook.domain.rooms import MAX_MESSAGE_LENGTH, RoomStatus, ensure_transition, validate_text


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (RoomStatus.QUEUED, RoomStatus.SERVED),
        (RoomStatus.QUEUED, RoomStatus.CLOSED),
        (RoomStatus.SERVED, RoomStatus.SERVED),  # forwarded to another agent
        (RoomStatus.SERVED, RoomStatus.QUEUED),  # forwarded to a department with nobody available
        (RoomStatus.SERVED, RoomStatus.CLOSED),
    ],
)
def test_an_open_room_may_be_served_requeued_or_closed(current: RoomStatus, target: RoomStatus) -> None:
    ensure_transition(current, target)


@pytest.mark.parametrize("target", list(RoomStatus))
def test_nothing_leaves_closed(target: RoomStatus) -> None:
    with pytest.raises(Conflict) as refused:
        ensure_transition(RoomStatus.CLOSED, target)
    assert refused.value.error == "room-closed"


def test_messages_must_have_text_within_the_limit() -> None:
    assert validate_text("hi") == "hi"
    for empty in ("", "   ", "\n"):
        with pytest.raises(InvalidInput):
            validate_text(empty)
    validate_text("x" * MAX_MESSAGE_LENGTH)
    with pytest.raises(InvalidInput) as too_long:
        validate_text("x" * (MAX_MESSAGE_LENGTH + 1))
    assert too_long.value.error == "message-length-exceeds-character-limit"
