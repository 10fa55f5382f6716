"""Progress: learner events in, per-lesson and per-course progress out.

Every meaningful thing a learner does arrives as an *event* with an id the client made
(or, for plain forms, an id the server put in the form when it drew it). The pair
(learner, event id) is unique in `progress_events`, so a retried or duplicated post is
stored and counted once. Each new event then updates `lesson_progress`, which is what
pages read.

Completion rules per kind (the server decides, never the client alone):

* reading and PDF: the learner reached the end of the page or pressed "I finished";
* html5 (an interactive app): the app said it is done (a message the lesson page checks
  and turns into a "completed" event with ``method = app``) or the learner pressed
  "Mark as done";
* video and audio: 90 % of the media was played (the played ranges are merged on the
  server, so seeking to the end does not count), or the learner used the transcript
  instead ("completed" with ``method = transcript``, kept in the event for educators);
* quiz: an attempt passed (graded on the server, `server.learning.quizzes`);
* workbook: an entry was submitted (`server.learning.workbooks`);
* written: an attempt was sent, or, when the course requires the task passed, an educator
  graded an attempt as passed (`server.learning.written`);
* scorm: every SCO of the package reported itself complete (`server.learning.scorm`),
  with their mean score, which then counts as a quiz result does.

Time spent is credited per event and bounded twice: one event credits at most
`HEARTBEAT_MAX` seconds (JavaScript heartbeats) or `PAGE_MAX` (a plain page or form), and
credit never runs ahead of the wall clock: a learner has a running `credited_until`, at
most `BACKLOG` seconds behind now, and credit only moves it up to now. A tab left open
sends no heartbeats, and forged or replayed heartbeats cannot add more time than passed.

Progress belongs to the stable course id and lesson key, so a new course version keeps it.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlite_utils

from server.core import clock
from server.core.db import Database
from server.core.errors import ValidationError
from server.core.settings import Settings
from server.learning import certificates
from server.learning.access import visible_courses
from server.learning.visibility import Course, Lesson, lessons_of
from server.people.accounts import User

CLIENT_TYPES = frozenset(
    {"started", "progressed", "completed", "heartbeat", "draft", "scorm", "h5p"}
)
SERVER_TYPES = frozenset({"answered", "passed", "failed", "submitted"})
MEDIA_KINDS = frozenset({"video", "audio"})
# Lessons the learner says they finished: a reading or PDF by its button; an html5 app by
# its own "done" message (through the page, `server.web.sandbox`) or its "Mark as done".
DONE_BY_LEARNER = frozenset({"reading", "pdf", "html5"})
COMPLETE_FRACTION = 0.9
HEARTBEAT_MAX = 60.0
PAGE_MAX = 600.0
BACKLOG = 15 * 60.0
MAX_EVENTS_PER_POST = 200
MAX_MEDIA_SECONDS = 24 * 3600.0
REOPEN_QUIET_SECONDS = 60
_EVENT_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


@dataclass(frozen=True)
class Event:
    event_id: str
    type: str
    course_id: str
    lesson_key: str
    position: float | None = None
    duration: float | None = None
    watched: tuple[tuple[float, float], ...] = ()
    seconds: float | None = None
    data: Mapping[str, Any] = field(default_factory=dict, hash=False)
    client_time: str | None = None


@dataclass
class LessonState:
    key: str
    status: str = "not_started"  # not_started | in_progress | done
    position: float = 0.0
    duration: float = 0.0
    watched_fraction: float = 0.0
    seconds_spent: float = 0.0
    score: float | None = None
    passed: bool | None = None
    completed_at: str | None = None
    updated_at: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "position": self.position,
            "watched": round(self.watched_fraction, 3),
            "score": self.score,
        }


@dataclass
class CourseProgress:
    lessons: dict[str, LessonState]
    total: int
    done: int
    seconds_spent: float
    next_lesson: Lesson | None

    @property
    def percent(self) -> int:
        return math.floor(100 * self.done / self.total) if self.total else 0

    @property
    def complete(self) -> bool:
        return self.total > 0 and self.done == self.total

    @property
    def started(self) -> bool:
        return any(s.status != "not_started" for s in self.lessons.values())


@dataclass
class Outcome:
    accepted: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    rejected: dict[str, str] = field(default_factory=dict)
    lessons: dict[str, dict[str, Any]] = field(default_factory=dict)
    certificates: list[str] = field(default_factory=list)


def _number(value: Any, name: str, low: float, high: float) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValidationError(f"'{name}' must be a number")
    if not low <= value <= high:
        raise ValidationError(f"'{name}' must be between {low:g} and {high:g}")
    return float(value)


def parse_event(raw: Any) -> Event:
    """One event from the JSON endpoint; ValidationError names what is wrong."""
    if not isinstance(raw, dict):
        raise ValidationError("an event must be an object")
    _check_text(raw)
    event_id = raw.get("id")
    if not isinstance(event_id, str) or not _EVENT_ID.fullmatch(event_id):
        raise ValidationError("'id' must be 8-64 letters, digits, - or _")
    kind = raw.get("type")
    if kind not in CLIENT_TYPES:
        raise ValidationError(f"'type' must be one of {', '.join(sorted(CLIENT_TYPES))}")
    course_id, lesson_key = raw.get("course"), raw.get("lesson")
    if not isinstance(course_id, str) or not isinstance(lesson_key, str):
        raise ValidationError("'course' and 'lesson' are required")
    watched_raw = raw.get("watched", [])
    if not isinstance(watched_raw, list) or len(watched_raw) > 200:
        raise ValidationError("'watched' must be a list of at most 200 [start, end] pairs")
    watched = []
    for pair in watched_raw:
        if not (isinstance(pair, list) and len(pair) == 2):
            raise ValidationError("'watched' must be a list of [start, end] pairs")
        start = _number(pair[0], "watched", 0, MAX_MEDIA_SECONDS)
        end = _number(pair[1], "watched", 0, MAX_MEDIA_SECONDS)
        if start is not None and end is not None and end > start:
            watched.append((start, end))
    data = raw.get("data", {})
    if not isinstance(data, dict) or len(json.dumps(data)) > 64_000:
        raise ValidationError("'data' must be an object of at most 64 kB")
    client_time = raw.get("at")
    return Event(
        event_id=event_id,
        type=kind,
        course_id=course_id[:200],
        lesson_key=lesson_key[:64],
        position=_number(raw.get("position"), "position", 0, MAX_MEDIA_SECONDS),
        duration=_number(raw.get("duration"), "duration", 0, MAX_MEDIA_SECONDS),
        watched=tuple(watched),
        seconds=_number(raw.get("seconds"), "seconds", 0, 3600),
        data=data,
        client_time=client_time[:40] if isinstance(client_time, str) else None,
    )


def _check_text(raw: dict[str, Any]) -> None:
    """JSON may spell a lone UTF-16 surrogate (`"\\ud800"`), which is no character at
    all: it cannot be stored in SQLite or sent back as UTF-8, so such an event is refused
    here, before any of it is used."""
    try:
        json.dumps(raw, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError("the event holds text that is not valid Unicode") from None


def _label(raw: Any, index: int) -> str:
    """How a rejected event is named in the answer: its id, when that is short text that
    can be sent back (the client's own events always qualify), else its place in the
    batch."""
    event_id = raw.get("id") if isinstance(raw, dict) else None
    if isinstance(event_id, str) and 0 < len(event_id) <= 64 and not _SURROGATE.search(event_id):
        return event_id
    return f"#{index}"


def week_of(moment: float) -> str:
    """The ISO week of a moment, e.g. ``2026-W48`` (UTC)."""
    year, week, _ = datetime.fromtimestamp(moment, UTC).isocalendar()
    return f"{year}-W{week:02d}"


def merge_ranges(ranges: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
    merged: list[tuple[float, float]] = []
    for start, end in sorted(ranges):
        if merged and start <= merged[-1][1] + 0.5:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def covered(ranges: Iterable[tuple[float, float]], duration: float) -> float:
    if duration <= 0:
        return 0.0
    total = sum(min(end, duration) - min(start, duration) for start, end in ranges)
    return min(1.0, total / duration)


# Events whose content belongs to the module of their lesson kind: progress stores, credits
# and counts them, then hands each new one over (a draft carries workbook answers). The
# kind's module registers its handler here, so progress imports none of the modules that
# are built on it.
HANDLED_ELSEWHERE = frozenset({"draft", "scorm", "h5p"})
# A handler may finish the lesson: it returns (score, passed) to complete it with.
Completion = tuple[float | None, bool | None]
EventHandler = Callable[
    [sqlite_utils.Database, User, Course, Lesson, Event, float], Completion | None
]
_handlers: dict[tuple[str, str], EventHandler] = {}
# The lesson kinds that keep drafts, each with its own handler for "draft" events.
DRAFT_KINDS = frozenset({"workbook", "written"})


def handle_events(event_type: str, handler: EventHandler, kind: str = "") -> None:
    """Have ``handler`` apply every new event of this type (on lessons of ``kind`` only,
    when given), in the event's transaction."""
    if event_type not in HANDLED_ELSEWHERE:
        raise ValueError(f"progress applies {event_type!r} events itself")
    _handlers[(event_type, kind)] = handler


def _handler(event_type: str, kind: str) -> EventHandler:
    try:
        return _handlers.get((event_type, kind)) or _handlers[(event_type, "")]
    except KeyError:
        # Storing the event without its content would lose a learner's words quietly.
        raise LookupError(f"no module handles {event_type!r} events") from None


def record_client_events(
    database: Database, settings: Settings, user: User, raw_events: Any
) -> Outcome:
    """Store a batch from the JSON endpoint; each event is accepted, a duplicate, or
    rejected with a reason. One transaction for the batch."""
    if not isinstance(raw_events, list) or len(raw_events) > MAX_EVENTS_PER_POST:
        raise ValidationError(f"'events' must be a list of at most {MAX_EVENTS_PER_POST}")
    outcome = Outcome()
    parsed: list[Event] = []
    for index, raw in enumerate(raw_events):
        try:
            parsed.append(parse_event(raw))
        except ValidationError as exc:
            outcome.rejected[_label(raw, index)] = exc.message
    courses = {c.course_id: c for c in visible_courses(database, settings, user)}
    lessons: dict[int, list[Lesson]] = {}
    with database.write() as db:
        for event in parsed:
            course = courses.get(event.course_id)
            if course is None:
                outcome.rejected[event.event_id] = "this course is not available"
                continue
            if course.version_id not in lessons:
                lessons[course.version_id] = lessons_of(database, course.version_id)
            lesson = next(
                (x for x in lessons[course.version_id] if x.key == event.lesson_key), None
            )
            if lesson is None:
                outcome.rejected[event.event_id] = "this lesson is not in the course"
                continue
            try:
                fresh = record_in(db, settings, user, course, lesson, event)
            except ValidationError as exc:
                outcome.rejected[event.event_id] = exc.message
                continue
            (outcome.accepted if fresh else outcome.duplicates).append(event.event_id)
            state = lesson_state_in(db, user.id, course.course_id, lesson.key)
            outcome.lessons[f"{course.course_id}/{lesson.key}"] = state.as_json()
            code = certificates.code_for_in(db, user.id, course.course_id)
            if code and code not in outcome.certificates and fresh:
                outcome.certificates.append(code)
    return outcome


def record(
    database: Database,
    settings: Settings,
    user: User,
    course: Course,
    lesson: Lesson,
    event: Event,
) -> bool:
    """`record_in` in a transaction of its own."""
    with database.write() as db:
        return record_in(db, settings, user, course, lesson, event)


def opening_counts(database: Database, user_id: int, course_id: str, lesson_key: str) -> bool:
    """Whether opening this lesson now is an event worth writing: not when the learner
    started it already and did anything within the last `REOPEN_QUIET_SECONDS` (the time
    is credited with their next event anyway)."""
    row = database.query_one(
        "SELECT (SELECT 1 FROM lesson_progress WHERE user_id = :u AND course_id = :c"
        " AND lesson_key = :k) AS started,"
        " (SELECT last_event_at FROM activity WHERE user_id = :u) AS last",
        {"u": user_id, "c": course_id, "k": lesson_key},
    )
    if row is None or row["started"] is None or row["last"] is None:
        return True
    return clock.now() - float(row["last"]) >= REOPEN_QUIET_SECONDS


def record_in(
    db: sqlite_utils.Database,
    settings: Settings,
    user: User,
    course: Course,
    lesson: Lesson,
    event: Event,
) -> bool:
    """Store one event and apply it, inside the caller's write transaction.

    Returns False if the event was already stored (nothing is applied twice). An event
    refused while it is applied (a handler's ValidationError) leaves nothing behind: the
    rest of the caller's batch goes on."""
    db.execute("SAVEPOINT record_event")
    try:
        fresh = _record_in(db, settings, user, course, lesson, event)
    except ValidationError:
        db.execute("ROLLBACK TO record_event")
        db.execute("RELEASE record_event")
        raise
    db.execute("RELEASE record_event")
    return fresh


def _record_in(
    db: sqlite_utils.Database,
    settings: Settings,
    user: User,
    course: Course,
    lesson: Lesson,
    event: Event,
) -> bool:
    _check_allowed(lesson, event)
    now = clock.now()
    stored_data = {k: v for k, v in event.data.items() if k != "answers"}
    cursor = db.execute(
        "INSERT OR IGNORE INTO progress_events (user_id, event_id, type, course_id, lesson_key,"
        " version_id, position, data, client_time, received_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            user.id,
            event.event_id,
            event.type,
            course.course_id,
            lesson.key,
            course.version_id,
            event.position,
            json.dumps(stored_data, sort_keys=True),
            event.client_time,
            clock.iso(now),
        ],
    )
    if cursor.rowcount == 0:
        return False
    credit = _credit(db, user.id, event, now)
    if credit:
        db.execute(
            "UPDATE progress_events SET credited_seconds = ? WHERE id = ?",
            [credit, cursor.lastrowid],
        )
        db.execute(
            "INSERT INTO weekly_time (user_id, week, seconds) VALUES (?, ?, ?)"
            " ON CONFLICT (user_id, week) DO UPDATE SET seconds = seconds + excluded.seconds",
            [user.id, week_of(now), credit],
        )
    _ensure_row(db, user.id, course.course_id, lesson.key, now)
    _apply(db, settings, user, course, lesson, event, now, credit)
    return True


