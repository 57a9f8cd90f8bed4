"""Validate Label Studio exports and canonical document JSONL: schema pass, then semantic pass.

Nothing reaches a release unchecked: Label Studio accepts unknown labels, offsets past the text
and relations to missing regions.  :func:`validate_export` streams a file of any size and
returns a :class:`~corpus_tools.report.Report`; build and publish call it and refuse invalid data.

Two input forms, told apart by content (:func:`corpus_tools.validate.reading.sniff`):

* a **Label Studio JSON export**: one JSON array of tasks, parsed incrementally with ijson (yajl C
  backend), so memory does not grow with the number of tasks;
* **canonical document JSONL** (``schemas/document.schema.json``), one document per line.

Each task goes through the schema pass (:mod:`corpus_tools.schemas`: the export schema
narrowed to the ontology, compiled with jsonschema-rs, with jsonschema for located details) and
the semantic pass (:mod:`corpus_tools.rules`).  Problems carry the task id, the
annotation (or prediction) id and a JSON path from the export root, such as
``$[3].annotations[0].result[2].value.labels[0]``; document problems carry the line and a path
within the line.  Malformed files give one located problem (byte offset and task index), never
an exception.  Problem codes live in :mod:`corpus_tools.codes` (docs/errors.md).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import ijson

from corpus_tools import codes as C
from corpus_tools.checks import ItemChecker, default_ontology, validate_document, validate_task
from corpus_tools.errors import InputError, OutputError
from corpus_tools.files import AtomicFile, folder_missing, same_file, write_failure
from corpus_tools.keys import SeenKeys, store_failures
from corpus_tools.offsets import utf16_repair
from corpus_tools.ontology import Ontology
from corpus_tools.report import WARNINGS_PER_CODE, Problem, Report, make_problem
from corpus_tools.strictjson import LoneSurrogateError, LoneSurrogateEscape, StrictReader, TooDeep, loads
from corpus_tools.validate.reading import (
    ChunkReader,
    find_invalid_utf8,
    locate_lone_surrogate,
    locate_parse_error,
    sniff,
    yajl_reason,
)
from corpus_tools.validate.segmented import (
    ExportKeys,
    SegmentsUnreadable,
    TaskChecks,
    ValidationMerger,
    WorkerPool,
    article_id_of,
    checked_segments,
    duplicate_article_problem,
    pool_size,
)

__all__ = ["validate_export", "validate_task", "validate_document", "repair_utf16_export", "iter_validated",
           "duplicate_article_problem"]

Progress = Callable[[int], None]
_PROGRESS_EVERY = 512  # tasks or lines between two progress calls
VALIDATE_SEGMENT_BYTES = 1 << 18


@store_failures("validation")
def validate_export(
    path: str | Path,
    *,
    ontology: Ontology | None = None,
    max_errors: int | None = None,
    progress: Progress | None = None,
    workers: int | None = 1,
    warnings_per_code: int = WARNINGS_PER_CODE,
) -> Report:
    """Validate a Label Studio JSON export or canonical document JSONL; never raises on bad data.

    A Label Studio export is read in segments of whole tasks, checked in ``workers`` processes (1: in this
    process; None: one per core; :mod:`corpus_tools.validate.segmented`), the checks that need every task
    (repeated article ids and task ids) once in input order; an export the segments cannot read, and document JSONL, are
    read as a stream here, which locates a malformed file's problem.

    ``max_errors`` stops collecting errors after that many (the report is then ``truncated``;
    its error count still counts every error); ``warnings_per_code`` keeps that many warnings of each code (0:
    every one; the others are counted, see :class:`~corpus_tools.report.Report`).  ``progress`` is called now
    and then with the number of bytes read so far.  ``report.stats`` holds the format, byte size and counts of
    tasks (or documents), annotations, predictions (full objects; ``prediction_ids`` counts the
    bare ids of a quick export), spans and relations.  Raises
    :class:`~corpus_tools.errors.InputError` when the file cannot be read at all.
    """
    path = _readable(path)
    ontology = ontology or default_ontology()
    if sniff(path).kind == "export":
        try:
            return _validate_segments(path, ontology, max_errors, warnings_per_code, progress, workers)
        except SegmentsUnreadable:
            pass  # the stream reading says what the segments could not read, and where
    run = ItemChecker(ontology)
    report = Report(max_errors=max_errors, warnings_per_code=warnings_per_code)
    for _ in _stream(path, run, report, progress):
        pass
    return report


def _validate_segments(path: Path, ontology: Ontology, max_errors: int | None, warnings_per_code: int,
                       progress: Progress | None, workers: int | None) -> Report:
    step = TaskChecks(ontology, file=str(path))
    merger = ValidationMerger(step.run.semantic.counts, file=str(path), max_errors=max_errors,
                              warnings_per_code=warnings_per_code)
    count = pool_size(workers)
    with ExitStack() as stack:
        pool = stack.enter_context(WorkerPool(step, path, None, count, stage="validate")) if count > 1 else None
        # in this process, smaller segments: a segment's tasks are all in memory at once, the stream held one
        segment_bytes = VALIDATE_SEGMENT_BYTES if pool is None else None
        for result in checked_segments(path, step, pool=pool, progress=progress, segment_bytes=segment_bytes):
            merger.add(result)
    size = path.stat().st_size
    if progress is not None:
        progress(size)
    return merger.report(size)


def iter_validated(
    path: str | Path,
    report: Report,
    *,
    ontology: Ontology | None = None,
    progress: Progress | None = None,
) -> Iterator[tuple[str, int, object]]:
    """Validate a Label Studio JSON export or canonical document JSONL into ``report`` (as :func:`validate_export`)
    and yield what was parsed, so that a caller builds from the same reading: ``("export", index, task)`` for
    every item of the array, ``("documents", line, document)`` for every document that parsed.  ``report`` is
    complete once the iterator is exhausted.  Raises :class:`~corpus_tools.errors.InputError` when the file
    cannot be read at all."""
    path = _readable(path)
    run = ItemChecker(ontology or default_ontology())
    for kind, (position, item) in _stream(path, run, report, progress, emit=True):
        yield kind, position, item


def repair_utf16_export(
    path: str | Path,
    out: str | Path,
    *,
    ontology: Ontology | None = None,
    max_errors: int | None = None,
    progress: Progress | None = None,
    warnings_per_code: int = WARNINGS_PER_CODE,
) -> Report:
    """Write a copy of an export (or document JSONL) whose UTF-16 span offsets are code points.

    A span is repaired only when its offsets select its stored text once read as UTF-16 units
    (``span-utf16-offsets``).  Everything else is copied unchanged, task by task.  The copy is
    written atomically (a temporary file in the target folder, then a rename) and not at all
    when the input is malformed or the repaired data still has errors (an existing ``out`` is then
    left as it was).  Returns the report of the repaired data, with
    ``stats["repaired_spans"]``.
    """
    path = _readable(path)
    out = Path(out)
    if (missing := folder_missing(out)) is not None:
        raise InputError(f"cannot write {out}: {missing}")
    if same_file(path, out):
        raise InputError(f"{path} is both the export and --out; the repaired copy would replace the export while it"
                         " is read: write it to another file")
    run = ItemChecker(ontology or default_ontology())
    report = Report(max_errors=max_errors, warnings_per_code=warnings_per_code)
    repaired = written = 0
    writer = AtomicFile(out, binary=True)
    try:
        with writer as f:
            for kind, (count, obj) in _stream(path, run, report, progress, repair=True):
                repaired += count
                if kind == "export":
                    f.write(b",\n" if written else b"[\n")
                f.write(_dumps(obj) + (b"\n" if kind == "documents" else b""))
                written += 1
            if report.stats.get("format") == "labelstudio-export":
                f.write(b"\n]\n" if written else b"[]\n")
            if run.file_failed or not report.valid:  # a failing run never replaces an earlier copy
                writer.discard()
    except OSError as exc:
        raise OutputError(f"cannot write {out}: {write_failure(out, exc)}") from exc
    report.stats["repaired_spans"] = repaired
    report.stats["written"] = not run.file_failed and report.valid
    return report


def _dumps(obj: object) -> bytes:
    """Compact UTF-8 JSON; ASCII escapes when a string holds a lone surrogate (valid JSON, not UTF-8)."""
    text = json.dumps(obj, ensure_ascii=False)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(obj).encode("ascii")


# ---------------------------------------------------------------------------------------------- streaming


def _readable(path: str | Path) -> Path:
    path = Path(path)
    if not path.exists():
        raise InputError(f"no such file: {path}")
    if not path.is_file():
        raise InputError(f"not a file: {path}")
    if not os.access(path, os.R_OK):
        raise InputError(f"cannot read {path}: permission denied")
    return path


def _stream(path: Path, run: ItemChecker, report: Report, progress: Progress | None, *, repair: bool = False,
            emit: bool = False):
    """Validate ``path`` into ``report``; repair mode yields ``(kind, (repaired_spans, object))`` for each task or
    document, repaired; ``emit`` yields ``(kind, (index or line, object))``."""
    size = path.stat().st_size
    file = str(path)
    sniffed = sniff(path)
    fmt = "document-jsonl" if sniffed.kind == "documents" else "labelstudio-export"
    report.stats.update(format=fmt, bytes=size)
    if sniffed.kind == "documents":
        yield from _stream_documents(path, run, report, progress, repair=repair, emit=emit)
    elif sniffed.kind == "export":
        yield from _stream_export(path, run, report, progress, repair=repair, emit=emit)
    else:
        report.stats.update(run.stats())
        run.file_failed = True
        report.add(_sniff_problem(sniffed, path, file))
    if progress is not None:
        progress(size)


def _sniff_problem(sniffed: Any, path: Path, file: str) -> Problem:
    if sniffed.kind == "empty":
        return make_problem(C.EXPORT_EMPTY, "The file is empty; export the project again (Label Studio: Export ->"
                            " JSON).", file=file, byte_offset=0)
    if sniffed.kind == "bom":
        return make_problem(C.EXPORT_INVALID_JSON, "The file starts with a UTF-8 byte order mark, which JSON does not"
                            " allow; save it as UTF-8 without BOM.", file=file, byte_offset=0)
    if sniffed.kind == "tasks-jsonl":
        return make_problem(C.EXPORT_NOT_ARRAY, "The file holds one task per line (JSONL), not a JSON array of"
                            " tasks; use Label Studio's JSON export, or wrap the tasks in [ ] separated by commas.",
                            file=file, byte_offset=sniffed.offset, json_path="$")
    if sniffed.kind == "not-array":
        return make_problem(C.EXPORT_NOT_ARRAY, f"The top-level JSON value is {sniffed.what}, not an array of tasks;"
                            " use Label Studio's JSON export (not JSON_MIN or CSV) or document JSONL.",
                            file=file, byte_offset=sniffed.offset, json_path="$")
    bad = find_invalid_utf8(path)
    if bad is not None:
        return _utf8_problem(file, bad)
    return make_problem(C.EXPORT_INVALID_JSON, "The file does not start with a JSON value; a Label Studio export"
                        " starts with '[' and document JSONL with '{'.", file=file, byte_offset=sniffed.offset)


def _utf8_problem(file: str, offset: int, **location: Any) -> Problem:
    return make_problem(C.EXPORT_INVALID_UTF8, f"Byte {offset} is not UTF-8; re-export or convert the file to UTF-8"
                        " (exports are UTF-8; a file saved as UTF-16 or Windows-1256 is not).", file=file,
                        byte_offset=offset, **location)


def _stream_export(path: Path, run: ItemChecker, report: Report, progress: Progress | None, *, repair: bool,
                   emit: bool):
    file = str(path)
    keys = ExportKeys(file)
    count = 0
    with path.open("rb") as raw:
        reader = ChunkReader(StrictReader(raw))  # depth-limited, no lone surrogate escape (yajl would write "?")
        try:
            for index, task in enumerate(ijson.items(reader, "item", use_float=True)):
                count = index + 1
                fixed = _repair_task(task) if repair else 0
                problems: list[Problem] = []
                run.task(task, index, problems, file=file)
                if problems:
                    report.extend(problems)
                if type(task) is dict and (repeated := keys.check(article_id_of(task), index, task.get("id"))):
                    report.add(repeated)
                if repair:
                    yield "export", (fixed, task)
                elif emit:
                    yield "export", (index, task)
                if progress is not None and index % _PROGRESS_EVERY == 0:
                    progress(reader.position)
        except ijson.JSONError as exc:
            run.file_failed = True
            report.add(_parse_problem(exc.args[0] if exc.args else "", path, reader, count))
        except TooDeep as exc:  # refused before ijson read it (its memory grows with the square of the depth)
            run.file_failed = True
            report.add(make_problem(
                C.EXPORT_INVALID_JSON,
                f"Item {count} nests arrays and objects more than {exc.limit} levels deep (byte {exc.offset}); a"
                " Label Studio task is about eight levels deep: export the project again.",
                file=file, byte_offset=exc.offset, json_path=f"$[{count}]", details={"complete_tasks": count},
            ))
        except LoneSurrogateEscape as exc:  # refused before ijson read it (yajl writes "?" or joins it to the next)
            run.file_failed = True
            where, task_id = locate_lone_surrogate(path, exc, count)
            report.add(make_problem(
                C.EXPORT_INVALID_JSON,
                f"The string at {where} holds a lone UTF-16 surrogate escape (\\ud800-\\udfff without its pair) at"
                f" byte {exc.offset}, which is not text; fix or remove that escape.",
                file=file, task_id=task_id, byte_offset=exc.offset, json_path=where, details={"complete_tasks": count},
            ))
        except UnicodeDecodeError:  # bytes yajl let through (a UTF-8 encoded surrogate, beyond U+10FFFF)
            run.file_failed = True
            bad = find_invalid_utf8(path)
            report.add(_utf8_problem(file, bad, json_path=f"$[{count}]") if bad is not None else make_problem(
                C.EXPORT_INVALID_JSON, f"A string in item {count} is not text; fix or remove it.", file=file,
                json_path=f"$[{count}]", details={"complete_tasks": count}))
    report.stats.update(run.stats())


def _parse_problem(message: str | bytes, path: Path, reader: ChunkReader, count: int) -> Problem:
    """One located problem for a parse failure after ``count`` complete tasks."""
    file = str(path)
    reason = yajl_reason(message)
    where = f"$[{count}]"
    if "premature EOF" in reason:
        return make_problem(
            C.EXPORT_TRUNCATED,
            f"The file ends before the JSON is complete (after {count} complete tasks); the download or copy was cut:"
            " export again.",
            file=file, byte_offset=path.stat().st_size, json_path=where, details={"complete_tasks": count},
        )
    if "lexical error" in reason or "UTF8" in reason:
        bad = find_invalid_utf8(path)
        if bad is not None:
            return _utf8_problem(file, bad, json_path=where)
    offset = locate_parse_error(message, reader)
    place = f"near byte {offset}" if offset is not None else f"between bytes {reader.chunk_start} and {reader.position}"
    after = "after the array" if "trailing garbage" in reason else f"in item {count} of the array"
    return make_problem(
        C.EXPORT_INVALID_JSON,
        f"Invalid JSON {place}, {after} ({reason}); fix the syntax there or export again.",
        file=file, byte_offset=offset, json_path=where, details={"complete_tasks": count},
    )


def _stream_documents(path: Path, run: ItemChecker, report: Report, progress: Progress | None, *, repair: bool,
                      emit: bool):
    file = str(path)
    keys = SeenKeys()
    documents = 0
    position = 0
    with path.open("rb") as f:
        for line_no, raw in enumerate(f, 1):
            start, position = position, position + len(raw)
            if progress is not None and line_no % _PROGRESS_EVERY == 0:
                progress(position)
            if not raw.strip():
                continue
            try:
                doc = _document_of(raw, start, line_no, file)
            except _UnreadableLine as exc:
                run.file_failed = run.file_failed or exc.file_failed
                report.add(exc.problem)
                continue
            documents += 1
            fixed = _repair_document(doc) if repair else 0
            problems: list[Problem] = []
            run.document(doc, line_no, problems, file=file)
            if problems:
                report.extend(problems)
            if type(doc) is dict and type(doc.get("id")) is str:
                seen = keys.first(doc["id"], line_no)
                if seen is not None:
                    report.add(
                        make_problem(
                            C.DOCUMENT_DUPLICATE_ID,
                            f"Document id {doc['id']!r} is already used on line {seen[0]}; give each document its"
                            " own id or drop the duplicate.",
                            file=file, line=line_no, json_path="$.id", details={"first_line": seen[0]},
                        )
                    )
            if repair:
                yield "documents", (fixed, doc)
            elif emit:
                yield "documents", (line_no, doc)
    stats = run.stats()
    stats.pop("tasks")
    stats.pop("annotations")
    stats.pop("predictions")
    stats.pop("prediction_ids")
    report.stats.update(documents=documents, **stats)


class _UnreadableLine(Exception):
    """A line of document JSONL that holds no JSON text: its located problem, and whether the file is unreadable."""

    def __init__(self, problem: Problem, *, file_failed: bool) -> None:
        super().__init__(problem.message)
        self.problem = problem
        self.file_failed = file_failed


def _document_of(raw: bytes, start: int, line_no: int, file: str) -> object:
    """The JSON value of one line of document JSONL (at byte ``start``); :class:`_UnreadableLine` when the line is
    not UTF-8, not JSON, or holds a lone surrogate escape."""
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _UnreadableLine(_utf8_problem(file, start + exc.start, line=line_no), file_failed=True) from exc
    try:
        doc = loads(line)
    except LoneSurrogateError as exc:
        raise _UnreadableLine(make_problem(
            C.DOCUMENT_INVALID_JSON,
            f"Line {line_no} holds a lone UTF-16 surrogate escape (\\ud800-\\udfff without its pair) at"
            f" {exc.json_path}, which is not text; fix or remove that escape.",
            file=file, line=line_no, json_path=exc.json_path,
        ), file_failed=False) from exc
    except json.JSONDecodeError as exc:
        raise _UnreadableLine(make_problem(
            C.DOCUMENT_INVALID_JSON,
            f"Line {line_no} is not valid JSON ({exc.msg} at column {exc.colno}); write one JSON object per line.",
            file=file, line=line_no, byte_offset=start + len(line[: exc.pos].encode("utf-8")),
        ), file_failed=True) from exc
    return doc


# ---------------------------------------------------------------------------------------------- repair
def _repair_task(task: object) -> int:
    """Rewrite UTF-16 span offsets of every annotation and prediction in place; return how many."""
    if type(task) is not dict:
        return 0
    data = task.get("data")
    text = data.get("text") if type(data) is dict else None
    if type(text) is not str:
        return 0
    fixed = 0
    for kind in ("annotations", "predictions"):
        for ann in task.get(kind) or ():
            result = ann.get("result") if type(ann) is dict else None
            for item in result if type(result) is list else ():
                value = item.get("value") if type(item) is dict and item.get("type") == "labels" else None
                if type(value) is dict:
                    fixed += _repair_offsets(text, value, lenient=True)
    return fixed


def _repair_document(doc: object) -> int:
    if type(doc) is not dict or type(doc.get("text")) is not str or type(doc.get("entities")) is not list:
        return 0
    return sum(_repair_offsets(doc["text"], e, lenient=False) for e in doc["entities"] if type(e) is dict)


def _repair_offsets(text: str, holder: dict, *, lenient: bool) -> int:
    start, end, stored = holder.get("start"), holder.get("end"), holder.get("text")
    if type(start) is not int or type(end) is not int or type(stored) is not str or start < 0 or end < 0:
        return 0
    repaired = utf16_repair(text, start, end, stored, lenient=lenient)
    if repaired is None:
        return 0
    holder["start"], holder["end"] = repaired
    return 1
