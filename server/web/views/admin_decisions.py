"""Admin pages for review decisions: the facility's list of reasons for rejecting content,
and the export of decisions for other facilities of the department."""

from __future__ import annotations

from starlette.responses import Response

from server.catalog import decisions
from server.core.errors import NotFound, ValidationError
from server.people.accounts import Role
from server.web.plumbing import Req, access, redirect

_EXPORTS = {"csv": "text/csv; charset=utf-8", "json": "application/json"}


def _reasons_page(req: Req, error: str = "", status: int = 200) -> Response:
    return req.render(
        "admin/reasons.html",
        {"reasons": decisions.reasons(req.database), "error": error, "form": req.form},
        status,
    )


@access(Role.ADMIN)
def reason_list(req: Req) -> Response:
    return _reasons_page(req)


@access(Role.ADMIN)
def reason_add(req: Req) -> Response:
    actor = req.user.actor(req.client_address)
    try:
        decisions.add_reason(req.database, actor, req.field("label", 200))
    except ValidationError as exc:
        return _reasons_page(req, exc.message, 400)
    return redirect("/admin/content/reasons", notice="saved")


@access(Role.ADMIN)
def reason_remove(req: Req) -> Response:
    actor = req.user.actor(req.client_address)
    try:
        decisions.remove_reason(req.database, actor, req.request.path_params["code"])
    except ValidationError as exc:
        return _reasons_page(req, exc.message, 400)
    return redirect("/admin/content/reasons", notice="saved")


@access(Role.ADMIN)
def decisions_download(req: Req) -> Response:
    """Every decision made here, as CSV or JSON, for another facility of the department."""
    kind = req.request.path_params["kind"]
    if kind not in _EXPORTS:
        raise NotFound()
    rows = decisions.decisions(req.database)
    if kind == "csv":
        body = decisions.to_csv(rows)
    else:
        body = decisions.to_json(rows, req.settings.facility_name)
    decisions.record_export(req.database, req.user.actor(req.client_address), kind, len(rows))
    return Response(
        body,
        media_type=_EXPORTS[kind],
        headers={"Content-Disposition": f'attachment; filename="review-decisions.{kind}"'},
    )
