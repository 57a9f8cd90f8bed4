"""CoNLL / BIO, both ways: one token per line, then one or more tag columns (``TOKEN TAG [TAG ...]``, space or
tab separated), a blank line between sentences, ``-DOCSTART-`` lines between documents.

Reading rebuilds a text from the tokens: tokens joined with one space, sentences with ``"\\n"``; entities are
character spans over that text. The rebuilt text is a new text, never the original article: ``title`` is
empty, ``source`` says it was rebuilt and ``meta`` records how (file, first line, separators, tokens).
Several tag columns are nested entities (Wojood); a column is not a fixed level or type: an ``I-X`` continues
the open ``X`` entity of its own column, else the open ``X`` of another column, else it starts a new entity
(conlleval's rule, warned as ``conll-orphan-inside``). BIOES / BILOU tags (``E-``, ``S-``, ``L-``, ``U-``) are
read too. Leading and trailing bidi marks (U+200E, U+200F, U+061C) are kept out of the tokens and counted.

Writing tokenizes each document with the label-free tokenizer (:func:`corpus_tools.spans.tokenize`), tags
the tokens with :func:`corpus_tools.spans.spans_to_bio` (spans widened to token edges), and puts the spans one
layer cannot hold (nested, overlapping) into further tag columns, as many as the document needs.
"""

from __future__ import annotations

import re
from codecs import BOM_UTF8
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from corpus_tools.errors import InputError, OutputError
from corpus_tools.files import write_failure
from corpus_tools.interop.format import Context, Format, with_tokens
from corpus_tools.report import define_code, make_problem
from corpus_tools.spans import Document, Span, Token, bio_to_spans, spans_to_bio, widen_to_tokens

STAGE = "interop"

CONLL_ORPHAN_INSIDE = define_code(
    "conll-orphan-inside", "warning",
    "An I- (or E-/L-) tag follows no open entity of its type; it was read as the start of a new entity, as"
    " conlleval does. Check the tag before it.", stage=STAGE)
CONLL_EMPTY_TOKEN = define_code(
    "conll-empty-token", "warning",
    "A line holds tags but no token (it starts with the separator); the line was skipped with its tags.",
    stage=STAGE)
CONLL_NOT_A_TAG = define_code(
    "conll-not-a-tag", "warning",
    "A field after the token is not a tag (O, B-X, I-X, E-X, S-X, L-X, U-X) and was ignored; when the file has"
    " other columns, name the tag columns (`--option tag_columns=4` for CoNLL-2003).", stage=STAGE)
CONLL_BAD_TAG = define_code(
    "conll-bad-tag", "error",
    "A field named by tag_columns is not a tag (O, B-X, I-X, E-X, S-X, L-X, U-X); it was read as O. Fix the"
    " tag or name the right columns.", stage=STAGE)
CONLL_MISSING_TAG = define_code(
    "conll-missing-tag", "warning",
    "A token line has no tag (or lacks a column named by tag_columns); the token was read as O.", stage=STAGE)
CONLL_BAD_ENCODING = define_code(
    "conll-bad-encoding", "error", "A line is not valid UTF-8; it was skipped. Re-encode the file as UTF-8.",
    stage=STAGE)
CONLL_SENTENCE_CUT = define_code(
    "conll-sentence-cut", "warning",
    "The file has no sentence breaks, or a sentence longer than max_sentence_tokens: it was cut after"
    " sentence-final punctuation tagged O, else every max_sentence_tokens tokens (the message gives the"
    " counts).", stage=STAGE)
CONLL_NO_TOKENS = define_code(
    "conll-no-tokens", "warning", "The file holds no token line; no document was read from it.", stage=STAGE)
CONLL_SPAN_NOT_WRITTEN = define_code(
    "conll-span-not-written", "warning",
    "Spans that no tag column can hold (they cover no whole token, only whitespace or marks between tokens, or"
    " their label holds whitespace) were left out of the CoNLL file; the message counts them per document.",
    stage=STAGE)
CONLL_RELATIONS_DROPPED = define_code(
    "conll-relations-dropped", "warning",
    "CoNLL holds no relations; the document's relations were left out (counted per document).", stage=STAGE)
CONLL_EMPTY_DOCUMENT = define_code(
    "conll-empty-document", "warning", "A document has no token, so CoNLL cannot hold it; it was left out.",
    stage=STAGE)

