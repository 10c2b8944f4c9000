"""Admins see the sign-in counters and locks (app/auth/throttle.py) and lift them."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, Field

from app.auth import throttle
from app.deps import AdminUser, SessionDep, SettingsDep
from app.models.throttle import AuthThrottle
from app.pagination import Page, PageDep

router = APIRouter(tags=["auth"])


class LockOut(BaseModel):
    scope: throttle.Scope = Field(description="`account` (lower-cased email) or `address` (client address).")
    key: str = Field(description="The email or the client address counted.")
    failures: int = Field(description="Failed sign-ins counted in the current window.")
    first_failure_at: datetime | None
    last_failure_at: datetime | None
    locked_until: datetime | None = Field(description="The end of the last lock (it may be over).")
    locked: bool = Field(description="Whether a lock holds now.")
    retry_after: int = Field(description="Seconds until the next sign-in on it is checked (0: now).")


def lock_out(settings, row: AuthThrottle, at: datetime) -> LockOut:
    wait = throttle.wait_seconds(settings, row, at)
    return LockOut(
        scope=row.scope,
        key=row.key,
        failures=row.failures,
        first_failure_at=row.first_failure_at,
        last_failure_at=row.last_failure_at,
        locked_until=row.locked_until,
        locked=row.locked_until is not None and row.locked_until > at,
        retry_after=math.ceil(wait) if wait > 0 else 0,
    )


@router.get(
    "/auth/locks",
    response_model=Page[LockOut],
    summary="Sign-in counters and locks now in force, locked first (admin)",
    description="Every account (email) and client address with failed sign-ins in the current window "
    "or a lock that still holds, with the seconds until its next sign-in is checked. "
    "`locked_only=true` lists only the locks.",
)
def list_locks(
    session: SessionDep,
    settings: SettingsDep,
    admin: AdminUser,
    page: PageDep,
    scope: Annotated[throttle.Scope | None, Query(description="Only accounts or only addresses.")] = None,
    locked_only: Annotated[bool, Query(description="Only counters locked now.")] = False,
) -> Page[LockOut]:
    rows, total = throttle.current(session, settings, page, scope=scope, locked_only=locked_only)
    at = throttle.now()
    return Page(
        items=[lock_out(settings, r, at) for r in rows], total=total, limit=page.limit, offset=page.offset
    )


@router.delete(
    "/auth/locks/{scope}/{key:path}",
    status_code=204,
    summary="Lift a sign-in lock and clear its counter (admin); audited as auth.unlocked",
    description="`key` is the account's email (any case) or the client address, as listed by "
    "`GET /auth/locks`. The next sign-in on it is checked at once.",
    responses={404: {"description": "No failed sign-ins are counted for that account or address"}},
)
def lift_lock(
    session: SessionDep,
    admin: AdminUser,
    scope: throttle.Scope,
    key: Annotated[str, Path(min_length=1, max_length=throttle.KEY_MAX)],
) -> Response:
    throttle.lift(session, admin, scope, key)
    return Response(status_code=204)
