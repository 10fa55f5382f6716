"""Admin pages for accounts: list, create, edit, reset, disable, unlock, end sessions."""

from __future__ import annotations

from starlette.responses import Response

from server.catalog import teacher_files
from server.core.db import row_id
from server.core.errors import N_, NotFound, ValidationError
from server.people import accounts, groups, sessions, signin
from server.people.accounts import Role, User
from server.web.plumbing import MAX_PAGE, Req, access, redirect

PAGE_SIZE = 50


def _user_id(req: Req) -> int:
    return int(req.request.path_params["user_id"])


@access(Role.ADMIN)
def user_list(req: Req) -> Response:
    params = req.request.query_params
    page = max(req.query_int("page", 1, MAX_PAGE), 1)
    query = accounts.UserQuery(
        role=params.get("role", ""),
        text=params.get("q", "")[:80],
        status=params.get("status", ""),
        limit=PAGE_SIZE,
        offset=(page - 1) * PAGE_SIZE,
    )
    users, total = accounts.list_users(req.database, query)
    return req.render(
        "admin/users.html",
        {
            "users": users,
            "total": total,
            "query": query,
            "page": page,
            "pages": max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1),
        },
    )


def _new_user_page(req: Req, error: str = "", status: int = 200) -> Response:
    return req.render(
        "admin/user_new.html",
        {
            "error": error,
            "form": req.form,
            "roles": [r.value for r in Role],
            "groups": groups.list_groups(req.database),
        },
        status,
    )


@access(Role.ADMIN)
def user_new_form(req: Req) -> Response:
    return _new_user_page(req)


@access(Role.ADMIN)
def user_create(req: Req) -> Response:
    try:
        role = Role(req.field("role"))
    except ValueError:
        return _new_user_page(req, N_("Choose a role."), 400)
    group_id = row_id(req.field("group_id", 40))
    if req.field("group_id") and group_id is None:
        return _new_user_page(req, N_("Choose a group from the list."), 400)
    actor = req.user.actor(req.client_address)
    try:
        user, secret = accounts.create_user(
            req.database,
            actor,
            role,
            req.field("login", 64),
            req.field("display_name", 200),
            req.field("language", 5),
        )
        if group_id is not None and role is not Role.ADMIN:
            groups.add_member(req.database, actor, group_id, user.id)
    except ValidationError as exc:
        return _new_user_page(req, exc.message, 400)
    return req.render(
        "admin/one_time_secret.html", {"subject": user, "secret": secret, "created": True}
    )


def _user_page(req: Req, user: User, error: str = "", status: int = 200) -> Response:
    all_groups = groups.list_groups(req.database)
    member_of = groups.groups_of(req.database, user.id)
    wrong_tries, locked = signin.wrong_tries(req.database, req.settings, user)
    return req.render(
        "admin/user.html",
        {
            "subject": user,
            "member_of": member_of,
            "other_groups": [g for g in all_groups if g.id not in {m.id for m in member_of}],
            "active_sessions": sessions.active_count(req.database, user.id),
            "wrong_tries": wrong_tries,
            "locked": locked,
            "waiver": teacher_files.waiver_of(req.database, user.id)
            if user.role is Role.EDUCATOR
            else None,
            "error": error,
        },
        status,
    )


@access(Role.ADMIN)
def user_detail(req: Req) -> Response:
    return _user_page(req, accounts.get_user(req.database, _user_id(req)))


@access(Role.ADMIN)
def user_update(req: Req) -> Response:
    user_id = _user_id(req)
    try:
        accounts.update_profile(
            req.database,
            req.user.actor(req.client_address),
            user_id,
            req.field("display_name", 200),
            req.field("language", 5),
        )
    except ValidationError as exc:
        return _user_page(req, accounts.get_user(req.database, user_id), exc.message, 400)
    return redirect(f"/admin/users/{user_id}", notice="saved")


@access(Role.ADMIN)
def user_action(req: Req) -> Response:
    """One of the buttons on a user's page: reset, disable, enable, unlock, end sessions."""
    user_id, action = _user_id(req), req.request.url.path.rsplit("/", 1)[1]
    actor = req.user.actor(req.client_address)
    user = accounts.get_user(req.database, user_id)
    try:
        if action == "reset":
            secret = accounts.reset_secret(req.database, actor, user_id)
            return req.render(
                "admin/one_time_secret.html", {"subject": user, "secret": secret, "created": False}
            )
        if action in ("disable", "enable"):
            accounts.set_disabled(req.database, actor, user_id, action == "disable")
        elif action == "unlock":
            accounts.unlock(req.database, actor, user_id)
        elif action == "end-sessions":
            accounts.end_sessions(req.database, actor, user_id)
        else:
            raise NotFound()
    except ValidationError as exc:
        return _user_page(req, user, exc.message, 400)
    return redirect(f"/admin/users/{user_id}", notice=action)


@access(Role.ADMIN)
def file_waiver(req: Req) -> Response:
    """Let an educator share files without review ("waiver": "on"), or end that."""
    user = accounts.get_user(req.database, _user_id(req))
    try:
        teacher_files.set_waiver(
            req.database, req.user.actor(req.client_address), user, req.field("waiver", 5) == "on"
        )
    except ValidationError as exc:
        return _user_page(req, user, exc.message, 400)
    return redirect(f"/admin/users/{user.id}", notice="saved")
