"""Benchmark: narration made at import (eSpeak NG), and what narration costs a lesson page.

Three measures, each printed with its figures and a ratio:

1. **The demo courses**, from a copy of ``courses/`` without their shipped narration,
   published into two new data folders, one with ``STEPSTONE_IMPORT_NARRATION=off`` (the
   anchor) and one with ``espeak-ng``: seconds of import per minute of audio made, and
   the import's time with narration on over off.
2. **A generated course of ``--lessons`` lessons** (2,000 by default, the shape of
   ``bench/package_build.py``'s): ``import_package`` alone (the anchor), then the
   narration of every lesson (``content.importing.narration.add_narration``): the same
   figures. Lessons there are short (five sentences), so process start-up weighs more
   per minute of audio than in real lessons.
3. **The lesson page** in two demo data folders, one published from the demo courses as
   they ship (with their narration) and one from the copy without it, search indexes
   built first: the same lesson requested in turn through the app in this process
   (Starlette's TestClient, signed in as a learner) for ``--seconds`` each, interleaved:
   requests per second with narration over without. Target: at least 0.90.

    .venv/bin/python bench/narration.py                      # everything (several minutes)
    .venv/bin/python bench/narration.py --lessons 200        # a smaller generated course
    .venv/bin/python bench/narration.py --skip-generated     # demo courses and the page only
    .venv/bin/python bench/narration.py --page-only          # the lesson page only

Needs ``espeak-ng`` and ``opusenc`` (Debian: espeak-ng, opus-tools).

Figures (2 cores shared with other work, load average 4 to 14 during the runs, so wall
times are several times a quiet machine's; the CPU time of ``make_media.py --narration``
for the same 92.6 minutes of demo audio was 1 min 52 s user, 1.2 CPU-s a minute):

- demo courses: 33 lessons, 92.6 min of audio, 11.8 MB Opus (128 KB a minute; WAV would
  be 245 MB); import 1.27 s without narration, 614 s with: 6.6 s a lesson-minute, 483x.
- 2,000-lesson course: import 2.67 s; narration 1,181 s for 478 min of audio (53.8 MB):
  2.5 s a lesson-minute, 444x. Narration is the whole cost of such an import; it runs
  once per course version, in the sync process, never while a learner waits.
- lesson page with / without narration: 0.81 in the first run, which measured while both
  servers rebuilt their search indexes (fixed: the indexes are now built first); then
  111.9 / 120.8 requests/s = 0.93 and 90.2 / 90.5 = 1.00 in two runs.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import package_build  # noqa: E402  (beside this file: its course generator)
from starlette.testclient import TestClient  # noqa: E402

from content.importing.importer import import_package  # noqa: E402
from content.importing.narration import add_narration  # noqa: E402
from content.importing.store import ContentStore  # noqa: E402
from content.package.build import build_package  # noqa: E402
from content.package.speech import EspeakEngine, opus_installed  # noqa: E402
from server.catalog.search import search_indexer  # noqa: E402
from server.cli.demo import course_folders, publish_demo_courses  # noqa: E402
from server.cli.main import initialize  # noqa: E402
from server.core.settings import Settings, load_settings  # noqa: E402
from server.people import passwords  # noqa: E402
from server.web.app import create_app  # noqa: E402

PIN = "24681357"
LESSON = "/learn/courses/org.stepstone.demo.everyday-math/lessons/fractions-in-daily-life"


@dataclass(frozen=True)
class Imported:
    seconds: float
    audio_seconds: float
    lessons: int
    audio_bytes: int


def demo_sources(temp: Path, *, narration: bool = False) -> Path:
    """The demo courses, with or without the narration they ship."""
    sources = temp / ("courses-narrated" if narration else "courses")
    skip = shutil.ignore_patterns() if narration else shutil.ignore_patterns("narration")
    for folder in course_folders(ROOT / "courses"):
        shutil.copytree(folder, sources / folder.name, ignore=skip)
    return sources


def publish(data: Path, sources: Path, narration: str) -> tuple[Settings, Imported]:
    settings = load_settings(
        environ={"STEPSTONE_IMPORT_NARRATION": narration}, data_dir=data, demo=True
    )
    database = initialize(settings)
    start = time.perf_counter()
    report = publish_demo_courses(settings, database, sources)
    seconds = time.perf_counter() - start
    if report.status != "ok":
        raise SystemExit(f"publishing the demo courses failed: {report.message}")
    rows = database.query("SELECT path, size FROM assets WHERE path LIKE 'narration/%.opus'")
    audio = sum(int(r["size"]) for r in rows)
    flags = [r["review_flags"] for r in database.query("SELECT review_flags FROM course_versions")]
    made = _audio_seconds(flags)
    with database.write() as db:
        db.execute(
            "INSERT INTO users (role, facility_id, display_name, language, secret_hash,"
            " must_change_secret, created_at, updated_at) VALUES ('learner', 'B0001', 'Bench',"
            " 'en', ?, 0, '2026-01-01T00:00:00+00:00', '2026-01-01T00:00:00+00:00')",
            [passwords.hash_secret(PIN)],
        )
    indexer = search_indexer(settings, database)  # built now, not while pages are measured
    indexer.rebuild()
    indexer.service.close()
    database.close()
    return settings, Imported(seconds, made, len(rows), audio)


def _audio_seconds(review_flags: list[str]) -> float:
    """Seconds of audio made, from the review flags' "(N lessons, M min)"."""
    total = 0.0
    for text in review_flags:
        for flag in json.loads(text):
            found = re.search(r"lessons, ([0-9.]+) min\)", flag.get("detail", ""))
            if flag.get("kind") == "narration-made" and found:
                total += float(found.group(1)) * 60
    return total


