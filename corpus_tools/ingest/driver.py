"""Raw articles (plain-text newswire files, JSONL, CSV) into verified Article records.

* :func:`ingest_paths` walks files, directories (recursive, sorted, hidden names skipped) and ``-``
  (stdin), applies the hygiene rules and yields one Article record per distinct text, lazily: the
  :class:`IngestResult` report is complete once ``articles`` has been consumed.  Records are never
  held: only the ids seen so far are kept for de-duplication, in a private temporary SQLite file, so
  memory does not grow with the number of articles.
* :func:`write_articles_jsonl` writes records atomically (temp file in the same folder + rename).
* :func:`parse_newswire` (from :mod:`corpus_tools.ingest.newswire`) finds title, dateline and paragraphs;
  JSONL and CSV records are read by :mod:`corpus_tools.ingest.tabular`; the problem codes live in
  :mod:`corpus_tools.ingest.codes`.

Hygiene rules: the stored text is the file (or the mapped field) after removing one leading BOM and
converting CRLF/CR to LF, nothing else; offsets are code points into it.  Invalid UTF-8, empty,
binary and over-size inputs are reported and skipped; bidi controls are reported and kept.

Ids (:func:`article_id`): when the source names the article (a mapped ``id`` field of a JSONL or CSV record, a
text file's name without its extension), the id comes from that source id alone, so the article keeps it when
its text is edited; otherwise it is the first 16 hex digits of the text's sha256.  ``sha256`` always holds the
text's hash and ``meta.source_id`` the source id as given.
"""

from __future__ import annotations

import json
import os
import re
import stat
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import BinaryIO

from corpus_tools.errors import InputError, OutputError
from corpus_tools.files import AtomicFile, read_at_most, same_file, write_failure
from corpus_tools.ingest.codes import (
    BIDI_CONTROL,
    BINARY,
    BOM_IN_TEXT,
    BOM_REMOVED,
    DUPLICATE,
    DUPLICATE_ID,
    EMPTY,
    INVALID_RECORD,
    INVALID_UTF8,
    LINE_ENDS_CONVERTED,
    META_UNDECLARED,
    NO_LAYOUT,
    NOT_A_FILE,
    TOO_LARGE,
    UNREADABLE,
)
from corpus_tools.ingest.newswire import (
    Dateline,
    NewswireParts,
    is_blank,
    parse_newswire,
    parse_with_title,
    text_with_title,
)
from corpus_tools.ingest.sources import Located, Source
from corpus_tools.ingest.tabular import (
    DEFAULT_FIELDS,
    FIELD_TARGETS,
    parse_field_mapping,
    read_csv,
    read_jsonl,
)
from corpus_tools.keys import SeenKeys, store_failures
from corpus_tools.ontology import Ontology, load_ontology
from corpus_tools.report import WARNINGS_PER_CODE, Report, make_problem
from corpus_tools.strictjson import loads as json_loads
from corpus_tools.text import BIDI_CONTROLS, BOM, has_lone_surrogate, printable, sha256_text

__all__ = [
    "ARTICLE_KEYS",
    "DEFAULT_FIELDS",
    "DEFAULT_MAX_BYTES",
    "FIELD_TARGETS",
    "FORMATS",
    "Dateline",
    "IngestResult",
    "NewswireParts",
    "article_id",
    "article_to_json_line",
    "format_for_path",
    "ingest_paths",
    "ingest_to_jsonl",
    "parse_field_mapping",
    "parse_newswire",
    "read_articles_jsonl",
    "source_article_id",
    "write_articles_jsonl",
]

DEFAULT_MAX_BYTES = 10_000_000
FORMATS = ("auto", "txt", "jsonl", "csv")
# Fixed key order of a written record, so that re-runs are byte-identical.
ARTICLE_KEYS = (
    "id", "sha256", "source_path", "source_line", "source", "lang", "title", "dateline", "paragraphs", "text", "meta",
)

_BIDI_RE = re.compile("[" + "".join(sorted(BIDI_CONTROLS)) + "]")
_BOM_RE = re.compile(BOM)
_LINE_BREAK_BYTES = re.compile(rb"\r\n|\r|\n")
_EXTENSIONS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}


