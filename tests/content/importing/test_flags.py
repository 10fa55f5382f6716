"""Review flags: one test per kind, on a package built and imported for real, each flag
placed at the exact lesson part, PDF page or captions line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pypdf
import pytest

from content.importing.fileflags import confusable_flags, pdf_flags, skeleton
from content.importing.flags import TextPlace, WatchList, manifest_texts, text_flags
from content.importing.importer import import_package
from content.importing.store import ContentStore
from content.package.build import build_package
from tests.content.conftest import PNG, QUIZ, lesson, write_course
from tests.content.pdfs import tiny_pdf

CYRILLIC_I = "\u0456"
CONTACTS = lesson(
    "key: contacts\ntitle: Contacts\nkind: reading",
    "# Reach out\n\nVisit help.example.org or www.example.net/page, write to "
    "dee@example.org or call 555-201-3344.\n\n"
    "## Not addresses\n\nSee e.g. the file notes.txt, version 3.5, Dr.Smith and i.e. this.\n\n"
    f"![Two pictures](../media/pic.png) ![alike](../media/p{CYRILLIC_I}c.png)\n\n"
    "![A drawing](../media/drawing.svg)\n\n"
    '<span onclick="steal()">Tap</span>\n',
)
PDF_LESSON = lesson("key: handout\ntitle: Handout\nkind: pdf\nmedia: ../media/handout.pdf")
HANDOUT = tiny_pdf(
    "Order at shop.example.com",
    catalog="/OpenAction 5 0 R",
    page="/Annots [6 0 R]",
    extra=(
        "<< /S /JavaScript /JS (app.alert(1)) >>",
        "<< /Type /Annot /Subtype /Link /Rect [0 0 9 9]"
        " /A << /S /URI /URI (http://track.example.org/x) >> >>",
    ),
)
CAPTIONS = (
    b"WEBVTT\n\n00:00.000 --> 00:02.000\nHello <b>there</b>\n\n"
    b'00:02.000 --> 00:04.000\n<a href="x">Tap</a> or visit talk.example.com\n'
)
DRAWING = b'<svg xmlns="http://www.w3.org/2000/svg"><circle r="2"/></svg>'
QUIZ_WITH_ADDRESS = QUIZ.replace("explanation: Why", 'explanation: "See quiz.example.com"')


@pytest.fixture(scope="module")
def flags(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """The flags of one package holding one of each thing to flag, built and imported."""
    base = tmp_path_factory.mktemp("flags")
    lessons = ["lessons/01-intro.md", "lessons/02-video.md", "lessons/03-contacts.md"]
    course = write_course(
        base / "course",
        course={"lessons": [*lessons, "lessons/04-handout.md", "lessons/05-check.md"]},
        lessons={
            "lessons/03-contacts.md": CONTACTS,
            "lessons/04-handout.md": PDF_LESSON,
            "lessons/05-check.md": QUIZ_WITH_ADDRESS,
        },
        files={
            f"media/p{CYRILLIC_I}c.png": PNG,
            "media/drawing.svg": DRAWING,
            "media/handout.pdf": HANDOUT,
            "media/v.en.vtt": CAPTIONS,
        },
    )
    package = build_package(course, base / "dist", progress=False)
    return import_package(package, ContentStore(base / "store")).review_flags


def of_kind(flags: list[dict[str, Any]], kind: str) -> list[tuple[str, str]]:
    return sorted((f["where"], f["detail"]) for f in flags if f["kind"] == kind)


def test_a_flag_in_a_file_names_the_lesson_that_uses_it(flags: list[dict[str, Any]]) -> None:
    lessons = {f["where"].split("#")[0]: f["lesson"] for f in flags if f["where"]}
    assert lessons["media/handout.pdf"] == "handout"
    assert lessons["media/v.en.vtt"] == "video"
    assert lessons["lessons/contacts.html"] == "contacts"


def test_web_addresses_are_flagged_where_they_are_written(flags: list[dict[str, Any]]) -> None:
    assert of_kind(flags, "web-address") == [
        ("lessons/check.html#question-q3", "quiz.example.com"),
        ("lessons/contacts.html#reach-out", "help.example.org"),
        ("lessons/contacts.html#reach-out", "www.example.net/page"),
        ("media/handout.pdf#page=1", "shop.example.com"),
        ("media/v.en.vtt#line=7", "talk.example.com"),
    ]


def test_email_addresses_and_phone_numbers(flags: list[dict[str, Any]]) -> None:
    assert of_kind(flags, "email") == [("lessons/contacts.html#reach-out", "dee@example.org")]
    assert of_kind(flags, "phone") == [("lessons/contacts.html#reach-out", "555-201-3344")]


def test_every_svg(flags: list[dict[str, Any]]) -> None:
    assert of_kind(flags, "svg") == [("media/drawing.svg", "media/drawing.svg")]


def test_pdf_actions_name_the_page_and_what_they_do(flags: list[dict[str, Any]]) -> None:
    assert of_kind(flags, "pdf-action") == [
        ("media/handout.pdf", "when the document opens: runs JavaScript (JavaScript)"),
        (
            "media/handout.pdf#page=1",
            "a link or field: opens a web address (URI): http://track.example.org/x",
        ),
    ]


def test_html_in_captions_names_the_line(flags: list[dict[str, Any]]) -> None:
    # <b> is a WebVTT cue tag; <a> is HTML.
    assert of_kind(flags, "caption-html") == [("media/v.en.vtt#line=7", "HTML in captions: <a>")]


def test_look_alike_file_names(flags: list[dict[str, Any]]) -> None:
    twin = f"media/p{CYRILLIC_I}c.png"
    assert of_kind(flags, "confusable-name") == [(twin, f"'{twin}' looks like 'media/pic.png'")]


def test_what_the_sanitizer_removed_is_one_flag_for_the_lesson(
    flags: list[dict[str, Any]],
) -> None:
    [(where, detail)] = of_kind(flags, "sanitized")
    assert where == "lessons/contacts.html" and "onclick" in detail


def test_every_flag_has_a_place(flags: list[dict[str, Any]]) -> None:
    assert all(f["where"] for f in flags if f["kind"] != "missing-captions")


def test_addresses_in_every_lesson_text() -> None:
    manifest = {
        "lessons": [
            {
                "key": "book",
                "title": "Book",
                "summary": "From www.example.com",
                "workbook": {"prompts": [{"key": "p", "prompt": "Write to me@example.org"}]},
            }
        ]
    }
    found = [(f["kind"], f["where"]) for f in text_flags(manifest_texts(manifest))]
    assert found == [
        ("web-address", "lessons/book.html"),
        ("email", "lessons/book.html#prompt-p"),
    ]


@pytest.mark.parametrize(
    "text",
    ["e.g. this", "notes.txt", "3.5 hours", "Dr.Smith", "i.e.", "v1.2.3", "a...b", "mr.ok"],
)
def test_ordinary_dotted_words_are_not_addresses(text: str) -> None:
    assert text_flags([TextPlace("x", "lessons/x.html", text)]) == []


@pytest.mark.parametrize(
    "text",
    ["https://evil.example/x?a=1", "ftp://files.example", "WWW.Example.COM", "x.onion", "a.co/b"],
)
def test_any_written_address_is_flagged(text: str) -> None:
    [found] = text_flags([TextPlace("x", "lessons/x.html", f"Go to {text}.")])
    assert found["kind"] == "web-address" and found["detail"] == text


def test_watch_list_matches_whole_words_ignoring_case_and_accents() -> None:
    watch = WatchList(["Cártel", "la  eme", "pruno"])
    assert watch.phrases == ["Cártel", "la eme", "pruno"]
    assert watch.matches("the CARTEL and the cartel") == ["Cártel"]
    assert watch.matches("LA\nEME is here") == ["la eme"]
    assert watch.matches("cartels, cartelería, plano, prunos") == []
    # The same word written with a combining accent (NFD) is the same word.
    assert watch.matches("Ca\u0301rtel") == ["Cártel"]
    assert WatchList([]).matches("anything") == []


def test_watch_list_flags_name_the_place() -> None:
    places = [TextPlace("l", "lessons/l.html#a", "brew pruno"), TextPlace("l", "x", "none")]
    assert WatchList(["Pruno"]).flags(places) == [
        {
            "kind": "watch-word",
            "lesson": "l",
            "where": "lessons/l.html#a",
            "detail": "Pruno",
            "source": "watch-list",
        }
    ]


def test_skeletons_of_look_alike_names() -> None:
    assert skeleton("media/rep0rt.pdf") == skeleton("media/report.pdf")
    assert skeleton("media/r\u0435port.pdf") == skeleton("media/report.pdf")  # Cyrillic е
    assert skeleton("media/ｒｅｐｏｒｔ.pdf") == skeleton("media/report.pdf")  # fullwidth
    assert skeleton("media/re\u200bport.pdf") == skeleton("media/report.pdf")  # zero width
    assert skeleton("media/modern.pdf") == skeleton("media/modem.pdf")
    assert skeleton("media/report.pdf") != skeleton("media/resort.pdf")
    assert confusable_flags(["media/a.png", "media/b.png"]) == []


@pytest.mark.parametrize(
    "name",
    [
        "".join(map(chr, range(32, 127))),
        "media/Rn VV |10.PNG",
        "apps/x/\t\x7f\x00 a.js",
        "media/corn-vvv.png",
    ],
)
def test_an_ascii_name_has_the_skeleton_of_the_full_rules(name: str) -> None:
    # "é" takes the full path (NFKC, accents off, ...): the ASCII part must come out alike.
    assert skeleton(name + "é") == skeleton(name) + "e"


def test_a_pdf_the_parser_cannot_read_is_scanned_raw(tmp_path: Path) -> None:
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.7\n1 0 obj << /S /Launch /F (cmd.exe) >> garbage")
    found, pages = pdf_flags(broken, "media/broken.pdf")
    details = [f["detail"] for f in found]
    assert "the file names the action Launch" in details
    assert any("could not be read" in d for d in details) and pages == []


def test_an_encrypted_pdf_is_flagged_as_unreadable(tmp_path: Path) -> None:
    writer = pypdf.PdfWriter()
    writer.add_blank_page(100, 100)
    writer.encrypt("secret", algorithm="RC4-128")
    locked = tmp_path / "locked.pdf"
    with locked.open("wb") as stream:
        writer.write(stream)
    found, pages = pdf_flags(locked, "media/locked.pdf")
    assert [f["detail"] for f in found] == [
        "could not be read to the end (PyPdfError); open it and look at it"
    ]
    assert pages == []


def test_a_plain_pdf_has_no_actions(tmp_path: Path) -> None:
    plain = tmp_path / "plain.pdf"
    plain.write_bytes(tiny_pdf("Nothing to see"))
    found, pages = pdf_flags(plain, "media/plain.pdf")
    assert found == [] and [p.text for p in pages] == ["Nothing to see"]


@pytest.mark.parametrize(
    ("action", "words"),
    [
        ("/S /Launch /F (cmd.exe)", "starts a program or opens a file (Launch)"),
        ("/S /SubmitForm /F (http://x.example)", "sends form data to an address (SubmitForm)"),
        ("/S /GoToR /F (other.pdf) /D [0 /Fit]", "opens another PDF file (GoToR)"),
        ("/JS (app.launchURL('x'))", "runs JavaScript (JS)"),
    ],
)
def test_each_pdf_action_on_a_link(tmp_path: Path, action: str, words: str) -> None:
    pdf = tmp_path / "a.pdf"
    annotation = f"<< /Type /Annot /Subtype /Link /Rect [0 0 9 9] /A << {action} >> >>"
    pdf.write_bytes(tiny_pdf("Hi", page="/Annots [5 0 R]", extra=(annotation,)))
    found, _ = pdf_flags(pdf, "media/a.pdf", "handout")
    assert [(f["lesson"], f["where"], f["detail"]) for f in found] == [
        ("handout", "media/a.pdf#page=1", f"a link or field: {words}")
    ]
