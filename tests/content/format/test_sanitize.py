"""The sanitizer on its own: hostile HTML in, allow-listed HTML and a removal report out."""

from __future__ import annotations

import pytest

from content.format.sanitize import sanitize_html


@pytest.mark.parametrize(
    ("dirty", "clean", "removed"),
    [
        ("<p>a<script>alert(1)</script>b</p>", "<p>ab</p>", "<script> element"),
        ('<iframe src="media/x.html"></iframe><p>x</p>', "<p>x</p>", "<iframe> element"),
        (
            '<img src="media/a.png" onerror="alert(1)">',
            '<img src="media/a.png">',
            "onerror attribute on <img>",
        ),
        ('<a href="javascript:alert(1)">x</a>', "<a>x</a>", "href='javascript:alert(1)' on <a>"),
        ('<a href="JaVaScRiPt:alert(1)">x</a>', "<a>x</a>", "href="),
        ('<p style="position:fixed">x</p>', "<p>x</p>", "style attribute on <p>"),
        ('<img src="data:image/png;base64,AAAA">', "<img>", "src='data:image/png"),
        ('<img src="https://tracker.example/p.gif">', "<img>", "src='https://"),
        ('<form action="x"><input name="p"></form>', "", "<form> element"),
        ('<svg onload="alert(1)"><circle/></svg>', "", "<svg> element"),
        ('<a href="media/../../etc/passwd">x</a>', "<a>x</a>", "href="),
        ('<div class="callout evil">x</div>', '<div class="callout">x</div>', "class 'evil'"),
        ('<h2 id="x" onclick="y">t</h2>', '<h2 id="x">t</h2>', "onclick attribute on <h2>"),
        ("<!-- hidden --><p>x</p>", "<p>x</p>", "HTML comment"),
        ('<object data="media/x.swf"></object>', "", "<object> element"),
        ("<style>body{display:none}</style><p>x</p>", "<p>x</p>", "<style> element"),
    ],
)
def test_hostile_html_is_removed_and_reported(dirty: str, clean: str, removed: str) -> None:
    result = sanitize_html(dirty)
    assert result.html == clean
    assert any(removed in item for item in result.removed), result.removed


def test_package_links_survive_unchanged() -> None:
    html = (
        '<h2 id="intro">Intro</h2><p><a href="lessons/next.html#part-2">next</a> '
        '<a href="#intro">up</a> <a href="media/checklist.pdf">pdf</a> '
        '<img src="media/pictures/caf%C3%A9.png" alt="Cafe"></p>'
        '<div class="callout callout-tip" role="note"><p class="callout-title">Tip</p></div>'
        '<span class="external-link">Site (https://example.org)</span>'
        '<table><tr><td class="align-right">1</td></tr></table>'
    )
    result = sanitize_html(html)
    assert result.removed == ()
    for piece in (
        'href="lessons/next.html#part-2"',
        'src="media/pictures/caf%C3%A9.png"',
        'class="external-link"',
        'role="note"',
        'class="align-right"',
    ):
        assert piece in result.html


def test_sanitizing_is_idempotent() -> None:
    first = sanitize_html('<p onclick="x">a<script>b</script><a href="http://x">c</a></p>')
    second = sanitize_html(first.html)
    assert second.html == first.html
    assert second.removed == ()


def test_external_link_is_never_clickable() -> None:
    assert sanitize_html('<a href="https://example.org">x</a>').html == "<a>x</a>"
    assert sanitize_html('<a href="//example.org">x</a>').html == "<a>x</a>"
    assert sanitize_html('<a href="mailto:a@b.c">x</a>').html == "<a>x</a>"
