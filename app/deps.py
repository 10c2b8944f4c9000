"""Typed dependencies: endpoints read like sentences (``session: SessionDep, user: CurrentUser``)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session, joinedload

from app.auth.security import token_digest
from app.config import Settings
from app.db import on_snapshot_moved, when_writing
from app.errors import Forbidden, NotAuthenticated
from app.models import ApiToken, Role, User

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


# The dependencies that neither block nor touch the database are coroutines: FastAPI runs them in the event
# loop instead of handing each to a worker thread and back.
async def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


def writes_late(endpoint):
    """Mark an endpoint whose unit of work takes the SQLite write lock only when it first writes.

    Its authentication and reads run without the lock; it must call ``app.db.begin_write`` before its
    writes and read again what they rely on when that answers False (another writer committed between).
    """
    endpoint.writes_late = True
    return endpoint


def client_address(request: Request) -> str | None:
    """The address the request came from, as the server saw it (behind a proxy, run the server with its
    forwarded-address option so that this is the client's, not the proxy's)."""
    return request.client.host if request.client else None


def get_session(request: Request) -> Iterator[Session]:
    """The request's unit of work: commits when the endpoint returns, rolls back on error.

    Reads get a deferred transaction; anything else takes the write lock at BEGIN (SQLite), except the
    endpoints marked ``writes_late``, which take it at their first write.
    """
    write: bool | str = request.method not in READ_METHODS
    if write and getattr(request.scope.get("endpoint"), "writes_late", False):
        write = "late"
    with request.app.state.db.unit_of_work(
        write=write, request_id=request.headers.get("x-request-id"), client_address=client_address(request)
    ) as session:
        yield session


def get_write_session(request: Request) -> Iterator[Session]:
    """For the few reads that also write (e.g. an export that is audited)."""
    with request.app.state.db.unit_of_work(
        write=True, request_id=request.headers.get("x-request-id"), client_address=client_address(request)
    ) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session, scope="function")]
WriteSessionDep = Annotated[Session, Depends(get_write_session, scope="function")]

LAST_USED_RESOLUTION = timedelta(minutes=5)

# The token, its user and the user's roles in one query, built once (every request runs it).
_TOKEN_AND_USER = (
    select(ApiToken, User)
    .join(User, User.id == ApiToken.user_id)
    .where(ApiToken.digest == bindparam("digest"))
    .options(joinedload(User.role_rows))
    .execution_options(populate_existing=True)
)


def authenticate_bearer(session: Session, settings: Settings, token: str) -> tuple[ApiToken, User]:
    """The token row and its user, for a bearer token that is known, live and of an active user."""
    now = datetime.now(UTC)
    row = session.execute(_TOKEN_AND_USER, {"digest": token_digest(settings, token)}).unique().first()
    if row is None:
        raise NotAuthenticated("The bearer token is not recognised.")
    api_token, user = row
    if api_token.revoked_at is not None:
        raise NotAuthenticated("The bearer token has been revoked.")
    if api_token.expires_at <= now:
        raise NotAuthenticated("The bearer token has expired.")
    if not user.is_active:
        raise NotAuthenticated("The account is deactivated.")
    stale = api_token.last_used_at is None or now - api_token.last_used_at > LAST_USED_RESOLUTION
    if stale and session.info.get("can_write"):
        when_writing(
            session,
            lambda: session.execute(
                update(ApiToken).where(ApiToken.id == api_token.id).values(last_used_at=now)
            ),
        )
    return api_token, user


def get_current_user(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    token: Annotated[str | None, Depends(oauth2_scheme)],
) -> User:
    if not token:
        raise NotAuthenticated()
    api_token, user = authenticate_bearer(session, settings, token)
    # A late-writing unit of work checks the token again if another writer committed before its lock.
    on_snapshot_moved(session, lambda: authenticate_bearer(session, settings, token))
    # The token the request came with: sign-out revokes it, and personal tokens need a fresh sign-in one.
    request.state.api_token = api_token
    request.state.user_id = user.id  # named in the audit record if the request is refused
    session.info["token_id"] = api_token.id
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


async def get_current_token(request: Request, user: CurrentUser) -> ApiToken:
    return request.state.api_token


CurrentToken = Annotated[ApiToken, Depends(get_current_token)]


def require_roles(*roles: Role):
    names = tuple(r.value for r in roles)

    async def _check(user: CurrentUser) -> User:
        if not user.has_role(*names):
            raise Forbidden(f"This needs one of the roles: {', '.join(names)}.")
        return user

    return _check


AdminUser = Annotated[User, Depends(require_roles(Role.admin))]
ChairOrAdmin = Annotated[User, Depends(require_roles(Role.admin, Role.chair))]
