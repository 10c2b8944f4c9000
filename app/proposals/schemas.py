from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.models import ProposalKind, ProposalStatus
from app.money import Money, SignedFixed2
from app.types import Id, MultiLine, SingleLine, Version


class FinancialLine(BaseModel):
    model_config = ConfigDict(extra="forbid")

    year: SingleLine = Field(examples=["2022-23"])
    cost: Money = Field(default=Decimal("0"), description="Cost in the year, GBP, decimal string.")
    saving: Money = Field(default=Decimal("0"), description="Cash-releasing saving in the year, GBP.")


def _check_self_assessment(value: dict[str, str] | None) -> dict[str, str] | None:
    if value is None:
        return None
    out = {}
    for key, text in value.items():
        if not key.isdigit() or not 1 <= int(key) <= 12:
            raise ValueError(f"self_assessment key '{key}' is not a principle number 1-12")
        if len(text) > 5000:
            raise ValueError(f"self_assessment for principle {key} is longer than 5000 characters")
        if text.strip():
            out[str(int(key))] = text.strip()
    return out


def _check_lines(lines: list[FinancialLine] | None) -> list[FinancialLine] | None:
    if lines is None:
        return None
    seen = set()
    for line in lines:
        if line.year in seen:
            raise ValueError(f"financial year {line.year} is given twice")
        seen.add(line.year)
    return lines


class ProposalFields(BaseModel):
    """The fields a proposer writes; shared by create, update and import so each rule lives once.

    Only the title is needed to save a draft; capability, kind and lead are checked when the proposal is
    submitted (``service.missing_to_submit``), by the API and the web client alike."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: SingleLine = Field(min_length=3, max_length=300)
    capability: SingleLine = Field("", max_length=120, description="Needed to submit; a draft may omit it.")
    kind: ProposalKind | None = Field(None, description="Needed to submit; a draft may omit it.")
    summary: MultiLine = Field("", max_length=20000)
    lead: SingleLine = Field(
        "", max_length=200, description="The capability lead's name. Needed to submit; a draft may omit it."
    )
    financials: list[FinancialLine] = Field(default_factory=list)
    fte_change: SignedFixed2 = Field(default=Decimal("0"), description="Change in full-time equivalents.")
    self_assessment: dict[str, MultiLine] = Field(
        default_factory=dict, description="Text per principle number."
    )

    _sa = field_validator("self_assessment")(_check_self_assessment)
    _fl = field_validator("financials")(_check_lines)


class ProposalCreate(ProposalFields):
    cycle_id: Id
    reference: str | None = Field(  # the pattern admits no control character
        None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,39}$",
        description="Unique in the cycle; generated like SR21-014 when absent.",
    )
    status: ProposalStatus = Field(ProposalStatus.submitted, description="draft or submitted.")


class ProposalUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    version: Version | None = Field(None, description="The version you read; a stale one gets 409.")
    reference: str | None = Field(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,39}$")
    title: SingleLine | None = Field(None, min_length=3, max_length=300)
    capability: SingleLine | None = Field(None, max_length=120, description="Empty only on a draft.")
    kind: ProposalKind | None = Field(None, description="null clears it: only on a draft.")
    summary: MultiLine | None = Field(None, max_length=20000)
    lead: SingleLine | None = Field(None, max_length=200, description="Empty only on a draft.")
    financials: list[FinancialLine] | None = Field(None, description="Replaces every year given.")
    fte_change: SignedFixed2 | None = None
    self_assessment: dict[str, MultiLine] | None = Field(
        None, description="Replaces the whole self-assessment."
    )
    status: ProposalStatus | None = None

    _sa = field_validator("self_assessment")(_check_self_assessment)
    _fl = field_validator("financials")(_check_lines)


class Withdrawal(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: Version | None = None
    reason: MultiLine = Field(min_length=1, max_length=2000)


class ProposalOut(BaseModel):
    id: int
    cycle_id: int
    reference: str
    title: str
    capability: str
    kind: ProposalKind | None = Field(description="null on a draft whose kind is not chosen yet.")
    summary: str
    lead: str
    status: ProposalStatus
    proposer_id: int | None
    financials: list[FinancialLine]
    total_cost: Money
    total_saving: Money
    net_cost: SignedFixed2
    fte_change: SignedFixed2
    self_assessment: dict[str, str]
    version: int
    created_at: datetime
    updated_at: datetime
