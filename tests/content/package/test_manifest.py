"""The manifest check: the fast (compiled) validator never lets through what the
descriptive one refuses, and a refusal still names the field."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from content.errors import PackageError
from content.format.validate import is_valid, validator
from content.package.build import build_package
from content.package.manifest import validate_manifest
from content.package.reader import read_package
from tests.content.conftest import QUIZ, WORKBOOK, write_course

# What each value is replaced with in turn: every JSON type, empty and odd strings.
REPLACEMENTS: list[Any] = [None, True, 0, -1, 1.5, "", "x", "../x", "a/../b", [], {}, "x" * 1100]


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A manifest using every part of the schema: reading, video with captions and a
    poster, quiz, workbook, media files and a review flag."""
    root = tmp_path_factory.mktemp("schema")
    src = write_course(
        root / "course",
        course={
            "lessons": [
                "lessons/01-intro.md",
                "lessons/02-video.md",
                "lessons/q.md",
                "lessons/w.md",
            ]
        },
        lessons={"lessons/q.md": QUIZ, "lessons/w.md": WORKBOOK},
    )
    data = read_package(build_package(src, root / "dist")).manifest
    data["review_flags"].append({"kind": "external-link", "lesson": "intro", "detail": "x"})
    return data


def mutations(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    """(where, how) for every change to try: each value replaced, each key dropped, an
    unknown key added to each object, a newline after each string."""
    if path:
        for value in REPLACEMENTS:
            yield path, ("set", value)
    if isinstance(node, str):
        yield path, ("set", node + "\n")
    if isinstance(node, dict):
        yield path, ("add", "unexpected")
        for key, child in node.items():
            yield path, ("drop", key)
            yield from mutations(child, (*path, key))
    if isinstance(node, list):
        for index, child in enumerate(node):
            yield from mutations(child, (*path, index))


def mutated(data: dict[str, Any], path: tuple[Any, ...], how: tuple[str, Any]) -> Any:
    result = copy.deepcopy(data)
    parent: Any = result
    for step in path[:-1] if how[0] == "set" else path:
        parent = parent[step]
    action, value = how
    if action == "set":
        parent[path[-1]] = value
    elif action == "drop":
        del parent[value]
    else:
        parent[value] = 1
    return result


def test_the_fast_check_agrees_with_the_descriptive_one(manifest: dict[str, Any]) -> None:
    assert is_valid("manifest", manifest)
    slow = validator("manifest")
    tried = stricter = 0
    for path, how in mutations(manifest):
        candidate = mutated(manifest, path, how)
        fast_ok = is_valid("manifest", candidate)
        slow_ok = not any(True for _ in slow.iter_errors(candidate))
        tried += 1
        if fast_ok:
            assert slow_ok, f"the fast check let through {how} at {path}"
        elif slow_ok:
            # The only allowed difference: a pattern's "$" in Python's re also matches
            # before a final newline; in the compiled (ECMA-262) check it does not.
            assert isinstance(how[1], str) and how[1].endswith("\n"), (path, how)
            stricter += 1
    assert tried > 1000
    assert stricter > 0  # the newline case was reached, so the comparison above is live


def test_a_refused_manifest_names_the_field(manifest: dict[str, Any]) -> None:
    bad = mutated(manifest, ("lessons", 2, "quiz", "pass_mark"), ("set", 120))
    with pytest.raises(PackageError, match=r"lessons/2/quiz/pass_mark: 120 is greater than"):
        validate_manifest(bad)


def test_a_newline_only_the_fast_check_sees_is_still_named(manifest: dict[str, Any]) -> None:
    bad = mutated(manifest, ("course", "id"), ("set", manifest["course"]["id"] + "\n"))
    with pytest.raises(PackageError, match=r"course/id: .* does not match"):
        validate_manifest(bad)
