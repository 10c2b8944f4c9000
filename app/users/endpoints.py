from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from app.auth import throttle
from app.db import commit_now
from app.deps import (
    AdminUser,
    CurrentToken,
    CurrentUser,
    SessionDep,
    SettingsDep,
    client_address,
    writes_late,
)
from app.models import ApiToken, Role, User
from app.pagination import Page, PageDep
from app.types import Id, SingleLine
from app.users import service
from app.users.schemas import (
    PasswordChange,
    SignedOut,
    TokenCreate,
    TokenCreated,
    TokenOut,
    UserCreate,
    UserOut,
    UserUpdate,
)

router = APIRouter(tags=["users"])


def user_out(user: User) -> UserOut:
    return UserOut(
        id=user.id,
        email=user.email,
        full_name=user.full_name,
        roles=user.roles,
        is_active=user.is_active,
        version=user.version,
        created_at=user.created_at,
    )


def token_out(row: ApiToken) -> TokenOut:
    return TokenOut(
        id=row.id,
        name=row.name,
        prefix=row.prefix,
        created_at=row.created_at,
        expires_at=row.expires_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )


@router.get("/users/me", response_model=UserOut, summary="Who am I")
def me(user: CurrentUser) -> UserOut:
    return user_out(user)


@router.post(
    "/users/me/password",
    status_code=204,
    summary="Change my password: give the current one; every other session and token of mine ends",
    description="The new password must meet the password rule (a 422 field error on `new_password` says "
    "why not). A wrong `current_password` is a 422 field error on it and is recorded in the audit trail. "
    "On success every web session and API token of yours ends except the bearer token this request is "
    "made with. Wrong current passwords count towards the sign-in throttle like wrong sign-ins (429 with "
    "`Retry-After` while the account or address must wait).",
    responses={
        409: {"description": "The password was changed by another request meanwhile"},
        429: {"description": "Too many wrong passwords for this account or from this address"},
    },
)
@writes_late
def change_password(
    request: Request,
    data: PasswordChange,
    session: SessionDep,
    settings: SettingsDep,
    user: CurrentUser,
    via: CurrentToken,
) -> Response:
    # Authenticated; the request's read ends here, so that argon2 runs with no transaction held.
    commit_now(session)
    service.change_own_password(
        request.app.state.db,
        settings,
        user.id,
        data,
        keep_token_id=via.id,
        request_id=request.headers.get("x-request-id"),
        client_address=client_address(request),
        attempt=throttle.Attempt.of(request, user.email, "api"),
    )
    return Response(status_code=204)


@router.post(
    "/users/me/tokens",
    response_model=TokenCreated,
    status_code=201,
    summary="Create a personal API token (needs a fresh sign-in token, not a personal one)",
)
def create_token(
    data: TokenCreate, session: SessionDep, settings: SettingsDep, user: CurrentUser, via: CurrentToken
) -> TokenCreated:
    row, secret = service.create_personal_token(session, settings, user, data, via)
    return TokenCreated(**token_out(row).model_dump(), token=secret)


@router.get("/users/me/tokens", response_model=Page[TokenOut], summary="List my personal API tokens")
def list_tokens(session: SessionDep, user: CurrentUser, page: PageDep) -> Page[TokenOut]:
    rows, total = service.list_personal_tokens(session, user, page)
    return Page(items=[token_out(r) for r in rows], total=total, limit=page.limit, offset=page.offset)


@router.delete("/users/me/tokens/{token_id}", status_code=204, summary="Revoke one of my personal API tokens")
def revoke_token(token_id: Id, session: SessionDep, user: CurrentUser) -> Response:
    service.revoke_personal_token(session, user, token_id)
    return Response(status_code=204)


@router.post("/users", response_model=UserOut, status_code=201, summary="Create a user (admin)")
def create_user(data: UserCreate, session: SessionDep, settings: SettingsDep, admin: AdminUser) -> UserOut:
    return user_out(service.create_user(session, settings, admin, data))


@router.get("/users", response_model=Page[UserOut], summary="List users (admin)")
def list_users(
    session: SessionDep,
    admin: AdminUser,
    page: PageDep,
    role: Annotated[Role | None, Query(description="Only users with this role.")] = None,
    q: Annotated[SingleLine | None, Query(max_length=200, description="Text in email or name.")] = None,
    is_active: bool | None = None,
) -> Page[UserOut]:
    rows, total = service.list_users(
        session, page, role=role.value if role else None, q=q, is_active=is_active
    )
    return Page(items=[user_out(u) for u in rows], total=total, limit=page.limit, offset=page.offset)


@router.get("/users/{user_id:int}", response_model=UserOut, summary="One user (admin)")
def get_user(user_id: Id, session: SessionDep, admin: AdminUser) -> UserOut:
    return user_out(service.get_user(session, user_id))


@router.patch(
    "/users/{user_id:int}",
    response_model=UserOut,
    summary="Update a user's name, roles, password or status (admin); a new password signs the user out "
    "everywhere",
)
def update_user(
    user_id: Id, data: UserUpdate, session: SessionDep, settings: SettingsDep, admin: AdminUser
) -> UserOut:
    user = service.get_user(session, user_id)
    return user_out(service.update_user(session, settings, admin, user, data))


@router.post(
    "/users/{user_id:int}/sign-out",
    response_model=SignedOut,
    summary="End every session of a user: revoke their API tokens and end their web sessions (admin)",
    description="For a lost or stolen device: the account stays active and its owner signs in again. "
    "Audited as `user.signed_out` with the counts. Not for oneself (`422`): use `POST /api/v1/auth/logout`.",
)
def sign_out_user(user_id: Id, session: SessionDep, admin: AdminUser) -> SignedOut:
    return SignedOut(**service.sign_out_user(session, admin, service.get_user(session, user_id)))
