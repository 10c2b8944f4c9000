from __future__ import annotations

from sqlalchemy import Boolean, CheckConstraint, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class Principle(Base):
    """One of the twelve Annex B principles; reference data seeded by a migration."""

    __tablename__ = "principles"
    __table_args__ = (
        CheckConstraint("number BETWEEN 1 AND 12", name="number_range"),
        CheckConstraint("principle_group IN ('capability', 'network')", name="group_known"),
    )

    number: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    key: Mapped[str] = mapped_column(String(40), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    group: Mapped[str] = mapped_column("principle_group", String(20))
    text_withheld: Mapped[bool] = mapped_column(Boolean, default=False)
