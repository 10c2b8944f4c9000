from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, Hundredths, TimestampMixin


class ProposalKind(StrEnum):
    investment = "investment"
    efficiency = "efficiency"
    reinvestment = "reinvestment"


class ProposalStatus(StrEnum):
    draft = "draft"
    submitted = "submitted"
    withdrawn = "withdrawn"


class Proposal(TimestampMixin, Base):
    __tablename__ = "proposals"
    __table_args__ = (
        UniqueConstraint("cycle_id", "reference"),
        CheckConstraint("kind IN ('investment', 'efficiency', 'reinvestment')", name="kind_known"),
        CheckConstraint("status IN ('draft', 'submitted', 'withdrawn')", name="status_known"),
        Index("ix_proposals_cycle_id_status", "cycle_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycles.id", ondelete="RESTRICT"))
    reference: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(300))
    capability: Mapped[str] = mapped_column(String(120), index=True)
    kind: Mapped[str | None] = mapped_column(String(20))  # a draft may not have chosen one yet
    summary: Mapped[str] = mapped_column(Text, default="")
    lead: Mapped[str] = mapped_column(String(200))
    fte_change: Mapped[Decimal] = mapped_column(Hundredths(), default=Decimal("0"))
    status: Mapped[str] = mapped_column(String(20), default=ProposalStatus.submitted.value)
    proposer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    financials: Mapped[list[ProposalFinancial]] = relationship(
        back_populates="proposal",
        cascade="all, delete-orphan",
        lazy="raise",
        order_by="ProposalFinancial.year",
    )
    self_assessments: Mapped[list[ProposalSelfAssessment]] = relationship(
        back_populates="proposal",
        cascade="all, delete-orphan",
        lazy="raise",
        order_by="ProposalSelfAssessment.principle_number",
    )

    __mapper_args__ = {"version_id_col": version}


# A reference is unique in its cycle whatever its case: "RACE-1" and "race-1" are one reference. The
# service checks first for a friendly error; this index decides when two creates race.
Index(
    "uq_proposals_cycle_id_lower_reference",
    Proposal.cycle_id,
    func.lower(Proposal.reference),
    unique=True,
)


class ProposalFinancial(Base):
    """Cost and cash-releasing saving of a proposal in one financial year, in exact pounds and pence."""

    __tablename__ = "proposal_financials"
    __table_args__ = (
        UniqueConstraint("proposal_id", "year"),
        CheckConstraint("cost >= 0", name="cost_non_negative"),
        CheckConstraint("saving >= 0", name="saving_non_negative"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id", ondelete="CASCADE"))
    year: Mapped[str] = mapped_column(String(7))
    cost: Mapped[Decimal] = mapped_column(Hundredths())
    saving: Mapped[Decimal] = mapped_column(Hundredths())

    proposal: Mapped[Proposal] = relationship(back_populates="financials", lazy="raise")


class ProposalSelfAssessment(Base):
    """The proposer's own account of how the proposal meets one principle."""

    __tablename__ = "proposal_self_assessments"

    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id", ondelete="CASCADE"), primary_key=True)
    principle_number: Mapped[int] = mapped_column(ForeignKey("principles.number"), primary_key=True)
    text: Mapped[str] = mapped_column(Text)

    proposal: Mapped[Proposal] = relationship(back_populates="self_assessments", lazy="raise")
