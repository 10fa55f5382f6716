"""Groups: classes, housing units and programs, with their learners and educators.

An educator's reach (later: assignments, dashboards) is the learners of the groups the
educator belongs to.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from server.core import clock
from server.core.db import Database
from server.core.errors import N_, NotFound, ValidationError
from server.people import audit
from server.people.accounts import User, get_user
from server.people.audit import Actor

GROUP_KINDS = ("class", "housing", "program")


@dataclass(frozen=True)
class Group:
    id: int
    name: str
    kind: str
    description: str
    learners: int = 0
    educators: int = 0


def _validate(name: str, kind: str, description: str) -> tuple[str, str, str]:
    name = " ".join(name.split())
    if not 1 <= len(name) <= 60 or any(ord(c) < 32 for c in name):
        raise ValidationError(N_("A group name is 1 to 60 characters."), "name")
    if kind not in GROUP_KINDS:
        raise ValidationError(N_("Choose a kind of group."), "kind")
    if len(description) > 500:
        raise ValidationError(N_("A description is at most 500 characters."), "description")
    return name, kind, description.strip()


def _name_taken(db: sqlite_utils.Database, name: str, except_id: int | None = None) -> bool:
    row = db.execute("SELECT id FROM groups WHERE name = ?", [name]).fetchone()
    return row is not None and row[0] != except_id


def insert_group(
    db: sqlite_utils.Database, actor: Actor, name: str, kind: str, description: str = ""
) -> int:
    name, kind, description = _validate(name, kind, description)
    if _name_taken(db, name):
        raise ValidationError(N_("There is already a group with this name."), "name")
    cursor = db.execute(
        "INSERT INTO groups (name, kind, description, created_at) VALUES (?, ?, ?, ?)",
        [name, kind, description, clock.iso()],
    )
    audit.record(db, actor, "group.create", f"group:{name}", kind=kind)
    return int(cursor.lastrowid or 0)


def create_group(
    database: Database, actor: Actor, name: str, kind: str, description: str = ""
) -> Group:
    with database.write() as db:
        group_id = insert_group(db, actor, name, kind, description)
    return get_group(database, group_id)


def update_group(
    database: Database, actor: Actor, group_id: int, name: str, kind: str, description: str
) -> Group:
    old = get_group(database, group_id)
    name, kind, description = _validate(name, kind, description)
    with database.write() as db:
        if _name_taken(db, name, except_id=group_id):
            raise ValidationError(N_("There is already a group with this name."), "name")
        db.execute(
            "UPDATE groups SET name = ?, kind = ?, description = ? WHERE id = ?",
            [name, kind, description, group_id],
        )
        audit.record(db, actor, "group.update", f"group:{old.name}", name=name, kind=kind)
    return get_group(database, group_id)


def delete_group(database: Database, actor: Actor, group_id: int) -> None:
    group = get_group(database, group_id)
    with database.write() as db:
        db.execute("DELETE FROM groups WHERE id = ?", [group_id])
        audit.record(db, actor, "group.delete", f"group:{group.name}")


_GROUP_SQL = """
    SELECT g.*,
      (SELECT count(*) FROM group_members m JOIN users u ON u.id = m.user_id
        WHERE m.group_id = g.id AND u.role = 'learner') AS learners,
      (SELECT count(*) FROM group_members m JOIN users u ON u.id = m.user_id
        WHERE m.group_id = g.id AND u.role != 'learner') AS educators
    FROM groups g
"""


def get_group(database: Database, group_id: int) -> Group:
    row = database.query_one(_GROUP_SQL + " WHERE g.id = ?", [group_id])
    if row is None:
        raise NotFound()
    return _group(row)


def get_group_in(db: sqlite_utils.Database, group_id: int) -> Group:
    """`get_group` inside the caller's write transaction (sees what it wrote)."""
    row = db.execute(_GROUP_SQL + " WHERE g.id = ?", [group_id]).fetchone()
    if row is None:
        raise NotFound()
    return _group(row)


def find_group(database: Database, name: str) -> Group | None:
    """The group with exactly this name, if there is one."""
    row = database.query_one(_GROUP_SQL + " WHERE g.name = ?", [name])
    return _group(row) if row is not None else None


def _group(row: sqlite3.Row) -> Group:
    data: dict[str, Any] = dict(row)
    data.pop("created_at", None)
    return Group(**data)


def list_groups(database: Database, for_user: User | None = None) -> list[Group]:
    """All groups, or only those `for_user` belongs to."""
    if for_user is None:
        rows = database.query(_GROUP_SQL + " ORDER BY g.name")
    else:
        rows = database.query(
            _GROUP_SQL + " JOIN group_members gm ON gm.group_id = g.id"
            " WHERE gm.user_id = ? ORDER BY g.name",
            [for_user.id],
        )
    return [_group(r) for r in rows]


def members(database: Database, group_id: int) -> list[User]:
    rows = database.query(
        "SELECT u.* FROM users u JOIN group_members m ON m.user_id = u.id"
        " WHERE m.group_id = ? ORDER BY u.role, u.display_name",
        [group_id],
    )
    return [User.from_row(r) for r in rows]


def add_member_in(db: sqlite_utils.Database, actor: Actor, group: Group, user: User) -> bool:
    if user.role.value == "admin":
        raise ValidationError(N_("Admins see every group; they are not added to groups."))
    cursor = db.execute(
        "INSERT OR IGNORE INTO group_members (group_id, user_id, added_at) VALUES (?, ?, ?)",
        [group.id, user.id, clock.iso()],
    )
    if cursor.rowcount:
        audit.record(db, actor, "group.add-member", f"group:{group.name}", member=user.label)
    return bool(cursor.rowcount)


def add_member(database: Database, actor: Actor, group_id: int, user_id: int) -> bool:
    group, user = get_group(database, group_id), get_user(database, user_id)
    with database.write() as db:
        return add_member_in(db, actor, group, user)


def remove_member(database: Database, actor: Actor, group_id: int, user_id: int) -> None:
    group, user = get_group(database, group_id), get_user(database, user_id)
    with database.write() as db:
        cursor = db.execute(
            "DELETE FROM group_members WHERE group_id = ? AND user_id = ?", [group_id, user_id]
        )
        if cursor.rowcount:
            audit.record(db, actor, "group.remove-member", f"group:{group.name}", member=user.label)


def groups_of(database: Database, user_id: int) -> list[Group]:
    rows = database.query(
        _GROUP_SQL + " JOIN group_members gm ON gm.group_id = g.id"
        " WHERE gm.user_id = ? ORDER BY g.name",
        [user_id],
    )
    return [_group(r) for r in rows]
