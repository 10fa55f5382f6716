"""Security headers on every response, from one pure ASGI middleware.

The Content-Security-Policy is kept as data so a reviewer reads it in one place and a
future feature adds a source explicitly rather than by string surgery.
"""

from __future__ import annotations

import secrets

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP: dict[str, list[str]] = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'"],
    "media-src": ["'self'"],
    "font-src": ["'self'"],
    "connect-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'none'"],
    "frame-ancestors": ["'none'"],
    "form-action": ["'self'"],
}

# Course files opened on their own (a tablet can open a picture's address directly). An
# SVG is a document: `sandbox` gives it an opaque origin with no script, forms, plugins,
# or automatic navigation (a <meta> refresh), even if something slipped past the import
# check. Inline style is allowed because drawings style themselves.
MEDIA_CSP: dict[str, list[str]] = {
    "default-src": ["'none'"],
    "style-src": ["'unsafe-inline'"],
    "frame-ancestors": ["'none'"],
    "sandbox": [],
}
# The PDF lesson shows its file in a frame of the page. No `sandbox` here: browsers refuse
# to run their PDF viewer in a sandboxed document.
PDF_MEDIA_CSP: dict[str, list[str]] = {
    "default-src": ["'none'"],
    "frame-ancestors": ["'self'"],
}


def serialize_csp(policy: dict[str, list[str]]) -> str:
    return "; ".join(" ".join([name, *values]) for name, values in policy.items())


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, *, https: bool) -> None:
        self.app = app
        self.headers = {
            "Content-Security-Policy": serialize_csp(CSP),
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "X-Frame-Options": "DENY",
            "Cross-Origin-Opener-Policy": "same-origin",
            "Cross-Origin-Resource-Policy": "same-origin",
            "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
        }
        if https:
            self.headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = secrets.token_hex(8)
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers.items():
                    headers.setdefault(name, value)
                # Pages hold personal data and tablets are shared: never keep them in a
                # cache unless the response said otherwise (static files do).
                headers.setdefault("Cache-Control", "no-store")
                headers["X-Request-ID"] = request_id
            await send(message)

        await self.app(scope, receive, send_with_headers)
