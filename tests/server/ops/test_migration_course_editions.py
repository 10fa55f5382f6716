"""Migration 0019: covers and editions as columns, filled for versions imported before."""

from __future__ import annotations

import json
from pathlib import Path

from server.core.db import Database
from server.ops.migrations import apply_migrations, migrations


def test_versions_imported_before_get_their_cover_and_editions(tmp_path: Path) -> None:
    database = Database(tmp_path / "old" / "stepstone.db")
    database.path.parent.mkdir()
    course = {"id": "org.example.a", "title": "A", "language": "en"}
    manifests = {
        "with": {
            "course": course
            | {
                "cover": {"src": "media/cover.png", "alt": "A desk"},
                "editions": {"es": "org.example.a-es"},
            }
        },
        "without": {"course": course},
        "broken": "{not json",
    }
    with database.write() as db:
        migrations.apply(db, stop_before="0019_course_editions")
        db.execute(
            "INSERT INTO publishers (name, display_name, namespace, trusted_root, created_at)"
            " VALUES ('p', 'P', 'org.example', x'00', '2026-01-01T00:00:00Z')"
        )
        db.execute(
            "INSERT INTO courses (course_id, publisher_id, high_water_version)"
            " VALUES ('org.example.a', 1, 3)"
        )
        for version, (name, manifest) in enumerate(manifests.items(), start=1):
            text = manifest if isinstance(manifest, str) else json.dumps(manifest)
            db.execute(
                "INSERT INTO course_versions (course_pk, version, status, title, summary,"
                " category, language, level, estimated_hours, manifest, package_sha256,"
                " imported_at) VALUES (1, ?, 'approved', ?, '', 'education', 'en',"
                " 'beginner', 1, ?, '', '2026-01-01T00:00:00Z')",
                [version, name, text],
            )
    assert "0019_course_editions" in apply_migrations(database)
    rows = database.query("SELECT title, cover, cover_alt, editions FROM course_versions")
    found = {
        row["title"]: (row["cover"], row["cover_alt"], json.loads(row["editions"])) for row in rows
    }
    assert found == {
        "with": ("media/cover.png", "A desk", {"es": "org.example.a-es"}),
        "without": (None, "", {}),
        "broken": (None, "", {}),
    }
    database.close()
