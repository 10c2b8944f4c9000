from __future__ import annotations

import re
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from app.models import CycleStatus, NotApplicablePolicy
from app.money import Money
from app.types import MultiLine, SingleLine, Version

YEAR_RE = re.compile(r"^(\d{4})-(\d{2})$")

DEFAULT_SCALE_LABELS = {
    "0": "No contribution",
    "1": "Minimal contribution",
    "2": "Some contribution",
    "3": "Good contribution",
    "4": "Strong contribution",
    "5": "Transformational",
}


def check_financial_years(years: list[str]) -> list[str]:
    """Financial years look like "2022-23" and follow one another without gaps."""
    starts = []
    for y in years:
        m = YEAR_RE.match(y)
        if not m or (int(m.group(1)) + 1) % 100 != int(m.group(2)):
            raise ValueError(f"'{y}' is not a financial year like \"2022-23\"")
        starts.append(int(m.group(1)))
    if len(set(starts)) != len(starts):
        raise ValueError("financial years repeat")
    for a, b in zip(starts, starts[1:], strict=False):
        if b != a + 1:
            raise ValueError(
                f"financial years must be consecutive: {a}-{(a + 1) % 100:02d} is followed by "
                f"{b}-{(b + 1) % 100:02d}"
            )
    return years


def check_labels(labels: dict[str, str], lo: int, hi: int) -> None:
    for key in labels:
        if not key.lstrip("-").isdigit() or not lo <= int(key) <= hi:
            raise ValueError(f"scale label key '{key}' is not a level between {lo} and {hi}")


def check_threshold(threshold: int, lo: int, hi: int) -> None:
    if threshold > hi - lo:
        raise ValueError(
            f"disagreement_threshold {threshold} is wider than the scale {lo} to {hi}: "
            f"no spread could reach it (at most {hi - lo})"
        )


class CycleCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: SingleLine = Field(min_length=1, max_length=200, examples=["SR21 SE&RR"])
    reference_prefix: str | None = Field(  # the pattern admits no control character
        None,
        pattern=r"^[A-Z0-9]{1,12}$",
        description="Prefix of generated proposal references (default: "
        "the first word of the name, e.g. SR21 → SR21-014).",
    )
    financial_years: list[SingleLine] = Field(
        min_length=1, max_length=10, examples=[["2022-23", "2023-24", "2024-25"]]
    )
    budgets: dict[str, Money] = Field(default_factory=dict, description="Budget envelope per financial year.")
    scale_min: int = Field(0, ge=-10, le=100)
    scale_max: int = Field(5, ge=-10, le=100)
    scale_labels: dict[str, SingleLine] | None = Field(
        None, description="A descriptor per scale level, keyed by level."
    )
    not_applicable_policy: NotApplicablePolicy = NotApplicablePolicy.minimum
    min_scorecards: int = Field(
        3,
        ge=1,
        le=100,
        description="Quorum: submitted scorecards a proposal needs before it is ranked (capped by the "
        "eligible panel members of each proposal).",
    )
    disagreement_threshold: int = Field(
        2,
        ge=1,
        le=110,
        description="A spread (highest minus lowest answered score, on the scale) at least this wide is "
        "flagged for moderation.",
    )

    _years = field_validator("financial_years")(check_financial_years)

    @field_validator("budgets")
    @classmethod
    def _budgets_for_known_years(cls, budgets: dict[str, Money], info: ValidationInfo) -> dict[str, Money]:
        # An error on the budgets field itself (not the whole body), so forms can show it beside the field.
        years = info.data.get("financial_years")
        unknown = sorted(set(budgets) - set(years)) if years is not None else []
        if unknown:
            raise ValueError(f"budgets given for years not in financial_years: {', '.join(unknown)}")
        return budgets

    @model_validator(mode="after")
    def _consistent(self) -> CycleCreate:
        if self.scale_min >= self.scale_max:
            raise ValueError("scale_min must be below scale_max")
        if self.scale_labels is not None:
            check_labels(self.scale_labels, self.scale_min, self.scale_max)
        check_threshold(self.disagreement_threshold, self.scale_min, self.scale_max)
        return self


class CycleUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: Version | None = Field(None, description="The version you read; a stale one gets 409.")
    name: SingleLine | None = Field(None, min_length=1, max_length=200)
    reference_prefix: str | None = Field(None, pattern=r"^[A-Z0-9]{1,12}$")
    financial_years: list[SingleLine] | None = Field(None, min_length=1, max_length=10)
    budgets: dict[str, Money | None] | None = None
    scale_min: int | None = Field(None, ge=-10, le=100)
    scale_max: int | None = Field(None, ge=-10, le=100)
    scale_labels: dict[str, SingleLine] | None = None
    not_applicable_policy: NotApplicablePolicy | None = None
    min_scorecards: int | None = Field(None, ge=1, le=100)
    disagreement_threshold: int | None = Field(None, ge=1, le=110)

    @field_validator("financial_years")
    @classmethod
    def _years(cls, v: list[str] | None) -> list[str] | None:
        return None if v is None else check_financial_years(v)


class Transition(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to: CycleStatus
    reason: MultiLine | None = Field(None, max_length=1000)


class CycleOut(BaseModel):
    id: int
    name: str
    reference_prefix: str
    status: CycleStatus
    financial_years: list[str]
    budgets: dict[str, Money | None]
    scale_min: int
    scale_max: int
    scale_labels: dict[str, str]
    not_applicable_policy: NotApplicablePolicy
    min_scorecards: int = Field(description="Quorum: submitted scorecards a proposal needs to be ranked.")
    disagreement_threshold: int = Field(description="Spread of answered scores flagged for moderation.")
    allowed_transitions: list[CycleStatus]
    version: int
    created_at: datetime
    updated_at: datetime
