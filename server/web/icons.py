"""Icons: our own SVG files in `static/icons/`, drawn inline in the page.

Inline rather than `<img>` so that an icon takes the colour of the text around it
(`currentColor`) and costs no request; never an icon font or emoji, which a cheap tablet
may lack. Icons are decoration beside a word, so they are hidden from screen readers.
"""

from __future__ import annotations

import re
from pathlib import Path

from markupsafe import Markup

_NAME = re.compile(r"^[a-z][a-z0-9-]{0,40}$")
_OPENING = "<svg "


class Icons:
    """`icons("home")` is the file `home.svg` as inline, hidden SVG markup."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._cache: dict[str, str] = {}

    def __call__(self, name: str, size: int = 24) -> Markup:
        svg = self._cache.get(name)
        if svg is None:
            svg = self._cache[name] = self._read(name)
        attributes = f'class="icon" width="{int(size)}" height="{int(size)}"'
        # Our own file from static/, not text a person or a package wrote.
        return Markup(svg.replace(_OPENING, f"{_OPENING}{attributes} ", 1))  # noqa: S704

    def exists(self, name: str) -> bool:
        return bool(_NAME.match(name)) and (self.root / f"{name}.svg").is_file()

    def _read(self, name: str) -> str:
        # A name comes from our templates or a category from the course schema, never
        # straight from a request; the pattern still keeps it inside the folder.
        if not self.exists(name):
            raise FileNotFoundError(f"no icon named {name!r}")
        text = (self.root / f"{name}.svg").read_text(encoding="utf-8").strip()
        if not text.startswith(_OPENING):
            raise ValueError(f"icon {name!r} does not start with an <svg> element")
        return text.replace(_OPENING, f'{_OPENING}aria-hidden="true" focusable="false" ', 1)
