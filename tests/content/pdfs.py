"""Small PDFs written by hand for tests: one page of text, plus any actions a test adds."""

from __future__ import annotations


def tiny_pdf(
    text: str = "Hello", *, catalog: str = "", page: str = "", extra: tuple[str, ...] = ()
) -> bytes:
    """A one-page PDF showing ``text``. ``catalog`` and ``page`` are added to those
    dictionaries; ``extra`` objects are numbered from 5 (the font comes after them)."""
    stream = f"BT /F1 12 Tf 20 100 Td ({text}) Tj ET".encode()
    font = 5 + len(extra)
    objects = [
        f"<< /Type /Catalog /Pages 2 0 R {catalog} >>".encode(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 200] /Contents 4 0 R"
        f" /Resources << /Font << /F1 {font} 0 R >> >> {page} >>".encode(),
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        *(item.encode() for item in extra),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)
