"""Lesson plans: an educator's ordered list of things for one group to do, with their own
short instructions and a due date. Not the learner's goal plan (`learning.plans`).

An item is a lesson of a course (a book's chapter is a lesson of the book), a whole course
or book, a quiz the educator made by picking questions from quizzes of approved
courses (a *bank quiz*), a file an educator made (a PDF handout, a short video:
``catalog.teacher_files``), which learners open only once it is approved, or a writing
task the educator made (`learning.plan_writing`), graded with its rubric like a course's. The item's
``kind`` names which; a new kind (an article of an offline reference collection) is a
new value of that column and a new branch in `_resolve`, nothing else.

Items hold references, never copies: what a learner opens is the course's live,
approved version, through the same rules as everywhere (`learning.access`). An item
whose content was withdrawn, pulled or is no longer offered to the learner shows as
*unavailable* instead of a broken link; a question the publisher removed from a quiz
drops out of the bank quiz (a quiz with none left is unavailable).

What counts as done comes from progress already recorded, nothing new: a lesson (or
chapter) when its progress says done — the learner finished it the way that kind of
lesson finishes (read to the end and tapped *Done*, watched, passed its quiz); a course
or book when every lesson of its live version is done; a bank quiz when a try reached its
pass mark (any handed-in try when the mark is 0); a file when the learner opened its page;
a writing task when a final grade passed (anything sent when the pass mark is 0).
The plan is done when every item that
can still be done is done.

Bank quizzes are graded by `quizzes.score_of`, the one scoring code; each try is kept.
Every title and instruction staff write here is kept as written, with author and time, in
``local_texts``: the admins' list of local words that learners read (see
`local_texts_list`). Every change is in the audit log.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import sqlite_utils

from server.core import clock
from server.core.db import Database
from server.core.errors import N_, NotFound, ValidationError
from server.core.settings import Settings
from server.learning import assignments, plan_writing, progress, quizzes, visibility
from server.learning.access import visible_courses
from server.learning.visibility import Course, Lesson
from server.people import audit
from server.people.accounts import Role, User
from server.people.audit import Actor

KINDS = ("lesson", "course", "quiz", "file", "written")
MAX_TITLE = 120
MAX_INSTRUCTIONS = 1000
MAX_ITEMS = 60
MAX_QUESTIONS = 40


@dataclass(frozen=True)
class Plan:
    id: int
    group_id: int
    title: str
    instructions: str
    due_date: str | None
    assigned_at: str | None
    created_at: str

    @property
    def assigned(self) -> bool:
        return self.assigned_at is not None


@dataclass(frozen=True)
class Item:
    id: int
    position: int
    kind: str
    course_id: str | None
    lesson_key: str | None
    quiz_id: int | None
    file_id: int | None = None
    task_id: int | None = None


@dataclass(frozen=True)
class QuestionRef:
    course_id: str
    lesson_key: str
    question_key: str


@dataclass(frozen=True)
class BankQuiz:
    id: int
    plan_id: int
    title: str
    instructions: str
    pass_mark: float
    refs: tuple[QuestionRef, ...]


@dataclass(frozen=True)
class Shown:
    """An item as one person sees it: what it is, where it opens, whether it is there."""

    item: Item
    title: str
    where: str  # the course or book it is in ("" for a bank quiz)
    url: str | None  # None: unavailable
    done: bool = False
    state: str = ""  # a file's review state, for staff: waiting | approved | rejected | withdrawn

    @property
    def available(self) -> bool:
        return self.url is not None


@dataclass(frozen=True)
class PlanState:
    plan: Plan
    items: list[Shown] = field(default_factory=list)

    @property
    def done_count(self) -> int:
        return sum(1 for s in self.items if s.done)

    @property
    def open_count(self) -> int:
        return sum(1 for s in self.items if s.available or s.done)

    @property
    def done(self) -> bool:
        """Every item that can still be done is done (and there was something to do)."""
        return self.done_count > 0 and all(s.done or not s.available for s in self.items)


# ---- Reading -----------------------------------------------------------------------


def _plan(row: Any) -> Plan:
    return Plan(
        row["id"],
        row["group_id"],
        row["title"],
        row["instructions"],
        row["due_date"],
        row["assigned_at"],
        row["created_at"],
    )


_PLAN_COLUMNS = "id, group_id, title, instructions, due_date, assigned_at, created_at"


def get_plan(database: Database, plan_id: int) -> Plan:
    row = database.query_one(f"SELECT {_PLAN_COLUMNS} FROM lesson_plans WHERE id = ?", [plan_id])
    if row is None:
        raise NotFound()
    return _plan(row)


def plans_of_group(database: Database, group_id: int) -> list[Plan]:
    rows = database.query(
        f"SELECT {_PLAN_COLUMNS} FROM lesson_plans WHERE group_id = ?"
        " ORDER BY assigned_at IS NULL, due_date IS NULL, due_date, id",
        [group_id],
    )
    return [_plan(row) for row in rows]


def assigned_plans_for(database: Database, learner_id: int) -> list[Plan]:
    """The plans assigned to the groups this learner is in, soonest due first."""
    rows = database.query(
        f"SELECT {_PLAN_COLUMNS} FROM lesson_plans WHERE assigned_at IS NOT NULL"
        " AND group_id IN (SELECT group_id FROM group_members WHERE user_id = ?)"
        " ORDER BY due_date IS NULL, due_date, id",
        [learner_id],
    )
    return [_plan(row) for row in rows]


def learner_plan(database: Database, learner: User, plan_id: int) -> Plan:
    """The plan if it is assigned to one of the learner's groups; NotFound otherwise."""
    for plan in assigned_plans_for(database, learner.id):
        if plan.id == plan_id:
            return plan
    raise NotFound()


