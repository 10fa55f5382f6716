"""May this person see this object: every object-level access rule, written once.

Roles decide which pages a person may open (`@access` in the web plumbing); this module
decides which objects they see there, and every page, export, command and search asks it.

* **Courses, versions, lesson files, search hits.** A course is *servable* when it has a
  live version, that version is approved, the course is not pulled and its publisher is
  still trusted (a demo publisher only in demo mode). Staff see every servable course (they
  assign and review them). A learner sees a servable course when the facility's catalog is
  open (`learner_catalog = "open"`) or the course is assigned to them, directly or through
  one of their groups, and in either case only if the course is offered to them
  (`server.learning.offers`: all learners, chosen groups only, or all but chosen groups;
  an assignment never reaches a learner a course is held back from). Search hits follow
  the same rule, except that admins also find versions waiting for review (clearly
  marked on the page).
* **Learners' data** (progress, boards, groups, exports): a learner sees only their own,
  from their own pages; an educator sees the learners of the groups they belong to; an
  admin, and the console, the whole facility. That is `Scope`.
* **Workbook answers**: the learner reads all of their own. Staff in scope read a sent
  entry, and of it only answers that every label the learner saw said "you and your
  teacher" (`strictest`); a draft and a private answer never reach staff.
* **Certificates**: a learner sees their own. Staff verify any genuine code: the code on
  the paper is the proof that its holder may show it.

An object a person may not see is NotFound, never Forbidden: a learner should not learn
that a hidden course, another learner or a group exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from server.core.db import Database
from server.core.errors import N_, NotFound
from server.core.settings import Settings
from server.learning import certificates
from server.learning.certificates import Certificate
from server.learning.continuity import Continuity
from server.learning.offers import OFFERED_SQL
from server.learning.visibility import Course, assignments_for, enrolled_courses, make_course
from server.people.accounts import Role, User, get_user
from server.people.groups import Group, get_group, list_groups

# ---- Courses, versions, lesson files, search ---------------------------------------

# The servable rule in SQL, over `courses c`, `course_versions v` (the live one) and
# `publishers p`; `:demo` is the demo-mode setting.
SERVABLE_SQL = "c.pulled_at IS NULL AND v.status = 'approved' AND (p.demo = 0 OR :demo)"
# A learner's assigned courses in SQL, over `courses c`; `:user` is the learner.
ASSIGNED_SQL = (
    "c.course_id IN (SELECT course_id FROM assignments WHERE user_id = :user"
    " OR group_id IN (SELECT group_id FROM group_members WHERE user_id = :user))"
)

_SERVABLE_COURSES = f"""
    SELECT c.id AS course_pk, c.course_id, v.id AS version_id, v.version, v.title, v.summary,
           v.category, v.language, v.level, v.estimated_hours, v.credits,
           p.display_name AS publisher, v.cover, v.cover_alt, v.editions,
           (SELECT a.sha256 FROM assets a WHERE a.version_id = v.id AND a.path = v.cover)
             AS cover_sha256,
           (SELECT count(*) FROM lessons l WHERE l.version_id = v.id) AS lesson_count
    FROM courses c
    JOIN course_versions v ON v.id = c.live_version_id
    JOIN publishers p ON p.id = c.publisher_id
    WHERE {SERVABLE_SQL}
