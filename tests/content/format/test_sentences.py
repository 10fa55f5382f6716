"""Sentences of lesson text: where they end in English and Spanish, and their spans."""

from __future__ import annotations

import pytest

from content.format.model import Lesson
from content.format.render import make_markdown, parse_lesson, render_lesson
from content.format.sanitize import sanitize_html
from content.format.sentences import mark_sentences, split_sentences


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Dr. Smith met Mrs. J. Jones at 3 p.m. today. Then she left.",
            ["Dr. Smith met Mrs. J. Jones at 3 p.m. today.", "Then she left."],
        ),
        ("Save first, e.g. on payday. It adds up!", ["Save first, e.g. on payday.", "It adds up!"]),
        ('She said "Stop!" Then we stopped.', ['She said "Stop!"', "Then we stopped."]),
        ("It costs 3.50 dollars. Pay in cash.", ["It costs 3.50 dollars.", "Pay in cash."]),
        (
            "La Sra. Pérez llegó. ¿Qué pasa? ¡Nada!",
            ["La Sra. Pérez llegó.", "¿Qué pasa?", "¡Nada!"],
        ),
        ("Vive en EE.UU. desde 2010. Trabaja.", ["Vive en EE.UU. desde 2010.", "Trabaja."]),
        ("Por ej. el lunes. Luego, aprox. diez.", ["Por ej. el lunes.", "Luego, aprox. diez."]),
        ("Wait… What now?", ["Wait…", "What now?"]),
        ("  ", []),
    ],
)
def test_sentences_end_where_a_reader_would_stop(text: str, expected: list[str]) -> None:
    assert split_sentences(text) == expected


def test_each_sentence_gets_a_span_and_inline_markup_stays_whole() -> None:
    marked = mark_sentences(
        '<h2 id="why">Why save?</h2>'
        "<p>Save <strong>first. Then</strong> spend &amp; smile.</p>"
        "<pre><code>x = 1. Y = 2</code></pre>"
        "<ul><li>One. Two</li></ul>"
    )
    assert marked.sentences == ("Why save?", "Save first.", "Then spend & smile.", "One.", "Two")
    assert marked.html == (
        '<h2 id="why"><span data-s="1">Why save?</span></h2>'
        '<p><span data-s="2">Save</span> <strong><span data-s="2">first.</span> '
        '<span data-s="3">Then</span></strong> <span data-s="3">spend &amp; smile.</span></p>'
        "<pre><code>x = 1. Y = 2</code></pre>"
        '<ul><li><span data-s="4">One.</span> <span data-s="5">Two</span></li></ul>'
    )


def test_marking_keeps_the_html_safe_and_the_same_apart_from_spans() -> None:
    source = '<p>A &lt;b&gt; tag is text. <a href="#x">A link.</a></p>'
    marked = mark_sentences(sanitize_html(source).html)
    assert "&lt;b&gt;" in marked.html
    assert (
        sanitize_html(
            marked.html.replace('<span data-s="1">', "")
            .replace('<span data-s="2">', "")
            .replace("</span>", "")
        ).html
        == sanitize_html(source).html
    )


def test_numbering_is_the_same_for_the_same_lesson() -> None:
    body = "# Budget\n\nA budget is a plan. It shows **where money goes.** Try it.\n\n"
    body += "- Rent.\n- Food.\n"
    md = make_markdown("en")
    lesson = Lesson("budget", "Budget", "reading", "lessons/budget.md", body, 5)

    def render() -> str:
        return render_lesson(md, parse_lesson(md, lesson), lambda a, b, c: a).html

    first, second = mark_sentences(render()), mark_sentences(render())
    assert first == second
    assert first.sentences == (
        "Budget",
        "A budget is a plan.",
        "It shows where money goes.",
        "Try it.",
        "Rent.",
        "Food.",
    )
