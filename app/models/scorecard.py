from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, TimestampMixin, UTCDateTime, utcnow


class Scorecard(TimestampMixin, Base):
    """One scorer's scores for one proposal: a draft until submitted, then locked until reopened.

    Its answers live in ``scorecard_answers``, one row per principle, so concurrent saves of different
    principles never overwrite each other. ``version`` is bumped by every save with a plain atomic
    ``UPDATE … SET version = version + 1``, which also serialises writers of one scorecard.
    """

    __tablename__ = "scorecards"
    __table_args__ = (
        UniqueConstraint("proposal_id", "scorer_id"),
        CheckConstraint("status IN ('draft', 'submitted')", name="status_known"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id", ondelete="CASCADE"), index=True)
    scorer_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="draft")
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1)


class ScorecardAnswer(Base):
    """One principle of a scorecard: an integer on the cycle's scale, or not applicable."""

    __tablename__ = "scorecard_answers"
    __table_args__ = (
        CheckConstraint("NOT (not_applicable AND score IS NOT NULL)", name="score_or_na"),
        CheckConstraint("confidence IS NULL OR confidence BETWEEN 1 AND 3", name="confidence_range"),
    )

    scorecard_id: Mapped[int] = mapped_column(
        ForeignKey("scorecards.id", ondelete="CASCADE"), primary_key=True
    )
    principle_number: Mapped[int] = mapped_column(ForeignKey("principles.number"), primary_key=True)
    score: Mapped[int | None] = mapped_column(Integer, nullable=True)
    not_applicable: Mapped[bool] = mapped_column(Boolean, default=False)
    rationale: Mapped[str] = mapped_column(Text, default="")
    confidence: Mapped[int | None] = mapped_column(Integer, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class ModeratedScore(Base):
    """The chair's consensus score for one principle of a proposal, with a note."""

    __tablename__ = "moderated_scores"
    __table_args__ = (CheckConstraint("NOT (not_applicable AND score IS NOT NULL)", name="score_or_na"),)

    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id", ondelete="CASCADE"), primary_key=True)
    principle_number: Mapped[int] = mapped_column(ForeignKey("principles.number"), primary_key=True)
    score: Mapped[int | None] = mapped_column(Integer, nullable=True)
    not_applicable: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str] = mapped_column(Text)
    moderated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