def items_of(database: Database, plan_id: int) -> list[Item]:
    rows = database.query(
        "SELECT id, position, kind, course_id, lesson_key, quiz_id, file_id, task_id"
        " FROM lesson_plan_items WHERE plan_id = ? ORDER BY position, id",
        [plan_id],
    )
    return [Item(*row) for row in rows]


def bank_quiz(database: Database, quiz_id: int) -> BankQuiz:
    row = database.query_one(
        "SELECT id, plan_id, title, instructions, pass_mark FROM bank_quizzes WHERE id = ?",
        [quiz_id],
    )
    if row is None:
        raise NotFound()
    refs = database.query(
        "SELECT course_id, lesson_key, question_key FROM bank_quiz_questions"
        " WHERE quiz_id = ? ORDER BY position",
        [quiz_id],
    )
    return BankQuiz(
        row["id"],
        row["plan_id"],
        row["title"],
        row["instructions"],
        float(row["pass_mark"]),
        tuple(QuestionRef(*ref) for ref in refs),
    )


# ---- Writing ----------------------------------------------------------------------


def _clean_text(title: str, instructions: str) -> tuple[str, str]:
    title = " ".join(title.split())
    if not 1 <= len(title) <= MAX_TITLE:
        raise ValidationError(N_("Write a title of 1 to 120 characters."), "title")
    instructions = instructions.strip().replace("\r\n", "\n")
    if len(instructions) > MAX_INSTRUCTIONS:
        raise ValidationError(
            N_("Keep the instructions to 1000 characters or fewer."), "instructions"
        )
    return title, instructions


def _keep_text_in(
    db: sqlite_utils.Database, actor: Actor, kind: str, object_id: int, texts: Mapping[str, str]
) -> None:
    now = clock.iso()
    for name, text in texts.items():
        if text:
            db.execute(
                "INSERT INTO local_texts (kind, object_id, field, text, written_by, author,"
                " written_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [kind, object_id, name, text, actor.id, actor.label, now],
            )