"""


def catalog_is_open(settings: Settings, user: User) -> bool:
    """Whether this person may open every servable course, assigned or not."""
    return user.role is not Role.LEARNER or settings.learner_catalog == "open"


def visible_courses(
    database: Database, settings: Settings, user: User, only: str | None = None
) -> list[Course]:
    """Every course this user may open now, assigned ones first (by due date); `only`
    limits the answer to one course id (a page about one course needs no more)."""
    sql, params = _SERVABLE_COURSES, {"demo": settings.demo, "only": only, "user": user.id}
    if only is not None:
        sql += " AND c.course_id = :only"
    if user.role is Role.LEARNER:
        sql += f" AND {OFFERED_SQL}"
    rows = database.query(sql + " ORDER BY v.title", params)
    if user.role is not Role.LEARNER:
        return [make_course(row, None, False) for row in rows]
    assigned = assignments_for(
        database,
        user.id,
        settings.due_after_joining_days,
        lambda: Continuity.load(database, settings, learner_id=user.id),
    )
    enrolled = enrolled_courses(database, user.id)
    everything = catalog_is_open(settings, user)
    courses = [
        make_course(row, assigned.get(row["course_id"]), row["course_id"] in enrolled)
        for row in rows
        if everything or row["course_id"] in assigned
    ]
    return sorted(courses, key=_assigned_first)


def _assigned_first(course: Course) -> tuple[int, str, str]:
    if course.assignment is None:
        return (1, "", course.title.casefold())
    return (0, course.assignment.due_date or "9999", course.title.casefold())


def visible_course(database: Database, settings: Settings, user: User, course_id: str) -> Course:
    """The course if this user may open it; otherwise NotFound (never "forbidden": a
    learner should not learn that a hidden course exists)."""
    for course in visible_courses(database, settings, user, only=course_id):
        if course.course_id == course_id:
            return course
    raise NotFound(N_("This course is not available."))


def visible_version_ids(database: Database, settings: Settings, user: User) -> frozenset[int]:
    """The live course versions this user may see."""
    return frozenset(c.version_id for c in visible_courses(database, settings, user))


def search_versions(database: Database, settings: Settings, user: User) -> frozenset[int] | None:
    """The course versions whose hits this user may find: what they may open. None for
    an admin: the whole index, which also holds the versions waiting for review (never a
    pulled course's; see `server.catalog.search`), and the engine finds pending versions
    only for a search without a filter."""
    if user.role is Role.ADMIN:
        return None
    return visible_version_ids(database, settings, user)


def media_for(
    database: Database, settings: Settings, user: User, sha256: str
) -> dict[str, Any] | None:
    """The file with this digest if it belongs to a course version the user may see.

    The same rule as `visible_courses`, in one query: this runs for every media request
    (each seek of a video), so it must be cheap."""
    sql = (
        "SELECT a.path, a.sha256, a.size, a.media_type FROM assets a"
        " JOIN courses c ON c.live_version_id = a.version_id"
        " JOIN course_versions v ON v.id = a.version_id"
        " JOIN publishers p ON p.id = c.publisher_id"
        f" WHERE a.sha256 = :sha AND a.pack_sha256 IS NULL AND {SERVABLE_SQL}"
    )
    if user.role is Role.LEARNER:
        sql += f" AND {OFFERED_SQL}"
    if not catalog_is_open(settings, user):
        sql += f" AND {ASSIGNED_SQL}"
    row = database.query_one(
        sql + " LIMIT 1", {"sha": sha256, "demo": settings.demo, "user": user.id}
    )
    return dict(row) if row is not None else None


def app_asset_path(lesson_key: str, path: str) -> str | None:
    """Where the file `path` of lesson `lesson_key`'s app is in a package (``apps/<key>/``
    and the path), or None when the path could leave that folder (empty parts, ``.``,
    ``..``, a backslash): an app reaches only its own files."""
    parts = path.split("/")
    if not path or any(part in ("", ".", "..") for part in parts) or "\\" in path:
        return None
    return f"apps/{lesson_key}/{path}"


def app_file_for(
    database: Database,
    settings: Settings,
    version_id: int,
    lesson_key: str,
    path: str,
    *,
    review: bool,
) -> dict[str, Any] | None:
    """A file of one interactive lesson's app, by its path inside the app, or None.

    Only this version's files under this lesson's own folder (``apps/<key>/``) are
    addressable: another lesson's, another version's or another course's files never
    are, whatever the path says. Outside a review the version must still be servable
    (the sandbox has no session: whoever may open the lesson got the address from its
    page, which checked the learner; a pulled course stops at once). A small file is in
    its package's pack: ``pack_sha256`` and ``pack_offset`` say where (else both None)."""
    package_path = app_asset_path(lesson_key, path)
    if package_path is None:
        return None
    sql = (
        "SELECT a.path, a.sha256, a.size, a.media_type, a.pack_sha256, a.pack_offset"
        " FROM assets a"
        " JOIN course_versions v ON v.id = a.version_id"
        " JOIN courses c ON c.id = v.course_pk"
        " JOIN publishers p ON p.id = c.publisher_id"
        " WHERE a.version_id = :version AND a.path = :path"
    )
    if not review:
        sql += f" AND c.live_version_id = v.id AND {SERVABLE_SQL}"
    params = {"version": version_id, "path": package_path, "demo": settings.demo}
    row = database.query_one(sql, params)
    return dict(row) if row is not None else None


# ---- Learners' data: the scope of staff ----------------------------------------------


