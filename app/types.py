"""Bounded input types shared by every schema and endpoint: the one rule for integers and text.

Integers are bounded to what the columns hold on both databases (PostgreSQL ``INTEGER`` is 32-bit), so
an id, version, offset or limit beyond them is a ``422`` naming the parameter, never a driver overflow.
Text refuses control characters (NUL, escape, form feed…), which PostgreSQL cannot store (NUL) and
spreadsheets cannot hold (XLSX is XML); multi-line text keeps tab, line feed and carriage return.

    cycle_id: Id                                    # a path or query parameter
    version: Version | None = None                  # a body field
    title: SingleLine = Field(min_length=3, max_length=300)
    q: Annotated[SingleLine | None, Query(max_length=200)] = None
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Final

from annotated_types import Ge, Le
from pydantic import AfterValidator, AllowInfNan, BeforeValidator

INT32_MAX: Final = 2_147_483_647
INT32_MIN: Final = -2_147_483_648


def not_a_bool(value: object) -> object:
    """JSON's true and false are not the numbers 1 and 0 (the schema says integer)."""
    if isinstance(value, bool):
        raise ValueError("must be an integer, not true or false")
    return value


_NO_BOOL = BeforeValidator(not_a_bool)

PositiveInt32 = Annotated[int, Ge(1), Le(INT32_MAX), _NO_BOOL]
"""A count or id held in an INTEGER column (1 … 2147483647)."""

Id = PositiveInt32
"""A row id (1 … 2147483647)."""

Version = Annotated[int, Ge(0), Le(INT32_MAX), _NO_BOOL]
"""A row version as read (0 … 2147483647; a scorecard not yet saved is at version 0)."""

Offset = Annotated[int, Ge(0), Le(INT32_MAX), _NO_BOOL]
"""Items to skip in a list (0 … 2147483647)."""

Int32 = Annotated[int, Ge(INT32_MIN), Le(INT32_MAX), _NO_BOOL]
"""Any other integer stored in an INTEGER column (a score: the cycle's scale is checked by the service)."""

MAX_WEIGHT: Final = 1_000_000.0
Weight = Annotated[float, Le(MAX_WEIGHT), AllowInfNan(False)]
"""A typed weight (direct, points, swing): a finite number up to a million; the maths divides by the total,
so only proportions matter. Negative numbers are left to the maths, which names the rule."""

# Refused everywhere: C0 controls but tab, LF and CR; DEL and the C1 controls; lone surrogates (no UTF-8
# form, so no database can store them); U+FFFE and U+FFFF (not characters, and not allowed in XML).
_MULTI_LINE_REFUSED = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff"
_MULTI_LINE_BAD = re.compile(f"[{_MULTI_LINE_REFUSED}]")
_SINGLE_LINE_BAD = re.compile(f"[\t\n\r{_MULTI_LINE_REFUSED}]")

_NAMES = {
    "\x00": "NUL",
    "\t": "tab",
    "\n": "line feed",
    "\r": "carriage return",
    "\x1b": "escape",
    "\x7f": "DEL",
}


def _describe(ch: str) -> str:
    code = f"U+{ord(ch):04X}"
    return f"{_NAMES[ch]} ({code})" if ch in _NAMES else code


def single_line(value: str) -> str:
    """Refuse every control character, tab and line breaks included (titles, names, searches)."""
    bad = _SINGLE_LINE_BAD.search(value)
    if bad:
        raise ValueError(
            f"must be a single line without control characters; found {_describe(bad.group())} "
            f"at character {bad.start() + 1}"
        )
    return value


def is_single_line(value: str) -> bool:
    """True when ``value`` holds no control character (the test of :data:`SingleLine`, as a question)."""
    return _SINGLE_LINE_BAD.search(value) is None


def multi_line(value: str) -> str:
    """Refuse control characters other than tab, line feed and carriage return (summaries, notes)."""
    bad = _MULTI_LINE_BAD.search(value)
    if bad:
        raise ValueError(
            f"must not contain control characters other than tab and line breaks; found "
            f"{_describe(bad.group())} at character {bad.start() + 1}"
        )
    return value


def utc(value: datetime) -> datetime:
    """A moment as UTC: one without a zone is read as UTC; one that leaves years 1-9999 is refused."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("is outside the years 1 to 9999 once converted to UTC") from None


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)


def iso_text(value: object) -> object:
    """Refuse a bare number for a date and time: it would be read as seconds since 1970, which the schema
    (``format: date-time``) does not offer and nobody means by ``until=0.5``."""
    if isinstance(value, int | float) or (isinstance(value, str) and not _ISO_DATE.match(value.strip())):
        raise ValueError("must be an ISO 8601 date or date and time, such as 2026-11-29T09:30:00Z")
    return value


class _JsonPattern:
    """Adds ``pattern`` to a text type's JSON schema (the validator does the refusing, with a better
    message), so that the OpenAPI schema says which characters a field takes."""

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern

    def __get_pydantic_json_schema__(self, core_schema, handler):
        schema = handler(core_schema)
        schema.setdefault("pattern", self.pattern)  # a field's own, stricter pattern stays
        return schema


def _escaped(chars: str) -> str:
    """A character class's contents as ``\\uXXXX`` escapes (ranges kept), readable by any regex engine."""
    return "".join(c if c == "-" else f"\\u{ord(c):04x}" for c in chars)


# Lone surrogates are left out of the documented patterns: they are not characters, no UTF-8 text holds
# one, and regex engines that work on characters (as JSON Schema's do) refuse them in a class.
_DOCUMENTED = _MULTI_LINE_REFUSED.replace("\ud800-\udfff", "")
SINGLE_LINE_PATTERN: Final = f"^[^{_escaped(chr(9) + chr(10) + chr(13) + _DOCUMENTED)}]*$"
MULTI_LINE_PATTERN: Final = f"^[^{_escaped(_DOCUMENTED)}]*$"

UtcDateTime = Annotated[datetime, BeforeValidator(iso_text), AfterValidator(utc)]
"""A date and time filter (ISO 8601); without a zone it is UTC, as every stored time is."""

SingleLine = Annotated[str, AfterValidator(single_line), _JsonPattern(SINGLE_LINE_PATTERN)]
"""One line of text: titles, names, references, emails, search terms."""

MultiLine = Annotated[str, AfterValidator(multi_line), _JsonPattern(MULTI_LINE_PATTERN)]
"""Free text that may span lines: summaries, rationales, notes, reasons, self-assessments."""