def create_plan(
    database: Database, actor: Actor, group_id: int, title: str, instructions: str
) -> int:
    title, instructions = _clean_text(title, instructions)
    now = clock.iso()
    with database.write() as db:
        cursor = db.execute(
            "INSERT INTO lesson_plans (group_id, title, instructions, created_by, created_at,"
            " updated_at) VALUES (?, ?, ?, ?, ?, ?)",
            [group_id, title, instructions, actor.id, now, now],
        )
        plan_id = int(cursor.lastrowid or 0)
        _keep_text_in(db, actor, "plan", plan_id, {"title": title, "instructions": instructions})
        audit.record(db, actor, "lesson-plan.create", f"group:{group_id}", plan=plan_id)
    return plan_id


def update_text(
    database: Database, actor: Actor, plan: Plan, title: str, instructions: str
) -> None:
    title, instructions = _clean_text(title, instructions)
    with database.write() as db:
        db.execute(
            "UPDATE lesson_plans SET title = ?, instructions = ?, updated_at = ? WHERE id = ?",
            [title, instructions, clock.iso(), plan.id],
        )
        changed = {
            "title": title if title != plan.title else "",
            "instructions": instructions if instructions != plan.instructions else "",
        }
        _keep_text_in(db, actor, "plan", plan.id, changed)
        audit.record(db, actor, "lesson-plan.edit", f"group:{plan.group_id}", plan=plan.id)


def _append_in(
    db: sqlite_utils.Database,
    plan: Plan,
    kind: str,
    course_id: str | None,
    lesson_key: str | None,
    quiz_id: int | None,
    file_id: int | None = None,
    task_id: int | None = None,
) -> int:
    count, last = db.execute(
        "SELECT count(*), coalesce(max(position), 0) FROM lesson_plan_items WHERE plan_id = ?",
        [plan.id],
    ).fetchone()
    if count >= MAX_ITEMS:
        raise ValidationError(N_("A plan holds at most 60 items. Make a second plan."))
    cursor = db.execute(
        "INSERT INTO lesson_plan_items (plan_id, position, kind, course_id, lesson_key, quiz_id,"
        " file_id, task_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [plan.id, last + 1, kind, course_id, lesson_key, quiz_id, file_id, task_id],
    )
    db.execute("UPDATE lesson_plans SET updated_at = ? WHERE id = ?", [clock.iso(), plan.id])
    return int(cursor.lastrowid or 0)


def add_item(
    database: Database,
    settings: Settings,
    actor: User,
    client_address: str,
    plan: Plan,
    course_id: str,
    lesson_key: str = "",
) -> None:
    """Add a lesson (``lesson_key``) or a whole course or book to the end of the plan;
    only what is approved and servable now, as the educator's catalog shows it."""
    courses = {c.course_id: c for c in visible_courses(database, settings, actor)}
    course = courses.get(course_id)
    if course is None:
        raise ValidationError(N_("That course is not available. Choose from the list."))
    if lesson_key:
        lessons = visibility.lessons_of(database, course.version_id)
        if lesson_key not in {lesson.key for lesson in lessons}:
            raise ValidationError(N_("Choose a lesson of this course."))
    kind = "lesson" if lesson_key else "course"
    with database.write() as db:
        same = db.execute(
            "SELECT 1 FROM lesson_plan_items WHERE plan_id = ? AND kind = ? AND course_id = ?"
            " AND coalesce(lesson_key, '') = ?",
            [plan.id, kind, course_id, lesson_key],
        ).fetchone()
        if same is not None:
            raise ValidationError(N_("That is already in the plan."))
        _append_in(db, plan, kind, course_id, lesson_key or None, None)
        audit.record(
            db,
            actor.actor(client_address),
            "lesson-plan.add-item",
            f"group:{plan.group_id}",
            plan=plan.id,
            course=course_id,
            lesson=lesson_key or None,
        )


