"""A TUF target read as a stream, checked against its signed length and hash on the way.

A facility never writes a fetched package to disk as a whole and reads it back: the
strict extractor reads the target straight from the source through a
:class:`TargetStream`, which hashes every byte as it passes and stops the source as soon
as it runs past the signed length. Reading and hashing run on a thread of their own, a
few chunks ahead of the consumer: hashlib and file reads release the GIL, so they take
a second core while the consumer parses and writes.

Nothing read from the stream may be trusted before :meth:`TargetStream.verify` has
confirmed the whole target; a sync calls it after the importer's own checks and before
any blob moves into the store (``import_package(..., confirm=...)``).
"""

from __future__ import annotations

import hashlib
import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import suppress
from typing import Self

__all__ = ["TargetStream", "close_chunks"]

# Chunks read ahead of the consumer, at most: bounds memory (a fetcher's chunk is 1 MiB)
# while keeping the reading thread busy.
_AHEAD = 4
_END = b""


class TargetStream:
    """A readable stream over the chunks of one target, of a signed length and SHA-256.

    ``mismatch(why)`` makes the exception to raise when the bytes are not the signed
    ones: as soon as more than ``length`` bytes arrive (the consumer never sees them, and
    nothing more is read), or at :meth:`verify`. Errors of the source are raised to the
    consumer as they are. Use it as a context manager, which stops the source.
    """

    def __init__(
        self,
        chunks: Iterator[bytes],
        length: int,
        sha256: str,
        mismatch: Callable[[str], Exception],
    ) -> None:
        self._chunks = chunks
        self._length = length
        self._sha256 = sha256
        self._mismatch = mismatch
        self._digest = hashlib.sha256()
        self._ahead: queue.Queue[bytes | BaseException] = queue.Queue(maxsize=_AHEAD)
        self._reader = threading.Thread(target=self._read, name="target-reader", daemon=True)
        self._stop = threading.Event()
        self._current = memoryview(_END)
        self._ended = False
        self.received = 0  # bytes taken from the source so far

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop reading the source and close it (its file or connection)."""
        if not self._reader.is_alive():
            if self._reader.ident is None:  # never started: the source is still ours
                close_chunks(self._chunks)
            return
        self._stop.set()
        while self._reader.is_alive():  # make room, in case it waits to hand a chunk over
            with suppress(queue.Empty):
                self._ahead.get(timeout=0.1)
        self._reader.join()

    def readinto(self, buffer: memoryview, /) -> int:
        """Copy the next bytes into ``buffer``; 0 at the end of the target."""
        while not self._current:
            if self._ended:
                return 0
            self._take()
        count = min(len(buffer), len(self._current))
        buffer[:count] = self._current[:count]
        self._current = self._current[count:]
        return count

    def _take(self) -> None:
        if self._reader.ident is None:
            self._reader.start()
        item = self._ahead.get()
        if isinstance(item, BaseException):
            self._ended = True
            raise item
        if item is _END:
            self._ended = True
        self._current = memoryview(item)

    def _read(self) -> None:
        """On the reading thread: read, count and hash each chunk, then hand it over."""
        try:
            for chunk in self._chunks:
                if self._stop.is_set():
                    return
                self.received += len(chunk)
                if self.received > self._length:
                    self._ahead.put(self._mismatch("it is longer than its signed length"))
                    return
                self._digest.update(chunk)
                if chunk:
                    self._ahead.put(chunk)
            self._ahead.put(_END)
        except Exception as exc:  # noqa: BLE001 - handed to the consumer, raised there
            self._ahead.put(exc)
        finally:
            close_chunks(self._chunks)

    def verify(self) -> None:
        """Read whatever the consumer left, then check the whole target's length and hash.

        Raises the ``mismatch`` exception unless every byte is the signed one (or the
        source's error, if it failed meanwhile). Calling it again after it passed is cheap.
        """
        self._current = memoryview(_END)
        while not self._ended:
            self._take()
            self._current = memoryview(_END)
        if self.received != self._length or self._digest.hexdigest() != self._sha256:
            raise self._mismatch("its bytes differ")


def close_chunks(chunks: Iterator[bytes]) -> None:
    """Close a fetcher's chunk iterator (its file or connection) if it can be closed."""
    close = getattr(chunks, "close", None)
    if close is not None:
        close()
