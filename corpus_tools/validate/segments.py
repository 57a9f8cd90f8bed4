"""Cut a JSON array file (a Label Studio export) into verified byte segments of whole elements.

Each :class:`Segment` holds consecutive whole elements of the top-level array, so a worker can parse it
alone with ``msgspec.json.decode(b"[" + segment.read(f) + b"]")``.  The file is never read whole: blocks of about
``target_bytes`` are read one after the other.

Method.  From the first byte of the current element, read a block and list candidate cut points, each a
``,`` after the end of a value: first the task starts ``}`` ws ``,`` ws ``{`` ws ``"id"`` ws ``:`` ws digit
(last in the block first), then any other commas, last first.  A candidate is only a guess; it is VERIFIED
by decoding ``[`` + piece + ``]`` with ``msgspec.json.Decoder(list[msgspec.Raw])``.  That succeeds only if
the piece is a sequence of whole JSON values: a cut inside a string leaves the string open, a cut inside a
nested value leaves it unclosed, so neither decodes.  ``len(result)`` is the element count.  Whitespace
around the comma is skipped, so every segment starts at an element's first byte and ends at its last.
When the block holds the end of the array, the single piece before the closing ``]`` is verified instead;
if it does not decode the file is not a JSON array and :class:`SegmentError` is raised.  The yielded bytes
are also checked to be valid UTF-8 (msgspec does not check strings it skips into ``Raw``), with Arrow's
validator, unless the caller turns that off.

The segments are a deterministic function of the file bytes and ``target_bytes``, and together they cover
every element in order.  If the iteration ends without :class:`SegmentError`, the whole file is proven to be
one valid JSON array: each segment decodes, the bytes between segments are ws ``,`` ws, and the bytes
around them are ``[`` and ``]`` with whitespace.

Cost model (n = file size, T = ``target_bytes``, E = largest element).
  * Normal block: one read of about T bytes, one successful decode of the piece, and its UTF-8 check, so
    about 1x the file in total; the bytes after the last cut of a block (less than one element) are read
    again with the next block.
  * A failed candidate costs at most one decode of the block.  At most ``MAX_FAILED_TRIES`` (8) fail per
    block, of which at most ``MAX_COMMA_TRIES`` (3) plain commas, before one decode of the block as a
    truncated array tells "valid so far, the element is just longer than the block" (msgspec says
    "truncated": the block is doubled and tried again) from "malformed" (:class:`SegmentError` at once).
    A block thus costs up to 10 decodes of itself, and an element of size E > T up to about 20 E over the
    doublings T, 2T, ... < 2E; about 10 E when it holds no task-like "id" (docs/benchmarks.md has the
    measured costs).
  * Memory: one buffer of the largest block used so far: T, or up to about 2 E after an element larger
    than T.

:class:`SegmentError` may be raised after some segments were already yielded (the defect is only seen when
its block is reached); the caller must then drop what it did with them and fall back to its exact, slow
reading, which locates the problem.  Only a wrong start (BOM, no ``[``) or a wrong end (anything but ``]``
and whitespace at the end, which catches most truncated files) is detected before the first segment.
"""

from __future__ import annotations

import os
import re
import struct
from codecs import BOM_UTF8
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

import msgspec

DEFAULT_TARGET_BYTES = 4 << 20
# Candidate cuts that may fail verification in one block before the block is doubled.
MAX_FAILED_TRIES = 8
# Occurrences of the first element's second key, then of "id", looked at from the end of a block backwards.
MAX_KEY_HITS = 64
MAX_ID_HITS = 512
# Commas looked at from the end of a block backwards when no task start verified, and how many may fail.
MAX_COMMAS = 64
MAX_COMMA_TRIES = 3

_WS = frozenset(b" \t\r\n")
_WS_RUN = re.compile(rb"[ \t\r\n]*")
_VALUE_START = frozenset(b'{["-0123456789tfn')
# Last byte of a value: closing brace or bracket, closing quote, digit, or the e/l of true, false, null.
_VALUE_END = frozenset(b'}]"0123456789el')
# Start of a task: {"id": <number>, "<second key>" ; group 1 is the second key with its quotes.
_TASK_HEAD = re.compile(rb'\{\s*"id"\s*:\s*-?[0-9][0-9.eE+-]*\s*,\s*("(?:[^"\\]|\\.)*")'.replace(rb"\s", rb"[ \t\r\n]"))
_NUMBER = frozenset(b"-+.eE0123456789")
_DIGIT_OR_MINUS = frozenset(b"-0123456789")
_OPEN, _CLOSE, _COMMA, _COLON = ord("["), ord("]"), ord(","), ord(":")
_DECODER = msgspec.json.Decoder(list[msgspec.Raw])


