"""The OpenAPI schema's error answers, and the ``Allow`` header of a 405, from one description of the API.

FastAPI documents the success answer of each operation and a 422 shaped like its own validation error.
Every error the service sends is ``application/problem+json`` (``app/errors.py``), and the statuses an
operation can answer follow from what it is; they are added here, the same way for every operation, so
that a new endpoint is documented truthfully without repeating them:

- every error status is described as ``application/problem+json`` with the ``Problem`` schema (field-level
  ``errors`` on a 422);
- an operation that takes a body can answer 400 (a body that cannot be read at all, e.g. not UTF-8);
- one that needs a token: 401 (no, unknown, expired or revoked token) and 403 (the user's roles, or their
  relation to the record, do not allow it);
- one with an id in its path, or that names records by id in its query or body: 404;
- one that writes: 409 (the record changed meanwhile, a duplicate, or a rule on the state of the cycle or
  record); one that takes ``If-Match``: 412 (stale) and 428 (no version sent);
- one that takes a file upload: 413 (too large) and 415 (not a CSV or XLSX file);
- anything with parameters or a body: 422.

An operation's own ``responses={...}`` (a 429 with ``Retry-After``, say) are kept, with their text.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from app.errors import PROBLEM_JSON

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "An error, as RFC 9457 problem details.",
    "type": "object",
    "required": ["type", "title", "status", "detail", "instance"],
    "properties": {
        "type": {"type": "string", "description": "e.g. /problems/validation-failed"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string", "description": "What went wrong, for a person."},
        "instance": {"type": "string", "description": "The path that was asked for."},
        "errors": {
            "type": "array",
            "description": "One entry per field at fault.",
            "items": {"$ref": "#/components/schemas/FieldError"},
        },
    },
    "additionalProperties": True,
}
FIELD_ERROR_SCHEMA: dict[str, Any] = {
    "title": "FieldError",
    "type": "object",
    "required": ["loc", "msg", "type"],
    "properties": {
        "loc": {
            "type": "array",
            "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
            "description": 'Where: e.g. ["body", "financials", 0, "cost"].',
        },
        "msg": {"type": "string"},
        "type": {"type": "string"},
    },
    "additionalProperties": True,
}

DESCRIPTIONS = {
    400: "The body could not be read (for example, not UTF-8 JSON)",
    401: "Missing, unknown, expired or revoked token",
    403: "Signed in, but not allowed this (role, or relation to the record)",
    404: "A record named in the path, query or body does not exist (or is not visible to you)",
    409: "Conflicts with the record's current state, a concurrent change or an existing record",
    412: "If-Match does not match the record's current version",
    413: "The upload is too large",
    415: "The upload is not a file type the service reads",
    422: "Invalid input; `errors` names each field at fault",
}
WRITES = frozenset({"post", "put", "patch", "delete"})
_ID = re.compile(r"(^|_)ids?$")


def _names_records(op: dict[str, Any], schemas: dict[str, Any]) -> bool:
    if any(_ID.search(p.get("name", "")) for p in op.get("parameters", [])):
        return True
    for media in op.get("requestBody", {}).get("content", {}).values():
        ref = media.get("schema", {}).get("$ref", "")
        body = schemas.get(ref.rsplit("/", 1)[-1], {}) if ref else media.get("schema", {})
        if any(_ID.search(name) for name in body.get("properties", {})):
            return True
    return False


def statuses_of(path: str, method: str, op: dict[str, Any], schemas: dict[str, Any]) -> set[int]:
    """The error statuses an operation can answer, by what it is (see the module's notes)."""
    codes: set[int] = set()
    params = op.get("parameters", [])
    body = op.get("requestBody", {}).get("content", {})
    if body:
        codes.add(400)
    if op.get("security"):
        codes |= {401, 403}
    if "{" in path or (op.get("security") and _names_records(op, schemas)):
        codes.add(404)
    if method in WRITES and op.get("security"):
        codes.add(409)
    if any(p.get("in") == "header" and p.get("name", "").lower() == "if-match" for p in params):
        codes |= {412, 428}
    if "multipart/form-data" in body:
        codes |= {413, 415}
    if params or body:
        codes.add(422)
    return codes


def document_errors(schema: dict[str, Any]) -> dict[str, Any]:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Problem"] = PROBLEM_SCHEMA
    components["FieldError"] = FIELD_ERROR_SCHEMA
    problem = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path, ops in schema.get("paths", {}).items():
        for method, op in ops.items():
            if method not in {"get", "put", "post", "delete", "options", "head", "patch", "trace"}:
                continue
            responses = op.setdefault("responses", {})
            for code in statuses_of(path, method, op, components):
                text = DESCRIPTIONS[code] if code != 428 else "No version sent: If-Match or a body version"
                responses.setdefault(str(code), {"description": text})
            for code, response in responses.items():
                if code.isdigit() and int(code) >= 400:
                    response["content"] = problem
    # FastAPI's own validation error shapes are no longer referred to.
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    return schema


def install(app: FastAPI) -> None:
    """Replace ``app.openapi`` with one that documents the error answers (built once, like FastAPI's)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                openapi_version=app.openapi_version,
                summary=app.summary,
                description=app.description,
                routes=app.routes,
                tags=app.openapi_tags,
                servers=app.servers,
            )
            app.openapi_schema = document_errors(schema)
        return app.openapi_schema

    app.openapi = openapi


def allowed_methods(app: FastAPI, path: str) -> list[str] | None:
    """The methods the API documents for ``path`` (plus HEAD with GET), or None if it is not an API path."""
    table = getattr(app.state, "allowed_methods", None)
    if table is None:
        table = []
        for template, ops in app.openapi().get("paths", {}).items():
            numeric = {
                p["name"]
                for op in ops.values()
                if isinstance(op, dict)
                for p in op.get("parameters", [])
                if p.get("in") == "path" and p.get("schema", {}).get("type") == "integer"
            }
            parts = re.split(r"(\{[^}]+\})", template)
            pattern = "".join(
                ("[0-9]+" if p[1:-1] in numeric else "[^/]+") if p.startswith("{") else re.escape(p)
                for p in parts
            )
            methods = sorted(m.upper() for m in ops if m in {"get", "put", "post", "delete", "patch"})
            if "GET" in methods:
                methods.append("HEAD")
            table.append((re.compile(f"^{pattern}$"), methods))
        app.state.allowed_methods = table
    found: set[str] = set()
    for pattern, methods in table:
        if pattern.match(path):
            found.update(methods)
    return sorted(found) if found else None
