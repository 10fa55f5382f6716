"""Markdown rendering: links, anchors, callouts, tables, external links, search sections."""

from __future__ import annotations

from pathlib import Path

from content.format.analyse import analyse_course
from content.format.render import make_markdown, slugify
from tests.content.conftest import WriteCourse, lesson


def render(make_course: WriteCourse, body: str) -> tuple[str, Path]:
    src = make_course(
        lessons={"lessons/01-intro.md": lesson("key: intro\ntitle: Intro\nkind: reading", body)}
    )
    analysis = analyse_course(src)
    return analysis.rendered["intro"].html, src


def test_lesson_and_media_links_become_package_paths(make_course: WriteCourse) -> None:
    html, _ = render(make_course, "[v](02-video.md#transcript) [p](../media/pic.png)\n")
    assert '<a href="lessons/video.html#transcript">v</a>' in html
    assert '<a href="media/pic.png">p</a>' in html


def test_external_link_is_plain_text_and_flagged(make_course: WriteCourse) -> None:
    src = make_course(
        lessons={
            "lessons/01-intro.md": lesson(
                "key: intro\ntitle: Intro\nkind: reading",
                "Visit [the site](https://example.org/a?b=1) or <https://x.example>.\n",
            )
        }
    )
    analysis = analyse_course(src)
    html = analysis.rendered["intro"].html
    assert "<a " not in html
    assert '<span class="external-link">the site (https://example.org/a?b=1)</span>' in html
    assert '<span class="external-link">https://x.example</span>' in html
    assert {
        "kind": "external-link",
        "lesson": "intro",
        "detail": "https://example.org/a?b=1",
    } in analysis.flags
    warning = next(p for p in analysis.report.problems if "external link" in p.message)
    assert (warning.file, warning.line, warning.severity) == ("lessons/01-intro.md", 6, "warning")


def test_raw_html_is_sanitized_and_flagged(make_course: WriteCourse) -> None:
    body = 'Hi\n\n<script>alert(1)</script>\n\n<img src="x" onerror="alert(1)">\n'
    src = make_course(
        lessons={"lessons/01-intro.md": lesson("key: intro\ntitle: Intro\nkind: reading", body)}
    )
    analysis = analyse_course(src)
    html = analysis.rendered["intro"].html
    assert "script" not in html and "onerror" not in html
    flag = next(f for f in analysis.flags if f["kind"] == "sanitized")
    assert "<script> element" in flag["detail"]
    lines = {p.line for p in analysis.report.problems if "raw HTML" in p.message}
    assert lines == {8, 10}


def test_javascript_markdown_link_is_not_a_link(make_course: WriteCourse) -> None:
    html, _ = render(make_course, "[x](javascript:alert(1))\n")
    assert "href" not in html


def test_heading_ids_are_stable_unique_slugs(make_course: WriteCourse) -> None:
    html, _ = render(make_course, "# ¿Qué es una fracción?\n\n## Part\n\n## Part\n")
    assert '<h1 id="que-es-una-fraccion">' in html
    assert '<h2 id="part">' in html and '<h2 id="part-2">' in html


def test_slugify_edge_cases() -> None:
    assert slugify("  Step 1: Add!  ") == "step-1-add"
    assert slugify("???") == "section"
    assert slugify("日本語") == "section"


def test_callouts_tables_and_no_style(make_course: WriteCourse) -> None:
    body = "::: warning\nCareful.\n:::\n\n| a | b |\n|--:|:--|\n| 1 | 2 |\n"
    html, _ = render(make_course, body)
    assert (
        '<div class="callout callout-warning" role="note"><p class="callout-title">'
        "Warning</p>" in html
    )
    assert '<th class="align-right">a</th>' in html
    assert "style" not in html


def test_spanish_callout_title() -> None:
    md = make_markdown("es-US")
    assert "Consejo" in md.render("::: tip\nx\n:::\n")


def test_sections_split_at_headings(make_course: WriteCourse) -> None:
    src = make_course(
        lessons={
            "lessons/01-intro.md": lesson(
                "key: intro\ntitle: Intro\nkind: reading",
                "Before **heading**.\n\n## First part\n\nOne [link](02-video.md).\n\n"
                "```\ncode\n```\n"
                "\n### Second\n\n![Alt words](../media/pic.png)\n",
            )
        }
    )
    sections = analyse_course(src).rendered["intro"].sections
    assert [(s.anchor, s.heading, s.text) for s in sections] == [
        ("", "Intro", "Before heading."),
        ("first-part", "First part", "One link.\ncode"),
        ("second", "Second", "Alt words"),
    ]


def test_broken_links_are_errors_with_lines(make_course: WriteCourse) -> None:
    body = "Text\n\n[gone](99-missing.md) and\n[img](../media/none.pdf)\n\n![x](../../escape.png)\n"
    src = make_course(
        lessons={"lessons/01-intro.md": lesson("key: intro\ntitle: Intro\nkind: reading", body)}
    )
    found = {
        (p.line, p.message.split(";")[0])
        for p in analyse_course(src).report.problems
        if p.severity == "error"
    }
    assert (
        8,
        "link to 'lessons/99-missing.md', which is not a lesson listed in course.yaml",
    ) in found
    assert (9, "'media/none.pdf' not found in the course folder") in found
    assert (11, "'../../escape.png' points outside the course folder") in found


def test_missing_anchor_is_a_warning(make_course: WriteCourse) -> None:
    src = make_course(
        lessons={
            "lessons/01-intro.md": lesson(
                "key: intro\ntitle: Intro\nkind: reading", "[v](02-video.md#nope)\n"
            )
        }
    )
    analysis = analyse_course(src)
    problem = next(p for p in analysis.report.problems if "anchor" in p.message)
    assert problem.severity == "warning" and problem.line == 6
    assert 'href="lessons/video.html"' in analysis.rendered["intro"].html


def test_missing_alt_text_and_remote_image(make_course: WriteCourse) -> None:
    body = "![](../media/pic.png)\n\n![Logo](https://example.org/logo.png)\n"
    src = make_course(
        lessons={"lessons/01-intro.md": lesson("key: intro\ntitle: Intro\nkind: reading", body)}
    )
    problems = analyse_course(src).report.problems
    assert any(
        p.line == 6 and p.severity == "warning" and "alt text" in p.message for p in problems
    )
    assert any(
        p.line == 8 and p.severity == "error" and "not a file in the course" in p.message
        for p in problems
    )