def _check_allowed(lesson: Lesson, event: Event) -> None:
    if event.type == "completed":
        transcript = event.data.get("method") == "transcript"
        if not (lesson.kind in DONE_BY_LEARNER or (lesson.kind in MEDIA_KINDS and transcript)):
            raise ValidationError(
                "a quiz is completed by passing it, a workbook by submitting it and a"
                " written task by sending it (or passing it, when the course requires it)"
            )
    if event.type == "draft" and lesson.kind not in DRAFT_KINDS:
        raise ValidationError("only a workbook or a written task has drafts")
    if event.type in {"scorm", "h5p"} and lesson.kind != event.type:
        raise ValidationError(f"only a {event.type} lesson sends {event.type} events")


def _credit(db: sqlite_utils.Database, user_id: int, event: Event, now: float) -> float:
    row = db.execute(
        "SELECT last_event_at, credited_until FROM activity WHERE user_id = ?", [user_id]
    ).fetchone()
    if row is None:
        db.execute(
            "INSERT INTO activity (user_id, last_event_at, credited_until) VALUES (?, ?, ?)",
            [user_id, now, now],
        )
        return 0.0
    last, until = float(row[0]), max(float(row[1]), now - BACKLOG)
    if event.type == "heartbeat" or event.seconds is not None:
        claimed = min(event.seconds or 0.0, HEARTBEAT_MAX)
    else:
        claimed = min(max(now - last, 0.0), PAGE_MAX)
    credit = max(0.0, min(claimed, now - until))
    db.execute(
        "UPDATE activity SET last_event_at = ?, credited_until = ? WHERE user_id = ?",
        [now, until + credit, user_id],
    )
    return round(credit, 1)


