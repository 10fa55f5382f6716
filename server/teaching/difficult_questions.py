"""Difficult questions: for each quiz of a course, how many learners answered each
question right, the wrong answer they chose most, and who missed it.

A learner counts once per quiz, with their **first submitted attempt**: later attempts
come after the quiz's feedback (and, in a quiz with immediate feedback, after the answer
was shown), so they measure memory of the feedback rather than how hard the question is.
An answer left blank counts as missed.

The figures are drawn for a `Scope` (`server.learning.access`), optionally narrowed to one
group: an educator sees the learners of their own groups, an admin everyone. The counting
is one grouped query over `quiz_attempts`: it returns one row per distinct answer given to
each question (a handful per question, however many learners there are), and the learners
behind the wrong ones as a list of ids, so thousands of learners cost one pass in SQLite.
Questions and choices come from the course's live version; answers are matched by the
question's stable key, and a choice number that the live version no longer has is shown as
an answer that is not in the quiz any more.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from server.core.db import Database
from server.core.errors import NotFound
from server.learning import quizzes, visibility
from server.learning.access import Scope
from server.learning.quizzes import Answer, Question
from server.people.groups import Group

# The first submitted attempt of each learner at each quiz of one course, in scope; then
# every answer of it, counted by question and answer (json_each's `type` tells true and
# false apart from the numbers 1 and 0).
_FIRST_ANSWERS = """
    WITH firsts AS (
        SELECT min(a.id) AS id FROM quiz_attempts a
        WHERE a.course_id = :course AND a.submitted_at IS NOT NULL AND {where}
        GROUP BY a.user_id, a.lesson_key
    )
    SELECT a.lesson_key, j.key AS question, j.type AS kind, j.value AS answer,
           count(*) AS learners, group_concat(a.user_id) AS who
    FROM firsts f JOIN quiz_attempts a ON a.id = f.id, json_each(a.answers) j
    GROUP BY a.lesson_key, j.key, j.type, j.value
