"""Limit/offset paging shared by every list endpoint: ``{items, total, limit, offset}``."""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from app.errors import ValidationFailed, field_error
from app.types import Offset


class PageParams(BaseModel):
    limit: int
    offset: int


def page_params(
    limit: Annotated[int, Query(ge=1, le=500, description="Items per page (1-500).")] = 50,
    offset: Annotated[Offset, Query(description="Items to skip (at most 2147483647).")] = 0,
) -> PageParams:
    return PageParams(limit=limit, offset=offset)


PageDep = Annotated[PageParams, Depends(page_params)]


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int

    @classmethod
    def whole(cls, items: list) -> Page:
        """A list that is never long enough to page (a cycle's panels, a proposal's scorecards)."""
        return cls(items=items, total=len(items), limit=len(items), offset=0)


def paginate(session: Session, stmt: Select, page: PageParams) -> tuple[list, int]:
    """Run ``stmt`` for one page and count all matching rows."""
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    rows = list(session.scalars(stmt.limit(page.limit).offset(page.offset)).unique())
    return rows, total


def sort_pattern(allowed) -> str:
    """What :func:`parse_sort` reads, for the schema: comma-separated known fields, each with an optional
    ``-`` (descending) or ``+``."""
    field = "(?:[-+]*(?:" + "|".join(sorted(allowed, key=len, reverse=True)) + "))?"
    return f"^ *{field} *(?:, *{field} *)*$"


def parse_sort(sort: str | None, allowed: dict[str, object], default: str) -> list:
    """``sort=-created_at,reference`` → ORDER BY clauses; unknown fields are a field-level error."""
    clauses = []
    for raw in (sort or default).split(","):
        key = raw.strip()
        if not key:
            continue
        desc = key.startswith("-")
        name = key.lstrip("-+")
        if name not in allowed:
            raise ValidationFailed(
                f"Cannot sort by '{name}'.",
                errors=[
                    field_error(
                        ["query", "sort"],
                        f"unknown sort field '{name}'; use one of: " + ", ".join(sorted(allowed)),
                    )
                ],
            )
        col = allowed[name]
        clauses.append(col.desc() if desc else col.asc())
    return clauses
