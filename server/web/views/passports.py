"""The Learning Passport pages: the learner's own ("My Learning Passport"), the staff
action that issues one at release, the printable passport in the learner's language and
its signed file; and a certificate's Open Badges credential as a download."""

from __future__ import annotations

from starlette.responses import Response

from server.core.errors import NotFound
from server.learning.access import certificate_for, record_owner
from server.people.accounts import Role
from server.records import badges, checkcodes, identity, passports
from server.records.passports import Passport
from server.web import i18n
from server.web.plumbing import Req, access, redirect
from server.web.qr import qr_svg

STAFF = (Role.EDUCATOR, Role.ADMIN)


def _printable(req: Req, passport: Passport, back: str) -> Response:
    """The passport as printed: in the learner's language, whoever prints it."""
    check = checkcodes.for_passport(req.settings, passport)
    i18n.set_language(passport.language)
    return req.render(
        "passport.html",
        {
            "language": passport.language,
            "passport": passport,
            "doc": passport.document,
            "check_code": check,
            "qr": qr_svg(check),
            "back": back,
            "file_url": _file_url(req, passport),
        },
    )


def _file_url(req: Req, passport: Passport) -> str:
    if req.user.role is Role.LEARNER:
        return f"/learn/passport/{passport.id}/file"
    return f"/teach/passports/{passport.id}/file"


def _download(passport: Passport) -> Response:
    return Response(
        passport.data,
        media_type=passports.MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{passport.filename}"'},
    )


def _own_passport(req: Req) -> Passport:
    found = passports.find(req.database, req.request.path_params["passport_id"])
    if found is None:
        raise NotFound()
    record_owner(req.database, req.user, found.learner_id)
    return found


@access(Role.LEARNER)
def my_passport(req: Req) -> Response:
    """My Learning Passport: the latest one issued, ready to print; before staff issue
    one, what it will say."""
    issued = passports.of_learner(req.database, req.user.id)
    if issued:
        return _printable(req, issued[0], "/learn/transcript")
    return req.render(
        "learn/passport_preview.html",
        {"doc": passports.contents(req.database, req.settings, req.user)},
    )


@access(Role.LEARNER)
def passport_file(req: Req) -> Response:
    return _download(_own_passport(req))


@access(*STAFF)
def staff_passport_file(req: Req) -> Response:
    return _download(_own_passport(req))


@access(*STAFF)
def learner_passports(req: Req) -> Response:
    """A learner's passports, and the button that issues a new one (at release)."""
    learner = record_owner(req.database, req.user, int(req.request.path_params["user_id"]))
    return req.render(
        "teach/passports.html",
        {
            "learner": learner,
            "issued": passports.of_learner(req.database, learner.id),
            "doc": passports.contents(req.database, req.settings, learner),
            "fingerprint": identity.own_fingerprint(req.settings),
        },
    )


@access(*STAFF)
def issue_passport(req: Req) -> Response:
    learner = record_owner(req.database, req.user, int(req.request.path_params["user_id"]))
    issued = passports.issue(
        req.database, req.settings, req.user.actor(req.client_address), learner
    )
    return redirect(f"/teach/passports/{issued.id}", notice="saved")


@access(*STAFF)
def staff_passport(req: Req) -> Response:
    found = _own_passport(req)
    return _printable(req, found, f"/teach/learners/{found.learner_id}/passports")


@access(Role.LEARNER)
def certificate_badge(req: Req) -> Response:
    """The certificate as an Open Badges 3.0 credential (a VC-JWT file)."""
    cert = certificate_for(req.database, req.settings, req.user, req.request.path_params["code"])
    if cert.revoked:
        raise NotFound()
    token = badges.issue(req.settings, cert)
    name = f"open-badge-{cert.code}{badges.FILE_SUFFIX}"
    return Response(
        token,
        media_type=badges.MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