@dataclass(frozen=True)
class Scope:
    """Whose data `viewer` may see: an admin everyone, an educator the learners of their
    groups, a learner only themselves. `Scope.whole_facility()` is the console's (the
    facility's admin at the machine), which has no user row."""

    viewer: User | None

    @classmethod
    def of(cls, viewer: User) -> Scope:
        return cls(viewer)

    @classmethod
    def whole_facility(cls) -> Scope:
        return cls(None)

    @property
    def everyone(self) -> bool:
        return self.viewer is None or self.viewer.role is Role.ADMIN

    def learners_sql(self, column: str = "user_id") -> tuple[str, dict[str, Any]]:
        """A WHERE fragment limiting `column` to learners in scope, and its parameters
        (so a query over thousands of learners filters inside SQLite)."""
        if self.viewer is None or self.everyone:
            return "1 = 1", {}
        if self.viewer.role is Role.LEARNER:
            return f"{column} = :scope_viewer", {"scope_viewer": self.viewer.id}
        return (
            f"{column} IN (SELECT m.user_id FROM group_members m WHERE m.group_id IN"
            " (SELECT group_id FROM group_members WHERE user_id = :scope_viewer))",
            {"scope_viewer": self.viewer.id},
        )

    def groups(self, database: Database) -> list[Group]:
        """The groups whose boards this viewer may open (none for a learner)."""
        if self.viewer is None or self.everyone:
            return list_groups(database)
        if self.viewer.role is Role.LEARNER:
            return []
        return list_groups(database, self.viewer)

    def group(self, database: Database, group_id: int) -> Group:
        group = get_group(database, group_id)
        if not self.everyone and group.id not in {g.id for g in self.groups(database)}:
            raise NotFound()
        return group

    def learner(self, database: Database, user_id: int) -> User:
        """The learner if in scope; NotFound otherwise (never reveals who exists)."""
        try:
            user = get_user(database, user_id)
        except NotFound:
            raise NotFound() from None
        if user.role is not Role.LEARNER:
            raise NotFound()
        if self.everyone:
            return user
        where, params = self.learners_sql("u.id")
        row = database.query_one(
            f"SELECT 1 FROM users u WHERE u.id = :learner AND {where}",
            {"learner": user_id, **params},
        )
        if row is None:
            raise NotFound()
        return user

    def sees_learner(self, database: Database, user_id: int) -> bool:
        try:
            self.learner(database, user_id)
        except NotFound:
            return False
        return True


# ---- Workbook answers ----------------------------------------------------------------

PRIVATE = "private"
SHARED = "educator"


def strictest(*visibilities: str | None) -> str:
    """Who may read an answer written under all these labels (None: no label known).
    Anything but "educator" counts as private, so an unknown value never shares."""
    known = [v for v in visibilities if v is not None]
    return SHARED if known and all(v == SHARED for v in known) else PRIVATE


def staff_may_read_entry(status: str) -> bool:
    """Staff read a workbook entry only once the learner sent it: never a draft."""
    return status != "draft"


def may_read_answer(
    database: Database, viewer: User, owner_id: int, entry_status: str, visibility: str
) -> bool:
    """Whether `viewer` may read one stored answer of `owner_id`'s workbook entry."""
    if viewer.id == owner_id:
        return True
    if not viewer.role.is_staff or not Scope.of(viewer).sees_learner(database, owner_id):
        return False
    return staff_may_read_entry(entry_status) and visibility == SHARED


# ---- Certificates --------------------------------------------------------------------


def record_owner(database: Database, viewer: User, learner_id: int) -> User:
    """The learner whose record (a Learning Passport) `viewer` opens: themselves, or a
    learner in a staff member's scope; NotFound otherwise."""
    if viewer.role is Role.LEARNER:
        if viewer.id != learner_id:
            raise NotFound()
        return viewer
    return Scope.of(viewer).learner(database, learner_id)


def may_see_certificate(viewer: User, certificate: Certificate) -> bool:
    """A learner sees their own certificates; staff verify any genuine one."""
    return viewer.role.is_staff or certificate.user_id == viewer.id


def certificate_for(database: Database, settings: Settings, viewer: User, code: str) -> Certificate:
    """The certificate with this code if it is genuine and `viewer` may see it."""
    found = certificates.find(database, settings, code)
    if found is None or not may_see_certificate(viewer, found):
        raise NotFound()
    return found


# ---- Files educators made ---------------------------------------------------------------

_FILE_IN_PLAN_OF = """
    SELECT 1 FROM lesson_plan_items i
    JOIN lesson_plans p ON p.id = i.plan_id
    JOIN group_members m ON m.group_id = p.group_id AND m.user_id = :user
    WHERE i.file_id = :file
"""


def teacher_file_for(database: Database, viewer: User, file_id: int) -> dict[str, Any] | None:
    """A file an educator made (``catalog.teacher_files``), if `viewer` may open it now:
    an admin any, whatever its state (they review it); an educator their own, and any in
    a lesson plan of a group they are in; a learner only an approved file that is an item
    of a plan assigned to one of their groups. None otherwise (a 404)."""
    row = database.query_one(
        "SELECT id, owner_id, status, title, file_name, kind, media_type, sha256, size"
        " FROM teacher_files WHERE id = ?",
        [file_id],
    )
    if row is None:
        return None
    found = dict(row)
    if viewer.role is Role.ADMIN or found["owner_id"] == viewer.id:
        return found
    params = {"user": viewer.id, "file": file_id}
    if viewer.role is Role.EDUCATOR:
        return found if database.query_one(_FILE_IN_PLAN_OF, params) else None
    if found["status"] != "approved":
        return None
    assigned = database.query_one(_FILE_IN_PLAN_OF + " AND p.assigned_at IS NOT NULL", params)
    return found if assigned else None
