"""Difficult questions: figures checked against hand-made quiz attempts, the scope of an
educator against an admin's, and the page."""

from __future__ import annotations

import itertools

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from server.core.db import Database
from server.core.errors import NotFound
from server.core.settings import Settings
from server.learning import assignments, quizzes, visibility
from server.learning.access import Scope, visible_course
from server.people import groups
from server.people.accounts import Role, User
from server.people.audit import Actor
from server.teaching.difficult_questions import DifficultQuestions, difficult_questions
from tests.conftest import People, make_user, sign_in

pytestmark = pytest.mark.demo  # each test has its own copy of the demo facility

MATH = "org.stepstone.demo.everyday-math"
QUIZ = "fractions-quiz"
SYSTEM = Actor.system("test")
_events = itertools.count()


def take_quiz(
    database: Database, settings: Settings, user: User, answers: dict[str, list[str]]
) -> None:
    """One submitted attempt with these form values (a question left out is blank)."""
    course = visible_course(database, settings, user, MATH)
    lesson = visibility.lesson_of(visibility.lessons_of(database, course.version_id), QUIZ)
    attempt = quizzes.current(database, user.id, MATH, QUIZ)
    if attempt is not None and attempt.submitted:
        quizzes.retry(database, user, course, lesson)
    form = {f"q-{key}": values for key, values in answers.items()}
    quizzes.submit(database, settings, user, course, lesson, form, f"event-{next(_events)}")


ALL_RIGHT = {
    "read-a-fraction": ["0"],
    "equal-fractions": ["0", "1", "3"],
    "simplify": ["3/4"],
    "bigger-pieces": ["false"],
}


@pytest.fixture
def hand_made(database: Database, settings: Settings, people: People) -> int:
    """Group A: the educator and four learners; Bea is in group B. Returns group A."""
    a = groups.create_group(database, SYSTEM, "Class A", "class")
    b = groups.create_group(database, SYSTEM, "Class B", "class")
    cam = make_user(database, Role.LEARNER, "C300", "Cam Third")
    dee = make_user(database, Role.LEARNER, "D400", "Dee Fourth")
    eli = make_user(database, Role.LEARNER, "E500", "Eli Fifth")
    for user in (people.educator, people.learner, cam, dee, eli):
        groups.add_member(database, SYSTEM, a.id, user.id)
    groups.add_member(database, SYSTEM, b.id, people.other_learner.id)
    assignments.assign(database, SYSTEM, MATH, group_id=a.id)
    take_quiz(database, settings, people.learner, ALL_RIGHT)
    take_quiz(database, settings, people.learner, {"read-a-fraction": ["1"]})  # not counted
    take_quiz(
        database,
        settings,
        cam,
        {
            "read-a-fraction": ["1"],
            "equal-fractions": ["0", "1"],
            "simplify": ["  Three   FOURTHS "],
            "bigger-pieces": ["true"],
        },
    )
    take_quiz(database, settings, cam, ALL_RIGHT)  # a later try: not counted
    take_quiz(
        database,
        settings,
        dee,
        {"read-a-fraction": ["1"], "equal-fractions": ["0", "1", "3"], "simplify": ["6/8"]},
    )
    take_quiz(database, settings, eli, {"read-a-fraction": ["2"], "simplify": ["  6/8 "]})
    take_quiz(database, settings, people.other_learner, ALL_RIGHT)
    return a.id


def figures(found: DifficultQuestions) -> dict[str, tuple[int, int, str, int, list[str]]]:
    (quiz,) = [q for q in found.quizzes if q.key == QUIZ]
    return {
        q.key: (
            q.answered,
            q.correct,
            q.wrong_answer,
            q.wrong_answer_count,
            [name for _, name in q.missed_by],
        )
        for q in quiz.questions
        if q.key in ALL_RIGHT
    }


def test_figures_match_hand_made_attempts(
    database: Database, people: People, hand_made: int
) -> None:
    mine = difficult_questions(database, Scope.of(people.educator), MATH)
    assert figures(mine) == {
        "read-a-fraction": (4, 1, "8/3", 2, ["Cam Third", "Dee Fourth", "Eli Fifth"]),
        "equal-fractions": (4, 2, "2/4 + 4/8", 1, ["Cam Third", "Eli Fifth"]),
        # Spaces around a written answer do not make it another wrong answer.
        "simplify": (4, 2, "6/8", 2, ["Dee Fourth", "Eli Fifth"]),
        # A blank answer is missed, but is no "wrong answer chosen".
        "bigger-pieces": (4, 1, "true", 1, ["Cam Third", "Dee Fourth", "Eli Fifth"]),
    }
    (quiz,) = [q for q in mine.quizzes if q.key == QUIZ]
    assert quiz.learners == 4
    assert next(q for q in quiz.questions if q.key == "read-a-fraction").share_correct == 25


def test_admin_sees_everyone_and_a_group_narrows_it(
    database: Database, people: People, hand_made: int
) -> None:
    everyone = figures(difficult_questions(database, Scope.of(people.admin), MATH))
    assert everyone["read-a-fraction"][:2] == (5, 2)
    assert "Bea Learner" not in everyone["read-a-fraction"][4]
    group_a = figures(difficult_questions(database, Scope.of(people.admin), MATH, hand_made))
    assert group_a["read-a-fraction"][:2] == (4, 1)


def test_a_group_outside_the_scope_is_not_found(
    database: Database, people: People, hand_made: int
) -> None:
    other = groups.create_group(database, SYSTEM, "Class C", "class")
    with pytest.raises(NotFound):
        difficult_questions(database, Scope.of(people.educator), MATH, other.id)
    with pytest.raises(NotFound):
        difficult_questions(database, Scope.of(people.educator), "org.example.none")


def test_page_links_names_to_learners_in_scope_only(
    app: Starlette, people: People, hand_made: int
) -> None:
    teacher = TestClient(app, base_url="http://testserver")
    sign_in(teacher, people.educator)
    board = teacher.get(f"/teach/groups/{hand_made}").text
    path = f"/teach/courses/{MATH}/questions?group={hand_made}"
    page = teacher.get(f"/teach/courses/{MATH}/questions").text
    assert "Difficult questions" in page and "first try" in page
    assert "25% (1 of 4)" in page and "Dee Fourth" in page and "Bea Learner" not in page
    assert teacher.get(path).status_code == 200
    assert path in board.replace("&amp;", "&")
    assert teacher.get(f"/teach/courses/{MATH}/questions?group=x").status_code == 404
