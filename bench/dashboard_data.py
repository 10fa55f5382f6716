"""Facility-scale data for the dashboard benchmark, written straight into a Stepstone database.

`generate(settings, scale)` fills a database made by `server.cli.main.initialize` with one
publisher, `scale.courses` live courses, learners in groups with their educators,
assignments, and `scale.events` progress events over the last `scale.days` days, with the
rows the app derives from events (lesson progress, weekly time, quiz attempts, workbook
entries and answers, certificates, enrolments, activity) consistent with them:

* every lesson a learner touched has a `lesson_progress` row whose `seconds_spent`,
  `started_at`, `updated_at` and status agree with that lesson's events;
* `weekly_time` sums `credited_seconds` per learner and ISO week, credits bounded the way
  `server.learning.progress` bounds them (60 s a heartbeat, 10 minutes a page, never ahead of the
  clock);
* a certificate exists exactly when every lesson of the live version is done.

It does not replay the events through `server.learning.progress` (two million trips through the
app's write path would take far longer than the benchmark): the point is table sizes and
distributions the dashboard queries meet in a real facility. A few learners do most of
the work (log-normal activity), a few courses are taken by most learners (assigned ones,
then a Zipf-like popularity), and events are inserted in time order, so one learner's
rows are spread over the table as they would be after a year of use. The random
generator is seeded: the same scale gives the same data.
"""

from __future__ import annotations

import itertools
import json
import math
import random
import sqlite3
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

from server.core.clock import iso
from server.core.db import connect
from server.core.settings import Settings
from server.learning import certificates
from server.learning.progress import BACKLOG, HEARTBEAT_MAX, PAGE_MAX, week_of
from server.learning.visibility import CATEGORIES
from server.people import passwords

STAFF_PASSWORD = "bench dashboards 2026"  # noqa: S105 - the bench accounts' password
LEARNER_PIN = "582046"
DAY = 86_400.0
HEARTBEAT = 60.0  # seconds between a tablet's heartbeats
BATCH = 200_000


# Goes up whenever the generated data changes, so that cached copies are built again.
GENERATOR_VERSION = 3


@dataclass(frozen=True)
class Scale:
    """How big the facility is. The defaults are the issue's: 3,000 learners, 300
    courses, 2 million progress events over 12 months."""

    learners: int = 3000
    courses: int = 300
    groups: int = 100
    educators: int = 20
    events: int = 2_000_000
    days: int = 365
    seed: int = 2026


# ---- The catalog ------------------------------------------------------------------------


@dataclass
class LessonPlan:
    key: str
    title: str
    kind: str  # reading | video | audio | pdf | quiz | workbook
    questions: int = 0
    immediate: bool = False
    assessment: str | None = None  # pre | post
    prompts: tuple[tuple[str, str, str], ...] = ()  # (key, type, visibility)

    @property
    def pass_mark(self) -> float:
        return 0.0 if self.assessment else 70.0


@dataclass
class CoursePlan:
    index: int
    pk: int
    course_id: str
    version_id: int
    title: str
    category: str
    hours: float
    credits: float
    lessons: list[LessonPlan]
    popularity: float


TOPICS = {
    "education": (
        "Reading for Meaning",
        "GED Math",
        "GED Science",
        "GED Social Studies",
        "Writing Clear Sentences",
        "Fractions and Decimals",
        "Algebra Basics",
        "Computer Basics",
        "English for Daily Life",
        "Study Skills",
    ),
    "vocational": (
        "Forklift Safety",
        "Welding Basics",
        "Kitchen Skills",
        "Barbering Theory",
        "Electrical Basics",
        "Plumbing Basics",
        "Carpentry",
        "Heating and Cooling",
        "Small Engine Repair",
        "Landscaping",
    ),
    "cbt": (
        "Thinking Traps",
        "Managing Anger",
        "Coping with Stress",
        "Solving Problems",
        "Healthy Relationships",
        "Sleep and Mood",
    ),
    "job-skills": (
        "Writing a Resume",
        "Job Interviews",
        "Talking at Work",
        "Customer Service",
        "Managing Money",
        "Digital Job Search",
    ),
    "reentry": (
        "Finding Housing",
        "Getting Your ID",
        "Parole Basics",
        "Budget After Release",
        "Family and Home",
        "Health Care on the Outside",
    ),
    "substance-use": (
        "Understanding Addiction",
        "Preventing Relapse",
        "Finding Support",
        "Triggers and Cravings",
    ),
}


def _split(text: str) -> tuple[str, ...]:
    return tuple(text.split())


WORDS = _split(
    "safety work plan money skill home family goal step practice team check write read "
    "tools number budget choice feeling thought habit support rule answer example lesson "
    "review partner record measure notice change talk listen"
)
FIRST_NAMES = _split(
    "James Robert Michael David William Richard Joseph Thomas Charles Christopher Daniel "
    "Matthew Anthony Mark Steven Andrew Joshua Kevin Brian Jose Luis Carlos Juan Miguel "
    "Jorge Pedro Mary Patricia Jennifer Linda Maria Ana Rosa Angela Tanya Keisha Darnell "
    "Tyrone Andre Marcus Terrell DeShawn Malik Jamal Hector Ramon Victor Manuel Raul"
)
LAST_NAMES = _split(
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez "
    "Lopez Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson "
    "White Harris Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright "
    "Scott Torres Nguyen Hill Flores Green Adams Nelson Baker Hall Rivera Campbell"
)


def _sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + "."


def _lesson_plans(rng: random.Random, category: str, pre_post: bool) -> list[LessonPlan]:
    count = rng.randint(8, 15)
    kinds: list[str] = []
    for position in range(count):
        if position % 4 == 3:
            kinds.append("quiz")
        elif category in {"cbt", "substance-use", "reentry"} and rng.random() < 0.25:
            kinds.append("workbook")
        else:
            kinds.append(rng.choices(("reading", "video", "audio", "pdf"), (50, 30, 5, 15))[0])
    if pre_post:
        kinds[0], kinds[-1] = "quiz", "quiz"
    plans = []
    for position, kind in enumerate(kinds):
        plan = LessonPlan(f"lesson-{position + 1:02d}", f"{position + 1}. {_title(rng)}", kind)
        if kind == "quiz":
            plan.questions = rng.randint(4, 10)
            plan.immediate = rng.random() < 0.5
            if pre_post and position in (0, count - 1):
                plan.assessment = "pre" if position == 0 else "post"
                plan.immediate = False
        elif kind == "workbook":
            plan.prompts = tuple(
                (
                    f"p{n + 1}",
                    rng.choice(("text", "text", "scale", "checklist")),
                    rng.choice(("private", "educator")),
                )
                for n in range(rng.randint(2, 4))
            )
        plans.append(plan)
    return plans


