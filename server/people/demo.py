"""The demo facility's people: an admin, a teacher and two learners in one class.

Made like any other accounts and group, in one transaction and audited step by step, so
a demo server's audit log reads like a real one's.
"""

from __future__ import annotations

from server.core.db import Database
from server.people import accounts, groups
from server.people.accounts import Role, User
from server.people.audit import Actor

DEMO_GROUP = "Demo Class"
DEMO_PEOPLE = [
    (Role.ADMIN, "admin", "Demo Admin", "en"),
    (Role.EDUCATOR, "teacher", "Demo Teacher", "en"),
    (Role.LEARNER, "A1001", "Alex Rivera", "en"),
    (Role.LEARNER, "A1002", "María López", "es"),
]


def create_demo_people(database: Database, actor: Actor) -> tuple[int, list[tuple[User, str]]]:
    """The demo class and its people (everyone but the admin is a member); returns the
    group's id and each person with their one-time PIN or password."""
    made = []
    with database.write() as db:
        group_id = groups.insert_group(db, actor, DEMO_GROUP, "class", "Demo group")
        group = groups.get_group_in(db, group_id)
        for role, login, name, language in DEMO_PEOPLE:
            user_id, secret = accounts.insert_user(db, actor, role, login, name, language)
            user = accounts.get_user_in(db, user_id)
            if role is not Role.ADMIN:
                groups.add_member_in(db, actor, group, user)
            made.append((user, secret))
    return group_id, made
