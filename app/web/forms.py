"""Reading what a browser sends, and turning errors into messages next to the form fields they belong to.

Every typed field of a web form, and every number in a page's address (``?cycle_id=``, ``?page=``,
``/proposals/{proposal_id}``), is read here and nowhere else: whole numbers are plain ASCII digits
(``"²"`` and ``"٣"`` are digits to ``str.isdigit`` but not to us), bounded to what the database
column holds, so that nothing a browser sends can reach ``int()`` or the database unchecked. A bad
field the person typed comes back as a message next to it (the handler re-renders the page with
status 422); a bad field nobody types (a hidden id, a number in the address) raises ``FormError``,
which the web client shows as a plain 400 or 404 page.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from fastapi import Depends, Request
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.errors import ServiceError
from app.models import AuditEvent
from app.web.messages import Label, message

INT32_MAX = 2**31 - 1  # ids, versions and counts are INTEGER columns on PostgreSQL
PAGE_MAX = 100_000  # list pages: far beyond any real list, and the offset stays small
_WHOLE = re.compile(r"-?[0-9]+")
_DECIMAL = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_LONGEST = 40  # characters worth parsing as a number at all


class FormError(Exception):
    """Fields that could not be read, as ``{field: message}``; ``status`` is the page to answer with."""

    def __init__(self, field: str | dict[str, str], message: str = "", *, status: int = 400) -> None:
        self.errors = dict(field) if isinstance(field, dict) else {field: message}
        self.status = status
        super().__init__(self.message)

    @property
    def message(self) -> str:
        return " ".join(self.errors.values())


def _label(name: str, label: str | None) -> str:
    return label or name.replace("_", " ")


def parse_int(raw: str, *, label: str, min: int = 1, max: int = INT32_MAX) -> int:
    """A whole number written in ASCII digits, with an optional minus sign, from ``min`` to ``max``."""
    if len(raw) > _LONGEST or not _WHOLE.fullmatch(raw):
        raise ValueError(f"Enter the {label} as a whole number, using the digits 0 to 9.")
    value = int(raw)
    if not min <= value <= max:
        raise ValueError(f"The {label} must be from {min} to {max}.")
    return value


def parse_decimal(raw: str, *, label: str, min: Decimal | None = None, max: Decimal | None = None) -> Decimal:
    """A decimal number in plain notation (``12``, ``12.5``): no exponent, no separators."""
    if len(raw) > _LONGEST or not _DECIMAL.fullmatch(raw):
        raise ValueError(f"Enter the {label} as a number, using the digits 0 to 9, such as 25 or 12.5.")
    value = Decimal(raw)
    if min is not None and value < min:
        raise ValueError(f"The {label} must be {min} or more.")
    if max is not None and value > max:
        raise ValueError(f"The {label} must be at most {max}.")
    return value


class Fields:
    """Typed reads of a posted form or a query string. A bad field leaves a message under its name and
    reads as ``None``; ``check()`` then raises all the messages together as one ``FormError``."""

    def __init__(self, source: Any, *, status: int = 400) -> None:
        self.source = source
        self.status = status
        self.errors: dict[str, str] = {}

    def text(self, name: str) -> str:
        return text(self.source, name)

    def int(
        self,
        name: str,
        *,
        label: str | None = None,
        required: bool = False,
        min: int = 1,
        max: int = INT32_MAX,
    ) -> int | None:
        raw = self.text(name)
        if not raw:
            if required:
                self.errors[name] = f"The {_label(name, label)} is missing."
            return None
        try:
            return parse_int(raw, label=_label(name, label), min=min, max=max)
        except ValueError as exc:
            self.errors[name] = str(exc)
            return None

    def decimal(
        self,
        name: str,
        *,
        label: str | None = None,
        min: Decimal | None = None,
        max: Decimal | None = None,
    ) -> Decimal | None:
        raw = self.text(name)
        if not raw:
            return None
        try:
            return parse_decimal(raw, label=_label(name, label), min=min, max=max)
        except ValueError as exc:
            self.errors[name] = str(exc)
            return None

    def check(self) -> None:
        if self.errors:
            raise FormError(self.errors, status=self.status)


def form_int(
    form: Any,
    name: str,
    *,
    label: str | None = None,
    required: bool = True,
    min: int = 1,
    max: int = INT32_MAX,
    status: int = 400,
) -> int | None:
    """One whole-number field, or ``FormError``: for the hidden ids and versions a page puts in its forms."""
    fields = Fields(form, status=status)
    value = fields.int(name, label=label, required=required, min=min, max=max)
    fields.check()
    return value


def query_int(name: str, *, label: str | None = None, min: int = 1, max: int = INT32_MAX):
    """A page's optional whole-number query parameter (absent or empty: ``None``); a bad one is a 400 page.

    Use as ``cycle_id: Annotated[int | None, query_int("cycle_id")]``."""

    def read(request: Request) -> int | None:
        return form_int(
            request.query_params,
            name,
            label=f"{_label(name, label)} in the address",
            required=False,
            min=min,
            max=max,
        )

    return Depends(read)


def query_page(name: str = "page"):
    """A list page's page number: 1 when absent, otherwise 1 to ``PAGE_MAX``."""

    def read(request: Request) -> int:
        value = form_int(
            request.query_params, name, label="page number in the address", required=False, max=PAGE_MAX
        )
        return 1 if value is None else value

    return Depends(read)


