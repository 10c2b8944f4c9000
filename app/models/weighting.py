from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, UTCDateTime, utcnow

WEIGHTING_METHODS = ("direct", "points", "swing", "rank_order", "pairwise")


class Weighting(Base):
    """A named, immutable set of twelve weights with the method and inputs that produced them.

    ``weights`` are stored as computed (JSON numbers keyed "1".."12"), so a ranking under this weighting
    is reproducible even if the maths library changes; "editing" creates a new weighting that names its
    predecessor.
    """

    __tablename__ = "weightings"
    __table_args__ = (
        UniqueConstraint("cycle_id", "name"),
        CheckConstraint(
            "method IN (" + ", ".join(f"'{m}'" for m in WEIGHTING_METHODS) + ")", name="method_known"
        ),
        # At most one default weighting per cycle, on both databases.
        Index(
            "ix_weightings_one_default",
            "cycle_id",
            unique=True,
            sqlite_where=text("is_default"),
            postgresql_where=text("is_default"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycles.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    method: Mapped[str] = mapped_column(String(20))
    inputs: Mapped[dict[str, Any]] = mapped_column(JSON)
    weights: Mapped[dict[str, float]] = mapped_column(JSON)
    diagnostics: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    predecessor_id: Mapped[int | None] = mapped_column(ForeignKey("weightings.id"), nullable=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
