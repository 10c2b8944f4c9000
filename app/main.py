"""The FastAPI application: every API route requires a user except the named public ones."""

from __future__ import annotations

from contextlib import asynccontextmanager
from functools import cache

from fastapi import APIRouter, Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware

from app import api_docs, security_headers
from app.audit.denials import DenialAudit
from app.audit.endpoints import router as audit_router
from app.auth.endpoints import router as auth_router
from app.auth.endpoints import signed_in_router as auth_signed_in_router
from app.config import Settings, get_settings
from app.cycles.endpoints import router as cycles_router
from app.db import Database
from app.deps import get_current_user
from app.errors import install_handlers
from app.health import router as health_router
from app.idempotency import HEADER as IDEMPOTENCY_KEY
from app.idempotency import REPLAYED as IDEMPOTENT_REPLAYED
from app.idempotency import install as install_idempotency
from app.openapi import install as install_openapi
from app.panels.endpoints import router as panels_router
from app.principles.endpoints import router as principles_router
from app.proposals.endpoints import router as proposals_router
from app.rankings.endpoints import router as rankings_router
from app.scorecards.endpoints import router as scorecards_router
from app.submissions.endpoints import router as submissions_router
from app.users.endpoints import router as users_router
from app.web import routes as web
from app.weightings.endpoints import router as weightings_router

API_PREFIX = "/api/v1"

DESCRIPTION = """
The SE&RR efficiency review scoring service: capability proposals, scored by review panels against the
twelve Annex B efficiency principles, weighted, ranked and selected within budgets.

Authenticate with `Authorization: Bearer <token>`: get a short-lived token from `POST /api/v1/auth/token`
(OAuth2 password form) or create a personal API token under `/api/v1/users/me/tokens`.
Errors are `application/problem+json` (RFC 9457) with a field-level `errors` list.
Money is a decimal string with two places ("1250000.00", GBP).
"""


@cache
def api_router() -> APIRouter:
    """The API's routes, assembled once per process: they depend on no setting, and each app includes
    (copies) them, so a process that makes several apps (the tests) analyses the nested routers once."""
    public = APIRouter()
    public.include_router(auth_router)
    protected = APIRouter(
        dependencies=[Depends(get_current_user)],
        responses={401: {"description": "Missing, unknown, expired or revoked token"}},
    )
    for router in (
        auth_signed_in_router,
        users_router,
        principles_router,
        cycles_router,
        proposals_router,
        panels_router,
        scorecards_router,
        weightings_router,
        rankings_router,
        submissions_router,
        audit_router,
    ):
        protected.include_router(router)
    api = APIRouter(prefix=API_PREFIX)
    api.include_router(public)
    api.include_router(protected)
    return api


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    db = Database.from_settings(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        db.dispose()

    app = FastAPI(
        title="SE&RR scoring service",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
    )
    app.state.settings = settings
    app.state.db = db
    install_handlers(app)
    install_idempotency(app)
    app.add_middleware(DenialAudit, db=db)  # every 403 in the audit trail
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_credentials=False,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "If-Match", IDEMPOTENCY_KEY],
            expose_headers=["ETag", "Location", IDEMPOTENT_REPLAYED],
        )
    app.include_router(health_router)
    app.include_router(api_router())
    install_openapi(app)  # error answers documented as problem+json
    api_docs.install(app)
    web.install(app)
    security_headers.install(app, settings)
    return app