def _ensure_row(
    db: sqlite_utils.Database, user_id: int, course_id: str, lesson_key: str, now: float
) -> None:
    db.execute(
        "INSERT OR IGNORE INTO lesson_progress (user_id, course_id, lesson_key, started_at,"
        " updated_at) VALUES (?, ?, ?, ?, ?)",
        [user_id, course_id, lesson_key, clock.iso(now), clock.iso(now)],
    )


def _apply(
    db: sqlite_utils.Database,
    settings: Settings,
    user: User,
    course: Course,
    lesson: Lesson,
    event: Event,
    now: float,
    credit: float,
) -> None:
    key = [user.id, course.course_id, lesson.key]
    db.execute(
        "UPDATE lesson_progress SET seconds_spent = seconds_spent + ?, updated_at = ?"
        " WHERE user_id = ? AND course_id = ? AND lesson_key = ?",
        [credit, clock.iso(now), *key],
    )
    if event.type in {"progressed", "started"} and event.position is not None:
        if _progressed(db, lesson, event, key):
            complete_in(db, settings, user, course, lesson.key, now)
    elif event.type == "completed":
        complete_in(db, settings, user, course, lesson.key, now)
    elif event.type in HANDLED_ELSEWHERE:
        completion = _handler(event.type, lesson.kind)(db, user, course, lesson, event, now)
        if completion is not None:
            complete_in(db, settings, user, course, lesson.key, now, *completion)


