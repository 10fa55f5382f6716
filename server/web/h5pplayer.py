"""The H5P player (h5p-standalone): whether it is installed, and its files in the sandbox.

h5p-standalone is not Python: `npm ci --prefix frontend` copies its built files into
`static/vendor/h5p/` (git-ignored), as for pdf.js. An H5P lesson runs it inside the
sandbox, under the lesson's own address (`__stepstone__/h5p.html` and `__stepstone__/h5p/`),
so the player's files fall under the same policy as the content's. Without the step, an
H5P lesson opens with a plain message naming it, and everything else works.
"""

from __future__ import annotations

from pathlib import Path

VENDOR = "vendor/h5p"
FILES = ("main.bundle.js", "frame.bundle.js", "styles/h5p.css")
INSTALL_STEP = "npm ci --prefix frontend"


def installed(static_dir: Path) -> bool:
    """True when every file the player loads first is in the static folder."""
    return all((static_dir / VENDOR / name).is_file() for name in FILES)


def player_file(static_dir: Path, path: str) -> Path | None:
    """The file served at ``__stepstone__/<path>`` of an H5P lesson's address, or None:
    the player page, its glue script, and the vendored player's own files (contained in
    its folder)."""
    fixed = {
        "h5p.html": static_dir / "h5p" / "player.html",
        "h5p-player.js": static_dir / "js" / "h5p-player.js",
    }
    if path in fixed:
        return fixed[path]
    if not path.startswith("h5p/"):
        return None
    root = (static_dir / VENDOR).resolve()
    found = (root / path.removeprefix("h5p/")).resolve()
    return found if found.is_relative_to(root) and found.is_file() else None
