"""The one learner of a preview: their quiz tries, finished lessons, activities' SCORM
values and scores, language and text size, kept in memory only.

The rules are the learner's (`server.learning.quizzes` grades, `server.learning.workbooks`
checks answers, `server.learning.scorm` and `h5p` read what an activity reports,
`server.learning.written` counts words), so the author sees the feedback and the refusals
a learner gets; only the storing is left out. Workbook and writing answers are never kept
at all: a page shows back what was just sent and forgets it. Everything goes when the
preview stops.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from server.core import clock
from server.core.errors import N_, ValidationError
from server.learning import h5p, quizzes, scorm, workbooks, written
from server.learning.progress import Completion, CourseProgress, LessonState
from server.learning.scorm import ScoState
from server.learning.visibility import Lesson


@dataclass
class ScoAttempt:
    """One attempt at a SCO, as `scorm.commit` left it."""

    number: int
    cmi: dict[str, str]
    finished: bool
    score: float | None
    passed: bool | None


@dataclass
class PreviewLearner:
    """What a learner page reads from `user`, and what the preview remembers."""

    text_size: str = "normal"
    language: str | None = None  # None: the course's language when the UI has it
    done: set[str] = field(default_factory=set)
    tries: dict[str, list[quizzes.Attempt]] = field(default_factory=dict)
    scores: dict[str, float] = field(default_factory=dict)  # an activity's, by lesson key
    scos: dict[tuple[str, str], list[ScoAttempt]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def lesson_state(self, lesson: Lesson) -> LessonState:
        best = [a.score for a in self.tries.get(lesson.key, []) if a.score is not None]
        if lesson.key in self.scores:
            best.append(self.scores[lesson.key])
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

    def sco_states(self, lesson: Lesson) -> dict[str, ScoState]:
        """Each SCO's attempt to launch now, as `scorm.states` finds it in a database."""
        package = lesson.data.scorm
        found: dict[str, ScoState] = {}
        with self._lock:
            for sco in package.scos if package is not None else ():
                attempts = self.scos.get((lesson.key, sco.id), [])
                newest = attempts[-1] if attempts else None
                if newest is None:
                    found[sco.id] = ScoState(sco.id, 1, {}, False)
                elif newest.finished:
                    found[sco.id] = ScoState(sco.id, newest.number + 1, {}, True)
                else:
                    found[sco.id] = ScoState(sco.id, newest.number, dict(newest.cmi), False)
        return found

    def take_scorm(self, lesson: Lesson, data: Mapping[str, Any]) -> bool:
        """A ``scorm`` event: its values merged into the SCO's attempt by the server's rules
        (`scorm.commit`); the lesson is done, with the SCOs' mean score, once every SCO
        is finished (`scorm.lesson_outcome`). True when that finished the lesson."""
        package = lesson.data.scorm
        if package is None:
            raise ValidationError("this lesson is not a SCORM package")
        with self._lock:
            sco = data.get("sco")
            attempts = self.scos.get((lesson.key, sco), []) if isinstance(sco, str) else []
            newest = attempts[-1] if attempts else None
            done = scorm.commit(
                package,
                data,
                (newest.number, newest.cmi, newest.finished) if newest is not None else None,
            )
            attempts = self.scos.setdefault((lesson.key, done.sco_id), attempts)
            attempt = ScoAttempt(done.attempt, done.cmi, done.finished, done.score, done.passed)
            if newest is not None and newest.number == done.attempt:
                attempts[-1] = attempt
            else:
                attempts.append(attempt)
            if not done.finished:
                return False
            finished: dict[str, tuple[float | None, bool]] = {}
            for (key, sco_id), tries in self.scos.items():
                ended = [t for t in tries if t.finished]
                if key != lesson.key or not ended:
                    continue
                scores = [t.score for t in ended if t.score is not None]
                passed = all(t.passed is not False for t in ended)
                finished[sco_id] = (max(scores) if scores else None, passed)
            return self._complete(lesson.key, scorm.lesson_outcome(package, finished))

    def take_h5p(self, lesson: Lesson, data: Mapping[str, Any]) -> bool:
        """An ``h5p`` event: the lesson is done when its statement finishes the content
        (`h5p.outcome`). True when it did."""
        with self._lock:
            return self._complete(lesson.key, h5p.outcome(data.get("statement")))

    def _complete(self, key: str, completion: Completion | None) -> bool:
        if completion is None:
            return False
        score, _ = completion
        self.done.add(key)
        if score is not None:
            self.scores[key] = max(score, self.scores.get(key, score))
        return True

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


def written_page(lesson: Lesson, raw: Any, send: bool) -> dict[str, Any]:
    """The writing task part of the page a learner sees after saving (or sending) their
    answer: checked by the learner's rules (`written.clean_text`, an empty answer is not
    sent), stored nowhere; the page shows it back once."""
    written.task_of(lesson)
    text = written.clean_text(raw)
    if send and not text.strip():
        raise ValidationError(N_("Write your answer before you send it."))
    now = clock.iso()
    attempt = written.Attempt(
        id=0,
        user_id=0,
        course_id=None,
        lesson_key=lesson.key,
        version_id=None,
        attempt=1,
        status=written.SUBMITTED if send else written.DRAFT,
        text=text,
        words=written.count_words(text),
        created_at=now,
        updated_at=now,
        submitted_at=now if send else None,
        graded_at=None,
        scores={},
        total=None,
        max_points=None,
        passed=None,
        feedback="",
    )
    return {
        "attempts": [attempt],
        "writing": not send,
        "draft_text": "" if send else text,
        "draft_words": 0 if send else attempt.words,
    }