def _progressed(db: sqlite_utils.Database, lesson: Lesson, event: Event, key: list[Any]) -> bool:
    """Store position and played ranges; True when a video or audio lesson is now done."""
    row = db.execute(
        "SELECT duration, watched, position_at FROM lesson_progress"
        " WHERE user_id = ? AND course_id = ? AND lesson_key = ?",
        key,
    ).fetchone()
    duration = event.duration or float(row[0])
    # Played ranges only grow, in any order; the place to resume is the newest one. Two
    # batches in flight at once can be answered out of order, and an older place must not
    # win (an event without a time, from an older page, still counts as new).
    watched = merge_ranges([*map(tuple, json.loads(row[1])), *event.watched])
    db.execute(
        "UPDATE lesson_progress SET duration = ?, watched = ?"
        " WHERE user_id = ? AND course_id = ? AND lesson_key = ?",
        [duration, json.dumps(watched), *key],
    )
    if row[2] is None or event.client_time is None or event.client_time >= row[2]:
        db.execute(
            "UPDATE lesson_progress SET position = ?, position_at = ?"
            " WHERE user_id = ? AND course_id = ? AND lesson_key = ?",
            [event.position, event.client_time, *key],
        )
    return lesson.kind in MEDIA_KINDS and covered(watched, duration) >= COMPLETE_FRACTION


