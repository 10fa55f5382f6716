"""Admin pages for groups (classes, housing units, programs) and their members."""

from __future__ import annotations

from starlette.responses import Response

from server.core.errors import N_, ValidationError
from server.people import accounts, groups
from server.people.accounts import Role
from server.web.plumbing import Req, access, redirect


def _group_id(req: Req) -> int:
    return int(req.request.path_params["group_id"])


def _list_page(req: Req, error: str = "", status: int = 200) -> Response:
    return req.render(
        "admin/groups.html",
        {
            "groups": groups.list_groups(req.database),
            "kinds": groups.GROUP_KINDS,
            "error": error,
            "form": req.form,
        },
        status,
    )


@access(Role.ADMIN)
def group_list(req: Req) -> Response:
    return _list_page(req)


@access(Role.ADMIN)
def group_create(req: Req) -> Response:
    try:
        group = groups.create_group(
            req.database,
            req.user.actor(req.client_address),
            req.field("name", 100),
            req.field("kind", 20),
            req.field("description", 600),
        )
    except ValidationError as exc:
        return _list_page(req, exc.message, 400)
    return redirect(f"/admin/groups/{group.id}", notice="created")


def _group_page(req: Req, error: str = "", status: int = 200) -> Response:
    group = groups.get_group(req.database, _group_id(req))
    return req.render(
        "admin/group.html",
        {
            "group": group,
            "members": groups.members(req.database, group.id),
            "kinds": groups.GROUP_KINDS,
            "error": error,
        },
        status,
    )


@access(Role.ADMIN)
def group_detail(req: Req) -> Response:
    return _group_page(req)


@access(Role.ADMIN)
def group_update(req: Req) -> Response:
    try:
        groups.update_group(
            req.database,
            req.user.actor(req.client_address),
            _group_id(req),
            req.field("name", 100),
            req.field("kind", 20),
            req.field("description", 600),
        )
    except ValidationError as exc:
        return _group_page(req, exc.message, 400)
    return redirect(f"/admin/groups/{_group_id(req)}", notice="saved")


@access(Role.ADMIN)
def group_delete(req: Req) -> Response:
    groups.delete_group(req.database, req.user.actor(req.client_address), _group_id(req))
    return redirect("/admin/groups", notice="deleted")


@access(Role.ADMIN)
def member_add(req: Req) -> Response:
    """Add a learner (by facility id) or an educator (by username) to the group."""
    login = req.field("login", 64).strip()
    found = accounts.find_user(req.database, Role.LEARNER, login) or accounts.find_user(
        req.database, Role.EDUCATOR, login
    )
    if found is None:
        return _group_page(req, N_("No account has this id or username."), 400)
    try:
        groups.add_member(
            req.database, req.user.actor(req.client_address), _group_id(req), found[0].id
        )
    except ValidationError as exc:
        return _group_page(req, exc.message, 400)
    return redirect(f"/admin/groups/{_group_id(req)}", notice="member-added")


@access(Role.ADMIN)
def member_remove(req: Req) -> Response:
    user_id = int(req.request.path_params["user_id"])
    groups.remove_member(req.database, req.user.actor(req.client_address), _group_id(req), user_id)
    return redirect(f"/admin/groups/{_group_id(req)}", notice="member-removed")
