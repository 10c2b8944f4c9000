from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from app.money import Money
from app.rankings.schemas import Aggregation, Dependency
from app.types import Id, MultiLine, SingleLine


class SelectionSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    budgets: dict[str, Money] | None = None
    must_fund: list[Id] = Field(default_factory=list)
    exclude: list[Id] = Field(default_factory=list)
    dependencies: list[Dependency] = Field(default_factory=list)
    exclusive_groups: list[list[Id]] = Field(default_factory=list)
    time_limit_s: float = Field(10.0, gt=0, le=60)


class SubmissionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: SingleLine = Field(min_length=3, max_length=300)
    weighting_id: Id | None = Field(None, description="Default: the cycle's default weighting.")
    aggregation: Aggregation = "mean"
    selection: SelectionSpec | None = Field(None, description="Include a budget-constrained selection.")
    note: MultiLine = Field("", max_length=10000)
    supersedes_id: Id | None = Field(None, description="The submission this one replaces.")
    include_below_quorum: StrictBool = Field(
        False,
        description="Also rank and select proposals below quorum (each flagged below_quorum); the choice "
        "is frozen in the submission.",
    )
    override_reason: MultiLine | None = Field(
        None,
        max_length=2000,
        description="Admins only: why this submission is issued while the cycle is not yet in moderation "
        "or closed. Required then; recorded in the submission and the audit trail.",
    )


class SubmissionSummary(BaseModel):
    id: int
    cycle_id: int
    title: str
    note: str
    weighting_id: int
    aggregation: str
    status: str
    content_sha256: str
    supersedes_id: int | None
    superseded_by_id: int | None
    created_by_id: int | None
    created_at: datetime


class SubmissionOut(SubmissionSummary):
    content: dict[str, Any] = Field(
        description="The frozen document: inputs, selection request and results. The individual scorers' "
        "answers (content.inputs.answers) are shown to admins only; for others they are null."
    )
    answers_withheld: str | None = Field(
        None,
        description="Why content.inputs.answers is null in this response; null when it is shown. "
        "content_sha256 always covers the stored answers.",
    )


class Verification(BaseModel):
    submission_id: int
    content_sha256: str
    hash_matches: bool
    results_reproduce: bool
    verified: bool
    problems: list[str]
