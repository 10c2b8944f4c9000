"""Weightings: immutable, named sets of twelve weights derived by a stated method."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.audit.service import record
from app.errors import Conflict, Forbidden, NotFound, ValidationFailed, field_error, scoring_loc
from app.models import Cycle, Role, User, Weighting
from app.weightings.schemas import WeightingCreate
from scoring import ScoringInputError, derive_weights

EQUAL_NAME = "Equal weights"
MANAGERS = (Role.admin, Role.chair)


def can_manage(user: User) -> bool:
    """Chairs and admins create weightings and choose a cycle's default; everyone signed in reads them."""
    return user.has_role(*MANAGERS)


def require_manager(actor: User | None) -> None:
    """``None`` is the service itself (the equal weighting created with a cycle)."""
    if actor is not None and not can_manage(actor):
        raise Forbidden("Only chairs and admins create weightings or change a cycle's default weighting.")


def as_json(value: Any) -> Any:
    """Diagnostics dataclasses (numpy inside) as plain JSON."""
    if dataclasses.is_dataclass(value):
        return {f.name: as_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, np.ndarray):
        return [as_json(v) for v in value.tolist()]
    if isinstance(value, tuple | list):
        return [as_json(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def weights_vector(weighting: Weighting) -> np.ndarray:
    return np.array([weighting.weights[str(p)] for p in range(1, 13)], dtype=float)


def get_weighting(session: Session, cycle_id: int, weighting_id: int | None) -> Weighting:
    """A cycle's weighting by id, or its default when ``weighting_id`` is None."""
    if weighting_id is None:
        w = session.scalar(select(Weighting).where(Weighting.cycle_id == cycle_id, Weighting.is_default))
        if w is None:
            raise NotFound(f"Cycle {cycle_id} has no default weighting; name one with weighting_id.")
        return w
    w = session.get(Weighting, weighting_id)
    if w is None or w.cycle_id != cycle_id:
        raise NotFound(f"Weighting {weighting_id} does not exist in cycle {cycle_id}.")
    return w


def _derive(data: WeightingCreate):
    try:
        return derive_weights(
            data.method,
            weights=data.weights,
            order=data.order,
            comparisons=[c.model_dump() for c in data.comparisons] if data.comparisons is not None else None,
        )
    except ScoringInputError as exc:
        raise ValidationFailed(
            f"The weighting cannot be derived: {exc.detail}.",
            errors=[field_error(scoring_loc(exc.field, prefix=("body",)), exc.detail)],
        ) from None


def create_weighting(session: Session, actor: User | None, cycle_id: int, data: WeightingCreate) -> Weighting:
    require_manager(actor)
    if session.get(Cycle, cycle_id) is None:
        raise NotFound(f"Cycle {cycle_id} does not exist.")
    if session.scalar(
        select(Weighting.id).where(Weighting.cycle_id == cycle_id, Weighting.name == data.name)
    ):
        raise Conflict(
            f"Cycle {cycle_id} already has a weighting named '{data.name}'; weightings never change, "
            "so give the revision a new name.",
            errors=[field_error(["body", "name"], "already used in this cycle", "unique")],
        )
    if data.predecessor_id is not None:
        get_weighting(session, cycle_id, data.predecessor_id)
    result = _derive(data)
    inputs = {
        k: v for k, v in data.model_dump(include={"weights", "order", "comparisons"}).items() if v is not None
    }
    if data.make_default:
        session.execute(update(Weighting).where(Weighting.cycle_id == cycle_id).values(is_default=False))
    w = Weighting(
        cycle_id=cycle_id,
        name=data.name,
        description=data.description,
        method=data.method,
        inputs=inputs,
        weights={str(p): float(result.weights[p - 1]) for p in range(1, 13)},
        diagnostics=as_json(result.diagnostics) if result.diagnostics is not None else None,
        is_default=data.make_default,
        predecessor_id=data.predecessor_id,
        created_by_id=actor.id if actor else None,
    )
    session.add(w)
    session.flush()
    record(
        session,
        actor,
        "weighting.created",
        "weighting",
        w.id,
        after={
            "name": w.name,
            "method": w.method,
            "inputs": inputs,
            "weights": w.weights,
            "is_default": w.is_default,
            "predecessor_id": w.predecessor_id,
        },
    )
    return w


def create_equal(session: Session, actor: User | None, cycle_id: int) -> Weighting:
    return create_weighting(
        session,
        actor,
        cycle_id,
        WeightingCreate(
            name=EQUAL_NAME,
            description="Every principle weighs the same; created with the cycle.",
            method="direct",
            weights={str(p): 1 for p in range(1, 13)},
            make_default=True,
        ),
    )


def make_default(session: Session, actor: User, weighting: Weighting) -> Weighting:
    require_manager(actor)
    previous = session.scalar(
        select(Weighting.id).where(Weighting.cycle_id == weighting.cycle_id, Weighting.is_default)
    )
    if previous != weighting.id:
        session.execute(
            update(Weighting).where(Weighting.cycle_id == weighting.cycle_id).values(is_default=False)
        )
        session.flush()
        session.execute(update(Weighting).where(Weighting.id == weighting.id).values(is_default=True))
        session.refresh(weighting)
        record(
            session,
            actor,
            "weighting.made_default",
            "cycle",
            weighting.cycle_id,
            changes={"default_weighting_id": {"before": previous, "after": weighting.id}},
        )
    return weighting


def list_weightings(session: Session, cycle_id: int) -> list[Weighting]:
    if session.get(Cycle, cycle_id) is None:
        raise NotFound(f"Cycle {cycle_id} does not exist.")
    return list(
        session.scalars(select(Weighting).where(Weighting.cycle_id == cycle_id).order_by(Weighting.id))
    )
