"""Signing in and out, choosing a language, and changing one's own PIN or password."""

from __future__ import annotations

from starlette.responses import Response

from server.core.errors import N_, ValidationError
from server.core.settings import SUPPORTED_LANGUAGES
from server.people import accounts, groups, sessions
from server.people.accounts import Role
from server.people.signin import (
    Attempt,
    SignedOutAfterWrongTries,
    SignInRefused,
    change_own_secret,
    sign_in,
    sign_out,
)
from server.web.plumbing import (
    LANGUAGE_COOKIE,
    PUBLIC,
    SIGNED_IN,
    Req,
    access,
    redirect,
    safe_next,
)

HOMES = {Role.LEARNER: "/learn", Role.EDUCATOR: "/teach", Role.ADMIN: "/admin"}


@access(SIGNED_IN)
def home(req: Req) -> Response:
    return redirect(HOMES[req.user.role])


def _signin_page(
    req: Req,
    staff: bool,
    error: str = "",
    retry_after: int = 0,
    login: str = "",
    status: int = 200,
    tries_left: int = 0,
) -> Response:
    if req.session is not None and not error:
        return redirect(HOMES[req.session.user.role])
    context = {
        "staff": staff,
        "error": error,
        "retry_after": retry_after,
        "login": login,
        "tries_left": tries_left,
    }
    return req.render("signin.html", context, status)


@access(PUBLIC)
def learner_signin_form(req: Req) -> Response:
    return _signin_page(req, staff=False)


@access(PUBLIC)
def staff_signin_form(req: Req) -> Response:
    return _signin_page(req, staff=True)


def _sign_in(req: Req, staff: bool) -> Response:
    login = req.field("username" if staff else "facility_id", 64)
    secret = req.field("password" if staff else "pin", 256)
    attempt = _attempt(req, Role.EDUCATOR if staff else Role.LEARNER, login, secret)
    try:
        user, session_id = sign_in(req.database, req.settings, attempt)
    except SignInRefused as refused:
        status = 429 if refused.retry_after else 401
        return _signin_page(
            req, staff, refused.message, refused.retry_after, login, status, refused.tries_left
        )
    if req.session is not None:
        sessions.end(req.database, req.session.id, "replaced")
    response = redirect("/account/secret" if user.must_change_secret else HOMES[user.role])
    _set_session_cookie(req, response, session_id)
    return response


def _attempt(req: Req, kind: Role, login: str, secret: str) -> Attempt:
    user_agent = req.request.headers.get("user-agent", "")
    return Attempt(kind, login, secret, req.client_address, user_agent)


def _set_session_cookie(req: Req, response: Response, session_id: str) -> None:
    response.set_cookie(
        req.services.session_cookie,
        req.services.tokens.session.dumps(session_id),
        httponly=True,
        samesite="strict",
        secure=req.settings.https,
        path="/",
    )


@access(PUBLIC)
def learner_signin(req: Req) -> Response:
    return _sign_in(req, staff=False)


@access(PUBLIC)
def staff_signin(req: Req) -> Response:
    return _sign_in(req, staff=True)


@access(SIGNED_IN, allow_pending_change=True)
def signout(req: Req) -> Response:
    user = req.user
    staff = user.role.is_staff
    session_id = req.session.id if req.session else ""
    sign_out(req.database, session_id, user.actor(req.client_address), user.label)
    return _signed_out(req, "/staff/signin" if staff else "/signin", "signed-out")


def _signed_out(req: Req, path: str, notice: str) -> Response:
    """To the sign-in page, with the session cookie removed (its session has ended)."""
    response = redirect(path, notice=notice)
    response.delete_cookie(
        req.services.session_cookie, httponly=True, samesite="strict", secure=req.settings.https
    )
    return response


@access(PUBLIC)
def choose_language(req: Req) -> Response:
    language = req.field("language", 5)
    if language not in SUPPORTED_LANGUAGES:
        language = req.settings.default_language
    if req.session is not None:
        accounts.set_language(req.database, req.session.user, language)
    req.extra_cookies[LANGUAGE_COOKIE] = language
    return redirect(safe_next(req.field("next", 200)))


@access(SIGNED_IN)
def account(req: Req) -> Response:
    return req.render(
        "account/account.html", {"groups": groups.groups_of(req.database, req.user.id)}
    )


@access(SIGNED_IN, allow_pending_change=True)
def change_secret_form(req: Req) -> Response:
    return req.render("account/secret.html", {"errors": {}})


@access(SIGNED_IN, allow_pending_change=True)
def change_secret(req: Req) -> Response:
    user = req.user
    learner = user.role is Role.LEARNER
    current = req.field("current", 256)
    new, again = req.field("new", 256), req.field("again", 256)
    try:
        if new != again:
            message = (
                N_("The two new PINs are not the same.")
                if learner
                else N_("The two new passwords are not the same.")
            )
            raise ValidationError(message, "again")
        assert req.session is not None
        attempt = _attempt(req, user.role, user.login, current)
        session_id = change_own_secret(req.database, req.settings, req.session, attempt, new)
    except ValidationError as exc:
        return req.render("account/secret.html", {"errors": {exc.field or "": exc.message}}, 400)
    except SignInRefused as refused:
        status = 429 if refused.retry_after else 401
        return req.render("account/secret.html", {"errors": {"current": refused.message}}, status)
    except SignedOutAfterWrongTries:
        return _signed_out(req, "/staff/signin" if user.role.is_staff else "/signin", "wrong-tries")
    notice = "pin-changed" if learner else "secret-changed"
    response = redirect(HOMES[user.role], notice=notice)
    _set_session_cookie(req, response, session_id)
    return response
