from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.models import CONFLICT_TYPES
from app.types import Id, MultiLine, SingleLine, Version


def _unique(ids: list[int] | None) -> list[int] | None:
    if ids is None:
        return None
    seen = set()
    for i in ids:
        if i in seen:
            raise ValueError(f"{i} is listed twice")
        seen.add(i)
    return ids


class PanelCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: SingleLine = Field(min_length=1, max_length=200)
    chair_id: Id | None = Field(None, description="Default: you (a chair creates panels they chair).")
    member_ids: list[Id] = Field(default_factory=list, description="Scorers on the panel.")
    proposal_ids: list[Id] = Field(default_factory=list, description="Proposals assigned to the panel.")

    _m = field_validator("member_ids", "proposal_ids")(_unique)


class PanelUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    version: Version | None = None
    name: SingleLine | None = Field(None, min_length=1, max_length=200)
    chair_id: Id | None = None
    member_ids: list[Id] | None = Field(None, description="Replaces the members.")
    proposal_ids: list[Id] | None = Field(None, description="Replaces the assigned proposals.")

    _m = field_validator("member_ids", "proposal_ids")(_unique)


class PanelOut(BaseModel):
    id: int
    cycle_id: int
    name: str
    chair_id: int
    member_ids: list[int]
    proposal_ids: list[int]
    version: int
    created_at: datetime
    updated_at: datetime


class ConflictCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    user_id: Id | None = Field(
        None, description="Default: you (a declaration). Chairs and admins record others'."
    )
    type: SingleLine = Field(
        description="One of: " + ", ".join(CONFLICT_TYPES), json_schema_extra={"enum": list(CONFLICT_TYPES)}
    )
    reason: MultiLine = Field(min_length=3, max_length=2000)

    @field_validator("type")
    @classmethod
    def _type(cls, v: str) -> str:
        if v not in CONFLICT_TYPES:
            raise ValueError("type must be one of: " + ", ".join(CONFLICT_TYPES))
        return v


class ConflictOut(BaseModel):
    id: int | None = Field(description="None for the automatic conflict of a proposal's own proposer.")
    proposal_id: int
    user_id: int
    type: str
    reason: str
    recorded_by_id: int | None
    automatic: bool
    created_at: datetime | None


class ProgressScorer(BaseModel):
    scorer_id: int
    name: str
    assigned: int
    drafted: int
    submitted: int


class MissingScorecard(BaseModel):
    scorer_id: int
    scorer_name: str
    proposal_id: int
    reference: str
    state: str = Field(description="'not started' or 'draft'")


class PanelProgress(BaseModel):
    panel_id: int
    name: str
    chair_id: int
    proposals: int
    expected: int = Field(description="Scorecards due: members × assigned proposals, less conflicts.")
    drafted: int
    submitted: int
    scorers: list[ProgressScorer]
    missing: list[MissingScorecard]


class CycleProgress(BaseModel):
    cycle_id: int
    panels: list[PanelProgress]
