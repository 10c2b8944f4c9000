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
    """Adds the headers above to every HTTP response of the wrapped application.

    The header lines are encoded once, here; each response's own lines are read in one pass (its
    Content-Type chooses the CSP; any line of the same name as one set here is replaced)."""

    def __init__(self, app: ASGIApp, *, hsts: bool) -> None:
        self.app = app
        common = [
            ("X-Content-Type-Options", "nosniff"),
            ("X-Frame-Options", "DENY"),
            ("Referrer-Policy", "same-origin"),
            ("Permissions-Policy", PERMISSIONS_POLICY),
            ("Cross-Origin-Opener-Policy", "same-origin"),
            ("Cross-Origin-Resource-Policy", "same-origin"),
        ]
        if hsts:
            common.append(("Strict-Transport-Security", HSTS))
        self.common = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in common]
        self.no_store = (b"cache-control", b"no-store")
        self.replaced = frozenset(k for k, _ in self.common) | {b"content-security-policy"}
        self.replaced_no_store = self.replaced | {b"cache-control"}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        store = cacheable(path)
        replaced = self.replaced if store else self.replaced_no_store

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                content_type, kept = "", []
                for name, value in message.get("headers", ()):
                    lower = name.lower()
                    if lower == b"content-type":
                        content_type = value.decode("latin-1")
                    if lower not in replaced:
                        kept.append((name, value))
                csp = content_security_policy(path, content_type).encode("latin-1")
                kept += self.common
                kept.append((b"content-security-policy", csp))
                if not store:
                    kept.append(self.no_store)
                message["headers"] = kept
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
