"""Turning service and validation errors into messages next to the form fields they belong to."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from app.errors import ServiceError


def field_key(loc: list | tuple) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query")]
    return ".".join(parts) or "_form"


def errors_from(exc: Exception, rename: dict[str, str] | None = None) -> dict[str, str]:
    """``{field: message}`` from a pydantic ValidationError or a ServiceError with field errors."""
    rename = rename or {}
    out: dict[str, str] = {}
    if isinstance(exc, ValidationError):
        raw = [{"loc": e["loc"], "msg": str(e["msg"]).removeprefix("Value error, ")} for e in exc.errors()]
    elif isinstance(exc, ServiceError) and exc.errors:
        raw = exc.errors
    elif isinstance(exc, ServiceError):
        return {"_form": exc.detail}
    else:
        raise exc
    for e in raw:
        key = field_key(e["loc"])
        key = rename.get(key, key)
        out.setdefault(key, e["msg"])
    return out


def text(form: Any, name: str) -> str:
    value = form.get(name)
    return "" if value is None else str(value).strip()
