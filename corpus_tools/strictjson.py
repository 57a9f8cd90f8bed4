"""JSON input held to JSON before and while it is parsed: a nesting-depth limit, no NaN or Infinity, no lone
UTF-16 surrogate escape.

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

A string escape ``\\ud800``-``\\udfff`` without its pair is no text, and every decoder treats it its own way:
``json.loads`` keeps a lone surrogate in the ``str`` (no UTF-8 writer takes it), msgspec refuses it, and ijson's
yajl C backend writes ``?`` for a lone high surrogate, or joins it with whatever ``\\u`` escape follows into another
character.  :class:`SurrogateScan` finds such escapes in a byte stream chunk by chunk (a regex over the bytes: they
are rare); :class:`StrictReader` refuses them (:class:`LoneSurrogateEscape`, located) before a parser sees them, and
:func:`loads` refuses them too (:class:`LoneSurrogateError`, with the JSON path of the string).
"""

from __future__ import annotations

import json
import math
import re
import sys
from typing import Any

import numpy as np

from corpus_tools.text import lone_surrogate

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
        self.item_start: int | None = None  # offset of the last bracket that opened a value at depth 2 (an item)
        self._in_string = False
        self.string_start = 0  # offset of the quote that opened the string the bytes fed so far end in (if any)
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
            opens = np.flatnonzero((kind[brackets] == _OPEN_KIND) & (depth == 2))
            if len(opens):
                self.item_start = self.position + int(at[brackets[opens[-1]]])
        self._in_string = bool(inside[-1])
        if self._in_string and quote.any():  # opened in ``data``, by its last quote
            self.string_start = self.position + int(at[np.flatnonzero(quote)[-1]])
        self._backslashes = backslashes_before(len(at), len(data))
        self.position += len(data)

    @property
    def in_string(self) -> bool:
        """Whether the bytes fed so far end inside a string (or a key)."""
        return self._in_string


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_LOW_ESCAPE = re.compile(rb"\\u[dD][c-fC-F][0-9a-fA-F]{2}")
_ESCAPE_PAIR = 12  # bytes of a high and a low surrogate escape: what a high one needs to be judged
_BACKSLASH = 0x5C


class LoneSurrogateEscape(ValueError):
    """A string escape ``\\ud800``-``\\udfff`` without its pair at byte ``offset`` of a JSON stream; ``depth`` and
    ``item_start``: the nesting depth there and the byte of the bracket that opened its item (depth 2), if any."""

    def __init__(self, offset: int, depth: int = 0, item_start: int | None = None) -> None:
        super().__init__(f"a lone UTF-16 surrogate escape (\\ud800-\\udfff without its pair) at byte {offset}")
        self.offset = offset
        self.depth = depth
        self.item_start = item_start


class SurrogateScan:
    """Lone UTF-16 surrogate escapes in a JSON byte stream fed in consecutive chunks.

    A high surrogate escape is lone unless a low one follows at once; a low one unless it is that one; a backslash
    escaped by another (``\\\\ud800``: the text ``\\ud800``) starts no escape.  A chunk's last bytes, where an
    escape or its pair may be cut, are held back until the next chunk (or the end) decides them."""

    def __init__(self) -> None:
        self.position = 0  # bytes handed on so far
        self._held = b""
        self._backslashes = 0  # backslashes that end the bytes handed on
        self._paired_low = -1  # offset of the low surrogate escape that pairs the last high one

    def feed(self, data: bytes, *, final: bool = False) -> tuple[bytes, int | None]:
        """The bytes that can be handed on (``data`` after those held back, without those now held back), and the
        offset of the first lone surrogate escape (then the bytes handed on end before it), or None.  ``final``:
        ``data`` ends the stream, nothing is held back."""
        buf = self._held + data if self._held else data
        cut = len(buf) if final else max(0, len(buf) - (_ESCAPE_PAIR - 1))
        for match in _SURROGATE_ESCAPE.finditer(buf, 0, len(buf)):
            at = match.start()
            if at >= cut:
                break
            offset = self.position + at
            if self._escaped(buf, at) or offset == self._paired_low:
                continue
            if buf[at + 3] in b"89abAB" and _LOW_ESCAPE.match(buf, at + 6):
                self._paired_low = offset + 6
                continue
            self._held = b""
            self.position = offset
            return buf[:at], offset
        out, self._held = buf[:cut], buf[cut:]
        trailing = len(out) - len(out.rstrip(b"\\"))
        self._backslashes = self._backslashes + trailing if trailing == len(out) else trailing
        self.position += len(out)
        return out, None

    def _escaped(self, buf: bytes, at: int) -> bool:
        """Whether the backslash at ``at`` is escaped by an odd run of backslashes before it."""
        k = at - 1
        while k >= 0 and buf[k] == _BACKSLASH:
            k -= 1
        run = at - 1 - k + (self._backslashes if k < 0 else 0)
        return run % 2 == 1


