from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator, model_validator

from app.types import Id, Int32, MultiLine, Version


class Answer(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    principle: int = Field(ge=1, le=12)
    score: Int32 | None = Field(
        None, description="An integer on the cycle's scale; null with not_applicable."
    )
    not_applicable: StrictBool = False
    rationale: MultiLine = Field("", max_length=5000)
    confidence: int | None = Field(None, ge=1, le=3, description="1 low, 2 medium, 3 high.")

    @model_validator(mode="after")
    def _score_or_na(self) -> Answer:
        if self.not_applicable and self.score is not None:
            raise ValueError("give a score or not_applicable, not both")
        return self


def _unique_principles(answers: list[Answer]) -> list[Answer]:
    seen = set()
    for a in answers:
        if a.principle in seen:
            raise ValueError(f"principle {a.principle} is given twice")
        seen.add(a.principle)
    return answers


class ScorecardPut(BaseModel):
    """Saves the answers given (others are kept); ``submit: true`` checks completeness and locks it."""

    model_config = ConfigDict(extra="forbid")

    scores: list[Answer] = Field(default_factory=list, max_length=12)
    submit: StrictBool = False
    version: Version | None = Field(
        None, description="The version you read; stale → 409. Omit to merge answers."
    )

    _u = field_validator("scores")(_unique_principles)


class AnswerOut(BaseModel):
    principle: int
    score: int | None
    not_applicable: bool
    rationale: str
    confidence: int | None


class ScorecardOut(BaseModel):
    id: int | None
    proposal_id: int
    scorer_id: int
    status: str = Field(description="'new' (nothing saved yet), 'draft' or 'submitted'")
    version: int
    submitted_at: datetime | None
    updated_at: datetime | None
    scores: list[AnswerOut]
    missing: list[int] = Field(description="Principles not yet answered.")
    counts_in_aggregation: bool = Field(description="False when the scorer has a conflict on the proposal.")


class BatchItem(ScorecardPut):
    proposal_id: Id


class BatchPut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[BatchItem] = Field(min_length=1, max_length=500)


class BatchOut(BaseModel):
    saved: int
    submitted: int
    items: list[ScorecardOut]


class Reopen(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: MultiLine = Field(min_length=3, max_length=2000)


class ModeratedAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    principle: int = Field(ge=1, le=12)
    score: Int32 | None = None
    not_applicable: StrictBool = False
    note: MultiLine = Field("", max_length=5000)

    @model_validator(mode="after")
    def _rules(self) -> ModeratedAnswer:
        if self.not_applicable and self.score is not None:
            raise ValueError("give a score or not_applicable, not both")
        if (self.score is not None or self.not_applicable) and not self.note:
            raise ValueError("a note is required with a moderated score (why the panel agreed it)")
        return self


class ModerationPut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scores: list[ModeratedAnswer] = Field(
        min_length=1,
        max_length=12,
        description="A score (or not_applicable) with a note; score null and "
        "not_applicable false clears the principle's moderated score.",
    )

    _u = field_validator("scores")(_unique_principles)


class ModeratedOut(BaseModel):
    principle: int
    score: int | None
    not_applicable: bool
    note: str
    moderated_by_id: int | None
    updated_at: datetime


class AllocationItem(BaseModel):
    proposal_id: int
    reference: str
    title: str
    capability: str
    cycle_id: int
    cycle_status: str = Field(description="Scorecards are saved only while this is 'scoring'.")
    panel_id: int
    panel_name: str
    scorecard_status: str = Field(description="'new' (nothing saved yet), 'draft' or 'submitted'")
    answered: int = Field(description="How many of the twelve principles your scorecard answers.")
    conflict: str | None


class PrincipleAgreement(BaseModel):
    principle: int
    n: int
    spread: float | None
    sd: float | None
    needs_moderation: bool = Field(
        description="Spread of answered scores at least the cycle's threshold, and not yet moderated."
    )
    moderated: bool = Field(description="The chair has agreed a score for this principle.")


class ProposalAgreement(BaseModel):
    proposal_id: int
    reference: str
    scorers: int
    max_spread: float | None
    needs_moderation: bool
    principles: list[PrincipleAgreement]


class ScorerLeniency(BaseModel):
    scorer_id: int
    name: str
    scores: int
    leniency: float | None = Field(description="Mean deviation from the panel mean (positive = generous).")


class CycleAgreement(BaseModel):
    cycle_id: int
    disagreement_threshold: int = Field(description="The cycle's setting: spreads this wide are flagged.")
    krippendorff_alpha: float | None = Field(description="Ordinal alpha over all cells; null when undefined.")
    proposals: list[ProposalAgreement]
    scorers: list[ScorerLeniency]
