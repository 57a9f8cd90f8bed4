"""JSONL and CSV readers for ingest: one Article record per JSONL line or CSV row.

A ``--field TARGET=FIELD`` mapping says which field of a record holds the text, title, source,
language and metadata (see docs/ingest.md).  Both readers stream: a JSONL file is read line by line
(each line bounded by ``max_bytes``), a CSV file is checked for UTF-8 in chunks and then parsed row by
row, so neither file's size matters.  Every problem names the file and the line where the record starts.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import tempfile
from codecs import BOM_UTF8
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import BinaryIO

from corpus_tools.ingest.codes import (
    BAD_CSV_ROW,
    BAD_FIELD_TYPE,
    BAD_JSON_LINE,
    BOM_REMOVED,
    EMPTY,
    INVALID_UTF8,
    META_TYPE,
    MISSING_FIELD,
    RECORD_NOT_OBJECT,
    TOO_LARGE,
    UNREADABLE,
)
from corpus_tools.ingest.newswire import clean_title
from corpus_tools.ingest.sources import IngestRun, Located, Source
from corpus_tools.ontology import coerce_meta_value
from corpus_tools.strictjson import LoneSurrogateError
from corpus_tools.strictjson import loads as json_loads
from corpus_tools.text import has_lone_surrogate, printable

FIELD_TARGETS = ("text", "id", "title", "source", "lang", "meta")
DEFAULT_FIELDS: Mapping[str, str] = {target: target for target in FIELD_TARGETS}

_SNIFF_BYTES = 8192
_CHUNK = 1 << 20
_MISSING = object()


def parse_field_mapping(specs: Iterable[str]) -> dict[str, str]:
    """Merge ``TARGET=FIELD`` specs (``text=body``, ``meta.url=link``) into the default mapping.

    Targets are ``text``, ``id``, ``title``, ``source``, ``lang``, ``meta`` and ``meta.KEY``; a FIELD may be a
    dotted path into nested objects (``text=article.body``).  Raises ValueError for a malformed spec.
    """
    mapping = dict(DEFAULT_FIELDS)
    for spec in specs:
        target, sep, name = spec.partition("=")
        target, name = target.strip(), name.strip()
        if not sep or not target or not name:
            raise ValueError(f"field mapping {spec!r} must look like TARGET=FIELD, e.g. text=body")
        if has_lone_surrogate(spec):
            raise ValueError(f"field mapping '{printable(spec)}' is not text (it holds bytes that are not UTF-8)")
        if target not in FIELD_TARGETS and not (target.startswith("meta.") and len(target) > 5):
            targets = ", ".join(FIELD_TARGETS)
            raise ValueError(f"unknown target {target!r} in {spec!r}; use one of {targets} or meta.KEY")
        mapping[target] = name
    return mapping


def _name_list(names: Iterable[object], *, limit: int = 12, width: int = 40) -> str:
    """The names of columns or fields for a message: quoted, each cut at ``width`` characters, at most ``limit`` of
    them and then how many more; ``none`` for no name."""
    names = [str(name) for name in names]
    if not names:
        return "none"

    def quoted(name: str) -> str:
        name = printable(name)
        return repr(name if len(name) <= width else name[: width - 1] + "…")

    shown = ", ".join(quoted(name) for name in names[:limit])
    more = len(names) - limit
    return shown if more <= 0 else f"{shown} and {more} more"


def _lookup(obj: Mapping[str, object], path: str) -> object:
    """``obj[path]``, else the dotted path into nested objects, else ``_MISSING``."""
    if path in obj:
        return obj[path]
    value: object = obj
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _mapped_values(run: IngestRun, obj: Mapping[str, object], where: dict[str, object],
                   csv_row: bool) -> dict[str, object] | None:
    """The mapped fields of a record that are present (``None``/``""`` count as absent); None when rejected."""
    values: dict[str, object] = {}
    for target, name in run.fields.items():
        value = _lookup(obj, name)
        if value is None or (value == "" and target != "text"):
            continue
        if value is _MISSING:
            continue
        if csv_row and target == "meta" and isinstance(value, str):
            try:
                value = json_loads(value)
            except LoneSurrogateError as exc:
                run.reject_record(INVALID_UTF8, f"field {name!r} holds JSON with a lone surrogate escape in the string"
                                  f" at {exc.json_path}, which is not text; fix the escape in the source",
                                  details={"field": name, "json_path": exc.json_path}, **where)
                return None
            except json.JSONDecodeError:
                pass
        expected: type | tuple[type, ...] = (object if target.startswith("meta.") else dict if target == "meta"
                                             else (str, int) if target == "id" else str)
        if not isinstance(value, expected) or (target == "id" and isinstance(value, bool)):
            kind = "an object" if expected is dict else "a string or an integer" if target == "id" else "a string"
            run.reject_record(
                BAD_FIELD_TYPE, f"field {name!r} (mapped to {target}) must be {kind}, not {type(value).__name__}",
                details={"field": name, "target": target}, **_json_path(where, name, csv_row),
            )
            return None
        values[target] = value
    if "text" not in values:
        name = run.fields["text"]
        absent = not csv_row and _lookup(obj, name) is _MISSING  # not there at all, rather than null
        fields = f" (its fields: {_name_list(obj)})" if absent else ""
        run.reject_record(
            MISSING_FIELD,
            f"record has no field {name!r} for the article text{fields}; map it with --field text=NAME",
            details={"field": name}, **_json_path(where, name, csv_row),
        )
        return None
    return values


def map_record(run: IngestRun, obj: Mapping[str, object], src: Source, line: int, *, csv_row: bool) -> Located | None:
    """Map one JSONL object or CSV row to an article (with its location), or None when rejected."""
    where: dict[str, object] = {"file": src.display, "line": line}
    values = _mapped_values(run, obj, where, csv_row)
    if values is None:
        return None
    meta = dict(values.get("meta") or {})  # type: ignore[call-overload]
    origins = {key: f"{run.fields['meta']}.{key}" for key in meta}  # the record's field each value comes from
    for target, value in values.items():
        if target.startswith("meta."):
            meta[target[5:]] = value
            origins[target[5:]] = run.fields[target]
    meta = _typed_meta(run, meta, origins, where, csv_row)
    if meta is None:
        return None
    text = str(values["text"])
    text_where = _json_path(where, run.fields["text"], csv_row)
    try:
        size = len(text.encode("utf-8"))
        json.dumps([values.get("title"), values.get("source"), values.get("lang"), values.get("id"), meta],
                   ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        run.reject_record(
            INVALID_UTF8, f"record holds a lone surrogate (\\u{ord(exc.object[exc.start]):04x}) that cannot be"
            " written as UTF-8; fix the escape in the source", **where,
        )
        return None
    if size > run.max_bytes:
        run.reject_record(
            TOO_LARGE, f"text is larger than {run.max_bytes} bytes; raise --max-bytes to ingest it",
            details={"bytes": size, "max_bytes": run.max_bytes}, **text_where,
        )
        return None
    run.stats["records"] += 1  # type: ignore[operator]
    title = clean_title(values.get("title"))  # type: ignore[arg-type]
    cleaned = run.clean_text(text, text_where, text_lines=False, title=title)
    if cleaned is None:
        return None
    article = run.make_article(
        cleaned, src, line, text_where, title=title, source=values.get("source"),  # type: ignore[arg-type]
        lang=values.get("lang"), meta=meta,  # type: ignore[arg-type]
        source_id=str(values["id"]) if "id" in values else None,
    )
    return (article, where) if article is not None else None


def _typed_meta(run: IngestRun, meta: dict[str, object], origins: Mapping[str, str], where: dict[str, object],
                csv_row: bool) -> dict[str, object] | None:
    """``meta`` with each declared field's value of its type (CSV text parsed: ``42``, ``1.5``, ``true``); each
    undeclared field kept and reported once per file; None when a declared value is not of its type (rejected)."""
    typed: dict[str, object] = {}
    for key, value in meta.items():
        kind = run.meta_types.get(key)
        located = _json_path(where, origins[key], csv_row)
        if kind is None:
            run.meta_undeclared(key, located, source_field=origins[key])
            typed[key] = value
            continue
        try:
            typed[key] = coerce_meta_value(kind, value)
        except ValueError as exc:
            shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:59] + "…"
            run.reject_record(META_TYPE, f"meta field {key!r} (from field {origins[key]!r}) is declared {kind} but"
                              f" holds {printable(shown)}: it {exc}; fix the value or map another field",
                              details={"field": key, "type": kind, "source_field": origins[key]}, **located)
            return None
    return typed


class _Prefixed(io.RawIOBase):
    """``head`` (bytes already read from ``rest``), then the rest of the stream: a pipe cannot seek back."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self._head = memoryview(head)
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def, override]
        if self._head:
            n = min(len(buffer), len(self._head))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._rest.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def read_jsonl(run: IngestRun, src: Source) -> Iterator[Located]:
    """Articles from a JSONL file, one line at a time (each line bounded by ``max_bytes``); a NUL byte in the
    first 8 KiB rejects the whole file as binary before any line is read."""
    file_where: dict[str, object] = {"file": src.display}
    try:
        with run.open_input(src) as opened:
            start_at = opened.tell() if opened.seekable() else None
            head = opened.read(_SNIFF_BYTES)
            if b"\0" in head:
                run.stats["records"] += 1  # type: ignore[operator]
                run.reject_binary(head, file_where)
                return
            if start_at is not None:
                opened.seek(start_at)
                handle = opened
            else:
                handle = io.BufferedReader(_Prefixed(head, opened), _CHUNK)  # type: ignore[assignment]
            offset = 0
            line = 0
            records = 0  # lines that are not blank
            while raw := handle.readline(run.max_bytes + 1):
                line += 1
                start = offset
                offset += len(raw)
                where = {**file_where, "line": line}
                if len(raw) > run.max_bytes and not raw.endswith(b"\n"):
                    records += 1
                    while (rest := handle.readline(_CHUNK)) and not rest.endswith(b"\n"):
                        offset += len(rest)
                    offset += len(rest)
                    run.reject_record(
                        TOO_LARGE, f"line is longer than {run.max_bytes} bytes; raise --max-bytes to ingest it",
                        byte_offset=start, details={"max_bytes": run.max_bytes}, **where,
                    )
                    continue
                if line == 1 and raw.startswith(BOM_UTF8):
                    raw = raw[len(BOM_UTF8) :]
                    start += len(BOM_UTF8)
                    run.problem(BOM_REMOVED, "a leading byte order mark was removed from the JSONL file",
                                byte_offset=0, **file_where)
                if raw.strip():
                    records += 1
                    yield from _jsonl_line(run, src, raw, start, where)
            if not records:  # as an empty text file is
                run.reject_record(EMPTY, "file is empty (0 bytes)" if not offset else "file holds only blank lines",
                                  details={"bytes": offset}, **file_where)
    except OSError as exc:
        run.reject(UNREADABLE, f"cannot read file ({exc.strerror}); check its permissions", **file_where)