def add_file(
    database: Database, actor: User, client_address: str, plan: Plan, file_id: int
) -> None:
    """Add a file to the end of the plan: the educator's own (an admin: anyone's), waiting
    for review or approved. Learners see it once it is approved."""
    row = database.query_one("SELECT owner_id, status FROM teacher_files WHERE id = ?", [file_id])
    if row is None or (row["owner_id"] != actor.id and actor.role is not Role.ADMIN):
        raise ValidationError(N_("Choose one of your files."))
    if row["status"] not in ("waiting", "approved"):
        raise ValidationError(N_("That file was rejected or taken back. Choose another."))
    with database.write() as db:
        same = db.execute(
            "SELECT 1 FROM lesson_plan_items WHERE plan_id = ? AND file_id = ?",
            [plan.id, file_id],
        ).fetchone()
        if same is not None:
            raise ValidationError(N_("That is already in the plan."))
        _append_in(db, plan, "file", None, None, None, file_id)
        audit.record(
            db,
            actor.actor(client_address),
            "lesson-plan.add-file",
            f"group:{plan.group_id}",
            plan=plan.id,
            file=file_id,
        )


def add_written_task(
    database: Database,
    actor: User,
    client_address: str,
    plan: Plan,
    title: str,
    get: Callable[[str], str],
) -> int:
    """Make a writing task from the builder's form (``get``: a field's value) and add it
    to the end of the plan. Its title, prompt and rubric go to the admins' list of local
    text. Returns the task's id."""
    title, _none = _clean_text(title, "")
    raw = plan_writing.parse_form(get)
    with database.write() as db:
        cursor = db.execute(
            "INSERT INTO plan_written_tasks (plan_id, title, task, created_by, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            [plan.id, title, json.dumps(raw, sort_keys=True), actor.id, clock.iso()],
        )
        task_id = int(cursor.lastrowid or 0)
        _append_in(db, plan, "written", None, None, None, task_id=task_id)
        who = actor.actor(client_address)
        texts = {"title": title, "prompt": raw["prompt"], "rubric": plan_writing.rubric_text(raw)}
        _keep_text_in(db, who, "writing", task_id, texts)
        audit.record(
            db,
            who,
            "lesson-plan.add-writing",
            f"group:{plan.group_id}",
            plan=plan.id,
            task=task_id,
        )
    return task_id


def plan_task(database: Database, plan: Plan, task_id: int) -> plan_writing.PlanTask:
    """The plan's writing task; NotFound when the plan does not hold it (any more)."""
    task = plan_writing.get_task(database, task_id)
    held = any(i.task_id == task_id for i in items_of(database, plan.id))
    if task.plan_id != plan.id or not held:
        raise NotFound()
    return task


def plan_file(database: Database, plan: Plan, file_id: int) -> Item:
    """The plan's item for this file; NotFound when the plan does not hold it."""
    for item in items_of(database, plan.id):
        if item.kind == "file" and item.file_id == file_id:
            return item
    raise NotFound()


def record_file_open(database: Database, learner_id: int, file_id: int) -> None:
    """A learner opened a file's page: the item counts as done (once; later opens write
    nothing)."""
    seen = database.query_one(
        "SELECT 1 FROM teacher_file_opens WHERE user_id = ? AND file_id = ?",
        [learner_id, file_id],
    )
    if seen is None:
        with database.write() as db:
            db.execute(
                "INSERT OR IGNORE INTO teacher_file_opens (user_id, file_id, opened_at)"
                " VALUES (?, ?, ?)",
                [learner_id, file_id, clock.iso()],
            )


