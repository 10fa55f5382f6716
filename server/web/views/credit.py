"""Earned-credit pages: the admin's credit rules, a learner's ledger and a group's for
staff, corrections (admins), and the CSV and signed JSON downloads."""

from __future__ import annotations

from starlette.responses import Response

from server.core.errors import NotFound, ValidationError
from server.learning import credit_rules, ledger
from server.learning.access import Scope
from server.learning.credit_rules import CREDIT_TYPES, HOURS_BASES, NewRule
from server.learning.ledger import Correction
from server.learning.visibility import CATEGORY_LABELS
from server.people.accounts import Role
from server.teaching import credit_reports, dashboards
from server.web.plumbing import Req, access, redirect

STAFF = (Role.EDUCATOR, Role.ADMIN)


# ---- Rules (admins) -------------------------------------------------------------------


def _rules_page(req: Req, error: str = "", status: int = 200) -> Response:
    every = credit_rules.rules(req.database)
    today = credit_rules.today()
    form = dict(req.form) if req.form else dict(req.request.query_params)
    return req.render(
        "admin/credit_rules.html",
        {
            "rules": [(r, credit_rules.status_of(r, every, today)) for r in every],
            "courses": dashboards.course_titles(req.database),
            "categories": CATEGORY_LABELS,
            "credit_types": CREDIT_TYPES,
            "bases": HOURS_BASES,
            "today": today,
            "form": form,
            "error": error,
        },
        status,
    )


@access(Role.ADMIN)
def rules_page(req: Req) -> Response:
    return _rules_page(req)


@access(Role.ADMIN)
def rule_add(req: Req) -> Response:
    kind, _, target = req.field("target", 300).partition(":")
    rule = NewRule(
        target_kind=kind,
        target=target,
        credit_type=req.field("credit_type", 40),
        hours_basis=req.field("hours_basis", 40),
        effective_from=req.field("effective_from", 20),
        note=req.field("note", credit_rules.MAX_NOTE * 4),
    )
    try:
        credit_rules.add_rule(req.database, req.user.actor(req.client_address), rule)
    except ValidationError as exc:
        return _rules_page(req, exc.message, 400)
    return redirect("/admin/credit", notice="saved")


# ---- Ledgers (staff) ------------------------------------------------------------------


def _learner_page(req: Req, error: str = "", status: int = 200) -> Response:
    scope = Scope.of(req.user)
    learner = scope.learner(req.database, int(req.request.path_params["user_id"]))
    found = credit_reports.lines(req.database, scope, learner_id=learner.id)
    entries = [line.entry for line in found]
    return req.render(
        "teach/learner_credit.html",
        {
            "learner": learner,
            "lines": found,
            "totals": ledger.totals(entries),
            "credit_types": CREDIT_TYPES,
            "bases": HOURS_BASES,
            "may_correct": req.user.role is Role.ADMIN,
            "error": error,
            "form": req.form,
        },
        status,
    )


@access(*STAFF)
def learner_credit(req: Req) -> Response:
    return _learner_page(req)


@access(Role.ADMIN)
def entry_correct(req: Req) -> Response:
    scope = Scope.of(req.user)
    learner = scope.learner(req.database, int(req.request.path_params["user_id"]))
    entry = ledger.entry(req.database, int(req.request.path_params["entry_id"]))
    if entry.user_id != learner.id:
        raise NotFound()
    correction = Correction(
        entry.id,
        req.field("hours", 20),
        req.field("credit_type", 40),
        req.field("reason", ledger.MAX_REASON * 4),
    )
    try:
        ledger.correct(req.database, req.user.actor(req.client_address), correction)
    except ValidationError as exc:
        return _learner_page(req, exc.message, 400)
    return redirect(f"/teach/learners/{learner.id}/credit", notice="saved")


@access(*STAFF)
def group_credit(req: Req) -> Response:
    scope = Scope.of(req.user)
    group = scope.group(req.database, int(req.request.path_params["group_id"]))
    found = [line for line in credit_reports.lines(req.database, scope, group.id) if line.in_force]
    return req.render(
        "teach/group_credit.html",
        {
            "group": group,
            "lines": found,
            "totals": credit_reports.totals_by_learner(found),
            "credit_types": CREDIT_TYPES,
            "bases": HOURS_BASES,
        },
    )


# ---- Downloads ------------------------------------------------------------------------


@access(*STAFF)
def export_credit(req: Req) -> Response:
    """`credit.csv` or `credit.json` (signed), of one group (`?group=`), one learner
    (`?learner=`) or everyone in the viewer's scope."""
    group_id = req.query_int("group", 0) or None
    learner_id = req.query_int("learner", 0) or None
    found = credit_reports.lines(req.database, Scope.of(req.user), group_id, learner_id)
    signed = req.request.url.path.endswith(".json")
    if signed:
        body, media_type = credit_reports.signed_json(req.settings, found), "application/json"
    else:
        body, media_type = credit_reports.to_csv(found), "text/csv; charset=utf-8"
    target = f"group:{group_id}" if group_id else f"user:{learner_id}" if learner_id else "all"
    credit_reports.record_export(
        req.database,
        req.user.actor(req.client_address),
        "signed-json" if signed else "csv",
        target,
        len(found),
    )
    name = "credit.signed.json" if signed else "credit.csv"
    return Response(
        body,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