# A source id used as it is: what the article schema allows, lower case only (ids name files, and a file system
# that ignores case would take ``A`` and ``a`` for one file), at most 64 characters.
_SAFE_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
HASHED_ID_PREFIX = "src-"


def source_article_id(source_id: str) -> str:
    """The article id for an id given by the source: the source id itself when it is a safe token (lower-case
    ASCII letters, digits, ``_`` and ``-``, starting with a letter or digit, at most 64 characters), else
    ``src-`` and the first 16 hex digits of the sha256 of its UTF-8 bytes.  Ids name files and sit in URLs, so
    anything else (upper case, spaces, ``/``, ``.``, Arabic, over-long) is hashed rather than rewritten: two
    different source ids never meet in one rewritten form."""
    if _SAFE_ID.fullmatch(source_id):
        return source_id
    return HASHED_ID_PREFIX + sha256_text(source_id)[:16]


def article_id(text: str, source_id: str | None = None) -> str:
    """The stable id of an article: from its source id when it has one (:func:`source_article_id`), so it survives
    edits of the text; else content-based, the first 16 hex digits of the text's sha256."""
    if source_id is not None:
        return source_article_id(source_id)
    return sha256_text(text)[:16]


ID_FROM = ("name", "path")  # what a text file's source id is: its name, or its path within the folder given


def format_for_path(path: str | os.PathLike[str]) -> str:
    """The format ``auto`` picks for a file name: .jsonl/.ndjson → jsonl, .csv → csv, anything else → txt."""
    return _EXTENSIONS.get(os.path.splitext(os.fspath(path))[1].lower(), "txt")


@dataclass
class IngestResult:
    """Lazily ingested articles; ``report`` is complete once ``articles`` has been consumed."""

    articles: Iterator[dict[str, object]]
    report: Report = field(default_factory=Report)


def ingest_paths(
    inputs: Iterable[str | os.PathLike[str]],
    *,
    fmt: str = "auto",
    source: str | None = None,
    lang: str = "ar",
    fields: Mapping[str, str] | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    exclude: Iterable[str | os.PathLike[str]] = (),
    stdin: BinaryIO | None = None,
    on_input: Callable[[str], None] | None = None,
    ontology: Ontology | None = None,
    warnings_per_code: int = WARNINGS_PER_CODE,
    id_from: str = "name",
) -> IngestResult:
    """Ingest files, directories and ``-`` (stdin) into Article records.

    ``fmt`` is ``auto`` (by extension, see :func:`format_for_path`; stdin is txt), ``txt``, ``jsonl`` or
    ``csv``.  ``source`` overrides every record's source (default: the record's mapped source field, else
    the dateline's paper, else ""); ``lang`` is the language of records without a mapped lang field.
    ``fields`` maps article fields to JSONL/CSV fields (see :func:`parse_field_mapping`).  Files in
    ``exclude`` (e.g. the output file) are never read: found while walking a folder they are skipped, named
    as an input (under any spelling or link) they are refused with InputError before anything is read.
    ``on_input`` is called with each input's name before it is read (for progress).  ``ontology`` (default: the
    bundled one) declares the meta fields: a declared value is checked (and CSV text parsed) as its type, an
    undeclared one is kept and reported once per file.  ``warnings_per_code``: the report keeps that many warnings
    of each code (0: every one) and counts the others.  ``id_from``: a text file's source id is its ``name``
    without the extension (the default), or its ``path`` within the folder given, without the extension
    (``2019/03/afp-001``, which as an id is hashed: see :func:`source_article_id`), for archives whose folders
    reuse file names.  Raises InputError when an input does not exist or is excluded.
    """
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, not {fmt!r}")
    if id_from not in ID_FROM:
        raise ValueError(f"id_from must be one of {ID_FROM}, not {id_from!r}")
    if max_bytes < 1:
        raise ValueError("max_bytes must be positive")
    # no file is larger: a larger limit is no limit, and the readers pass limit + 1 on as a C integer
    max_bytes = min(max_bytes, sys.maxsize - 1)
    for option, value in (("source", source), ("lang", lang)):
        if value is not None and has_lone_surrogate(value):
            raise ValueError(f"{option} '{printable(value)}' is not text (it holds bytes that are not UTF-8)")
    given = [os.fspath(p) for p in inputs]
    if not given:
        raise InputError("no input given")
    if given.count("-") > 1:
        raise InputError("stdin ('-') can be read only once")
    for item in given:
        if item != "-" and not os.path.exists(item):
            raise InputError(f"input not found: {printable(item)}")
    excluded_files = [p for p in map(os.fspath, exclude) if os.path.exists(p)]
    for item in given:
        if item == "-" or os.path.isdir(item):
            continue
        for other in excluded_files:
            if same_file(item, other):
                raise InputError(f"input {printable(item)} is the output file {printable(other)}; writing would"
                                 " replace the articles with what is read from them: write to another file")
    mapping = dict(DEFAULT_FIELDS) if fields is None else {**DEFAULT_FIELDS, **fields}
    meta_types = dict((ontology or load_ontology()).meta_fields)
    run = _IngestRun(source=source, lang=lang, fields=mapping, max_bytes=max_bytes, stdin=stdin,
                     on_input=on_input, meta_types=meta_types, warnings_per_code=warnings_per_code, id_from=id_from)
    excluded = {os.path.realpath(p) for p in map(os.fspath, exclude)}
    return IngestResult(run.articles(_iter_sources(given, fmt, excluded, run)), run.report)