DOCSTART = "-DOCSTART-"
TOKEN_SEPARATOR = " "
SENTENCE_SEPARATOR = "\n"
FINAL_PUNCTUATION = frozenset({".", "!", "?", "؟", "؛"})
BIDI_MARKS = "\u200e\u200f\u061c"  # LRM, RLM, ALM: display marks before (or after) a token, not text
DEFAULT_MAX_SENTENCE_TOKENS = 200

_TAG = re.compile(r"(?:O|[BIESLU]-\S+)\Z")
_SPACES = re.compile(r"[ \t]+")
_NUMBER = re.compile(r"[0-9]+")  # an option's whole number: ASCII digits (int() refuses some that isdigit() accepts)
_LINE_BREAK = re.compile(r"[\n\r\u2028\u2029\x85\x0b\x0c]")

OPTIONS = {
    "separator": "read and write: `auto` (read: tab when the first token line holds a tab, else spaces; write:"
                 " space), `tab` or `space`",
    "tag_columns": "read: `auto` (every field after the token that looks like a tag) or field numbers, the token"
                   " being field 1 (`tag_columns=4` for CoNLL-2003's TOKEN POS CHUNK NER)",
    "documents": "read: `auto` (one per -DOCSTART- block when the file starts with -DOCSTART-, else one per"
                 " sentence), `sentence`, or `file` (one per file or -DOCSTART- block)",
    "max_sentence_tokens": f"read: a longer sentence (or a file without sentence breaks) is cut after"
                           f" sentence-final punctuation, else every N tokens (default"
                           f" {DEFAULT_MAX_SENTENCE_TOKENS})",
    "docstart": "write: `yes` (default: a -DOCSTART- line before every document) or `no` (documents separated"
                " by a blank line only)",
}


def _choice(ctx: Context, name: str, allowed: tuple[str, ...]) -> str:
    value = ctx.options.get(name, allowed[0])
    if value not in allowed:
        raise InputError(f"option {name} must be one of {', '.join(allowed)}, got {value!r}")
    return value


@dataclass(frozen=True)
class _ReadOptions:
    separator: str  # auto, tab, space
    tag_columns: tuple[int, ...] | None  # 0-based field indices (token = 0); None: auto
    documents: str  # auto, sentence, file
    max_tokens: int

    @classmethod
    def from_context(cls, ctx: Context) -> _ReadOptions:
        columns_option = ctx.options.get("tag_columns", "auto")
        columns: tuple[int, ...] | None = None
        if columns_option != "auto":
            parts = columns_option.split(",")
            columns = tuple(int(part) - 1 for part in parts if _NUMBER.fullmatch(part))
            if len(columns) != len(parts) or not columns or min(columns) < 1 or len(set(columns)) != len(columns):
                raise InputError(f"option tag_columns must be `auto` or field numbers above 1 (the token is field"
                                 f" 1), each once, such as 2 or 2,3; got {columns_option!r}")
        raw_max = ctx.options.get("max_sentence_tokens", str(DEFAULT_MAX_SENTENCE_TOKENS))
        if not _NUMBER.fullmatch(raw_max) or int(raw_max) < 1:
            raise InputError(f"option max_sentence_tokens must be a positive whole number, got {raw_max!r}")
        return cls(_choice(ctx, "separator", ("auto", "tab", "space")), columns,
                   _choice(ctx, "documents", ("auto", "sentence", "file")), int(raw_max))


@dataclass(frozen=True)
class _Entry:
    """One token line: the token (bidi marks removed), its non-O tags as (field position, prefix, label)."""

    token: str
    tags: tuple[tuple[int, str, str], ...]
    line: int
    marks: int = 0  # bidi marks removed from the token's edges


def _final(entry: _Entry) -> bool:
    return entry.token in FINAL_PUNCTUATION and not entry.tags


def _continues(before: _Entry, entry: _Entry) -> bool:
    """Whether ``entry`` carries a tag that continues an entity open after ``before``."""
    open_labels = {label for _, prefix, label in before.tags if prefix in "BI"}
    return any(prefix in "IEL" and label in open_labels for _, prefix, label in entry.tags)