def move_item(database: Database, actor: Actor, plan: Plan, item_id: int, action: str) -> None:
    """Move an item one place ``up`` or ``down``, or ``remove`` it."""
    if action not in ("up", "down", "remove"):
        raise ValidationError(N_("Choose what to do with the item."))
    with database.write() as db:
        rows = db.execute(
            "SELECT id, position FROM lesson_plan_items WHERE plan_id = ? ORDER BY position, id",
            [plan.id],
        ).fetchall()
        ids = [row[0] for row in rows]
        if item_id not in ids:
            raise NotFound()
        if action == "remove":
            db.execute("DELETE FROM lesson_plan_items WHERE id = ?", [item_id])
            ids.remove(item_id)
        else:
            at = ids.index(item_id)
            to = at - 1 if action == "up" else at + 1
            if 0 <= to < len(ids):
                ids[at], ids[to] = ids[to], ids[at]
        for position, each in enumerate(ids, start=1):
            db.execute("UPDATE lesson_plan_items SET position = ? WHERE id = ?", [position, each])
        db.execute("UPDATE lesson_plans SET updated_at = ? WHERE id = ?", [clock.iso(), plan.id])
        audit.record(
            db, actor, f"lesson-plan.{action}-item", f"group:{plan.group_id}", plan=plan.id
        )


def assign(
    database: Database, actor: Actor, plan: Plan, due_date: str, past_due_ok: bool = False
) -> None:
    """Give the plan to its group's learners (again, with a new date, if it was already):
    a date in the past is refused unless confirmed, as for course assignments."""
    due = assignments.check_due(due_date, past_due_ok)
    with database.write() as db:
        (count,) = db.execute(
            "SELECT count(*) FROM lesson_plan_items WHERE plan_id = ?", [plan.id]
        ).fetchone()
        if not count:
            raise ValidationError(N_("Add at least one item before you assign the plan."))
        now = clock.iso()
        db.execute(
            "UPDATE lesson_plans SET due_date = ?, assigned_at = coalesce(assigned_at, ?),"
            " updated_at = ? WHERE id = ?",
            [due, now, now, plan.id],
        )
        past = {"past_due": True} if due is not None and due < now[:10] else {}
        audit.record(
            db, actor, "lesson-plan.assign", f"group:{plan.group_id}", plan=plan.id, due=due, **past
        )


def unassign(database: Database, actor: Actor, plan: Plan) -> None:
    """Take the plan back from the learners (it stays, to change and assign again)."""
    with database.write() as db:
        db.execute(
            "UPDATE lesson_plans SET assigned_at = NULL, updated_at = ? WHERE id = ?",
            [clock.iso(), plan.id],
        )
        audit.record(db, actor, "lesson-plan.unassign", f"group:{plan.group_id}", plan=plan.id)


# ---- Bank quizzes -----------------------------------------------------------------


@dataclass(frozen=True)
class BankSource:
    """One quiz of a course, as the bank quiz builder lists it."""

    course: Course
    lesson: Lesson
    questions: list[quizzes.Question]


def bank_sources(
    database: Database, settings: Settings, viewer: User, course_id: str
) -> list[BankSource]:
    """The quizzes of one course this viewer may open, with their questions."""
    courses = {c.course_id: c for c in visible_courses(database, settings, viewer)}
    course = courses.get(course_id)
    if course is None:
        raise NotFound()
    return [
        BankSource(course, lesson, quizzes.quiz_of(lesson).questions)
        for lesson in visibility.lessons_of(database, course.version_id)
        if lesson.kind == "quiz"
    ]


def parse_pick(value: str) -> QuestionRef | None:
    """A ticked box's value, ``course|lesson|question``, or None when malformed."""
    parts = value.split("|")
    if len(parts) != 3 or not all(parts) or any(len(p) > 200 for p in parts):
        return None
    return QuestionRef(*parts)