def path_id(name: str):
    """A record's id in the page's path, such as ``/proposals/{proposal_id}``; anything but an id that
    could exist is a 404 page. Use as ``proposal_id: Annotated[int, path_id("proposal_id")]``."""

    def read(request: Request) -> int:
        raw = str(request.path_params.get(name, ""))
        try:
            return parse_int(raw, label=name.replace("_", " "))
        except ValueError:
            raise FormError(name, f"There is no page at {request.url.path}.", status=404) from None

    return Depends(read)


def field_key(loc: list | tuple) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query")]
    return ".".join(parts) or "_form"


def errors_from(
    exc: Exception, rename: dict[str, str] | None = None, labels: dict[str, Label] | None = None
) -> dict[str, str]:
    """``{field: message}`` from a pydantic ValidationError, a ServiceError with field errors or a
    FormError: each message in plain English naming the field (``app.web.messages``, the one mapping),
    keyed by the form's field name (``rename`` maps an error's location to it)."""
    rename = rename or {}
    out: dict[str, str] = {}
    if isinstance(exc, FormError):
        return dict(exc.errors)
    if isinstance(exc, ValidationError):
        raw: list[dict] = list(exc.errors())
    elif isinstance(exc, ServiceError) and exc.errors:
        raw = exc.errors
    elif isinstance(exc, ServiceError):
        return {"_form": exc.detail}
    else:
        raise exc
    for e in raw:
        key = field_key(e["loc"])
        key = rename.get(key, key)
        out.setdefault(key, message(key, e, labels))
    return out


def money_text(raw: str) -> str:
    """An amount as a person typed it, made ready for the one money rule (``app.money``, which reads £,
    commas and decimals): spaces inside it, as in "1 250 000" or a pasted non-breaking space, are
    removed. Used by every web form that takes money (proposals, cycle budgets)."""
    return re.sub(r"\s+", "", raw)


def text(form: Any, name: str) -> str:
    value = form.get(name)
    return "" if value is None else str(value).strip()


def last_event_id(session: Session, actor_id: int, *where: Any) -> int | None:
    """The newest audit record ``actor_id`` wrote that matches ``where``: after a form is sent, the
    post/redirect/get address names it, so the next page tells what was done and a reload does nothing."""
    return session.scalar(
        select(AuditEvent.id)
        .where(AuditEvent.actor_id == actor_id, *where)
        .order_by(AuditEvent.id.desc())
        .limit(1)
    )