class StrictReader:
    """A binary stream held to JSON before a parser sees its bytes (wrap a file with it before ``ijson.items``):
    :meth:`read` raises :class:`TooDeep` before handing on bytes nested too deeply, and
    :class:`LoneSurrogateEscape` before a lone surrogate escape (the bytes before it first, so that the parser
    gives every item before it).

    While one string stays open through a whole chunk, each read asks for twice the bytes of the last: yajl lexes
    a string cut by a chunk again from its start with the next chunk, so a string of n bytes read in chunks of a
    fixed size costs time in n squared; doubling makes it linear (docs/benchmarks.md, "One huge text").  Chunks
    that merely end inside a string (most chunks of a file of short strings) keep the size asked for: doubling
    on those read a 26 MB splits.json of a million short ids in ever larger chunks, nearly whole."""

    def __init__(self, raw: Any, limit: int = MAX_DEPTH) -> None:
        self._raw = raw
        self._guard = DepthGuard(limit)
        self._scan = SurrogateScan()
        self._lone: LoneSurrogateEscape | None = None
        self._size = 0  # the size of the last read
        self._fed_from = 0  # the offset of the last bytes fed to the guard

    def read(self, size: int = -1) -> bytes:
        if self._lone is not None:
            raise self._lone
        while True:
            if size > 0:
                through = self._guard.in_string and self._guard.string_start < self._fed_from  # one string
                size = self._size = max(size, 2 * self._size) if through else size
            data = self._raw.read(size)
            out, lone = self._scan.feed(data, final=not data)
            self._fed_from = self._guard.position
            self._guard.feed(out)
            if lone is not None:
                self._lone = LoneSurrogateEscape(lone, self._guard.depth, self._guard.item_start)
                if not out:
                    raise self._lone
            if out or not data:
                return out


def check_depth(data: bytes, limit: int = MAX_DEPTH) -> None:
    """Raise :class:`TooDeep` when the JSON bytes ``data`` nest deeper than ``limit``."""
    if _within_depth(data, limit):
        return
    DepthGuard(limit).feed(data)  # it locates the bracket beyond the limit


def _within_depth(data: bytes, limit: int) -> bool:
    """Whether ``data`` nests at most ``limit`` deep, as :class:`DepthGuard` reads it, from its quotes and brackets.

    A backslash escapes the byte after it (the guard's rule): a quote after an odd run of backslashes is escaped.
    Those quotes are blanked first (found with one ``find`` per backslash before a quote: text holds few, where
    ``\\u0645`` escapes can be millions); then every quote left opens or closes a string, and one
    ``bytes.translate`` keeps the quotes and brackets that decide the depth.  This skips the guard's pass over
    every byte's position."""
    escaped = []
    position = data.find(b'\\"')
    while position >= 0:
        run = position
        while run > 0 and data[run - 1] == _BACKSLASH:  # each run is walked once: it ends at this quote
            run -= 1
        if (position - run) % 2 == 0:  # the backslash right before the quote is not itself escaped
            escaped.append(position + 1)
        position = data.find(b'\\"', position + 2)
    if escaped:
        blanked = bytearray(data)
        for position in escaped:
            blanked[position] = 0x20
        data = blanked
    structure = np.frombuffer(data.translate(None, _NOT_STRUCTURE), dtype=np.uint8)
    steps = _STEP[structure]
    steps[np.logical_xor.accumulate(structure == 0x22)] = 0  # brackets inside strings
    return int(np.cumsum(steps).max(initial=0)) <= limit


class LoneSurrogateError(json.JSONDecodeError):
    """:func:`loads` of JSON text whose string (or key) at ``json_path`` holds a lone UTF-16 surrogate escape."""

    def __init__(self, doc: str, pos: int, json_path: str) -> None:
        super().__init__(f"a lone UTF-16 surrogate escape (\\ud800-\\udfff without its pair) in the string at"
                         f" {json_path}", doc, pos)
        self.json_path = json_path


_MAYBE_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


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
    other unusable JSON.  A string (or key) holding a lone UTF-16 surrogate escape is :class:`LoneSurrogateError`
    (a ``json.JSONDecodeError`` with the string's JSON path), and bytes are read as strict UTF-8 (``json.loads``
    reads UTF-8 encoded surrogates too): ``UnicodeDecodeError`` when they are not.  Valid input pays two ``count``
    calls for the depth (the exact check runs only when the text holds more than :data:`MAX_DEPTH` opening
    brackets), one regex search for a surrogate escape, and nothing for the rest."""
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    if text.count("[") + text.count("{") > MAX_DEPTH:
        _check_depth_of(text)
    try:
        value = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite)
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
    if _MAYBE_SURROGATE_ESCAPE.search(text) and (where := lone_surrogate(value)) is not None:
        raw = text.encode("utf-8", "surrogatepass")
        _, offset = SurrogateScan().feed(raw, final=True)
        pos = len(raw[:offset].decode("utf-8", "surrogatepass")) if offset is not None else 0
        raise LoneSurrogateError(text, pos, where)
    return value


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
