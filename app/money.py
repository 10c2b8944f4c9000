"""Money and other exact two-place decimals in the API: decimal strings in, decimal strings out."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

TWO_PLACES = Decimal("0.01")
MAX_MONEY = Decimal("999999999999.99")


def parse_fixed2(value: Any, *, allow_negative: bool = False) -> Decimal:
    """Parse a decimal string or integer into an exact two-place Decimal.

    Binary floats are refused: a JSON number with a fraction may already have lost pence.
    """
    if isinstance(value, bool):
        raise ValueError('expected a decimal string such as "1250000.00"')
    if isinstance(value, float):
        raise ValueError('give amounts as a decimal string such as "1250000.00", not a JSON number')
    if isinstance(value, int):
        amount = Decimal(value)
    elif isinstance(value, Decimal):
        amount = value
    elif isinstance(value, str):
        text = value.strip().replace(",", "")
        if text.startswith("£"):
            text = text[1:]
        try:
            amount = Decimal(text)
        except InvalidOperation:
            raise ValueError(f"'{value}' is not a decimal amount such as \"1250000.00\"") from None
    else:
        raise ValueError('expected a decimal string such as "1250000.00"')
    if not amount.is_finite():
        raise ValueError("amount must be a finite number")
    if amount != amount.quantize(TWO_PLACES):
        raise ValueError("amount has more than two decimal places")
    if not allow_negative and amount < 0:
        raise ValueError("amount must not be negative")
    if abs(amount) > MAX_MONEY:
        raise ValueError(f"amount must be at most {MAX_MONEY}")
    return amount.quantize(TWO_PLACES)


def format_fixed2(value: Decimal) -> str:
    return f"{value.quantize(TWO_PLACES):f}"


_schema = WithJsonSchema({"type": "string", "pattern": r"^-?\d+(\.\d{1,2})?$", "examples": ["1250000.00"]})

Money = Annotated[
    Decimal,
    BeforeValidator(parse_fixed2),
    PlainSerializer(format_fixed2, return_type=str),
    _schema,
]
SignedFixed2 = Annotated[
    Decimal,
    BeforeValidator(lambda v: parse_fixed2(v, allow_negative=True)),
    PlainSerializer(format_fixed2, return_type=str),
    _schema,
]