def create_bank_quiz(
    database: Database,
    settings: Settings,
    actor: User,
    client_address: str,
    plan: Plan,
    title: str,
    instructions: str,
    pass_mark: str,
    picks: Sequence[QuestionRef],
) -> int:
    """Make a quiz of the picked questions and add it to the end of the plan. Every
    question must be in a quiz of a course the educator may open now."""
    title, instructions = _clean_text(title, instructions)
    try:
        mark = float(pass_mark or "0")
    except ValueError:
        mark = -1
    if not 0 <= mark <= 100:
        raise ValidationError(N_("Write a pass mark from 0 to 100."), "pass_mark")
    chosen = list(dict.fromkeys(picks))
    if not chosen:
        raise ValidationError(N_("Tick at least one question."))
    if len(chosen) > MAX_QUESTIONS:
        raise ValidationError(N_("A quiz holds at most 40 questions."))
    found = _questions(database, settings, actor, chosen)
    if any(q is None for q in found):
        raise ValidationError(N_("A question you ticked is not available any more."))
    with database.write() as db:
        cursor = db.execute(
            "INSERT INTO bank_quizzes (plan_id, title, instructions, pass_mark, created_by,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?)",
            [plan.id, title, instructions, mark, actor.id, clock.iso()],
        )
        quiz_id = int(cursor.lastrowid or 0)
        for position, ref in enumerate(chosen, start=1):
            db.execute(
                "INSERT INTO bank_quiz_questions (quiz_id, position, course_id, lesson_key,"
                " question_key) VALUES (?, ?, ?, ?, ?)",
                [quiz_id, position, ref.course_id, ref.lesson_key, ref.question_key],
            )
        _append_in(db, plan, "quiz", None, None, quiz_id)
        who = actor.actor(client_address)
        _keep_text_in(db, who, "quiz", quiz_id, {"title": title, "instructions": instructions})
        audit.record(
            db,
            who,
            "lesson-plan.add-quiz",
            f"group:{plan.group_id}",
            plan=plan.id,
            quiz=quiz_id,
            questions=len(chosen),
        )
    return quiz_id


def _questions(
    database: Database, settings: Settings, viewer: User, refs: Sequence[QuestionRef]
) -> list[tuple[quizzes.Question, Course] | None]:
    """Each referenced question in the course's live version, if the viewer may open it."""
    courses = {c.course_id: c for c in visible_courses(database, settings, viewer)}
    found: list[tuple[quizzes.Question, Course] | None] = []
    for ref in refs:
        course = courses.get(ref.course_id)
        if course is None:
            found.append(None)
            continue
        lessons = {x.key: x for x in visibility.lessons_of(database, course.version_id)}
        lesson = lessons.get(ref.lesson_key)
        if lesson is None or lesson.kind != "quiz":
            found.append(None)
            continue
        question = next(
            (q for q in quizzes.quiz_of(lesson).questions if q.key == ref.question_key), None
        )
        found.append((question, course) if question is not None else None)
    return found


@dataclass(frozen=True)
class BankQuizView:
    """A bank quiz as a quizzes.Quiz of the questions still there (keys renumbered, so
    questions of different courses never clash), each with its course's language."""

    quiz: quizzes.Quiz
    languages: dict[str, str]
    missing: int


def quiz_view(database: Database, settings: Settings, viewer: User, bank: BankQuiz) -> BankQuizView:
    questions: list[quizzes.Question] = []
    languages: dict[str, str] = {}
    missing = 0
    for ref, found in zip(
        bank.refs, _questions(database, settings, viewer, bank.refs), strict=True
    ):
        if found is None:
            missing += 1
            continue
        question, course = found
        key = ref_key(ref)
        questions.append(replace(question, key=key))
        languages[key] = course.language
    quiz = quizzes.Quiz(
        pass_mark=bank.pass_mark, immediate=False, assessment=None, questions=questions
    )
    return BankQuizView(quiz, languages, missing)


def ref_key(ref: QuestionRef) -> str:
    """A question's key inside a bank quiz: stable however the quiz's list changes."""
    return f"{ref.course_id}.{ref.lesson_key}.{ref.question_key}".replace("|", "_")


@dataclass(frozen=True)
class BankAttempt:
    id: int
    answers: dict[str, quizzes.Answer]
    score: float
    passed: bool
    submitted_at: str


