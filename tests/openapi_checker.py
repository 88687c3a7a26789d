"""Checks real answers against what /openapi.json declares for them (OpenAPI 3.1 schemas are JSON Schema
2020-12; their $refs point into the document's components)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

DOCUMENT_URI = "urn:omnihook:openapi"
FORMATS = FormatChecker()


@FORMATS.checks("date-time", raises=ValueError)
def _is_date_time(value: object) -> bool:
    return not isinstance(value, str) or datetime.fromisoformat(value.replace("Z", "+00:00")) is not None


def _pointer(*parts: str) -> str:
    return "".join("/" + p.replace("~", "~0").replace("/", "~1") for p in parts)


@dataclass
class AnswerChecker:
    """Record each answer of a client (an httpx response hook) and check it against the document."""

    document: dict[str, Any]
    checked: set[tuple[str, str]] = field(default_factory=set)
    failures: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        resource = Resource.from_contents(self.document, default_specification=DRAFT202012)
        self.registry: Registry[Any] = Registry().with_resource(DOCUMENT_URI, resource)
        self.templates = [
            (re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path)) + "$"), path)
            for path in self.document["paths"]
        ]

    def operation_of(self, method: str, path: str) -> tuple[str, str] | None:
        candidates = [
            template
            for pattern, template in self.templates
            if pattern.match(path) and method in self.document["paths"][template]
        ]
        if not candidates:
            return None
        # A literal segment wins over a parameter (visitor/department.transfer over visitor/{token}).
        return min(candidates, key=lambda t: t.count("{")), method

    async def __call__(self, response: httpx.Response) -> None:
        await response.aread()
        method = response.request.method.lower()
        found = self.operation_of(method, response.request.url.path)
        if found is None:
            return  # a page or a static file: not in the API document
        template, method = found
        where = f"{method.upper()} {template} -> {response.status_code}"
        responses = self.document["paths"][template][method]["responses"]
        status = str(response.status_code)
        if status not in responses:
            self.failures.append(f"{where}: status not documented ({sorted(responses)})")
            return
        documented = responses[status]
        pointer = _pointer("paths", template, method, "responses", status)
        if "$ref" in documented:
            pointer = documented["$ref"].removeprefix("#")
            documented = self.resolve(pointer)
        media = response.headers.get("content-type", "").split(";")[0]
        content = documented.get("content", {})
        if media not in content:
            self.failures.append(f"{where}: {media} not documented ({sorted(content)})")
            return
        if "schema" not in content[media]:
            self.failures.append(f"{where}: no schema")
            return
        schema_uri = DOCUMENT_URI + "#" + pointer + _pointer("content", media, "schema")
        validator = Draft202012Validator({"$ref": schema_uri}, registry=self.registry, format_checker=FORMATS)
        errors = sorted(validator.iter_errors(response.json()), key=lambda e: list(e.absolute_path))
        for error in errors[:3]:
            at = "/".join(str(p) for p in error.absolute_path)
            self.failures.append(f"{where}: at /{at}: {error.message[:300]}")
        self.checked.add((method.upper(), template))

    def resolve(self, pointer: str) -> dict[str, Any]:
        node: Any = self.document
        for part in pointer.strip("/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        result: dict[str, Any] = node
        return result
