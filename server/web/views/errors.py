"""One handler renders every error: a page for people, JSON for API calls."""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from server.core.db import write_refused
from server.core.errors import N_, CannotSave, HTTPError, NotSignedIn
from server.web import i18n
from server.web.plumbing import Services, anonymous_language, redirect

log = logging.getLogger("stepstone.errors")

# nginx's code for "the client closed the connection before the answer": nobody gets it,
# but the request log and the metrics show it apart from the server's own failures.
CLIENT_CLOSED = 499

_STARLETTE_MESSAGES = {
    400: N_("Something in the form was not right. Please try again."),
    404: N_("We could not find this page."),
    405: N_("This page cannot be used that way."),
    413: N_("What you sent is too big."),
}


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def render_error(request: Request, status: int, message: str) -> Response:
    services: Services = request.app.state.services
    language = getattr(request.state, "language", None)
    i18n.set_language(language or anonymous_language(request, services.settings))
    if _wants_json(request):
        return JSONResponse({"error": i18n.gettext(message), "status": status}, status)
    context = {
        "status": status,
        "message": message,
        "user": None,
        "req": None,
        "language": i18n.current_language(),
        "csrf_token": lambda: "",
        "facility_name": services.settings.facility_name,
        "notice": "",
    }
    return services.templates.response(request, "error.html", context, status)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPError)
    if isinstance(exc, NotSignedIn) and not _wants_json(request):
        services: Services = request.app.state.services
        staff_page = request.url.path.startswith(("/admin", "/teach"))
        had_session = services.session_cookie in request.cookies
        # Signed out by the access check: say why (tablet hours, holiday, lockdown).
        why = getattr(request.state, "signed_out_notice", "signed-out")
        return redirect(
            "/staff/signin" if staff_page else "/signin", notice=why if had_session else ""
        )
    return render_error(request, exc.status, exc.message)


async def starlette_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = _STARLETTE_MESSAGES.get(exc.status_code, HTTPError.default_message)
    return render_error(request, exc.status_code, message)


async def client_gone(request: Request, exc: Exception) -> Response:
    """The client went away while sending its body (a tablet lost the network): not a
    server error, so it is neither logged as one nor counted as a 500."""
    assert isinstance(exc, ClientDisconnect)
    return Response(status_code=CLIENT_CLOSED)


async def storage_error(request: Request, exc: Exception) -> Response:
    """A write the disk or the database refused is not a bug: say "try again later"
    (503) and keep the traceback out of the log; any other such error is a 500."""
    if not write_refused(exc):
        return await server_error(request, exc)
    log.warning("a write was refused on %s %s: %s", request.method, request.url.path, exc)
    return render_error(request, CannotSave.status, CannotSave.default_message)


async def server_error(request: Request, exc: Exception) -> Response:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return render_error(request, 500, HTTPError.default_message)
