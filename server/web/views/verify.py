"""Checking what a learner brings, for staff: the code typed from a certificate of this
facility, or the QR code of a passport or certificate, a passport file or an Open Badges
credential from any facility this one trusts (``records.verification``)."""

from __future__ import annotations

from starlette.datastructures import UploadFile
from starlette.responses import Response

from server.core.errors import N_, NotFound, ValidationError
from server.learning import certificates
from server.learning.access import certificate_for
from server.learning.certificates import Certificate
from server.people.accounts import Role
from server.records import checkcodes, passports, verification
from server.records.verification import DatabaseTrust, Verdict
from server.web.plumbing import Req, access, redirect

STAFF = (Role.EDUCATOR, Role.ADMIN)


def _lookup(req: Req) -> verification.Lookup:
    return lambda code: certificates.find(req.database, req.settings, code)


def _page(
    req: Req,
    typed: str = "",
    cert: Certificate | None = None,
    verdict: Verdict | None = None,
    error: str = "",
) -> Response:
    checked = bool(typed) or verdict is not None
    failed = checked and cert is None and (verdict is None or verdict.exit_code != 0)
    status = 400 if error else 404 if failed and verdict is None else 200
    return req.render(
        "verify.html",
        {"typed": typed, "checked": checked, "cert": cert, "verdict": verdict, "error": error},
        status,
    )


@access(*STAFF)
def verify_form(req: Req) -> Response:
    typed = req.request.query_params.get("code", "")[: checkcodes.MAX_CHARS]
    stripped = typed.strip()
    if verification.is_text(stripped):
        trust = DatabaseTrust(req.database)
        return _page(req, verdict=verification.check_text(trust, stripped, _lookup(req)))
    if typed:
        canonical = certificates.normalize(typed)
        if canonical:
            return redirect(f"/verify/{canonical}")
    return _page(req, typed)


@access(*STAFF)
def verify_code(req: Req) -> Response:
    code = req.request.path_params["code"]
    try:
        cert: Certificate | None = certificate_for(req.database, req.settings, req.user, code)
    except NotFound:
        cert = None
    return _page(req, code, cert)


@access(*STAFF)
def verify_file(req: Req) -> Response:
    """A passport file or an Open Badges credential, uploaded."""
    upload = req.form.get("file")
    if not isinstance(upload, UploadFile):
        verdict = Verdict(False, "unknown", N_("Choose a file."))
    else:
        data = upload.file.read(passports.MAX_FILE_BYTES + 1)
        trust = DatabaseTrust(req.database)
        verdict = verification.check_file(trust, data, _lookup(req))
    return _page(req, verdict=verdict)


@access(Role.ADMIN)
def revoke(req: Req) -> Response:
    """An admin withdraws a certificate issued by mistake, saying why (audited)."""
    code = req.request.path_params["code"]
    cert = certificate_for(req.database, req.settings, req.user, code)
    try:
        certificates.revoke(
            req.database,
            req.settings,
            req.user.actor(req.client_address),
            cert.code,
            req.field("reason", 600),
        )
    except ValidationError as exc:
        return _page(req, cert.code, cert, error=exc.message)
    return redirect(f"/verify/{cert.code}", notice="saved")