def _title(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 4))).capitalize()


def _lesson_data(rng: random.Random, plan: LessonPlan) -> dict[str, Any]:
    """A lesson's `data` as the importer stores it: the manifest entry without `html`."""
    data: dict[str, Any] = {
        "key": plan.key,
        "title": plan.title,
        "kind": plan.kind,
        "summary": _sentence(rng, 12),
        "estimated_minutes": rng.choice((5, 10, 15, 20, 30)),
        "sections": [
            {"anchor": "", "heading": plan.title, "text": _sentence(rng, 180)},
            {"anchor": "practice", "heading": "Practice", "text": _sentence(rng, 120)},
        ],
    }
    if plan.kind == "quiz":
        quiz: dict[str, Any] = {
            "pass_mark": plan.pass_mark,
            "feedback": "immediate" if plan.immediate else "on-submit",
            "questions": [
                {
                    "key": f"q{n + 1}",
                    "type": "single",
                    "prompt": _sentence(rng, 10),
                    "choices": [
                        {"text": _title(rng), "correct": True},
                        {"text": _title(rng), "feedback": _sentence(rng, 8)},
                        {"text": _title(rng)},
                    ],
                    "explanation": _sentence(rng, 12),
                }
                for n in range(plan.questions)
            ],
        }
        if plan.assessment:
            quiz["assessment"] = plan.assessment
        data["quiz"] = quiz
    if plan.kind == "workbook":
        prompts = []
        for key, kind, visibility in plan.prompts:
            prompt: dict[str, Any] = {
                "key": key,
                "type": kind,
                "prompt": _sentence(rng, 8),
                "visibility": visibility,
            }
            if kind == "checklist":
                prompt["options"] = ["Breathing", "Talking to someone", "Walking away"]
            prompts.append(prompt)
        data["workbook"] = {"prompts": prompts}
    if plan.kind in {"video", "audio"}:
        data["media"] = f"media/{plan.key}.{'webm' if plan.kind == 'video' else 'ogg'}"
    return data


# ---- Learners' histories ----------------------------------------------------------------


@dataclass
class Attempt:
    """One quiz attempt. Its times and id are set once the learner's events have times."""

    score: float | None  # None: opened and left without submitting
    passed: bool | None
    answers: dict[str, int]
    checked: list[str]
    started: float = math.inf
    submitted: float | None = None
    id: int = 0


@dataclass
class Touch:
    """One learner × one lesson they opened."""

    course: CoursePlan
    lesson: LessonPlan
    done: bool
    transcript: bool = False
    attempts: list[Attempt] = field(default_factory=list)
    drafts: int = 0
    fillers: int = 0  # heartbeats, or "progressed" events on video and audio
    weight: float = 1.0
    duration: float = 0.0  # of the video or audio

    @property
    def media(self) -> bool:
        return self.lesson.kind in {"video", "audio"}

    def structural_events(self) -> int:
        """Events other than fillers: opening, quiz answers and results, drafts, finishing."""
        count = 1 + self.drafts
        if self.done and self.lesson.kind != "quiz":
            count += 1
        for attempt in self.attempts:
            if attempt.score is not None:
                count += 1 + len(attempt.checked)
        return count


@dataclass
class CourseRun:
    course: CoursePlan
    touches: list[Touch]
    enrolled: bool  # chose it themselves (not assigned)


@dataclass
class Learner:
    id: int
    facility_id: str
    name: str
    activity: float  # 0: never used a tablet yet
    ability: float  # chance of answering a question right
    window: tuple[float, float]  # arrived (or the year began), left (or now)
    educator_id: int
    runs: list[CourseRun] = field(default_factory=list)


def _attempt(rng: random.Random, lesson: LessonPlan, skill: float, passing: bool | None) -> Attempt:
    """A graded attempt; `passing` forces the side of the pass mark it lands on."""
    questions = lesson.questions
    right = sum(rng.random() < skill for _ in range(questions))
    needed = math.ceil(lesson.pass_mark * questions / 100)
    if passing is True:
        right = max(right, needed)
    elif passing is False:
        right = min(right, needed - 1)
    score = round(100 * right / questions, 1)
    # The first `right` questions were answered with the correct (first) choice.
    answers = {f"q{n + 1}": 0 if n < right else rng.choice((1, 2)) for n in range(questions)}
    checked = sorted(answers) if lesson.immediate else []
    return Attempt(score, score >= lesson.pass_mark, answers, checked)


def _quiz_attempts(rng: random.Random, touch: Touch, ability: float) -> None:
    lesson = touch.lesson
    if lesson.assessment:  # pass mark 0: one try, and it completes the lesson
        skill = ability - 0.15 if lesson.assessment == "pre" else ability + 0.1
        touch.attempts.append(_attempt(rng, lesson, min(skill, 0.98), None))
        return
    failures = min(3, int(rng.expovariate(1.6))) if touch.done else rng.choice((0, 1, 1, 2))
    touch.attempts.extend(_attempt(rng, lesson, ability, False) for _ in range(failures))
    if touch.done:
        touch.attempts.append(_attempt(rng, lesson, ability, True))
    elif rng.random() < 0.5:
        touch.attempts.append(Attempt(None, None, {}, []))


KIND_WEIGHT = {"video": 2.0, "audio": 1.5, "reading": 1.0, "pdf": 0.8, "quiz": 0.5, "workbook": 1.5}


def _course_run(
    rng: random.Random, learner: Learner, course: CoursePlan, enrolled: bool
) -> CourseRun:
    """How far a learner gets in a course: active learners finish more often."""
    lessons = course.lessons
    finish = rng.random() < min(0.8, 0.2 + 0.2 * learner.activity)
    reached = len(lessons) if finish else rng.randint(1, len(lessons) - 1)
    touches = []
    for position, lesson in enumerate(lessons[:reached]):
        done = finish or position < reached - 1 or rng.random() < 0.3
        if lesson.assessment:
            done = True
        touch = Touch(course, lesson, done)
        if lesson.kind == "quiz":
            _quiz_attempts(rng, touch, learner.ability)
        elif lesson.kind == "workbook":
            touch.drafts = rng.randint(1, 4)
        elif touch.media:
            touch.transcript = done and rng.random() < 0.1
            touch.duration = 60.0 * rng.randint(3, 25)
        touch.weight = learner.activity * KIND_WEIGHT[lesson.kind] * (1.0 if done else 0.6)
        touches.append(touch)
    return CourseRun(course, touches, enrolled)