def submit_bank_quiz(
    database: Database,
    settings: Settings,
    learner: User,
    bank: BankQuiz,
    form_values: dict[str, list[str]],
) -> BankAttempt:
    """Grade a learner's try at a bank quiz with the one scoring code, and keep it."""
    view = quiz_view(database, settings, learner, bank)
    if not view.quiz.questions:
        raise NotFound(N_("This quiz is not available any more."))
    answers = {
        q.key: quizzes.parse_answer(q, form_values.get(q.field_name, []))
        for q in view.quiz.questions
    }
    score = quizzes.score_of(view.quiz, answers)
    passed = score >= bank.pass_mark
    now = clock.iso()
    with database.write() as db:
        cursor = db.execute(
            "INSERT INTO bank_quiz_attempts (quiz_id, user_id, answers, score, passed,"
            " submitted_at) VALUES (?, ?, ?, ?, ?, ?)",
            [bank.id, learner.id, json.dumps(answers, sort_keys=True), score, passed, now],
        )
    return BankAttempt(int(cursor.lastrowid or 0), answers, score, passed, now)


def bank_attempts(database: Database, quiz_id: int, learner_id: int) -> list[BankAttempt]:
    """A learner's tries at a bank quiz, newest first."""
    rows = database.query(
        "SELECT id, answers, score, passed, submitted_at FROM bank_quiz_attempts"
        " WHERE quiz_id = ? AND user_id = ? ORDER BY id DESC",
        [quiz_id, learner_id],
    )
    return [
        BankAttempt(r["id"], json.loads(r["answers"]), r["score"], bool(r["passed"]), r[4])
        for r in rows
    ]


# ---- Progress ---------------------------------------------------------------------


def _resolve(
    database: Database,
    courses: Mapping[str, Course],
    item: Item,
    settings: Settings,
    viewer: User,
    plan_id: int,
) -> tuple[str, str, str | None]:
    """(title, where, url or None) of an item of a plan for a viewer who may open
    ``courses``."""
    if item.kind == "written":
        assert item.task_id is not None
        task = plan_writing.get_task(database, item.task_id)
        side = "learn" if viewer.role is Role.LEARNER else "teach"
        return task.title, "", f"/{side}/lesson-plans/{plan_id}/writing/{task.id}"
    if item.kind == "file":
        row = database.query_one(
            "SELECT title, status FROM teacher_files WHERE id = ?", [item.file_id]
        )
        assert row is not None
        if viewer.role is not Role.LEARNER:
            return row["title"], "", f"/teach/files/{item.file_id}"
        approved = row["status"] == "approved"
        url = f"/learn/lesson-plans/{plan_id}/files/{item.file_id}" if approved else None
        return row["title"], "", url
    if item.kind == "quiz":
        assert item.quiz_id is not None
        bank = bank_quiz(database, item.quiz_id)
        view = quiz_view(database, settings, viewer, bank)
        url = (
            f"/learn/lesson-plans/{bank.plan_id}/quizzes/{bank.id}" if view.quiz.questions else None
        )
        return bank.title, "", url
    course = courses.get(item.course_id or "")
    if course is None:
        return item.lesson_key or item.course_id or "", "", None
    if item.kind == "course":
        return course.title, "", f"/learn/courses/{course.course_id}"
    lessons = {x.key: x for x in visibility.lessons_of(database, course.version_id)}
    lesson = lessons.get(item.lesson_key or "")
    if lesson is None:
        return item.lesson_key or "", course.title, None
    return lesson.title, course.title, f"/learn/courses/{course.course_id}/lessons/{lesson.key}"


