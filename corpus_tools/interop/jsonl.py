"""JSON Lines in and out, for the formats that hold one JSON object a line (doccano, Prodigy).

Reading never raises on bad data: a line that is not UTF-8, not JSON or not an object is a located problem
(file, line) with the format's own code, and the next line is read.  A UTF-8 BOM before the first line is an
encoding mark, not data; CRLF line ends are JSON whitespace.  Writing makes the file at the path the caller
chose (a temporary of the conversion driver) and never renames it.
"""

from __future__ import annotations

import json
from codecs import BOM_UTF8
from collections.abc import Iterable, Iterator
from pathlib import Path

from corpus_tools.errors import InputError, OutputError
from corpus_tools.files import write_failure
from corpus_tools.report import Report, make_problem
from corpus_tools.strictjson import LoneSurrogateError, loads


def read_objects(path: Path, report: Report, code: str) -> Iterator[tuple[int, dict]]:
    """``(line number, object)`` of each line of ``path`` that holds a JSON object; blank lines are skipped and
    every other line is a problem ``code``.  InputError when the file cannot be opened at all."""
    if path.is_dir():
        raise InputError(f"{path} is a folder; give the JSONL file")
    if path.exists() and not path.is_file():  # a device such as /dev/zero never ends: its one "line" fills memory
        raise InputError(f"not a file: {path} (a pipe or a device); give the JSONL file")
    try:
        fh = open(path, "rb")
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from exc
    file = str(path)
    with fh:
        for number, raw in enumerate(fh, 1):
            if number == 1 and raw.startswith(BOM_UTF8):
                raw = raw[len(BOM_UTF8):]
            if not raw.strip():
                continue
            try:
                value = loads(raw.decode("utf-8"))
            except UnicodeDecodeError as exc:
                report.add(make_problem(code, f"Line is not UTF-8 text (byte {exc.start} of the line); save the file"
                                        " as UTF-8.", file=file, line=number))
                continue
            except LoneSurrogateError as exc:
                report.add(make_problem(code, "Line holds a lone UTF-16 surrogate escape, which is not text; fix or"
                                        " remove that escape.", file=file, line=number, json_path=exc.json_path))
                continue
            except ValueError as exc:
                report.add(make_problem(code, f"Line is not JSON ({exc}).", file=file, line=number))
                continue
            if not isinstance(value, dict):
                report.add(make_problem(code, f"Line holds a JSON {type(value).__name__}, not an object; write one"
                                        " object a line.", file=file, line=number))
                continue
            yield number, value


def write_objects(path: Path, records: Iterable[dict]) -> None:
    """Write one JSON object a line (UTF-8, ``\\n`` line ends, non-ASCII characters as they are) to a new file."""
    try:
        with open(path, "x", encoding="utf-8", newline="\n") as fh:
            for record in records:
                fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {write_failure(path, exc)}") from exc
