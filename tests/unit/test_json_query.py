"""Rocket.Chat's users.list `query`/`fields`/`sort` on shown documents: MongoDB's reading, safe parts only."""

from __future__ import annotations

from typing import Any

import pytest

from omnihook.api import json_query
from omnihook.domain.errors import InvalidInput

FIELDS = ["_id", "username", "name", "emails", "roles", "active"]
DOCS: list[dict[str, Any]] = [
    {"_id": "1", "username": "ann", "name": "Ann", "emails": [{"address": "ann@x.org"}], "roles": ["admin"]},
    {"_id": "2", "username": "bo", "name": None, "emails": [], "roles": ["livechat-agent", "user"]},
    {"_id": "3", "username": "cy.b", "name": "cy", "roles": [], "active": False},
]


def selected(query: str) -> list[str]:
    match = json_query.parse_query(query, FIELDS)
    return [d["_id"] for d in DOCS if match(d)]


def test_fields_are_read_through_arrays_as_mongodb_does() -> None:
    assert selected('{"roles": "user"}') == ["2"]
    assert selected('{"emails.address": "ann@x.org"}') == ["1"]
    assert selected('{"roles": []}') == ["3"]
    assert selected('{"name": null}') == ["2"]  # null matches a null as in MongoDB (a missing field too)


def test_regex_is_literal_text_with_anchors_and_ignore_case() -> None:
    assert selected('{"username": {"$regex": "^C", "$options": "i"}}') == ["3"]
    assert selected('{"username": {"$regex": "^C"}}') == []
    assert selected('{"username": {"$regex": "y\\\\.b$"}}') == ["3"]
    assert selected('{"username": {"$regex": ""}}') == ["1", "2", "3"]
    assert selected('{"$and": [{"active": false}, {"$or": [{"name": "cy"}, {"name": "Ann"}]}]}') == ["3"]


@pytest.mark.parametrize(
    "query",
    [
        '{"username": {"$regex": "a.*b"}}',
        '{"username": {"$regex": "\\\\d"}}',
        '{"username": {"$regex": "[ab]"}}',
        '{"username": {"$in": ["ann"]}}',
        '{"$nor": [{"username": "ann"}]}',
        '{"services": 1}',
    ],
)
def test_anything_beyond_the_safe_part_is_refused_before_it_runs(query: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        json_query.parse_query(query, FIELDS)
    assert refused.value.error_type == "error-invalid-query"


def test_sort_orders_missing_and_null_first_and_fields_leave_out_zeros() -> None:
    order = json_query.parse_sort('{"name": -1, "username": 1}', {"username": 1})
    assert [d["_id"] for d in json_query.sort_documents(DOCS, order, insensitive=frozenset({"name"}))] == [
        "3",
        "1",
        "2",
    ]
    assert json_query.parse_fields('{"emails": 0, "_id": 0}', FIELDS) == [
        "_id",
        "username",
        "name",
        "roles",
        "active",
    ]
