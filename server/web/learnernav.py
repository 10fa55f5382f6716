"""The learner's bottom navigation: a few large tabs, each an icon and a word.

Learners use tablets held upright, with a thumb: the tabs sit at the bottom of every
learner page, each at least 48 px high, and the one the page belongs to is marked
(`aria-current="page"`, and by shape and weight, not colour alone). Staff pages keep the
menu at the top. A new learner section is one more `Tab` here.
"""

from __future__ import annotations

from dataclasses import dataclass

from server.core.errors import N_


@dataclass(frozen=True)
class Tab:
    key: str
    href: str
    label: str  # translated when drawn
    icon: str  # a file in static/icons/
    prefixes: tuple[str, ...]  # the paths under this tab, besides `href` itself


TABS = (
    Tab("home", "/learn", N_("Home"), "home", ()),
    Tab("courses", "/learn/catalog", N_("Courses"), "courses", ("/learn/courses/",)),
    Tab("library", "/library", N_("Library"), "library", ("/library/",)),
    Tab("search", "/search", N_("Search"), "search", ()),
    Tab(
        "me",
        "/account",
        N_("Me"),
        "me",
        (
            "/account/",
            "/learn/plan",
            "/learn/transcript",
            "/learn/certificates/",
            "/learn/passport",
            "/learn/take-with-me",
        ),
    ),
)


def current_tab(path: str) -> str:
    """The key of the tab a learner page belongs to ("" when none does)."""
    path = path.rstrip("/") or "/"
    for tab in TABS:
        if path == tab.href or path.startswith(tab.prefixes):
            return tab.key
    return ""
