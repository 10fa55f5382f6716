"""H5P content: what an ``h5p`` lesson's ``h5p.json`` says, and the libraries it needs.

An ``.h5p`` file, unzipped into the course, is a folder with ``h5p.json`` (the title,
the main library and the libraries it preloads), ``content/content.json`` (the content's
parameters) and one folder per bundled library, ``<machineName>-<major>.<minor>/`` with
its ``library.json``. The player (h5p-standalone) loads exactly these, so lint and the
import check that they are all there.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

MANIFEST = "h5p.json"
CONTENT = "content/content.json"
MAX_JSON_BYTES = 8 * 1024 * 1024


class H5pError(ValueError):
    """The folder is not H5P content the player can run; the message says why."""


@dataclass(frozen=True)
class H5pContent:
    title: str
    main_library: str
    libraries: tuple[str, ...]  # folders that must hold a library.json


def _library_folder(item: Any) -> str:
    if not isinstance(item, dict):
        raise H5pError(f"{MANIFEST}: each preloaded dependency must be an object")
    name = item.get("machineName")
    major, minor = str(item.get("majorVersion")), str(item.get("minorVersion"))
    if not isinstance(name, str) or not name or "/" in name or name.startswith("."):
        raise H5pError(f"{MANIFEST}: a dependency has no valid machineName")
    try:
        return f"{name}-{int(major)}.{int(minor)}"
    except (TypeError, ValueError):
        raise H5pError(f"{MANIFEST}: '{name}' needs a majorVersion and minorVersion") from None


def read_h5p_json(data: bytes) -> H5pContent:
    """Read ``h5p.json``; raises :class:`H5pError` naming the problem."""
    if len(data) > MAX_JSON_BYTES:
        raise H5pError(f"{MANIFEST} is larger than {MAX_JSON_BYTES:,} bytes")
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise H5pError(f"{MANIFEST} is not valid JSON: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("mainLibrary"), str):
        raise H5pError(f"{MANIFEST} must name its 'mainLibrary'")
    deps = doc.get("preloadedDependencies")
    if not isinstance(deps, list) or not deps:
        raise H5pError(f"{MANIFEST} must list its 'preloadedDependencies'")
    libraries = tuple(sorted({_library_folder(item) for item in deps}))
    if not any(folder.startswith(doc["mainLibrary"] + "-") for folder in libraries):
        raise H5pError(f"{MANIFEST}: the main library is not among the preloaded dependencies")
    return H5pContent(str(doc.get("title", ""))[:200], doc["mainLibrary"], libraries)


def missing_files(content: H5pContent, present: set[str]) -> list[str]:
    """The files the player will ask for that the folder does not hold."""
    wanted = [CONTENT, *(f"{folder}/library.json" for folder in content.libraries)]
    return [name for name in wanted if name not in present]
