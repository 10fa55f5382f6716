"""The first page each role sees after signing in."""

from __future__ import annotations

from starlette.responses import Response

from server.people import accounts, groups
from server.people.accounts import Role
from server.web.plumbing import Req, access


@access(Role.ADMIN)
def admin_home(req: Req) -> Response:
    counts = {
        role.value: accounts.list_users(req.database, accounts.UserQuery(role=role.value))[1]
        for role in Role
    }
    locked = accounts.list_users(req.database, accounts.UserQuery(status="locked", limit=20))[0]
    return req.render(
        "admin/home.html",
        {
            "counts": counts,
            "locked": locked,
            "groups": len(groups.list_groups(req.database)),
        },
    )
