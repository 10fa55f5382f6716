"""Who may see which object: every object kind × viewer × state, from one table.

Beside the route × role matrix (tests/server/web/test_routes.py), this one is about
objects. A facility whose catalog shows learners only their assigned courses holds one
object of each kind in each state, named from the learner Alex's side:

* own: Alex's (a course assigned to Alex, Alex's certificate, workbook, board,
  credit ledger, group);
* other learner: Bea's, in Alex's group;
* other group: Cal's, in another group (and that group's course);
* unassigned: Dee's, who is in no group (a course assigned to nobody, an empty group);
* pulled: a course assigned to Alex, then pulled by the admin (and Alex's data in it);
* pending: a course assigned to Alex whose only version waits for review;
* held back: a course assigned to Alex's group, which the admin holds back from that group;
* group only: a course assigned to Alex and to Cal, offered only to Alex's group.

Each cell of EXPECTED says whether the viewer may see the object. It is checked through
`server.learning.access` and, where a route shows the object to that viewer, through
HTTP. A cell is None where the state has no object of that kind.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from hashlib import sha256
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from server.catalog import library
from server.catalog.search import indexable_versions, search_hooks, search_indexer
from server.cli.demo import publish_demo_courses
from server.cli.main import initialize
from server.core import clock
from server.core.db import Database
from server.core.errors import NotFound
from server.core.settings import Settings, load_settings
from server.learning import (
    access,
    assignments,
    certificates,
    credit_rules,
    offers,
    progress,
    visibility,
    workbooks,
)
from server.learning.access import Scope
from server.learning.certificates import Certificate
from server.learning.credit_rules import NewRule
from server.people import groups
from server.people.accounts import Role, User
from server.people.audit import Actor
from server.people.groups import Group
from server.teaching import credit_reports
from server.web.app import create_app
from tests.conftest import make_user, sign_in
from tests.content.conftest import PNG, WORKBOOK, write_course

STATES = (
    "own",
    "other learner",
    "other group",
    "unassigned",
    "pulled",
    "pending",
    "held back",
    "group only",
)
VIEWERS = ("learner", "other learner", "educator", "other educator", "admin")
KINDS = (
    "course",
    "version",
    "media",
    "search",
    "certificate",
    "workbook",
    "board",
    "credit",
    "group",
)
Y, N, NA = True, False, None

# kind -> viewer -> one answer per state, in the order of STATES.
EXPECTED: dict[str, dict[str, tuple[bool | None, ...]]] = {
    # Staff see every servable course; a learner only theirs (the catalog is "assigned"),
    # and of those only what is offered to them: held back from their group, or offered
    # to another group only, a course assigned to them stays hidden.
    "course": {
        "learner": (Y, N, N, N, N, N, N, Y),
        "other learner": (N, Y, N, N, N, N, N, N),
        "educator": (Y, Y, Y, Y, N, N, Y, Y),
        "other educator": (Y, Y, Y, Y, N, N, Y, Y),
        "admin": (Y, Y, Y, Y, N, N, Y, Y),
    },
    # The version a learner opens: the live one; a pending version is nobody's to open.
    "version": {
        "learner": (Y, N, N, N, N, N, N, Y),
        "other learner": (N, Y, N, N, N, N, N, N),
        "educator": (Y, Y, Y, Y, N, N, Y, Y),
        "other educator": (Y, Y, Y, Y, N, N, Y, Y),
        "admin": (Y, Y, Y, Y, N, N, Y, Y),
    },
    # A lesson's picture, by its content address.
    "media": {
        "learner": (Y, N, N, N, N, N, N, Y),
        "other learner": (N, Y, N, N, N, N, N, N),
        "educator": (Y, Y, Y, Y, N, N, Y, Y),
        "other educator": (Y, Y, Y, Y, N, N, Y, Y),
        "admin": (Y, Y, Y, Y, N, N, Y, Y),
    },
    # Search hits: as the course, except that admins find what waits for their review.
    "search": {
        "learner": (Y, N, N, N, N, N, N, Y),
        "other learner": (N, Y, N, N, N, N, N, N),
        "educator": (Y, Y, Y, Y, N, N, Y, Y),
        "other educator": (Y, Y, Y, Y, N, N, Y, Y),
        "admin": (Y, Y, Y, Y, N, Y, Y, Y),
    },
    # A learner sees their own certificates (even of a pulled course); staff verify any.
    "certificate": {
        "learner": (Y, N, N, N, Y, NA, NA, NA),
        "other learner": (N, Y, N, N, N, NA, NA, NA),
        "educator": (Y, Y, Y, Y, Y, NA, NA, NA),
        "other educator": (Y, Y, Y, Y, Y, NA, NA, NA),
        "admin": (Y, Y, Y, Y, Y, NA, NA, NA),
    },
    # A sent answer written for "you and your teacher": the learner and staff in scope.
    "workbook": {
        "learner": (Y, N, N, N, Y, NA, NA, NA),
        "other learner": (N, Y, N, N, N, NA, NA, NA),
        "educator": (Y, Y, N, N, Y, NA, NA, NA),
        "other educator": (N, N, Y, N, N, NA, NA, NA),
        "admin": (Y, Y, Y, Y, Y, NA, NA, NA),
    },
    # A learner's progress board.
    "board": {
        "learner": (Y, N, N, N, NA, NA, NA, NA),
        "other learner": (N, Y, N, N, NA, NA, NA, NA),
        "educator": (Y, Y, N, N, NA, NA, NA, NA),
        "other educator": (N, N, Y, N, NA, NA, NA, NA),
        "admin": (Y, Y, Y, Y, NA, NA, NA, NA),
    },
    # A learner's credit ledger (entries for the course they finished, a pulled one too).
    "credit": {
        "learner": (Y, N, N, N, Y, NA, NA, NA),
        "other learner": (N, Y, N, N, N, NA, NA, NA),
        "educator": (Y, Y, N, N, Y, NA, NA, NA),
        "other educator": (N, N, Y, N, N, NA, NA, NA),
        "admin": (Y, Y, Y, Y, Y, NA, NA, NA),
    },
    # A group's board ("own" and "other learner" are the same group, Alex's and Bea's).
    "group": {
        "learner": (N, N, N, N, NA, NA, NA, NA),
        "other learner": (N, N, N, N, NA, NA, NA, NA),
        "educator": (Y, Y, N, N, NA, NA, NA, NA),
        "other educator": (N, N, Y, N, NA, NA, NA, NA),
        "admin": (Y, Y, Y, Y, NA, NA, NA, NA),
    },
}

# The course of each state, and a word only its intro lesson holds (for search).
SLUGS = {state: state.replace(" ", "-") for state in STATES}
WORDS = {state: "quokka" + state.replace(" ", "") for state in STATES}


def course_id(state: str) -> str:
    return f"org.stepstone.demo.matrix-{SLUGS[state]}"


def title(state: str) -> str:
    return f"Matrix course {SLUGS[state]}"


def picture(state: str) -> bytes:
    return PNG + state.encode()  # a distinct blob per course


def digest(data: bytes) -> str:
    return sha256(data).hexdigest()


def write_matrix_courses(root: Path) -> None:
    for state in STATES:
        intro = (
            f"---\nkey: intro\ntitle: Intro\nkind: reading\n---\n# Start\n\n"
            f"A {WORDS[state]} lives here.\n\n![A picture](../media/pic.png)\n"
        )
        write_course(
            root / SLUGS[state],
            course={
                "id": course_id(state),
                "title": title(state),
                "lessons": ["lessons/01-intro.md", "lessons/03-book.md"],
            },
            lessons={"lessons/01-intro.md": intro, "lessons/03-book.md": WORKBOOK},
            files={"media/pic.png": picture(state)},
        )


@dataclass
class World:
    settings: Settings
    database: Database
    viewers: dict[str, User]
    owners: dict[str, User]  # state -> whose learner data it is
    groups: dict[str, Group]  # state -> the group
    versions: dict[str, int]  # state -> the version a learner would open
    certificates: dict[str, Certificate]
    entries: dict[str, int]  # state -> a sent workbook entry


SYSTEM = Actor.system("test")


def _finish_course(
    database: Database, settings: Settings, admin: User, learner: User, state: str
) -> int:
    """The learner sends the workbook (a shared and a private answer) and completes the
    course of `state`; returns the entry."""
    course = access.visible_course(database, settings, admin, course_id(state))
    lessons = visibility.lessons_of(database, course.version_id)
    book = visibility.lesson_of(lessons, "book")
    answers = {"feel": "7", "list": ["a"]}
    workbooks.save(
        database, settings, learner, course, book, answers, f"ev-{learner.id}-{SLUGS[state]}", True
    )
    with database.write() as db:
        progress.complete_in(db, settings, learner, course, "intro", clock.now())
    row = database.query_one(
        "SELECT id FROM workbook_entries WHERE user_id = ? AND course_id = ?",
        [learner.id, course_id(state)],
    )
    assert row is not None
    return int(row[0])


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    base = tmp_path_factory.mktemp("matrix")
    settings = load_settings(
        environ={}, data_dir=base / "data", demo=True, learner_catalog="assigned"
    )
    database = initialize(settings)
    write_matrix_courses(base / "courses")
    report = publish_demo_courses(settings, database, base / "courses")
    assert report.status == "ok", report.message
    alex = make_user(database, Role.LEARNER, "A100", "Alex")
    bea = make_user(database, Role.LEARNER, "B200", "Bea")
    cal = make_user(database, Role.LEARNER, "C300", "Cal")
    dee = make_user(database, Role.LEARNER, "D400", "Dee")
    teacher = make_user(database, Role.EDUCATOR, "teacher")
    other_teacher = make_user(database, Role.EDUCATOR, "teacher2")
    admin = make_user(database, Role.ADMIN, "boss")
    unit_a = groups.create_group(database, SYSTEM, "Unit A", "housing")
    unit_b = groups.create_group(database, SYSTEM, "Unit B", "housing")
    unit_c = groups.create_group(database, SYSTEM, "Unit C", "housing")
    for group, members in [(unit_a, [alex, bea, teacher]), (unit_b, [cal, other_teacher])]:
        for member in members:
            groups.add_member(database, SYSTEM, group.id, member.id)
    with database.write() as db:
        for state in ("own", "pulled", "pending"):
            assignments.assign_in(db, SYSTEM, course_id(state), user_id=alex.id)
        assignments.assign_in(db, SYSTEM, course_id("other learner"), user_id=bea.id)
        assignments.assign_in(db, SYSTEM, course_id("other group"), group_id=unit_b.id)
        assignments.assign_in(db, SYSTEM, course_id("held back"), group_id=unit_a.id)
        for learner in (alex, cal):
            assignments.assign_in(db, SYSTEM, course_id("group only"), user_id=learner.id)
    offers.set_offer(
        database,
        SYSTEM,
        offers.Offer("course", course_id("held back"), "except", frozenset({unit_a.id})),
    )
    offers.set_offer(
        database,
        SYSTEM,
        offers.Offer("course", course_id("group only"), "only", frozenset({unit_a.id})),
    )
    # Every completion of these courses earns credit, so each owner has a ledger entry.
    rule = NewRule("category", "education", "earned-time", "nominal", "2000-01-01")
    credit_rules.add_rule(database, SYSTEM, rule)
    owners = {"own": alex, "other learner": bea, "other group": cal, "unassigned": dee}
    owners["pulled"] = alex
    # Alex works in the own and the pulled course; the others in a course of their own.
    worked_in = {"own": "own", "pulled": "pulled"}
    entries, earned = {}, {}
    for state, learner in owners.items():
        course = worked_in.get(state, "unassigned")
        entries[state] = _finish_course(database, settings, admin, learner, course)
        [earned[state]] = [
            c
            for c in certificates.of_learner(database, learner.id)
            if c.course_id == course_id(course)
        ]
    versions = {
        state: int(row[0])
        for state in STATES
        if (
            row := database.query_one(
                "SELECT v.id FROM course_versions v JOIN courses c ON c.id = v.course_pk"
                " WHERE c.course_id = ?",
                [course_id(state)],
            )
        )
    }
    hooks = search_hooks(settings, database)
    pulled = database.query_one("SELECT id FROM courses WHERE course_id = ?", [course_id("pulled")])
    assert pulled is not None
    library.pull_course(database, hooks, SYSTEM, int(pulled[0]), "wrong answers")
    # As an import waits when its publisher is not auto-published: never live.
    with database.write() as db:
        db.execute(
            "UPDATE course_versions SET status = 'pending', reviewed_at = NULL WHERE id = ?",
            [versions["pending"]],
        )
        db.execute(
            "UPDATE courses SET live_version_id = NULL WHERE course_id = ?",
            [course_id("pending")],
        )
    search_indexer(settings, database).course_changed(course_id("pending"))
    viewers = {
        "learner": alex,
        "other learner": bea,
        "educator": teacher,
        "other educator": other_teacher,
        "admin": admin,
    }
    group_of = {"own": unit_a, "other learner": unit_a, "other group": unit_b, "unassigned": unit_c}
    yield World(settings, database, viewers, owners, group_of, versions, earned, entries)
    database.close()


# ---- the answer of the access module ---------------------------------------------------


def sees(world: World, kind: str, viewer: User, state: str) -> bool:
    db, settings = world.database, world.settings
    if kind == "course":
        return course_id(state) in {
            c.course_id for c in access.visible_courses(db, settings, viewer)
        }
    if kind == "version":
        return world.versions[state] in access.visible_version_ids(db, settings, viewer)
    if kind == "media":
        return access.media_for(db, settings, viewer, digest(picture(state))) is not None
    if kind == "search":
        # None: the whole index (admins), whose contents the catalog decides.
        found = access.search_versions(db, settings, viewer)
        return world.versions[state] in (found if found is not None else indexable_versions(db))
    if kind == "certificate":
        return access.may_see_certificate(viewer, world.certificates[state])
    if kind == "workbook":
        owner = world.owners[state]
        return access.may_read_answer(db, viewer, owner.id, "submitted", access.SHARED)
    if kind == "board":
        return Scope.of(viewer).sees_learner(db, world.owners[state].id)
    if kind == "credit":
        owner = world.owners[state]
        try:
            ledger = credit_reports.lines(db, Scope.of(viewer), learner_id=owner.id)
        except NotFound:
            return False
        course = "pulled" if state == "pulled" else "own" if state == "own" else "unassigned"
        return any(line.entry.course_id == course_id(course) for line in ledger)
    if kind == "group":
        return world.groups[state].id in {g.id for g in Scope.of(viewer).groups(db)}
    raise AssertionError(kind)


CASES = [
    (kind, viewer, state, EXPECTED[kind][viewer][index])
    for kind in KINDS
    for viewer in VIEWERS
    for index, state in enumerate(STATES)
    if EXPECTED[kind][viewer][index] is not None
]


def test_the_table_covers_every_kind_viewer_and_state() -> None:
    assert set(EXPECTED) == set(KINDS)
    for kind, rows in EXPECTED.items():
        assert set(rows) == set(VIEWERS), kind
        assert all(len(row) == len(STATES) for row in rows.values()), kind


def test_the_access_module_answers_as_the_table_says(world: World) -> None:
    wrong = [
        f"{kind} / {viewer} / {state}: expected {'yes' if expected else 'no'}"
        for kind, viewer, state, expected in CASES
        if sees(world, kind, world.viewers[viewer], state) != expected
    ]
    assert not wrong, "\n".join(wrong)


# ---- the answer of the pages -----------------------------------------------------------

Probe = Callable[[TestClient, World, str], bool]


def _status(client: TestClient, url: str) -> bool:
    response = client.get(url, follow_redirects=False)
    assert response.status_code in (200, 404), f"{url}: {response.status_code}"
    return response.status_code == 200


def _learner_course(client: TestClient, world: World, state: str) -> bool:
    return _status(client, f"/learn/courses/{course_id(state)}")


def _staff_course(client: TestClient, world: World, state: str) -> bool:
    return f"/teach/courses/{course_id(state)}" in client.get("/teach").text


def _lesson(client: TestClient, world: World, state: str) -> bool:
    return _status(client, f"/learn/courses/{course_id(state)}/lessons/intro")


def _media(client: TestClient, world: World, state: str) -> bool:
    return _status(client, f"/media/{digest(picture(state))}/pic.png")


def _search(client: TestClient, world: World, state: str) -> bool:
    page = client.get("/search", params={"q": WORDS[state]})
    assert page.status_code == 200
    return (
        title(state) in page.text
        or f"/admin/content/versions/{world.versions[state]}#" in page.text
    )


def _own_certificate(client: TestClient, world: World, state: str) -> bool:
    return _status(client, f"/learn/certificates/{world.certificates[state].code}")


def _verify(client: TestClient, world: World, state: str) -> bool:
    return _status(client, f"/verify/{world.certificates[state].code}")


def _review(client: TestClient, world: World, state: str) -> bool:
    return _status(client, f"/teach/reviews/{world.entries[state]}")


def _board(client: TestClient, world: World, state: str) -> bool:
    return _status(client, f"/teach/learners/{world.owners[state].id}")


def _credit(client: TestClient, world: World, state: str) -> bool:
    return _status(client, f"/teach/learners/{world.owners[state].id}/credit")


def _group(client: TestClient, world: World, state: str) -> bool:
    return _status(client, f"/teach/groups/{world.groups[state].id}")


# (kind, learner?) -> the page that shows it; missing: no page addresses that object for
# that viewer (a learner's own board and workbook have no id in their address, and
# learners reach no staff page at all: the route matrix checks that).
PROBES: dict[tuple[str, bool], Probe] = {
    ("course", True): _learner_course,
    ("course", False): _staff_course,
    ("version", True): _lesson,
    ("media", True): _media,
    ("media", False): _media,
    ("search", True): _search,
    ("search", False): _search,
    ("certificate", True): _own_certificate,
    ("certificate", False): _verify,
    ("workbook", False): _review,
    ("board", False): _board,
    ("credit", False): _credit,
    ("group", False): _group,
}


@pytest.mark.parametrize("viewer", VIEWERS)
def test_the_pages_answer_as_the_table_says(world: World, viewer: str) -> None:
    user = world.viewers[viewer]
    with TestClient(create_app(world.settings)) as client:
        sign_in(client, user)
        wrong = []
        for kind, who, state, expected in CASES:
            probe = PROBES.get((kind, user.role is Role.LEARNER))
            if who != viewer or probe is None:
                continue
            if probe(client, world, state) != expected:
                wrong.append(f"{kind} / {viewer} / {state}: expected {'yes' if expected else 'no'}")
    assert not wrong, "\n".join(wrong)


def test_staff_never_read_an_answer_written_as_private(world: World) -> None:
    with TestClient(create_app(world.settings)) as client:
        sign_in(client, world.viewers["admin"])
        page = client.get(f"/teach/reviews/{world.entries['own']}").text
    assert "How?" in page and "Which?" not in page
    assert re.search(r"\b7\b", page)
