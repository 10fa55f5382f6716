"""Admin page for lockdowns: start one for a unit or the whole facility, end it, and
see the latest ones."""

from __future__ import annotations

from starlette.responses import Response

from server.core import clock
from server.core.errors import N_, Forbidden, ValidationError
from server.people import groups, lockdowns
from server.people.accounts import Role
from server.web import dates
from server.web.plumbing import Req, access, redirect

PAGE = "/admin/lockdowns"
LENGTHS = (1, 2, 4, 8, 12, 24, 48)


def _page(req: Req, error: str = "", status: int = 200) -> Response:
    zone = req.settings.time_zone
    moment = clock.now()

    def when(value: float | None) -> str:
        return "" if value is None else dates.date_time(clock.iso(value), zone)

    rows = [
        (lockdown, lockdown.active_at(moment), when(lockdown.started_at), when(lockdown.stops_at()))
        for lockdown in lockdowns.history(req.database)
    ]
    return req.render(
        "admin/lockdowns.html",
        {
            "rows": rows,
            "groups": groups.list_groups(req.database),
            "reasons": lockdowns.REASONS,
            "lengths": LENGTHS,
            "error": error,
            "form": req.form,
        },
        status,
    )


def _may_lock_down(req: Req) -> None:
    """Admins always; educators when the facility names them (`lockdown_roles`)."""
    role = req.user.role
    if role is not Role.ADMIN and role.value not in req.settings.lockdown_roles:
        raise Forbidden()


@access(Role.ADMIN, Role.EDUCATOR)
def lockdown_page(req: Req) -> Response:
    _may_lock_down(req)
    return _page(req)


@access(Role.ADMIN, Role.EDUCATOR)
def lockdown_start(req: Req) -> Response:
    _may_lock_down(req)
    length = req.field("hours", 10)
    try:
        if length and not (length.isdigit() and int(length) in LENGTHS):
            raise ValidationError(N_("Choose how long the lockdown lasts."), "hours")
        planned_end = clock.now() + int(length) * 3600 if length else None
        lockdowns.start(
            req.database,
            req.user.actor(req.client_address),
            req.form_int("group"),
            req.field("reason", 40),
            planned_end,
            req.field("note", 1000),
        )
    except ValidationError as exc:
        return _page(req, exc.message, 400)
    return redirect(PAGE, notice="lockdown-started")


@access(Role.ADMIN, Role.EDUCATOR)
def lockdown_end(req: Req) -> Response:
    _may_lock_down(req)
    lockdown_id = int(req.request.path_params["lockdown_id"])
    try:
        lockdowns.end(req.database, req.user.actor(req.client_address), lockdown_id)
    except ValidationError as exc:
        return _page(req, exc.message, 400)
    return redirect(PAGE, notice="lockdown-ended")
