from __future__ import annotations

import re
from datetime import datetime
from fractions import Fraction
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator, model_validator

from app.types import Id, Int32, MultiLine, SingleLine, Weight

# A ratio typed as text: a plain decimal or a fraction of whole numbers, short enough to read at once
# (an exponent such as 1e10000000 would make a number with ten million digits before it could be refused).
RATIO_TEXT = re.compile(r"\s*(?:\d{1,6}(?:\.\d{0,12})?|\.\d{1,12}|\d{1,6}\s*/\s*\d{1,6})\s*", re.ASCII)


class Comparison(BaseModel):
    model_config = ConfigDict(extra="forbid")

    a: int = Field(ge=1, le=12)
    b: int = Field(ge=1, le=12)
    ratio: float = Field(
        allow_inf_nan=False,
        description="a is `ratio` times as important as b: 1/9 … 9 (a number, or text such as "
        '"0.5" or "1/3").',
    )

    @field_validator("ratio", mode="before")
    @classmethod
    def _fraction(cls, v: Any) -> Any:
        if isinstance(v, str):
            shown = v if len(v) <= 20 else v[:20] + "…"
            if len(v) > 40 or not RATIO_TEXT.fullmatch(v):
                raise ValueError(f"'{shown}' is not a ratio such as 3, 0.5 or 1/3")
            try:
                return float(Fraction(v.strip().replace(" ", "")))
            except ZeroDivisionError:
                raise ValueError(f"'{shown}' divides by zero; give a ratio such as 3 or 1/3") from None
        return v


class WeightingCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: SingleLine = Field(min_length=1, max_length=200)
    description: MultiLine = Field("", max_length=5000)
    method: Literal["direct", "points", "swing", "rank_order", "pairwise"]
    weights: dict[str, Weight] | None = Field(
        None,
        description='direct, points, swing: a non-negative number per principle ("1"…"12"), at most '
        "1000000 (only the proportions matter); principles left out weigh 0.",
        examples=[{"1": 3, "7": 5, "12": 1}],
    )
    order: list[list[Int32]] | None = Field(
        None,
        description="rank_order: groups of principles from most to least important; a group is a tie.",
        examples=[[[7], [2], [1, 5]]],
    )
    comparisons: list[Comparison] | None = Field(None, description="pairwise: Saaty 1-9 judgements.")
    predecessor_id: Id | None = Field(None, description="The weighting this one revises.")
    make_default: StrictBool = Field(False, description="Make this the cycle's default weighting.")

    @model_validator(mode="after")
    def _inputs_match_method(self) -> WeightingCreate:
        needed = {
            "direct": "weights",
            "points": "weights",
            "swing": "weights",
            "rank_order": "order",
            "pairwise": "comparisons",
        }[self.method]
        for field in ("weights", "order", "comparisons"):
            given = getattr(self, field) is not None
            if field == needed and not given:
                raise ValueError(f"method {self.method} needs '{field}'")
            if field != needed and given:
                raise ValueError(f"'{field}' does not apply to method {self.method} (it takes '{needed}')")
        return self


class WeightingOut(BaseModel):
    id: int
    cycle_id: int
    name: str
    description: str
    method: str
    inputs: dict[str, Any]
    weights: dict[str, float] = Field(description="Normalised weights keyed by principle number; sum to 1.")
    consistency_ratio: float | None = Field(
        description="pairwise (complete comparisons) only; > 0.1 is flagged."
    )
    diagnostics: dict[str, Any] | None
    is_default: bool
    predecessor_id: int | None
    created_by_id: int | None
    created_at: datetime
