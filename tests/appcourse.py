"""A facility with interactive lessons, for the sandbox tests (in-process and in Chromium).

The apps are real files under ``tests/apps/``: ``counter`` (well-behaved: it says "done"
after three presses) and ``hostile`` (it tries everything an app must not do and reports
what got through). They are published like any course: built, signed, synced, approved.
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from pathlib import Path

from server.cli.demo import publish_demo_courses
from server.cli.main import initialize
from server.core.settings import load_settings
from server.people.accounts import Role
from tests.conftest import Templates, _build_migrated, copy_facility, make_user
from tests.content.conftest import COURSE, PNG, lesson, write_course

APPS = Path(__file__).parent / "apps"
COURSE_ID = "org.stepstone.demo.apps"
OTHER_COURSE_ID = "org.stepstone.demo.other"
COURSE_URL = f"/learn/courses/{COURSE_ID}"


def tiny_png() -> bytes:
    """A real 1×1 PNG (the format tests' PNG is only a signature: no browser draws it)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body)
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\xcc\x00")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def _app_files(name: str, folder: str) -> dict[str, bytes]:
    files = {
        f"{folder}/{p.relative_to(APPS / name)}": p.read_bytes()
        for p in sorted((APPS / name).rglob("*"))
        if p.is_file()
    }
    return {
        k: v.replace(b"__OTHER_SHA__", hashlib.sha256(PNG).hexdigest().encode())
        for k, v in files.items()
    }


def write_app_courses(courses: Path) -> None:
    """Two courses: one with the counter and the hostile app, and another one."""
    write_course(
        courses / "apps",
        course={
            "id": COURSE_ID,
            "title": "Activities",
            "lessons": [
                *COURSE["lessons"],
                "lessons/03-counter.md",
                "lessons/04-hostile.md",
                "lessons/05-signs.md",
                "lessons/06-interview.md",
                "lessons/07-ready.md",
            ],
        },
        lessons={
            "lessons/03-counter.md": lesson(
                "key: counter\ntitle: Count to three\nkind: html5\napp: ../apps/counter",
                "Press the button in the activity three times.\n",
            ),
            "lessons/04-hostile.md": lesson(
                "key: hostile\ntitle: Not what it seems\nkind: html5\napp: ../apps/hostile"
            ),
            "lessons/05-signs.md": lesson(
                "key: signs\ntitle: Safety signs\nkind: scorm\napp: ../scorm/signs"
            ),
            "lessons/07-ready.md": lesson(
                "key: ready\ntitle: Ready for the interview\nkind: h5p\napp: ../h5p/ready"
            ),
            "lessons/06-interview.md": lesson(
                "key: interview\ntitle: Interview practice\nkind: scorm\napp: ../scorm/interview"
            ),
        },
        files={
            **_app_files("h5p-tap", "h5p/ready"),
            **_app_files("scorm12", "scorm/signs"),
            **_app_files("scorm2004", "scorm/interview"),
            **_app_files("counter", "apps/counter"),
            **_app_files("hostile", "apps/hostile"),
            "apps/hostile/star.png": tiny_png(),
        },
    )
    write_course(courses / "other", course={"id": OTHER_COURSE_ID, "title": "Another course"})


def app_facility(root: Path) -> Path:
    """A data folder with both courses published and learner A100; returns it."""
    write_app_courses(root / "courses")
    data = root / "data"
    copy_facility(Templates.get("migrated", _build_migrated), data)
    settings = load_settings(environ={}, data_dir=data, demo=True)
    database = initialize(settings)
    report = publish_demo_courses(settings, database, root / "courses")
    assert report.status == "ok", report.message
    make_user(database, Role.LEARNER, "A100", "Alex Learner")
    database.close()
    return data
