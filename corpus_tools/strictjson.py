"""JSON input held to JSON before and while it is parsed: a nesting-depth limit, and no NaN or Infinity.

A JSON value nested thousands of levels deep is a few hundred bytes of brackets, but parsers pay for it:
``json.loads`` and msgspec stop with ``RecursionError`` at about a thousand levels, and ijson's prefixed
events (``ijson.items``) keep one prefix string per open level, so memory grows with the square of the
depth (docs/benchmarks.md).  No export or document comes near the limit (a Label Studio task is about eight
levels deep).

:class:`DepthGuard` follows the depth over a byte stream chunk by chunk with a few numpy passes per
chunk (strings and their escapes are skipped, so a bracket inside a string does not count) and raises
:class:`TooDeep` with the byte offset of the first bracket beyond the limit, before the chunk is handed
on.  :func:`loads` is ``json.loads`` with a located ``JSONDecodeError`` for nesting beyond the limit (checked first when
the text holds more opening brackets than the limit, so it never depends on where ``RecursionError`` strikes), for
an integer too long for ``int()`` (a plain ``ValueError`` in ``json.loads``), and for the ``NaN`` and ``Infinity``
that Python's reader accepts and JSON does not.
"""

from __future__ import annotations

import json
import math
import sys
from typing import Any

import numpy as np

MAX_DEPTH = 512  # arrays and objects inside each other

_QUOTE_KIND, _BACKSLASH_KIND, _OPEN_KIND, _CLOSE_KIND = 1, 2, 3, 4
_KIND = np.zeros(256, dtype=np.uint8)  # what a byte is to the depth: 0 (nothing) for every other byte
_KIND[0x22], _KIND[0x5C] = _QUOTE_KIND, _BACKSLASH_KIND
_KIND[[0x5B, 0x7B]] = _OPEN_KIND  # [ {
_KIND[[0x5D, 0x7D]] = _CLOSE_KIND  # ] }
_KIND_TABLE = _KIND.tobytes()
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'"[]{}')  # deleted: all but quotes and brackets
_STEP = np.zeros(256, dtype=np.int64)
_STEP[[0x5B, 0x7B]], _STEP[[0x5D, 0x7D]] = 1, -1


class TooDeep(ValueError):
    """JSON nested deeper than the limit; ``offset``: the byte of the first bracket beyond it."""

    def __init__(self, offset: int, limit: int) -> None:
        super().__init__(f"arrays and objects are nested more than {limit} levels deep at byte {offset}")
        self.offset = offset
        self.limit = limit


class DepthGuard:
    """The nesting depth of a JSON byte stream fed in consecutive chunks."""

    def __init__(self, limit: int = MAX_DEPTH) -> None:
        self.limit = limit
        self.depth = 0
        self.position = 0  # bytes fed so far
        self._in_string = False
        self._backslashes = 0  # backslashes that end the bytes fed so far

    def feed(self, data: bytes) -> None:
        """Follow ``data`` (the next bytes of the stream); raises :class:`TooDeep` when a bracket in it goes beyond
        the limit (the state then stays as it was before ``data``).

        Only quotes, backslashes and brackets matter: one ``bytes.translate`` and one ``flatnonzero`` over the
        bytes, a few passes over those positions, and a Python step only for a quote right after a backslash
        (an escaped quote, or an escaped backslash before a closing one)."""
        if not data:
            return
        kinds = np.frombuffer(data.translate(_KIND_TABLE), dtype=np.uint8)
        at = np.flatnonzero(kinds)
        if len(at) == 0:
            self._backslashes = 0
            self.position += len(data)
            return
        kind = kinds[at]
        quote = kind == _QUOTE_KIND
        carried = self._backslashes

        def backslashes_before(j: int, byte: int) -> int:
            """The backslashes right before byte ``byte`` (position ``j`` among ``at``, or ``len(at)`` for the end)."""
            count, k = 0, j - 1
            while k >= 0 and kind[k] == _BACKSLASH_KIND and at[k] == byte - 1:
                count, k, byte = count + 1, k - 1, byte - 1
            return count + (carried if byte == 0 else 0)  # a run from the chunk's start continues the last one

        after_backslash = np.flatnonzero(quote[1:] & (kind[:-1] == _BACKSLASH_KIND) & (at[1:] == at[:-1] + 1)) + 1
        if carried and at[0] == 0 and quote[0]:
            after_backslash = np.concatenate([[0], after_backslash])
        if len(after_backslash):
            quote = quote.copy()
            for j in after_backslash.tolist():
                if backslashes_before(j, int(at[j])) % 2:
                    quote[j] = False  # escaped: text, not a string's end
        inside = np.logical_xor.accumulate(quote)  # after each position: inside a string (its closing quote: out)
        if self._in_string:
            inside = ~inside
        brackets = np.flatnonzero((kind >= _OPEN_KIND) & ~inside)
        depth = self.depth + np.cumsum(np.where(kind[brackets] == _OPEN_KIND, 1, -1))
        if len(depth) and int(depth.max()) > self.limit:
            raise TooDeep(self.position + int(at[brackets[np.argmax(depth > self.limit)]]), self.limit)
        if len(depth):
            self.depth = int(depth[-1])
        self._in_string = bool(inside[-1])
        self._backslashes = backslashes_before(len(at), len(data))
        self.position += len(data)