def _allocate(touches: Sequence[Touch], total: int) -> None:
    """Share `total` filler events among touches by weight, exactly (largest remainder)."""
    weights = sum(t.weight for t in touches)
    shares = [total * t.weight / weights for t in touches]
    for touch, share in zip(touches, shares, strict=True):
        touch.fillers = int(share)
    left = total - sum(t.fillers for t in touches)
    by_remainder = sorted(range(len(touches)), key=lambda i: shares[i] - int(shares[i]))
    for i in by_remainder[len(by_remainder) - left :]:
        touches[i].fillers += 1


# One event of a learner: (time, type, touch index, position, data). The time is an offset
# until the course run is placed in the learner's months at the facility.
Pending = tuple[float, str, int, float | None, Any]


def _touch_events(rng: random.Random, index: int, touch: Touch) -> list[Pending]:
    """A lesson's events as offsets from when the learner opened it: sittings of
    heartbeats a minute apart (some other day), quiz answers, then what finished it."""
    lesson, at, duration = touch.lesson, 0.0, touch.duration
    events: list[Pending] = [(at, "started", index, 0.0 if touch.media else None, None)]
    total = touch.fillers + touch.drafts
    drafts = set(rng.sample(range(total), touch.drafts))
    sitting = rng.randint(10, 40)
    for n in range(total):
        at += HEARTBEAT + rng.random() * 4
        if n and n % sitting == 0:
            at += rng.uniform(4, 48) * 3600
        if n in drafts:
            events.append((at, "draft", index, None, None))
        elif touch.media:
            # Below 90 % played it is not done: the server would have completed it.
            position = duration * min(0.85, (n + 1) / (total + 1))
            events.append((at, "progressed", index, round(position, 1), None))
        else:
            events.append((at, "heartbeat", index, None, None))
    for attempt in touch.attempts:
        at += 30
        if attempt.score is None:
            continue
        for key in attempt.checked:
            at += rng.uniform(15, 60)
            events.append((at, "answered", index, None, ("answered", attempt, key)))
        at += rng.uniform(30, 300)
        kind = "passed" if attempt.passed else "failed"
        events.append((at, kind, index, None, ("score", attempt)))
    at += 30
    if touch.done and lesson.kind == "workbook":
        events.append((at, "submitted", index, None, None))
    elif touch.done and lesson.kind in {"reading", "pdf"}:
        events.append((at, "completed", index, None, None))
    elif touch.done and touch.media and touch.transcript:
        events.append((at, "completed", index, None, ("transcript",)))
    elif touch.done and touch.media:
        events.append((at, "progressed", index, duration, None))
    return events


# ---- Writing ----------------------------------------------------------------------------