def generated(temp: Path, lessons: int) -> tuple[float, Imported]:
    """Import a generated course, then narrate it: (import seconds, narration figures)."""
    src = temp / "generated"
    package_build.write_course(src, lessons, 1, 1)
    package = build_package(src, temp / "dist", progress=False)
    store = ContentStore(temp / "generated-store" / "store")
    start = time.perf_counter()
    staged = import_package(package, store)
    imported = time.perf_counter() - start
    start = time.perf_counter()
    result = add_narration(staged, store, EspeakEngine())
    seconds = time.perf_counter() - start
    if result.note:
        raise SystemExit(result.note)
    audio = sum(f.size for p, f in result.staged.files.items() if p.endswith(".opus"))
    return imported, Imported(seconds, result.seconds_of_audio, len(result.made), audio)


def page_rates(first: Settings, second: Settings, seconds: float) -> tuple[float, float]:
    """Requests per second of the lesson page in each data folder, measured in turns."""
    clients = []
    for settings in (first, second):
        client = TestClient(create_app(settings), base_url="http://127.0.0.1")
        client.__enter__()
        form = client.get("/signin").text
        token = form.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        client.post("/signin", data={"facility_id": "B0001", "pin": PIN, "csrf_token": token})
        page = client.get(LESSON)
        if page.status_code != 200:
            raise SystemExit(f"{LESSON}: {page.status_code}")
        clients.append(client)
    if "data-listen-audio" not in clients[0].get(LESSON).text:
        raise SystemExit("the narrated facility's lesson page has no narration")
    if "data-listen-audio" in clients[1].get(LESSON).text:
        raise SystemExit("the other facility's lesson page has narration")
    counts, spent = [0, 0], [0.0, 0.0]
    rounds = 10
    for _ in range(rounds):
        for index, client in enumerate(clients):
            start = time.perf_counter()
            while time.perf_counter() - start < seconds / rounds:
                client.get(LESSON)
                counts[index] += 1
            spent[index] += time.perf_counter() - start
    for client in clients:
        client.__exit__(None, None, None)
    return counts[0] / spent[0], counts[1] / spent[1]


def per_minute(made: Imported, extra_seconds: float) -> float:
    return extra_seconds / (made.audio_seconds / 60) if made.audio_seconds else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lessons", type=int, default=2000, help="lessons of the generated course")
    parser.add_argument("--seconds", type=float, default=20.0, help="page requests, per side")
    parser.add_argument("--skip-generated", action="store_true")
    parser.add_argument("--page-only", action="store_true")
    parser.add_argument("--dir", type=Path, default=None, help="work folder (default: /tmp)")
    args = parser.parse_args()
    if not EspeakEngine().installed() or not opus_installed():
        raise SystemExit("needs espeak-ng and opusenc: apt install espeak-ng opus-tools")
    with tempfile.TemporaryDirectory(dir=args.dir) as folder:
        temp = Path(folder)
        sources = demo_sources(temp)
        off_settings, off = publish(temp / "off", sources, "off")
        print(f"demo courses, narration off : {off.seconds:7.2f} s import", flush=True)
        if not args.page_only:
            _on_settings, on = publish(temp / "on", sources, "espeak-ng")
            extra = on.seconds - off.seconds
            print(
                f"demo courses, narration on  : {on.seconds:7.2f} s import, {on.lessons} lessons,"
                f" {on.audio_seconds / 60:.1f} min of audio, {on.audio_bytes / 1e6:.1f} MB Opus"
            )
            print(f"  seconds per lesson-minute : {per_minute(on, extra):7.2f}")
            print(f"  import on / off           : {on.seconds / off.seconds:7.2f}x", flush=True)
        if not args.skip_generated and not args.page_only:
            imported, made = generated(temp, args.lessons)
            print(f"{args.lessons}-lesson course import      : {imported:7.2f} s")
            print(
                f"{args.lessons}-lesson course narration   : {made.seconds:7.2f} s,"
                f" {made.audio_seconds / 60:.1f} min of audio, {made.audio_bytes / 1e6:.1f} MB"
            )
            print(f"  seconds per lesson-minute : {per_minute(made, made.seconds):7.2f}")
            print(f"  import with / without     : {(imported + made.seconds) / imported:7.2f}x")
        shipped_settings, _shipped = publish(
            temp / "shipped", demo_sources(temp, narration=True), "off"
        )
        with_rate, without_rate = page_rates(shipped_settings, off_settings, args.seconds)
        print(f"lesson page with narration  : {with_rate:7.1f} requests/s")
        print(f"lesson page without         : {without_rate:7.1f} requests/s")
        print(f"  with / without            : {with_rate / without_rate:7.2f} (target >= 0.90)")


if __name__ == "__main__":
    main()
