"""doccano JSONL, both ways: the export of a sequence-labeling project with relations, one example a line::

    {"id": 1, "text": "...", "entities": [{"id": 1, "label": "PER", "start_offset": 5, "end_offset": 9}],
     "relations": [{"id": 1, "from_id": 1, "to_id": 2, "type": "works_for"}], ...}

The older form ``"label": [[start, end, "PER"], ...]`` (no relations) is read too.

**Offsets.** doccano's editor counts offsets in UTF-16 code units (JavaScript string indices), not code points:
an emoji before a name moves it by two.  The ``offsets`` option says which unit a file uses: ``utf16`` (the
default, what doccano writes and reads) or ``code-points`` (files made by Python scripts).  Offsets are converted
to and from code points here, so the documents keep the project's rule; an offset inside a surrogate pair is a
located problem.  doccano projects that count grapheme clusters as one character are not supported.

**What doccano has no slot for.**  doccano keeps every key of an imported line it does not know in the example's
``meta`` and writes it back at the top level of its export, so the document's fields travel as extra keys:
``document_id`` (doccano's own ``id`` is its database id, replaced on every import), ``title``, ``source``,
``lang``, ``dateline``, ``meta``, and ``span_ids`` / ``relation_ids``, the documents' own span and relation ids in
the order of ``entities`` / ``relations`` (doccano numbers entities and relations itself).  Reading, a line
without ``document_id`` takes doccano's ``id`` (or ``<file stem>-<line>``) as its document id, and entities
without ``span_ids`` their doccano id; any other key of the line (doccano's ``Comments``, a project's own
columns) is kept in the document's ``meta["doccano"]`` and written back at the top level.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator
from pathlib import Path

import regex

from corpus_tools.errors import InputError
from corpus_tools.interop.format import Context, Format
from corpus_tools.interop.jsonl import read_objects, write_objects
from corpus_tools.report import Report, define_code, make_problem
from corpus_tools.spans import Document, Relation, Span

STAGE = "interop"
DOCCANO_INVALID_LINE = define_code(
    "doccano-invalid-line", "error",
    "A doccano line is not UTF-8, not JSON, not an object, or has no text; the line is left out.", stage=STAGE)
DOCCANO_BAD_ENTITY = define_code(
    "doccano-bad-entity", "error",
    "A doccano entity is not an object with a label and integer offsets (or a [start, end, label] list), or repeats"
    " another entity's id; it is left out.", stage=STAGE)
DOCCANO_BAD_OFFSET = define_code(
    "doccano-bad-offset", "error",
    "A doccano entity's offsets are outside the text, empty or reversed, or fall inside a surrogate pair (UTF-16"
    " offsets); it is left out.", stage=STAGE)
DOCCANO_BAD_RELATION = define_code(
    "doccano-bad-relation", "error",
    "A doccano relation is not an object with from_id, to_id and a type; it is left out.", stage=STAGE)
DOCCANO_UNKNOWN_RELATION_ARGUMENT = define_code(
    "doccano-unknown-relation-argument", "error",
    "A relation's from_id or to_id is not an entity of the same line (or of the same document, when writing); the"
    " relation is left out.", stage=STAGE)

OFFSET_UNITS = ("utf16", "code-points")
STRUCTURE_KEYS = frozenset({"id", "text", "entities", "relations", "label", "document_id", "span_ids",
                            "relation_ids"})
RESERVED_KEYS = STRUCTURE_KEYS | {"title", "source", "lang", "dateline", "meta"}
EXTRA_META_KEY = "doccano"  # the document meta key holding a line's other keys

_ASTRAL = regex.compile(r"[\U00010000-\U0010FFFF]")


class OffsetUnits:
    """Offsets of one text in a file's unit (``utf16`` or ``code-points``) to and from code points."""

    def __init__(self, text: str, unit: str) -> None:
        astral = [m.start() for m in _ASTRAL.finditer(text)] if unit == "utf16" else []
        self._astral = astral
        self._units = [index + k for k, index in enumerate(astral)]  # the UTF-16 index of each high surrogate
        self._pair_middles = {u + 1 for u in self._units}
        self.length = len(text) + len(astral)

    def from_code_points(self, offset: int) -> int:
        return offset + bisect_left(self._astral, offset)

    def to_code_points(self, offset: int) -> int | None:
        """The code-point offset, or None when ``offset`` is outside the text or inside a surrogate pair."""
        if not 0 <= offset <= self.length or offset in self._pair_middles:
            return None
        return offset - bisect_right(self._units, offset - 2)