class DepthLimitedReader:
    """A binary stream whose :meth:`read` raises :class:`TooDeep` before handing on bytes nested too deeply (wrap
    a file with it before ``ijson.items``)."""

    def __init__(self, raw: Any, limit: int = MAX_DEPTH) -> None:
        self._raw = raw
        self._guard = DepthGuard(limit)

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        self._guard.feed(data)
        return data


def check_depth(data: bytes, limit: int = MAX_DEPTH) -> None:
    """Raise :class:`TooDeep` when the JSON bytes ``data`` nest deeper than ``limit``."""
    if _within_depth(data, limit):
        return
    DepthGuard(limit).feed(data)  # it locates the bracket beyond the limit


def _within_depth(data: bytes, limit: int) -> bool:
    """Whether ``data`` nests at most ``limit`` deep, as :class:`DepthGuard` reads it, from its quotes and brackets.

    A backslash escapes the byte after it (the guard's rule), so the quotes escaped that way are blanked first
    (found with one ``find`` per backslash: JSON text holds few); then every quote left opens or closes a string,
    and one ``bytes.translate`` keeps the quotes and brackets that decide the depth.  This skips the guard's pass
    over every byte's position."""
    escaped = []
    position = data.find(b"\\")
    while position >= 0:
        if data[position + 1:position + 2] == b'"':
            escaped.append(position + 1)
        position = data.find(b"\\", position + 2)  # the escaped byte is skipped, a backslash too
    if escaped:
        blanked = bytearray(data)
        for position in escaped:
            blanked[position] = 0x20
        data = blanked
    structure = np.frombuffer(data.translate(None, _NOT_STRUCTURE), dtype=np.uint8)
    steps = _STEP[structure]
    steps[np.logical_xor.accumulate(structure == 0x22)] = 0  # brackets inside strings
    return int(np.cumsum(steps).max(initial=0)) <= limit


class _NotJSON(ValueError):
    """NaN, Infinity or -Infinity: Python's json reads them, JSON has no such numbers."""


def _refuse_constant(name: str) -> None:
    raise _NotJSON(name)


def _finite(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):  # 1e400: beyond a double, Python makes it inf
        raise _NotJSON(literal)
    return value


def loads(text: str | bytes) -> Any:
    """``json.loads`` of one value, held to JSON and to what Python can hold: ``NaN``, ``Infinity`` and ``-Infinity``
    (which Python reads, and which no other JSON reader, Label Studio's included, accepts), nesting beyond
    :data:`MAX_DEPTH` (located at the first bracket beyond it) and an integer longer than Python converts
    (``sys.get_int_max_str_digits()``, 4300 digits) are ``json.JSONDecodeError`` (a ``ValueError``), as for any
    other unusable JSON.  Valid input pays two ``count`` calls for the depth (the exact check runs only when the
    text holds more than :data:`MAX_DEPTH` opening brackets) and nothing for the rest."""
    if isinstance(text, str):
        brackets = text.count("[") + text.count("{")
    else:
        brackets = text.count(b"[") + text.count(b"{")
    if brackets > MAX_DEPTH:
        _check_depth_of(text)
    try:
        return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite)
    except _NotJSON as exc:
        what = exc.args[0]
        why = "is not a JSON number" if what in ("NaN", "Infinity", "-Infinity") else "is beyond a double"
        doc = _as_text(text)
        raise json.JSONDecodeError(f"{what} {why}", doc, max(0, doc.find(what))) from None
    except RecursionError:  # not expected below MAX_DEPTH; a deep Python stack could still get there
        _check_depth_of(text)
        raise
    except json.JSONDecodeError:
        raise
    except ValueError:  # "Exceeds the limit (4300 digits) for integer string conversion"
        literal = _long_integer(text)
        if literal is None:
            raise
        doc = _as_text(text)
        digits = len(literal.lstrip("-"))
        raise json.JSONDecodeError(f"an integer of {digits} digits is longer than the"
                                   f" {sys.get_int_max_str_digits()} digits Python reads",
                                   doc, max(0, doc.find(literal))) from None


def _check_depth_of(text: str | bytes) -> None:
    """Raise a located ``json.JSONDecodeError`` when ``text`` nests deeper than :data:`MAX_DEPTH`."""
    raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    try:
        check_depth(raw)
    except TooDeep as exc:
        at = len(raw[: exc.offset].decode("utf-8", "replace"))
        raise json.JSONDecodeError(f"arrays and objects nested more than {exc.limit} levels deep",
                                   _as_text(text), at) from None


def _long_integer(text: str | bytes) -> str | None:
    """The first integer literal of ``text`` too long for ``int()``, or None (only called after a failure)."""
    limit = sys.get_int_max_str_digits()

    def check(literal: str) -> int:
        if limit and len(literal.lstrip("-")) > limit:
            raise _NotJSON(literal)
        return 0

    try:
        json.loads(text, parse_int=check, parse_constant=_refuse_constant, parse_float=_finite)
    except _NotJSON as exc:
        return exc.args[0] if exc.args[0] not in ("NaN", "Infinity", "-Infinity") else None
    except ValueError:
        return None
    return None


def _as_text(text: str | bytes) -> str:
    return text if isinstance(text, str) else text.decode("utf-8", "replace")
