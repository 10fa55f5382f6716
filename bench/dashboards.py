"""Benchmark: the educator dashboards and the full-facility progress export at facility scale.

A generated facility (`bench/dashboard_data.py`: 3,000 learners in 100 groups, 20
educators with 5 groups each, 300 courses, 2 million progress events over 12 months and
the rows derived from them) is cached under `--dir` and reused; `--regenerate` builds it
again. Then, in one process:

- the group, course and learner boards, and a course's difficult questions (an
  educator: one of their groups; an admin: all 3,000 learners), as full HTTP pages,
  through the real app in-process (Starlette's TestClient against `create_app`, signed in
  through the staff sign-in form, so with a real session, CSRF and templates), as an
  educator (their own groups) and as an admin (everyone: an admin's course board counts
  all 3,000 learners);
- the same boards' domain functions alone (`server.teaching.dashboards`), on the same targets, which
  separates the queries from the rendering;
- the grading queue of written tasks (`/teach/grading`: an educator one of their groups,
  an admin the whole facility's sent and not yet graded work, with due dates and late
  marks), over the written tasks `dashboard_data.add_written_work` adds;
- the full-facility progress CSV (admin, all dates): the page, and its query and CSV
  steps apart, with its size.

A third of the requests go to the heaviest pages (the most-followed courses, the most
active learners), the rest to random ones; educators take turns, each through their own
groups. The target in the issue is p95 < 300 ms for each dashboard; the table gives each
p95 as a fraction of it ("page": the HTTP request; "domain": the `server.teaching.dashboards`
function alone, SQL and Python). The machine's load average is printed beside it: on a
shared machine the tail is mostly other processes. `--explain` runs the slowest target of
each board again with the time of every SQL statement and SQLite's plan for slow ones.

    .venv/bin/python bench/dashboards.py                     # generates once (1-2 minutes)
    .venv/bin/python bench/dashboards.py --requests 100 --explain
    .venv/bin/python bench/dashboards.py --regenerate --events 500000   # a smaller year
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import math
import os
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import dashboard_data  # noqa: E402
from dashboard_data import STAFF_PASSWORD, Scale  # noqa: E402
from starlette.testclient import TestClient  # noqa: E402

from server.catalog.search import search_indexer  # noqa: E402
from server.cli.main import initialize  # noqa: E402
from server.core import csvfiles  # noqa: E402
from server.core.db import Database  # noqa: E402
from server.core.settings import Settings, load_settings  # noqa: E402
from server.learning.access import Scope  # noqa: E402
from server.people.accounts import User, get_user  # noqa: E402
from server.teaching import dashboards, difficult_questions, exports, grading  # noqa: E402
from server.web.app import create_app  # noqa: E402

TARGET_MS = 300.0
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
BOARDS = ("group", "course", "learner", "questions", "grading")


# ---- The cached facility ----------------------------------------------------------------


def prepare(directory: Path, scale: Scale, regenerate: bool) -> Settings:
    """The facility's settings, generating its data first unless a copy made with the
    same scale is cached. Generation writes to a side folder and renames it when done,
    so an interrupted run is never mistaken for a cached one."""
    data, recorded = directory / "data", directory / "scale.json"
    wanted = {**dataclasses.asdict(scale), "generator": dashboard_data.GENERATOR_VERSION}
    if regenerate:
        shutil.rmtree(data, ignore_errors=True)
    if data.exists():
        cached = json.loads(recorded.read_text(encoding="utf-8")) if recorded.exists() else {}
        if cached != wanted:
            raise SystemExit(
                f"The data in {data} was made with {cached or 'unknown settings'}, not"
                f" {wanted}: pass --regenerate to build it again."
            )
        print(f"Reusing the facility in {data} ({_size(data)}).")
        settings = load_settings(environ={}, data_dir=data)
        initialize(settings).close()  # applies any migration added since it was made
        added = dashboard_data.add_written_work(settings)
        if added:
            print(f"Written work added to the cached facility: {added:,} attempts.")
        ensure_search_index(settings, again=bool(added))
        return settings
    partial = directory / "data.partial"
    shutil.rmtree(partial, ignore_errors=True)
    print(f"Generating the facility ({scale}) ...")
    started = time.perf_counter()
    settings = load_settings(environ={}, data_dir=partial)
    initialize(settings).close()
    dashboard_data.generate(settings, scale)
    print(f"  written work       {dashboard_data.add_written_work(settings):,} attempts")
    partial.rename(data)
    recorded.write_text(json.dumps(wanted, indent=2) + "\n", encoding="utf-8")
    print(f"Generated in {time.perf_counter() - started:.0f} s ({_size(data)}).")
    settings = load_settings(environ={}, data_dir=data)
    ensure_search_index(settings)
    return settings


def ensure_search_index(settings: Settings, again: bool = False) -> None:
    """Build the search index now if there is none (or ``again``: courses were added): the
    app would otherwise rebuild it in a background thread at start-up, competing with the
    requests being timed."""
    database = Database(settings.database_path)
    try:
        sync = search_indexer(settings, database)
        if again or sync.service.indexed_versions() is None:
            started = time.perf_counter()
            sections = sync.rebuild()
            print(f"Search index: {sections:,} sections in {time.perf_counter() - started:.0f} s.")
    finally:
        database.close()


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def _size(folder: Path) -> str:
    total = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    return f"{total / 2**20:,.0f} MiB"


# ---- Who looks at what ------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """One dashboard request: a board, the staff member asking, and which page."""

    board: str  # group | course | learner | questions | grading
    viewer: User
    key: int | str  # group id, course id or learner id ("" for the grading queue)
    group: int | None = None  # difficult questions or grading: one group, or all in scope

    @property
    def path(self) -> str:
        if self.board == "grading":
            return "/teach/grading" + (f"?group={self.group}" if self.group is not None else "")
        if self.board == "questions":
            narrowed = f"?group={self.group}" if self.group is not None else ""
            return f"/teach/courses/{self.key}/questions{narrowed}"
        kind = {"group": "groups", "course": "courses", "learner": "learners"}[self.board]
        return f"/teach/{kind}/{self.key}"

    def build(self, database: Database, settings: Settings) -> object:
        """The board's domain function alone: queries and Python, no template."""
        scope = Scope(self.viewer)
        if self.board == "grading":
            return grading.queue(database, settings, scope, self.group)
        if self.board == "group":
            return dashboards.group_board(database, scope, int(self.key))
        if self.board == "course":
            return dashboards.course_board(database, scope, str(self.key))
        if self.board == "questions":
            return difficult_questions.difficult_questions(
                database, scope, str(self.key), self.group
            )
        return dashboards.learner_board(database, scope, int(self.key))