def offset_unit(ctx: Context) -> str:
    unit = ctx.options.get("offsets", "utf16")
    if unit not in OFFSET_UNITS:
        raise InputError(f"doccano option offsets={unit!r}: use one of {', '.join(OFFSET_UNITS)}")
    return unit


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_id(value: object) -> bool:
    return _is_int(value) or (isinstance(value, str) and value != "")


def _string_list(value: object, length: int) -> list[str] | None:
    if isinstance(value, list) and len(value) == length and all(isinstance(v, str) for v in value):
        return value
    return None


# ---------------------------------------------------------------------------- read


def read_doccano(path: Path, ctx: Context) -> Iterator[Document]:
    """The documents of a doccano JSONL file; problems go to ``ctx.report``, located by line and document id."""
    unit = offset_unit(ctx)
    for line, record in read_objects(path, ctx.report, DOCCANO_INVALID_LINE):
        document = record_to_document(record, unit, ctx.report, file=str(path), line=line,
                                      fallback_id=f"{path.stem}-{line}")
        if document is not None:
            yield document


def record_to_document(record: dict, unit: str, report: Report, *, file: str, line: int,
                       fallback_id: str) -> Document | None:
    """One doccano line as a document (None, with a problem, when it has no text)."""
    text = record.get("text")
    if not isinstance(text, str):
        report.add(make_problem(DOCCANO_INVALID_LINE, "Line has no \"text\" string; every doccano line needs its"
                                " text.", file=file, line=line, json_path="$.text"))
        return None
    if isinstance(record.get("document_id"), str) and record["document_id"]:
        doc_id = record["document_id"]
    elif _is_id(record.get("id")):
        doc_id = str(record["id"])
    else:
        doc_id = fallback_id

    def problem(code: str, message: str, json_path: str) -> None:
        report.add(make_problem(code, message, file=file, line=line, task_id=doc_id, json_path=json_path))

    units = OffsetUnits(text, unit)
    key = "entities" if "entities" in record else "label"
    raw_entities = record.get(key, [])
    if not isinstance(raw_entities, list):
        problem(DOCCANO_BAD_ENTITY, f"\"{key}\" is not a list; no entity of this line was read.", f"$.{key}")
        raw_entities = []
    span_ids = _string_list(record.get("span_ids"), len(raw_entities))
    spans: list[Span] = []
    by_doccano_id: dict[object, str] = {}
    for j, item in enumerate(raw_entities):
        where = f"$.{key}[{j}]"
        if isinstance(item, dict):
            start, end, label, entity_id = (item.get("start_offset"), item.get("end_offset"), item.get("label"),
                                             item.get("id", j + 1))
        elif isinstance(item, list) and len(item) == 3:
            (start, end, label), entity_id = item, j + 1
        else:
            problem(DOCCANO_BAD_ENTITY, "Entity is neither an object nor a [start, end, label] list.", where)
            continue
        if not (_is_int(start) and _is_int(end) and isinstance(label, str) and label and _is_id(entity_id)):
            problem(DOCCANO_BAD_ENTITY, "Entity needs integer start_offset and end_offset, a label and an id"
                    " (a number or a string).", where)
            continue
        if entity_id in by_doccano_id:
            problem(DOCCANO_BAD_ENTITY, f"Entity id {entity_id!r} appears twice in this line; give each entity its"
                    " own id.", f"{where}.id")
            continue
        cp_start, cp_end = units.to_code_points(start), units.to_code_points(end)
        if cp_start is None or cp_end is None or cp_start >= cp_end:
            why = ("is empty or reversed" if cp_start is not None and cp_end is not None
                   else f"is outside the text ({units.length} {unit} units) or splits a surrogate pair")
            problem(DOCCANO_BAD_OFFSET, f"Entity [{start}, {end}) {why}; fix its offsets (the file's unit is"
                    f" {unit}: --option offsets=...).", where)
            continue
        span_id = span_ids[j] if span_ids is not None else str(entity_id)
        by_doccano_id[entity_id] = span_id
        spans.append(Span(cp_start, cp_end, label, span_id, text[cp_start:cp_end]))
    relations = _read_relations(record, by_doccano_id, problem)
    return Document(id=doc_id, text=text, entities=spans, relations=relations, **_read_fields(record))