def complete_in(
    db: sqlite_utils.Database,
    settings: Settings,
    user: User,
    course: Course,
    lesson_key: str,
    now: float,
    score: float | None = None,
    passed: bool | None = None,
) -> None:
    """Mark a lesson done (and issue the course certificate when it was the last one)."""
    _ensure_row(db, user.id, course.course_id, lesson_key, now)
    db.execute(
        "UPDATE lesson_progress SET status = 'done', completed_at = coalesce(completed_at, ?),"
        " score = coalesce(?, score), passed = coalesce(?, passed), updated_at = ?"
        " WHERE user_id = ? AND course_id = ? AND lesson_key = ?",
        [clock.iso(now), score, passed, clock.iso(now), user.id, course.course_id, lesson_key],
    )
    certificates.issue_if_complete_in(db, settings, user, course)


def lesson_state_in(
    db: sqlite_utils.Database | Database, user_id: int, course_id: str, lesson_key: str
) -> LessonState:
    states = _states(db, user_id, course_id)
    return states.get(lesson_key, LessonState(lesson_key))


def _states(
    db: sqlite_utils.Database | Database, user_id: int, course_id: str
) -> dict[str, LessonState]:
    sql = (
        "SELECT lesson_key, status, position, duration, watched, seconds_spent, score, passed,"
        " completed_at, updated_at FROM lesson_progress WHERE user_id = ? AND course_id = ?"
    )
    rows = (
        db.query(sql, [user_id, course_id])
        if isinstance(db, Database)
        else db.execute(sql, [user_id, course_id]).fetchall()
    )
    states = {}
    for row in rows:
        ranges = [tuple(pair) for pair in json.loads(row[4])]
        states[row[0]] = LessonState(
            key=row[0],
            status=row[1],
            position=row[2],
            duration=row[3],
            watched_fraction=covered(ranges, row[3]),
            seconds_spent=row[5],
            score=row[6],
            passed=None if row[7] is None else bool(row[7]),
            completed_at=row[8],
            updated_at=row[9],
        )
    return states