def _done(database: Database, courses: Mapping[str, Course], item: Item, learner_id: int) -> bool:
    if item.kind == "written":
        assert item.task_id is not None
        task = plan_writing.get_task(database, item.task_id)
        found = database.query_one(
            plan_writing.done_sql(), [item.task_id, learner_id, task.task.pass_mark]
        )
        return found is not None
    if item.kind == "file":
        row = database.query_one(
            "SELECT 1 FROM teacher_file_opens o JOIN teacher_files f ON f.id = o.file_id"
            " WHERE o.user_id = ? AND o.file_id = ? AND f.status = 'approved'",
            [learner_id, item.file_id],
        )
        return row is not None
    if item.kind == "quiz":
        row = database.query_one(
            "SELECT 1 FROM bank_quiz_attempts WHERE quiz_id = ? AND user_id = ? AND passed = 1",
            [item.quiz_id, learner_id],
        )
        return row is not None
    if item.kind == "lesson":
        state = progress.lesson_state_in(
            database, learner_id, item.course_id or "", item.lesson_key or ""
        )
        return state.status == "done"
    course = courses.get(item.course_id or "")
    if course is None:
        return False
    lessons = visibility.lessons_of(database, course.version_id)
    return progress.course_progress(database, learner_id, course.course_id, lessons).complete


def state_for(
    database: Database, settings: Settings, viewer: User, plan: Plan, learner_id: int | None
) -> PlanState:
    """The plan's items as ``viewer`` may open them, each marked done for ``learner_id``
    (a learner's own page passes their own id; staff building a plan pass None)."""
    courses = {c.course_id: c for c in visible_courses(database, settings, viewer)}
    shown = []
    for item in items_of(database, plan.id):
        title, where, url = _resolve(database, courses, item, settings, viewer, plan.id)
        done = learner_id is not None and _done(database, courses, item, learner_id)
        shown.append(Shown(item, title, where, url, done, _file_state(database, item)))
    return PlanState(plan, shown)


def _file_state(database: Database, item: Item) -> str:
    if item.kind != "file":
        return ""
    row = database.query_one("SELECT status FROM teacher_files WHERE id = ?", [item.file_id])
    return str(row[0]) if row else ""


def progress_of(
    database: Database, settings: Settings, plan: Plan, learners: Sequence[User]
) -> list[PlanState]:
    """Each learner's progress on the plan, as each of them sees it."""
    return [state_for(database, settings, learner, plan, learner.id) for learner in learners]


def quiz_results(database: Database, bank: BankQuiz, learners: Sequence[User]) -> list[Any]:
    """Per learner: tries, best score, whether they passed (staff, in their scope)."""
    results = []
    for learner in learners:
        tries = bank_attempts(database, bank.id, learner.id)
        best = max((t.score for t in tries), default=None)
        results.append((learner, len(tries), best, any(t.passed for t in tries)))
    return results


# ---- The admins' list of local text -------------------------------------------------


@dataclass(frozen=True)
class LocalText:
    kind: str
    object_id: int
    field: str
    text: str
    author: str
    written_at: str


def local_texts_list(database: Database, limit: int = 500) -> list[LocalText]:
    """Every title and instruction staff wrote for learners here, newest first."""
    rows = database.query(
        "SELECT kind, object_id, field, text, author, written_at FROM local_texts"
        " ORDER BY id DESC LIMIT ?",
        [limit],
    )
    return [LocalText(*row) for row in rows]


# ---- The builder's search and browse -----------------------------------------------


@dataclass(frozen=True)
class Found:
    course: Course
    lessons: list[Lesson]
    course_matches: bool


def find_content(
    database: Database, settings: Settings, viewer: User, query: str = "", course_id: str = ""
) -> list[Found]:
    """What the educator may put in a plan: with ``course_id``, every lesson (or chapter)
    of that course; with ``query``, the courses, books and lessons whose titles hold all
    its words (no case); at most 30 courses."""
    courses = visible_courses(database, settings, viewer)
    if course_id:
        return [
            Found(c, visibility.lessons_of(database, c.version_id), True)
            for c in courses
            if c.course_id == course_id
        ]
    words = query.casefold().split()
    if not words:
        return []
    found = []
    for course in sorted(courses, key=lambda c: c.title.casefold()):
        lessons = visibility.lessons_of(database, course.version_id)
        hit_course = all(w in course.title.casefold() for w in words)
        hits = [x for x in lessons if all(w in x.title.casefold() for w in words)]
        if hit_course or hits:
            found.append(Found(course, hits, hit_course))
        if len(found) >= 30:
            break
    return found
