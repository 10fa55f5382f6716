"""The tar reader's header checksum: exact for any bytes, and a change anywhere in a
header (outside the checksum field) refuses it."""

from __future__ import annotations

import io
import os

import pytest

from content.package.tarstream import BLOCK, TarFormatError, TarStream, _byte_sum
from tests.content.hostile import end, member


@pytest.mark.parametrize("fill", ["random", "all-0xff"])
def test_byte_sums_are_exact_for_every_length_a_header_has(fill: str) -> None:
    for length in range(BLOCK + 1):
        data = os.urandom(length) if fill == "random" else b"\xff" * length
        assert _byte_sum(data) == sum(data), length
    with pytest.raises(ValueError):
        _byte_sum(bytes(BLOCK + 1))  # past what it can sum exactly


@pytest.mark.parametrize("at", [0, 100, 147, 156, 300, 411, 412, 511])
def test_a_header_with_one_byte_changed_is_refused(at: int) -> None:
    package = bytearray(end(member("lessons/a.html", b"<p>a</p>")))
    assert TarStream(io.BytesIO(bytes(package))).next_member() is not None
    package[at] ^= 0x01
    with pytest.raises(TarFormatError, match=r"damaged \(bad checksum\)"):
        TarStream(io.BytesIO(bytes(package))).next_member()
