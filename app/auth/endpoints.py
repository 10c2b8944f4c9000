from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response
from fastapi.security import OAuth2PasswordRequestForm

from app.deps import CurrentToken, CurrentUser, SessionDep, SettingsDep
from app.users import service
from app.users.schemas import AccessToken

router = APIRouter(tags=["auth"])
# Under the authenticated parent router.
signed_in_router = APIRouter(tags=["auth"])


@router.post(
    "/auth/token",
    response_model=AccessToken,
    summary="Sign in: OAuth2 password form (username = email) to a bearer access token",
)
def issue_token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()], session: SessionDep, settings: SettingsDep
) -> AccessToken:
    token, expires_in = service.login(session, settings, form.username, form.password)
    return AccessToken(access_token=token, expires_in=expires_in)


@signed_in_router.post(
    "/auth/logout",
    status_code=204,
    summary="Sign out: revoke the bearer token this request is made with",
)
def logout(session: SessionDep, user: CurrentUser, via: CurrentToken) -> Response:
    service.logout(session, user, via)
    return Response(status_code=204)
