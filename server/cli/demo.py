"""The demo facility: the courses in `courses/`, published by a demo NGO and synced in.

The demo NGO's keys are made fresh in the data folder at first run. The publisher row is
marked `demo`, and demo publishers are trusted only while the server runs in demo mode
(`STEPSTONE_DEMO`), so a demo key can never feed a real facility.
"""

from __future__ import annotations

from pathlib import Path

from content.package.build import build_package
from content.tuf.fingerprint import root_fingerprint
from content.tuf.repository import add_packages, init_repository
from server.catalog import trust
from server.catalog.search import search_hooks
from server.catalog.sync import RunReport, sync_publisher
from server.core.db import Database
from server.core.settings import Settings
from server.people.audit import Actor

DEMO_PUBLISHER = "stepstone-demo"
DEMO_NAMESPACE = "org.stepstone.demo"
SOURCE_COURSES = Path(__file__).resolve().parents[2] / "courses"


def course_folders(courses: Path) -> list[Path]:
    return sorted(p for p in courses.iterdir() if (p / "course.yaml").is_file())


def publish_demo_courses(settings: Settings, database: Database, courses: Path) -> RunReport:
    """Build, sign, trust and sync the demo courses; they are auto-approved."""
    actor = Actor.system("demo")
    repo = settings.data_dir / "demo-ngo"
    init_repository(repo, DEMO_PUBLISHER, DEMO_NAMESPACE)
    built = settings.data_dir / "demo-ngo-packages"
    built.mkdir(exist_ok=True)
    packages = [build_package(folder, built) for folder in course_folders(courses)]
    add_packages(repo, packages)
    published = repo / "published"
    root = (published / "metadata" / "1.root.json").read_bytes()
    publisher = trust.add_publisher(
        database,
        actor,
        DEMO_PUBLISHER,
        DEMO_NAMESPACE,
        root,
        confirmed=root_fingerprint(root).root,  # made here, a moment ago: nothing to compare
        display_name="Stepstone Demo NGO (demo key)",
        auto_publish=True,
        demo=True,
    )
    trust.add_source(database, actor, publisher, "folder", str(published.resolve()))
    hooks = search_hooks(settings, database)
    return sync_publisher(database, settings, hooks, publisher, actor, "demo")
