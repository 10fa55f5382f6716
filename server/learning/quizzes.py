"""Quizzes: graded on the server, every attempt kept.

The page is a plain form, so it works without JavaScript. In a quiz with immediate
feedback each question has its own "Check" button: checking records the answer, shows
that question's feedback, and locks the question for this attempt (otherwise checking
would be a way to try every choice). "Submit" grades the whole attempt; a passed attempt
completes the lesson. "Try again" starts a new attempt; old attempts stay on record.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from content.format.lessondata import QuizChoice, QuizData
from server.core import clock
from server.core.db import Database
from server.core.errors import N_, ValidationError
from server.core.settings import Settings
from server.learning import progress
from server.learning.visibility import Course, Lesson
from server.people.accounts import User

Answer = int | list[int] | bool | str | None


@dataclass(frozen=True)
class Question:
    key: str
    type: str  # single | multiple | true-false | short-answer
    prompt: str
    choices: tuple[QuizChoice, ...]
    answer: bool | None
    accepted: tuple[str, ...]
    explanation: str

    @property
    def field_name(self) -> str:
        return f"q-{self.key}"


@dataclass(frozen=True)
class Quiz:
    pass_mark: float
    immediate: bool
    assessment: str | None
    questions: list[Question]


def quiz_of(lesson: Lesson) -> Quiz:
    stored = lesson.data.quiz or QuizData()
    questions = [
        Question(
            key=q.key,
            type=q.type,
            prompt=q.prompt,
            choices=q.choices,
            answer=q.answer,
            accepted=q.accepted,
            explanation=q.explanation,
        )
        for q in stored.questions
    ]
    return Quiz(
        pass_mark=stored.pass_mark,
        immediate=stored.feedback == "immediate",
        assessment=stored.assessment,
        questions=questions,
    )


def _words(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().casefold()


def parse_answer(question: Question, values: Sequence[str]) -> Answer:
    """The form's values for one question → a normalized answer (None if unanswered or
    not a valid choice: a forged value is treated as no answer)."""
    if question.type == "single":
        if len(values) != 1 or not values[0].isdigit():
            return None
        index = int(values[0])
        return index if index < len(question.choices) else None
    if question.type == "multiple":
        picked = sorted({int(v) for v in values if v.isdigit() and int(v) < len(question.choices)})
        return picked or None
    if question.type == "true-false":
        if values and values[0] in {"true", "false"}:
            return values[0] == "true"
        return None
    text = values[0].strip()[:500] if values else ""
    return text or None


def is_correct(question: Question, answer: Answer) -> bool:
    if answer is None:
        return False
    if question.type == "single":
        return question.choices[int(answer)].correct  # type: ignore[arg-type]
    if question.type == "multiple":
        right = [i for i, c in enumerate(question.choices) if c.correct]
        return answer == right
    if question.type == "true-false":
        return answer is question.answer
    return _words(str(answer)) in {_words(a) for a in question.accepted}


def feedback_for(question: Question, answer: Answer) -> list[str]:
    """The publisher's feedback on the chosen choices, then the explanation."""
    chosen: list[int] = []
    if isinstance(answer, int) and not isinstance(answer, bool):
        chosen = [answer]
    elif isinstance(answer, list):
        chosen = answer
    notes = [question.choices[i].feedback for i in chosen]
    notes.append(question.explanation)
    # Publishers often give the same words on a choice and as the explanation: say once.
    return list(dict.fromkeys(note for note in notes if note))


def shown_results(quiz: Quiz, attempt: Attempt | None) -> dict[str, dict[str, Any]]:
    """Each question's result a learner may see now, by key: every question once the
    attempt is handed in, before that only the ones they asked to check. The learner's
    pages and the author's preview both show these."""
    results: dict[str, dict[str, Any]] = {}
    if attempt is None:
        return results
    for q in quiz.questions:
        if attempt.submitted or q.key in attempt.checked:
            answer = attempt.answers.get(q.key)
            results[q.key] = {"correct": is_correct(q, answer), "notes": feedback_for(q, answer)}
    return results


def right_count(quiz: Quiz, answers: dict[str, Answer]) -> int:
    """How many questions the answers got right, for "8 of 9 right"."""
    return sum(1 for q in quiz.questions if is_correct(q, answers.get(q.key)))


def score_of(quiz: Quiz, answers: dict[str, Answer]) -> float:
    """The percent of questions answered right (a quiz without questions scores 100)."""
    right = right_count(quiz, answers)
    return round(100 * right / len(quiz.questions), 1) if quiz.questions else 100.0


@dataclass
class Attempt:
    id: int
    answers: dict[str, Answer]
    checked: set[str]
    score: float | None
    passed: bool | None
    started_at: str
    submitted_at: str | None

    @property
    def submitted(self) -> bool:
        return self.submitted_at is not None


def _attempt(row: Any) -> Attempt:
    return Attempt(
        id=row["id"],
        answers=json.loads(row["answers"]),
        checked=set(json.loads(row["checked"])),
        score=row["score"],
        passed=None if row["passed"] is None else bool(row["passed"]),
        started_at=row["started_at"],
        submitted_at=row["submitted_at"],
    )


def attempts(database: Database, user_id: int, course_id: str, lesson_key: str) -> list[Attempt]:
    """All attempts, newest first."""
    rows = database.query(
        "SELECT * FROM quiz_attempts WHERE user_id = ? AND course_id = ? AND lesson_key = ?"
        " ORDER BY id DESC",
        [user_id, course_id, lesson_key],
    )
    return [_attempt(row) for row in rows]


