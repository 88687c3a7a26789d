"""Rocket.Chat's `query`, `fields` and `sort` REST parameters (its parseJsonQuery and isValidQuery), on the
documents a route shows, and only their safe part.

A `query` is a JSON object in MongoDB's syntax, checked before anything runs: the operations are `$or` and
`$and` (lists of queries) and, on a field, `$regex` (with `$options`, `i` only); the fields are those the
documents show (Rocket.Chat's inclusive `fields`, `emails.address` for `emails`). Anything else is refused
with Rocket.Chat's 400 `error-invalid-query`, never run. `$regex` is literal text with optional `^`/`$`
anchors (what Rocket.Chat's own clients send, their search text escaped): a pattern with repetition or
groups could take exponential time, so it is refused too.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from omnihook.domain.errors import InvalidInput

Document = dict[str, Any]
Matcher = Callable[[Document], bool]

MAX_PARAMETER = 4096  # characters of one parameter
MAX_DEPTH = 8
MAX_NODES = 200
MAX_SORT_KEYS = 10
_REGEX_META = set(".^$*+?()[]{}|\\")
_SUBFIELDS = {"emails": "emails.address"}  # Rocket.Chat's extra queryable paths of a shown field


def _refused(code: str, reason: str) -> InvalidInput:
    # Rocket.Chat's Meteor.Error through API.v1.failure: `error` is "reason [code]".
    return InvalidInput(f"{reason} [{code}]", reason, error_type=code)


def _parse_object(raw: str, code: str, what: str) -> dict[str, Any]:
    if len(raw) > MAX_PARAMETER:
        raise _refused(code, f"Invalid {what} parameter provided: more than {MAX_PARAMETER} characters")
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        value = None
    if not isinstance(value, dict):
        raise _refused(code, f'Invalid {what} parameter provided: "{raw}"')
    return value


# --- sort and fields -------------------------------------------------------------------------------


def parse_sort(raw: str | None, default: dict[str, int]) -> list[tuple[str, int]]:
    """`sort`: {field: 1 | -1}, in order; anything else is Rocket.Chat's error-invalid-sort."""
    if raw is None:
        return list(default.items())
    sort = _parse_object(raw, "error-invalid-sort", "sort")
    if not sort or len(sort) > MAX_SORT_KEYS:
        raise _refused("error-invalid-sort", f"Invalid sort parameter provided: 1 to {MAX_SORT_KEYS} fields")
    for key, direction in sort.items():
        if direction not in (1, -1) or isinstance(direction, bool):
            raise _refused("error-invalid-sort", f'Invalid sort parameter provided: "{raw}"')
        if not key or key.startswith("$"):
            raise _refused("error-invalid-sort", f"Invalid sort parameter: {key}")
    return list(sort.items())


def parse_fields(raw: str | None, shown: Sequence[str]) -> list[str]:
    """`fields`: {field: 1 | 0}. As in Rocket.Chat they are added to the default fields (here every field
    the route shows), so a 1 changes nothing and a 0 leaves a field out; `_id` always stays."""
    if raw is None:
        return list(shown)
    fields = _parse_object(raw, "error-invalid-fields", "fields")
    for value in fields.values():
        if value not in (0, 1) or isinstance(value, bool):
            raise _refused("error-invalid-fields", f'Invalid fields parameter provided: "{raw}"')
    return [f for f in shown if f == "_id" or fields.get(f, 1) == 1]


def project(doc: Document, fields: Iterable[str]) -> Document:
    wanted = set(fields)
    return {k: v for k, v in doc.items() if k in wanted}


def _order(value: Any) -> tuple[int, Any]:
    """MongoDB's order of types: missing and null, numbers, strings, objects, arrays, booleans."""
    if value is None:
        return (0, 0)
    if isinstance(value, bool):
        return (5, value)
    if isinstance(value, int | float):
        return (1, value)
    if isinstance(value, str):
        return (2, value)
    return (3 if isinstance(value, dict) else 4, json.dumps(value, sort_keys=True))


def sort_documents(
    docs: list[Document], sort: list[tuple[str, int]], *, insensitive: frozenset[str] = frozenset()
) -> list[Document]:
    """Stable sorts, last key first; the `insensitive` fields by lower case (Rocket.Chat's nameInsensitive)."""
    result = list(docs)
    for key, direction in reversed(sort):

        def sort_key(doc: Document, key: str = key) -> tuple[int, Any]:
            values = _values(doc, key)
            value = values[0] if values else None
            if key in insensitive and isinstance(value, str):
                value = value.lower()
            return _order(value)

        result.sort(key=sort_key, reverse=direction == -1)
    return result


