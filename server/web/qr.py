"""QR codes drawn on the server as inline SVG (segno): no script, nothing loaded from
outside, and they print sharp at any size."""

from __future__ import annotations

import segno
from markupsafe import Markup


def qr_svg(text: str) -> Markup:
    """The QR code of ``text`` (error correction M: a folded or scuffed paper still
    scans). Only for text Stepstone made, such as a check code: segno escapes nothing
    because nothing in its drawing comes from the text but black and white modules."""
    code = segno.make(text, error="m")
    svg = code.svg_inline(scale=1, omitsize=True, svgclass="qr-code", lineclass=None)
    return Markup(svg)  # noqa: S704 - segno's drawing: paths of modules, no text in it
