from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import select

from app.deps import CurrentUser, SessionDep
from app.errors import NotFound
from app.models import Principle
from app.pagination import Page
from app.types import Id

router = APIRouter(tags=["principles"])


class PrincipleOut(BaseModel):
    number: int
    key: str
    title: str
    description: str
    group: str
    text_withheld: bool


@router.get("/principles", response_model=Page[PrincipleOut], summary="The twelve Annex B principles")
def list_principles(session: SessionDep, user: CurrentUser) -> Page[PrincipleOut]:
    rows = session.scalars(select(Principle).order_by(Principle.number)).all()
    items = [PrincipleOut.model_validate(p, from_attributes=True) for p in rows]
    return Page.whole(items)


@router.get("/principles/{number}", response_model=PrincipleOut, summary="One principle by number (1-12)")
def get_principle(number: Id, session: SessionDep, user: CurrentUser) -> PrincipleOut:
    p = session.get(Principle, number)
    if p is None:
        raise NotFound(f"There is no principle {number}; principles are numbered 1 to 12.")
    return PrincipleOut.model_validate(p, from_attributes=True)