# --- query -----------------------------------------------------------------------------------------


@dataclass
class _Budget:
    nodes: int = 0

    def spend(self, depth: int) -> None:
        self.nodes += 1
        if self.nodes > MAX_NODES or depth > MAX_DEPTH:
            raise _refused(
                "error-invalid-query", f"the query is too large (depth {MAX_DEPTH}, {MAX_NODES} terms)"
            )


def parse_query(raw: str | None, fields: Sequence[str]) -> Matcher:
    """The documents `query` selects; every document when there is none. `fields` may be queried."""
    if raw is None or raw.strip() in ("", "{}"):
        return lambda _doc: True
    query = _parse_object(raw, "error-invalid-query", "query")
    allowed = set(fields) | {_SUBFIELDS[f] for f in fields if f in _SUBFIELDS}
    return _compile(query, allowed, "", 0, _Budget())


def _compile(query: dict[str, Any], allowed: set[str], parent: str, depth: int, budget: _Budget) -> Matcher:
    budget.spend(depth)
    parts: list[Matcher] = []
    for key, value in query.items():
        if key in ("$or", "$and"):
            if not isinstance(value, list) or not value or not all(isinstance(v, dict) for v in value):
                raise _refused("error-invalid-query", f"{key} takes a non-empty list of queries")
            subs = [_compile(v, allowed, parent, depth + 1, budget) for v in value]
            parts.append(_any(subs) if key == "$or" else _all(subs))
        elif key.startswith("$"):
            raise _refused("error-invalid-query", f"Invalid operation: {key}")
        else:
            path = f"{parent}.{key}" if parent else key
            if path not in allowed:
                raise _refused("error-invalid-query", f"Invalid attribute: {path}")
            parts.append(_condition(path, value, depth + 1, budget))
    return _all(parts)


def _condition(path: str, value: Any, depth: int, budget: _Budget) -> Matcher:
    budget.spend(depth)
    if isinstance(value, dict) and any(k.startswith("$") for k in value):
        unknown = sorted(k for k in value if k not in ("$regex", "$options"))
        if unknown:
            raise _refused("error-invalid-query", f"Invalid operation: {unknown[0]}")
        if "$regex" not in value:
            raise _refused("error-invalid-query", "$options goes with $regex")
        test = _literal_regex(value["$regex"], value.get("$options", ""))
        return lambda doc: any(isinstance(v, str) and test(v) for v in _values(doc, path))
    return lambda doc: any(v == value for v in _values(doc, path))


def _literal_regex(pattern: Any, options: Any) -> Callable[[str], bool]:
    if not isinstance(pattern, str) or len(pattern) > 256:
        raise _refused("error-invalid-query", "$regex takes text (256 characters at most)")
    if not isinstance(options, str) or set(options) - {"i"}:
        raise _refused("error-invalid-query", "$options: only i (ignore case) is supported")
    start = pattern.startswith("^")
    body = pattern[1:] if start else pattern
    end = body.endswith("$") and not body.endswith("\\$")
    body = body[:-1] if end else body
    text, escaped = [], False
    for char in body:
        if escaped:
            if char.isalnum():  # \d, \w, \b...: a class, not a character
                raise _refused("error-invalid-query", f"$regex: \\{char} is not supported, only literal text")
            text.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char in _REGEX_META:
            raise _refused(
                "error-invalid-query", "$regex: only literal text (metacharacters escaped), with ^ and $"
            )
        else:
            text.append(char)
    if escaped:
        raise _refused("error-invalid-query", "$regex: a trailing backslash")
    fold = "i" in options
    needle = "".join(text).casefold() if fold else "".join(text)

    def test(value: str) -> bool:
        hay = value.casefold() if fold else value
        if start and end:
            return hay == needle
        if start:
            return hay.startswith(needle)
        if end:
            return hay.endswith(needle)
        return needle in hay

    return test


def _values(doc: Any, path: str) -> list[Any]:
    """MongoDB's reading of a dotted path: through arrays, each element; at the end, an array and each of
    its elements."""
    current = [doc]
    for part in path.split("."):
        found: list[Any] = []
        for item in current:
            items = item if isinstance(item, list) else [item]
            found.extend(i[part] for i in items if isinstance(i, dict) and part in i)
        current = found
    values: list[Any] = []
    for item in current:
        values.append(item)
        if isinstance(item, list):
            values.extend(item)
    return values


def _all(parts: list[Matcher]) -> Matcher:
    return lambda doc: all(p(doc) for p in parts)


def _any(parts: list[Matcher]) -> Matcher:
    return lambda doc: any(p(doc) for p in parts)