def _lanes(entries: Sequence[_Entry]) -> tuple[list[list[str]], list[int]]:
    """The tags of one sentence as BIO lanes (one flat BIO sequence each) and the indices of orphan tags.

    A continuation tag (I-, E-, L-) continues the open entity of its label in the lane of its own column,
    else in another lane; with none open it is an orphan and starts a new entity (conlleval). B-/S-/U- start
    a new entity in the lane of their column when it is free, else in the first free lane. After E-/L-/S-/U-
    the lane's entity is closed. Every entity start is written B-, so the lanes are plain BIO.
    """
    lanes: list[list[str]] = []
    open_labels: list[str | None] = []
    orphans: list[int] = []
    for index, entry in enumerate(entries):
        assigned: dict[int, tuple[str, str, bool]] = {}  # lane -> (tag, label, stays open)
        pending: list[tuple[int, str, str]] = []
        for column, prefix, label in entry.tags:
            if prefix in "IEL" and column < len(lanes) and column not in assigned and open_labels[column] == label:
                assigned[column] = (f"I-{label}", label, prefix == "I")
            else:
                pending.append((column, prefix, label))
        starts: list[tuple[int, str, str]] = []
        for column, prefix, label in pending:
            lane = next((j for j in range(len(lanes)) if j not in assigned and open_labels[j] == label), None)
            if prefix in "IEL" and lane is not None:
                assigned[lane] = (f"I-{label}", label, prefix == "I")
            else:
                if prefix in "IEL":
                    orphans.append(index)
                starts.append((column, prefix, label))
        for column, prefix, label in starts:
            lane = column if column not in assigned else next(j for j in range(len(lanes) + 1) if j not in assigned)
            while lane >= len(lanes):
                lanes.append(["O"] * index)
                open_labels.append(None)
            assigned[lane] = (f"B-{label}", label, prefix in "BI")
        for lane, tags in enumerate(lanes):
            tag, label, stays_open = assigned.get(lane, ("O", "", False))
            tags.append(tag)
            open_labels[lane] = label if stays_open else None
    return lanes, orphans


@dataclass
class _Pending:
    """A document being assembled in ``file`` mode."""

    number: int
    text: list[str] = field(default_factory=list)
    length: int = 0
    spans: list[tuple[int, int, int, str]] = field(default_factory=list)  # start, end, lane, label
    first_line: int = 0
    last_line: int = 0
    tokens: int = 0
    sentences: int = 0
    marks: int = 0