def _jsonl_line(run: IngestRun, src: Source, raw: bytes, start: int, where: dict[str, object]) -> Iterator[Located]:
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        run.reject_record(
            INVALID_UTF8, f"invalid UTF-8 ({exc.reason}) at byte {start + exc.start}; re-encode the file as UTF-8",
            byte_offset=start + exc.start, **where,
        )
        return
    try:
        obj = json_loads(decoded)
    except LoneSurrogateError as exc:
        run.reject_record(INVALID_UTF8, f"line holds a lone surrogate escape in the string at {exc.json_path}, which is"
                          " not text; fix the escape in the source", json_path=exc.json_path, **where)
        return
    except json.JSONDecodeError as exc:
        run.reject_record(BAD_JSON_LINE, f"line is not valid JSON: {exc.msg} (column {exc.colno})",
                          details={"column": exc.colno}, **where)
        return
    if not isinstance(obj, dict):
        run.reject_record(RECORD_NOT_OBJECT, f"line holds a JSON {type(obj).__name__}, not an object", **where)
        return
    result = map_record(run, obj, src, int(where["line"]), csv_row=False)  # type: ignore[call-overload]
    if result is not None:
        yield result


def read_csv(run: IngestRun, src: Source) -> Iterator[Located]:
    """Articles from a CSV file with a header row: checked for UTF-8 in chunks, then parsed row by row."""
    where: dict[str, object] = {"file": src.display}
    try:
        with _seekable(run, src) as handle:
            found = _scan_utf8(handle)
            if found is not None:
                kind, offset, line = found
                if kind == "binary":
                    run.stats["records"] += 1  # type: ignore[operator]
                    handle.seek(0)
                    run.reject_binary(handle.read(offset + 1), where)
                else:
                    run.reject_record(INVALID_UTF8, f"invalid UTF-8 at byte {offset}; re-encode the file as UTF-8",
                                      byte_offset=offset, line=line, **where)
                return
            handle.seek(0)
            if handle.read(len(BOM_UTF8)) == BOM_UTF8:
                run.problem(BOM_REMOVED, "a leading byte order mark was removed from the CSV file",
                            byte_offset=0, **where)
            else:
                handle.seek(0)
            yield from _csv_rows(run, io.TextIOWrapper(handle, encoding="utf-8", newline=""), src)
    except OSError as exc:
        run.reject(UNREADABLE, f"cannot read file ({exc.strerror}); check its permissions", **where)


