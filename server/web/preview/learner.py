"""The one learner of a preview: their quiz tries, finished lessons, language and text
size, kept in memory only.

The rules are the learner's (`server.learning.quizzes` grades, `server.learning.workbooks`
checks answers), so the author sees the feedback and the refusals a learner gets; only
the storing is left out. Workbook answers are never kept at all: a page shows back what
was just sent and forgets it. Everything goes when the preview stops.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from server.core import clock
from server.core.errors import N_, ValidationError
from server.learning import quizzes, workbooks
from server.learning.progress import CourseProgress, LessonState
from server.learning.visibility import Lesson


@dataclass
class PreviewLearner:
    """What a learner page reads from `user`, and what the preview remembers."""

    text_size: str = "normal"
    language: str | None = None  # None: the course's language when the UI has it
    done: set[str] = field(default_factory=set)
    tries: dict[str, list[quizzes.Attempt]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def lesson_state(self, lesson: Lesson) -> LessonState:
        best = [a.score for a in self.tries.get(lesson.key, []) if a.score is not None]
        if lesson.key in self.done:
            return LessonState(lesson.key, "done", score=max(best, default=None))
        if lesson.key in self.tries:
            return LessonState(lesson.key, "in_progress", score=max(best, default=None))
        return LessonState(lesson.key)

    def course_progress(self, lessons: list[Lesson]) -> CourseProgress:
        states = {lesson.key: self.lesson_state(lesson) for lesson in lessons}
        done = sum(1 for s in states.values() if s.status == "done")
        upcoming = next((x for x in lessons if states[x.key].status != "done"), None)
        return CourseProgress(states, len(lessons), done, 0.0, upcoming)

    def finish(self, key: str) -> None:
        with self._lock:
            self.done.add(key)

    def attempts(self, key: str) -> list[quizzes.Attempt]:
        """The tries at a quiz, newest first."""
        with self._lock:
            return list(reversed(self.tries.get(key, [])))

    def _open_attempt(self, key: str) -> quizzes.Attempt:
        tries = self.tries.setdefault(key, [])
        if not tries or tries[-1].submitted:
            tries.append(quizzes.Attempt(len(tries) + 1, {}, set(), None, None, clock.iso(), None))
        return tries[-1]

    def check(self, lesson: Lesson, question_key: str, values: Mapping[str, list[str]]) -> None:
        """One question answered and locked, as `quizzes.check` does."""
        quiz = quizzes.quiz_of(lesson)
        if not quiz.immediate:
            raise ValidationError(N_("This quiz shows the answers after you submit it."))
        question = next((q for q in quiz.questions if q.key == question_key), None)
        if question is None:
            raise ValidationError(N_("That question is not in this quiz."))
        with self._lock:
            attempt = self._open_attempt(lesson.key)
            if question.key in attempt.checked:
                return
            answer = quizzes.parse_answer(question, values.get(question.field_name, []))
            if answer is None:
                raise ValidationError(N_("Choose or write an answer first."))
            attempt.answers[question.key] = answer
            attempt.checked.add(question.key)

    def submit(self, lesson: Lesson, values: Mapping[str, list[str]]) -> quizzes.Attempt:
        """Grade the open try, as `quizzes.submit` does; a pass finishes the lesson."""
        quiz = quizzes.quiz_of(lesson)
        with self._lock:
            attempt = self._open_attempt(lesson.key)
            for question in quiz.questions:
                if question.key not in attempt.checked:
                    field_values = values.get(question.field_name, [])
                    attempt.answers[question.key] = quizzes.parse_answer(question, field_values)
            attempt.score = quizzes.score_of(quiz, attempt.answers)
            attempt.passed = attempt.score >= quiz.pass_mark
            attempt.submitted_at = clock.iso()
            if attempt.passed:
                self.done.add(lesson.key)
            return attempt

    def retry(self, lesson: Lesson) -> None:
        with self._lock:
            self._open_attempt(lesson.key)


def workbook_page(lesson: Lesson, values: Mapping[str, list[str]], send: bool) -> dict[str, Any]:
    """The workbook part of the page a learner sees after saving (or sending) the form:
    the entry it would make, checked by the learner's rules and stored nowhere; the page
    shows it back once."""
    prompts = workbooks.prompts_of(lesson)
    raw = workbooks.from_form(prompts, values)
    answers: dict[str, workbooks.AnswerValue] = {}
    for prompt in prompts:
        value = workbooks.clean_value(prompt, raw.get(prompt.key))
        if value is not None:
            answers[prompt.key] = value
    now = clock.iso()
    entry = workbooks.Entry(
        id=0,
        status="submitted" if send else "draft",
        answers=answers,
        visibility={p.key: p.visibility for p in prompts},
        created_at=now,
        updated_at=now,
        submitted_at=now if send else None,
        reviewed_at=None,
        feedback="",
    )
    if send:
        return {"draft": None, "sent": [entry], "writing": False}
    return {"draft": entry, "sent": [], "writing": True}
