"""Security headers on every response, and ``Cache-Control: no-store`` on everything that is not a public
static file: one ASGI middleware, wrapped around the whole application (error pages and 500s included).

- Pages (``text/html``): a strict Content-Security-Policy: scripts, styles, images and fonts only from
  the service itself, no inline script or style, no plugins, no ``<base>``, forms post only back to the
  service, never framed.
- The API docs page (``/docs``): Swagger UI, served by the service itself (``app/api_docs.py``); the
  same policy as pages plus ``data:`` images (its stylesheet draws its icons with them).
- The ReDoc page (``/redoc``): ReDoc writes its styles into ``<style>`` elements at run time and runs
  its search in a worker made from a ``blob:``; that page alone allows both, and nothing else.
- Everything else (JSON, problem+json, CSV/XLSX, static files): ``default-src 'none'`` — a response that
  is not a page may load nothing and run nothing if a browser is ever tricked into rendering it.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.config import Settings

_PAGE = (
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
)
PAGE_CSP = "; ".join(_PAGE)
DOCS_CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)
REDOC_CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "worker-src blob:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)
API_CSP = "default-src 'none'; frame-ancestors 'none'"

# Browser features the service never uses.
PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "accelerometer",
        "autoplay",
        "camera",
        "display-capture",
        "encrypted-media",
        "fullscreen",
        "geolocation",
        "gyroscope",
        "hid",
        "idle-detection",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "picture-in-picture",
        "publickey-credentials-get",
        "screen-wake-lock",
        "serial",
        "usb",
        "xr-spatial-tracking",
    )
)
HSTS = "max-age=63072000; includeSubDomains"

# Public files, the same for everyone: the only responses a browser or proxy may keep.
CACHEABLE_PREFIXES = ("/static/", "/docs-assets/")


def content_security_policy(path: str, content_type: str) -> str:
    if not content_type.startswith("text/html"):
        return API_CSP
    if path == "/docs":
        return DOCS_CSP
    if path == "/redoc":
        return REDOC_CSP
    return PAGE_CSP


def cacheable(path: str) -> bool:
    return path.startswith(CACHEABLE_PREFIXES)


class SecurityHeaders:
    """Adds the headers above to every HTTP response of the wrapped application."""

    def __init__(self, app: ASGIApp, *, hsts: bool) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["Content-Security-Policy"] = content_security_policy(
                    path, headers.get("content-type", "")
                )
                headers["X-Content-Type-Options"] = "nosniff"
                headers["X-Frame-Options"] = "DENY"
                headers["Referrer-Policy"] = "same-origin"
                headers["Permissions-Policy"] = PERMISSIONS_POLICY
                headers["Cross-Origin-Opener-Policy"] = "same-origin"
                headers["Cross-Origin-Resource-Policy"] = "same-origin"
                if not cacheable(path):
                    headers["Cache-Control"] = "no-store"
                if self.hsts:
                    headers["Strict-Transport-Security"] = HSTS
            await send(message)

        await self.app(scope, receive, send_with_headers)


def install(app, settings: Settings) -> None:
    """Wrap the whole middleware stack, outside even the server-error handler, so that a 500 gets the
    headers too (``add_middleware`` would sit inside it)."""
    build = app.build_middleware_stack
    hsts = settings.environment == "production"

    def build_with_headers() -> ASGIApp:
        return SecurityHeaders(build(), hsts=hsts)

    app.build_middleware_stack = build_with_headers