class _ConllReader:
    """One file read as a stream of documents; problems and counts go to the context's report."""

    def __init__(self, path: Path, ctx: Context) -> None:
        self.path, self.ctx = path, ctx
        self.options = _ReadOptions.from_context(ctx)
        self.file = str(path)
        self.stem = path.stem
        self.separator: str | None = {"tab": "\t", "space": " "}.get(self.options.separator)
        self.per_sentence = self.options.documents == "sentence"
        self.mode_decided = self.options.documents != "auto"
        self.buffer: list[_Entry] = []
        self.long_run = False
        self.had_breaks = False
        self.document_count = 0
        self.document: _Pending | None = None
        self.stats = {"files": 1, "documents": 0, "sentences": 0, "tokens": 0, "entities": 0, "empty_tokens": 0,
                      "orphan_inside": 0, "bidi_marks_removed": 0, "double_separators": 0, "crlf_lines": 0,
                      "bom": False, "cuts_at_punctuation": 0, "cuts_by_length": 0}

    # -- problems -----------------------------------------------------------------------------------------
    def problem(self, code: str, message: str, line: int | None = None, doc_id: str | None = None) -> None:
        self.ctx.report.add(make_problem(code, message, file=self.file, line=line, task_id=doc_id))

    # -- lines --------------------------------------------------------------------------------------------
    def read(self) -> Iterator[Document]:
        try:
            handle = self.path.open("rb")
        except OSError as exc:
            raise InputError(f"cannot read {self.path}: {exc.strerror or exc}") from exc
        with handle:
            try:
                for number, raw in enumerate(handle, 1):
                    yield from self.line(number, raw)
            except OSError as exc:
                raise InputError(f"cannot read {self.path}: {exc.strerror or exc}") from exc
        yield from self.end()

    def line(self, number: int, raw: bytes) -> Iterator[Document]:
        if number == 1 and raw.startswith(BOM_UTF8):
            raw = raw[len(BOM_UTF8):]
            self.stats["bom"] = True
        if raw.endswith(b"\r\n"):
            self.stats["crlf_lines"] += 1
        raw = raw.rstrip(b"\r\n")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            self.problem(CONLL_BAD_ENCODING, f"line is not UTF-8 (byte {exc.start}); skipped", number)
            return
        if not text.strip(" \t\r\f\v"):
            yield from self.sentence_break()
            return
        if self.separator is None and ("\t" in text or " " in text.strip(" \t\r\f\v")):
            self.separator = "\t" if "\t" in text else " "  # decided by the first line with two fields
        entry = self.parse(text, number)
        if entry is None:
            return
        if entry.token == DOCSTART:
            if not self.mode_decided:
                self.per_sentence, self.mode_decided = False, True  # the file starts with -DOCSTART-: blocks
            yield from self.document_break()
            return
        if not self.mode_decided:
            self.per_sentence, self.mode_decided = True, True
        yield from self.push(entry)

    def parse(self, text: str, number: int) -> _Entry | None:
        if self.separator == "\t":
            fields = [part.strip(" \r\f\v") for part in text.split("\t")]
            inner = fields[1:]
            if "" in inner:
                self.stats["double_separators"] += 1
            fields = fields[:1] + [part for part in inner if part]
        else:
            line = text.rstrip(" \t\r\f\v")
            if "\t" in line or "  " in line:
                fields = _SPACES.split(line)
                if any(len(run) > 1 for run in _SPACES.findall(line.lstrip(" \t"))):
                    self.stats["double_separators"] += 1
            else:
                fields = line.split(" ")
        token = fields[0]
        stripped = token.strip(BIDI_MARKS)
        if not stripped:
            self.stats["empty_tokens"] += 1
            self.problem(CONLL_EMPTY_TOKEN, f"no token before {' '.join(fields[1:]) or 'the line end'!r};"
                                            f" line skipped", number)
            return None
        if stripped == DOCSTART:
            return _Entry(DOCSTART, (), number)
        return _Entry(stripped, self.tags(fields, number), number, len(token) - len(stripped))

    def tags(self, fields: list[str], number: int) -> tuple[tuple[int, str, str], ...]:
        tags: list[tuple[int, str, str]] = []
        columns = self.options.tag_columns
        if columns is None:
            values = fields[1:]
            not_tags = [value for value in values if not _TAG.match(value)]
            if not_tags:
                self.problem(CONLL_NOT_A_TAG, f"field(s) {', '.join(map(repr, not_tags))} are not tags; ignored",
                             number)
            values = [value for value in values if _TAG.match(value)]
            if not values:
                if not not_tags:
                    self.problem(CONLL_MISSING_TAG, f"token {fields[0]!r} has no tag; read as O", number)
        else:
            values = []
            for column in columns:
                if column >= len(fields):
                    self.problem(CONLL_MISSING_TAG, f"no field {column + 1} (tag_columns); read as O", number)
                    values.append("O")
                elif not _TAG.match(fields[column]):
                    self.problem(CONLL_BAD_TAG, f"field {column + 1} {fields[column]!r} is not a tag; read as O",
                                 number)
                    values.append("O")
                else:
                    values.append(fields[column])
        for position, value in enumerate(values):
            if value != "O":
                prefix, _, label = value.partition("-")
                tags.append((position, prefix, label))
        return tuple(tags)

    # -- sentences ----------------------------------------------------------------------------------------
    def push(self, entry: _Entry) -> Iterator[Document]:
        limit = self.options.max_tokens
        if self.buffer and not self.long_run and len(self.buffer) >= limit:
            self.long_run = True
            yield from self.cut_at_punctuation(keep_last=True)
        if self.buffer and self.long_run:
            if _final(self.buffer[-1]) and entry.token not in FINAL_PUNCTUATION:
                self.stats["cuts_at_punctuation"] += 1
                yield from self.flush()
            elif len(self.buffer) >= limit and (len(self.buffer) >= 2 * limit
                                                or not _continues(self.buffer[-1], entry)):
                self.stats["cuts_by_length"] += 1
                yield from self.flush()
        self.buffer.append(entry)

    def cut_at_punctuation(self, *, keep_last: bool) -> Iterator[Document]:
        """Emit the buffer's pieces that end after sentence-final punctuation (a run of it) tagged O."""
        buffer, start = self.buffer, 0
        for i in range(len(buffer) - 1):
            if _final(buffer[i]) and buffer[i + 1].token not in FINAL_PUNCTUATION:
                self.stats["cuts_at_punctuation"] += 1
                yield from self.flush(buffer[start:i + 1])
                start = i + 1
        self.buffer = buffer[start:]
        if not keep_last:
            yield from self.flush()

    def sentence_break(self) -> Iterator[Document]:
        self.had_breaks = True
        yield from self.flush()
        self.long_run = False

    def document_break(self) -> Iterator[Document]:
        yield from self.sentence_break()
        yield from self.finish_document()

    def end(self) -> Iterator[Document]:
        if self.buffer and not self.had_breaks and not self.long_run:
            yield from self.cut_at_punctuation(keep_last=False)
        yield from self.flush()
        yield from self.finish_document()
        cuts = self.stats["cuts_at_punctuation"] + self.stats["cuts_by_length"]
        if cuts:
            why = "has no sentence breaks" if not self.had_breaks else \
                f"has sentences longer than {self.options.max_tokens} tokens"
            self.problem(CONLL_SENTENCE_CUT, f"the file {why}: cut {self.stats['cuts_at_punctuation']} times"
                                             f" after sentence-final punctuation and {self.stats['cuts_by_length']}"
                                             f" times at {self.options.max_tokens} tokens")
        if not self.stats["tokens"] and not any(p.code == CONLL_BAD_ENCODING and p.file == self.file
                                                for p in self.ctx.report.problems):
            self.problem(CONLL_NO_TOKENS, "no token line in the file")
        self.publish_stats()

    def publish_stats(self) -> None:
        total = self.ctx.report.stats.setdefault("conll_read", {})
        for key, value in self.stats.items():
            if isinstance(value, bool):
                total[key] = bool(total.get(key, False)) or value
            else:
                total[key] = int(total.get(key, 0)) + value  # type: ignore[call-overload]

    def flush(self, entries: list[_Entry] | None = None) -> Iterator[Document]:
        """The entries (the whole buffer when None) as one sentence."""
        if entries is None:
            entries, self.buffer = self.buffer, []
        if not entries:
            return
        self.stats["sentences"] += 1
        self.stats["tokens"] += len(entries)
        if self.document is None:
            self.document_count += 1
            self.document = _Pending(self.document_count, first_line=entries[0].line)
        doc = self.document
        doc_id = self.doc_id(doc.number)
        if doc.sentences:
            doc.text.append(SENTENCE_SEPARATOR)
            doc.length += len(SENTENCE_SEPARATOR)
        tokens: list[Token] = []
        offset = doc.length
        for entry in entries:
            if tokens:
                doc.text.append(TOKEN_SEPARATOR)
                offset += len(TOKEN_SEPARATOR)
            tokens.append(Token(entry.token, offset, offset + len(entry.token)))
            doc.text.append(entry.token)
            offset += len(entry.token)
            doc.marks += entry.marks
        doc.length = offset
        doc.tokens += len(entries)
        doc.sentences += 1
        doc.last_line = entries[-1].line
        lanes, orphans = _lanes(entries)
        for index in orphans:
            entry = entries[index]
            self.stats["orphan_inside"] += 1
            self.problem(CONLL_ORPHAN_INSIDE, f"{entry.token!r} has an inside tag with no open entity of its type"
                                              f" before it; read as a new entity", entry.line, doc_id)
        for lane, tags in enumerate(lanes):
            # the text is still being assembled: the spans' offsets are what matters, their text is taken later
            for span in bio_to_spans("", tokens, tags).spans:
                doc.spans.append((span.start, span.end, lane, span.label))
        if self.per_sentence:
            yield from self.finish_document()

    def doc_id(self, number: int) -> str:
        return f"{self.stem}-s{number:06d}" if self.per_sentence else f"{self.stem}-d{number:06d}"

    def finish_document(self) -> Iterator[Document]:
        doc, self.document = self.document, None
        if doc is None:
            return
        text = "".join(doc.text)
        doc_id = self.doc_id(doc.number)
        spans = sorted(doc.spans, key=lambda s: (s[0], -s[1], s[2]))
        entities = [Span(start, end, label, f"e{k}", text[start:end])
                    for k, (start, end, _, label) in enumerate(spans, 1)]
        self.stats["documents"] += 1
        self.stats["entities"] += len(entities)
        self.stats["bidi_marks_removed"] += doc.marks
        yield Document(
            id=doc_id, text=text, entities=entities, title="",
            source=f"rebuilt from the CoNLL tokens of {self.path.name}",
            meta={"rebuilt_from": "conll", "file": self.path.name, "first_line": doc.first_line,
                  "last_line": doc.last_line, "sentences": doc.sentences, "tokens": doc.tokens,
                  "token_separator": TOKEN_SEPARATOR, "sentence_separator": SENTENCE_SEPARATOR,
                  "bidi_marks_removed": doc.marks})