def _open_attempt_in(
    db: sqlite_utils.Database, user: User, course: Course, lesson: Lesson
) -> Attempt:
    row = db.execute(
        "SELECT * FROM quiz_attempts WHERE user_id = ? AND course_id = ? AND lesson_key = ?"
        " AND submitted_at IS NULL ORDER BY id DESC LIMIT 1",
        [user.id, course.course_id, lesson.key],
    ).fetchone()
    if row is not None:
        return _attempt(row)
    cursor = db.execute(
        "INSERT INTO quiz_attempts (user_id, course_id, lesson_key, version_id, started_at)"
        " VALUES (?, ?, ?, ?, ?)",
        [user.id, course.course_id, lesson.key, course.version_id, clock.iso()],
    )
    return Attempt(int(cursor.lastrowid or 0), {}, set(), None, None, clock.iso(), None)


def _seen(db: sqlite_utils.Database, user_id: int, event_id: str) -> bool:
    row = db.execute(
        "SELECT 1 FROM progress_events WHERE user_id = ? AND event_id = ?", [user_id, event_id]
    ).fetchone()
    return row is not None


def _answers_from(quiz: Quiz, form_values: dict[str, list[str]], attempt: Attempt) -> None:
    for question in quiz.questions:
        if question.key in attempt.checked:
            continue  # locked once checked
        attempt.answers[question.key] = parse_answer(
            question, form_values.get(question.field_name, [])
        )


def _save(db: sqlite_utils.Database, attempt: Attempt) -> None:
    db.execute(
        "UPDATE quiz_attempts SET answers = ?, checked = ?, score = ?, passed = ?,"
        " submitted_at = ? WHERE id = ?",
        [
            json.dumps(attempt.answers, sort_keys=True),
            json.dumps(sorted(attempt.checked)),
            attempt.score,
            attempt.passed,
            attempt.submitted_at,
            attempt.id,
        ],
    )


def check(
    database: Database,
    settings: Settings,
    user: User,
    course: Course,
    lesson: Lesson,
    question_key: str,
    form_values: dict[str, list[str]],
    event_id: str,
) -> Attempt:
    """Record the answer to one question and lock it (immediate-feedback quizzes)."""
    quiz = quiz_of(lesson)
    if not quiz.immediate:
        raise ValidationError(N_("This quiz shows the answers after you submit it."))
    question = next((q for q in quiz.questions if q.key == question_key), None)
    if question is None:
        raise ValidationError(N_("That question is not in this quiz."))
    with database.write() as db:
        attempt = _open_attempt_in(db, user, course, lesson)
        if _seen(db, user.id, event_id) or question.key in attempt.checked:
            return attempt
        _answers_from(quiz, form_values, attempt)
        if attempt.answers.get(question.key) is None:
            raise ValidationError(N_("Choose or write an answer first."))
        attempt.checked.add(question.key)
        _save(db, attempt)
        correct = is_correct(question, attempt.answers[question.key])
        event = progress.Event(
            event_id,
            "answered",
            course.course_id,
            lesson.key,
            data={"question": question.key, "correct": correct, "attempt": attempt.id},
        )
        progress.record_in(db, settings, user, course, lesson, event)
    return attempt


def submit(
    database: Database,
    settings: Settings,
    user: User,
    course: Course,
    lesson: Lesson,
    form_values: dict[str, list[str]],
    event_id: str,
) -> Attempt:
    """Grade the open attempt. A double-sent form grades once."""
    quiz = quiz_of(lesson)
    with database.write() as db:
        attempt = _open_attempt_in(db, user, course, lesson)
        if _seen(db, user.id, event_id):
            row = db.execute(
                "SELECT * FROM quiz_attempts WHERE user_id = ? AND course_id = ?"
                " AND lesson_key = ? AND submitted_at IS NOT NULL ORDER BY id DESC LIMIT 1",
                [user.id, course.course_id, lesson.key],
            ).fetchone()
            return _attempt(row) if row is not None else attempt
        _answers_from(quiz, form_values, attempt)
        attempt.score = score_of(quiz, attempt.answers)
        attempt.passed = attempt.score >= quiz.pass_mark
        attempt.submitted_at = clock.iso()
        _save(db, attempt)
        event = progress.Event(
            event_id,
            "passed" if attempt.passed else "failed",
            course.course_id,
            lesson.key,
            data={"score": attempt.score, "attempt": attempt.id},
        )
        progress.record_in(db, settings, user, course, lesson, event)
        if attempt.passed:
            progress.complete_in(
                db, settings, user, course, lesson.key, clock.now(), attempt.score, True
            )
        else:
            _record_best_score(db, user, course, lesson, attempt.score)
    return attempt


def _record_best_score(
    db: sqlite_utils.Database, user: User, course: Course, lesson: Lesson, score: float
) -> None:
    db.execute(
        "UPDATE lesson_progress SET score = max(coalesce(score, 0), ?),"
        " passed = coalesce(passed, 0) WHERE user_id = ? AND course_id = ? AND lesson_key = ?",
        [score, user.id, course.course_id, lesson.key],
    )


def current(database: Database, user_id: int, course_id: str, lesson_key: str) -> Attempt | None:
    """The attempt the page shows: the open one, or else the last submitted one."""
    found = attempts(database, user_id, course_id, lesson_key)
    return found[0] if found else None


def retry(database: Database, user: User, course: Course, lesson: Lesson) -> None:
    """Start a new attempt (the last one must be submitted)."""
    with database.write() as db:
        _open_attempt_in(db, user, course, lesson)
