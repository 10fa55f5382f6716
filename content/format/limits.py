"""Size and shape limits for course sources and packages.

They are generous enough for a 2,000-lesson course with 1 GiB of media, and small enough
that a hostile or broken package cannot exhaust a facility server's disk, memory or inodes.
``docs/content-format.md`` lists the same numbers; keep the two in step.
"""

from __future__ import annotations

from dataclasses import dataclass

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB


@dataclass(frozen=True)
class Limits:
    """Every limit in one place, so tests can shrink them."""

    max_lessons: int = 5_000
    max_files: int = 20_000
    max_file_bytes: int = 2 * GIB
    max_package_bytes: int = 8 * GIB
    max_depth: int = 8
    max_name_bytes: int = 255
    max_path_bytes: int = 1_024
    max_course_yaml_bytes: int = 1 * MIB
    max_lesson_bytes: int = 4 * MIB
    max_svg_bytes: int = 5 * MIB
    max_captions_bytes: int = 10 * MIB
    max_cover_bytes: int = 2 * MIB
    max_manifest_bytes: int = 256 * MIB
    max_app_files: int = 10_000
    max_app_bytes: int = 1 * GIB
    # A reference collection's ZIM file: one per package, counted apart from the rest.
    max_collection_bytes: int = 256 * GIB

    @property
    def max_signed_package_bytes(self) -> int:
        """The most a whole package file may hold: the files, one ZIM, the manifest (and
        tar headers, well inside the manifest's share). A facility's sync refuses a
        signed target above it before fetching a byte."""
        return self.max_package_bytes + self.max_collection_bytes + self.max_manifest_bytes

    def max_member_bytes(self, path: str) -> int:
        """The most one file at ``path`` may hold: a ZIM file has its own limit."""
        return self.max_collection_bytes if path.endswith(".zim") else self.max_file_bytes


DEFAULT_LIMITS = Limits()