def read_conll(path: Path, ctx: Context) -> Iterator[Document]:
    """The documents of one CoNLL file (see the module docstring); problems and counts go to ``ctx.report``."""
    if path.is_dir():
        raise InputError(f"{path} is a folder; the conll reader reads one file")
    if path.exists() and not path.is_file():  # a device such as /dev/zero never ends: its one "line" fills memory
        raise InputError(f"not a file: {path} (a pipe or a device); give the CoNLL file")
    return _ConllReader(path, ctx).read()


def _layers(text: str, spans: Sequence[Span], segmentation: str, tokens: list[Token]
            ) -> tuple[list[Token], list[list[str]], list[Span], int]:
    """The tokens; one BIO tag list per column (the first holds what one BIO layer can hold, each next one what
    the columns before could not); the spans no column can hold (once widened to token edges they do not
    start and end on tokens, or their label holds whitespace); and how many spans were widened.  ``tokens``:
    the text's tokens (the label-free tokenizer's, with ``segmentation``)."""
    writable = [s for s in spans if s.label and not any(ch.isspace() for ch in s.label)]
    first = spans_to_bio(text, writable, segmentation, tokens=tokens)
    starts = {t.start for t in tokens}
    ends = {t.end for t in tokens}
    placeable: list[Span] = []
    left_out = [s for s in spans if not s.label or any(ch.isspace() for ch in s.label)]
    for span in writable:
        wide = widen_to_tokens(text, span, tokens)
        (placeable if wide.start < wide.end and wide.start in starts and wide.end in ends else left_out).append(span)
    columns: list[list[str]] = []
    encoding = (first if len(placeable) == len(writable)
                else spans_to_bio(text, placeable, segmentation, tokens=tokens))
    while placeable:  # every round places at least the first span in select_flat's order
        columns.append(encoding.tags)
        placeable = encoding.unencodable
        if placeable:
            encoding = spans_to_bio(text, placeable, segmentation, tokens=tokens)
    return tokens, columns, left_out, len(first.widened)