def _read_relations(record: dict, by_doccano_id: dict[object, str], problem) -> list[Relation]:
    raw = record.get("relations", [])
    if not isinstance(raw, list):
        problem(DOCCANO_BAD_RELATION, "\"relations\" is not a list; no relation of this line was read.",
                "$.relations")
        return []
    relation_ids = _string_list(record.get("relation_ids"), len(raw))
    relations: list[Relation] = []
    for j, item in enumerate(raw):
        where = f"$.relations[{j}]"
        if not (isinstance(item, dict) and _is_id(item.get("from_id")) and _is_id(item.get("to_id"))
                and isinstance(item.get("type"), str) and item["type"]):
            problem(DOCCANO_BAD_RELATION, "Relation needs from_id, to_id (entity ids) and a type.", where)
            continue
        missing = [name for name in ("from_id", "to_id") if item[name] not in by_doccano_id]
        if missing:
            problem(DOCCANO_UNKNOWN_RELATION_ARGUMENT, f"Relation {item.get('id', j + 1)!r}: {missing[0]}"
                    f" {item[missing[0]]!r} is not an entity of this line (or one left out above).",
                    f"{where}.{missing[0]}")
            continue
        if relation_ids is not None:
            relation_id = relation_ids[j]
        else:
            relation_id = str(item["id"]) if _is_id(item.get("id")) else ""
        relations.append(Relation(by_doccano_id[item["from_id"]], by_doccano_id[item["to_id"]], item["type"],
                                  relation_id))
    return relations


def _read_fields(record: dict) -> dict[str, object]:
    """The document fields a line carries as extra keys; every other key goes to ``meta["doccano"]``."""
    fields: dict[str, object] = {}
    extra: dict[str, object] = {}
    for name, value in record.items():
        if name in ("title", "source", "lang") and isinstance(value, str):
            fields[name] = value
        elif name == "dateline" and (value is None or isinstance(value, dict)):
            fields[name] = value
        elif name == "meta" and isinstance(value, dict):
            fields[name] = dict(value)
        elif name not in STRUCTURE_KEYS:  # doccano's "id" is the document id or its database id: not kept
            extra[name] = value  # a title that is not a string, too: kept, not dropped
    if extra:
        meta = dict(fields.get("meta") or {})
        meta[EXTRA_META_KEY] = extra
        fields["meta"] = meta
    return fields


# ---------------------------------------------------------------------------- write


def write_doccano(documents: Iterable[Document], path: Path, ctx: Context) -> None:
    """One doccano line per document (entities numbered 1..n in each line, relations by those numbers)."""
    unit = offset_unit(ctx)
    write_objects(path, (document_to_record(doc, number, unit, ctx.report)
                         for number, doc in enumerate(documents, 1)))


def document_to_record(doc: Document, number: int, unit: str, report: Report) -> dict[str, object]:
    """The doccano line of one document; ``number`` is its doccano ``id``."""
    units = OffsetUnits(doc.text, unit)
    numbers: dict[str, int] = {}
    entities = []
    for k, span in enumerate(doc.entities, 1):
        numbers.setdefault(span.id, k)
        entities.append({"id": k, "label": span.label, "start_offset": units.from_code_points(span.start),
                         "end_offset": units.from_code_points(span.end)})
    relations = []
    relation_ids = []
    for j, relation in enumerate(doc.relations):
        unknown = [arg for arg in (relation.head, relation.tail) if arg not in numbers]
        if unknown:
            report.add(make_problem(DOCCANO_UNKNOWN_RELATION_ARGUMENT, f"Relation {relation.id or j!r} points at"
                                    f" span {unknown[0]!r}, which the document does not have; it is left out.",
                                    task_id=doc.id, json_path=f"$.relations[{j}]"))
            continue
        relations.append({"id": len(relations) + 1, "from_id": numbers[relation.head],
                          "to_id": numbers[relation.tail], "type": relation.label})
        relation_ids.append(relation.id)
    record: dict[str, object] = {
        "id": number, "text": doc.text, "entities": entities, "relations": relations, "document_id": doc.id,
        "span_ids": [span.id for span in doc.entities], "relation_ids": relation_ids,
        "title": doc.title, "source": doc.source, "lang": doc.lang, "dateline": doc.dateline,
    }
    meta = dict(doc.meta)
    extra = meta.pop(EXTRA_META_KEY, None) if isinstance(meta.get(EXTRA_META_KEY), dict) else None
    if meta:
        record["meta"] = meta
    for name, value in (extra or {}).items():
        if name not in RESERVED_KEYS:
            record[name] = value
    return record


FORMAT = Format(
    name="doccano",
    summary="doccano JSONL with relations (entities start_offset/end_offset, relations from_id/to_id; the older"
            " label [[start, end, LABEL]] form is read too)",
    reader=read_doccano,
    writer=write_doccano,
    output="file",
    options={"offsets": "the unit of the file's offsets: utf16 (default; doccano's editor counts UTF-16 code"
                        " units) or code-points"},
)
