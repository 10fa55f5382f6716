"""Writing a new segment's term table and postings: Whoosh's own file format, in one pass.

Whoosh's segment writer hands its sorted postings to the codec's field writer one at a
time, and that writer spends five method calls, a term-info object, a block object and
three file writes on every term. A course of 200 sections has ≈ 12,000 terms and
≈ 35,000 postings, and that walk was over half the time to add it. `install` replaces
the walk, on one writer, by a loop that takes each term's postings as a group and
appends the very bytes Whoosh would have written to a buffer. The files are the same,
byte for byte (a test compares them with Whoosh's own), so every Whoosh reader, merge
and check reads them as before. A writer this loop does not fit (one keeping length
statistics, or a term table with another hash) goes on with Whoosh's own code.
"""

from __future__ import annotations

import struct
import zlib
from array import array
from collections.abc import Iterable
from hashlib import md5
from itertools import groupby
from operator import itemgetter
from pickle import dumps
from types import MethodType
from typing import Any

from whoosh.codec.base import FieldWriter
from whoosh.codec.whoosh3 import WHOOSH3_HEADER_MAGIC, W3FieldWriter, W3TermInfo
from whoosh.filedb.filetables import _lengths as KEY_VALUE_LENGTHS
from whoosh.util.numeric import length_to_byte
from whoosh.writing import SegmentWriter

Posting = tuple[str, bytes, int, float, bytes | None]

# Written lengths are never kept (see `segment_codec`), so every length statistic is the
# byte of "no length".
NO_LENGTH = length_to_byte(None)
ZERO_LENGTH = length_to_byte(0)
# The bytes are written to the file in pieces of about this size (a whole rebuild writes
# hundreds of megabytes).
FLUSH_BYTES = 4 * 1024 * 1024
MD5_HASH = 0
TERM_INFO: struct.Struct = W3TermInfo._struct
# Whoosh's `pack_ushort`, `pack_int` and `pack_long`.
FIELD_ID, INT, LONG = struct.Struct("!H"), struct.Struct("!i"), struct.Struct("!q")


def install(writer: SegmentWriter) -> None:
    """Make this writer's field writer use `write_postings` (when its codec is Whoosh 3's)."""
    field_writer = writer.fieldwriter
    if type(field_writer) is W3FieldWriter:
        field_writer.add_postings = MethodType(write_postings, field_writer)


class _Buffer:
    """Bytes bound for a file, with the file position each would land at."""

    def __init__(self, file: Any) -> None:
        self.file = file
        self.start: int = file.tell()
        self.data = bytearray()

    def tell(self) -> int:
        return self.start + len(self.data)

    def write(self, data: bytes) -> None:
        self.data += data
        if len(self.data) > FLUSH_BYTES:
            self.flush()

    def flush(self) -> None:
        if self.data:
            self.file.write(bytes(self.data))
            self.start += len(self.data)
            self.data.clear()


def write_postings(
    field_writer: W3FieldWriter, schema: Any, lengths: Any, items: Iterable[Posting]
) -> None:
    """Write the sorted postings `items` (field name, term bytes, document number,
    weight, value) as `FieldWriter.add_postings` does, with the same bytes."""
    codec = field_writer._codec
    table = field_writer._tindex
    if lengths is not None or table.hashtype != MD5_HASH:
        FieldWriter.add_postings(field_writer, schema, lengths, items)
        return
    terms = _Buffer(table.dbfile)
    postings = _Buffer(field_writer._postfile)
    term_positions = table.index
    buckets = table.buckets
    last_field: str | None = None
    last_key = table.lastkey
    for field_name, field_items in groupby(items, key=itemgetter(0)):
        if last_field is not None and field_name <= last_field:
            raise ValueError(f"postings out of order: field {last_field!r} .. {field_name!r}")
        last_field = field_name
        field_writer.start_field(field_name, schema[field_name])
        field_id = FIELD_ID.pack(field_writer._fieldid)
        fixed_size = field_writer._format.fixed_value_size()
        for text, term_items in groupby(field_items, key=itemgetter(1)):
            group = [item for item in term_items if item[2] != -1]  # -1: a spelling word
            if not group:
                continue
            key = field_id + text
            if key <= last_key:
                raise ValueError(f"postings out of order: {last_key!r} .. {key!r}")
            info = _write_term(group, postings, codec, fixed_size)
            position = terms.tell()
            term_positions.append(position)
            terms.write(KEY_VALUE_LENGTHS.pack(len(key), len(info)) + key + info)
            hashed = int.from_bytes(md5(key, usedforsecurity=False).digest()[-4:], "big")
            buckets[hashed & 255].append((hashed, position))
            last_key = key
        field_writer.finish_field()
    table.lastkey = last_key
    terms.flush()
    postings.flush()


def _write_term(
    group: list[Posting], postings: _Buffer, codec: Any, fixed_size: int | None
) -> bytes:
    """The term-table value of one term; its postings go to `postings` unless inlined."""
    block_limit = codec._blocklimit
    ids = [item[2] for item in group]
    weights = [item[3] for item in group]
    count = len(group)
    if count < codec._inlinelimit and count <= block_limit:
        stored = array("f", weights)
        values = [item[4] for item in group if item[4]]
        return _term_info(True, sum(stored), count, max(0, *weights), ids[0], ids[-1]) + dumps(
            (tuple(ids), tuple(stored), tuple(values) if values else (b"",) * count), 2
        )
    start = postings.tell()
    total = 0.0
    heaviest: float = 0
    compression = codec._compression
    for first in range(0, count, block_limit):
        block_ids = ids[first : first + block_limit]
        block_weights = weights[first : first + block_limit]
        stored = array("f", block_weights)
        total += sum(stored)
        block_heaviest = max(0, *block_weights)
        heaviest = max(heaviest, block_heaviest)
        if first == 0:
            postings.write(WHOOSH3_HEADER_MAGIC)
        info = dumps(
            (len(block_ids), block_ids[-1], block_heaviest, compression, NO_LENGTH, ZERO_LENGTH),
            2,
        )
        data = dumps(
            (
                _deltas(block_ids),
                _mini_weights(stored),
                _mini_values([item[4] for item in group[first : first + block_limit]], fixed_size),
            ),
            2,
        )
        if compression:
            data = zlib.compress(data, compression)
        size = len(info) + len(data)
        last = first + block_limit >= count
        postings.write(INT.pack(-size if last else size) + info + data)
    extent = LONG.pack(start) + INT.pack(postings.tell() - start)
    return _term_info(False, total, count, heaviest, ids[0], ids[-1]) + extent


def _term_info(
    inlined: bool, weight: float, count: int, heaviest: float, first: int, last: int
) -> bytes:
    return TERM_INFO.pack(inlined, weight, count, NO_LENGTH, ZERO_LENGTH, heaviest, first, last)


def _deltas(ids: list[int]) -> tuple[int, ...]:
    previous = 0
    deltas = []
    for number in ids:
        deltas.append(number - previous)
        previous = number
    return tuple(deltas)


def _mini_weights(weights: array[float]) -> Any:
    if all(w == 1.0 for w in weights):
        return None
    if all(w == weights[0] for w in weights):
        return weights[0]
    return tuple(weights)


def _mini_values(values: list[bytes | None], fixed_size: int | None) -> Any:
    present = [value for value in values if value]
    if fixed_size is None or fixed_size < 0:
        return tuple(present)
    if fixed_size == 0:
        return None
    return b"".join(present)