@contextmanager
def _seekable(run: IngestRun, src: Source) -> Iterator[BinaryIO]:
    """The input as a seekable binary file (stdin, and a named pipe such as ``<(zcat x.csv.gz)``, are spooled first)."""
    if src.path is not None and os.path.isfile(src.path):
        with open(src.path, "rb") as handle:
            yield handle
        return
    with tempfile.SpooledTemporaryFile(max_size=16 * _CHUNK) as spool, run.open_input(src) as stream:
        while chunk := stream.read(_CHUNK):
            spool.write(chunk)
        spool.seek(0)
        yield spool  # type: ignore[misc]


def _csv_rows(run: IngestRun, stream: io.TextIOWrapper, src: Source) -> Iterator[Located]:
    where: dict[str, object] = {"file": src.display}
    old_limit = csv.field_size_limit()
    csv.field_size_limit(max(old_limit, run.max_bytes + 1))
    try:
        # strict: a quoted field still open at the end of the file is an error, not the rest of the file read as
        # one field (a stray quote merged every row after it into one article), nor is text after a closing quote
        reader = csv.reader(stream, strict=True)
        try:
            header = next(reader, None)
        except csv.Error as exc:
            run.reject_record(BAD_CSV_ROW, f"the header cannot be parsed: {exc}", line=1, **where)
            return
        if not header:
            run.reject_record(EMPTY, "CSV file has no header row", **where)
            return
        text_field = run.fields["text"]
        if text_field not in header:
            run.reject_record(
                MISSING_FIELD, f"CSV header has no column {text_field!r} for the article text (its columns:"
                f" {_name_list(header)}); map the right column with --field text=NAME", line=1,
                details={"field": text_field, "columns": header}, **where,
            )
            return
        columns = {name: i for i, name in reversed(list(enumerate(header)))}  # first column of a name wins
        rows = 0  # rows that are not blank
        while True:
            line = reader.line_num + 1
            try:
                row = next(reader)
            except StopIteration:
                if not rows:  # a header alone holds no article, as an empty file does not
                    run.reject_record(EMPTY, "CSV file has a header row and no data rows", line=1,
                                      details={"columns": header}, **where)
                return
            except csv.Error as exc:
                code = TOO_LARGE if "field limit" in str(exc) else BAD_CSV_ROW
                why = (f"a quoted field opened on line {line} (or in the row that starts there) is never closed"
                       f" before the end of the file (line {reader.line_num}); close or remove the stray quote"
                       if "unexpected end of data" in str(exc) else f"row cannot be parsed: {exc}")
                rows += 1
                run.reject_record(code, why, line=line, **where)
                continue
            if not row or all(not cell.strip() for cell in row):
                continue
            rows += 1
            if len(row) != len(header):
                run.reject_record(
                    BAD_CSV_ROW, f"row has {len(row)} fields but the header has {len(header)}", line=line,
                    details={"fields": len(row), "header_fields": len(header)}, **where,
                )
                continue
            result = map_record(run, {name: row[i] for name, i in columns.items()}, src, line, csv_row=True)
            if result is not None:
                yield result
    finally:
        csv.field_size_limit(old_limit)


