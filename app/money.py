"""Money and other exact two-place decimals in the API: decimal strings in, decimal strings out.

The one money rule, used by the API, the import and the web forms: ``1250000``, ``1250000.5``,
``1,250,000.50`` and ``£1,250,000`` are read; a comma only ever separates groups of three digits, so
``1,2,3`` or ``1,50`` are refused rather than guessed at. No exponents, at most two decimal places, and
at most ``MAX_MONEY`` either way. Input is bounded before any Decimal arithmetic, so no amount can raise
``InvalidOperation`` or take long to read.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

TWO_PLACES = Decimal("0.01")
MAX_MONEY = Decimal("999999999999.99")
MAX_WHOLE_POUNDS = 999_999_999_999
MAX_TEXT = 40  # characters: the longest amount, with sign, £, commas and decimals, is 22

_AMOUNT = re.compile(
    r"""
    (?P<sign>[-+]?)\s*£?\s*(?P<sign2>[-+]?)   # a sign before or after an optional pound sign
    (?P<whole>\d{1,3}(?:,\d{3})+|\d*)          # 1,250,000 or 1250000 (or nothing, as in .50)
    (?:\.(?P<fraction>\d*))?
    """,
    re.VERBOSE | re.ASCII,
)
_EXAMPLE = '"1250000.00" or "1,250,000.00"'


class AmountError(ValueError):
    """An amount that cannot be read, with ``reason`` saying why (``format``, ``places``, ``negative`` or
    ``too_large``), so that the web client can word the message for the field without parsing the text."""

    def __init__(self, message: str, reason: str = "format") -> None:
        super().__init__(message)
        self.reason = reason


def _not_an_amount(value: Any) -> ValueError:
    shown = str(value) if len(str(value)) <= MAX_TEXT else str(value)[:MAX_TEXT] + "…"
    if "," in shown:
        return AmountError(
            f"'{shown}' is not an amount: a comma must separate groups of three digits, as in {_EXAMPLE}"
        )
    return AmountError(f"'{shown}' is not a decimal amount such as {_EXAMPLE}")


def _parse_text(value: str) -> Decimal:
    text = value.strip()
    if len(text) > MAX_TEXT:
        raise AmountError(f"an amount is at most {MAX_TEXT} characters, such as {_EXAMPLE}")
    if text.lstrip("+-").lower() in ("nan", "snan", "inf", "infinity"):
        raise AmountError("amount must be a finite number")
    m = _AMOUNT.fullmatch(text)
    if m is None or (m["sign"] and m["sign2"]) or not (m["whole"] or m["fraction"]):
        raise _not_an_amount(value)
    whole = m["whole"].replace(",", "").lstrip("0") or "0"
    fraction = (m["fraction"] or "").rstrip("0")
    if len(fraction) > 2:
        raise AmountError("amount has more than two decimal places", "places")
    if len(whole) > len(str(MAX_WHOLE_POUNDS)):
        raise AmountError(f"amount must be at most {MAX_MONEY}", "too_large")
    negative = "-" in (m["sign"], m["sign2"])
    return Decimal(f"{'-' if negative else ''}{whole}.{fraction or '0'}")


def parse_fixed2(value: Any, *, allow_negative: bool = False) -> Decimal:
    """Parse a decimal string or integer into an exact two-place Decimal.

    Binary floats are refused: a JSON number with a fraction may already have lost pence.
    Raises ``ValueError`` (a field error) for anything else, however large or malformed.
    """
    if isinstance(value, bool):
        raise AmountError(f"expected a decimal string such as {_EXAMPLE}")
    if isinstance(value, float):
        raise AmountError('give amounts as a decimal string such as "1250000.00", not a JSON number')
    if isinstance(value, int):
        if abs(value) > MAX_WHOLE_POUNDS:  # checked before Decimal: 10**26 cannot be quantised
            raise AmountError(f"amount must be at most {MAX_MONEY}", "too_large")
        amount = Decimal(value)
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise AmountError("amount must be a finite number")
        if abs(value) > MAX_MONEY:  # a comparison needs no precision; quantize would
            raise AmountError(f"amount must be at most {MAX_MONEY}", "too_large")
        amount = value
        if amount != amount.quantize(TWO_PLACES):
            raise AmountError("amount has more than two decimal places", "places")
    elif isinstance(value, str):
        amount = _parse_text(value)
    else:
        raise AmountError(f"expected a decimal string such as {_EXAMPLE}")
    if not allow_negative and amount < 0:
        raise AmountError("amount must not be negative", "negative")
    if abs(amount) > MAX_MONEY:
        raise AmountError(f"amount must be at most {MAX_MONEY}", "too_large")
    return amount.quantize(TWO_PLACES)


def format_fixed2(value: Decimal) -> str:
    return f"{value.quantize(TWO_PLACES):f}"


def _schema(sign: str, minimum: int) -> WithJsonSchema:
    """The canonical forms in the schema: a decimal string of at most twelve whole digits and two places, or
    a whole number (the other written forms above are read too, for people typing them)."""
    return WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": rf"^{sign}\d{{1,12}}(\.\d{{1,2}})?$"},
                {"type": "integer", "minimum": minimum, "maximum": MAX_WHOLE_POUNDS},
            ],
            "examples": ["1250000.00"],
        },
        mode="validation",
    )


# In answers, always a decimal string with two places.
_ANSWER = WithJsonSchema(
    {"type": "string", "pattern": r"^-?\d+\.\d{2}$", "examples": ["1250000.00"]}, mode="serialization"
)

Money = Annotated[
    Decimal,
    BeforeValidator(parse_fixed2),
    PlainSerializer(format_fixed2, return_type=str),
    _schema("", 0),
    _ANSWER,
]
SignedFixed2 = Annotated[
    Decimal,
    BeforeValidator(lambda v: parse_fixed2(v, allow_negative=True)),
    PlainSerializer(format_fixed2, return_type=str),
    _schema("-?", -MAX_WHOLE_POUNDS),
    _ANSWER,
]