def course_progress(
    database: Database, user_id: int, course_id: str, lessons: list[Lesson]
) -> CourseProgress:
    """Progress on the lessons of the course's current version (by stable key)."""
    found = _states(database, user_id, course_id)
    states = {lesson.key: found.get(lesson.key, LessonState(lesson.key)) for lesson in lessons}
    done = sum(1 for s in states.values() if s.status == "done")
    upcoming = next((x for x in lessons if states[x.key].status != "done"), None)
    return CourseProgress(
        lessons=states,
        total=len(lessons),
        done=done,
        seconds_spent=sum(s.seconds_spent for s in found.values()),
        next_lesson=upcoming,
    )


def progress_by_course(database: Database, user_id: int) -> dict[str, tuple[int, float]]:
    """course id → (lessons done, seconds spent), for catalog cards."""
    rows = database.query(
        "SELECT course_id, sum(status = 'done') AS done, sum(seconds_spent) AS seconds"
        " FROM lesson_progress WHERE user_id = ? GROUP BY course_id",
        [user_id],
    )
    return {row["course_id"]: (int(row["done"]), float(row["seconds"])) for row in rows}


def quiz_scores(database: Database, user_id: int) -> dict[str, float]:
    """course id → the mean of the learner's best score (percent) on each quiz they
    finished in it, for the Learning Passport; courses without a scored quiz are absent."""
    rows = database.query(
        "SELECT course_id, avg(score) AS score FROM lesson_progress"
        " WHERE user_id = ? AND score IS NOT NULL GROUP BY course_id",
        [user_id],
    )
    return {row["course_id"]: round(float(row["score"]), 1) for row in rows}


@dataclass(frozen=True)
class Resume:
    course: Course
    lesson: Lesson
    position: float


def resume_point(
    database: Database, settings: Settings, user: User, visible: Sequence[Course] | None = None
) -> Resume | None:
    """Where the learner left off: the lesson they touched last, or if that is done, the
    next lesson of that course not done yet. `visible` is `visible_courses` of this user
    when the caller has just read it (the home page), so it is not read twice."""
    if visible is None:
        visible = visible_courses(database, settings, user)
    courses = {c.course_id: c for c in visible}
    rows = database.query(
        "SELECT course_id, lesson_key, status, position FROM lesson_progress"
        " WHERE user_id = ? ORDER BY updated_at DESC, rowid DESC LIMIT 20",
        [user.id],
    )
    for row in rows:
        course = courses.get(row["course_id"])
        if course is None:
            continue
        lessons = lessons_of(database, course.version_id)
        current = next((x for x in lessons if x.key == row["lesson_key"]), None)
        if current is not None and row["status"] != "done":
            return Resume(course, current, float(row["position"]))
        upcoming = course_progress(database, user.id, course.course_id, lessons).next_lesson
        if upcoming is not None:
            state = lesson_state_in(database, user.id, course.course_id, upcoming.key)
            return Resume(course, upcoming, state.position)
    return None