"""


@dataclass
class QuestionFigures:
    """One question: how many answered it, how many right, the commonest wrong answer."""

    key: str
    type: str  # the question's type: a true-false answer is shown as "true" or "false"
    prompt: str
    answered: int = 0
    correct: int = 0
    wrong_answer: str = ""  # the wrong answer chosen most often ("" if none)
    wrong_answer_count: int = 0
    missed_by: list[tuple[int, str]] = field(default_factory=list)  # (learner id, name)

    @property
    def share_correct(self) -> int | None:
        """Percent answered right, rounded; None when nobody answered yet."""
        return round(100 * self.correct / self.answered) if self.answered else None

    @property
    def share_correct_order(self) -> tuple[float, str]:
        """Hardest first; questions nobody answered last."""
        share = self.correct / self.answered if self.answered else 2.0
        return (share, self.key)


@dataclass
class QuizFigures:
    key: str
    title: str
    learners: int
    questions: list[QuestionFigures]


@dataclass
class DifficultQuestions:
    course_id: str
    title: str
    group: Group | None
    quizzes: list[QuizFigures]


def difficult_questions(
    database: Database, scope: Scope, course_id: str, group_id: int | None = None
) -> DifficultQuestions:
    """The figures of every quiz of the course's live version, for the learners in
    `scope` (and in `group_id`, when given; a group outside the scope is NotFound)."""
    row = database.query_one(
        "SELECT c.live_version_id, v.title FROM courses c JOIN course_versions v"
        " ON v.id = c.live_version_id WHERE c.course_id = ?",
        [course_id],
    )
    if row is None:
        raise NotFound()
    group = scope.group(database, group_id) if group_id is not None else None
    where, params = scope.learners_sql("a.user_id")
    if group is not None:
        where += " AND a.user_id IN (SELECT user_id FROM group_members WHERE group_id = :group)"
        params = {**params, "group": group.id}
    answers: dict[str, list[Any]] = {}
    for r in database.query(_FIRST_ANSWERS.format(where=where), {"course": course_id, **params}):
        answers.setdefault(r["lesson_key"], []).append(r)
    lessons = [
        x for x in visibility.lessons_of(database, row["live_version_id"]) if x.kind == "quiz"
    ]
    figures = [_quiz_figures(lesson, answers.get(lesson.key, [])) for lesson in lessons]
    _name_learners(database, [q for quiz in figures for q in quiz.questions])
    return DifficultQuestions(course_id, row["title"], group, figures)


def _quiz_figures(lesson: visibility.Lesson, rows: list[Any]) -> QuizFigures:
    by_question: dict[str, list[Any]] = {}
    for r in rows:
        by_question.setdefault(r["question"], []).append(r)
    questions = [
        _question_figures(q, by_question.get(q.key, [])) for q in quizzes.quiz_of(lesson).questions
    ]
    learners = max((q.answered for q in questions), default=0)
    return QuizFigures(lesson.key, lesson.title, learners, questions)


def _question_figures(question: Question, rows: list[Any]) -> QuestionFigures:
    figures = QuestionFigures(question.key, question.type, question.prompt)
    wrong: Counter[str] = Counter()
    missed: set[int] = set()
    for r in rows:
        count = int(r["learners"])
        answer = _decoded(r["kind"], r["answer"])
        figures.answered += count
        if _is_correct(question, answer):
            figures.correct += count
            continue
        missed.update(int(i) for i in str(r["who"]).split(","))
        if answer is not None:
            wrong[_shown(question, answer)] += count
    if wrong:
        # Ties go to the answer that sorts first, so the page is the same every time.
        figures.wrong_answer, figures.wrong_answer_count = min(
            wrong.items(), key=lambda item: (-item[1], item[0])
        )
    figures.missed_by = [(i, "") for i in sorted(missed)]
    return figures


def _decoded(kind: str, value: Any) -> Answer:
    if kind == "null":
        return None
    if kind in ("true", "false"):
        return kind == "true"
    if kind == "array":
        picked = json.loads(value)
        return [int(i) for i in picked if isinstance(i, int)]
    if kind == "integer":
        return int(value)
    return str(value)


def _fits(question: Question, answer: Answer) -> bool:
    """Whether the answer can belong to the live version of the question."""
    if question.type == "single":
        return isinstance(answer, int) and not isinstance(answer, bool)
    if question.type == "multiple":
        return isinstance(answer, list)
    if question.type == "true-false":
        return isinstance(answer, bool)
    return isinstance(answer, str)


def _choices(question: Question, answer: Answer) -> list[int]:
    picked = answer if isinstance(answer, list) else [answer]
    return [i for i in picked if isinstance(i, int) and not isinstance(i, bool)]


def _is_correct(question: Question, answer: Answer) -> bool:
    if answer is None or not _fits(question, answer):
        return False
    if any(i >= len(question.choices) for i in _choices(question, answer)):
        return False  # a choice the live version does not have
    return quizzes.is_correct(question, answer)


def _shown(question: Question, answer: Answer) -> str:
    """The answer in the quiz's words: the choices' texts, true or false, the text."""
    if isinstance(answer, bool):
        return "true" if answer else "false"
    if question.type in ("single", "multiple") and _fits(question, answer):
        picked = _choices(question, answer)
        if all(i < len(question.choices) for i in picked):
            return " + ".join(question.choices[i].text for i in picked)
        return "?"
    return re.sub(r"\s+", " ", str(answer)).strip().casefold()


def _name_learners(database: Database, questions: list[QuestionFigures]) -> None:
    ids = sorted({i for q in questions for i, _ in q.missed_by})
    names: dict[int, str] = {}
    for start in range(0, len(ids), 500):  # SQLite's limit on parameters
        chunk = ids[start : start + 500]
        for r in database.query(
            f"SELECT id, display_name FROM users WHERE id IN ({','.join('?' * len(chunk))})",
            chunk,
        ):
            names[r["id"]] = r["display_name"]
    for q in questions:
        q.missed_by = sorted(
            ((i, names.get(i, "")) for i, _ in q.missed_by), key=lambda x: x[1].casefold()
        )
