"""brat standoff, both ways: a folder of ``<name>.txt`` + ``<name>.ann`` pairs, one document each.

The ``.txt`` holds the document's text, its exact code points as UTF-8 (CRLF and a leading BOM stay: brat
reads the text as UTF-8 in binary mode and counts every code point); the ``.ann`` holds one line per
annotation, ``T1<TAB>LABEL START END<TAB>TEXT`` for a span and ``R1<TAB>LABEL Arg1:T1 Arg2:T2`` for a relation.
brat offsets are code points, end-exclusive, as ours.

Writing:

* file names come from document ids made safe (:func:`file_stem`); two ids that give the same name (ignoring
  case) are refused (``brat-file-name-clash``);
* spans are written in (start, end, label) order as ``T1``, ``T2``, ...; relations in (head, tail, label)
  order as ``R1``, ``R2``, ...;
* an ``.ann`` line cannot hold a line break, so a span whose text holds one (``\\n``, ``\\r``, U+2028, ...:
  everything :meth:`str.splitlines` breaks at) is written as brat writes it, fragments cut at the line breaks
  (``T1<TAB>ORG 0 5;6 11<TAB>first second``), with a zero-width fragment at an edge that is a line break so the
  span's extent stays; reading joins fragments separated only by whitespace holding a line break or a tab;
* type names brat cannot hold (anything but ``A-Z a-z 0-9 _ -``) get their own name
  (:func:`corpus_tools.artefacts.brat_name`, ``_2``, ``_3`` ... when taken) and ``corpus-tools-labels.json``
  maps each such name back to its label;
* ``annotation.conf`` comes from the ontology (:func:`corpus_tools.artefacts.ontology_to_brat_conf`) or, without
  one, from the labels seen; ``visual.conf`` shows each renamed type with its label, and the ontology's colours;
* ``corpus-tools-documents.jsonl`` keeps what brat has no place for (the document id, title, source, lang,
  dateline, meta), one line per document.

Reading takes every ``.txt`` and ``.ann`` under the folder (sub-folders too; hidden ones skipped) and reports
everything a document cannot hold (discontinuous spans, events, attributes, normalizations, equivalences,
notes) as a located warning, never dropping it silently.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from corpus_tools.artefacts import brat_name, brat_type_names, ontology_to_brat_conf
from corpus_tools.errors import InputError, OutputError
from corpus_tools.interop.format import Context, Format
from corpus_tools.report import define_code, make_problem
from corpus_tools.spans import Document, Relation, Span

if TYPE_CHECKING:
    from corpus_tools.ontology import Ontology

STAGE = "interop"

LABELS_FILE = "corpus-tools-labels.json"
DOCUMENTS_FILE = "corpus-tools-documents.jsonl"
CONF_FILE = "annotation.conf"
VISUAL_FILE = "visual.conf"

MISSING_TEXT = define_code(
    "brat-missing-text", "error", "An .ann file has no .txt beside it; add the text or remove the .ann.", stage=STAGE
)
NOT_UTF8 = define_code(
    "brat-not-utf8", "error", "A .txt or .ann file is not UTF-8; re-encode it as UTF-8.", stage=STAGE
)
BAD_LINE = define_code(
    "brat-bad-line", "error", "An .ann line is not brat standoff (an id, a tab, the type and its arguments, a tab and"
    " the text for a T line); fix the line.",
    stage=STAGE,
)
BAD_OFFSETS = define_code(
    "brat-bad-offsets", "error", "A text-bound annotation's offsets fall outside the text, run backwards or"
    " overlap one another.", stage=STAGE,
)
TEXT_MISMATCH = define_code(
    "brat-span-text-mismatch", "error", "The text written on a T line differs from the text at its offsets in"
    " the .txt; the offsets are kept.", stage=STAGE,
)
DUPLICATE_ID = define_code(
    "brat-duplicate-id", "error", "An annotation id is used twice in one .ann file; the later line is left out.",
    stage=STAGE,
)
DISCONTINUOUS = define_code(
    "brat-discontinuous-span", "warning", "A discontinuous text-bound annotation (fragments with text between"
    " them) cannot be a span of a document; it is left out.", stage=STAGE,
)
MISSING_ARGUMENT = define_code(
    "brat-relation-missing-argument", "error", "A relation names an argument id that no line of the .ann"
    " defines; the relation is left out.", stage=STAGE,
)
UNSUPPORTED_ARGUMENT = define_code(
    "brat-relation-unsupported-argument", "warning", "A relation's argument is an annotation a document cannot"
    " hold (an event, a discontinuous span); the relation is left out.", stage=STAGE,
)
EVENT = define_code(
    "brat-event", "warning", "An event (E line) cannot be held by a document; it is left out (its trigger is"
    " read as a span).", stage=STAGE,
)
ATTRIBUTE = define_code(
    "brat-attribute", "warning", "An attribute or modifier (A or M line) cannot be held by a document; it is left"
    " out.", stage=STAGE,
)
NORMALIZATION = define_code(
    "brat-normalization", "warning", "A normalization (N line) cannot be held by a document; it is left out.",
    stage=STAGE,
)
EQUIVALENCE = define_code(
    "brat-equivalence", "warning", "An equivalence (* line) cannot be held by a document; it is left out.",
    stage=STAGE,
)
NOTE = define_code(
    "brat-note", "warning", "A note (# line) cannot be held by a document; it is left out.", stage=STAGE
)
BAD_SIDECAR = define_code(
    "brat-bad-sidecar", "error", f"{LABELS_FILE} or {DOCUMENTS_FILE} is not what the brat writer makes; fix or"
    " remove it.", stage=STAGE,
)
FILE_NAME_CLASH = define_code(
    "brat-file-name-clash", "error", "Two document ids give the same brat file name (ids that differ only in"
    " characters a file name cannot hold, or in case); the later document is not written.", stage=STAGE,
)
DANGLING_RELATION = define_code(
    "brat-relation-dangling", "error", "A relation names a span id the document does not have; it is not"
    " written.", stage=STAGE,
)
UNENCODABLE = define_code(
    "brat-unencodable-text", "error", "A document's text holds a lone surrogate, which UTF-8 cannot encode; the"
    " document is not written.", stage=STAGE,
)

# Where str.splitlines (and brat's line reader) breaks a line: never inside an .ann line.
LINE_BREAKS = frozenset("\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")
_LINE_BREAK = re.compile("[" + "".join(sorted(LINE_BREAKS)) + "]")
DISCONTINUOUS_SEPARATOR = " "  # brat joins the texts of a span's fragments with one space

_UNSAFE_FILE_CHARS = re.compile(r"[^A-Za-z0-9._-]")
_WINDOWS_RESERVED = frozenset(
    ["CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))]
)
FILE_STEM_MAX = 150
_FRAGMENT = re.compile(r"([0-9]+) ([0-9]+)")
_ONE_FRAGMENT = re.compile(r"([^ ]+) ([0-9]+) ([0-9]+)")
_ID = re.compile(r"(?:[A-Za-z]+|#[A-Za-z]*)[0-9]+\S*")


def file_stem(doc_id: str) -> str:
    """The file name (without ``.txt``/``.ann``) of a document: every character but ``A-Z a-z 0-9 . _ -``
    becomes ``_``, a leading dot becomes ``_``, a Windows device name (``CON``, ``NUL``, ``COM1`` ...) gets a
    leading ``_``, and the name is cut after 150 characters; an empty id gives ``_``."""
    stem = _UNSAFE_FILE_CHARS.sub("_", doc_id)[:FILE_STEM_MAX] or "_"
    if stem.startswith("."):
        stem = "_" + stem[1:]
    if stem.split(".")[0].upper() in _WINDOWS_RESERVED:
        stem = "_" + stem
    return stem


# ------------------------------------------------------------------------------------------------- writing
class TypeNames:
    """brat type names, one per label: the ontology's own names first (as ``ontology export --target brat``
    gives them), then each new label in the order it is first seen: itself when brat accepts it and the name is
    free, else :func:`brat_name` with ``_2``, ``_3`` ... until free."""

    def __init__(self, preset: dict[str, str] | None = None) -> None:
        self.names: dict[str, str] = dict(preset or {})
        self._taken = set(self.names.values())

    def name(self, label: str) -> str:
        name = self.names.get(label)
        if name is None:
            base = candidate = brat_name(label) or "_"
            n = 1
            while candidate in self._taken:
                n += 1
                candidate = f"{base}_{n}"
            name = self.names[label] = candidate
            self._taken.add(name)
        return name

    def renamed(self) -> dict[str, str]:
        """brat name → label, for every label whose name is not the label itself."""
        return {name: label for label, name in self.names.items() if name != label}


def span_fragments(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """The fragments a span is written as: one when its text holds no line break; otherwise the runs between
    line breaks, with a zero-width fragment at an edge that is a line break (so reading gets the extent back)."""
    if _LINE_BREAK.search(text, start, end) is None:
        return [(start, end)]
    fragments: list[tuple[int, int]] = []
    if text[start] in LINE_BREAKS:
        fragments.append((start, start))
    run = None
    for i in range(start, end):
        if text[i] in LINE_BREAKS:
            if run is not None:
                fragments.append((run, i))
                run = None
        elif run is None:
            run = i
    if run is not None:
        fragments.append((run, end))
    if text[end - 1] in LINE_BREAKS:
        fragments.append((end, end))
    return fragments


def _t_line(tid: str, name: str, text: str, start: int, end: int) -> str:
    fragments = span_fragments(text, start, end)
    offsets = ";".join(f"{a} {b}" for a, b in fragments)
    return f"{tid}\t{name} {offsets}\t{DISCONTINUOUS_SEPARATOR.join(text[a:b] for a, b in fragments)}\n"


def document_to_ann(doc: Document, names: TypeNames, ctx: Context, file: str) -> str:
    """The ``.ann`` text of one document (spans and relations renumbered ``T1``.., ``R1``..); a span with bad
    offsets or a relation to a missing span is reported and left out."""
    lines: list[str] = []
    t_of: dict[str, int] = {}  # the document's span id → its T number
    n = len(doc.text)
    for span in sorted(doc.entities, key=lambda s: (s.start, s.end, s.label)):
        if not 0 <= span.start <= span.end <= n:
            ctx.report.add(make_problem(
                BAD_OFFSETS, f"span {span.id!r} [{span.start}, {span.end}) is outside the text ({n} code points);"
                " it is not written", file=file, task_id=doc.id, annotation_id=span.id or None))
            continue
        number = len(lines) + 1
        t_of.setdefault(span.id, number)
        lines.append(_t_line(f"T{number}", names.name(span.label), doc.text, span.start, span.end))
    relations = []
    for rel in doc.relations:
        head, tail = t_of.get(rel.head), t_of.get(rel.tail)
        if head is None or tail is None:
            missing = rel.head if head is None else rel.tail
            ctx.report.add(make_problem(
                DANGLING_RELATION, f"relation {rel.id!r} ({rel.label}) names span {missing!r}, which the document"
                " does not have (or whose offsets are bad); it is not written",
                file=file, task_id=doc.id, annotation_id=rel.id or None))
            continue
        relations.append((head, tail, rel.label))
    for i, (head, tail, label) in enumerate(sorted(relations), start=1):
        lines.append(f"R{i}\t{names.name(label)} Arg1:T{head} Arg2:T{tail}\n")
    return "".join(lines)


def _labels_conf(entity_labels: Iterable[str], relation_labels: Iterable[str], names: TypeNames) -> str:
    """An ``annotation.conf`` for labels without an ontology (relations between any entities)."""
    def entry(label: str) -> list[str]:
        name = names.name(label)
        comment = [f"# {name} = {json.dumps(label, ensure_ascii=False)[1:-1]}"] if name != label else []
        return comment + [name]

    lines = ["# Generated by corpus-tools from the labels of the documents; do not edit.", "", "[entities]"]
    for label in entity_labels:
        lines += entry(label)
    lines += ["", "[relations]"]
    for label in relation_labels:
        *comment, name = entry(label)
        lines += [*comment, f"{name}\tArg1:<ENTITY>, Arg2:<ENTITY>"]
    lines += ["", "[events]", "", "[attributes]", ""]
    return "\n".join(lines)


def _display(label: str) -> str:
    """A label as a conf file can show it: control characters escaped, ``|`` (brat's separator) as ``/``."""
    return json.dumps(label, ensure_ascii=False)[1:-1].replace("|", "/")


def visual_conf(names: TypeNames, ontology: Ontology | None) -> str:
    """A brat ``visual.conf``: each renamed type shown with its label, each ontology entity in its colour."""
    lines = ["# Generated by corpus-tools; do not edit.", "", "[labels]"]
    lines += [f"{name} | {_display(label)}" for name, label in names.renamed().items()]
    lines += ["", "[drawing]", "SPAN_DEFAULT\tfgColor:black, bgColor:lightgreen, borderColor:black",
              "ARC_DEFAULT\tcolor:black"]
    if ontology is not None:
        lines += [f"{names.name(e.label)}\tbgColor:{e.color}" for e in ontology.entities]
    return "\n".join(lines) + "\n"


def _json_line(record: dict[str, object]) -> str:
    try:
        line = json.dumps(record, ensure_ascii=False)
        line.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate in a title or meta: JSON escapes keep it
        line = json.dumps(record, ensure_ascii=True)
    return line + "\n"


def write_brat(documents: Iterable[Document], path: Path, ctx: Context) -> None:
    """Write ``documents`` into the (empty) folder ``path``: ``.txt`` + ``.ann`` per document,
    ``annotation.conf``, ``corpus-tools-labels.json`` and ``corpus-tools-documents.jsonl``."""
    ontology = ctx.ontology
    names = TypeNames(brat_type_names(ontology) if ontology is not None else None)
    entity_labels: dict[str, None] = dict.fromkeys(ontology.entity_labels) if ontology is not None else {}
    relation_labels: dict[str, None] = dict.fromkeys(ontology.relation_labels) if ontology is not None else {}
    used: dict[str, str] = {}  # casefolded file stem → the id of the document written under it
    try:
        with open(path / DOCUMENTS_FILE, "w", encoding="utf-8", newline="\n") as sidecar:
            for doc in documents:
                stem = file_stem(doc.id)
                if stem.casefold() in used:
                    ctx.report.add(make_problem(
                        FILE_NAME_CLASH, f"document {doc.id!r} would be written as {stem}.txt, the file of document"
                        f" {used[stem.casefold()]!r}; give the documents ids that differ in A-Z a-z 0-9 . _ -",
                        task_id=doc.id))
                    continue
                try:
                    text_bytes = doc.text.encode("utf-8")
                except UnicodeEncodeError as exc:
                    ctx.report.add(make_problem(
                        UNENCODABLE, f"the text holds a lone surrogate at code point {exc.start}; it is not written",
                        task_id=doc.id))
                    continue
                used[stem.casefold()] = doc.id
                for span in doc.entities:
                    entity_labels.setdefault(span.label)
                for rel in doc.relations:
                    relation_labels.setdefault(rel.label)
                ann = document_to_ann(doc, names, ctx, f"{stem}.ann")
                (path / f"{stem}.txt").write_bytes(text_bytes)
                (path / f"{stem}.ann").write_bytes(ann.encode("utf-8"))
                sidecar.write(_json_line({"file": stem, "id": doc.id, "title": doc.title, "source": doc.source,
                                          "lang": doc.lang, "dateline": doc.dateline, "meta": doc.meta}))
        for label in [*entity_labels, *relation_labels]:
            names.name(label)
        extra = ontology is not None and (set(entity_labels) - set(ontology.entity_labels)
                                          or set(relation_labels) - set(ontology.relation_labels))
        first_written = {label: i for i, label in enumerate(names.names)}
        conf = (ontology_to_brat_conf(ontology) if ontology is not None and not extra
                else _labels_conf(sorted(entity_labels, key=first_written.__getitem__),
                                  sorted(relation_labels, key=first_written.__getitem__), names))
        # a label holding a lone surrogate is shown escaped in the conf files and kept exactly in the label map
        (path / CONF_FILE).write_bytes(conf.encode("utf-8", "backslashreplace"))
        (path / VISUAL_FILE).write_bytes(visual_conf(names, ontology).encode("utf-8", "backslashreplace"))
        (path / LABELS_FILE).write_text(_json_line(names.renamed()), encoding="utf-8", newline="\n")
    except OSError as exc:
        raise OutputError(f"cannot write the brat folder {path}: {exc.strerror or exc}") from exc


# ------------------------------------------------------------------------------------------------- reading
@dataclass
class _TextBound:
    line: int
    label: str
    fragments: list[tuple[int, int]]


@dataclass
class _Annotations:
    """What one .ann file holds that a document can: spans and relations by brat id, the other ids."""

    spans: dict[str, Span] = field(default_factory=dict)
    relations: list[tuple[int, str, str, str, str]] = field(default_factory=list)  # line, id, label, arg1, arg2
    other: dict[str, str] = field(default_factory=dict)  # id → what it is (for relation arguments)


def _walk(folder: Path) -> dict[str, dict[str, Path]]:
    """Relative stem (``sub/name``) → {".txt": path, ".ann": path}, hidden files and folders skipped."""
    found: dict[str, dict[str, Path]] = {}
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in files:
            suffix = name[-4:]
            if name.startswith(".") or suffix not in (".txt", ".ann"):
                continue
            path = Path(root) / name
            stem = path.relative_to(folder).as_posix()[:-4]
            found.setdefault(stem, {})[suffix] = path
    return dict(sorted(found.items()))


def _decode(path: Path, ctx: Context, doc_id: str) -> str | None:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from exc
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        ctx.report.add(make_problem(
            NOT_UTF8, f"byte {exc.start} is not UTF-8 ({exc.reason}); the document is left out",
            file=str(path), byte_offset=exc.start, task_id=doc_id))
        return None


def _load_labels(folder: Path, ctx: Context) -> dict[str, str]:
    path = folder / LABELS_FILE
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        ctx.report.add(make_problem(BAD_SIDECAR, f"not UTF-8 JSON ({exc}); labels are read as written",
                                    file=str(path)))
        return {}
    if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
        ctx.report.add(make_problem(BAD_SIDECAR, "not an object of brat name → label strings; labels are read as"
                                    " written", file=str(path)))
        return {}
    return data


def _load_documents(folder: Path, ctx: Context) -> dict[str, dict]:
    path = folder / DOCUMENTS_FILE
    if not path.is_file():
        return {}
    records: dict[str, dict] = {}
    try:
        lines = path.read_bytes().decode("utf-8").split("\n")
    except UnicodeDecodeError as exc:
        ctx.report.add(make_problem(BAD_SIDECAR, f"not UTF-8 ({exc.reason}); documents get their file names as"
                                    " ids", file=str(path), byte_offset=exc.start))
        return {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as exc:
            ctx.report.add(make_problem(BAD_SIDECAR, f"not JSON ({exc.msg})", file=str(path), line=number))
            continue
        if not (isinstance(record, dict) and isinstance(record.get("file"), str)
                and isinstance(record.get("id", ""), str) and isinstance(record.get("meta", {}), dict)
                and all(isinstance(record.get(k, ""), str) for k in ("title", "source", "lang"))
                and isinstance(record.get("dateline"), dict | None)):
            ctx.report.add(make_problem(BAD_SIDECAR, "not a document record (file, id, title, source, lang,"
                                        " dateline, meta)", file=str(path), line=number))
            continue
        records[record["file"]] = record
    return records


_KINDS = {"E": (EVENT, "event"), "A": (ATTRIBUTE, "attribute"), "M": (ATTRIBUTE, "modifier"),
          "N": (NORMALIZATION, "normalization"), "*": (EQUIVALENCE, "equivalence"), "#": (NOTE, "note")}


def _parse_fragments(data: str) -> tuple[str, list[tuple[int, int]]] | None:
    m = _ONE_FRAGMENT.fullmatch(data)  # the common case, one fragment
    if m is not None:
        return m.group(1), [(int(m.group(2)), int(m.group(3)))]
    label, _, offsets = data.partition(" ")
    fragments = []
    for part in offsets.split(";"):
        m = _FRAGMENT.fullmatch(part.strip())
        if m is None:
            return None
        fragments.append((int(m.group(1)), int(m.group(2))))
    return (label, fragments) if label else None


def _joinable(gap: str) -> bool:
    """A gap between two fragments that brat's own writer makes when it cuts a span at line breaks or tabs."""
    return gap == "" or (gap.isspace() and any(c in LINE_BREAKS or c == "\t" for c in gap))


def _read_t(ann_id: str, rest: str, text: str, number: int, out: _Annotations,
            problem: Callable[[str, str, int, str | None], None]) -> Span | None:
    """The span of a T line (label as written), or None with the reason reported and recorded in ``out``."""
    data, tab, written = rest.partition("\t")
    parsed = _parse_fragments(data) if tab else None
    if parsed is None:
        out.other[ann_id] = "unreadable line"
        problem(BAD_LINE, "a T line is ID<TAB>TYPE START END[;START END]...<TAB>TEXT", number, ann_id)
        return None
    name, fragments = parsed
    offsets = data.partition(" ")[2]
    if any(not 0 <= a <= b <= len(text) for a, b in fragments) or any(
            a2 < b1 and a1 < b2 for i, (a1, b1) in enumerate(fragments) for a2, b2 in fragments[i + 1:]):
        out.other[ann_id] = "unreadable line"
        problem(BAD_OFFSETS, f"offsets {offsets} do not fit the text ({len(text)} code points)", number, ann_id)
        return None
    expected = DISCONTINUOUS_SEPARATOR.join(text[a:b] for a, b in fragments)
    if written != expected:
        problem(TEXT_MISMATCH, f"the line says {written[:80]!r}, the text at its offsets is {expected[:80]!r}",
                number, ann_id)
    ordered = sorted(fragments)
    if not all(_joinable(text[b1:a2]) for (_, b1), (a2, _) in zip(ordered, ordered[1:], strict=False)):
        out.other[ann_id] = "discontinuous span"
        problem(DISCONTINUOUS, f"{ann_id} ({name}) has fragments {offsets} with text between them; it is left out",
                number, ann_id)
        return None
    start, end = ordered[0][0], ordered[-1][1]
    return Span(start, end, name, ann_id, text[start:end])


def _read_ann(source: str, text: str, file: str, doc_id: str, labels: dict[str, str],
              ctx: Context) -> _Annotations:
    out = _Annotations()
    seen: set[str] = set()

    def problem(code: str, message: str, line: int, ann_id: str | None) -> None:
        ctx.report.add(make_problem(code, message, file=file, line=line, task_id=doc_id, annotation_id=ann_id))

    for number, line in enumerate(source.splitlines(), start=1):
        if not line.strip():
            continue
        ann_id, tab, rest = line.partition("\t")
        if not tab or not (ann_id == "*" or _ID.fullmatch(ann_id)):
            problem(BAD_LINE, "the line does not start with an annotation id and a tab", number, None)
            continue
        if ann_id in seen and ann_id != "*":
            problem(DUPLICATE_ID, f"id {ann_id} is used on an earlier line; this line is left out", number, ann_id)
            continue
        seen.add(ann_id)
        kind = ann_id[0]
        if kind in _KINDS:
            code, what = _KINDS[kind]
            out.other[ann_id] = what
            problem(code, f"{what} {ann_id} ({rest.split(chr(9))[0]}) is left out", number, ann_id)
        elif kind == "T":
            span = _read_t(ann_id, rest, text, number, out, problem)
            if span is not None:
                out.spans[ann_id] = Span(span.start, span.end, labels.get(span.label, span.label), ann_id, span.text)
        elif kind == "R":
            label, _, args = rest.partition("\t")[0].partition(" ")
            roles = dict(arg.partition(":")[::2] for arg in args.split())
            if not label or len(args.split()) != 2 or set(roles) != {"Arg1", "Arg2"} or not all(roles.values()):
                out.other[ann_id] = "unreadable line"
                problem(BAD_LINE, "an R line is ID<TAB>TYPE Arg1:ID Arg2:ID", number, ann_id)
                continue
            out.relations.append((number, ann_id, labels.get(label, label), roles["Arg1"], roles["Arg2"]))
        else:
            out.other[ann_id] = "unreadable line"
            problem(BAD_LINE, f"brat has no annotation kind {kind!r} (T R E A M N * #)", number, ann_id)
    return out


def read_brat(path: Path, ctx: Context) -> Iterator[Document]:
    """The documents of a brat folder, in the order of their relative paths."""
    if not path.is_dir():
        raise InputError(f"{path} is not a folder (brat is a folder of .txt and .ann files)")
    labels = _load_labels(path, ctx)
    records = _load_documents(path, ctx)
    for stem, files in _walk(path).items():
        record = records.get(stem, {})
        doc_id = record.get("id", stem)
        txt, ann = files.get(".txt"), files.get(".ann")
        if txt is None:
            assert ann is not None
            ctx.report.add(make_problem(MISSING_TEXT, f"{stem}.ann has no {stem}.txt; the document is left out",
                                        file=str(ann), task_id=doc_id))
            continue
        text = _decode(txt, ctx, doc_id)
        if text is None:
            continue
        source = _decode(ann, ctx, doc_id) if ann is not None else ""
        if source is None:
            continue
        found = _read_ann(source.removeprefix("\ufeff"), text, str(ann or txt), doc_id, labels, ctx)
        relations = []
        for number, rel_id, label, head, tail in found.relations:
            for arg in (head, tail):
                if arg not in found.spans:
                    what = found.other.get(arg)
                    code = MISSING_ARGUMENT if what is None else UNSUPPORTED_ARGUMENT
                    reason = "no line defines it" if what is None else f"it is a {what}"
                    ctx.report.add(make_problem(
                        code, f"relation {rel_id} ({label}) names {arg}, but {reason}; the relation is left out",
                        file=str(ann), line=number, task_id=doc_id, annotation_id=rel_id))
                    break
            else:
                relations.append(Relation(head, tail, label, rel_id))
        yield Document(
            id=doc_id, text=text, entities=list(found.spans.values()), relations=relations,
            title=record.get("title", ""), source=record.get("source", ""), lang=record.get("lang", "ar"),
            dateline=record.get("dateline"), meta=dict(record.get("meta", {})),
        )


FORMAT = Format(
    name="brat",
    summary="brat standoff: a folder of .txt + .ann pairs (T and R lines), annotation.conf from the ontology",
    reader=read_brat,
    writer=write_brat,
    output="folder",
)
