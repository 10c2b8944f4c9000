"""The service's errors: a small hierarchy carrying HTTP status, rendered as RFC 9457 problem+json."""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.db import error_summary
from scoring import ScoringInputError

log = logging.getLogger("serr")

PROBLEM_JSON = "application/problem+json"


class ServiceError(Exception):
    status = 400
    title = "Bad request"
    type_slug = "bad-request"

    def __init__(
        self,
        detail: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        self.headers = headers
        self.extra = extra


class NotAuthenticated(ServiceError):
    status, title, type_slug = 401, "Not authenticated", "not-authenticated"

    def __init__(self, detail: str = "A valid bearer token is required.", **kw: Any) -> None:
        kw.setdefault("headers", {"WWW-Authenticate": "Bearer"})
        super().__init__(detail, **kw)


class Forbidden(ServiceError):
    status, title, type_slug = 403, "Forbidden", "forbidden"


class FreshSignInRequired(Forbidden):
    """The operation needs a recent sign-in (``POST /api/v1/auth/token``), not an older or personal token."""

    type_slug = "fresh-sign-in-required"


class NotFound(ServiceError):
    status, title, type_slug = 404, "Not found", "not-found"


class Conflict(ServiceError):
    status, title, type_slug = 409, "Conflict", "conflict"


class PreconditionFailed(ServiceError):
    status, title, type_slug = 412, "Precondition failed", "precondition-failed"


class PreconditionRequired(ServiceError):
    status, title, type_slug = 428, "Precondition required", "precondition-required"


class PayloadTooLarge(ServiceError):
    status, title, type_slug = 413, "Payload too large", "payload-too-large"


class UnsupportedMediaType(ServiceError):
    status, title, type_slug = 415, "Unsupported media type", "unsupported-media-type"


class ValidationFailed(ServiceError):
    """Input that parsed but breaks a rule; ``errors`` lists ``{loc, msg, type}`` per field."""

    status, title, type_slug = 422, "Validation failed", "validation-failed"


def field_error(loc: list[str | int] | tuple[str | int, ...], msg: str, type_: str = "value_error") -> dict:
    return {"loc": list(loc), "msg": msg, "type": type_}


def scoring_loc(field: str, *, prefix: tuple[str, ...] = ()) -> list[str | int]:
    """Where a :class:`scoring.ScoringInputError` points, as an error ``loc``: ``"comparisons[3].ratio"``
    is ``[*prefix, "comparisons", 3, "ratio"]`` and ``"weights.13"`` is ``[*prefix, "weights", "13"]``
    (list positions are numbers, mapping keys stay text)."""
    loc: list[str | int] = list(prefix)
    for part in re.findall(r"\[\d+\]|[^.\[\]]+", field):
        loc.append(int(part[1:-1]) if part.startswith("[") else part)
    return loc


class ErrorPage:
    """How errors look on web pages (set on ``app.state.error_page`` by the web client)."""

    def __init__(self, wants, render) -> None:
        self.wants = wants
        self.render = render


def problem(
    request: Request,
    status: int,
    title: str,
    detail: str,
    type_slug: str,
    *,
    errors: list[dict] | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    page = getattr(request.app.state, "error_page", None)
    if page is not None and page.wants(request.url.path):
        return page.render(request, status, title, detail)
    body: dict[str, Any] = {
        "type": f"/problems/{type_slug}",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
    }
    if errors is not None:
        body["errors"] = errors
    if extra:
        body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _clean_validation_errors(raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for err in raw:
        msg = str(err.get("msg", "invalid"))
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        out.append(
            {"loc": [p for p in err.get("loc", ())], "msg": msg, "type": err.get("type", "value_error")}
        )
    return out


_STATUS_TITLES = {
    400: ("Bad request", "bad-request"),
    401: ("Not authenticated", "not-authenticated"),
    403: ("Forbidden", "forbidden"),
    404: ("Not found", "not-found"),
    405: ("Method not allowed", "method-not-allowed"),
    406: ("Not acceptable", "not-acceptable"),
    409: ("Conflict", "conflict"),
    413: ("Payload too large", "payload-too-large"),
    415: ("Unsupported media type", "unsupported-media-type"),
}


def problem_of(request: Request, exc: ServiceError):
    """The problem+json answer of a service error."""
    return problem(
        request,
        exc.status,
        exc.title,
        exc.detail,
        exc.type_slug,
        errors=exc.errors,
        headers=exc.headers,
        extra=exc.extra,
    )


def install_handlers(app: FastAPI) -> None:
    @app.exception_handler(ServiceError)
    async def _service_error(request: Request, exc: ServiceError):
        if exc.status == 403:
            request.state.denied_because = exc.detail  # for the audit record (app/audit/denials.py)
        return problem_of(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        errors = _clean_validation_errors(list(exc.errors()))
        fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in errors[:5])
        return problem(
            request,
            422,
            "Validation failed",
            f"The request has invalid fields: {fields}.",
            "validation-failed",
            errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        title, slug = _STATUS_TITLES.get(exc.status_code, ("Error", "error"))
        detail = exc.detail if isinstance(exc.detail, str) else title
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"Nothing is found at {request.url.path}."
        headers = getattr(exc, "headers", None)
        if exc.status_code == 405:
            detail = f"{request.method} is not allowed on {request.url.path}."
            # Every method the path answers, not only those of the first route that matched it.
            from app.openapi import allowed_methods

            allowed = allowed_methods(request.app, request.url.path)
            if allowed:
                headers = {**(headers or {}), "Allow": ", ".join(allowed)}
        return problem(request, exc.status_code, title, detail, slug, headers=headers)

    @app.exception_handler(ScoringInputError)
    async def _scoring_input(request: Request, exc: ScoringInputError):
        # The maths refused an input the schemas let through (a budget too large for the solver, say):
        # the client's to change, so a 422 naming the input, whichever operation reached the maths.
        where = ("body",) if request.method in ("POST", "PUT", "PATCH") else ()
        return problem(
            request,
            422,
            "Validation failed",
            f"The request cannot be computed: {exc.detail}.",
            "validation-failed",
            errors=[field_error(scoring_loc(exc.field, prefix=where), exc.detail)],
        )

    @app.exception_handler(StaleDataError)
    async def _stale(request: Request, exc: StaleDataError):
        return problem(
            request,
            409,
            "Conflict",
            "Someone else changed this record while your change was being saved; nothing of yours was saved. "
            "Re-read it and apply your change again.",
            "conflict",
        )

    @app.exception_handler(IntegrityError)
    async def _integrity(request: Request, exc: IntegrityError):
        log.info("integrity error on %s %s: %s", request.method, request.url.path, error_summary(exc))
        return problem(
            request,
            409,
            "Conflict",
            "The change conflicts with data saved at the same time (a duplicate or a removed reference); "
            "nothing was saved. Re-read and retry.",
            "conflict",
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem(
            request,
            500,
            "Internal server error",
            "The service met an unexpected error; it has been logged. Nothing was changed.",
            "internal-error",
        )
