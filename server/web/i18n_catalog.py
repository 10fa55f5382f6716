"""Keep the translation catalogs in step with the code (a maintainer's tool).

    python -m server.web.i18n_catalog update   # re-extract, merge into every .po
    python -m server.web.i18n_catalog check    # exit 1 if a message lacks a translation

Messages come from templates (`_()`, `gettext`, `ngettext`) and Python (`N_()`).
"""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

# Messages come from every package of the server; the catalogs live with the web app.
PACKAGE_DIR = Path(__file__).parent.parent
TRANSLATIONS = Path(__file__).parent / "translations"
METHODS = [
    ("**/templates/**.html", "jinja2.ext:babel_extract"),
    ("**.py", "python"),
]
OPTIONS = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n", "trimmed": "true"}}
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}


def extract() -> Catalog:
    catalog = Catalog(project="Stepstone", msgid_bugs_address="", charset="utf-8")
    for filename, lineno, message, comments, context in extract_from_dir(
        PACKAGE_DIR, METHODS, OPTIONS, KEYWORDS, strip_comment_tags=True
    ):
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return catalog


def po_path(language: str) -> Path:
    return TRANSLATIONS / language / "LC_MESSAGES" / "messages.po"


def languages() -> list[str]:
    return sorted(p.name for p in TRANSLATIONS.iterdir() if (p / "LC_MESSAGES").is_dir())


def update() -> None:
    template = extract()
    with (TRANSLATIONS / "messages.pot").open("wb") as handle:
        write_po(handle, template, omit_header=False, sort_output=True, include_lineno=False)
    for language in languages():
        path = po_path(language)
        with path.open("rb") as handle:
            catalog = read_po(handle, locale=language)
        catalog.update(template, no_fuzzy_matching=True)
        with path.open("wb") as handle:
            write_po(handle, catalog, sort_output=True, include_lineno=False, ignore_obsolete=True)


def missing(language: str) -> list[str]:
    """Messages in the code with no (or only a fuzzy) translation in `language`."""
    with po_path(language).open("rb") as handle:
        catalog = read_po(handle, locale=language)
    gaps = []
    for message in extract():
        if not message.id:
            continue
        found = catalog.get(message.id)
        if (
            found is None
            or found.fuzzy
            or not found.string
            or (isinstance(found.string, tuple) and not all(found.string))
        ):
            gaps.append(message.id if isinstance(message.id, str) else message.id[0])
    return gaps


def main(argv: list[str]) -> int:
    if argv[1:] == ["update"]:
        update()
        return 0
    if argv[1:] == ["check"]:
        gaps = {lang: missing(lang) for lang in languages()}
        for lang, ids in gaps.items():
            for msgid in ids:
                print(f"{lang}: untranslated: {msgid}")
        return 1 if any(gaps.values()) else 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