def _iter_sources(given: list[str], fmt: str, excluded: set[str], run: _IngestRun) -> Iterator[Source]:
    """Every input file in a deterministic order: inputs as given, directories walked sorted."""
    names = {os.path.basename(p) for p in excluded}
    for item in given:
        if item == "-":
            yield Source(None, "-", "-", "txt" if fmt == "auto" else fmt)
            continue
        if not os.path.isdir(item):
            if not (os.path.basename(item) in names and os.path.realpath(item) in excluded):
                yield Source(item, printable(item), printable(os.path.basename(item)),
                              fmt if fmt != "auto" else format_for_path(item))
            continue

        def on_error(exc: OSError, top: str = item) -> None:
            where = os.path.join(top, os.path.relpath(exc.filename, top)) if exc.filename else top
            run.reject(UNREADABLE, f"cannot read folder ({exc.strerror}); check its permissions", file=printable(where))

        for dirpath, dirnames, filenames in os.walk(item, onerror=on_error):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            rel_dir = Path(os.path.relpath(dirpath, item)).as_posix()
            prefix = "" if rel_dir == "." else rel_dir + "/"
            for name in sorted(filenames):
                if name.startswith("."):
                    continue
                full = os.path.join(dirpath, name)
                if name in names and os.path.realpath(full) in excluded:
                    continue
                rel = printable(prefix + name)  # a name that is not UTF-8 shows its bytes as \xNN
                if not _regular_or_unreadable(full):
                    run.problem(NOT_A_FILE, "not a regular file (a named pipe, socket or device); skipped",
                                file=os.path.join(printable(item), rel))
                    continue
                yield Source(full, os.path.join(printable(item), rel), rel,
                              fmt if fmt != "auto" else format_for_path(name))