def _rfind_each(buf: bytes, needle: bytes, lo: int, hi: int, limit: int) -> Iterator[int]:
    """Where ``needle`` starts in ``buf[lo:hi]``, last first, at most ``limit`` places."""
    at = hi
    for _ in range(limit):
        at = buf.rfind(needle, lo, at)
        if at < 0:
            return
        yield at


class SegmentError(Exception):
    """The file cannot be cut: not a JSON array, malformed, truncated, invalid UTF-8, or a BOM."""


@dataclass(frozen=True)
class Segment:
    offset: int  # byte offset of the first element's first byte in the file
    length: int  # bytes up to and including the last element's last byte
    first_index: int  # index of its first element in the array
    count: int  # number of elements in it

    def read(self, f: BinaryIO) -> bytes:
        """The segment's bytes from the open binary file ``f`` (the file it was cut from)."""
        data = _read_at(f, self.offset, self.length)
        if len(data) != self.length:
            raise SegmentError(f"the file is shorter than expected at byte {self.offset}")
        return data


def _read_at(f: BinaryIO, offset: int, length: int) -> bytes:
    if hasattr(os, "pread"):
        parts = []
        while length > 0:
            part = os.pread(f.fileno(), length, offset)
            if not part:
                break
            parts.append(part)
            offset += len(part)
            length -= len(part)
        return b"".join(parts)
    f.seek(offset)
    return f.read(length)


def iter_segments(
    path: str | os.PathLike[str], *, target_bytes: int = DEFAULT_TARGET_BYTES, check_utf8: bool = True
) -> Iterator[Segment]:
    """Yield consecutive segments of whole elements of the JSON array in ``path``, about ``target_bytes`` each.

    Raises :class:`SegmentError` when the file is not one well-formed JSON array in UTF-8 (possibly after
    some segments were yielded); an unreadable file raises ``OSError``.  ``check_utf8=False`` skips the
    UTF-8 check (nearly half the time on Arabic text) for a caller whose parser rejects invalid UTF-8 anyway,
    as ``msgspec.json.decode`` does.
    """
    if target_bytes < 1:
        raise ValueError("target_bytes must be positive")
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        start, end = _array_bounds(f, size)
        yield from _Cutter(f, end, target_bytes, check_utf8).segments(start)


def _array_bounds(f: BinaryIO, size: int) -> tuple[int, int]:
    """(first byte after ``[`` and whitespace, offset of the closing ``]``); checks the start and the end."""
    if _read_at(f, 0, len(BOM_UTF8)) == BOM_UTF8:
        raise SegmentError("the file starts with a UTF-8 byte order mark, which JSON forbids")
    i = _skip_ws(f, 0, size)
    if i == size:
        raise SegmentError("the file is empty or only whitespace")
    if _read_at(f, i, 1)[0] != _OPEN:
        raise SegmentError("the file is not a JSON array (it does not start with '[')")
    end = size
    while True:  # skip trailing whitespace backwards, a chunk at a time
        lo = max(0, end - (1 << 16))
        chunk = _read_at(f, lo, end - lo)
        stripped = chunk.rstrip(b" \t\r\n")
        if stripped:
            end = lo + len(stripped) - 1
            break
        end = lo
        if lo == 0:
            raise SegmentError("the file is only whitespace")
    if chunk[len(stripped) - 1] != _CLOSE or end <= i:
        raise SegmentError("the file does not end with ']' (truncated or followed by other data)")
    return _skip_ws(f, i + 1, end), end


def _skip_ws(f: BinaryIO, pos: int, end: int) -> int:
    """The first offset from ``pos`` on that is not whitespace, or ``end``."""
    while pos < end:
        chunk = _read_at(f, pos, min(end - pos, 1 << 16))
        skipped = _WS_RUN.match(chunk).end()
        pos += skipped
        if skipped < len(chunk):
            break
    return pos


