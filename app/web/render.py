"""Jinja2 templates and the page-level error handling of the web client."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from app.errors import ErrorPage
from app.web.forms import FormError
from app.web.session import CsrfFailed, LoginRequired, login_url

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")


def money(value: Any) -> str:
    """£1,250,000.00 from a decimal string or Decimal."""
    from decimal import Decimal

    if value is None or value == "":
        return ""
    d = Decimal(str(value))
    return f"-£{abs(d):,.2f}" if d < 0 else f"£{d:,.2f}"


templates.env.filters["money"] = money


def render(request: Request, name: str, web: Any = None, status: int = 200, **context: Any) -> HTMLResponse:
    return templates.TemplateResponse(request, name, {"web": web, **context}, status_code=status)


def is_web_path(path: str) -> bool:
    return not (
        path.startswith("/api/")
        or path in ("/healthz", "/readyz", "/openapi.json")
        or path.startswith("/docs")
        or path.startswith("/redoc")
    )


def error_page(request: Request, status: int, title: str, detail: str) -> HTMLResponse:
    return render(request, "error.html", None, status=status, title=title, detail=detail)


def install(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.state.error_page = ErrorPage(is_web_path, error_page)

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> RedirectResponse:
        """Browsers ask for /favicon.ico whatever the page says: send them to the icon."""
        return RedirectResponse("/static/favicon.svg", status_code=301)

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, exc: LoginRequired):
        return RedirectResponse(login_url(exc.next_path, exc.expired), status_code=303)

    @app.exception_handler(FormError)
    async def _form(request: Request, exc: FormError):
        """A number in the address, or a field nobody types (a hidden id), that could not be read."""
        if exc.status == 404:
            return error_page(request, 404, "Page not found", exc.message)
        return error_page(
            request,
            exc.status,
            "This page could not be read",
            f"{exc.message} Go back, reload the page and try again.",
        )

    @app.exception_handler(CsrfFailed)
    async def _csrf(request: Request, exc: CsrfFailed):
        request.state.denied_because = "The form's security token is missing or out of date."
        return error_page(
            request,
            403,
            "Form expired",
            "This form could not be accepted because its security token is missing or out of date. "
            "Go back, reload the page and try again.",
        )
