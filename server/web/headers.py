"""Security headers on every response, from one pure ASGI middleware, and the named
Content-Security-Policies.

Every policy is kept as data here, under a name (`CSP.PAGE`, `CSP.MEDIA`...), so a
reviewer reads them all in one place, a view picks one by name rather than writing a
header, and a future feature adds a source explicitly rather than by string surgery.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

Directives = Mapping[str, tuple[str, ...]]


@dataclass(frozen=True)
class Policy:
    """A named Content-Security-Policy: its directives, and the header they make."""

    name: str
    directives: Directives

    @property
    def header(self) -> str:
        return "; ".join(" ".join([name, *values]) for name, values in self.directives.items())

    def apply(self, response: Response) -> None:
        """Give `response` this policy instead of the page policy the middleware adds."""
        response.headers["Content-Security-Policy"] = self.header


_PAGE: Directives = {
    "default-src": ("'self'",),
    "script-src": ("'self'",),
    "style-src": ("'self'",),
    "img-src": ("'self'",),
    "media-src": ("'self'",),
    "font-src": ("'self'",),
    "connect-src": ("'self'",),
    "object-src": ("'none'",),
    "base-uri": ("'none'",),
    "frame-ancestors": ("'none'",),
    "form-action": ("'self'",),
}


class CSP:
    """Every policy this server sends; a view picks one by name (`CSP.MEDIA.apply(r)`)."""

    # Every page and answer, unless it says otherwise: nothing from outside the server.
    PAGE = Policy("page", _PAGE)
    # A PDF lesson embeds its file (`<object>`) from this server; the rest is the page's.
    # Only where pdf.js is not installed (`server.web.pdfviewer`): with it, the lesson
    # keeps PAGE, as pdf.js needs nothing more. Its worker is a module script from 'self'
    # (worker-src falls back to script-src); the PDF, fonts and character maps come from
    # 'self' (connect-src); it is told not to try eval; no blob:. Nor WebAssembly, so its
    # wasm decoders are not shipped: a JPEG 2000 picture inside a PDF is left out.
    PDF_LESSON = Policy("pdf-lesson", {**_PAGE, "object-src": ("'self'",)})
    # Course files opened on their own (a tablet can open a picture's address directly).
    # An SVG is a document: `sandbox` gives it an opaque origin with no script, forms,
    # plugins, or automatic navigation (a <meta> refresh), even if something slipped past
    # the import check. Inline style is allowed because drawings style themselves.
    MEDIA = Policy(
        "media",
        {
            "default-src": ("'none'",),
            "style-src": ("'unsafe-inline'",),
            "frame-ancestors": ("'none'",),
            "sandbox": (),
        },
    )
    # The PDF lesson shows its file in a frame of the page. No `sandbox` here: browsers
    # refuse to run their PDF viewer in a sandboxed document.
    PDF_MEDIA = Policy("pdf-media", {"default-src": ("'none'",), "frame-ancestors": ("'self'",)})
    # A file of a version waiting for review, opened by the admin: nothing runs or loads.
    REVIEW_FILE = Policy("review-file", {"sandbox": (), "default-src": ("'none'",)})

    ALL = (PAGE, PDF_LESSON, MEDIA, PDF_MEDIA, REVIEW_FILE)


# Interactive lessons (`server.web.sandbox`). These two depend on the request (the
# lesson's own address, the sandbox's origin), so they are made per answer, here.


def sandbox_file_policy(prefix: str, page_origin: str) -> Policy:
    """The policy of every file of an interactive lesson: it runs (scripts and styles
    inline too: it is someone else's code, held by the sandbox, not by this policy), but
    loads, connects to and sends nothing outside its own address prefix, and only the
    lesson page's origin may frame it."""
    own = (prefix,)
    return Policy(
        "sandbox-file",
        {
            "sandbox": ("allow-scripts",),
            "default-src": ("'none'",),
            "script-src": (*own, "'unsafe-inline'", "'unsafe-eval'"),
            "style-src": (*own, "'unsafe-inline'"),
            "img-src": (*own, "data:", "blob:"),
            "media-src": (*own, "data:", "blob:"),
            "font-src": (*own, "data:"),
            "connect-src": own,
            "frame-src": own,
            "worker-src": own,
            "manifest-src": ("'none'",),
            "object-src": ("'none'",),
            "base-uri": ("'none'",),
            "form-action": ("'none'",),
            "frame-ancestors": (page_origin,),
        },
    )


def framing_sandbox(base: Policy, sandbox_origin: str) -> Policy:
    """A page's policy, plus framing the sandbox's origin (and nothing else)."""
    return Policy(f"{base.name}+sandbox", {**base.directives, "frame-src": (sandbox_origin,)})


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, *, https: bool) -> None:
        self.app = app
        self.headers = {
            "Content-Security-Policy": CSP.PAGE.header,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "X-Frame-Options": "DENY",
            "Cross-Origin-Opener-Policy": "same-origin",
            "Cross-Origin-Resource-Policy": "same-origin",
            "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
        }
        if https:
            self.headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
        # Pages hold personal data and tablets are shared: never keep them in a cache
        # unless the response said otherwise (static files do).
        defaults = self.headers | {"Cache-Control": "no-store"}
        # As the raw (lower-case name, value) pairs of an ASGI message, encoded once.
        self._defaults = [
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in defaults.items()
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = secrets.token_hex(8)
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                # Each default only where the response did not set its own; the request's
                # id in place of any other. A new list: the response may hold on to its own.
                given = [
                    (name, value)
                    for name, value in message.get("headers", ())
                    if name.lower() != b"x-request-id"
                ]
                present = {name.lower() for name, _ in given}
                given.extend(pair for pair in self._defaults if pair[0] not in present)
                given.append((b"x-request-id", request_id.encode("latin-1")))
                message["headers"] = given
            await send(message)

        await self.app(scope, receive, send_with_headers)