class _Cutter:
    """Reads blocks into one buffer laid out as ``[`` + block + one spare byte, to verify pieces in place."""

    def __init__(self, f: BinaryIO, end: int, target_bytes: int, check_utf8: bool) -> None:
        self.f = f
        self.check_utf8 = check_utf8
        self.end = end
        self.target = target_bytes
        self.buf = bytearray()
        # The key after "id" in the first element ('"annotations"' in Label Studio exports), b"" if none.
        self.second_key: bytes | None = None

    def segments(self, pos: int) -> Iterator[Segment]:
        index = 0
        while pos < self.end:
            block = self.target
            while True:
                n = self._load(pos, min(block, self.end - pos))
                if pos + n >= self.end:  # the block holds the rest of the array: one final piece
                    length = self._rstrip(n)
                    count = self._verify(length)
                    if count is None:
                        raise SegmentError(f"the array is malformed after byte {pos}")
                    self._check_utf8(length)
                    yield Segment(pos, length, index, count)
                    return
                cut = self._cut(n)
                if cut is not None:
                    break
                self._check_prefix(n, pos)
                block *= 2
            length, count, next_start = cut
            self._check_utf8(length)
            yield Segment(pos, length, index, count)
            index += count
            pos, known_value = pos + next_start - 1, next_start < 1 + n
            if not known_value:  # only whitespace after the comma up to the end of the block
                pos = _skip_ws(self.f, pos, self.end)
            if pos >= self.end:
                raise SegmentError("the array ends with a comma")

    def _load(self, pos: int, n: int) -> int:
        """Read ``n`` bytes at ``pos`` into ``buf[1:1+n]``; returns ``n``."""
        if len(self.buf) < n + 2:
            self.buf = bytearray(max(n + 2, len(self.buf) * 2))
            self.buf[0] = _OPEN
        view = memoryview(self.buf)
        self.f.seek(pos)
        got = 0
        while got < n:
            k = self.f.readinto(view[1 + got : 1 + n])
            if not k:
                raise SegmentError("the file shrank while it was being read")
            got += k
        first = self.buf[1]
        if first not in _VALUE_START:
            raise SegmentError(f"expected a JSON value at byte {pos}")
        return n

    def _rstrip(self, n: int) -> int:
        """Length of ``buf[1:1+n]`` without its trailing whitespace."""
        i = n
        while i > 0 and self.buf[i] in _WS:
            i -= 1
        return i

    def _verify(self, length: int) -> int | None:
        """Number of elements if ``[`` + ``buf[1:1+length]`` + ``]`` decodes, else None."""
        buf = self.buf
        saved = buf[1 + length]
        buf[1 + length] = _CLOSE
        try:
            with memoryview(buf) as view, view[: length + 2] as piece:
                count = len(_DECODER.decode(piece))
        except msgspec.DecodeError:
            return None
        except RecursionError as exc:  # nested too deeply for msgspec: the serial reader locates it
            raise SegmentError("arrays and objects are nested too deeply") from exc
        finally:
            buf[1 + length] = saved
        return count or None

    def _cut(self, n: int) -> tuple[int, int, int] | None:
        """(piece length, element count, index in buf of the next element) for a verified cut, or None."""
        failed = failed_commas = 0
        tried: set[int] = set()
        for comma, task_like in self._candidates(n):
            if comma in tried:
                continue
            tried.add(comma)
            length = self._rstrip(comma - 1)
            count = self._verify(length)
            if count is not None:
                nxt = _WS_RUN.match(self.buf, comma + 1, 1 + n).end()
                return length, count, nxt
            failed += 1
            failed_commas += not task_like
            if failed >= MAX_FAILED_TRIES or failed_commas >= MAX_COMMA_TRIES:
                return None
        return None

    def _candidates(self, n: int) -> Iterator[tuple[int, bool]]:
        """(index in buf, task-like) of candidate commas, each tier last first (a comma may come again).

        Tiers: task starts whose key after "id" is the first element's (found by that key, which Label Studio
        writes once a task), any task start with a numeric "id", then any comma after a value.
        """
        buf, lo, hi = self.buf, 1, 1 + n
        if self.second_key is None:
            match = _TASK_HEAD.match(buf, lo, hi)
            self.second_key = match.group(1) if match else b""
        if self.second_key:
            for h in _rfind_each(buf, self.second_key, lo, hi, MAX_KEY_HITS):
                comma = self._task_start_comma_before_key(h)
                if comma is not None:
                    yield comma, True
        for h in _rfind_each(buf, b'"id"', lo, hi, MAX_ID_HITS):
            comma = self._task_start_comma(h)
            if comma is not None and _TASK_HEAD.match(buf, _WS_RUN.match(buf, comma + 1, hi).end(), hi):
                yield comma, True
        for c in _rfind_each(buf, b",", lo, hi, MAX_COMMAS):
            i = c - 1
            while i >= lo and buf[i] in _WS:
                i -= 1
            if i >= lo and buf[i] in _VALUE_END:
                yield c, False

    def _task_start_comma_before_key(self, h: int) -> int | None:
        """The comma of ``}`` ws ``,`` ws ``{`` ws ``"id"`` ws ``:`` ws number ws ``,`` ws before the key at ``h``."""
        buf = self.buf
        i = self._back_over_ws(h - 1)
        if i < 1 or buf[i] != _COMMA:
            return None
        i = j = self._back_over_ws(i - 1)
        while i >= 1 and buf[i] in _NUMBER:
            i -= 1
        if i == j or buf[i + 1] not in _DIGIT_OR_MINUS:
            return None
        i = self._back_over_ws(i)
        if i < 1 or buf[i] != _COLON:
            return None
        i = self._back_over_ws(i - 1)
        if i < 4 or buf[i - 3 : i + 1] != b'"id"':
            return None
        return self._task_start_comma(i - 3)

    def _back_over_ws(self, i: int) -> int:
        buf = self.buf
        while i >= 1 and buf[i] in _WS:
            i -= 1
        return i

    def _task_start_comma(self, h: int) -> int | None:
        """The comma of ``}`` ws ``,`` ws ``{`` ws before the ``"id"`` key at ``h``, or None."""
        buf = self.buf
        i = h - 1
        comma = None
        for expected in b"{,}":
            while i >= 1 and buf[i] in _WS:
                i -= 1
            if i < 1 or buf[i] != expected:
                return None
            if expected == _COMMA:
                comma = i
            i -= 1
        return comma

    def _check_prefix(self, n: int, pos: int) -> None:
        """No cut verified: raise unless ``[`` + block is a valid but unfinished array (an element is just long).

        The prefix ends before the block's last ``"`` or ``,``, so it never ends inside a number or literal,
        where msgspec would say "malformed" of a valid prefix.
        """
        buf = self.buf
        cut = max(buf.rfind(b'"', 1, 1 + n), buf.rfind(b",", 1, 1 + n))
        if cut <= 1:
            return
        try:
            with memoryview(buf) as view, view[:cut] as prefix:
                _DECODER.decode(prefix)
        except msgspec.DecodeError as exc:
            if "malformed" not in str(exc):  # "Input data was truncated": valid so far
                return
            raise SegmentError(f"the array is malformed after byte {pos}: {exc}") from exc
        except RecursionError as exc:
            raise SegmentError(f"arrays and objects are nested too deeply after byte {pos}") from exc
        raise SegmentError(f"the array ends before byte {pos + cut}, followed by other data")

    def _check_utf8(self, length: int) -> None:
        """Raise unless ``buf[1:1+length]`` is valid UTF-8 (Arrow's validator, about 1 GB/s on Arabic text)."""
        if not self.check_utf8:
            return
        import pyarrow as pa  # only here: validate reads segments without pyarrow (msgspec checks the UTF-8)

        offsets = pa.py_buffer(struct.pack("<qq", 0, length))
        with memoryview(self.buf) as view, view[1 : 1 + length] as piece:
            strings = pa.Array.from_buffers(pa.large_string(), 1, [None, offsets, pa.py_buffer(piece)])
            try:
                strings.validate(full=True)
            except pa.ArrowInvalid as exc:
                raise SegmentError("the file is not valid UTF-8") from exc
            finally:
                del strings
