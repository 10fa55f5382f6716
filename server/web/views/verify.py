"""Certificate verification for staff: type the code from the paper."""

from __future__ import annotations

from starlette.responses import Response

from server.core.errors import NotFound
from server.learning import certificates
from server.learning.access import certificate_for
from server.learning.certificates import Certificate
from server.people.accounts import Role
from server.web.plumbing import Req, access, redirect


@access(Role.EDUCATOR, Role.ADMIN)
def verify_form(req: Req) -> Response:
    typed = req.request.query_params.get("code", "")
    if typed:
        canonical = certificates.normalize(typed)
        if canonical:
            return redirect(f"/verify/{canonical}")
    return req.render("verify.html", {"typed": typed, "checked": bool(typed), "cert": None})


@access(Role.EDUCATOR, Role.ADMIN)
def verify_code(req: Req) -> Response:
    code = req.request.path_params["code"]
    try:
        cert: Certificate | None = certificate_for(req.database, req.settings, req.user, code)
    except NotFound:
        cert = None
    return req.render(
        "verify.html",
        {"typed": code, "checked": True, "cert": cert},
        200 if cert is not None else 404,
    )
