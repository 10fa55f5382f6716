"""Running the server: `/healthz` and `/metrics` for monitoring on this machine, and the
admin's status page."""

from __future__ import annotations

import ipaddress

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from server.core.errors import NotFound
from server.ops import health, metrics
from server.people.accounts import Role
from server.web.plumbing import PUBLIC, Req, access

# Headers a reverse proxy adds when it relays a request from somewhere else.
_RELAYED = ("x-forwarded-for", "x-real-ip", "forwarded")


def is_local(request: Request) -> bool:
    """True for a request made on this machine, not one a proxy relayed.

    The peer address decides, never X-Forwarded-For (anyone can send that). But nginx on
    this machine also connects from loopback, or over a Unix socket, on behalf of every
    tablet; it always adds X-Forwarded-For, so a relayed request is refused too.
    """
    if any(name in request.headers for name in _RELAYED):
        return False
    if request.client is None:
        return True  # a Unix socket: only processes on this machine can connect
    try:
        return ipaddress.ip_address(request.client.host).is_loopback
    except ValueError:
        return False


def _monitor(req: Req) -> health.Monitor:
    monitor: health.Monitor = req.request.app.state.health
    return monitor


@access(PUBLIC)
def healthz(req: Req) -> Response:
    """Every check's status and sentence as JSON; 503 when any check fails."""
    if not is_local(req.request):
        raise NotFound()
    report = _monitor(req).report()
    status = 503 if report.status is health.Status.FAIL else 200
    return JSONResponse(report.to_json(), status_code=status)


@access(PUBLIC)
def metrics_page(req: Req) -> Response:
    """Prometheus text format: requests, latency, sync results, check statuses."""
    counters: metrics.RequestMetrics | None = req.request.app.state.metrics
    if counters is None or not is_local(req.request):
        raise NotFound()
    text = metrics.render(counters, req.settings, req.database, _monitor(req).report())
    return Response(text, media_type=metrics.CONTENT_TYPE)


@access(Role.ADMIN)
def status_page(req: Req) -> Response:
    """The same checks, run afresh for the admin, in their language."""
    return req.render("admin/status.html", {"report": _monitor(req).report(max_age=0)})
