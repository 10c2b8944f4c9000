from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, UTCDateTime, utcnow


class Submission(Base):
    """A frozen record issued to finance: a ranking (and optionally a selection) with every input used.

    ``content`` is the canonical JSON document (inputs and results); ``content_sha256`` is the SHA-256 of
    its canonical serialisation. Nothing updates a submission except ``superseded_by_id``, set once when
    a later submission supersedes it.
    """

    __tablename__ = "submissions"
    __table_args__ = (CheckConstraint("status IN ('issued', 'superseded')", name="status_known"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycles.id", ondelete="RESTRICT"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    note: Mapped[str] = mapped_column(Text, default="")
    weighting_id: Mapped[int] = mapped_column(ForeignKey("weightings.id", ondelete="RESTRICT"))
    aggregation: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default="issued")
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    content_sha256: Mapped[str] = mapped_column(String(64), index=True)
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("submissions.id"), nullable=True)
    superseded_by_id: Mapped[int | None] = mapped_column(ForeignKey("submissions.id"), nullable=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