class WeekOf:
    """`server.learning.progress.week_of`, cached per day (two million calls would cost seconds)."""

    def __init__(self) -> None:
        self._days: dict[int, str] = {}

    def __call__(self, moment: float) -> str:
        day = int(moment // DAY)
        week = self._days.get(day)
        if week is None:
            week = self._days[day] = week_of(day * DAY)
        return week


CLIENT_TYPES = frozenset({"started", "progressed", "completed", "heartbeat", "draft"})
FILLER_TYPES = frozenset({"heartbeat", "progressed"})


def _event_data(data: Any) -> str:
    if data is None:
        return "{}"
    if data[0] == "score":
        return json.dumps({"attempt": data[1].id, "score": data[1].score}, sort_keys=True)
    if data[0] == "answered":
        attempt, key = data[1], data[2]
        correct = attempt.answers[key] == 0
        return json.dumps(
            {"attempt": attempt.id, "correct": correct, "question": key}, sort_keys=True
        )
    return '{"method": "transcript"}'


def _answer(rng: random.Random, kind: str) -> Any:
    if kind == "scale":
        return rng.randint(0, 10)
    if kind == "checklist":
        return ["Breathing", "Talking to someone"][: rng.randint(1, 2)]
    return _sentence(rng, rng.randint(8, 60))


@contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
    conn.execute("BEGIN")
    try:
        yield
    except BaseException:
        conn.rollback()
        raise
    else:
        conn.commit()


def _insert(conn: sqlite3.Connection, sql: str, rows: Iterable[Sequence[Any]]) -> None:
    """executemany in transactions of BATCH rows."""
    iterator = iter(rows)
    while batch := list(itertools.islice(iterator, BATCH)):
        with _transaction(conn):
            conn.executemany(sql, batch)


@dataclass
class Rows:
    """Derived rows waiting to be written, table by table."""

    lesson_progress: list[tuple[Any, ...]] = field(default_factory=list)
    weekly_time: list[tuple[Any, ...]] = field(default_factory=list)
    quiz_attempts: list[tuple[Any, ...]] = field(default_factory=list)
    workbook_entries: list[tuple[Any, ...]] = field(default_factory=list)
    workbook_answers: list[tuple[Any, ...]] = field(default_factory=list)
    certificates: list[tuple[Any, ...]] = field(default_factory=list)
    enrolments: list[tuple[Any, ...]] = field(default_factory=list)
    activity: list[tuple[Any, ...]] = field(default_factory=list)
    # (time, user id, type, course id, lesson key, version id, position, data, credit)
    events: list[tuple[Any, ...]] = field(default_factory=list)


class Generator:
    """Builds one facility's year in memory and writes it, table by table."""

    def __init__(self, settings: Settings, scale: Scale) -> None:
        self.settings = settings
        self.scale = scale
        self.rng = random.Random(scale.seed)
        self.now = time.time()
        self.start = self.now - scale.days * DAY
        self.week_of = WeekOf()
        self.rows = Rows()
        self.courses: list[CoursePlan] = []
        self.learners: list[Learner] = []
        self.members: dict[int, list[int]] = defaultdict(list)  # group id -> learner ids
        self.first_group: dict[int, int] = {}  # learner id -> group id
        self.group_educator: dict[int, int] = {}
        self.housing: set[int] = set()
        self.assigned: dict[int, set[int]] = defaultdict(set)  # learner id -> course indexes
        self.attempt_ids = itertools.count(1)
        self.entry_ids = itertools.count(1)

    # -- catalog --------------------------------------------------------------------------

    def catalog(self, conn: sqlite3.Connection) -> None:
        rng, created = self.rng, iso(self.start - 30 * DAY)
        conn.execute(
            "INSERT INTO publishers (id, name, display_name, namespace, trusted_root,"
            " auto_publish, demo, created_at) VALUES (1, 'bench-ngo', ?, 'org.bench', ?, 0, 0, ?)",
            [PUBLISHER, b'{"signed": {}, "signatures": []}', created],
        )
        version_ids = itertools.count(1)
        lessons: list[tuple[Any, ...]] = []
        for index in range(self.scale.courses):
            category = CATEGORIES[index % len(CATEGORIES)]
            topics = TOPICS[category]
            turn = index // len(CATEGORIES)
            title = f"{topics[turn % len(topics)]}, unit {turn // len(topics) + 1}"
            course_id = f"org.bench.{category}.c{index + 1:03d}"
            conn.execute(
                "INSERT INTO courses (id, course_id, publisher_id, high_water_version)"
                " VALUES (?, ?, 1, 1)",
                [index + 1, course_id],
            )
            plans = _lesson_plans(rng, category, pre_post=rng.random() < 0.2)
            course = CoursePlan(
                index,
                index + 1,
                course_id,
                0,
                title,
                category,
                round(sum(0.4 if p.kind == "quiz" else 0.6 for p in plans), 1),
                rng.choice((0.0, 0.0, 0.5, 1.0)),
                plans,
                popularity=1 / (index + 8) ** 1.1,
            )
            versions = 2 if rng.random() < 0.2 else 1  # some courses replaced an old version
            for number in range(1, versions + 1):
                course.version_id = next(version_ids)
                lessons.extend(self._version(conn, course, number, number == versions, created))
            conn.execute(
                "UPDATE courses SET live_version_id = ?, high_water_version = ? WHERE id = ?",
                [course.version_id, versions, course.pk],
            )
            self.courses.append(course)
        conn.executemany(
            "INSERT INTO lessons (version_id, key, position, title, kind, html_sha256, data)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            lessons,
        )
        # The popular courses are spread over categories, not the first ids.
        weights = [c.popularity for c in self.courses]
        rng.shuffle(weights)
        for course, weight in zip(self.courses, weights, strict=True):
            course.popularity = weight

    def _version(
        self, conn: sqlite3.Connection, course: CoursePlan, number: int, live: bool, created: str
    ) -> list[tuple[Any, ...]]:
        rng = self.rng
        entries = [_lesson_data(rng, plan) for plan in course.lessons]
        about = {
            "id": course.course_id,
            "version": number,
            "title": course.title,
            "summary": _sentence(rng, 20),
            "category": course.category,
            "language": "es" if course.index % 7 == 0 else "en",
            "level": rng.choice(("beginner", "intermediate", "advanced")),
            "estimated_hours": course.hours,
            "license": "CC-BY-4.0",
            "credits": course.credits,
            "authors": [PUBLISHER],
            "keywords": rng.sample(WORDS, 3),
        }
        manifest = {"format": 1, "course": about, "lessons": entries}
        conn.execute(
            "INSERT INTO course_versions (id, course_pk, version, status, title, summary,"
            " category, language, level, estimated_hours, credits, license, manifest,"
            " package_sha256, imported_at, reviewed_at, reviewed_by)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                course.version_id,
                course.pk,
                number,
                "approved" if live else "retired",
                *(about[k] for k in ("title", "summary", "category", "language", "level")),
                *(about[k] for k in ("estimated_hours", "credits", "license")),
                json.dumps(manifest, sort_keys=True),
                f"{rng.getrandbits(256):064x}",
                created,
                created,
                ADMIN,
            ],
        )
        rows = []
        for position, (plan, entry) in enumerate(zip(course.lessons, entries, strict=True)):
            data = {k: v for k, v in entry.items() if k not in {"key", "title", "kind"}}
            rows.append(
                (
                    course.version_id,
                    plan.key,
                    position,
                    plan.title,
                    plan.kind,
                    f"{rng.getrandbits(256):064x}",
                    json.dumps(data, sort_keys=True),
                )
            )
        return rows

    # -- people, groups, assignments ------------------------------------------------------

    def people(self, conn: sqlite3.Connection) -> None:
        rng, created = self.rng, iso(self.start - 60 * DAY)
        staff_hash = passwords.hash_secret(STAFF_PASSWORD)
        staff = [("admin", ADMIN, "Facility Admin")] + [
            ("educator", educator_login(n), self._name()) for n in range(self.scale.educators)
        ]
        conn.executemany(
            "INSERT INTO users (role, username, display_name, secret_hash, must_change_secret,"
            " created_at, updated_at) VALUES (?, ?, ?, ?, 0, ?, ?)",
            [(role, login, name, staff_hash, created, created) for role, login, name in staff],
        )
        educators = [
            r[0] for r in conn.execute("SELECT id FROM users WHERE role = 'educator' ORDER BY id")
        ]
        pin_hash = passwords.hash_secret(LEARNER_PIN)
        first_id = len(staff) + 1
        learners = [
            (
                first_id + n,
                f"A{100000 + 7 * n:06d}",
                self._name(),
                "es" if rng.random() < 0.15 else "en",
                pin_hash,
                created,
                created,
            )
            for n in range(self.scale.learners)
        ]
        conn.executemany(
            "INSERT INTO users (id, role, facility_id, display_name, language, secret_hash,"
            " must_change_secret, created_at, updated_at)"
            " VALUES (?, 'learner', ?, ?, ?, ?, 0, ?, ?)",
            learners,
        )
        self._groups(conn, educators, [row[0] for row in learners])
        for user_id, facility_id, name, *_ in learners:
            # Most were here all year; some arrived during it, and some have left.
            days = self.scale.days if rng.random() < 0.6 else rng.uniform(30, self.scale.days)
            arrived = self.now - days * DAY
            left = self.now if rng.random() < 0.85 else rng.uniform(arrived + 20 * DAY, self.now)
            self.learners.append(
                Learner(
                    user_id,
                    facility_id,
                    name,
                    activity=0.0 if rng.random() < 0.08 else rng.lognormvariate(0, 0.8),
                    ability=rng.uniform(0.45, 0.95),
                    window=(arrived, left),
                    educator_id=self.group_educator[self.first_group[user_id]],
                )
            )

    def _name(self) -> str:
        return f"{self.rng.choice(FIRST_NAMES)} {self.rng.choice(LAST_NAMES)}"

    def _groups(self, conn: sqlite3.Connection, educators: list[int], learners: list[int]) -> None:
        """Housing units and classes of about 30; a fifth of the learners are also in a
        class or program; each educator has `groups / educators` groups."""
        rng, added, count = self.rng, iso(self.start - 30 * DAY), self.scale.groups
        kinds = ["housing"] * (count * 45 // 100) + ["class"] * (count * 45 // 100)
        kinds += ["program"] * (count - len(kinds))
        label = {"housing": "Housing unit", "class": "Class", "program": "Program"}
        conn.executemany(
            "INSERT INTO groups (id, name, kind, created_at) VALUES (?, ?, ?, ?)",
            [(g + 1, f"{label[k]} {g + 1:03d}", k, added) for g, k in enumerate(kinds)],
        )
        group_ids = list(range(1, count + 1))
        self.housing = {g for g, k in zip(group_ids, kinds, strict=True) if k == "housing"}
        teaching = [g for g in group_ids if g not in self.housing]
        order = rng.sample(group_ids, count)
        per_educator = max(1, math.ceil(count / len(educators)))
        members = []
        for n, group_id in enumerate(order):
            educator = educators[n // per_educator]
            self.group_educator[group_id] = educator
            members.append((group_id, educator, added))
        sizes = [rng.uniform(0.7, 1.3) for _ in group_ids]
        for learner_id in learners:
            first = rng.choices(group_ids, sizes)[0]
            self.first_group[learner_id] = first
            joined = [first]
            if rng.random() < 0.2 and (second := rng.choice(teaching)) != first:
                joined.append(second)
            for group_id in joined:
                self.members[group_id].append(learner_id)
                members.append((group_id, learner_id, added))
        conn.executemany(
            "INSERT INTO group_members (group_id, user_id, added_at) VALUES (?, ?, ?)", members
        )

    def assignments(self, conn: sqlite3.Connection) -> None:
        """2-6 courses per group, a few more for single learners; most with a due date,
        many of those past. Every housing unit has the most popular course (think of the
        facility's orientation), so one course board covers most of the facility."""
        rng, rows = self.rng, []
        weights = [c.popularity for c in self.courses]
        orientation = max(self.courses, key=lambda c: c.popularity).index
        for group_id, learners in sorted(self.members.items()):
            picks = {c.index for c in rng.choices(self.courses, weights, k=rng.randint(2, 6))}
            if group_id in self.housing:
                picks.add(orientation)
            for index in sorted(picks):
                rows.append(self._assignment(None, group_id, index))
                for learner_id in learners:
                    self.assigned[learner_id].add(index)
            for learner_id in rng.sample(learners, min(len(learners), rng.randint(0, 4))):
                index = rng.choices(self.courses, weights)[0].index
                rows.append(self._assignment(learner_id, group_id, index))
                self.assigned[learner_id].add(index)
        conn.executemany(
            "INSERT INTO assignments (course_id, user_id, group_id, due_date, note, assigned_by,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            rows,
        )

    def _assignment(self, learner_id: int | None, group_id: int, index: int) -> tuple[Any, ...]:
        rng = self.rng
        due = self.now + rng.uniform(-150, 60) * DAY if rng.random() < 0.6 else None
        created = max(self.start, (due or self.now) - rng.uniform(20, 90) * DAY)
        note = rng.choice(("", "", "Finish it before your review.", "Start with lesson 1."))
        return (
            self.courses[index].course_id,
            learner_id,
            None if learner_id else group_id,  # one or the other (CHECK)
            iso(due)[:10] if due else None,
            note,
            self.group_educator[group_id],
            iso(min(created, self.now)),
        )

    # -- histories ------------------------------------------------------------------------

    def plan_histories(self) -> None:
        """Who opens which lessons (assigned courses mostly, popular ones next), then the
        event budget shared among the lessons opened, by the learner's activity."""
        rng, touches = self.rng, []
        weights = [c.popularity for c in self.courses]
        for learner in self.learners:
            if learner.activity == 0:
                continue
            assigned = {i for i in self.assigned[learner.id] if rng.random() < 0.85}
            chosen = set(assigned)
            extra = 1 + int(rng.expovariate(1 / (1.5 * learner.activity)))
            chosen.update(c.index for c in rng.choices(self.courses, weights, k=extra))
            for index in sorted(chosen):
                run = _course_run(rng, learner, self.courses[index], index not in assigned)
                learner.runs.append(run)
                touches.extend(run.touches)
        structural = sum(t.structural_events() for t in touches)
        if structural > self.scale.events:
            raise ValueError(
                f"{self.scale.events} events are too few: the {len(touches)} lessons opened"
                f" need {structural} just to be opened and finished; ask for more events"
            )
        _allocate(touches, self.scale.events - structural)

    def histories(self) -> None:
        for learner in self.learners:
            if learner.runs:
                self._history(learner)

    def _history(self, learner: Learner) -> None:
        """Place each course run in the learner's months here (stretched to fit if need
        be), then derive every row from the events in time order."""
        rng = self.rng
        touches: list[Touch] = []
        events: list[Pending] = []
        arrived, left = learner.window
        for run in learner.runs:
            pending: list[Pending] = []
            at = 0.0
            for touch in run.touches:
                pending.extend((at + e[0], *e[1:]) for e in _touch_events(rng, len(touches), touch))
                touches.append(touch)
                pause = rng.uniform(60, 300) if rng.random() < 0.3 else rng.expovariate(1 / DAY)
                at = pending[-1][0] + pause
            span = max(pending[-1][0], 1.0)
            begin = rng.uniform(arrived, max(arrived, left - span))
            stretch = min(1.0, (left - begin) / span)
            events.extend((begin + e[0] * stretch, *e[1:]) for e in pending)
            if run.enrolled:
                self.rows.enrolments.append((learner.id, run.course.course_id, iso(begin)))
        events.sort(key=itemgetter(0))
        self._attempts(learner, touches, events)
        self._progress(learner, touches, events)
        self._workbooks(learner, touches, events)

    def _attempts(self, learner: Learner, touches: list[Touch], events: list[Pending]) -> None:
        """Quiz attempts get their times from their events and ids in time order, so
        "newest first" by id is right, as it is for attempts the app writes."""
        last_seen: dict[int, float] = {}
        for at, _kind, index, _position, data in events:
            last_seen[index] = at
            if data is not None and data[0] in {"answered", "score"}:
                attempt = data[1]
                attempt.started = min(attempt.started, at - 20)
                if data[0] == "score":
                    attempt.submitted = at
        attempts: list[tuple[Attempt, Touch]] = []
        for index, touch in enumerate(touches):
            for attempt in touch.attempts:
                if attempt.score is None:  # opened after the lesson's last event, left open
                    attempt.started = min(self.now, last_seen[index] + 30)
                attempts.append((attempt, touch))
        attempts.sort(key=lambda pair: pair[0].started)
        for attempt, touch in attempts:
            attempt.id = next(self.attempt_ids)
            self.rows.quiz_attempts.append(
                (
                    attempt.id,
                    learner.id,
                    touch.course.course_id,
                    touch.lesson.key,
                    touch.course.version_id,
                    json.dumps(attempt.answers, sort_keys=True),
                    json.dumps(attempt.checked),
                    attempt.score,
                    attempt.passed,
                    iso(attempt.started),
                    iso(attempt.submitted) if attempt.submitted is not None else None,
                )
            )

    def _progress(self, learner: Learner, touches: list[Touch], events: list[Pending]) -> None:
        """Credits as `server.learning.progress._credit` gives them, then per lesson and week."""
        rows = self.rows
        first: dict[int, float] = {}
        last: dict[int, float] = {}
        seconds: dict[int, float] = defaultdict(float)
        position: dict[int, float] = {}
        weeks: dict[str, float] = defaultdict(float)
        previous = until = events[0][0]
        for n, (at, kind, index, where, data) in enumerate(events):
            credit = 0.0
            if n:
                until = max(until, at - BACKLOG)
                claimed = HEARTBEAT_MAX if kind in FILLER_TYPES else min(at - previous, PAGE_MAX)
                credit = round(max(0.0, min(claimed, at - until)), 1)
                until += credit
            previous = at
            first.setdefault(index, at)
            last[index] = at
            if credit:
                seconds[index] += credit
                weeks[self.week_of(at)] += credit
            if where is not None:
                position[index] = where
            course = touches[index].course
            rows.events.append(
                (
                    at,
                    learner.id,
                    kind,
                    course.course_id,
                    touches[index].lesson.key,
                    course.version_id,
                    where,
                    _event_data(data),
                    credit,
                )
            )
        rows.activity.append((learner.id, previous, until))
        rows.weekly_time.extend((learner.id, w, round(s, 1)) for w, s in sorted(weeks.items()))
        finished: dict[str, list[float]] = defaultdict(list)
        for index, touch in enumerate(touches):
            submitted = [a for a in touch.attempts if a.score is not None]
            score: float | None = None
            passed: bool | None = None
            if submitted:  # a pass records its score; failures keep the best one
                winner = submitted[-1] if touch.done else max(submitted, key=lambda a: a.score or 0)
                score, passed = winner.score, touch.done
            at = position.get(index, 0.0) if touch.media else 0.0
            rows.lesson_progress.append(
                (
                    learner.id,
                    touch.course.course_id,
                    touch.lesson.key,
                    "done" if touch.done else "in_progress",
                    at,
                    touch.duration,
                    json.dumps([[0.0, at]]) if at else "[]",
                    round(seconds[index], 1),
                    score,
                    passed,
                    iso(first[index]),
                    iso(last[index]) if touch.done else None,
                    iso(last[index]),
                )
            )
            if touch.done:
                finished[touch.course.course_id].append(last[index])
        for run in learner.runs:
            done = finished.get(run.course.course_id, [])
            if len(done) == len(run.course.lessons):
                self._certificate(learner, run.course, max(done))

    def _certificate(self, learner: Learner, course: CoursePlan, completed: float) -> None:
        self.rows.certificates.append(
            (
                certificates.new_code(self.settings),
                learner.id,
                course.course_id,
                course.version_id,
                learner.name,
                learner.facility_id,
                course.title,
                PUBLISHER,
                course.hours,
                course.credits,
                self.settings.facility_name,
                iso(completed),
                iso(completed),
            )
        )

    def _workbooks(self, learner: Learner, touches: list[Touch], events: list[Pending]) -> None:
        """One entry per workbook opened: a draft, or sent (half of those answered by the
        educator), with answers whose visibility is the prompt's."""
        rng = self.rng
        times: dict[int, list[tuple[float, str]]] = defaultdict(list)
        for at, kind, index, _position, _data in events:
            if kind in {"draft", "submitted"}:
                times[index].append((at, kind))
        for index in sorted(times, key=lambda i: times[i][0][0]):
            touch, seen = touches[index], times[index]
            entry_id = next(self.entry_ids)
            created, updated = iso(seen[0][0]), iso(seen[-1][0])
            sent = seen[-1][0] if seen[-1][1] == "submitted" else None
            status, reviewed, feedback = "draft", None, ""
            if sent is not None:
                status = "submitted"
                answered = sent + rng.uniform(0.5, 6) * DAY
                if answered < self.now and rng.random() < 0.5:
                    status, reviewed, feedback = "reviewed", iso(answered), _sentence(rng, 15)
            self.rows.workbook_entries.append(
                (
                    entry_id,
                    learner.id,
                    touch.course.course_id,
                    touch.lesson.key,
                    touch.course.version_id,
                    status,
                    created,
                    updated,
                    iso(sent) if sent is not None else None,
                    reviewed,
                    learner.educator_id if reviewed else None,
                    feedback,
                )
            )
            for key, kind, visibility in touch.lesson.prompts:
                if sent is None and rng.random() < 0.4:
                    continue  # a draft not filled in yet
                value = json.dumps(_answer(rng, kind))
                self.rows.workbook_answers.append((entry_id, key, visibility, value, updated))

    # -- writing --------------------------------------------------------------------------

    def write_derived(self, conn: sqlite3.Connection) -> None:
        rows = self.rows
        statements = [
            (
                "INSERT INTO lesson_progress (user_id, course_id, lesson_key, status, position,"
                " duration, watched, seconds_spent, score, passed, started_at, completed_at,"
                " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows.lesson_progress,
            ),
            ("INSERT INTO weekly_time (user_id, week, seconds) VALUES (?, ?, ?)", rows.weekly_time),
            (
                "INSERT INTO quiz_attempts (id, user_id, course_id, lesson_key, version_id,"
                " answers, checked, score, passed, started_at, submitted_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows.quiz_attempts,
            ),
            (
                "INSERT INTO workbook_entries (id, user_id, course_id, lesson_key, version_id,"
                " status, created_at, updated_at, submitted_at, reviewed_at, reviewed_by,"
                " feedback) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows.workbook_entries,
            ),
            (
                "INSERT INTO workbook_answers (entry_id, prompt_key, visibility, value,"
                " updated_at) VALUES (?, ?, ?, ?, ?)",
                rows.workbook_answers,
            ),
            (
                "INSERT INTO certificates (code, user_id, course_id, version_id, learner_name,"
                " facility_id, course_title, publisher, hours, credits, facility, completed_at,"
                " issued_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows.certificates,
            ),
            (
                "INSERT INTO enrolments (user_id, course_id, enrolled_at) VALUES (?, ?, ?)",
                rows.enrolments,
            ),
            (
                "INSERT INTO activity (user_id, last_event_at, credited_until) VALUES (?, ?, ?)",
                rows.activity,
            ),
        ]
        for sql, table in statements:
            _insert(conn, sql, table)

    def write_events(self, conn: sqlite3.Connection) -> None:
        """All learners' events in the order the server would have received them."""
        rng = self.rng
        self.rows.events.sort(key=itemgetter(0))

        def stored() -> Iterator[tuple[Any, ...]]:
            for (
                at,
                user_id,
                kind,
                course_id,
                key,
                version_id,
                where,
                data,
                credit,
            ) in self.rows.events:
                received = iso(at)
                yield (
                    user_id,
                    f"{rng.getrandbits(96):024x}",
                    kind,
                    course_id,
                    key,
                    version_id,
                    where,
                    data,
                    credit,
                    received if kind in CLIENT_TYPES else None,
                    received,
                )

        _insert(
            conn,
            "INSERT INTO progress_events (user_id, event_id, type, course_id, lesson_key,"
            " version_id, position, data, credited_seconds, client_time, received_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            stored(),
        )
        self.rows.events.clear()


def educator_login(n: int) -> str:
    return f"educator{n + 1:02d}"


ADMIN = "bench-admin"
PUBLISHER = "Second Chance Learning"


def generate(settings: Settings, scale: Scale, say: Callable[[str], None] = print) -> None:
    """Fill the (freshly initialized) database of `settings` with `scale`'s facility."""
    generator = Generator(settings, scale)
    db = connect(settings.database_path)
    conn = db.conn
    conn.isolation_level = None  # transactions are explicit
    # A bulk load into a database that is thrown away if this fails: no rollback
    # journal, no fsync, a big page cache. The app's pragmas come back when it opens it.
    conn.execute("PRAGMA journal_mode=OFF")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA cache_size=-400000")
    steps: list[tuple[str, Callable[[], None]]] = [
        ("catalog", lambda: _in_transaction(conn, generator.catalog)),
        ("people and groups", lambda: _in_transaction(conn, generator.people)),
        ("assignments", lambda: _in_transaction(conn, generator.assignments)),
        ("plans", generator.plan_histories),
        ("histories", generator.histories),
        ("derived rows", lambda: generator.write_derived(conn)),
        ("progress events", lambda: generator.write_events(conn)),
        ("checks", lambda: _raise_problems(check(conn, scale))),
    ]
    try:
        for name, step in steps:
            started = time.perf_counter()
            step()
            say(f"  {name:<18} {time.perf_counter() - started:6.1f} s")
        conn.execute("PRAGMA journal_mode=WAL")
    finally:
        db.close()


def check(conn: sqlite3.Connection, scale: Scale) -> list[str]:
    """What is inconsistent in a generated facility (nothing, or the generator has a bug):
    foreign keys, the event count, time credited versus its totals, a progress row for
    every lesson with events, and a certificate exactly for every course fully done."""

    def one(sql: str) -> Any:
        return conn.execute(sql).fetchone()[0]

    problems = [f"foreign key: {tuple(row)}" for row in conn.execute("PRAGMA foreign_key_check")]
    events = one("SELECT count(*) FROM progress_events")
    if events != scale.events:
        problems.append(f"{events} progress events, not {scale.events}")
    credited = one("SELECT total(credited_seconds) FROM progress_events")
    for table, column in (("weekly_time", "seconds"), ("lesson_progress", "seconds_spent")):
        rows, total = conn.execute(f"SELECT count(*), total({column}) FROM {table}").fetchone()  # noqa: S608
        if abs(total - credited) > 0.05 * rows + 1:  # each row is rounded to 0.1 s
            problems.append(f"{table} holds {total:.0f} s, the events {credited:.0f} s")
    touched, matched = conn.execute(
        "SELECT count(*), count(p.user_id) FROM (SELECT DISTINCT user_id, course_id, lesson_key"
        " FROM progress_events) e LEFT JOIN lesson_progress p ON p.user_id = e.user_id"
        " AND p.course_id = e.course_id AND p.lesson_key = e.lesson_key"
    ).fetchone()
    if not touched == matched == one("SELECT count(*) FROM lesson_progress"):
        problems.append(f"{touched} lessons with events, {matched} of them with progress")
    complete, certified = conn.execute(
        "SELECT count(*), count(c.code) FROM (SELECT p.user_id, p.course_id"
        " FROM lesson_progress p JOIN courses k ON k.course_id = p.course_id"
        " JOIN lessons l ON l.version_id = k.live_version_id AND l.key = p.lesson_key"
        " WHERE p.status = 'done' GROUP BY p.user_id, p.course_id HAVING count(*) ="
        " (SELECT count(*) FROM lessons x WHERE x.version_id = k.live_version_id)) d"
        " LEFT JOIN certificates c ON c.user_id = d.user_id AND c.course_id = d.course_id"
    ).fetchone()
    if not complete == certified == one("SELECT count(*) FROM certificates"):
        problems.append(f"{complete} courses fully done, {certified} of them with a certificate")
    return problems


def _raise_problems(problems: list[str]) -> None:
    if problems:
        raise RuntimeError("The generated data is inconsistent: " + "; ".join(problems))


def _in_transaction(conn: sqlite3.Connection, step: Callable[[sqlite3.Connection], None]) -> None:
    with _transaction(conn):
        step(conn)


# ---- Written work: tasks graded with a rubric ---------------------------------------------

WRITTEN_COURSES = 12
WRITTEN_RUBRIC = [
    {
        "key": key,
        "criterion": criterion,
        "levels": [
            {"label": "Not yet", "points": 0},
            {"label": "Some", "points": 1},
            {"label": "Clear", "points": 2},
        ],
    }
    for key, criterion in (
        ("content", "Answers the question"),
        ("order", "Ideas in order"),
        ("words", "Clear words"),
    )
]


def add_written_work(settings: Settings, seed: int = 7) -> int:
    """Courses with a written task (a reading, then the task), assigned to every group
    with a due date, and the learners' attempts at them: about a third waiting for a
    grade (some of them late), the rest graded or sent back for a revision and sent
    again, a few still drafts; a comment on some. Added once to a generated facility
    (also to one cached before written work existed); returns the attempts added."""
    db = connect(settings.database_path)
    conn = db.conn
    try:
        if conn.execute("SELECT 1 FROM written_attempts LIMIT 1").fetchone():
            return 0
        rng = random.Random(seed)
        now = time.time()
        with _transaction(conn):
            return _written_work(conn, rng, now)
    finally:
        db.close()


def _written_work(conn: sqlite3.Connection, rng: random.Random, now: float) -> int:
    course_pk = conn.execute("SELECT coalesce(max(id), 0) FROM courses").fetchone()[0]
    version_id = conn.execute("SELECT coalesce(max(id), 0) FROM course_versions").fetchone()[0]
    admin = conn.execute("SELECT id FROM users WHERE role = 'admin' LIMIT 1").fetchone()[0]
    task = {
        "prompt": "Write about a goal you have and the first step toward it.",
        "length": "long",
        "min_words": 60,
        "max_words": 250,
        "pass_mark": 4,
        "required": True,
        "rubric": WRITTEN_RUBRIC,
    }
    created = iso(now - 200 * DAY)
    courses = []
    for n in range(WRITTEN_COURSES):
        course_pk, version_id = course_pk + 1, version_id + 1
        course_id = f"org.bench.writing.w{n + 1:02d}"
        title = f"Writing for work, unit {n + 1}"
        lessons: list[dict[str, Any]] = [
            {
                "key": "read",
                "title": "A model answer",
                "kind": "reading",
                "html": "lessons/read.html",
                "sections": [{"anchor": "", "heading": "", "text": _sentence(rng, 60)}],
            },
            {
                "key": "task",
                "title": f"Your goal, part {n + 1}",
                "kind": "written",
                "html": "lessons/task.html",
                "sections": [],
                "written": task,
            },
        ]
        about = {
            "id": course_id,
            "version": 1,
            "title": title,
            "summary": _sentence(rng, 12),
            "category": "education",
            "language": "en",
            "level": "beginner",
            "estimated_hours": 1.0,
            "license": "CC-BY-4.0",
            "credits": 0.0,
            "authors": [PUBLISHER],
            "keywords": ["writing"],
        }
        conn.execute(
            "INSERT INTO courses (id, course_id, publisher_id, high_water_version)"
            " VALUES (?, ?, 1, 1)",
            [course_pk, course_id],
        )
        conn.execute(
            "INSERT INTO course_versions (id, course_pk, version, status, title, summary,"
            " category, language, level, estimated_hours, credits, license, manifest,"
            " package_sha256, imported_at, reviewed_at, reviewed_by)"
            " VALUES (?, ?, 1, 'approved', ?, ?, 'education', 'en', 'beginner', 1.0, 0.0,"
            " 'CC-BY-4.0', ?, ?, ?, ?, ?)",
            [
                version_id,
                course_pk,
                title,
                about["summary"],
                json.dumps({"format": 1, "course": about, "lessons": lessons}, sort_keys=True),
                f"{rng.getrandbits(256):064x}",
                created,
                created,
                ADMIN,
            ],
        )
        conn.executemany(
            "INSERT INTO lessons (version_id, key, position, title, kind, html_sha256, data)"
            " VALUES (?, ?, ?, ?, ?, NULL, ?)",
            [
                (
                    version_id,
                    e["key"],
                    position,
                    e["title"],
                    e["kind"],
                    json.dumps({k: v for k, v in e.items() if k not in {"key", "title", "kind"}}),
                )
                for position, e in enumerate(lessons)
            ],
        )
        conn.execute("UPDATE courses SET live_version_id = ? WHERE id = ?", [version_id, course_pk])
        courses.append((course_id, version_id))
    groups: dict[int, list[int]] = defaultdict(list)
    for group_id, user_id in conn.execute(
        "SELECT m.group_id, m.user_id FROM group_members m JOIN users u ON u.id = m.user_id"
        " WHERE u.role = 'learner' ORDER BY m.group_id, m.user_id"
    ):
        groups[group_id].append(user_id)
    teachers = dict(
        conn.execute(
            "SELECT m.group_id, min(m.user_id) FROM group_members m JOIN users u"
            " ON u.id = m.user_id WHERE u.role = 'educator' GROUP BY m.group_id"
        ).fetchall()
    )
    attempts: list[tuple[Any, ...]] = []
    comments: list[tuple[Any, ...]] = []
    assignments: list[tuple[Any, ...]] = []
    written_by: set[tuple[int, str]] = set()
    for group_id, learners in sorted(groups.items()):
        picked = rng.sample(courses, 2)
        for course_id, version in picked:
            due = now + rng.uniform(-40, 30) * DAY
            assignments.append(
                (course_id, None, group_id, iso(due)[:10], "", admin, iso(due - 30 * DAY))
            )
            for learner in learners:
                if (learner, course_id) in written_by or rng.random() < 0.25:
                    continue  # not started, or already written for another group
                written_by.add((learner, course_id))
                attempts += _learner_attempts(
                    rng, learner, course_id, version, teachers.get(group_id), due, now
                )
    conn.executemany(
        "INSERT INTO assignments (course_id, user_id, group_id, due_date, note, assigned_by,"
        " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        assignments,
    )
    first = conn.execute("SELECT coalesce(max(id), 0) FROM written_attempts").fetchone()[0] + 1
    conn.executemany(
        "INSERT INTO written_attempts (id, user_id, course_id, lesson_key, version_id, attempt,"
        " status, text, words, created_at, updated_at, submitted_at, graded_at, graded_by,"
        " scores, total, max_points, passed, feedback)"
        " VALUES (?, ?, ?, 'task', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 6, ?, ?)",
        [(first + n, *row) for n, row in enumerate(attempts)],
    )
    for n, row in enumerate(attempts):
        if row[4] != "draft" and rng.random() < 0.1:
            comments.append((first + n, row[0], "learner", _sentence(rng, 12), row[9] or row[7]))
    conn.executemany(
        "INSERT INTO written_comments (attempt_id, author_id, author_role, body, created_at)"
        " VALUES (?, ?, ?, ?, ?)",
        comments,
    )
    return len(attempts)


def _learner_attempts(
    rng: random.Random,
    learner: int,
    course_id: str,
    version: int,
    teacher: int | None,
    due: float,
    now: float,
) -> list[tuple[Any, ...]]:
    """One learner's tries at a task: (user, course, version, attempt, status, text, words,
    created, updated, sent, graded, grader, scores, total, passed, feedback)."""
    rows: list[tuple[Any, ...]] = []
    started = min(now - DAY, due + rng.uniform(-25, 10) * DAY)
    tries = 1 + (rng.random() < 0.2)
    for attempt in range(1, tries + 1):
        words = rng.randint(40, 260)
        text = _sentence(rng, words)
        sent = started + rng.uniform(0.1, 3) * DAY
        last = attempt == tries
        if (last and rng.random() < 0.1) or sent >= now:
            rows.append(
                (
                    learner,
                    course_id,
                    version,
                    attempt,
                    "draft",
                    text,
                    words,
                    iso(started),
                    iso(started),
                    None,
                    None,
                    None,
                    "{}",
                    None,
                    None,
                    "",
                )
            )
            break
        graded = sent + rng.uniform(0.5, 5) * DAY
        if last and (graded >= now or rng.random() < 0.45):
            rows.append(
                (
                    learner,
                    course_id,
                    version,
                    attempt,
                    "submitted",
                    text,
                    words,
                    iso(started),
                    iso(sent),
                    iso(sent),
                    None,
                    None,
                    "{}",
                    None,
                    None,
                    "",
                )
            )
            break
        scores = {c["key"]: float(rng.randint(0, 2)) for c in WRITTEN_RUBRIC}
        total = sum(scores.values())
        status = "graded" if last else "revise"
        rows.append(
            (
                learner,
                course_id,
                version,
                attempt,
                status,
                text,
                words,
                iso(started),
                iso(sent),
                iso(sent),
                iso(graded),
                teacher,
                json.dumps(scores),
                total,
                total >= 4,
                _sentence(rng, 15),
            )
        )
        started = graded + rng.uniform(0.2, 4) * DAY
        if started >= now:
            break
    return rows
