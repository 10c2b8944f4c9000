from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, Hundredths, TimestampMixin


class CycleStatus(StrEnum):
    draft = "draft"
    open = "open"
    scoring = "scoring"
    moderation = "moderation"
    closed = "closed"


class NotApplicablePolicy(StrEnum):
    minimum = "minimum"
    redistribute = "redistribute"


class Cycle(TimestampMixin, Base):
    __tablename__ = "cycles"
    __table_args__ = (
        CheckConstraint("scale_min < scale_max", name="scale_ordered"),
        CheckConstraint(
            "status IN ('draft', 'open', 'scoring', 'moderation', 'closed')", name="status_known"
        ),
        CheckConstraint("not_applicable_policy IN ('minimum', 'redistribute')", name="na_policy_known"),
        CheckConstraint("min_scorecards >= 1", name="min_scorecards_positive"),
        CheckConstraint("disagreement_threshold >= 1", name="disagreement_threshold_positive"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    reference_prefix: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default=CycleStatus.draft.value)
    scale_min: Mapped[int] = mapped_column(Integer, default=0)
    scale_max: Mapped[int] = mapped_column(Integer, default=5)
    scale_labels: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    not_applicable_policy: Mapped[str] = mapped_column(String(20), default=NotApplicablePolicy.minimum.value)
    proposal_seq: Mapped[int] = mapped_column(Integer, default=0)
    # Quorum: a proposal is ranked once this many eligible panel members have submitted (capped by how
    # many the panel can give). Disagreement: a spread of answered scores this wide is flagged.
    min_scorecards: Mapped[int] = mapped_column(Integer, default=3, server_default="3")
    disagreement_threshold: Mapped[int] = mapped_column(Integer, default=2, server_default="2")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    years: Mapped[list[CycleYear]] = relationship(
        back_populates="cycle",
        cascade="all, delete-orphan",
        lazy="selectin",
        order_by="CycleYear.position",
    )

    __mapper_args__ = {"version_id_col": version}

    @property
    def financial_years(self) -> list[str]:
        return [y.year for y in self.years]

    @property
    def budgets(self) -> dict[str, Decimal | None]:
        return {y.year: y.budget for y in self.years}


class CycleYear(Base):
    """A financial year of a cycle ("2022-23") with its budget envelope."""

    __tablename__ = "cycle_years"
    __table_args__ = (
        UniqueConstraint("cycle_id", "year"),
        UniqueConstraint("cycle_id", "position"),
        CheckConstraint("budget >= 0", name="budget_non_negative"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycles.id", ondelete="CASCADE"))
    year: Mapped[str] = mapped_column(String(7))
    position: Mapped[int] = mapped_column(Integer)
    budget: Mapped[Decimal | None] = mapped_column(Hundredths(), nullable=True)

    cycle: Mapped[Cycle] = relationship(back_populates="years", lazy="raise")
