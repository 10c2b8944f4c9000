from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, TimestampMixin, UTCDateTime, utcnow

CONFLICT_TYPES = ("line_management", "proposal_author", "financial", "personal", "other")


class Panel(TimestampMixin, Base):
    """A chair and members in a cycle, with the proposals assigned to it."""

    __tablename__ = "panels"
    __table_args__ = (UniqueConstraint("cycle_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycles.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    chair_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    members: Mapped[list[PanelMember]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="PanelMember.user_id"
    )
    assignments: Mapped[list[PanelProposal]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="PanelProposal.proposal_id"
    )

    __mapper_args__ = {"version_id_col": version}

    @property
    def member_ids(self) -> list[int]:
        return [m.user_id for m in self.members]

    @property
    def proposal_ids(self) -> list[int]:
        return [a.proposal_id for a in self.assignments]


class PanelMember(Base):
    __tablename__ = "panel_members"

    panel_id: Mapped[int] = mapped_column(ForeignKey("panels.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True, index=True)


class PanelProposal(Base):
    """A proposal assigned to a panel; a proposal sits on at most one panel per cycle."""

    __tablename__ = "panel_proposals"
    __table_args__ = (UniqueConstraint("cycle_id", "proposal_id"),)

    panel_id: Mapped[int] = mapped_column(ForeignKey("panels.id", ondelete="CASCADE"), primary_key=True)
    # Indexed on its own: "which panel is this proposal on" is asked on every scorecard read and save and
    # by every ranking, and the primary key starts with panel_id.
    proposal_id: Mapped[int] = mapped_column(
        ForeignKey("proposals.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycles.id", ondelete="CASCADE"))


class Conflict(Base):
    """A user may not see scores of, or score, a proposal."""

    __tablename__ = "conflicts"
    __table_args__ = (
        UniqueConstraint("proposal_id", "user_id"),
        CheckConstraint("type IN (" + ", ".join(f"'{t}'" for t in CONFLICT_TYPES) + ")", name="type_known"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    type: Mapped[str] = mapped_column(String(30))
    reason: Mapped[str] = mapped_column(Text)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
