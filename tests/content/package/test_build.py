"""Package build: deterministic bytes, manifest contents, atomicity, verification."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tarfile
from pathlib import Path

import pytest

from content.errors import LintFailed, PackageError
from content.package.build import build_package
from content.package.reader import inspect_package, read_package
from tests.content.conftest import QUIZ, WORKBOOK, WriteCourse, lesson


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_build_layout_and_manifest(course_dir: Path, tmp_path: Path) -> None:
    package = build_package(course_dir, tmp_path / "dist")
    assert package.name == "org.example.test-v1.tar"
    with tarfile.open(package) as tar:
        members = tar.getmembers()
        assert [m.name for m in members] == [
            "manifest.json",
            "lessons/intro.html",
            "lessons/video.html",
            "media/pic.png",
            "media/v.en.vtt",
            "media/v.webm",
        ]
        assert tar.format == tarfile.PAX_FORMAT or tar.pax_headers == {}
        for m in members:
            assert (m.mtime, m.uid, m.gid, m.uname, m.gname, m.mode, m.isreg()) == (
                0,
                0,
                0,
                "",
                "",
                0o644,
                True,
            )
    info = inspect_package(package)
    lessons = {lesson["key"]: lesson for lesson in info.manifest["lessons"]}
    assert lessons["video"]["media"] == "media/v.webm"
    assert lessons["video"]["captions"][0]["src"] == "media/v.en.vtt"
    assert lessons["video"]["poster"] == "media/pic.png"
    assert lessons["intro"]["sections"][0]["anchor"] == "welcome"
    assert {f.path: f.media_type for f in info.files}["media/v.webm"] == "video/webm"
    assert info.verified and info.course_id == "org.example.test" and info.version == 1


def test_build_is_byte_identical(course_dir: Path, tmp_path: Path) -> None:
    first = build_package(course_dir, tmp_path / "a")
    second = build_package(course_dir, tmp_path / "b")
    assert first.read_bytes() == second.read_bytes()


def test_build_from_copy_with_other_mtimes_is_identical(course_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "elsewhere" / "renamed-folder"
    shutil.copytree(course_dir, copy)
    for path in copy.rglob("*"):
        os.utime(path, (1_000_000, 1_000_000))
        if path.is_file():
            path.chmod(0o600)
    first = build_package(course_dir, tmp_path / "a")
    second = build_package(copy, tmp_path / "b")
    assert digest(first) == digest(second)


def test_quiz_and_workbook_in_manifest(make_course: WriteCourse, tmp_path: Path) -> None:
    src = make_course(
        course={"lessons": ["lessons/q.md", "lessons/w.md"]},
        lessons={"lessons/q.md": QUIZ, "lessons/w.md": WORKBOOK},
    )
    manifest = read_package(build_package(src, tmp_path / "dist")).manifest
    q, w = manifest["lessons"]
    assert q["quiz"]["questions"][1]["choices"] == [
        {"text": "a", "correct": True, "feedback": "Yes"},
        {"text": "b", "correct": False},
    ]
    assert q["quiz"]["assessment"] == "post"
    assert w["workbook"]["prompts"][1]["options"] == ["a", "b"]
    assert [f["path"] for f in manifest["files"]] == ["lessons/book.html", "lessons/check.html"]


def test_review_flags(make_course: WriteCourse, tmp_path: Path) -> None:
    intro = lesson(
        "key: intro\ntitle: I\nkind: reading", "[x](https://a.example)\n<b onclick=x>b</b>\n"
    )
    video = lesson("key: video\ntitle: V\nkind: video\nmedia: ../media/v.webm")
    src = make_course(lessons={"lessons/01-intro.md": intro, "lessons/02-video.md": video})
    flags = read_package(build_package(src, tmp_path / "d")).manifest["review_flags"]
    assert [f["kind"] for f in flags] == ["external-link", "sanitized", "missing-captions"]


@pytest.mark.parametrize(
    "change",
    [
        {"course_yaml": "id: [broken\n"},
        {"files": {"media/pic.png": b"<html>"}},
        {"course": {"lessons": ["lessons/01-intro.md", "lessons/01-intro.md"]}},
        {"course": {"lessons": ["../../etc/passwd.md"]}},
    ],
)
def test_refused_build_leaves_nothing(
    make_course: WriteCourse, tmp_path: Path, change: dict[str, object]
) -> None:
    src = make_course(**change)
    dist = tmp_path / "dist"
    with pytest.raises(LintFailed) as caught:
        build_package(src, dist)
    assert caught.value.problems
    assert not dist.exists() or list(dist.iterdir()) == []


def test_failure_while_writing_leaves_nothing(
    course_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*_args: object, **_kwargs: object) -> None:
        raise PackageError("disk full")

    monkeypatch.setattr("content.package.tarwriter.TarWriter.close", explode)
    dist = tmp_path / "dist"
    with pytest.raises(PackageError):
        build_package(course_dir, dist)
    assert list(dist.iterdir()) == []


def _read(tar: tarfile.TarFile, member: tarfile.TarInfo | str) -> bytes:
    stream = tar.extractfile(member)
    assert stream is not None, f"{member} is not a file"
    return stream.read()


def _rewrite(package: Path, edit: dict[str, bytes]) -> None:
    """Rewrite a package replacing member contents (keeping the manifest)."""
    with tarfile.open(package) as tar:
        members = [(m, _read(tar, m)) for m in tar.getmembers()]
    with tarfile.open(package, "w", format=tarfile.PAX_FORMAT) as out:
        for member, data in members:
            data = edit.get(member.name, data)
            member.size = len(data)
            out.addfile(member, io.BytesIO(data))


def test_inspect_detects_tampered_file(course_dir: Path, tmp_path: Path) -> None:
    package = build_package(course_dir, tmp_path / "dist")
    _rewrite(package, {"lessons/intro.html": b"<script>alert(1)</script>".ljust(200)})
    read_package(package)  # the manifest alone is still fine
    with pytest.raises(PackageError, match=r"lessons/intro\.html"):
        inspect_package(package)


def test_inspect_detects_manifest_lies(course_dir: Path, tmp_path: Path) -> None:
    package = build_package(course_dir, tmp_path / "dist")
    with tarfile.open(package) as tar:
        manifest = json.loads(_read(tar, "manifest.json"))
    manifest["files"][0]["sha256"] = "0" * 64
    _rewrite(package, {"manifest.json": json.dumps(manifest).encode()})
    with pytest.raises(PackageError, match=r"does not match its SHA-256"):
        inspect_package(package)


def test_inspect_rejects_extra_and_unsafe_members(course_dir: Path, tmp_path: Path) -> None:
    package = build_package(course_dir, tmp_path / "dist")
    with tarfile.open(package, "a") as tar:
        info = tarfile.TarInfo("../evil.sh")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"hi"))
    with pytest.raises(PackageError, match=r"'\.\./evil\.sh' is not an allowed regular file"):
        inspect_package(package)


def test_inspect_rejects_non_packages(tmp_path: Path) -> None:
    junk = tmp_path / "junk.tar"
    junk.write_bytes(b"not a tar at all" * 100)
    with pytest.raises(PackageError):
        inspect_package(junk)
    with tarfile.open(tmp_path / "nomanifest.tar", "w") as tar:
        info = tarfile.TarInfo("lessons/a.html")
        tar.addfile(info, io.BytesIO(b""))
    with pytest.raises(PackageError, match=r"first member of a package must be manifest\.json"):
        inspect_package(tmp_path / "nomanifest.tar")
