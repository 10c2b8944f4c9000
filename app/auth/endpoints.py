from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.security import OAuth2PasswordRequestForm

from app.deps import SessionDep, SettingsDep
from app.users import service
from app.users.schemas import AccessToken

router = APIRouter(tags=["auth"])


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