def _regular_or_unreadable(path: str) -> bool:
    """False for a named pipe, socket or device (opening a pipe waits for a writer); a path that cannot be
    stat'ed (a dangling link) is left for the reader to report as unreadable."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return True




@cache
def _article_validators():  # fast check with jsonschema-rs, located messages with jsonschema
    import jsonschema_rs

    from corpus_tools.schemas import load_schema, validator_for

    schema = load_schema("article.schema.json")
    return jsonschema_rs.validator_for(schema), validator_for(schema)


class _IngestRun:
    """State of one ingest run: options, the report, the ids seen so far."""

    def __init__(self, *, source: str | None, lang: str, fields: dict[str, str], max_bytes: int,
                 stdin: BinaryIO | None, on_input: Callable[[str], None] | None,
                 meta_types: Mapping[str, str], warnings_per_code: int, id_from: str = "name") -> None:
        self.source = source
        self.id_from = id_from
        self.meta_types = meta_types
        self.lang = lang
        self.fields = fields
        self.max_bytes = max_bytes
        self.stdin = stdin
        self.on_input = on_input
        self.report = Report(warnings_per_code=warnings_per_code)
        self.stats = self.report.stats
        self.stats.update(inputs=0, records=0, articles=0, duplicates=0, rejected=0)

    # -- reporting ---------------------------------------------------------------------------------
    def problem(self, code: str, message: str, **location: object) -> None:
        self.report.add(make_problem(code, message, **location))

    def reject(self, code: str, message: str, **location: object) -> None:
        """An error that makes an input or record be skipped."""
        self.problem(code, message, **location)
        self.stats["rejected"] += 1  # type: ignore[operator]

    def meta_undeclared(self, key: str, where: dict[str, object], **details: object) -> None:
        """An undeclared meta field (the report keeps its first record in each file and counts the others)."""
        self.problem(META_UNDECLARED, f"meta field {printable(key)!r} is not declared in the ontology: it is kept in"
                     " the articles file, but a release leaves it out; declare it under meta: in the ontology"
                     " (reported once per file, first here)", details={"field": key, **details}, **where)

    def reject_record(self, code: str, message: str, **location: object) -> None:
        """A record (file, JSONL line, CSV row) was read and rejected."""
        self.stats["records"] += 1  # type: ignore[operator]
        self.reject(code, message, **location)

    # -- the pipeline -------------------------------------------------------------------------------
    def articles(self, sources: Iterator[Source]) -> Iterator[dict[str, object]]:
        readers: dict[str, Callable[[Source], Iterator[Located]]] = {
            "txt": self._read_txt,
            "jsonl": lambda src: read_jsonl(self, src),
            "csv": lambda src: read_csv(self, src),
        }
        # the seen texts and ids spill to a temporary file
        with store_failures("ingest"), closing(SeenKeys()) as seen:
            for src in sources:
                self.stats["inputs"] += 1  # type: ignore[operator]
                if self.on_input is not None:
                    self.on_input(src.display)
                for article, where in readers[src.fmt](src):
                    label = f"{where['file']}:{where['line']}" if "line" in where else str(where["file"])
                    row = self.stats["records"]
                    repeated = seen.first("t:" + str(article["sha256"]), row, [label, article["id"]])  # type: ignore[arg-type]
                    if repeated is not None:
                        first, first_id = repeated[1]  # type: ignore[misc]
                        self.stats["duplicates"] += 1  # type: ignore[operator]
                        self.problem(DUPLICATE, f"same text as {first} (id {first_id}); written once",
                                     details={"id": first_id, "first": first}, **where)
                        continue
                    repeated = seen.first("i:" + str(article["id"]), row, label)  # type: ignore[arg-type]
                    if repeated is not None:
                        self._duplicate_id(article, repeated[1], where)
                        continue
                    self.stats["articles"] += 1  # type: ignore[operator]
                    yield article

    def _duplicate_id(self, article: Mapping[str, object], first: object, where: dict[str, object]) -> None:
        """Another text under an id already given: two records that the source names alike."""
        meta = article.get("meta")
        source_id = meta.get("source_id") if isinstance(meta, Mapping) else None
        given = f"source id '{printable(str(source_id))}' (article id {article['id']})" if source_id is not None \
            else f"article id {article['id']}"
        self.reject(DUPLICATE_ID, f"{given} was already given to another text at {first}; each article needs its"
                    " own id: fix the source's ids (or file names)",
                    details={"id": article["id"], "source_id": source_id, "first": first}, **where)

    @contextmanager
    def open_input(self, src: Source) -> Iterator[BinaryIO]:
        if src.path is None:
            yield self.stdin if self.stdin is not None else sys.stdin.buffer
        else:
            with open(src.path, "rb") as handle:
                yield handle

    def _read_bytes(self, src: Source) -> bytes | None:
        """The whole file, or None (reported) when it is unreadable or over the size limit."""
        where = {"file": src.display}
        try:
            size = os.stat(src.path).st_size if src.path is not None else None
            if size is None or size <= self.max_bytes:
                with self.open_input(src) as handle:
                    data = read_at_most(handle, self.max_bytes + 1)
                size = len(data)
        except OSError as exc:
            self.reject(UNREADABLE, f"cannot read file ({exc.strerror}); check its permissions", **where)
            return None
        if size > self.max_bytes:
            self.reject(TOO_LARGE, f"file is larger than {self.max_bytes} bytes; raise --max-bytes to ingest it",
                        details={"bytes": size, "max_bytes": self.max_bytes}, **where)
            return None
        return data

    def _read_txt(self, src: Source) -> Iterator[Located]:
        self.stats["records"] += 1  # type: ignore[operator]
        data = self._read_bytes(src)
        if data is None:
            return
        where: dict[str, object] = {"file": src.display}
        if not data:
            self.reject(EMPTY, "file is empty (0 bytes)", details={"bytes": 0}, **where)
            return
        if b"\0" in data:
            self.reject_binary(data, where)
            return
        try:
            raw = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = len(_LINE_BREAK_BYTES.findall(data, 0, exc.start)) + 1
            self.reject(INVALID_UTF8, f"invalid UTF-8 ({exc.reason}) at byte {exc.start}; re-encode the file as UTF-8",
                        byte_offset=exc.start, line=line, **where)
            return
        text = self.clean_text(raw, where, text_lines=True)
        if text is None:
            return
        source_id = None if src.path is None else os.path.splitext(
            src.rel if self.id_from == "path" else os.path.basename(src.rel))[0] or None
        article = self.make_article(text, src, None, where, title=None, source=None, lang=None, meta=None,
                                    source_id=source_id)
        if article is not None:
            yield article, where

    def reject_binary(self, data: bytes, where: dict[str, object]) -> None:
        offset = data.index(b"\0")
        hint = " (it looks like UTF-16: re-encode it as UTF-8)" if data[:2] in (b"\xff\xfe", b"\xfe\xff") else ""
        self.reject(BINARY, f"file holds a NUL byte at byte {offset}, so it is not text{hint}",
                    byte_offset=offset, **where)

    # -- text hygiene and records -------------------------------------------------------------------
    def clean_text(self, raw: str, where: dict[str, object], *, text_lines: bool,
                   title: str | None = None) -> str | None:
        """Remove one leading BOM, put the ``title`` first (:func:`text_with_title`) and convert line ends; report
        bidi controls; None when blank (reported)."""
        text = raw[1:] if raw.startswith(BOM) else raw
        if is_blank(text):
            self.reject(EMPTY, "text holds only whitespace" if text else "text is empty",
                        details={"chars": len(raw)}, **where)
            return None
        if text is not raw:
            self.problem(BOM_REMOVED, "a leading byte order mark (U+FEFF) was removed", **where,
                         **({"byte_offset": 0} if text_lines else {}))
        if title is not None:
            text = text_with_title(title, text)
        if "\r" in text:
            crlf = text.count("\r\n")
            cr = text.count("\r") - crlf
            text = text.replace("\r\n", "\n").replace("\r", "\n")
            self.problem(LINE_ENDS_CONVERTED, f"line ends converted to LF ({crlf} CRLF, {cr} CR)",
                         details={"crlf": crlf, "cr": cr}, **where)
        for code, pattern, what in ((BIDI_CONTROL, _BIDI_RE, "bidi control"), (BOM_IN_TEXT, _BOM_RE, "U+FEFF")):
            positions = [m.start() for m in pattern.finditer(text)]
            if positions:
                chars = sorted({f"U+{ord(text[i]):04X}" for i in positions})
                loc = dict(where)
                if text_lines:
                    loc["line"] = text.count("\n", 0, positions[0]) + 1
                self.problem(code, f"{len(positions)} {what} character(s) ({', '.join(chars)}) kept at code point"
                             f" offset(s) {', '.join(map(str, positions[:10]))}{' ...' if len(positions) > 10 else ''}",
                             details={"positions": positions, "chars": chars}, **loc)
        return text

    def make_article(self, text: str, src: Source, line: int | None, where: dict[str, object], *,
                 title: str | None, source: str | None, lang: str | None,
                 meta: dict[str, object] | None, source_id: str | None = None) -> dict[str, object] | None:
        parts = parse_newswire(text) if title is None else parse_with_title(text, title)
        if not parts.has_layout:
            self.problem(NO_LAYOUT, f"no newswire layout: {parts.reason}; imported with the first line as title",
                         details={"reason": parts.reason}, **where)
        digest = sha256_text(text)
        dateline = parts.dateline
        if source_id is not None:
            meta = {**(meta or {}), "source_id": source_id}
        record: dict[str, object] = {
            "id": source_article_id(source_id) if source_id is not None else digest[:16],
            "sha256": digest,
            "source_path": src.rel,
            "source_line": line,
            "source": self.source or source or (dateline.paper if dateline and dateline.paper else ""),
            "lang": lang or self.lang,
            "title": parts.title,
            "dateline": dateline.to_dict() if dateline else None,
            "paragraphs": [{"start": s, "end": e} for s, e in parts.paragraphs],
            "text": text,
            "meta": meta,
        }
        if line is None:
            del record["source_line"]
        if not meta:
            del record["meta"]
        fast, located = _article_validators()
        if not fast.is_valid(record):
            import jsonschema.exceptions

            error = jsonschema.exceptions.best_match(located.iter_errors(record))
            self.reject(INVALID_RECORD, f"record does not match the article schema: {error.message}",
                        **{**where, "json_path": error.json_path})
            return None
        return record

# -- output ------------------------------------------------------------------------------------------------


def article_to_json_line(article: Mapping[str, object]) -> str:
    """One JSONL line for a record: keys in :data:`ARTICLE_KEYS` order, UTF-8 text unescaped, no spaces."""
    ordered = {key: article[key] for key in ARTICLE_KEYS if key in article}
    ordered.update((key, article[key]) for key in sorted(article) if key not in ordered)
    return json.dumps(ordered, ensure_ascii=False, separators=(",", ":")) + "\n"


def write_articles_jsonl(path: str | os.PathLike[str], articles: Iterable[Mapping[str, object]], *,
                         report: Report | None = None) -> int:
    """Write records as JSONL atomically (temp file in the same folder, fsync, rename); return the count.

    Records are streamed to the temp file; if writing or the ``articles`` iterator fails (or is
    interrupted), or ``report`` (the report the iterator fills) holds an error once every record is
    read, the temp file is removed and ``path`` is left as it was: a run that fails never replaces or
    truncates an earlier output.  Raises OutputError when the file cannot be written.
    """
    target = Path(path)
    count = 0
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        writer = AtomicFile(target, fsync=True)
        with writer as out:
            for article in articles:
                out.write(article_to_json_line(article))
                count += 1
            if report is not None and not report.valid:
                writer.discard()
    except OSError as exc:
        raise OutputError(f"cannot write {target}: {write_failure(target, exc)}") from exc
    return count


def ingest_to_jsonl(inputs: Iterable[str | os.PathLike[str]], out: str | os.PathLike[str], **options: object) -> Report:
    """Ingest ``inputs`` (see :func:`ingest_paths`) and write the articles to ``out`` atomically, unless an input
    was rejected (``out`` is then left as it was); the report."""
    exclude = [*options.pop("exclude", ()), out]  # type: ignore[misc]
    result = ingest_paths(inputs, exclude=exclude, **options)  # type: ignore[arg-type]
    write_articles_jsonl(out, result.articles, report=result.report)
    return result.report


def read_articles_jsonl(path: str | os.PathLike[str]) -> Iterator[dict[str, object]]:
    """Stream the records of an articles JSONL file written by :func:`write_articles_jsonl`."""
    try:
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    yield json_loads(line)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot read articles from {path}: {exc}") from exc