def write_conll(documents: Iterable[Document], path: Path, ctx: Context) -> None:
    """Write ``documents`` as CoNLL to ``path`` (one token per line, tag columns, see the module docstring)."""
    separator = "\t" if _choice(ctx, "separator", ("auto", "tab", "space")) == "tab" else " "
    docstart = _choice(ctx, "docstart", ("yes", "no")) == "yes"
    stats = {"documents": 0, "sentences": 0, "tokens": 0, "spans_written": 0, "spans_widened": 0,
             "spans_not_written": 0, "max_columns": 0}
    report = ctx.report
    try:
        with path.open("w", encoding="utf-8", newline="\n") as out:
            first = True
            for doc, doc_tokens in with_tokens(documents, ctx.segmentation):
                tokens, columns, left_out, widened = _layers(doc.text, doc.entities, ctx.segmentation, doc_tokens)
                if doc.relations:
                    report.add(make_problem(CONLL_RELATIONS_DROPPED, f"{len(doc.relations)} relation(s) left out",
                                            task_id=doc.id))
                if not tokens:
                    report.add(make_problem(CONLL_EMPTY_DOCUMENT, "the document has no token; left out",
                                            task_id=doc.id))
                    continue
                if left_out:
                    ids = ", ".join(s.id or f"{s.start}-{s.end}" for s in left_out)
                    report.add(make_problem(CONLL_SPAN_NOT_WRITTEN, f"{len(left_out)} span(s) left out: {ids}",
                                            task_id=doc.id))
                lines: list[str] = []
                if not first:
                    lines.append("")
                if docstart:
                    lines += [f"{DOCSTART}{separator}O", ""]
                width = max(len(columns), 1)
                for i, tok in enumerate(tokens):
                    if i and _LINE_BREAK.search(doc.text, tokens[i - 1].end, tok.start) \
                            and not any(column[i].startswith("I-") for column in columns):
                        lines.append("")
                        stats["sentences"] += 1
                    tags = [column[i] for column in columns] or ["O"]
                    lines.append(separator.join([tok.text, *tags]))
                lines.append("")
                out.write("\n".join(lines))
                first = False
                stats["documents"] += 1
                stats["sentences"] += 1
                stats["tokens"] += len(tokens)
                stats["spans_written"] += len(doc.entities) - len(left_out)
                stats["spans_not_written"] += len(left_out)
                stats["spans_widened"] += widened
                stats["max_columns"] = max(stats["max_columns"], width)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {write_failure(path, exc)}") from exc
    report.stats["conll_write"] = stats


FORMAT = Format(
    name="conll",
    summary="CoNLL / BIO: one token per line, one or more tag columns (nested entities), space or tab separated",
    reader=read_conll,
    writer=write_conll,
    output="file",
    options=OPTIONS,
)
