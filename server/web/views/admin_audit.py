"""The admin's view of the audit log, newest first, with filters, and the check of its
chain and of the credit ledger entries it seals."""

from __future__ import annotations

from starlette.responses import Response

from server.learning import ledger
from server.people import audit
from server.people.accounts import Role
from server.web.plumbing import Req, access

PAGE_SIZE = 50


@access(Role.ADMIN)
def audit_log(req: Req) -> Response:
    params = req.request.query_params
    where = audit.AuditFilter(
        action=params.get("action", "")[:60],
        actor=params.get("actor", "")[:60],
        target=params.get("target", "")[:60],
        before_id=req.query_int("before", 0) or None,
        limit=PAGE_SIZE,
    )
    entries = list(audit.list_entries(req.database, where))
    older = entries[-1]["id"] if len(entries) == PAGE_SIZE else None
    chain, credit, key_problem = None, None, ""
    if params.get("verify"):
        try:
            chain = audit.verify_chain(req.database)
        except audit.AuditKeyMissing as exc:
            key_problem = str(exc)
        # The ledger's entries are sealed by the log: checked with it, as the command does.
        credit = ledger.verify_ledger(req.database)
    return req.render(
        "admin/audit.html",
        {
            "entries": entries,
            "where": where,
            "older": older,
            "chain": chain,
            "credit": credit,
            "key_problem": key_problem,
            # Shown so the admin can note it away from the server (see server.people.audit).
            "head": audit.current_head(req.database),
        },
    )