def _json_path(where: dict[str, object], name: str, csv_row: bool) -> dict[str, object]:
    if csv_row:
        return dict(where)
    return {**where, "json_path": "$." + name if re.fullmatch(r"[A-Za-z_][\w.]*", name) else f"$[{name!r}]"}


def _scan_utf8(handle: BinaryIO) -> tuple[str, int, int] | None:
    """``("binary"|"invalid", byte offset, line)`` of the first NUL byte (in the first 8 KiB) or invalid
    UTF-8 sequence of a stream, or None when it is clean; reads it in chunks."""
    base = 0
    lines = 1
    carry = b""
    first = True
    while True:
        chunk = handle.read(_CHUNK)
        if first and b"\0" in chunk[:_SNIFF_BYTES]:
            offset = chunk.index(b"\0")
            return "binary", offset, chunk.count(b"\n", 0, offset) + 1
        first = False
        data = carry + chunk
        if not data:
            return None
        try:
            data.decode("utf-8")
            valid = len(data)
        except UnicodeDecodeError as exc:
            if not chunk or exc.end != len(data) or exc.reason != "unexpected end of data":
                return "invalid", base + exc.start, lines + data.count(b"\n", 0, exc.start)
            valid = exc.start  # an incomplete sequence at the chunk's end: complete it with the next chunk
        lines += data.count(b"\n", 0, valid)
        base += valid
        carry = data[valid:]
        if not chunk:
            return None
