"""Prodigy JSONL: written for ``ner.manual`` / ``rel.manual`` / ``spans.manual``, and read back, one task a line::

    {"text": "...", "tokens": [{"text", "start", "end", "id", "ws"}],
     "spans": [{"start", "end", "label", "token_start", "token_end", "id"}],
     "relations": [{"head", "child", "label", "head_span", "child_span", "id"}], "meta": {"id": ..., ...}}

Offsets are code points (Prodigy is Python; its offsets are spaCy's).  ``token_end`` is inclusive, and a
relation's ``head`` / ``child`` are the index of the LAST token of its head / tail span, as Prodigy writes them;
``head_span`` / ``child_span`` carry the spans themselves.

**Tokens** come from the label-free tokenizer (:func:`corpus_tools.spans.tokenize`, with the conversion's
segmentation), so they never depend on the annotations.  A span's ``token_start`` / ``token_end`` are the first and
last tokens it touches.  Prodigy's manual interfaces need spans on token edges; a span whose edge falls inside a
token or between tokens (``بغداد`` inside the token ``وبغداد``, a span starting on a bidi mark) keeps its exact
character offsets, is written with the tokens it touches, and is reported (warning ``prodigy-span-misaligned``,
counted in the report's ``stats.prodigy.misaligned_spans``).  A span that touches no token (only spaces or marks)
has no token indices.

**Reading** needs the character offsets (``start`` / ``end``); a span with only token indices takes its offsets from
the line's ``tokens``.  A relation finds its spans by ``head_span`` / ``child_span`` (their ``id``, else their
offsets and label), else by ``head`` / ``child`` as a span's last token.  The document fields travel in ``meta``
(``id``, ``title``, ``source``, ``lang``, ``dateline``, and the document's own ``meta`` as ``meta.meta``); Prodigy's
own keys (``_input_hash``, ``_task_hash``, ``answer``, ``_view_id``, ...) are kept in the document's
``meta["prodigy"]`` and written back.  A line without ``meta.id`` is named ``<file stem>-<line>``.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator
from pathlib import Path

from corpus_tools.interop.format import Context, Format, with_tokens
from corpus_tools.interop.jsonl import read_objects, write_objects
from corpus_tools.report import Report, define_code, make_problem
from corpus_tools.spans import Document, Relation, Span, Token, tokenize

STAGE = "interop"
PRODIGY_INVALID_LINE = define_code(
    "prodigy-invalid-line", "error",
    "A Prodigy line is not UTF-8, not JSON, not an object, or has no text; the line is left out.", stage=STAGE)
PRODIGY_BAD_SPAN = define_code(
    "prodigy-bad-span", "error",
    "A Prodigy span has no label or no usable offsets (outside the text, empty, token indices without tokens), or"
    " its text differs from the text at its offsets; it is left out.", stage=STAGE)
PRODIGY_UNKNOWN_RELATION_ARGUMENT = define_code(
    "prodigy-unknown-relation-argument", "error",
    "A Prodigy relation's head or child is not a span of the same line (or of the same document, when writing);"
    " the relation is left out.", stage=STAGE)
PRODIGY_SPAN_MISALIGNED = define_code(
    "prodigy-span-misaligned", "warning",
    "A span's edge falls inside a token or between tokens, which Prodigy's manual interfaces do not allow; it is"
    " written with its exact offsets and the tokens it touches.", stage=STAGE)

OWN_KEYS = frozenset({"text", "tokens", "spans", "relations", "meta"})
EXTRA_META_KEY = "prodigy"
DOCUMENT_KEYS = ("id", "title", "source", "lang", "dateline", "meta")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# ---------------------------------------------------------------------------- write


class TokenIndex:
    """Which tokens a character range touches."""

    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self._starts = [t.start for t in tokens]
        self._ends = [t.end for t in tokens]

    def touched(self, start: int, end: int) -> tuple[int, int] | None:
        """The first and last (inclusive) tokens overlapping ``[start, end)``, or None when it touches none."""
        first = bisect_right(self._ends, start)  # the first token ending after start
        last = bisect_left(self._starts, end) - 1  # the last token starting before end
        return (first, last) if first <= last else None

    def aligned(self, start: int, end: int, touched: tuple[int, int]) -> bool:
        return self.tokens[touched[0]].start == start and self.tokens[touched[1]].end == end


def write_prodigy(documents: Iterable[Document], path: Path, ctx: Context) -> None:
    """One Prodigy task per document; misaligned spans are reported and counted in ``stats["prodigy"]``."""
    counts = {"spans": 0, "misaligned_spans": 0}
    ctx.report.stats["prodigy"] = counts
    write_objects(path, (document_to_task(doc, ctx.segmentation, ctx.report, counts, tokens=tokens)
                         for doc, tokens in with_tokens(documents, ctx.segmentation)))


def document_to_task(doc: Document, segmentation: str, report: Report, counts: dict[str, int] | None = None, *,
                     tokens: list[Token] | None = None) -> dict[str, object]:
    """The Prodigy task of one document (tokens from the text alone: ``tokens`` when the caller has them, as
    :func:`~corpus_tools.interop.format.with_tokens` gives them)."""
    text = doc.text
    index = TokenIndex(tokens if tokens is not None else tokenize(text, segmentation))
    tokens = [{"text": t.text, "start": t.start, "end": t.end, "id": i, "ws": text[t.end:t.end + 1].isspace()}
              for i, t in enumerate(index.tokens)]
    spans: list[dict[str, object]] = []
    by_id: dict[str, dict[str, object]] = {}
    for k, span in enumerate(doc.entities):
        item: dict[str, object] = {"start": span.start, "end": span.end, "text": text[span.start:span.end],
                                   "label": span.label, "id": span.id}
        touched = index.touched(span.start, span.end)
        if touched is not None:
            item["token_start"], item["token_end"] = touched
        if touched is None or not index.aligned(span.start, span.end, touched):
            report.add(make_problem(PRODIGY_SPAN_MISALIGNED, f"Span {span.id!r} [{span.start}, {span.end})"
                                    f" {text[span.start:span.end]!r} does not start and end on token edges; Prodigy's"
                                    " manual interfaces will not show it as it is.", task_id=doc.id,
                                    json_path=f"$.entities[{k}]"))
            if counts is not None:
                counts["misaligned_spans"] += 1
        if counts is not None:
            counts["spans"] += 1
        spans.append(item)
        by_id.setdefault(span.id, item)
    relations = []
    for j, relation in enumerate(doc.relations):
        unknown = [arg for arg in (relation.head, relation.tail) if arg not in by_id]
        if unknown:
            report.add(make_problem(PRODIGY_UNKNOWN_RELATION_ARGUMENT, f"Relation {relation.id or j!r} points at span"
                                    f" {unknown[0]!r}, which the document does not have; it is left out.",
                                    task_id=doc.id, json_path=f"$.relations[{j}]"))
            continue
        head, child = by_id[relation.head], by_id[relation.tail]
        relations.append({"head": head.get("token_end"), "child": child.get("token_end"), "label": relation.label,
                          "head_span": _span_ref(head), "child_span": _span_ref(child), "id": relation.id})
    meta: dict[str, object] = {"id": doc.id, "title": doc.title, "source": doc.source, "lang": doc.lang,
                               "dateline": doc.dateline}
    own_meta = dict(doc.meta)
    extra = own_meta.pop(EXTRA_META_KEY, None) if isinstance(own_meta.get(EXTRA_META_KEY), dict) else None
    if own_meta:
        meta["meta"] = own_meta
    task: dict[str, object] = {"text": text, "tokens": tokens, "spans": spans, "relations": relations, "meta": meta}
    for name, value in (extra or {}).items():
        if name == "meta" and isinstance(value, dict):  # Prodigy's own meta keys, read from a Prodigy file
            meta.update({key: v for key, v in value.items() if key not in DOCUMENT_KEYS})
        elif name not in OWN_KEYS:
            task[name] = value
    return task


def _span_ref(item: dict[str, object]) -> dict[str, object]:
    return {key: item[key] for key in ("start", "end", "token_start", "token_end", "label", "id") if key in item}


# ---------------------------------------------------------------------------- read


def read_prodigy(path: Path, ctx: Context) -> Iterator[Document]:
    """The documents of a Prodigy JSONL file (character offsets; token indices where only they are given)."""
    for line, task in read_objects(path, ctx.report, PRODIGY_INVALID_LINE):
        document = task_to_document(task, ctx.report, file=str(path), line=line, fallback_id=f"{path.stem}-{line}")
        if document is not None:
            yield document


def task_to_document(task: dict, report: Report, *, file: str, line: int, fallback_id: str) -> Document | None:
    text = task.get("text")
    if not isinstance(text, str):
        report.add(make_problem(PRODIGY_INVALID_LINE, "Line has no \"text\" string; every Prodigy task here needs"
                                " its text.", file=file, line=line, json_path="$.text"))
        return None
    meta = task.get("meta") if isinstance(task.get("meta"), dict) else {}
    doc_id = meta["id"] if isinstance(meta.get("id"), str) and meta["id"] else fallback_id

    def problem(code: str, message: str, json_path: str) -> None:
        report.add(make_problem(code, message, file=file, line=line, task_id=doc_id, json_path=json_path))

    tokens = task.get("tokens") if isinstance(task.get("tokens"), list) else []
    raw_spans = task.get("spans", [])
    if not isinstance(raw_spans, list):
        problem(PRODIGY_BAD_SPAN, "\"spans\" is not a list; no span of this line was read.", "$.spans")
        raw_spans = []
    spans: list[Span] = []
    kept: list[tuple[dict, Span]] = []
    for k, item in enumerate(raw_spans):
        span = _read_span(item, k, text, tokens, problem)
        if span is not None:
            spans.append(span)
            kept.append((item, span))
    relations = _read_relations(task, kept, problem)
    fields: dict[str, object] = {}
    for name in ("title", "source", "lang"):
        if isinstance(meta.get(name), str):
            fields[name] = meta[name]
    if meta.get("dateline") is None or isinstance(meta.get("dateline"), dict):
        fields["dateline"] = meta.get("dateline")
    own_meta = dict(meta["meta"]) if isinstance(meta.get("meta"), dict) else {}
    rest = {name: value for name, value in meta.items() if name not in DOCUMENT_KEYS}
    extra = {name: value for name, value in task.items() if name not in OWN_KEYS}
    if rest:
        extra["meta"] = rest  # Prodigy's meta keys besides the document's (shown in its UI)
    if extra:
        own_meta[EXTRA_META_KEY] = extra
    return Document(id=doc_id, text=text, entities=spans, relations=relations, meta=own_meta, **fields)


def _token_offsets(tokens: list, index: object, key: str) -> int | None:
    if _is_int(index) and 0 <= index < len(tokens) and isinstance(tokens[index], dict):
        value = tokens[index].get(key)
        return value if _is_int(value) else None
    return None


def _read_span(item: object, k: int, text: str, tokens: list, problem) -> Span | None:
    where = f"$.spans[{k}]"
    if not isinstance(item, dict) or not isinstance(item.get("label"), str) or not item["label"]:
        problem(PRODIGY_BAD_SPAN, "Span is not an object with a label.", where)
        return None
    start, end = item.get("start"), item.get("end")
    if not (_is_int(start) and _is_int(end)):  # token indices only: offsets from the line's tokens
        start = _token_offsets(tokens, item.get("token_start"), "start")
        end = _token_offsets(tokens, item.get("token_end"), "end")
    if start is None or end is None or not 0 <= start < end <= len(text):
        problem(PRODIGY_BAD_SPAN, f"Span has no usable offsets (start {item.get('start')!r}, end {item.get('end')!r},"
                f" text of {len(text)} characters); give start and end in code points.", where)
        return None
    if isinstance(item.get("text"), str) and item["text"] != text[start:end]:
        problem(PRODIGY_BAD_SPAN, f"Span text {item['text']!r} differs from the text at [{start}, {end}),"
                f" {text[start:end]!r}; fix its offsets.", f"{where}.text")
        return None
    span_id = item["id"] if isinstance(item.get("id"), str) else f"s{k + 1}"
    return Span(start, end, item["label"], span_id, text[start:end])


def _find_span(ref: object, token: object, kept: list[tuple[dict, Span]]) -> Span | None:
    if isinstance(ref, dict):
        if isinstance(ref.get("id"), str):
            for item, span in kept:
                if item.get("id") == ref["id"]:
                    return span
        for _, span in kept:
            if (span.start, span.end) == (ref.get("start"), ref.get("end")) and ref.get("label") in (None, span.label):
                return span
        return None
    if _is_int(token):
        found = [span for item, span in kept if item.get("token_end") == token]
        return found[0] if len(found) == 1 else None
    return None


def _read_relations(task: dict, kept: list[tuple[dict, Span]], problem) -> list[Relation]:
    raw = task.get("relations", [])
    if not isinstance(raw, list):
        problem(PRODIGY_UNKNOWN_RELATION_ARGUMENT, "\"relations\" is not a list; no relation was read.", "$.relations")
        return []
    relations: list[Relation] = []
    for j, item in enumerate(raw):
        where = f"$.relations[{j}]"
        if not isinstance(item, dict) or not isinstance(item.get("label"), str) or not item["label"]:
            problem(PRODIGY_UNKNOWN_RELATION_ARGUMENT, "Relation is not an object with a label.", where)
            continue
        head = _find_span(item.get("head_span"), item.get("head"), kept)
        tail = _find_span(item.get("child_span"), item.get("child"), kept)
        if head is None or tail is None:
            side = "head" if head is None else "child"
            problem(PRODIGY_UNKNOWN_RELATION_ARGUMENT, f"Relation's {side} ({side}_span or token {item.get(side)!r})"
                    " is not one span of this line.", f"{where}.{side}")
            continue
        relations.append(Relation(head.id, tail.id, item["label"], item["id"] if isinstance(item.get("id"), str)
                                  else ""))
    return relations


FORMAT = Format(
    name="prodigy",
    summary="Prodigy JSONL (text, tokens from the label-free tokenizer, spans with token_start/token_end, relations"
            " head/child with head_span/child_span)",
    reader=read_prodigy,
    writer=write_prodigy,
    output="file",
)