def _column(database: Database, sql: str, params: Any = ()) -> list[Any]:
    return [row[0] for row in database.query(sql, params)]


@dataclass
class Reach:
    """An educator's groups and learners, and the most active of those learners."""

    groups: list[int]
    learners: list[int]
    busiest: list[int]


def _reach(database: Database, educator: User) -> Reach:
    mine = (
        "SELECT DISTINCT m.user_id FROM group_members m JOIN users u ON u.id = m.user_id"
        " WHERE u.role = 'learner' AND m.group_id IN"
        " (SELECT group_id FROM group_members WHERE user_id = ?)"
    )
    return Reach(
        [g.id for g in Scope(educator).groups(database)],
        _column(database, mine, [educator.id]),
        _column(
            database,
            f"SELECT user_id FROM weekly_time WHERE user_id IN ({mine})"  # noqa: S608
            " GROUP BY user_id ORDER BY sum(seconds) DESC LIMIT 5",
            [educator.id],
        ),
    )


def choose_targets(
    database: Database, rng: random.Random, requests: int
) -> dict[tuple[str, str], list[Target]]:
    """`requests` targets per board and role. A third go to the heaviest pages (the
    most-followed courses, the most active learners), the rest to random ones; educators
    take turns, each through their own groups."""
    users = "SELECT id FROM users WHERE role = ? ORDER BY id"
    admin = get_user(database, _column(database, users, ["admin"])[0])
    educators = [get_user(database, i) for i in _column(database, users, ["educator"])]
    learners = _column(database, users, ["learner"])
    groups = _column(database, "SELECT id FROM groups ORDER BY id")
    courses = _column(database, "SELECT course_id FROM courses ORDER BY course_id")
    busy_courses = _column(
        database,
        "SELECT course_id FROM lesson_progress GROUP BY course_id ORDER BY count(*) DESC LIMIT 10",
    )
    busiest = _column(
        database,
        "SELECT user_id FROM weekly_time GROUP BY user_id ORDER BY sum(seconds) DESC LIMIT 20",
    )
    quiz_courses = _column(database, "SELECT DISTINCT course_id FROM quiz_attempts")
    busy_quizzes = _column(
        database,
        "SELECT course_id FROM quiz_attempts GROUP BY course_id ORDER BY count(*) DESC LIMIT 10",
    )
    heavy = requests // 3

    def pick(n: int, busy: list[Any], anything: list[Any]) -> Any:
        return busy[n % len(busy)] if n < heavy and busy else rng.choice(anything)

    reach = {e.id: _reach(database, e) for e in educators}
    chosen: dict[tuple[str, str], list[Target]] = defaultdict(list)
    for n in range(requests):
        chosen["group", "admin"].append(Target("group", admin, groups[n % len(groups)]))
        chosen["course", "admin"].append(Target("course", admin, pick(n, busy_courses, courses)))
        chosen["learner", "admin"].append(Target("learner", admin, pick(n, busiest, learners)))
        educator = educators[n % len(educators)]
        mine = reach[educator.id]
        group = mine.groups[(n // len(educators)) % len(mine.groups)]
        chosen["group", "educator"].append(Target("group", educator, group))
        course = pick(n, busy_courses, courses)
        chosen["course", "educator"].append(Target("course", educator, course))
        learner = pick(n, mine.busiest, mine.learners)
        chosen["learner", "educator"].append(Target("learner", educator, learner))
        # Difficult questions: an admin over all 3,000 learners of a course, an educator
        # over one of their groups (the link on a group's board).
        quizzed = pick(n, busy_quizzes, quiz_courses)
        chosen["questions", "admin"].append(Target("questions", admin, quizzed))
        chosen["questions", "educator"].append(Target("questions", educator, quizzed, group))
        # The grading queue: an educator one of their groups, an admin everything waiting.
        chosen["grading", "admin"].append(Target("grading", admin, ""))
        chosen["grading", "educator"].append(Target("grading", educator, "", group))
    for targets in chosen.values():
        rng.shuffle(targets)
    return chosen


# ---- Measuring --------------------------------------------------------------------------


class Staff:
    """One in-process client of the real app; each staff member signs in once through
    the sign-in form and keeps their own session cookies."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.jars: dict[int, dict[str, str]] = {}

    def sign_in(self, user: User) -> None:
        if user.id in self.jars:
            return
        self.client.cookies.clear()
        match = CSRF.search(self.client.get("/staff/signin").text)
        if match is None:
            raise SystemExit("The staff sign-in page has no CSRF token.")
        response = self.client.post(
            "/staff/signin",
            data={"username": user.login, "password": STAFF_PASSWORD, "csrf_token": match[1]},
            follow_redirects=False,
        )
        if response.status_code != 303:
            raise SystemExit(f"Could not sign in as {user.login}: HTTP {response.status_code}")
        self.jars[user.id] = dict(self.client.cookies)

    def get(self, user: User, path: str) -> bytes:
        self.client.cookies = self.jars[user.id]
        response = self.client.get(path, follow_redirects=False)
        if response.status_code != 200:
            raise SystemExit(f"GET {path} as {user.login}: HTTP {response.status_code}")
        return response.content


def _millis(action: Callable[..., object], *args: Any) -> float:
    started = time.perf_counter()
    action(*args)
    return (time.perf_counter() - started) * 1000


@dataclass
class Row:
    """One line of the table. `full_gcs` counts Python's full garbage collections during
    the requests: each costs tens of milliseconds here, and they make most of the tail."""

    what: str
    who: str
    millis: list[float]
    full_gcs: int

    def percentile(self, fraction: float) -> float:
        """Nearest rank: the value below which `fraction` of the samples fall."""
        ordered = sorted(self.millis)
        return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def _full_collections() -> int:
    return int(gc.get_stats()[2]["collections"])


def time_pages(staff: Staff, what: str, who: str, targets: list[Target]) -> Row:
    for target in targets:
        staff.sign_in(target.viewer)
    staff.get(targets[0].viewer, targets[0].path)  # warm-up: templates compiled, pages cached
    before = _full_collections()
    millis = [_millis(staff.get, t.viewer, t.path) for t in targets]
    return Row(what, who, millis, _full_collections() - before)


def time_builds(
    database: Database, settings: Settings, what: str, who: str, targets: list[Target]
) -> Row:
    targets[0].build(database, settings)
    before = _full_collections()
    millis = [_millis(t.build, database, settings) for t in targets]
    return Row(what, who, millis, _full_collections() - before)


def print_table(rows: list[Row]) -> None:
    print(
        f"\n{'dashboard':<22} {'who':<9} {'n':>4} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}"
        f" {'p95 / ' + str(int(TARGET_MS)) + ' ms':>14} {'full GCs':>9}"
    )
    for row in rows:
        p95 = row.percentile(0.95)
        print(
            f"{row.what:<22} {row.who:<9} {len(row.millis):>4} {row.percentile(0.5):>8.1f}"
            f" {p95:>8.1f} {max(row.millis):>8.1f} {p95 / TARGET_MS:>13.2f}x {row.full_gcs:>9}"
        )


def time_export(staff: Staff, database: Database, admin: User, runs: int) -> None:
    """The full-facility progress CSV, as a download and as its two steps."""
    staff.sign_in(admin)
    path = "/teach/exports/progress.csv"
    pages, sizes = [], []
    for _ in range(runs):
        started = time.perf_counter()
        body = staff.get(admin, path)
        pages.append((time.perf_counter() - started) * 1000)
        sizes.append(len(body))
    flt = exports.Filter.parse("", "")
    started = time.perf_counter()
    rows = exports.progress_rows(database, Scope(admin), flt)
    query = (time.perf_counter() - started) * 1000
    csv_ms = _millis(csvfiles.records_to_text, rows, exports.PROGRESS_COLUMNS)
    print(
        f"\nFull-facility progress CSV (admin, all dates): {statistics.median(pages):,.0f} ms"
        f" median of {runs} (max {max(pages):,.0f} ms), {sizes[-1] / 2**20:.1f} MiB,"
        f" {len(rows):,} rows; of which the query {query:,.0f} ms, the CSV {csv_ms:,.0f} ms."
    )


# ---- Where the time goes ----------------------------------------------------------------


@dataclass
class Statement:
    calls: int = 0
    seconds: float = 0.0
    slowest: float = 0.0
    params: Any = ()


class TimedDatabase(Database):
    """A `Database` that notes the time of every read, by statement."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.statements: dict[str, Statement] = defaultdict(Statement)

    @contextmanager
    def _timed(self, sql: str, params: Any) -> Iterator[None]:
        started = time.perf_counter()
        yield
        spent, noted = time.perf_counter() - started, self.statements[sql]
        noted.calls += 1
        noted.seconds += spent
        if spent >= noted.slowest:
            noted.slowest, noted.params = spent, params

    def query(self, sql: str, params: Any = ()) -> list[Any]:
        with self._timed(sql, params):
            return super().query(sql, params)

    def query_one(self, sql: str, params: Any = ()) -> Any:
        with self._timed(sql, params):
            return super().query_one(sql, params)


def explain(settings: Settings, slowest: dict[tuple[str, str], Target]) -> None:
    """The slowest target of each board once more (warm), with the time of each SQL
    statement and the plans of those that took a millisecond or more."""
    for (board, who), target in slowest.items():
        probe = TimedDatabase(settings.database_path)
        target.build(probe, settings)  # warm
        probe.statements.clear()
        total = _millis(target.build, probe, settings)
        print(f"\n{board} board as {who} ({target.path}), again: {total:.1f} ms")
        ranked = sorted(probe.statements.items(), key=lambda item: -item[1].seconds)
        for sql, noted in ranked[:8]:
            print(f"  {noted.seconds * 1000:7.1f} ms {noted.calls:>4}x  {_short(sql)}")
            if noted.slowest * 1000 >= 1.0:
                for step in _plan(probe, sql, noted.params):
                    print(f"  {'':>20}{step}")
        probe.close()


def _short(sql: str, width: int = 110) -> str:
    flat = " ".join(sql.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def _plan(database: Database, sql: str, params: Any) -> Iterator[str]:
    """SQLite's query plan, one step a line, indented under its parent step."""
    depth = {0: -1}
    for row in database.query("EXPLAIN QUERY PLAN " + sql, params):
        depth[row["id"]] = depth.get(row["parent"], -1) + 1
        yield "  " * depth[row["id"]] + row["detail"]


# ---- Command line -----------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--dir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "stepstone-dashboards",
        help="where the generated facility is kept (outside the repository)",
    )
    parser.add_argument("--regenerate", action="store_true", help="build the facility again")
    parser.add_argument("--requests", type=int, default=100, help="per board and role")
    parser.add_argument("--export-runs", type=int, default=3)
    parser.add_argument("--explain", action="store_true", help="time and plan each query")
    parser.add_argument("--seed", type=int, default=1, help="which targets are chosen")
    defaults = Scale()
    for name in ("learners", "courses", "groups", "educators", "events", "days"):
        parser.add_argument(f"--{name}", type=int, default=getattr(defaults, name))
    args = parser.parse_args()
    scale = Scale(args.learners, args.courses, args.groups, args.educators, args.events, args.days)
    args.dir.mkdir(parents=True, exist_ok=True)
    settings = prepare(args.dir, scale, args.regenerate)
    database = Database(settings.database_path)
    targets = choose_targets(database, random.Random(args.seed), args.requests)
    rows, slowest = [], {}
    print(f"Load average before measuring: {_load()} ({os.cpu_count()} cores).")
    with TestClient(create_app(settings), base_url="http://testserver") as client:
        staff = Staff(client)
        for board in BOARDS:
            for who in ("educator", "admin"):
                chosen = targets[board, who]
                rows.append(time_pages(staff, f"{board} board page", who, chosen))
                builds = time_builds(database, settings, f"{board} board domain", who, chosen)
                rows.append(builds)
                slowest[board, who] = chosen[builds.millis.index(max(builds.millis))]
        print_table(rows)
        print(f"Load average after: {_load()}.")
        admin = targets["group", "admin"][0].viewer
        time_export(staff, database, admin, args.export_runs)
    if args.explain:
        explain(settings, slowest)
    database.close()


if __name__ == "__main__":
    main()
