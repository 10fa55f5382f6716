"""Admin pages for tablet hours: the week of each schedule, holidays, and who can use a
tablet now."""

from __future__ import annotations

from starlette.responses import Response

from server.core import clock
from server.core.errors import N_, ValidationError
from server.people import access_gate, access_windows, accounts, groups
from server.people.accounts import Role
from server.web import dates
from server.web.plumbing import Req, access, redirect

PAGE = "/admin/access"
WEEKDAY_VALUES = frozenset("0123456")  # the form's values: 0 Monday .. 6 Sunday


def _page(req: Req, error: str = "", status: int = 200) -> Response:
    all_groups = {g.id: g for g in groups.list_groups(req.database)}
    schedules: dict[tuple[str, int], list[list[access_windows.Window]]] = {}
    for window in access_windows.windows(req.database):
        key = (
            ("group", window.group_id)
            if window.group_id is not None
            else ("user", window.user_id or 0)
        )
        schedules.setdefault(key, [[] for _ in range(7)])[window.weekday].append(window)
    names = {key: _name(req, all_groups, key) for key in schedules}
    return req.render(
        "admin/access.html",
        {
            "schedules": sorted(schedules.items(), key=lambda item: (item[0][0], names[item[0]])),
            "names": names,
            "groups": list(all_groups.values()),
            "days": dates.weekday_names(),
            "holidays": access_windows.holidays(req.database),
            "combine": req.settings.access_combine,
            "error": error,
            "form": req.form,
        },
        status,
    )


def _name(req: Req, all_groups: dict[int, groups.Group], key: tuple[str, int]) -> str:
    if key[0] == "group":
        return all_groups[key[1]].name
    learner = accounts.get_user(req.database, key[1])
    return f"{learner.display_name} ({learner.login})"


@access(Role.ADMIN)
def hours_page(req: Req) -> Response:
    return _page(req)


@access(Role.ADMIN)
def window_add(req: Req) -> Response:
    actor = req.user.actor(req.client_address)
    days = [int(d) for d in req.form.getlist("weekday") if d in WEEKDAY_VALUES]
    try:
        learner = req.field("learner", 40).strip()
        if learner:
            owner = {"user_id": access_windows.learner_id(req.database, learner)}
        else:
            group_id = req.form_int("group")
            if group_id is None:
                raise ValidationError(N_("Choose a group or a learner."), "group")
            owner = {"group_id": group_id}
        access_windows.add_windows(
            req.database, actor, days, req.field("starts", 10), req.field("ends", 10), **owner
        )
    except ValidationError as exc:
        return _page(req, exc.message, 400)
    return redirect(PAGE, notice="saved")


@access(Role.ADMIN)
def window_remove(req: Req) -> Response:
    window_id = int(req.request.path_params["window_id"])
    access_windows.remove_window(req.database, req.user.actor(req.client_address), window_id)
    return redirect(PAGE, notice="saved")


@access(Role.ADMIN)
def holiday_add(req: Req) -> Response:
    try:
        access_windows.add_holiday(
            req.database,
            req.user.actor(req.client_address),
            req.field("day", 20),
            req.field("name", 200),
        )
    except ValidationError as exc:
        return _page(req, exc.message, 400)
    return redirect(PAGE, notice="saved")


@access(Role.ADMIN)
def holiday_remove(req: Req) -> Response:
    day = req.request.path_params["day"]
    access_windows.remove_holiday(req.database, req.user.actor(req.client_address), day)
    return redirect(PAGE, notice="saved")


@access(Role.ADMIN)
def now_page(req: Req) -> Response:
    """Who can use a tablet now, and until when; who cannot, and why."""
    standings = access_gate.who_can_use_now(req.database, req.settings)
    zone = req.settings.time_zone
    rows = [
        (s, dates.clock_time(s.verdict.until, zone) if s.verdict.until is not None else "")
        for s in standings
    ]
    return req.render(
        "admin/access_now.html",
        {
            "rows": rows,
            "open_count": sum(1 for s in standings if s.verdict.open),
            "now": dates.clock_time(clock.now(), zone),
        },
    )
