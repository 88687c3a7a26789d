"""Caps on free input: how many custom fields, how large and how deeply nested a JSON value may be.

Pure checks, called where input enters a use case; each refusal names the field (a 400).
"""

from __future__ import annotations

import json
from typing import Any

from omnihook.domain.errors import InvalidInput

MAX_CUSTOM_FIELDS = 100
MAX_JSON_BYTES = 64 * 1024
MAX_JSON_DEPTH = 8


def _depth_over(value: Any, limit: int) -> bool:
    """True when `value` nests deeper than `limit` (iterative: a hostile depth never recurses)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def check_json(
    field: str, value: Any, *, max_bytes: int = MAX_JSON_BYTES, max_depth: int = MAX_JSON_DEPTH
) -> None:
    """Refuse `value` (the input of `field`) when it nests deeper than `max_depth` or is larger than
    `max_bytes` once encoded as JSON."""
    if value is None:
        return
    if _depth_over(value, max_depth):
        raise InvalidInput("error-invalid-params", f"{field}: nested deeper than {max_depth} levels")
    size = len(json.dumps(value, ensure_ascii=False, default=str).encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        raise InvalidInput("error-invalid-params", f"{field}: {size} bytes of JSON, at most {max_bytes}")


def check_field_count(field: str, count: int, *, limit: int = MAX_CUSTOM_FIELDS) -> None:
    if count > limit:
        raise InvalidInput("error-invalid-custom-field", f"{field}: {count} fields, at most {limit}")
