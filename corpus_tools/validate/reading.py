"""Reading inputs for ``validate`` without ever raising on bad bytes.

* :func:`sniff` tells a Label Studio export (a JSON array) from canonical document JSONL, and
  spots empty files, byte order marks and top-level values that are not arrays (the build asks it too);
* :class:`ChunkReader` wraps the binary file ijson reads, counting bytes (for progress) and
  keeping the chunk being parsed so :func:`locate_parse_error` can turn yajl's error text into
  a byte offset (yajl prints a window of the chunk with the error at column 40; the window is
  searched in that chunk, and the offset is given only when it is unambiguous);
* :func:`find_invalid_utf8` streams the file through an incremental decoder and returns the
  exact offset of the first byte that is not UTF-8;
* :func:`locate_lone_surrogate` turns a lone surrogate escape refused in the stream into the JSON path of its
  string, from its item alone read again with ``json`` (which keeps the surrogate).
"""

from __future__ import annotations

import codecs
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal

from corpus_tools.strictjson import LoneSurrogateEscape, loads
from corpus_tools.text import lone_surrogate

_JSON_WHITESPACE = b" \t\r\n"
_NEWLINES_TO_SPACES = bytes.maketrans(b"\r\n", b"  ")
_SNIFF_SIZE = 1 << 16

InputKind = Literal["export", "documents", "empty", "bom", "not-array", "tasks-jsonl", "invalid"]


@dataclass(frozen=True)
class Sniffed:
    kind: InputKind
    offset: int = 0  # byte offset of the first significant byte
    what: str = ""  # for not-array: what the top-level value is
    first: bytes = b""  # the first significant byte (after a byte order mark too): b"[" for an array

    @property
    def form(self) -> Literal["labelstudio", "documents", "other"]:
        """What the file is meant to be by its first significant byte: a Label Studio export (``[``), document
        JSONL (``{``) or neither; :attr:`kind` says whether it is well formed."""
        return "labelstudio" if self.first == b"[" else "documents" if self.first == b"{" else "other"


# a top-level literal or number, then whitespace or the end (``not json`` starts with n, but is no null)
_SCALAR = re.compile(rb"(true|false|null|-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?)([ \t\r\n]|\Z)")


def _value_kind(first: bytes) -> str:
    return {b"{": "an object", b'"': "a string", b"t": "a boolean", b"f": "a boolean", b"n": "null"}.get(
        first, "a number"
    )


def sniff(path: Path) -> Sniffed:
    """What the file holds, from its first significant byte (and first line when it starts with ``{``)."""
    with path.open("rb") as f:
        head = f.read(_SNIFF_SIZE)
        if head.startswith(codecs.BOM_UTF8):
            return Sniffed("bom", 0, first=head[len(codecs.BOM_UTF8):].lstrip(_JSON_WHITESPACE)[:1])
        offset = 0
        while True:
            stripped = head.lstrip(_JSON_WHITESPACE)
            if stripped:
                offset += len(head) - len(stripped)
                break
            offset += len(head)
            head = f.read(_SNIFF_SIZE)
            if not head:
                return Sniffed("empty", offset)
        first = stripped[:1]
        if first == b"[":
            return Sniffed("export", offset, first=first)
        if first == b"{":
            f.seek(offset)
            line = f.readline()
            try:
                obj = loads(line)
            except (UnicodeDecodeError, ValueError):
                obj = None
            if isinstance(obj, dict):
                if "data" in obj or "annotations" in obj:
                    return Sniffed("tasks-jsonl", offset, first=first)
                return Sniffed("documents", offset, first=first)
            if path.suffix.lower() in (".jsonl", ".ndjson"):
                return Sniffed("documents", offset, first=first)
            return Sniffed("not-array", offset, "an object", first=first)
        if first == b'"' or _SCALAR.match(stripped):  # a whole literal or number, not just its first letter
            return Sniffed("not-array", offset, _value_kind(first), first=first)
        return Sniffed("invalid", offset, first=first)


class ChunkReader:
    """A read-only binary stream that counts bytes and keeps the last chunk handed out."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self.position = 0
        self.chunk_start = 0
        self.chunk = b""

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        if size != 0:
            self.chunk_start = self.position
            self.chunk = data
            self.position += len(data)
        return data


def _render(chunk: bytes, offset: int) -> bytes:
    """yajl's verbose error window for an error at ``offset`` of ``chunk``."""
    spaces = 40 - offset if offset < 30 else 10
    return b" " * spaces + chunk[max(0, offset - 30) : min(len(chunk), offset + 30)]


def locate_parse_error(message: str | bytes, reader: ChunkReader) -> int | None:
    """The byte offset of a yajl parse error in the file, when the error window pins it down."""
    raw = message.encode("utf-8", "surrogateescape") if isinstance(message, str) else message
    lines = raw.split(b"\n")
    if len(lines) < 3 or b"^" not in lines[2]:
        return None
    rendered = lines[1]
    content = rendered.lstrip(b" ")
    if not content:
        return None
    chunk = reader.chunk.translate(_NEWLINES_TO_SPACES)
    found: set[int] = set()
    at = chunk.find(content)
    while at != -1 and len(found) < 2:
        for offset in range(at, min(len(chunk), at + 41) + 1):
            if _render(chunk, offset) == rendered:
                found.add(offset)
        at = chunk.find(content, at + 1)
    if len(found) != 1:
        return None
    # yajl reports the position just after the offending token; point at its last byte.
    return reader.chunk_start + max(0, found.pop() - 1)


def find_invalid_utf8(path: Path) -> int | None:
    """The byte offset of the first byte sequence that is not UTF-8, or None if the file is UTF-8."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    position = 0
    with path.open("rb") as f:
        while True:
            chunk = f.read(1 << 20)
            pending = len(decoder.getstate()[0])
            try:
                decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as exc:
                return position - pending + exc.start
            if not chunk:
                return None
            position += len(chunk)


def locate_lone_surrogate(path: Path, exc: LoneSurrogateEscape, index: int) -> tuple[str, object]:
    """(JSON path of the string, task id) of the lone surrogate escape ``exc`` in item ``index`` of the JSON array in
    ``path``; ``$[index]`` and None when the item is not an object or array or cannot be read again.

    The item is read from its opening bracket with ``json``, in reads that double until it is whole (so reading it
    costs time linear in its size)."""
    where: tuple[str, object] = (f"$[{index}]", None)
    if exc.depth < 2 or exc.item_start is None or exc.item_start > exc.offset:
        return where  # the item is a string
    decoder = json.JSONDecoder()
    size = 1 << 16
    with path.open("rb") as f:
        while True:
            f.seek(exc.item_start)
            data = f.read(size)
            try:
                text = codecs.getincrementaldecoder("utf-8")().decode(data)  # a character cut at the end is left out
                item, _ = decoder.raw_decode(text)
            except ValueError:
                if len(data) < size:
                    return where
                size *= 2
                continue
            found = lone_surrogate(item, f"$[{index}]")
            task_id = item.get("id") if isinstance(item, dict) else None
            return (found or where[0]), task_id


def yajl_reason(message: str | bytes) -> str:
    """The first line of a yajl error ("lexical error: invalid char in json text.")."""
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)
    return text.split("\n", 1)[0].strip().rstrip(".")
